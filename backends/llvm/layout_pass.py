"""backend-layout (the llvm backend's -O3 pass): NHWC storage for the values that flow
between 1x1 convolutions.

The llvm conv kernel keeps a register tile of pixels x channel vectors; writing that tile to
NCHW takes an in-register transpose per tile and scatters it over one row per channel (32
rows for a 32-channel tile), while NHWC takes each accumulator as it is: 64 contiguous bytes
per pixel, and the residual it adds comes in the same order. NHWC is the blocked layout
NCHW[b]c with one block of all b = C channels: with 16-channel blocks (NCHW16c) the writers
gained as much, but the 1x1 readers lost up to 17% at 56x56, where every block's plane is a
multiple of 4 KiB and the 16 blocks of one pixel fall into one L1 set. ResNet-50 (-O2 ->
-O3, interleaved per-layer profiles, 1 thread): the residual 1x1 layers 0.47 -> 0.40-0.42
ms, the readers unchanged or 1-3% faster.

Which convs can read or write NHWC is the backend's predicate, ``layout.blocked_storage``
(the kernel asserts the same one). On top of it this pass marks only convs whose input
channels are whole vectors (LANES), the ones it was measured on. A value is stored NHWC when
its producer and every reader agree:

* the producer may write Y blocked (and is not a conv ending in a map mean);
* every reader is a conv that may read X blocked, reading it as X, or the residual of a conv
  whose own output is stored NHWC (or that ends in a map mean);
* it is not a graph output.

A conv whose epilogue ends in the mean of each channel's map (a global average pool, or an
average pool with one window) is marked too (``y_block``), and may read its residual NHWC:
its output, one value per channel, is the same in both layouts, and the kernel then sums the
map in registers instead of writing the conv result and pooling it (ResNet-50's last layer;
SqueezeNet's 512->1000 classifier, whose 1000 channels end in a part vector).

The rules are applied until nothing changes (a residual chain is stored NHWC whole or not at
all). Nodes then carry ``x_block``/``y_block`` = the channel count (cnncc/ops/fused.py);
backends that ignore them compute the same outputs, but only the llvm backend contributes
this pass to its pipeline (``cnncc.backends.llvm.passes``).
"""

from __future__ import annotations

from cnncc.ir import Graph, Node
from cnncc.ops import get_op
from cnncc.ops.nn import CONV_ATTRS
from cnncc.passes.manager import note, register_pass
from cnncc.passes.rewrite import conv_epilogue

from . import layout

NAME = "backend-layout"


def _storage(node: Node) -> layout.BlockedStorage:
    """What the pass may mark on ``node``: the kernel's predicate (looked up on the module at
    each call, so that there is exactly one), for input channels in whole vectors."""
    if node.op not in ("Conv", "FusedConv") or not node.inputs or node.inputs[0].type.rank != 4:
        return layout.NCHW_ONLY
    if node.inputs[0].shape[1] % layout.LANES:
        return layout.NCHW_ONLY
    return layout.blocked_storage(node)


def choose_blocked(graph: Graph) -> tuple[set[int], set[int]]:
    """(ids of the values to store NHWC, ids of the map-mean convs that write Y blocked)."""
    outputs = {id(v) for v in graph.outputs}
    storage = {id(n): _storage(n) for n in graph.nodes}
    blocked = {id(n.outputs[0]): n for n in graph.nodes
               if storage[id(n)].y and not storage[id(n)].mean and id(n.outputs[0]) not in outputs}
    means = {id(n): n for n in graph.nodes if storage[id(n)].mean}
    users = graph.consumers()
    changed = True
    while changed:
        changed = False
        for nid, node in list(means.items()):
            r = layout.residual(node)
            if r is not None and id(r) not in blocked:
                del means[nid]
                changed = True
        for vid in list(blocked):
            producer = blocked[vid]
            value = producer.outputs[0]
            for reader in users.get(vid, []):
                residual = layout.residual(reader)
                ok = ((reader.inputs[0] is not value or storage[id(reader)].x)
                      and (residual is not value or id(reader.outputs[0]) in blocked or id(reader) in means)
                      and all(v is not value or v is residual for v in reader.inputs[1:]))
                if not ok:
                    del blocked[vid]
                    changed = True
                    break
            # a blocked residual needs a blocked output, and the other way round
            r = layout.residual(producer)
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


@register_pass(NAME)
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
            storage = _storage(node)
            node = _as_fused(node)
            node.attrs = node.attrs.replace(x_block=storage.x if x_in else 0, y_block=storage.y if y_out else 0)
        nodes.append(node)
    graph.nodes[:] = nodes
    note(f"values stored NHWC between 1x1 convs: {len(blocked)}, map means in registers: {len(means)}")
    return graph
