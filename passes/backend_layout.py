"""backend-layout (-O3): NHWC storage for the values that flow between 1x1 convolutions.

The llvm backend's conv kernel keeps a register tile of pixels x channel vectors; writing
that tile to NCHW takes an in-register transpose per tile and scatters it over one row per
channel (32 rows for a 32-channel tile), while NHWC takes each accumulator as it is: 64
contiguous bytes per pixel, and the residual it adds comes in the same order. NHWC is the
blocked layout NCHW[b]c with one block of all b = C channels: with 16-channel blocks
(NCHW16c) the writers gained as much, but the 1x1 readers lost up to 17% at 56x56, where
every block's plane is a multiple of 4 KiB and the 16 blocks of one pixel fall into one
L1 set. ResNet-50 (-O2 -> -O3, interleaved per-layer profiles, 1 thread): the residual
1x1 layers 0.47 -> 0.40-0.42 ms, the readers unchanged or 1-3% faster.

A value is stored NHWC when its producer and every reader agree:

* the producer is a 1x1, ungrouped, unpadded, 2-D FusedConv (or Conv, which becomes one)
  with a multiple of 16 output channels (whole vectors on every host), no pooling step,
  and an epilogue of steps that work on one channel vector at a time (bias, add, relu,
  prelu, scale, shift);
* every reader is a 1x1 conv like that (any output channels, any stride) reading it as X,
  or the residual of a conv whose own output is stored NHWC;
* it is not a graph output.

A conv like that whose epilogue ends in the mean of each channel's map (a global average
pool, or an average pool with one window) is marked too (``y_block``), and may read its
residual NHWC: its output, one value per channel, is the same in both layouts, and the llvm
kernel then sums the map in registers instead of writing the conv result and pooling it
(ResNet-50's last layer; SqueezeNet's 512->1000 classifier, whose 1000 channels end in a part
vector, allowed where only a bias and relu come before the mean).

The rules are applied until nothing changes (a residual chain is stored NHWC whole or not
at all). Nodes then carry ``x_block``/``y_block`` = the channel count (cnncc/ops/fused.py);
backends that ignore them compute the same outputs.
"""

from __future__ import annotations

from cnncc.ir import Attrs, Graph, Node
from cnncc.ops import get_op, infer_types
from cnncc.ops.fused import is_map_mean, split_extras
from cnncc.ops.nn import CONV_ATTRS
from cnncc.passes.manager import note, register_pass
from cnncc.passes.rewrite import conv_epilogue, pointwise_conv

LANES = 16  # channel counts must be whole vectors of 4, 8 or 16 lanes
BLOCKED_STEPS = frozenset({"bias", "add", "relu", "prelu", "scale", "shift"})


def _pointwise(node: Node) -> bool:
    """A float32 pointwise conv (rewrite.pointwise_conv) over whole channel vectors."""
    return pointwise_conv(node) and node.inputs[0].dtype == "float32" and node.inputs[0].shape[1] % LANES == 0


def _can_write_blocked(node: Node, mean: bool = False) -> bool:
    """``mean``: with a last global average pool step (whose output ignores the layout)."""
    if not _pointwise(node):
        return False
    steps = conv_epilogue(node)
    if mean:
        conv = infer_types("Conv", [v.type for v in node.inputs[:2]], Attrs({k: node.attrs[k] for k in CONV_ATTRS}))[0]
        if not steps or not is_map_mean(steps[-1], conv.shape):
            return False
        steps = steps[:-1]
        if node.inputs[1].shape[0] % LANES:  # padded channel vectors: nothing per channel but the bias
            return _residual(node) is None and all(step[0] in ("bias", "relu") for step in steps)
    return node.inputs[1].shape[0] % LANES == 0 and all(step[0] in BLOCKED_STEPS for step in steps)


def _residual(node: Node):
    """The value a FusedConv adds as its residual (or None)."""
    if node.op != "FusedConv":
        return None
    for step, extra in zip(node.attrs.epilogue, split_extras(node.attrs.epilogue, node.inputs[2:])):
        if step[0] == "add":
            return extra
    return None


def choose_blocked(graph: Graph) -> tuple[set[int], set[int]]:
    """(ids of the values to store NHWC, ids of the pooling convs that read an NHWC residual)."""
    outputs = {id(v) for v in graph.outputs}
    blocked = {id(n.outputs[0]): n for n in graph.nodes if _can_write_blocked(n) and id(n.outputs[0]) not in outputs}
    means = {id(n): n for n in graph.nodes if _can_write_blocked(n, mean=True)}
    users = graph.consumers()
    changed = True
    while changed:
        changed = False
        for nid, node in list(means.items()):
            if _residual(node) is not None and id(_residual(node)) not in blocked:
                del means[nid]
                changed = True
        for vid in list(blocked):
            producer = blocked[vid]
            value = producer.outputs[0]
            for reader in users.get(vid, []):
                residual = _residual(reader)
                ok = ((reader.inputs[0] is not value or _pointwise(reader))
                      and (residual is not value or id(reader.outputs[0]) in blocked or id(reader) in means)
                      and all(v is not value or v is residual for v in reader.inputs[1:]))
                if not ok:
                    del blocked[vid]
                    changed = True
                    break
            # a blocked residual needs a blocked output, and the other way round
            r = _residual(producer)
            if vid in blocked and r is not None and id(r) not in blocked:
                del blocked[vid]
                changed = True
    return set(blocked), set(means)


def _as_fused(node: Node) -> Node:
    """Conv -> FusedConv with its bias as the first step (FusedConv carries the layout)."""
    if node.op == "FusedConv":
        return node
    attrs = get_op("FusedConv").normalize_attrs({**{k: node.attrs[k] for k in CONV_ATTRS}, "epilogue": conv_epilogue(node)})
    return Node("FusedConv", node.inputs, node.outputs, attrs, name=node.name)


@register_pass("backend-layout")
def backend_layout(graph: Graph) -> Graph:
    graph = graph.copy()
    blocked, means = choose_blocked(graph)
    if not blocked and not means:
        return graph
    nodes = []
    for node in graph.nodes:
        x_in = id(node.inputs[0]) in blocked if node.inputs else False
        y_out = id(node.outputs[0]) in blocked or id(node) in means
        if x_in or y_out:
            node = _as_fused(node)
            node.attrs = node.attrs.replace(x_block=node.inputs[0].shape[1] if x_in else 0,
                                            y_block=node.inputs[1].shape[0] if y_out else 0)
        nodes.append(node)
    graph.nodes[:] = nodes
    note(f"values stored NHWC between 1x1 convs: {len(blocked)}, map means in registers: {len(means)}")
    return graph
