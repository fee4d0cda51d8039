"""Sliding windows over one channel plane, vectorized along the output row: max/average
pooling and depthwise convolution with any stride.

One work item is one output row of one plane. The pixels whose every tap is inside the
input row are cut into tiles of V (register accumulators); the few edge pixels are tiles of
one whose padding taps are dropped at compile time (padding is the reduction's neutral
value). A tap of stride s loads (w-1)*s+1 contiguous floats and keeps every s-th (one
shuffle), so strided windows need no gathers and short rows no scalar remainder loops.
"""

from __future__ import annotations

from llvmlite import ir

from ..emit import F32, FAST


def vector_intrinsic(em, name: str, vt: ir.VectorType, nargs: int = 2) -> ir.Function:
    full = f"llvm.{name}.v{vt.count}f32"
    fn = em.module.globals.get(full)
    if fn is None:
        fn = ir.Function(em.module, ir.FunctionType(vt, [vt] * nargs), full)
    return fn


def max_stride(sw: int) -> bool:
    return 1 <= sw <= 4


def window_rows(k, planes, H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw, x, init, tap, store, work_per_row,
                after_row=None):
    """for plane p, output row oh, tile of w pixels at ow0: acc = init(p, w); for each kh
    with the input row inside and each kw: acc = tap(acc, xv, p, kh, kw), xv the tile's
    input vector; then store(acc, p, oh, ow0, w). Taps in the padding are skipped (the
    reduction's neutral value), so edge pixels are tiles of one; ``after_row(p, oh)`` runs
    once the row is stored."""
    em = k.em
    V = k.target.vector_lanes
    lo = min(OW, _ceil_div(pw, sw))                                    # first pixel with every tap inside
    hi = max(lo, min(OW, (W - 1 - (KW - 1) * dw + pw) // sw + 1))      # one past the last
    n_full = (hi - lo) // V
    with k.parallel_loop(planes * OH, work_per_row) as t:
        p, oh = em.unravel(t, [planes, OH])
        _edge(k, p, oh, 0, lo, H, W, KH, KW, sh, sw, dh, dw, ph, pw, x, init, tap, store)
        if n_full > 8:
            with em.loop(0, n_full, name="tile") as i:
                _tile(k, p, oh, em.add(lo, em.mul(i, V)), V, False, H, W, KH, KW, sh, sw, dh, dw, ph, pw, x, init, tap, store)
        else:
            for i in range(n_full):
                _tile(k, p, oh, lo + i * V, V, False, H, W, KH, KW, sh, sw, dh, dw, ph, pw, x, init, tap, store)
        rest = lo + n_full * V
        if hi > rest:
            _tile(k, p, oh, rest, hi - rest, False, H, W, KH, KW, sh, sw, dh, dw, ph, pw, x, init, tap, store)
        _edge(k, p, oh, hi, OW, H, W, KH, KW, sh, sw, dh, dw, ph, pw, x, init, tap, store)
        if after_row is not None:
            after_row(p, oh)


EDGE_UNROLL = 8


def _edge(k, p, oh, start, stop, *geometry):
    """The pixels start..stop whose windows reach into the padding, one per tile: unrolled
    (padding taps dropped at compile time) for the usual one or two, a loop with run-time
    checks for wide pads, whose unrolled code would grow with the pads."""
    if stop - start <= EDGE_UNROLL:
        for ow in range(start, stop):
            _tile(k, p, oh, ow, 1, True, *geometry)
        return
    with k.em.loop(start, stop, name="edge") as ow:
        _tile(k, p, oh, ow, 1, True, *geometry)


def _tile(k, p, oh, ow0, w, edge, H, W, KH, KW, sh, sw, dh, dw, ph, pw, x, init, tap, store):
    em = k.em
    b = em.b
    vt = ir.VectorType(F32, w)
    a = em.local(vt, name="acc")
    b.store(init(p, w), a)
    with em.loop(0, KH, name="kh") as kh:
        ih = em.sub(em.add(em.mul(oh, sh), em.mul(kh, dh)), ph)
        with em.if_(em.in_range(ih, 0, H)):
            src = em.add(em.mul(p, H * W), em.mul(ih, W))

            def load(col):
                n = (w - 1) * sw + 1
                xv = b.load(em.gep(x, em.add(src, col), F32), typ=ir.VectorType(F32, n), align=4)
                if sw > 1:
                    xv = b.shuffle_vector(xv, ir.Constant(xv.type, ir.Undefined),
                                          ir.Constant(ir.VectorType(ir.IntType(32), w), [j * sw for j in range(w)]))
                return xv

            if edge and not isinstance(ow0, int):  # an edge pixel in a loop: check each tap
                for kw in range(KW):
                    col = em.add(em.mul(ow0, sw), kw * dw - pw)
                    with em.if_(em.in_range(col, 0, W)):
                        b.store(tap(b.load(a, typ=vt), load(col), p, kh, kw), a)
            else:
                acc = b.load(a, typ=vt)
                for kw in range(KW):
                    col = em.add(em.mul(ow0, sw), kw * dw - pw)
                    if edge and not 0 <= col < W:
                        continue  # in the padding
                    acc = tap(acc, load(col), p, kh, kw)
                b.store(acc, a)
    store(b.load(a, typ=vt), p, oh, ow0, w)


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def splat(b, v: ir.Value, w: int) -> ir.Value:
    vt = ir.VectorType(F32, w)
    one = b.insert_element(ir.Constant(vt, ir.Undefined), v, ir.Constant(ir.IntType(32), 0))
    return b.shuffle_vector(one, ir.Constant(vt, ir.Undefined), ir.Constant(ir.VectorType(ir.IntType(32), w), [0] * w))


def fma_tap(b):
    def tap(acc, xv, wv):
        return b.fadd(acc, b.fmul(xv, wv, flags=FAST), flags=FAST)
    return tap
