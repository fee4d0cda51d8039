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
from cnncc.ops import get_op
from cnncc.ops.fused import UNARY_STEPS, split_extras

from ..lowering import KernelContext, register
from .common import const, tir
from .elementwise import unary_expr
from .nn import avg_pool_compute, conv_compute, gemm_compute, max_pool_compute

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
    if kind == "scale":
        return v * extra[idx[1]]
    if kind == "shift":
        return v + extra[idx[1]]
    if kind == "silu":
        return v / (const(1.0) + tir.exp(-v))
    op, names = UNARY_STEPS[kind]  # one op-table op, with the step's parameters as attributes
    return unary_expr(op, get_op(op).normalize_attrs(dict(zip(names, step[1:]))), v)


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
