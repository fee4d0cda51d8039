"""Fused lowerings: FusedConv / FusedGemm (encoding: cnncc/ops/fused.py).

The product is one reduction block; all pointwise steps of the epilogue become ONE
elementwise block (a single expression: bias, residual, activation...), which schedules
inline it into the accumulator's write-back; a trailing pooling step is one more reduction
block reading it.
"""

from __future__ import annotations

import math

from tvm import te

from cnncc.ir import Attrs
from cnncc.ops.fused import split_extras

from ..lowering import KernelContext, register
from .common import const, tir
from .elementwise import UNARY
from .nn import avg_pool_compute, conv_compute, gemm_compute, max_pool_compute

# epilogue kind -> (op-table unary op, attributes from the step's parameters)
ACTIVATIONS = {
    "relu": ("Relu", lambda s: {}),
    "leaky_relu": ("LeakyRelu", lambda s: {"alpha": s[1]}),
    "sigmoid": ("Sigmoid", lambda s: {}),
    "hard_sigmoid": ("HardSigmoid", lambda s: {"alpha": s[1], "beta": s[2]}),
    "hard_swish": ("HardSwish", lambda s: {}),
    "elu": ("Elu", lambda s: {"alpha": s[1]}),
    "selu": ("Selu", lambda s: {"alpha": s[1], "gamma": s[2]}),
    "tanh": ("Tanh", lambda s: {}),
}
POOLS = ("max_pool", "avg_pool", "global_avg_pool")


def step_expr(step: tuple, v, extra, idx):
    """Value ``v`` (at output index ``idx``, channel axis 1) after one pointwise step."""
    kind = step[0]
    if kind == "bias":
        return v + extra[idx[1]]
    if kind == "add":
        return v + extra[tuple(idx)]
    if kind == "prelu":
        return tir.Select(v < const(0.0), v * extra[idx[1]], v)
    if kind == "clip":
        if step[1] is not None:
            v = tir.max(v, const(step[1]))
        if step[2] is not None:
            v = tir.min(v, const(step[2]))
        return v
    if kind == "silu":
        return v / (const(1.0) + tir.exp(-v))
    op, params = ACTIVATIONS[kind]
    return UNARY[op](Attrs(params(step)), v)


def apply_epilogue(y: te.Tensor, epilogue, extras) -> te.Tensor:
    pointwise = [(s, e) for s, e in zip(epilogue, split_extras(epilogue, extras)) if s[0] not in POOLS]
    if pointwise:

        def f(*idx):
            v = y[tuple(idx)]
            for step, extra in pointwise:
                v = step_expr(step, v, extra, idx)
            return v

        y = te.compute(y.shape, f, name="epilogue")
    if epilogue and epilogue[-1][0] in POOLS:
        y = _pool(y, epilogue[-1])
    return y


def _pool(y: te.Tensor, step: tuple) -> te.Tensor:
    shape = [int(d) for d in y.shape]
    sp = len(shape) - 2
    if step[0] == "global_avg_pool":
        rk = [te.reduce_axis((0, k), name=f"g{i}") for i, k in enumerate(shape[2:])]
        out = (shape[0], shape[1]) + (1,) * sp
        total = te.compute(out, lambda n, c, *o: te.sum(y[(n, c, *rk)], axis=rk), name="pool_sum")
        inv = const(1.0 / math.prod(shape[2:]))
        return te.compute(out, lambda *i: total[tuple(i)] * inv, name="pool_avg")
    attrs = {"kernel_shape": step[1], "strides": step[2], "pads": step[3], "dilations": (1,) * sp, "ceil_mode": step[4]}
    if step[0] == "avg_pool":
        attrs["count_include_pad"] = step[5]
    a = Attrs(attrs)
    from cnncc.ops.shapes import pooled_size

    out = tuple(shape[:2]) + tuple(
        pooled_size(shape[2 + i], a.kernel_shape[i], a.strides[i], a.pads[i], a.pads[sp + i], 1, bool(a.ceil_mode))
        for i in range(sp)
    )
    return (max_pool_compute if step[0] == "max_pool" else avg_pool_compute)(y, a, out)


@register("FusedConv")
def _fused_conv(ctx: KernelContext):
    x, w, *extras = ctx.inputs
    a = ctx.attrs
    # the convolution's own output shape (before a pooling step)
    from cnncc.ops.nn import _conv_types

    (conv_t,) = _conv_types(ctx.in_types[:2], a)
    y = conv_compute(x, w, a, conv_t.shape)
    return [apply_epilogue(y, a.epilogue, extras)]


@register("FusedGemm")
def _fused_gemm(ctx: KernelContext):
    A, B, *extras = ctx.inputs
    a = ctx.attrs
    y = gemm_compute(A, B, a.transA, a.transB)
    if a.alpha != 1.0:
        # fold alpha into the epilogue block: one pointwise block after the reduction
        alpha = const(a.alpha)
        epilogue = a.epilogue
        pointwise = list(zip(epilogue, split_extras(epilogue, extras)))

        def f(*idx):
            v = y[tuple(idx)] * alpha
            for step, extra in pointwise:
                v = step_expr(step, v, extra, idx)
            return v

        return [te.compute(y.shape, f, name="epilogue")]
    return [apply_epilogue(y, a.epilogue, extras)]
