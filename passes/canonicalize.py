"""canonicalize: one spelling per computation, so later rules match fewer forms.

- ``Sum(a, b, c...)`` -> ``Add(Add(a, b), c)...`` (same left-to-right order, same rounding);
- ``Upsample`` -> ``Resize`` (asymmetric coordinates, floor rounding: its definition);
- ``Reshape`` to 2-D that flattens at some axis -> ``Flatten`` (the form before a Gemm);
- ``Reshape``/``Flatten`` of a ``Reshape``/``Flatten`` read by nothing else -> one ``Reshape``;
- ``MatMul`` of two 2-D operands -> ``Gemm`` (same reference), so batch-norm folding and
  Gemm fusion see one op.
"""

from __future__ import annotations

import math

from cnncc.ir import Attrs, Graph, Node, Value
from cnncc.ops import infer_types
from cnncc.ops.tensor import upsample_as_resize_attrs
from cnncc.passes.manager import register_pass
from cnncc.passes.rewrite import Rewrite, Rule, Uses, apply_rules, make_node, report


def _sum(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
    if len(node.inputs) < 2:
        return None
    acc, new = node.inputs[0], []
    for i, v in enumerate(node.inputs[1:], start=1):
        last = i == len(node.inputs) - 1
        t = infer_types("Add", [acc.type, v.type], Attrs())[0]
        out = node.outputs[0] if last else Value(graph.fresh_name(f"{node.outputs[0].name}.sum"), t)
        new.append(make_node("Add", [acc, v], [out], {}, node.name))
        acc = out
    return Rewrite(remove=[node], add=new)


def _upsample(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
    attrs = upsample_as_resize_attrs(node.attrs, node.inputs[0].shape)
    return Rewrite(remove=[node], add=[make_node("Resize", node.inputs, node.outputs, attrs, node.name)])


def _flatten_axis(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> int | None:
    if len(out_shape) != 2:
        return None
    for axis in [*range(1, len(in_shape) + 1), 0]:  # axis 1 first: the usual spelling
        if (math.prod(in_shape[:axis]), math.prod(in_shape[axis:])) == out_shape:
            return axis
    return None


def _reshape_to_flatten(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
    x, y = node.inputs[0], node.outputs[0]
    if x.type.rank == 2:
        return None
    axis = _flatten_axis(x.shape, y.shape)
    if axis is None:
        return None
    return Rewrite(remove=[node], add=[make_node("Flatten", [x], [y], {"axis": axis}, node.name)])


def _reshape_chain(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
    x = node.inputs[0]
    p = x.producer
    if p is None or p.op not in ("Reshape", "Flatten") or uses.sole_user(x) is not node:
        return None
    y = node.outputs[0]
    src = p.inputs[0]
    axis = _flatten_axis(src.shape, y.shape) if src.type.rank != 2 else None
    new = (
        make_node("Flatten", [src], [y], {"axis": axis}, node.name)
        if axis is not None
        else make_node("Reshape", [src], [y], {"shape": y.shape}, node.name)
    )
    return Rewrite(remove=[p, node], add=[new])


def _matmul(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
    a, b = node.inputs
    if a.type.rank != 2 or b.type.rank != 2:
        return None
    return Rewrite(remove=[node], add=[make_node("Gemm", [a, b], node.outputs, {}, node.name)])


RULES = [
    Rule("Sum -> Add", ("Sum",), _sum),
    Rule("Upsample -> Resize", ("Upsample",), _upsample),
    Rule("Reshape of Reshape merged", ("Reshape", "Flatten"), _reshape_chain),
    Rule("Reshape -> Flatten", ("Reshape",), _reshape_to_flatten),
    Rule("MatMul -> Gemm", ("MatMul",), _matmul),
]


@register_pass("canonicalize")
def canonicalize(graph: Graph) -> Graph:
    graph = graph.copy()
    report(apply_rules(graph, RULES))
    return graph
