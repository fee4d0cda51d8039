"""eliminate-noops: drop nodes that forward their input unchanged.

Identity; Reshape/Flatten/Expand to the same shape; Cast to the same dtype; Pad of zeros;
Concat, Sum, Max, Min, Mean of one input; Transpose by the identity permutation; Squeeze or
Unsqueeze of no axes; Slice taking everything; Tile by ones; Resize/Upsample to the same
size at scale 1 (unless it crops to a roi); Clip without bounds; Mul/Div by a constant 1 and
Add/Sub of a constant 0 whose broadcasting leaves the other operand's shape as it is; pooling
with a 1x1 window, stride 1 and no pads. A node whose output is a graph output stays unless
its input can take the name.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cnncc.ir import Graph, Node, Value
from cnncc.passes.manager import register_pass
from cnncc.passes.rewrite import Rewrite, Rule, Uses, apply_rules, report


def _is_const(v: Value, x: float) -> bool:
    return v.is_constant and v.data.size > 0 and bool(np.all(v.data == x))


def _same_type(node: Node) -> Value | None:
    return node.inputs[0] if node.outputs[0].type == node.inputs[0].type else None


def _pad(node: Node) -> Value | None:
    return node.inputs[0] if not any(node.attrs.pads) else None


def _transpose(node: Node) -> Value | None:
    return node.inputs[0] if tuple(node.attrs.perm) == tuple(range(len(node.attrs.perm))) else None


def _slice(node: Node) -> Value | None:
    a = node.attrs
    full = all(st == 0 and en == node.inputs[0].shape[ax] and sp == 1 for st, en, ax, sp in zip(a.starts, a.ends, a.axes, a.steps))
    return node.inputs[0] if full else None


def _clip(node: Node) -> Value | None:
    return node.inputs[0] if node.attrs.min is None and node.attrs.max is None else None


def _pool(node: Node) -> Value | None:
    a = node.attrs
    trivial = all(k == 1 for k in a.kernel_shape) and all(s == 1 for s in a.strides) and not any(a.pads)
    return node.inputs[0] if trivial else None


def _resize(node: Node) -> Value | None:
    """Same size at scale 1 reads every pixel where it is, except when cropping to a roi."""
    a = node.attrs
    same = node.outputs[0].type == node.inputs[0].type and all(s == 1.0 for s in a.scales)
    return node.inputs[0] if same and a.coordinate_transformation_mode != "tf_crop_and_resize" else None


def _one_input(node: Node) -> Value | None:
    return node.inputs[0] if len(node.inputs) == 1 else None


def _neutral(unit: float, commutative: bool) -> Callable[[Node], Value | None]:
    def match(node: Node) -> Value | None:
        x, c = node.inputs
        if _is_const(c, unit) and node.outputs[0].type == x.type:
            return x
        if commutative and _is_const(x, unit) and node.outputs[0].type == c.type:
            return c
        return None

    return match


# op -> which input the node forwards unchanged (None: it does not)
FORWARDS: dict[str, Callable[[Node], Value | None]] = {
    "Identity": lambda n: n.inputs[0],
    "Reshape": _same_type,
    "Flatten": _same_type,
    "Expand": _same_type,
    "Squeeze": _same_type,
    "Unsqueeze": _same_type,
    "Cast": _same_type,
    "Tile": _same_type,
    "Resize": _resize,
    "Upsample": lambda n: n.inputs[0] if all(s == 1.0 for s in n.attrs.scales) else None,
    "Pad": _pad,
    "Transpose": _transpose,
    "Slice": _slice,
    "Clip": _clip,
    "MaxPool": _pool,
    "AveragePool": _pool,
    "Concat": _one_input,
    "Sum": _one_input,
    "Max": _one_input,
    "Min": _one_input,
    "Mean": _one_input,
    "Mul": _neutral(1.0, commutative=True),
    "Div": _neutral(1.0, commutative=False),
    "Add": _neutral(0.0, commutative=True),
    "Sub": _neutral(0.0, commutative=False),
}


def _forward(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
    src = FORWARDS[node.op](node)
    if src is None or src.type != node.outputs[0].type:
        return None
    return uses.bypass(node, node.outputs[0], src)


RULES = [Rule(f"{op} removed (no-op)", (op,), _forward) for op in FORWARDS]


@register_pass("eliminate-noops")
def eliminate_noops(graph: Graph) -> Graph:
    graph = graph.copy()
    report(apply_rules(graph, RULES))
    return graph
