"""Normalizations and reductions: BatchNormalization, InstanceNormalization, LRN, Softmax,
LogSoftmax, Reduce{Mean,Sum,Max,Min}, GlobalAveragePool, GlobalMaxPool."""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir

from ..emit import F32, FAST, REASSOC, is_float
from ..lowering import register
from .pool import sum_scale
from .strided import Access, broadcast_strides, contiguous_strides, emit_map


def _channel_strides(shape):
    """Strides reading a per-channel vector (C,) at every index of an N,C,... tensor."""
    return [0, 1] + [0] * (len(shape) - 2)


@register("BatchNormalization")
def _batch_norm(k, node):
    shape = k.in_shape(0)
    eps = node.attrs.epsilon
    out = Access(k.out(), F32, contiguous_strides(shape))
    x = Access(k.inp(0), F32, contiguous_strides(shape))
    consts = [k.const_input(i) for i in range(1, 5)]
    cs = _channel_strides(shape)
    if all(c is not None for c in consts):
        scale, bias, mean, var = (c.astype(np.float64) for c in consts)
        s = scale / np.sqrt(var + eps)
        t = bias - mean * s
        ps = k.table(("bn.s", node.name), s.astype(np.float32))
        pt = k.table(("bn.t", node.name), t.astype(np.float32))
        emit_map(k, shape, out, [x, Access(ps, F32, cs), Access(pt, F32, cs)],
                 lambda em, v: em.b.fadd(em.b.fmul(v[0], v[1], flags=FAST), v[2], flags=FAST))
        return

    def body(em, v):
        xv, sc, bi, mu, va = v
        b = em.b
        inv = b.fdiv(sc, em.intrinsic("sqrt", [b.fadd(va, em.fconst(eps))]))
        return b.fadd(b.fmul(b.fsub(xv, mu), inv), bi)
    emit_map(k, shape, out, [x] + [Access(k.inp(i), F32, cs) for i in range(1, 5)], body, work_per_elem=4)


def _sum(em, ptr, base, n, stride, fn=None):
    """sum(fn(ptr[base + i*stride]) for i < n) as a reassociable float accumulation."""
    acc = em.local(F32)
    em.b.store(em.fconst(0.0), acc)
    with em.loop(0, n, name="r") as i:
        v = em.load(ptr, em.add(base, em.mul(i, stride)), F32)
        if fn is not None:
            v = fn(v)
        em.b.store(em.b.fadd(em.b.load(acc, typ=F32), v, flags=REASSOC), acc)
    return em.b.load(acc, typ=F32)


@register("InstanceNormalization")
def _instance_norm(k, node):
    em = k.em
    shape = k.in_shape(0)
    N, C = shape[:2]
    S = math.prod(shape[2:])
    eps = node.attrs.epsilon
    x, y, sc, bi = k.inp(0), k.out(), k.inp(1), k.inp(2)
    with k.parallel_loop(N * C, 4 * S) as t:
        c = em.rem(t, C)
        base = em.mul(t, S)
        b = em.b
        mean = b.fmul(_sum(em, x, base, S, 1), em.fconst(1.0 / S))
        var = b.fmul(_sum(em, x, base, S, 1, lambda v: (lambda d: b.fmul(d, d))(b.fsub(v, mean))),
                     em.fconst(1.0 / S))
        inv = b.fdiv(em.load(sc, c, F32), em.intrinsic("sqrt", [b.fadd(var, em.fconst(eps))]))
        shift = b.fsub(em.load(bi, c, F32), b.fmul(mean, inv))
        with em.loop(0, S, name="s") as s:
            p = em.add(base, s)
            em.store(b.fadd(b.fmul(em.load(x, p, F32), inv, flags=FAST), shift, flags=FAST), y, p, F32)


