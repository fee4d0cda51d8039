"""Depthwise convs (one input and one output channel per group): the padded-plane kernel for
stride 1 and small planes, else window.py's row-vectorized windows (any stride <= 4)."""

from __future__ import annotations

from llvmlite import ir

from ..emit import F32, FAST
from .conv_geom import Window
from .conv_kernel import ConvJob, ConvKernel
from .vectors import splat
from .window import WindowOps, max_stride, window_rows

# output rows per pass of the plane kernel over the columns
DW_ROW_BLOCK = 4


def _depthwise(geom, schedule) -> bool:
    # only the channel-vector and row kernels read and write blocked storage
    return (not geom.blocked and geom.rank == 4 and geom.Cg == 1 and geom.Mg == 1
            and schedule.algorithm != "rows")


def _plane_pitch(win: Window) -> int:
    """Row pitch of the padded plane: whole 16-float vectors, so that the row-blocked loop over
    columns has no scalar remainder (PP-OCR rec's 80-wide 5x5 layers: 72 -> 91 GFLOP/s)."""
    return -(-max(win.W + win.pw, win.OW + (win.KW - 1) * win.dw) // 16) * 16


def _padded_plane_size(win: Window) -> int:
    Hp = max(win.H + win.ph, win.OH + (win.KH - 1) * win.dh)
    return Hp * _plane_pitch(win) + (win.KW - 1) * win.dw + 1


class DepthwisePlanes(ConvKernel):
    name = "depthwise planes"

    def applies(self, geom, schedule, target) -> bool:
        return (_depthwise(geom, schedule) and geom.sh == geom.sw == 1
                and _padded_plane_size(geom.win) <= schedule.plane_max)

    def emit(self, k, job: ConvJob) -> bool:
        k.algorithm = "depthwise planes"
        _depthwise_planes(k, job)
        return False


class DepthwiseRows(ConvKernel):
    name = "depthwise rows"

    def applies(self, geom, schedule, target) -> bool:
        return _depthwise(geom, schedule) and max_stride(geom.sw) and schedule.window_rows

    def emit(self, k, job: ConvJob) -> bool:
        k.algorithm = "depthwise rows"
        _depthwise_rows(k, job)
        return False


def _depthwise_planes(k, job: ConvJob) -> None:
    """Depthwise, stride 1: one work item is one channel plane. The plane is copied into a
    zero-padded stack buffer of row pitch Wp; then every output pixel of the padded-width
    grid is one long unit-stride loop (KH*KW FMAs per element, vectorized by LLVM), and the
    valid OW columns of each row are copied out. Short rows stop mattering."""
    em = k.em
    b = em.b
    geo, y, bias = job.geom, job.y, job.epilogue.bias
    win = geo.win
    N, G, H, W, OH, OW = geo.N, geo.G, win.H, win.W, win.OH, win.OW
    KH, KW, dh, dw, ph, pw = win.KH, win.KW, win.dh, win.dw, win.ph, win.pw
    Wp = _plane_pitch(win)
    size = _padded_plane_size(win)
    pad = em.local(F32, count=size, name="plane")
    acc = em.local(F32, count=OH * Wp, name="grid")
    x, wt = k.inp(0), k.inp(1)
    with k.parallel_loop(N * G, size + OH * Wp * KH * KW) as t:
        g = em.rem(t, G)
        with em.loop(0, size, name="z") as i:
            em.store(em.fconst(0.0), pad, i, F32)
        src = em.mul(t, H * W)
        with em.loop(0, H, name="h") as h:
            dst = em.add(em.mul(em.add(h, ph), Wp), pw)
            row = em.add(src, em.mul(h, W))
            with em.loop(0, W, name="w") as w:
                em.store(em.load(x, em.add(row, w), F32), pad, em.add(dst, w), F32)
        taps = [(em.load(wt, em.add(em.mul(g, KH * KW), kh * KW + kw), F32), kh * dh * Wp + kw * dw)
                for kh in range(KH) for kw in range(KW)]
        init = em.load(bias, g, F32) if bias is not None else em.fconst(0.0)
        # RB output rows per pass over the columns: the KH rows of taps of neighbouring output
        # rows overlap, and the loads of equal addresses merge (5x5: 10 loads per output
        # instead of 25)
        RB = next((r for r in (DW_ROW_BLOCK, 3, 2) if OH % r == 0), min(DW_ROW_BLOCK, OH))
        with em.loop(0, OH // RB, name="rb") as rb:
            base = em.mul(rb, RB * Wp)
            with em.loop(0, Wp, name="c") as c:
                q = em.add(base, c)
                for r in range(RB):
                    v = init
                    for wv, off in taps:
                        v = b.fadd(v, b.fmul(wv, em.load(pad, em.add(q, off + r * Wp), F32), flags=FAST), flags=FAST)
                    em.store(v, acc, em.add(q, r * Wp), F32)
        with em.loop((OH // RB) * RB * Wp, OH * Wp, name="q") as q:
            v = init
            for wv, off in taps:
                v = b.fadd(v, b.fmul(wv, em.load(pad, em.add(q, off), F32), flags=FAST), flags=FAST)
            em.store(v, acc, q, F32)
        with em.loop(0, OH, name="oh") as oh:
            out = em.add(em.mul(t, OH * OW), em.mul(oh, OW))
            with em.loop(0, OW, name="ow") as ow:
                em.store(em.load(acc, em.add(em.mul(oh, Wp), ow), F32), y, em.add(out, ow), F32)
            job.epilogue.after_rows(out, 0, g, 1, OW)


def _depthwise_rows(k, job: ConvJob) -> None:
    """Depthwise, any stride: window.window_rows with one FMA per tap."""
    em = k.em
    b = em.b
    geo, y, bias = job.geom, job.y, job.epilogue.bias
    G, OH, OW, KH, KW = geo.G, geo.OH, geo.OW, geo.KH, geo.KW
    x, wt = k.inp(0), k.inp(1)

    def init(p, w):
        if bias is None:
            return ir.Constant(ir.VectorType(F32, w), [0.0] * w)
        return splat(b, em.load(bias, em.rem(p, G), F32), w)

    def tap(acc, xv, p, kh, kw):
        wv = em.load(wt, em.add(em.mul(em.rem(p, G), KH * KW), em.add(em.mul(kh, KW), kw)), F32)
        return b.fadd(acc, b.fmul(xv, splat(b, wv, acc.type.count), flags=FAST), flags=FAST)

    def store(acc, p, oh, ow0, w):
        row = em.mul(em.add(em.mul(p, OH), oh), OW)
        b.store(acc, em.gep(y, em.add(row, ow0), F32), align=4)

    def after_row(p, oh):
        if job.epilogue.rows is not None:
            job.epilogue.after_rows(em.mul(em.add(em.mul(p, OH), oh), OW), 0, em.rem(p, G), 1, OW)

    window_rows(k, geo.N * G, geo.win, x, WindowOps(init, tap, store, after_row), KH * KW * OW)
