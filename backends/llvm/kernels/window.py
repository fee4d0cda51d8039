"""Sliding windows over one channel plane, vectorized along the output row: max/average
pooling and depthwise convolution with any stride.

One work item is one output row of one plane. The pixels whose every tap is inside the
input row are cut into tiles of V (register accumulators); the few edge pixels are tiles of
one whose padding taps are dropped at compile time (padding is the reduction's neutral
value). A tap of stride s loads (w-1)*s+1 contiguous floats and keeps every s-th (one
shuffle), so strided windows need no gathers and short rows no scalar remainder loops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from llvmlite import ir

from ..emit import F32
from .conv_geom import Window
from .tile_sweep import Sweep, sweep_row
from .vectors import load_strided

# edges of more pixels than this (wide pads) are a loop of tiles that check each tap
EDGE_UNROLL = 8


def max_stride(sw: int) -> bool:
    return 1 <= sw <= 4


@dataclass(frozen=True)
class WindowOps:
    """The reduction of a window kernel: acc = init(p, w); acc = tap(acc, xv, p, kh, kw) per
    tap inside the input, xv the tile's input vector; store(acc, p, oh, ow0, w); then
    after_row(p, oh) once a row is stored."""
    init: Callable
    tap: Callable
    store: Callable
    after_row: Callable | None = None


def window_rows(k, planes: int, win: Window, x, ops: WindowOps, work_per_row: int) -> None:
    """For plane p < ``planes`` of ``x``, output row oh, tile of w pixels at ow0: the
    reduction ``ops`` over the window ``win``. Taps in the padding are skipped (the
    reduction's neutral value), so edge pixels are tiles of one."""
    em = k.em
    sweep = Sweep(k.target.vector_lanes, edge_loop=EDGE_UNROLL)
    with k.parallel_loop(planes * win.OH, work_per_row) as t:
        p, oh = em.unravel(t, [planes, win.OH])
        sweep_row(em, win, sweep, lambda ow0, w, edge: _tile(k, (p, oh, ow0, w, edge), win, x, ops))
        if ops.after_row is not None:
            ops.after_row(p, oh)


def _tile(k, at, win: Window, x, ops: WindowOps) -> None:
    """One tile; ``at``: (plane, output row, first pixel, pixels, checked)."""
    p, oh, ow0, w, edge = at
    em = k.em
    b = em.b
    H, W, KW, sw, dw, pw = win.H, win.W, win.KW, win.sw, win.dw, win.pw
    vt = ir.VectorType(F32, w)
    a = em.local(vt, name="acc")
    b.store(ops.init(p, w), a)
    with em.loop(0, win.KH, name="kh") as kh:
        ih = em.sub(em.add(em.mul(oh, win.sh), em.mul(kh, win.dh)), win.ph)
        with em.if_(em.in_range(ih, 0, H)):
            src = em.add(em.mul(p, H * W), em.mul(ih, W))

            def load(col):
                return load_strided(em, x, em.add(src, col), w, sw)

            if edge and not isinstance(ow0, int):  # an edge pixel in a loop: check each tap
                for kw in range(KW):
                    col = em.add(em.mul(ow0, sw), kw * dw - pw)
                    with em.if_(em.in_range(col, 0, W)):
                        b.store(ops.tap(b.load(a, typ=vt), load(col), p, kh, kw), a)
            else:
                acc = b.load(a, typ=vt)
                for kw in range(KW):
                    col = em.add(em.mul(ow0, sw), kw * dw - pw)
                    if edge and not 0 <= col < W:
                        continue  # in the padding
                    acc = ops.tap(acc, load(col), p, kh, kw)
                b.store(acc, a)
    ops.store(b.load(a, typ=vt), p, oh, ow0, w)
