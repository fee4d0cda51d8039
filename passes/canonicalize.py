"""canonicalize: one spelling per computation, so later rules match fewer forms.

- ``Sum(a, b, c...)`` -> ``Add(Add(a, b), c)...`` (same left-to-right order, same rounding);
- ``Upsample`` -> ``Resize`` (asymmetric coordinates, floor rounding: its definition);
- ``Reshape`` to 2-D that flattens at some axis -> ``Flatten`` (the form before a Gemm);
- ``Reshape``/``Flatten`` of a ``Reshape``/``Flatten`` read by nothing else -> one ``Reshape``;
- ``MatMul`` of two 2-D operands -> ``Gemm`` (same reference), so batch-norm folding and
  Gemm fusion see one op;
- ``x * Clip(x + 3, 0, 6) / 6`` (how exporters spell hard-swish, e.g. PaddlePaddle's: 24
  times in PP-OCR's detector) -> ``HardSwish(x)``, which conv fusion then takes into the
  conv's epilogue instead of four passes over the activations;
- layer norm spelled out over the last axis (``ReduceMean``, ``Sub``, ``Pow`` 2, ``ReduceMean``,
  ``Add`` eps, ``Sqrt``, ``Div``, ``Mul`` gamma, ``Add`` beta: how opsets before 17 export it;
  5 times in PP-OCR's recognizer) -> ``LayerNormalization``: one kernel instead of nine.
"""

from __future__ import annotations

import math

import numpy as np

from cnncc.builder import make_node
from cnncc.ir import Graph, Node, Value
from cnncc.ops.tensor import upsample_as_resize_attrs
from cnncc.passes.manager import register_pass
from cnncc.passes.rewrite import Rewrite, Rule, Uses, apply_rules, const_value, constant, report


def _sum(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
    if len(node.inputs) < 2:
        return None
    acc, new = node.inputs[0], []
    for i, v in enumerate(node.inputs[1:], start=1):
        last = i == len(node.inputs) - 1
        out = node.outputs[0] if last else graph.fresh_name(f"{node.outputs[0].name}.sum")
        new.append(make_node("Add", [acc, v], [out], {}, node.name))
        acc = new[-1].outputs[0]
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


def _only_last_axis(node: Node, x: Value) -> bool:
    axes = node.attrs.axes
    return (node.op == "ReduceMean" and node.attrs.keepdims and axes is not None and len(axes) == 1
            and axes[0] % x.type.rank == x.type.rank - 1)


def _layer_norm(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
    """Anchored at the final Add of beta; every intermediate read only inside the pattern."""
    def producer(v, op, users=1):
        p = v.producer
        if p is None or p.op != op or len(uses.users(v)) != users or uses.is_output(v):
            return None
        return p

    def split(n, want_const):  # (the non-constant operand, the constant one) of a binary node
        a, b = n.inputs
        if const_value(b) is not None and const_value(a) is None:
            return a, b
        if not want_const or const_value(a) is None:
            return None
        return b, a

    pair = split(node, True)
    if pair is None:
        return None
    o, beta = pair
    mul = producer(o, "Mul")
    pair = mul and split(mul, True)
    if not pair:
        return None
    n, gamma = pair
    div = producer(n, "Div")
    if div is None:
        return None
    d, s = div.inputs
    sqrt = producer(s, "Sqrt")
    add = sqrt and producer(sqrt.inputs[0], "Add")
    pair = add and split(add, True)
    if not pair:
        return None
    var, eps = pair
    rm2 = producer(var, "ReduceMean")
    pw = rm2 and producer(rm2.inputs[0], "Pow")
    sub = producer(d, "Sub", users=2)
    if not (pw and sub and pw.inputs[0] is d and _scalar_is(pw.inputs[1], 2.0)):
        return None
    x, m = sub.inputs
    rm1 = producer(m, "ReduceMean")
    if rm1 is None or rm1.inputs[0] is not x or not _only_last_axis(rm1, x) or not _only_last_axis(rm2, d):
        return None
    C = x.shape[-1]
    g, b, e = const_value(gamma), const_value(beta), const_value(eps)
    if g is None or b is None or e is None or e.size != 1 or x.dtype != "float32":
        return None
    if g.size not in (1, C) or b.size not in (1, C) or node.outputs[0].shape != x.shape:
        return None
    g = constant(graph, f"{node.name}.gamma", np.broadcast_to(g.reshape(-1), (C,)).astype(np.float32))
    b = constant(graph, f"{node.name}.beta", np.broadcast_to(b.reshape(-1), (C,)).astype(np.float32))
    ln = make_node("LayerNormalization", [x, g, b], node.outputs, {"axis": -1, "epsilon": float(e.ravel()[0])},
                   node.name)
    return Rewrite(remove=[node, mul, div, sqrt, add, rm2, pw, sub, rm1], add=[ln])


RULES = [
    Rule("Sum -> Add", ("Sum",), _sum),
    Rule("Upsample -> Resize", ("Upsample",), _upsample),
    Rule("Reshape of Reshape merged", ("Reshape", "Flatten"), _reshape_chain),
    Rule("Reshape -> Flatten", ("Reshape",), _reshape_to_flatten),
    Rule("MatMul -> Gemm", ("MatMul",), _matmul),
    Rule("x*Clip(x+3,0,6)/6 -> HardSwish", ("Div",), _hard_swish),
    Rule("spelled-out layer norm -> LayerNormalization", ("Add",), _layer_norm),
]


@register_pass("canonicalize")
def canonicalize(graph: Graph) -> Graph:
    graph = graph.copy()
    report(apply_rules(graph, RULES))
    return graph
