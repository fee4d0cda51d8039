"""Reduction lowerings: ReduceSum/Mean/Max/Min over resolved axes, keepdims or not."""

from __future__ import annotations

import math

from tvm import te

from ..lowering import KernelContext, register
from .common import tir

REDUCERS = {"ReduceSum": te.sum, "ReduceMean": te.sum, "ReduceMax": te.max, "ReduceMin": te.min}


@register(*REDUCERS)
def _reduce(ctx: KernelContext):
    x, a = ctx.x, ctx.attrs
    dims = [int(d) for d in x.shape]
    axes = sorted({ax % len(dims) for ax in a.axes})
    rk = {ax: te.reduce_axis((0, dims[ax]), name=f"r{ax}") for ax in axes}
    reducer = REDUCERS[ctx.op]

    def f(*o):
        src, k = [], 0
        for ax in range(len(dims)):
            if ax in rk:
                src.append(rk[ax])
                if a.keepdims:
                    k += 1
            else:
                src.append(o[k])
                k += 1
        return reducer(x[tuple(src)], axis=[rk[ax] for ax in axes])

    y = te.compute(ctx.out.shape, f, name=ctx.op.lower())
    if ctx.op != "ReduceMean":
        return [y]
    inv = tir.const(1.0 / max(math.prod(dims[ax] for ax in axes), 1), x.dtype)
    return [te.compute(ctx.out.shape, lambda *i: y[tuple(i)] * inv, name="reduce_mean")]
