"""Elementwise ops: activations and math (unary), arithmetic with broadcasting (binary and
variadic), Clip and Cast. All are strided maps; the scalar body is vectorized by LLVM."""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from ..emit import F32, FAST, Emitter, is_float
from ..lowering import register
from .strided import Access, broadcast_strides, contiguous_strides, emit_map


def _fz(x):
    return ir.Constant(x.type, 0.0 if is_float(x.type) else 0)


def _lt0(em: Emitter, x):
    if is_float(x.type):
        return em.b.fcmp_ordered("<", x, _fz(x))
    return em.b.icmp_signed("<", x, _fz(x))


def _expm1(em, x):
    return em.libm("expm1f", [x])


def _elu(em, x, alpha):
    b = em.b
    neg = b.fmul(em.fconst(alpha), _expm1(em, x), flags=FAST)
    return b.select(b.fcmp_ordered(">", x, _fz(x)), x, neg)


def _relu(em, x, a):
    return em.b.select(_lt0(em, x), _fz(x), x)


def _sigmoid(em, x, a):
    b = em.b
    e = em.exp(b.fneg(x))
    return b.fdiv(em.fconst(1.0), b.fadd(em.fconst(1.0), e))


def _clamp01(em, x):
    return em.fmin(em.fmax(x, em.fconst(0.0)), em.fconst(1.0))


def _softplus(em, x, a):
    b = em.b
    ax = em.intrinsic("fabs", [x])
    return b.fadd(em.fmax(x, em.fconst(0.0)), em.libm("log1pf", [em.exp(b.fneg(ax))]))


def _abs(em, x, a):
    if is_float(x.type):
        return em.intrinsic("fabs", [x])
    return em.b.select(_lt0(em, x), em.b.neg(x), x)


def _neg(em, x, a):
    return em.b.fneg(x) if is_float(x.type) else em.b.neg(x)


def _softsign(em, x, a):
    b = em.b
    return b.fdiv(x, b.fadd(em.fconst(1.0), em.intrinsic("fabs", [x])))


def _mish(em, x, a):
    return em.b.fmul(x, em.tanh(_softplus(em, x, a)))


def _celu(em, x, a):
    b = em.b
    neg = b.fmul(em.fconst(a.alpha), _expm1(em, b.fdiv(x, em.fconst(a.alpha))))
    return b.fadd(em.fmax(x, em.fconst(0.0)), em.fmin(em.fconst(0.0), neg))


def _gelu(em, x, a):
    b = em.b
    if a.approximate == "tanh":
        x3 = b.fmul(b.fmul(x, x), x)
        inner = b.fmul(em.fconst(0.7978845608028654), b.fadd(x, b.fmul(em.fconst(0.044715), x3)))
        return b.fmul(b.fmul(em.fconst(0.5), x), b.fadd(em.fconst(1.0), em.tanh(inner)))
    erf = em.erf(b.fmul(x, em.fconst(0.7071067811865476)))
    return b.fmul(b.fmul(em.fconst(0.5), x), b.fadd(em.fconst(1.0), erf))


def _sign(em, x, a):
    b = em.b
    if is_float(x.type):
        pos = b.uitofp(b.fcmp_ordered(">", x, _fz(x)), x.type)
        neg = b.uitofp(b.fcmp_ordered("<", x, _fz(x)), x.type)
        return b.select(b.fcmp_unordered("uno", x, x), x, b.fsub(pos, neg))
    pos = b.zext(b.icmp_signed(">", x, _fz(x)), x.type)
    neg = b.zext(b.icmp_signed("<", x, _fz(x)), x.type)
    return b.sub(pos, neg)


UNARY = {
    "Softsign": _softsign,
    "Mish": _mish,
    "Celu": _celu,
    "ThresholdedRelu": lambda em, x, a: em.b.select(em.b.fcmp_ordered(">", x, em.fconst(a.alpha)), x, em.fconst(0.0)),
    "Gelu": _gelu,
    "Round": lambda em, x, a: em.intrinsic("roundeven", [x]),
    "Sign": _sign,
    "Relu": _relu,
    "LeakyRelu": lambda em, x, a: em.b.select(_lt0(em, x), em.b.fmul(x, em.fconst(a.alpha)), x),
    "Elu": lambda em, x, a: _elu(em, x, a.alpha),
    "Selu": lambda em, x, a: em.b.fmul(em.fconst(a.gamma), _elu(em, x, a.alpha)),
    "Sigmoid": _sigmoid,
    "HardSigmoid": lambda em, x, a: _clamp01(
        em, em.b.fadd(em.b.fmul(em.fconst(a.alpha), x, flags=FAST), em.fconst(a.beta), flags=FAST)),
    "HardSwish": lambda em, x, a: em.b.fmul(x, _clamp01(
        em, em.b.fadd(em.b.fdiv(x, em.fconst(6.0)), em.fconst(0.5)))),
    "Tanh": lambda em, x, a: em.tanh(x),
    "Softplus": _softplus,
    "Sqrt": lambda em, x, a: em.intrinsic("sqrt", [x]),
    "Exp": lambda em, x, a: em.exp(x),
    "Log": lambda em, x, a: em.log(x),
    "Abs": _abs,
    "Neg": _neg,
    "Reciprocal": lambda em, x, a: em.b.fdiv(em.fconst(1.0), x),
    "Floor": lambda em, x, a: em.intrinsic("floor", [x]),
    "Ceil": lambda em, x, a: em.intrinsic("ceil", [x]),
    "Erf": lambda em, x, a: em.erf(x),
}


