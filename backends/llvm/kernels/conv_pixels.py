"""Pixel vectors: output pixels in the vector lanes, R channels of broadcast weights. For few
taps per output, where the channel-vector kernel's transpose costs as much as its FMAs."""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from ..emit import F32, FAST
from .conv_direct import conv_input, pick_block
from .conv_kernel import ConvJob, ConvKernel
from .tile_sweep import Sweep, sweep_row
from .vectors import load_strided, splat
from .window import max_stride


class PixelVectors(ConvKernel):
    name = "pixel vectors"

    def applies(self, geom, schedule, target) -> bool:
        """``conv_algorithm`` "pixels", or "auto" for few taps per output at stride 1 (Cg*KH*KW
        <= ``conv_pixels_max_taps``, e.g. a narrow grouped 1x1): there the channel-vector
        tile's transpose costs as much as its FMAs. Not for 16+ taps onto whole channel
        vectors, where the channel-vector kernel measured faster (SqueezeNet's 16->64 1x1: 74%
        of peak against 63%, 32->128: 91% against 78%). ShuffleNet's 34-channel groups (34
        taps) also run faster as channel vectors, padded to 48 (55-64% against 39-49%)."""
        sched = schedule.algorithm
        if geom.blocked or sched not in ("auto", "pixels") or geom.rank != 4 or geom.D != 1 or geom.weights is None:
            return False
        if not max_stride(geom.sw) or geom.OW < target.vector_lanes // 2:
            return False
        # measured here: 1.5x faster on ShuffleNet's grouped 1x1 (Cg 6), 1.3x slower on
        # 3-channel stride-2 stems (the strided loads' shuffles)
        taps = geom.Cg * geom.KH * geom.KW
        whole_vectors = geom.Mg % target.vector_lanes == 0
        return sched == "pixels" or (geom.sw == 1 and taps <= schedule.pixels_max_taps
                                     and not (whole_vectors and taps >= 16))

    def emit(self, k, job: ConvJob) -> bool:
        k.algorithm = "pixel vectors"
        _pixel_rows(k, job)
        return False


def _pixel_rows(k, job: ConvJob) -> None:
    """Output pixels in the vector lanes: one work item is R output channels of one output
    row; each tile of V pixels keeps R accumulators, a tap loads the tile's inputs once (a
    stride-s tap: one load + shuffle) and does R FMAs with broadcast weights; tiles are
    stored as they are (no transpose). Edge pixels are tiles of one whose padding taps are
    dropped at compile time."""
    em = k.em
    b = em.b
    geo, y, bias = job.geom, job.y, job.epilogue.bias
    x = conv_input(k, geo)
    N, G, Cg, Mg, H, W, OH, OW = geo.N, geo.G, geo.Cg, geo.Mg, geo.H, geo.W, geo.OH, geo.OW
    KH, KW, sh, sw, dh, dw, ph, pw = geo.KH, geo.KW, geo.sh, geo.sw, geo.dh, geo.dw, geo.ph, geo.pw
    V = k.target.vector_lanes
    R = pick_block(Mg, V if V >= 16 else 8)
    OB = Mg // R
    packed = geo.weights.reshape(G, OB, R, Cg, KH, KW).transpose(0, 1, 3, 4, 5, 2)
    wp = k.table(("conv.wpix", id(geo.node.inputs[1]), R), np.ascontiguousarray(packed, dtype=np.float32))
    C, M = G * Cg, G * Mg
    plane = OH * OW

    with k.parallel_loop(N * G * OB * OH, Cg * KH * KW * OW * R) as t:
        n, g, ob, oh = em.unravel(t, [N, G, OB, OH])
        oc0 = em.add(em.mul(g, Mg), em.mul(ob, R))
        row0 = em.add(em.mul(em.add(em.mul(n, M), oc0), plane), em.mul(oh, OW))
        wbase = em.mul(em.add(em.mul(g, OB), ob), Cg * KH * KW * R)

        def tile(ow0, w, edge):
            vt = ir.VectorType(F32, w)
            accs = [em.local(vt, name="acc") for _ in range(R)]
            for r, a in enumerate(accs):
                init = splat(b, em.load(bias, em.add(oc0, r), F32), w) if bias is not None else \
                    ir.Constant(vt, [0.0] * w)
                b.store(init, a)
            with em.loop(0, Cg, name="ic") as ic:
                xch = em.mul(em.add(em.mul(n, C), em.add(em.mul(g, Cg), ic)), H * W)
                with em.loop(0, KH, name="kh") as kh:
                    ih = em.sub(em.add(em.mul(oh, sh), em.mul(kh, dh)), ph)
                    with em.if_(em.in_range(ih, 0, H)):
                        xrow = em.add(xch, em.mul(ih, W))
                        wrow = em.add(wbase, em.mul(em.add(em.mul(ic, KH), kh), KW * R))
                        vals = [b.load(a, typ=vt) for a in accs]
                        for kw in range(KW):
                            col = em.add(em.mul(ow0, sw), kw * dw - pw)
                            if edge and not 0 <= col < W:
                                continue
                            xv = load_strided(em, x, em.add(xrow, col), w, sw)
                            for r in range(R):
                                ws = em.load(wp, em.add(wrow, kw * R + r), F32)
                                vals[r] = b.fadd(vals[r], b.fmul(xv, splat(b, ws, w), flags=FAST), flags=FAST)
                        for a, v in zip(accs, vals):
                            b.store(v, a)
            for r, a in enumerate(accs):
                b.store(b.load(a, typ=vt), em.gep(y, em.add(em.add(row0, r * plane), ow0), F32), align=4)

        sweep_row(em, geo.win, Sweep(V), tile)
        job.epilogue.after_rows(row0, plane, oc0, R, OW)