@register("LRN")
def _lrn(k, node):
    """y = x / (bias + alpha/size * sum of x^2 over the channel window) ^ beta"""
    em = k.em
    a = node.attrs
    shape = k.in_shape(0)
    N, C = shape[:2]
    S = math.prod(shape[2:])
    lo, hi = (a.size - 1) // 2, math.ceil((a.size - 1) / 2)
    x, y = k.inp(0), k.out()
    b = em.b
    with k.parallel_loop(N * C, S * (a.size + 8)) as t:
        n, c = em.unravel(t, [N, C])
        base = em.mul(t, S)
        c0 = em.smax(em.sub(c, lo), 0)
        c1 = em.smin(em.add(c, hi + 1), C)
        with em.loop(0, S, name="s") as s:  # y = 0
            em.store(em.fconst(0.0), y, em.add(base, s), F32)
        with em.loop(c0, c1, name="cc") as cc:
            src = em.add(em.mul(n, C * S), em.mul(cc, S))
            with em.loop(0, S, name="s") as s:
                v = em.load(x, em.add(src, s), F32)
                p = em.add(base, s)
                em.store(b.fadd(em.load(y, p, F32), b.fmul(v, v), flags=FAST), y, p, F32)
        with em.loop(0, S, name="s") as s:
            p = em.add(base, s)
            d = b.fadd(em.fconst(a.bias), b.fmul(em.fconst(a.alpha / a.size), em.load(y, p, F32)))
            # d ** beta; with a normal positive bias d >= bias, so the vectorizable log applies
            log = em.log_normal if a.bias >= np.finfo(np.float32).tiny else em.log
            den = em.exp(b.fmul(em.fconst(a.beta), log(d)))
            em.store(b.fdiv(em.load(x, p, F32), den), y, p, F32)


@register("Softmax", "LogSoftmax")
def _softmax(k, node):
    em = k.em
    shape = k.in_shape(0)
    axis = node.attrs.axis % len(shape)
    O, D, I = math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])
    x, y = k.inp(0), k.out()
    b = em.b
    log = node.op == "LogSoftmax"
    with k.parallel_loop(O * I, D * 12) as t:
        o, i = em.unravel(t, [O, I])
        base = em.add(em.mul(o, D * I), i)
        mx = em.local(F32)
        b.store(em.fconst(-np.inf), mx)
        with em.loop(0, D, name="d") as d:
            b.store(em.fmax(b.load(mx, typ=F32), em.load(x, em.add(base, em.mul(d, I)), F32)), mx)
        m = b.load(mx, typ=F32)
        if log:
            s = _sum(em, x, base, D, I, lambda v: em.exp(b.fsub(v, m)))
            shift = b.fadd(m, em.log(s))
            with em.loop(0, D, name="d") as d:
                p = em.add(base, em.mul(d, I))
                em.store(b.fsub(em.load(x, p, F32), shift), y, p, F32)
            continue_ = None  # noqa: F841
        else:
            acc = em.local(F32)
            b.store(em.fconst(0.0), acc)
            with em.loop(0, D, name="d") as d:
                p = em.add(base, em.mul(d, I))
                e = em.exp(b.fsub(em.load(x, p, F32), m))
                em.store(e, y, p, F32)
                b.store(b.fadd(b.load(acc, typ=F32), e, flags=REASSOC), acc)
            inv = b.fdiv(em.fconst(1.0), b.load(acc, typ=F32))
            with em.loop(0, D, name="d") as d:
                p = em.add(base, em.mul(d, I))
                em.store(b.fmul(em.load(y, p, F32), inv), y, p, F32)


