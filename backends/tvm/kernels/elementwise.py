"""Elementwise lowerings: activations, broadcasting arithmetic, casts, clip, dropout."""

from __future__ import annotations

from tvm import te

from ..lowering import KernelContext, register
from .common import bcast, const, dtype_of, tir

F = "float32"


def _f(v, dtype=F):
    return const(v, dtype)


# x -> expression; ``a`` are the node's attributes
UNARY = {
    "Relu": lambda a, x: tir.max(x, tir.const(0, dtype_of(x))),
    "LeakyRelu": lambda a, x: tir.Select(x >= _f(0), x, x * _f(a.alpha)),
    "Elu": lambda a, x: tir.Select(x > _f(0), x, _f(a.alpha) * (tir.exp(x) - _f(1))),
    "Selu": lambda a, x: _f(a.gamma) * tir.Select(x > _f(0), x, _f(a.alpha) * (tir.exp(x) - _f(1))),
    "Sigmoid": lambda a, x: _f(1) / (_f(1) + tir.exp(-x)),
    "HardSigmoid": lambda a, x: tir.max(tir.min(_f(a.alpha) * x + _f(a.beta), _f(1)), _f(0)),
    "HardSwish": lambda a, x: x * tir.max(tir.min(x / _f(6) + _f(0.5), _f(1)), _f(0)),
    "Tanh": lambda a, x: tir.tanh(x),
    "Softplus": lambda a, x: _softplus(x),
    "Sqrt": lambda a, x: tir.sqrt(x),
    "Exp": lambda a, x: tir.exp(x),
    "Log": lambda a, x: tir.log(x),
    "Abs": lambda a, x: tir.abs(x),
    "Neg": lambda a, x: -x,
    "Reciprocal": lambda a, x: _f(1) / x,
    "Floor": lambda a, x: tir.floor(x),
    "Ceil": lambda a, x: tir.ceil(x),
    "Erf": lambda a, x: tir.erf(x),
    "Mish": lambda a, x: x * tir.tanh(_softplus(x)),
    "Softsign": lambda a, x: x / (_f(1) + tir.abs(x)),
    "Celu": lambda a, x: tir.max(x, _f(0)) + tir.min(_f(0), _f(a.alpha) * (tir.exp(x / _f(a.alpha)) - _f(1))),
    "ThresholdedRelu": lambda a, x: tir.Select(x > _f(a.alpha), x, _f(0)),
    "Gelu": lambda a, x: _gelu(x, a.approximate),
    "Round": lambda a, x: tir.nearbyint(x),  # half to even, like ONNX and NumPy
    "Sign": lambda a, x: _sign(x),
}


def _softplus(x):
    """log(1 + e^x) without overflow: max(x, 0) + log(1 + e^-|x|)."""
    return tir.max(x, _f(0)) + tir.log(_f(1) + tir.exp(-tir.abs(x)))


def _gelu(x, approximate: str):
    if approximate == "tanh":
        inner = _f(0.7978845608028654) * (x + _f(0.044715) * x * x * x)
        return _f(0.5) * x * (_f(1) + tir.tanh(inner))
    return _f(0.5) * x * (_f(1) + tir.erf(x * _f(0.7071067811865476)))


def _sign(x):
    dt = dtype_of(x)
    zero, one = tir.const(0, dt), tir.const(1, dt)
    return tir.Select(x > zero, one, tir.Select(x < zero, -one, zero))


def _unary(ctx: KernelContext):
    fn = UNARY[ctx.op]
    x = ctx.x
    return [te.compute(x.shape, lambda *i: fn(ctx.attrs, x[tuple(i)]), name=ctx.op.lower())]


register(*UNARY)(_unary)


@register("Clip")
def _clip(ctx: KernelContext):
    x, a = ctx.x, ctx.attrs
    return [te.compute(x.shape, lambda *i: clip_expr(a, x[tuple(i)]), name="clip")]


