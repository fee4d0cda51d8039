"""Reduction lowerings: the Reduce* family over resolved axes (keepdims or not), ArgMax/ArgMin."""

from __future__ import annotations

import math

from tvm import te

from ..lowering import KernelContext, register
from .common import const, tir

def _prod_reducer():
    return te.comm_reducer(lambda x, y: x * y, lambda t: tir.const(1, t), name="prod")


# op -> (reducer, map applied to each element before reducing, map applied to the result)
REDUCERS = {
    "ReduceSum": (te.sum, None, None),
    "ReduceMean": (te.sum, None, "mean"),
    "ReduceMax": (te.max, None, None),
    "ReduceMin": (te.min, None, None),
    "ReduceProd": (None, None, None),
    "ReduceL1": (te.sum, tir.abs, None),
    "ReduceL2": (te.sum, lambda v: v * v, tir.sqrt),
    "ReduceSumSquare": (te.sum, lambda v: v * v, None),
    "ReduceLogSum": (te.sum, None, tir.log),
    "ReduceLogSumExp": (te.sum, tir.exp, "logsumexp"),
}


@register(*REDUCERS)
def _reduce(ctx: KernelContext):
    x, a = ctx.x, ctx.attrs
    dims = [int(d) for d in x.shape]
    axes = sorted({ax % len(dims) for ax in a.axes})
    reducer, pre, post = REDUCERS[ctx.op]
    reducer = reducer or _prod_reducer()
    if post == "logsumexp":  # log(sum(exp(x - max))) + max, in two reductions
        peak = _reduce_compute(x, dims, axes, True, te.max, None, "lse_max")
        safe = te.compute(peak.shape, lambda *i: tir.Select(tir.isfinite(peak[tuple(i)]), peak[tuple(i)], const(0.0)), name="lse_shift")
        keep = [i for i in range(len(dims))]
        total = _reduce_compute(
            x, dims, axes, True, te.sum, None, "lse_sum",
            load=lambda src: tir.exp(x[tuple(src)] - safe[tuple(0 if k in axes else src[k] for k in keep)]),
        )
        out = ctx.out.shape

        def f(*o):
            full = _keep_index(o, dims, axes, a.keepdims)
            return tir.log(total[full]) + safe[full]

        return [te.compute(out, f, name="reduce_log_sum_exp")]
    y = _reduce_compute(x, dims, axes, a.keepdims, reducer, pre, ctx.op.lower())
    if post is None:
        return [y]
    if post == "mean":
        inv = tir.const(1.0 / max(math.prod(dims[ax] for ax in axes), 1), x.dtype)
        return [te.compute(ctx.out.shape, lambda *i: y[tuple(i)] * inv, name="reduce_mean")]
    return [te.compute(ctx.out.shape, lambda *i: post(y[tuple(i)]), name=f"{ctx.op.lower()}_post")]


def _keep_index(o, dims, axes, keepdims):
    """Index into a keepdims=1 result from an output index of either form."""
    if keepdims:
        return tuple(o)
    it = iter(o)
    return tuple(0 if k in axes else next(it) for k in range(len(dims)))


def _reduce_compute(x, dims, axes, keepdims, reducer, pre, name, load=None):
    rk = {ax: te.reduce_axis((0, dims[ax]), name=f"r{ax}") for ax in axes}
    shape = [1 if ax in rk else d for ax, d in enumerate(dims)] if keepdims else [d for ax, d in enumerate(dims) if ax not in rk]
    load = load or (lambda src: x[tuple(src)])

    def f(*o):
        src, k = [], 0
        for ax in range(len(dims)):
            if ax in rk:
                src.append(rk[ax])
                if keepdims:
                    k += 1
            else:
                src.append(o[k])
                k += 1
        v = load(src)
        return reducer(pre(v) if pre else v, axis=[rk[ax] for ax in axes])

    return te.compute(tuple(shape), f, name=name)


# -- ArgMax / ArgMin -----------------------------------------------------------------------
def _arg_reducer(better, last: bool):
    """(index, value) pairs; ties go to the first (or last) index whatever the reduction order."""

    def combine(x, y):
        tie = x[1] == y[1]
        pick_x = tir.any(better(x[1], y[1]), tir.all(tie, (x[0] > y[0]) if last else (x[0] < y[0])))
        return tir.Select(pick_x, x[0], y[0]), tir.Select(pick_x, x[1], y[1])

    def identity(t0, t1):
        return tir.const(-1, t0), (tir.min_value(t1) if better is _gt else tir.max_value(t1))

    return te.comm_reducer(combine, identity, name="argreduce")


def _gt(a, b):
    return a > b


def _lt(a, b):
    return a < b


@register("ArgMax", "ArgMin")
def _arg(ctx: KernelContext):
    x, a = ctx.x, ctx.attrs
    dims = [int(d) for d in x.shape]
    axis = a.axis % len(dims)
    reducer = _arg_reducer(_gt if ctx.op == "ArgMax" else _lt, bool(a.select_last_index))
    ctx.schedule_hint = "fallback"  # dlight's cross-thread reduction cannot rfactor this reducer
    k = te.reduce_axis((0, dims[axis]), name="k")
    shape = [1 if i == axis else d for i, d in enumerate(dims)]

    def f(*o):
        src = [k if i == axis else o[i] for i in range(len(dims))]
        return reducer((k.var.astype("int64"), x[tuple(src)]), axis=k)

    idx, _ = te.compute(tuple(shape), f, name="arg")
    if a.keepdims:
        return [te.compute(tuple(shape), lambda *o: idx[tuple(o)], name="arg_index")]

    def g(*o):
        return idx[tuple(list(o[:axis]) + [0] + list(o[axis:]))]

    return [te.compute(ctx.out.shape, g, name="arg_index")]
