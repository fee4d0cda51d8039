"""MaxPool and AveragePool (1-D, 2-D and 3-D; strides, dilations, asymmetric pads,
ceil_mode, count_include_pad), NCHW. One work item is one output row; for each kernel column
the valid output range is known at compile time, so the inner loop has no bounds checks.
Average pooling multiplies by a per-position reciprocal divisor computed at compile time.
MaxPool also works on integer tensors.

Average pooling sums taps already scaled by 2**-e, 2**e >= the window size, and the divisor
table holds 2**e / count: a window of values near float32's largest (3e38) sums to a finite
number (as the reference's float64 sum does) instead of +inf. Scaling by a power of two is
exact, so the results are the same as before except for inputs below ~1e-37 (subnormal after
scaling), whose absolute error stays below window size x 2**-149."""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace as NS
from typing import Any

import numpy as np
from llvmlite import ir

from ..emit import F32, FAST, is_float
from ..lowering import register
from .conv_geom import Window, ceil_div, floor_div
from .vectors import every_nth, vector_intrinsic
from .window import WindowOps, max_stride, window_rows


def _geometry(x_shape, y_shape, a):
    """Per spatial axis, padded to 3 (depth, height, width): sizes, out sizes, kernel,
    strides, dilations, pad begins, pad ends."""
    sp = len(x_shape) - 2
    if not 1 <= sp <= 3:
        raise NotImplementedError(f"{sp}-D pooling (only 1-D, 2-D and 3-D)")
    lead = 3 - sp

    def pad3(vals, fill):
        return [fill] * lead + list(vals)

    return (pad3(x_shape[2:], 1), pad3(y_shape[2:], 1), pad3(a.kernel_shape, 1), pad3(a.strides, 1),
            pad3(a.dilations, 1), pad3(a.pads[:sp], 0), pad3(a.pads[sp:], 0))


def sum_scale(n: int) -> float:
    """2**-e for the smallest 2**e >= n: n terms scaled by it sum to at most the largest
    of them, so no finite sum overflows."""
    return 2.0 ** -math.ceil(math.log2(max(n, 1)))


def _counts(axis, include_pad):
    """Taps inside the input (or its padding, with ``include_pad``) of each output position
    along ``axis`` (size, out size, kernel, stride, dilation, pad begin, pad end)."""
    size, out, k, s, d, pb, pe = axis
    lo, hi = (-pb, size + pe) if include_pad else (0, size)
    return np.array([sum(1 for t in range(k) if lo <= o * s + t * d - pb < hi) for o in range(out)], np.float64)


@dataclass(frozen=True)
class Pooling:
    """A max or average pool: ``attrs`` has kernel_shape, strides, pads, dilations,
    ceil_mode and count_include_pad; ``key`` names its divisor table."""
    is_max: bool
    attrs: Any
    key: str
    et: ir.Type = F32

    @staticmethod
    def of_step(step: tuple, sp: int, key: str) -> "Pooling":
        """A FusedConv's trailing max_pool/avg_pool step (cnncc/ops/fused.py)."""
        attrs = NS(kernel_shape=step[1], strides=step[2], pads=step[3], dilations=(1,) * sp, ceil_mode=step[4],
                   count_include_pad=step[5] if step[0] == "avg_pool" else 0)
        return Pooling(step[0] == "max_pool", attrs, key)


@register("MaxPool", "AveragePool")
def lower_pool(k, node):
    emit_pool(k, Pooling(node.op == "MaxPool", node.attrs, node.name, k.in_type(0)),
              (k.inp(0), k.in_shape(0)), (k.out(), k.out_shape()))