@register("Cast")
def _cast(ctx: KernelContext):
    x, to = ctx.x, ctx.attrs.to
    if to == "bool":
        return [te.compute(x.shape, lambda *i: x[tuple(i)] != tir.const(0, x.dtype), name="cast")]
    return [te.compute(x.shape, lambda *i: x[tuple(i)].astype(to), name="cast")]


@register("Dropout")
def _dropout(ctx: KernelContext):
    x = ctx.x
    outs = [te.compute(x.shape, lambda *i: x[tuple(i)], name="dropout")]
    if len(ctx.out_types) > 1:
        outs.append(te.compute(x.shape, lambda *i: tir.const(True, "bool"), name="mask"))
    return outs


def _div(x, y):
    if "int" in dtype_of(x):
        return tir.truncdiv(x, y)
    return x / y


BINARY = {
    "Add": lambda x, y: x + y,
    "Sub": lambda x, y: x - y,
    "Mul": lambda x, y: x * y,
    "Div": _div,
    "PRelu": lambda x, s: tir.Select(x < tir.const(0, dtype_of(x)), x * s, x),
    "Pow": lambda x, y: tir.power(x, y.astype(dtype_of(x))),
}


def _binary(ctx: KernelContext):
    fn = BINARY[ctx.op]
    x, y = ctx.inputs
    shape, r = ctx.out.shape, len(ctx.out.shape)
    return [te.compute(shape, lambda *i: fn(bcast(x, r, i), bcast(y, r, i)), name=ctx.op.lower())]


register(*BINARY)(_binary)

VARIADIC = {
    "Sum": lambda a, b: a + b,
    "Mean": lambda a, b: a + b,
    "Max": tir.max,
    "Min": tir.min,
}


def _variadic(ctx: KernelContext):
    fn = VARIADIC[ctx.op]
    shape, r = ctx.out.shape, len(ctx.out.shape)
    xs = ctx.inputs

    def f(*i):
        v = bcast(xs[0], r, i)
        for t in xs[1:]:
            v = fn(v, bcast(t, r, i))
        if ctx.op == "Mean":
            v = v / tir.const(len(xs), dtype_of(v))
        return v

    return [te.compute(shape, f, name=ctx.op.lower())]


register(*VARIADIC)(_variadic)


def clip_expr(a, v):
    dt = dtype_of(v)
    if a.min is not None:
        v = tir.max(v, tir.const(a.min, dt))
    if a.max is not None:
        v = tir.min(v, tir.const(a.max, dt))
    return v


def unary_expr(op: str, attrs, x):
    """The scalar expression of a unary op (the fused epilogues reuse the table)."""
    return clip_expr(attrs, x) if op == "Clip" else UNARY[op](attrs, x)


# -- comparisons, logic, selection ---------------------------------------------------------
PREDICATES = {
    "Equal": lambda x, y: x == y,
    "Greater": lambda x, y: x > y,
    "Less": lambda x, y: x < y,
    "GreaterOrEqual": lambda x, y: x >= y,
    "LessOrEqual": lambda x, y: x <= y,
    "And": tir.all,
    "Or": tir.any,
    # (x != y on bool lowers to a float compare in LLVM codegen)
    "Xor": lambda x, y: tir.any(tir.all(x, tir.Not(y)), tir.all(tir.Not(x), y)),
}


def _predicate(ctx: KernelContext):
    fn = PREDICATES[ctx.op]
    x, y = ctx.inputs
    r = len(ctx.out.shape)
    return [te.compute(ctx.out.shape, lambda *i: fn(bcast(x, r, i), bcast(y, r, i)), name=ctx.op.lower())]


register(*PREDICATES)(_predicate)


@register("Not")
def _not(ctx: KernelContext):
    x = ctx.x
    return [te.compute(x.shape, lambda *i: tir.Not(x[tuple(i)]), name="not")]


@register("Where")
def _where(ctx: KernelContext):
    c, x, y = ctx.inputs
    r = len(ctx.out.shape)
    return [te.compute(ctx.out.shape, lambda *i: tir.Select(bcast(c, r, i), bcast(x, r, i), bcast(y, r, i)), name="where")]

