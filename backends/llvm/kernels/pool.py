"""MaxPool and AveragePool (1-D and 2-D, strides, dilations, asymmetric pads, ceil_mode,
count_include_pad), NCHW. One work item is one output row; for each kernel column the valid
output range is known at compile time, so the inner loop has no bounds checks. Average
pooling multiplies by a per-position reciprocal divisor computed at compile time."""

from __future__ import annotations

import numpy as np

from ..emit import F32, FAST
from ..lowering import register
from .conv import _ceil_div, _floor_div


def _geometry(x_shape, o_shape, a):
    if len(x_shape) == 3:
        N, C, W = x_shape
        return (N, C, 1, W, 1, o_shape[2], 1, a.kernel_shape[0], 1, a.strides[0], 1, a.dilations[0],
                0, a.pads[0], 0, a.pads[1])
    if len(x_shape) == 4:
        N, C, H, W = x_shape
        (KH, KW), (sh, sw), (dh, dw) = a.kernel_shape, a.strides, a.dilations
        ph, pw, ph1, pw1 = a.pads
        return N, C, H, W, o_shape[2], o_shape[3], KH, KW, sh, sw, dh, dw, ph, pw, ph1, pw1
    raise NotImplementedError(f"{len(x_shape) - 2}-D pooling (only 1-D and 2-D)")


def _counts(size, out, k, s, d, pb, pe, include_pad):
    lo, hi = (-pb, size + pe) if include_pad else (0, size)
    return np.array([sum(1 for t in range(k) if lo <= o * s + t * d - pb < hi) for o in range(out)], np.float64)


@register("MaxPool", "AveragePool")
def lower_pool(k, node):
    emit_pool(k, node.op == "MaxPool", node.attrs, k.inp(0), k.in_shape(0), k.out(), k.out_shape(), node.name)


def emit_pool(k, is_max, a, x, x_shape, y, y_shape, key):
    em = k.em
    b = em.b
    N, C, H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw, ph1, pw1 = _geometry(x_shape, y_shape, a)
    if not is_max:
        inc = bool(a.count_include_pad)
        ch = _counts(H, OH, KH, sh, dh, ph, ph1, inc)
        cw = _counts(W, OW, KW, sw, dw, pw, pw1, inc)
        recip = k.table(("pool.div", key), (1.0 / np.outer(ch, cw)).astype(np.float32).reshape(-1))
    init = em.fconst(-np.inf if is_max else 0.0)
    with k.parallel_loop(N * C * OH, KH * KW * OW) as t:
        nc, oh = em.unravel(t, [N * C, OH])
        row = em.mul(t, OW)
        with em.loop(0, OW, name="ow") as ow:
            em.store(init, y, em.add(row, ow), F32)
        with em.loop(0, KH, name="kh") as kh:
            ih = em.sub(em.add(em.mul(oh, sh), em.mul(kh, dh)), ph)
            with em.if_(em.in_range(ih, 0, H)):
                xrow = em.add(em.mul(nc, H * W), em.mul(ih, W))
                for kw in range(KW):
                    lo = max(0, _ceil_div(pw - kw * dw, sw))
                    hi = min(OW, _floor_div(W - 1 + pw - kw * dw, sw) + 1)
                    xoff = em.add(xrow, kw * dw - pw)
                    with em.loop(lo, hi, name="ow") as ow:
                        p = em.add(row, ow)
                        xv = em.load(x, em.add(xoff, em.mul(ow, sw)), F32)
                        cur = em.load(y, p, F32)
                        em.store(em.fmax(cur, xv) if is_max else b.fadd(cur, xv, flags=FAST), y, p, F32)
        if not is_max:
            with em.loop(0, OW, name="ow") as ow:
                p = em.add(row, ow)
                d = em.load(recip, em.add(em.mul(oh, OW), ow), F32)
                em.store(b.fmul(em.load(y, p, F32), d), y, p, F32)
