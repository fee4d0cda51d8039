"""Neural-network lowerings: convolutions, pooling, normalization, softmax, dense layers.

Convolutions are written as a zero-padding block ``pad_temp`` plus one reduction block, the
shape topi uses, which dlight's implicit-GEMM rule and meta_schedule's tiling both recognize.
Everything is N-D (1-D/2-D/3-D) and grouped where ONNX allows it.
"""

from __future__ import annotations

import math

from tvm import te, topi

from ..lowering import KernelContext, register
from .common import all_of, bcast, const, lowest, tir


def conv_compute(x: te.Tensor, w: te.Tensor, a, out_shape, name: str = "conv") -> te.Tensor:
    """Grouped, strided, dilated, padded N-D convolution NC[D]HW x MC/g[K] (no bias)."""
    sp = len(x.shape) - 2
    pads = list(a.pads)
    if any(pads):
        x = topi.nn.pad(x, [0, 0, *pads[:sp]], [0, 0, *pads[sp:]], name="pad_temp")
    cg = int(w.shape[1])
    mg = int(w.shape[0]) // a.group
    rc = te.reduce_axis((0, cg), name="rc")
    rk = [te.reduce_axis((0, int(k)), name=f"r{i}") for i, k in enumerate(a.kernel_shape)]
    s, d = a.strides, a.dilations

    def f(n, m, *o):
        c = rc if a.group == 1 else (m // mg) * cg + rc
        pos = [o[i] * s[i] + rk[i] * d[i] for i in range(sp)]
        return te.sum(x[(n, c, *pos)] * w[(m, rc, *rk)], axis=[rc, *rk])

    return te.compute(out_shape, f, name=name)


@register("Conv")
def _conv(ctx: KernelContext):
    x, w = ctx.inputs[:2]
    out_shape = ctx.out.shape
    if len(ctx.inputs) == 2:
        return [conv_compute(x, w, ctx.attrs, out_shape)]
    conv = conv_compute(x, w, ctx.attrs, out_shape)
    b = ctx.inputs[2]
    # bias as ONE elementwise block reading b[m] (no reshape block: see the notes on meta_schedule)
    return [te.compute(out_shape, lambda n, m, *o: conv[(n, m, *o)] + b[m], name="bias_add")]


@register("ConvTranspose")
def _conv_transpose(ctx: KernelContext):
    """Gather form: out[o] sums x[i] * w[k] over the (i, k) with i * s + k * d - pad == o."""
    x, w = ctx.inputs[:2]
    a = ctx.attrs
    sp = len(x.shape) - 2
    in_sp = [int(v) for v in x.shape[2:]]
    cg = int(x.shape[1]) // a.group
    mg = int(w.shape[1])
    s, d, pb = a.strides, a.dilations, a.pads[:sp]
    rc = te.reduce_axis((0, cg), name="rc")
    rk = [te.reduce_axis((0, int(k)), name=f"r{i}") for i, k in enumerate(a.kernel_shape)]

    def f(n, m, *o):
        c = rc if a.group == 1 else (m // mg) * cg + rc
        num = [o[i] + pb[i] - rk[i] * d[i] for i in range(sp)]
        idx = [tir.indexdiv(num[i], s[i]) if s[i] > 1 else num[i] for i in range(sp)]
        ok = all_of(
            [num[i] >= 0 for i in range(sp)]
            + [tir.indexmod(num[i], s[i]) == 0 for i in range(sp) if s[i] > 1]
            + [idx[i] < in_sp[i] for i in range(sp)]
        )
        safe = [tir.Select(ok, idx[i], 0) for i in range(sp)]
        val = x[(n, c, *safe)] * w[(c, m % mg, *rk)]
        return te.sum(tir.Select(ok, val, const(0.0, x.dtype)), axis=[rc, *rk])

    y = te.compute(ctx.out.shape, f, name="conv_transpose")
    if len(ctx.inputs) == 3:
        b = ctx.inputs[2]
        y = te.compute(ctx.out.shape, lambda n, m, *o: y[(n, m, *o)] + b[m], name="bias_add")
    return [y]


# -- pooling -------------------------------------------------------------------------------
def _window(a, sp, in_sp, name):
    rk = [te.reduce_axis((0, int(k)), name=f"{name}{i}") for i, k in enumerate(a.kernel_shape)]

    def pos(o):
        return [o[i] * a.strides[i] - a.pads[i] + rk[i] * a.dilations[i] for i in range(sp)]

    def inside(p, lo=None, hi=None):
        lo = lo or [0] * sp
        hi = hi or in_sp
        return all_of([tir.all(p[i] >= lo[i], p[i] < hi[i]) for i in range(sp)])

    return rk, pos, inside


def max_pool_compute(x: te.Tensor, a, out_shape, name="pool_max") -> te.Tensor:
    sp = len(x.shape) - 2
    in_sp = [int(v) for v in x.shape[2:]]
    rk, pos, inside = _window(a, sp, in_sp, "rp")

    def f(n, c, *o):
        p = pos(o)
        return te.max(tir.if_then_else(inside(p), x[(n, c, *p)], lowest(x.dtype)), axis=rk)

    return te.compute(out_shape, f, name=name)


def avg_pool_compute(x: te.Tensor, a, out_shape, name="pool_avg") -> te.Tensor:
    """The divisor counts the window's real pixels (plus explicit pads if count_include_pad),
    never the ceil_mode overhang; it is its own small block over the output positions."""
    sp = len(x.shape) - 2
    in_sp = [int(v) for v in x.shape[2:]]
    rk, pos, inside = _window(a, sp, in_sp, "rp")
    total = te.compute(
        out_shape,
        lambda n, c, *o: te.sum(tir.if_then_else(inside(pos(o)), x[(n, c, *pos(o))], const(0.0, x.dtype)), axis=rk),
        name="pool_sum",
    )
    rk2, pos2, inside2 = _window(a, sp, in_sp, "rq")
    if a.get("count_include_pad", 0):
        lo = [-p for p in a.pads[:sp]]
        hi = [in_sp[i] + a.pads[sp + i] for i in range(sp)]
    else:
        lo, hi = None, None
    count = te.compute(
        tuple(out_shape[2:]),
        lambda *o: te.sum(tir.Select(inside2(pos2(o), lo, hi), const(1.0), const(0.0)), axis=rk2),
        name="pool_count",
    )
    return te.compute(out_shape, lambda n, c, *o: total[(n, c, *o)] / count[o], name=name)


@register("MaxPool")
def _max_pool(ctx: KernelContext):
    return [max_pool_compute(ctx.x, ctx.attrs, ctx.out.shape)]


@register("AveragePool")
def _avg_pool(ctx: KernelContext):
    return [avg_pool_compute(ctx.x, ctx.attrs, ctx.out.shape)]


@register("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(ctx: KernelContext):
    x = ctx.x
    sp = [int(v) for v in x.shape[2:]]
    rk = [te.reduce_axis((0, k), name=f"r{i}") for i, k in enumerate(sp)]
    if ctx.op == "GlobalMaxPool":
        return [te.compute(ctx.out.shape, lambda n, c, *o: te.max(x[(n, c, *rk)], axis=rk), name="global_max")]
    total = te.compute(ctx.out.shape, lambda n, c, *o: te.sum(x[(n, c, *rk)], axis=rk), name="global_sum")
    inv = const(1.0 / math.prod(sp), x.dtype)
    return [te.compute(ctx.out.shape, lambda *i: total[tuple(i)] * inv, name="global_avg")]


# -- normalization -------------------------------------------------------------------------
@register("LRN")
def _lrn(ctx: KernelContext):
    x, a = ctx.x, ctx.attrs
    channels = int(x.shape[1])
    lo = (a.size - 1) // 2
    rr = te.reduce_axis((0, a.size), name="rr")

    def sq(n, c, *r):
        cc = c - lo + rr
        ok = tir.all(cc >= 0, cc < channels)
        v = x[(n, tir.Select(ok, cc, 0), *r)]
        return te.sum(tir.Select(ok, v * v, const(0.0)), axis=rr)

    sqsum = te.compute(x.shape, sq, name="lrn_sqsum")
    scale = const(a.alpha / a.size)

    def f(*i):
        return x[tuple(i)] / tir.power(const(a.bias) + scale * sqsum[tuple(i)], const(a.beta))

    return [te.compute(x.shape, f, name="lrn")]


@register("BatchNormalization")
def _batch_norm(ctx: KernelContext):
    x, scale, bias, mean, var = ctx.inputs
    eps = const(ctx.attrs.epsilon)

    def f(n, c, *r):
        inv = scale[c] / tir.sqrt(var[c] + eps)
        return (x[(n, c, *r)] - mean[c]) * inv + bias[c]

    return [te.compute(x.shape, f, name="batch_norm")]


@register("InstanceNormalization")
def _instance_norm(ctx: KernelContext):
    x, scale, bias = ctx.inputs
    sp = [int(v) for v in x.shape[2:]]
    inv_n = const(1.0 / math.prod(sp))
    nc = tuple(int(v) for v in x.shape[:2])
    r1 = [te.reduce_axis((0, k), name=f"m{i}") for i, k in enumerate(sp)]
    mean = te.compute(nc, lambda n, c: te.sum(x[(n, c, *r1)] * inv_n, axis=r1), name="in_mean")
    r2 = [te.reduce_axis((0, k), name=f"v{i}") for i, k in enumerate(sp)]

    def var_f(n, c):
        dlt = x[(n, c, *r2)] - mean[n, c]
        return te.sum(dlt * dlt * inv_n, axis=r2)

    var = te.compute(nc, var_f, name="in_var")
    eps = const(ctx.attrs.epsilon)

    def f(n, c, *r):
        return (x[(n, c, *r)] - mean[n, c]) / tir.sqrt(var[n, c] + eps) * scale[c] + bias[c]

    return [te.compute(x.shape, f, name="instance_norm")]


@register("LayerNormalization")
def _layer_norm(ctx: KernelContext):
    """Statistics over the axes from ``axis`` on; outputs y and, if asked, mean and 1/std."""
    x, scale, *rest = ctx.inputs
    bias = rest[0] if rest else None
    shape = [int(d) for d in x.shape]
    r = len(shape)
    axis = ctx.attrs.axis % r
    inner = shape[axis:]
    stat_shape = tuple(d if i < axis else 1 for i, d in enumerate(shape))
    inv_n = const(1.0 / math.prod(inner))

    def reduce_over(name, body):
        rk = [te.reduce_axis((0, d), name=f"{name}{i}") for i, d in enumerate(inner)]
        return te.compute(stat_shape, lambda *o: te.sum(body(list(o[:axis]) + rk) * inv_n, axis=rk), name=name)

    mean = reduce_over("ln_mean", lambda src: x[tuple(src)])
    zero = [0] * (r - axis)

    def sq(src):
        d = x[tuple(src)] - mean[tuple(src[:axis] + zero)]
        return d * d

    var = reduce_over("ln_var", sq)
    eps = const(ctx.attrs.epsilon)
    inv_std = te.compute(stat_shape, lambda *o: const(1.0) / tir.sqrt(var[tuple(o)] + eps), name="ln_inv_std")

    def f(*i):
        stat = tuple(list(i[:axis]) + zero)
        v = (x[tuple(i)] - mean[stat]) * inv_std[stat] * bcast(scale, r - axis, i[axis:])
        return v + bcast(bias, r - axis, i[axis:]) if bias is not None else v

    y = te.compute(x.shape, f, name="layer_norm")
    return [y, mean, inv_std][: len(ctx.out_types)]


@register("Softmax")
def _softmax(ctx: KernelContext):
    return [topi.nn.softmax(ctx.x, axis=ctx.attrs.axis % len(ctx.x.shape))]


@register("LogSoftmax")
def _log_softmax(ctx: KernelContext):
    return [topi.nn.log_softmax(ctx.x, axis=ctx.attrs.axis % len(ctx.x.shape))]


# -- dense layers --------------------------------------------------------------------------
def gemm_compute(A: te.Tensor, B: te.Tensor, trans_a: int, trans_b: int, name="gemm") -> te.Tensor:
    k_dim = int(A.shape[0] if trans_a else A.shape[1])
    m = int(A.shape[1] if trans_a else A.shape[0])
    n = int(B.shape[0] if trans_b else B.shape[1])
    k = te.reduce_axis((0, k_dim), name="k")

    def f(i, j):
        av = A[k, i] if trans_a else A[i, k]
        bv = B[j, k] if trans_b else B[k, j]
        return te.sum(av * bv, axis=k)

    return te.compute((m, n), f, name=name)


@register("Gemm")
def _gemm(ctx: KernelContext):
    a = ctx.attrs
    A, B = ctx.inputs[:2]
    mm = gemm_compute(A, B, a.transA, a.transB)
    C = ctx.inputs[2] if len(ctx.inputs) == 3 else None
    if C is None and a.alpha == 1.0:
        return [mm]
    alpha, beta = const(a.alpha), const(a.beta)

    def f(i, j):
        v = mm[i, j] if a.alpha == 1.0 else mm[i, j] * alpha
        if C is not None:
            v = v + (bcast(C, 2, (i, j)) if a.beta == 1.0 else beta * bcast(C, 2, (i, j)))
        return v

    return [te.compute(mm.shape, f, name="gemm_epilogue")]


@register("MatMul")
def _matmul(ctx: KernelContext):
    A, B = ctx.inputs
    ra, rb = len(A.shape), len(B.shape)
    k_dim = int(A.shape[-1])
    k = te.reduce_axis((0, k_dim), name="k")
    batch_rank = len(ctx.out.shape) - (ra > 1) - (rb > 1)

    def f(*idx):
        idx = list(idx)
        j = idx.pop() if rb > 1 else None
        i = idx.pop() if ra > 1 else None
        batch = idx
        if ra == 1:
            av = A[k]
        else:
            av = bcast_batch(A, batch, batch_rank)(i, k)
        if rb == 1:
            bv = B[k]
        else:
            bv = bcast_batch(B, batch, batch_rank)(k, j)
        return te.sum(av * bv, axis=k)

    return [te.compute(ctx.out.shape, f, name="matmul")]


def bcast_batch(t: te.Tensor, batch, batch_rank):
    shape = [int(d) for d in t.shape[:-2]]
    off = batch_rank - len(shape)
    pre = [0 if d == 1 else batch[i + off] for i, d in enumerate(shape)]
    return lambda r, c: t[(*pre, r, c)]


