"""fuse-projection (-O3): a residual block's projection shortcut joins the conv it is added to.

    relu(conv1x1(a, W) + b + conv1x1(x, P) + p)  ->  relu(conv1x1(concat(a, x), [W | P]) + (b + p))

One 1x1 conv over both inputs' channels instead of two, with no projection result written
and read back (ResNet-50's first block: 3.2 MB each way). The memory plan places a Concat
in place (each producer writes straight into its channel slice), so the concat costs no
copy. Only stride-1 projections qualify: the two convs must read maps of the same size.

Conditions, checked on the FusedConv graph that fuse-conv leaves: a 1x1 stride-1 unpadded
ungrouped FusedConv with constant weights whose epilogue is ``[bias,] add, ...`` (nothing
but a bias before the add, so adding the projection inside the sum changes nothing); its
residual made by a conv of the same kind whose epilogue is at most a bias and which
nothing else reads.
"""

from __future__ import annotations

import numpy as np

from cnncc.builder import make_node
from cnncc.ir import Graph, Node, Value
from cnncc.ops.fused import split_extras
from cnncc.ops.nn import CONV_ATTRS
from cnncc.passes.manager import note, register_pass
from cnncc.passes.rewrite import conv_epilogue, pointwise_conv


def _pointwise(node: Node) -> bool:
    return pointwise_conv(node) and tuple(node.attrs.strides) == (1, 1)


def _bias(node: Node) -> np.ndarray | None:
    """The projection's constant bias (None without one), or False when its epilogue does
    more (or its bias is computed)."""
    steps = conv_epilogue(node)
    if steps == ():
        return None
    if steps == (("bias",),) and node.inputs[2].is_constant:
        return node.inputs[2].data
    return False


def _fuse(graph: Graph, node: Node, users) -> bool:
    if node.op != "FusedConv" or not _pointwise(node):
        return False
    steps = list(node.attrs.epilogue)
    extras = split_extras(steps, node.inputs[2:])
    k = next((i for i, s in enumerate(steps) if s[0] == "add"), None)
    if k is None or any(s[0] != "bias" for s in steps[:k]):
        return False
    residual = extras[k]
    proj = residual.producer
    if (proj is None or not _pointwise(proj) or len(users.get(id(residual), [])) != 1
            or proj.inputs[0] is node.inputs[0] or proj.inputs[0].shape[2:] != node.inputs[0].shape[2:]
            or proj.inputs[0].dtype != node.inputs[0].dtype or residual in graph.outputs):
        return False
    proj_bias = _bias(proj)
    main_bias = extras[0] if steps and steps[0][0] == "bias" else None
    if proj_bias is False or (main_bias is not None and not main_bias.is_constant):
        return False
    a, x = node.inputs[0], proj.inputs[0]
    concat = make_node("Concat", [a, x], [f"{node.name}.concat"], {"axis": 1}, name=f"{node.name}.concat")
    cat = concat.outputs[0]
    w = Value.constant(f"{node.name}.w", np.concatenate([node.inputs[1].data, proj.inputs[1].data], axis=1))
    biases = [b for b in (main_bias.data if main_bias is not None else None, proj_bias) if b is not None]
    new_steps, new_extras = [], []
    if biases:
        new_steps.append(("bias",))
        new_extras.append(Value.constant(f"{node.name}.b", np.sum(biases, axis=0).astype(biases[0].dtype)))
    for i, (step, extra) in enumerate(zip(steps, extras)):
        if step[0] == "bias" or i == k:
            continue
        new_steps.append(step)
        if extra is not None:
            new_extras.append(extra)
    attrs = {**{key: node.attrs[key] for key in CONV_ATTRS}, "epilogue": tuple(new_steps)}
    fused = make_node("FusedConv", [cat, w, *new_extras], node.outputs, attrs, name=node.name)
    graph.remove_nodes([proj])
    graph.replace_node(node, [concat, fused])
    return True


@register_pass("fuse-projection")
def fuse_projection(graph: Graph) -> Graph:
    graph = graph.copy()
    fused = 0
    for node in list(graph.nodes):
        if _fuse(graph, node, graph.consumers()):
            fused += 1
    if fused:
        graph.toposort()
        note(f"projection shortcuts fused: {fused}")
    return graph