def emit_pool(k, pooling: Pooling, src: tuple, dst: tuple) -> None:
    """``pooling`` of ``src`` (pointer, shape) into ``dst`` (pointer, shape)."""
    em = k.em
    b = em.b
    is_max, a, key, et = pooling.is_max, pooling.attrs, pooling.key, pooling.et
    (x, x_shape), (y, y_shape) = src, dst
    (D, H, W), (OD, OH, OW), (KD, KH, KW), (sd, sh, sw), (dd, dh, dw), (pd, ph, pw), (pd1, ph1, pw1) = \
        _geometry(x_shape, y_shape, a)
    NC = x_shape[0] * x_shape[1]
    fl = is_float(et)
    if not is_max:
        if not fl:
            raise NotImplementedError("AveragePool of integers")
        inc = bool(a.count_include_pad)
        cnt = [_counts(g, inc) for g in ((D, OD, KD, sd, dd, pd, pd1), (H, OH, KH, sh, dh, ph, ph1),
                                          (W, OW, KW, sw, dw, pw, pw1))]
        div = np.einsum("i,j,k->ijk", *cnt)
        scale = sum_scale(KD * KH * KW)
        recip = k.table(("pool.div", key), (1.0 / (div * scale)).astype(np.float32).reshape(-1))
        tap_scale = em.fconst(scale)
    if fl:
        init = em.fconst(-np.inf if is_max else 0.0)
    else:
        init = ir.Constant(et, -(2 ** (et.width - 1)))

    def combine(cur, v):
        if not is_max:
            return b.fadd(cur, b.fmul(v, tap_scale, flags=FAST), flags=FAST)
        return em.fmax(cur, v) if fl else b.select(b.icmp_signed(">", v, cur), v, cur)

    if is_max and et == F32 and D == OD == KD == 1 and max_stride(sw) and KH > 1 and \
            max(pw + W, (OW - 1) * sw + (KW - 1) * dw + 1) <= SEPARABLE_MAX_ROW:
        _max_pool_separable(k, (x, y, NC), Window(H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw))
        return
    if fl and et == F32 and D == OD == KD == 1 and max_stride(sw):
        _pool_rows(k, is_max, (x, y, NC), Window(H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw),
                   None if is_max else (recip, scale))
        return
    with k.parallel_loop(NC * OD * OH, KD * KH * KW * OW) as t:
        nc, od, oh = em.unravel(t, [NC, OD, OH])
        row = em.mul(t, OW)
        with em.loop(0, OW, name="ow") as ow:
            em.store(init, y, em.add(row, ow), et)
        with em.loop(0, KD, name="kd") as kd:
            idd = em.sub(em.add(em.mul(od, sd), em.mul(kd, dd)), pd)
            with em.if_(em.in_range(idd, 0, D)):
                with em.loop(0, KH, name="kh") as kh:
                    ih = em.sub(em.add(em.mul(oh, sh), em.mul(kh, dh)), ph)
                    with em.if_(em.in_range(ih, 0, H)):
                        xrow = em.lin([(nc, D * H * W), (idd, H * W), (ih, W)])
                        for kw in range(KW):
                            lo = max(0, ceil_div(pw - kw * dw, sw))
                            hi = min(OW, floor_div(W - 1 + pw - kw * dw, sw) + 1)
                            xoff = em.add(xrow, kw * dw - pw)
                            with em.loop(lo, hi, name="ow") as ow:
                                p = em.add(row, ow)
                                xv = em.load(x, em.add(xoff, em.mul(ow, sw)), et)
                                em.store(combine(em.load(y, p, et), xv), y, p, et)
        if not is_max:
            with em.loop(0, OW, name="ow") as ow:
                p = em.add(row, ow)
                d = em.load(recip, em.add(em.mul(em.add(em.mul(od, OH), oh), OW), ow), F32)
                em.store(b.fmul(em.load(y, p, F32), d), y, p, F32)


def _pool_rows(k, is_max, planes, win, average):
    """2-D float pooling through window.window_rows (vectors along the output row) of
    ``planes`` (x, y, count); ``average``: (divisor table, tap scale) of an average pool."""
    em = k.em
    x, y, NC = planes
    OH, OW = win.OH, win.OW
    b = em.b
    fill = -np.inf if is_max else 0.0
    recip, scale = average if average is not None else (None, 1.0)

    def init(p, w):
        return ir.Constant(ir.VectorType(F32, w), [fill] * w)

    def tap(acc, xv, p, kh, kw):
        if is_max:
            return b.call(vector_intrinsic(em, "maximum", acc.type), [acc, xv])
        return b.fadd(acc, b.fmul(xv, ir.Constant(xv.type, [scale] * xv.type.count), flags=FAST), flags=FAST)

    def store(acc, p, oh, ow0, w):
        if recip is not None:
            d = b.load(em.gep(recip, em.add(em.mul(oh, OW), ow0), F32), typ=acc.type, align=4)
            acc = b.fmul(acc, d)
        b.store(acc, em.gep(y, em.add(em.mul(em.add(em.mul(p, OH), oh), OW), ow0), F32), align=4)

    window_rows(k, NC, win, x, WindowOps(init, tap, store), win.KH * win.KW * OW)