def _same_shape_map(k, fn, n_inputs=1, work=1):
    shape = k.out_shape()
    strides = contiguous_strides(shape)
    out = Access(k.out(), k.out_type(), strides)
    ins = [Access(k.inp(i), k.in_type(i), broadcast_strides(k.in_shape(i), shape)) for i in range(n_inputs)]
    emit_map(k, shape, out, ins, fn, work_per_elem=work)


def _lower_unary(k, node):
    f = UNARY[node.op]
    work = 8 if node.op in ("Sigmoid", "Tanh", "Elu", "Selu", "Softplus", "Exp", "Log", "Erf", "Mish", "Celu",
                            "Gelu") else 1
    _same_shape_map(k, lambda em, v: f(em, v[0], node.attrs), work=work)


register(*UNARY)(_lower_unary)


@register("Clip")
def _clip(k, node):
    lo, hi = node.attrs.min, node.attrs.max

    def body(em, v):
        x = v[0]
        b = em.b
        if is_float(x.type):
            if lo is not None:
                x = em.fmax(x, em.fconst(lo))
            if hi is not None:
                x = em.fmin(x, em.fconst(hi))
            return x
        if lo is not None:
            c = ir.Constant(x.type, int(lo))
            x = b.select(b.icmp_signed("<", x, c), c, x)
        if hi is not None:
            c = ir.Constant(x.type, int(hi))
            x = b.select(b.icmp_signed(">", x, c), c, x)
        return x
    _same_shape_map(k, body)


@register("Cast")
def _cast(k, node):
    to = k.out_type()
    _same_shape_map(k, lambda em, v: em.cast(v[0], to))


def _binary(op, em: Emitter, x, y):
    b = em.b
    fl = is_float(x.type)
    if op in ("Add", "Sum", "Mean"):
        return b.fadd(x, y, flags=FAST) if fl else b.add(x, y)
    if op == "Sub":
        return b.fsub(x, y, flags=FAST) if fl else b.sub(x, y)
    if op == "Mul":
        return b.fmul(x, y, flags=FAST) if fl else b.mul(x, y)
    if op == "Div":
        return b.fdiv(x, y) if fl else b.sdiv(x, y)
    if op == "Max":
        return em.fmax(x, y) if fl else b.select(b.icmp_signed(">", x, y), x, y)
    if op == "Min":
        return em.fmin(x, y) if fl else b.select(b.icmp_signed("<", x, y), x, y)
    if op == "PRelu":
        return b.select(_lt0(em, x), b.fmul(x, y) if fl else b.mul(x, y), x)
    if op == "Pow":
        if fl:
            return em.intrinsic("pow", [x, em.cast(y, x.type)])
        xd, yd = em.cast(x, ir.DoubleType()), em.cast(y, ir.DoubleType())
        return em.cast(em.intrinsic("pow", [xd, yd], ir.DoubleType()), x.type)
    raise NotImplementedError(op)


@register("Add", "Sub", "Mul", "Div", "PRelu", "Pow", "Sum", "Max", "Min", "Mean")
def _lower_nary(k, node):
    n = len(node.inputs)
    op = node.op

    square = op == "Pow" and _is_float_constant(k.const_input(1), 2.0) and node.inputs[0].dtype == "float32"

    def body(em, v):
        if square:  # x**2, LayerNorm's variance: exactly x*x, and no libm call per element
            return em.b.fmul(v[0], v[0])
        acc = v[0]
        for y in v[1:]:
            acc = _binary(op, em, acc, y)
        if op == "Mean" and n > 1:
            if is_float(acc.type):
                acc = em.b.fmul(acc, em.fconst(1.0 / n))
            else:  # numpy: float division, truncated back
                acc = em.cast(em.b.fdiv(em.cast(acc, F32), em.fconst(float(n))), acc.type)
        return acc
    _same_shape_map(k, body, n_inputs=n, work=8 if op == "Pow" and not square else 1)


def _is_float_constant(data, value: float) -> bool:
    """``data`` (a constant input, or None) holds ``value`` in every element."""
    return data is not None and data.size > 0 and data.dtype.kind == "f" and bool(np.all(data == value))


_FCMP = {"Equal": "==", "Greater": ">", "Less": "<", "GreaterOrEqual": ">=", "LessOrEqual": "<="}


@register(*_FCMP)
def _compare(k, node):
    pred = _FCMP[node.op]

    def body(em, v):
        x, y = v
        b = em.b
        if is_float(x.type):
            c = b.fcmp_ordered(pred, x, y)
        elif x.type == ir.IntType(8):
            c = b.icmp_unsigned(pred, x, y)
        else:
            c = b.icmp_signed(pred, x, y)
        return b.zext(c, ir.IntType(8))
    _same_shape_map(k, body, n_inputs=2)


@register("And", "Or", "Xor")
def _logical(k, node):
    op = {"And": "and_", "Or": "or_", "Xor": "xor"}[node.op]
    _same_shape_map(k, lambda em, v: getattr(em.b, op)(v[0], v[1]), n_inputs=2)


@register("Not")
def _not(k, node):
    _same_shape_map(k, lambda em, v: em.b.xor(v[0], ir.Constant(ir.IntType(8), 1)))


@register("Where")
def _where(k, node):
    def body(em, v):
        c, x, y = v
        return em.b.select(em.b.icmp_unsigned("!=", c, ir.Constant(c.type, 0)), x, y)
    _same_shape_map(k, body, n_inputs=3)
