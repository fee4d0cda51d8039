"""canonicalize: one spelling per computation, so later rules match fewer forms.

- ``Sum(a, b, c...)`` -> ``Add(Add(a, b), c)...`` (same left-to-right order, same rounding);
- ``Upsample`` -> ``Resize`` (asymmetric coordinates, floor rounding: its definition);
- ``Reshape`` to 2-D that flattens at some axis -> ``Flatten`` (the form before a Gemm);
- ``Reshape``/``Flatten`` of a ``Reshape``/``Flatten`` read by nothing else -> one ``Reshape``;
- ``MatMul`` of two 2-D operands -> ``Gemm`` (same reference), so batch-norm folding and
  Gemm fusion see one op;
- ``x * Clip(x + 3, 0, 6) / 6`` (how exporters spell hard-swish, e.g. PaddlePaddle's: 24
  times in PP-OCR's detector) -> ``HardSwish(x)``, which conv fusion then takes into the
  conv's epilogue instead of four passes over the activations.
"""

from __future__ import annotations

import math

from cnncc.ir import Attrs, Graph, Node, Value
from cnncc.ops import infer_types
from cnncc.ops.tensor import upsample_as_resize_attrs
from cnncc.passes.manager import register_pass
from cnncc.passes.rewrite import Rewrite, Rule, Uses, apply_rules, const_value, make_node, report


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


def _scalar_is(v: Value, value: float) -> bool:
    c = const_value(v)
    return c is not None and c.size == 1 and float(c.ravel()[0]) == value


def _hard_swish(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
    """Anchored at the Div by 6 (or Mul by 1/6 would need an inexact constant: not matched)."""
    prod, six = node.inputs
    mul = prod.producer
    if not _scalar_is(six, 6.0) or mul is None or mul.op != "Mul" or uses.sole_user(prod) is not node:
        return None
    for x, gate in (mul.inputs, mul.inputs[::-1]):
        clip = gate.producer
        if clip is None or clip.op != "Clip" or uses.sole_user(gate) is not mul:
            continue
        if clip.attrs.min != 0 or clip.attrs.max != 6 or len(clip.inputs) != 1:
            continue
        add = clip.inputs[0].producer
        if add is None or add.op != "Add" or uses.sole_user(clip.inputs[0]) is not clip:
            continue
        if not any(a is x and _scalar_is(c, 3.0) for a, c in (add.inputs, add.inputs[::-1])):
            continue
        if x.shape != node.outputs[0].shape or x.dtype != "float32":
            return None
        return Rewrite(remove=[node, mul, clip, add], add=[make_node("HardSwish", [x], node.outputs, {}, node.name)])
    return None


RULES = [
    Rule("Sum -> Add", ("Sum",), _sum),
    Rule("Upsample -> Resize", ("Upsample",), _upsample),
    Rule("Reshape of Reshape merged", ("Reshape", "Flatten"), _reshape_chain),
    Rule("Reshape -> Flatten", ("Reshape",), _reshape_to_flatten),
    Rule("MatMul -> Gemm", ("MatMul",), _matmul),
    Rule("x*Clip(x+3,0,6)/6 -> HardSwish", ("Div",), _hard_swish),
]


@register_pass("canonicalize")
def canonicalize(graph: Graph) -> Graph:
    graph = graph.copy()
    report(apply_rules(graph, RULES))
    return graph