# -- reductions ----------------------------------------------------------------------------------
def reduce(k, in_shape, axes, kind: str, x=None, y=None, et=None):
    """out[kept index] = reduction over ``axes`` of the input. kind: sum, mean, max, min,
    prod, l1, l2, sumsquare, logsum, logsumexp. ``x``/``y``/``et`` default to the node's
    input 0, output 0 and input dtype."""
    em = k.em
    b = em.b
    et = et or k.in_type(0)
    fl = is_float(et)
    axes = sorted(a % len(in_shape) for a in axes)
    ist = contiguous_strides(in_shape)
    kept = [d for d in range(len(in_shape)) if d not in axes]
    kshape = [in_shape[d] for d in kept]
    rshape = [in_shape[d] for d in axes]
    R = math.prod(rshape)
    x = x if x is not None else k.inp(0)
    y = y if y is not None else k.out()

    def add(a, v):
        return b.fadd(a, v, flags=REASSOC) if fl else b.add(a, v)

    def mul(a, v):
        return b.fmul(a, v, flags=REASSOC) if fl else b.mul(a, v)

    cmp = b.icmp_unsigned if et == ir.IntType(8) else b.icmp_signed  # bool compares unsigned

    def vmax(a, v):
        return em.fmax(a, v) if fl else b.select(cmp(">", v, a), v, a)

    def vmin(a, v):
        return em.fmin(a, v) if fl else b.select(cmp("<", v, a), v, a)

    def absval(v):
        return em.intrinsic("fabs", [v]) if fl else b.select(b.icmp_signed("<", v, em.const(et, 0)), b.neg(v), v)

    # a float mean sums terms scaled by a power of two (exact) so that values near float32's
    # largest average to a finite number, as in the reference; the end multiplies it back
    scale = sum_scale(R) if fl and kind == "mean" else 1.0

    def scaled_add(a, v):
        return add(a, b.fmul(v, em.fconst(scale), flags=FAST))

    big = (np.inf if fl else 1 if et.width == 8 else 2 ** (et.width - 1) - 1)  # i8 is bool
    small = (-np.inf if fl else 0 if et.width == 8 else -(2 ** (et.width - 1)))
    # kind -> (initial value, combine(acc, x))
    folds = {
        "sum": (0, add), "mean": (0, scaled_add if scale != 1.0 else add), "logsum": (0, add),
        "max": (small, vmax), "min": (big, vmin),
        "prod": (1, mul),
        "l1": (0, lambda a, v: add(a, absval(v))),
        "l2": (0, lambda a, v: add(a, mul(v, v))),
        "sumsquare": (0, lambda a, v: add(a, mul(v, v))),
    }

    def fold(base, init, combine):
        acc = em.local(et)
        b.store(em.const(et, init), acc)

        def nest(level, off):
            if level == len(axes):
                b.store(combine(b.load(acc, typ=et), em.load(x, off, et)), acc)
                return
            with em.loop(0, rshape[level], name="r") as r:
                nest(level + 1, em.add(off, em.mul(r, ist[axes[level]])))
        nest(0, base)
        return b.load(acc, typ=et)

    with k.parallel_loop(math.prod(kshape), R * (2 if kind == "logsumexp" else 1)) as t:
        kidx = em.unravel(t, kshape)
        base = em.lin(zip(kidx, [ist[d] for d in kept]))
        if kind == "logsumexp":
            m = fold(base, -np.inf, vmax)
            m = b.select(b.fcmp_ordered("==", em.intrinsic("fabs", [m]), em.fconst(np.inf)), em.fconst(0.0), m)
            s = fold(base, 0, lambda a, v: add(a, em.exp(b.fsub(v, m))))
            res = b.fadd(em.log(s), m)
        else:
            init, combine = folds[kind]
            res = fold(base, init, combine)
            if kind == "mean":
                res = b.fmul(res, em.fconst(1.0 / (max(R, 1) * scale))) if fl else b.sdiv(res, em.const(et, max(R, 1)))
            elif kind == "l2":
                res = em.intrinsic("sqrt", [res]) if fl else em.cast(
                    em.intrinsic("sqrt", [em.cast(res, ir.DoubleType())], ir.DoubleType()), et)
            elif kind == "logsum":
                res = em.log(res)
        em.store(res, y, t, et)