# The separable max pool keeps a padded input row on each thread's stack: beyond this many
# floats (64 KiB) rows go through window_rows, which needs no buffer.
SEPARABLE_MAX_ROW = 16384
UNROLL_CHUNKS = 48  # rows up to 768 floats (AVX-512) stay unrolled: a loop cost 5-7% on 320-wide maps


def _sweep(em, n, V, body):
    """body(c0, w) for the chunks of at most V columns covering 0..n: unrolled when there
    are a few, else a loop over the full chunks, so long rows do not grow the code (a
    65536-wide map took LLVM 11 minutes unrolled)."""
    full = n // V
    if full <= UNROLL_CHUNKS:
        for c0 in range(0, n, V):
            body(c0, min(V, n - c0))
        return
    with em.loop(0, full, name="chunk") as i:
        body(em.mul(i, V), V)
    if n > full * V:
        body(full * V, n - full * V)


def _fill(em, buf, lo, hi, value):
    if hi - lo <= UNROLL_CHUNKS:
        for c in range(lo, hi):
            em.store(value, buf, c, F32)
        return
    with em.loop(lo, hi, name="pad") as c:
        em.store(value, buf, c, F32)


def _max_pool_separable(k, planes, win):
    """2-D float max pooling as a column max then a row max: per output row, the KH input
    rows are reduced into a row buffer with unit-stride vectors, -inf on both sides as far
    as any window reaches; then each output vector takes KW (strided) loads of that buffer.
    A 3x3/2 window needs 3 strided loads per output vector instead of 9 (SqueezeNet's
    64x111x111 pool: 0.18 ms before), and no tap is ever in the padding."""
    em = k.em
    b = em.b
    x, y, NC = planes
    H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw = (getattr(win, f) for f in Window.__dataclass_fields__)
    V = k.target.vector_lanes
    Wb = max(pw + W, (OW - 1) * sw + (KW - 1) * dw + 1)    # buffer columns: padded input row
    buf = em.local(F32, count=Wb + V, name="colmax")

    def at(idx, vt):  # a vector pointer into the (typed) row buffer
        return b.bitcast(em.gep(buf, idx, F32), vt.as_pointer())
    neg = em.fconst(-np.inf)

    def vmax(a, c):
        # NaN from either side propagates (numpy's max): c's through the ordered compare
        # choosing c, a's through the explicit check. Three instructions (a compare-select
        # that is one vmaxps, an unordered compare, a blend), where llvm.maximum's lowering
        # also orders -0 below +0 and measured slower. The sign of a zero max may differ.
        pick = b.select(b.fcmp_ordered(">", a, c), a, c)
        return b.select(b.fcmp_unordered("uno", a, a), a, pick)

    with k.parallel_loop(NC * OH, KH * W + KW * OW) as t:
        p, oh = em.unravel(t, [NC, OH])
        _fill(em, buf, 0, pw, neg)
        _fill(em, buf, pw + W, Wb, neg)

        # column max over the rows inside the input; a row whose window is all padding
        # stays -inf (only ceil_mode or huge pads make one)
        def column(c0, w):
            vt = ir.VectorType(F32, w)
            acc = em.local(vt, name="col")
            b.store(ir.Constant(vt, [-np.inf] * w), acc)
            with em.loop(0, KH, name="kh") as kh:
                ih = em.sub(em.add(em.mul(oh, sh), em.mul(kh, dh)), ph)
                with em.if_(em.in_range(ih, 0, H)):
                    src = em.add(em.mul(em.add(em.mul(p, H), ih), W), c0)
                    xv = b.load(em.gep(x, src, F32), typ=vt, align=4)
                    b.store(vmax(b.load(acc, typ=vt), xv), acc)
            b.store(b.load(acc, typ=vt), at(em.add(c0, pw), vt), align=4)

        row = em.mul(t, OW)

        def output(o0, w):
            vt = ir.VectorType(F32, w)
            n = (w - 1) * sw + 1
            out = None
            for kw in range(KW):
                xv = b.load(at(em.add(em.mul(o0, sw), kw * dw), ir.VectorType(F32, n)), typ=ir.VectorType(F32, n), align=4)
                xv = every_nth(b, xv, w, sw)
                out = xv if out is None else vmax(out, xv)
            b.store(out, em.gep(y, em.add(row, o0), F32), align=4)

        _sweep(em, W, V, column)
        _sweep(em, OW, V, output)