_REDUCE_KIND = {"ReduceMean": "mean", "ReduceSum": "sum", "ReduceMax": "max", "ReduceMin": "min",
                "ReduceProd": "prod", "ReduceL1": "l1", "ReduceL2": "l2", "ReduceSumSquare": "sumsquare",
                "ReduceLogSum": "logsum", "ReduceLogSumExp": "logsumexp"}


@register(*_REDUCE_KIND)
def _reduce(k, node):
    reduce(k, k.in_shape(0), node.attrs.axes, _REDUCE_KIND[node.op])


@register("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(k, node):
    shape = k.in_shape(0)
    reduce(k, shape, range(2, len(shape)), "mean" if node.op == "GlobalAveragePool" else "max")


@register("ArgMax", "ArgMin")
def _arg(k, node):
    """Index of the first (or, with select_last_index, last) extreme along one axis."""
    em = k.em
    b = em.b
    shape = k.in_shape(0)
    axis = node.attrs.axis % len(shape)
    O, D, I = math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1:])
    et = k.in_type(0)
    fl = is_float(et)
    pred = (">" if node.op == "ArgMax" else "<") + ("=" if node.attrs.select_last_index else "")
    x, y = k.inp(0), k.out()
    with k.parallel_loop(O * I, D) as t:
        o, i = em.unravel(t, [O, I])
        base = em.add(em.mul(o, D * I), i)
        best, pos = em.local(et), em.local(ir.IntType(64))
        b.store(em.load(x, base, et), best)
        b.store(em.i64(0), pos)
        with em.loop(1, D, name="d") as d:
            v = em.load(x, em.add(base, em.mul(d, I)), et)
            cur = b.load(best, typ=et)
            better = b.fcmp_ordered(pred, v, cur) if fl else b.icmp_signed(pred, v, cur)
            b.store(b.select(better, v, cur), best)
            b.store(b.select(better, em.i64(d), b.load(pos, typ=ir.IntType(64))), pos)
        em.store(b.load(pos, typ=ir.IntType(64)), y, t, ir.IntType(64))


@register("LayerNormalization")
def _layer_norm(k, node):
    """y = (x - mean) / sqrt(var + eps) * scale + bias over the axes from ``axis`` on; the
    optional outputs get the mean and 1/stddev."""
    em = k.em
    b = em.b
    shape = k.in_shape(0)
    axis = node.attrs.axis % len(shape)
    O, D = math.prod(shape[:axis]), math.prod(shape[axis:])
    norm_shape = shape[axis:]
    x, y = k.inp(0), k.out(0)
    params = []
    for i in range(1, len(node.inputs)):
        st = broadcast_strides(k.in_shape(i), norm_shape)
        params.append((k.inp(i), st, list(k.in_shape(i)) == list(norm_shape)))
    eps = node.attrs.epsilon
    with k.parallel_loop(O, 4 * D) as t:
        base = em.mul(t, D)
        mean = b.fmul(_sum(em, x, base, D, 1), em.fconst(1.0 / D))
        var = b.fmul(_sum(em, x, base, D, 1, lambda v: (lambda d: b.fmul(d, d))(b.fsub(v, mean))),
                     em.fconst(1.0 / D))
        inv = b.fdiv(em.fconst(1.0), em.intrinsic("sqrt", [b.fadd(var, em.fconst(eps))]))
        with em.loop(0, D, name="d") as d:
            v = b.fmul(b.fsub(em.load(x, em.add(base, d), F32), mean), inv)
            idx = None
            for j, (p, st, full) in enumerate(params):
                if full:
                    off = d
                else:
                    if idx is None:
                        idx = em.unravel(d, norm_shape)
                    off = em.lin(zip(idx, st))
                pv = em.load(p, off, F32)
                v = b.fmul(v, pv) if j == 0 else b.fadd(v, pv)
            em.store(v, y, em.add(base, d), F32)
        if len(node.outputs) > 1:
            em.store(mean, k.out(1), t, F32)
        if len(node.outputs) > 2:
            em.store(inv, k.out(2), t, F32)

