"""The direct conv kernels: channel vectors (constant weights, the default) and rows.

* channel vectors: one work item is R = NV x V output channels of one output row; register
  tiles of T pixels x NV <V x float> accumulators, weights packed [g][oc block][ic][kh][kw][R],
  inputs broadcast; the tile leaves registers through an in-register transpose as vector row
  stores. A group whose channel count is not a multiple of V is padded to whole tiles (zero
  weights; the tail lanes are not stored). The only kernel besides rows that reads and writes
  blocked (NCHW[x]c) storage.
* rows (``conv_algorithm="rows"``, runtime weights, tiny channel counts): R output rows, the
  innermost loop over the output width (LLVM vectorizes it); ``R`` is ``conv_oc_block``.

Padding never needs a branch in an inner loop: which taps fall into it is decided at compile
time.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
from llvmlite import ir

from ..emit import F32, FAST
from ..layout import check_blocked_conv
from .conv_geom import ConvGeom, ceil_div, floor_div
from .conv_kernel import ConvJob, ConvKernel
from .conv_schedule import ConvSchedule, fits_registers
from .dot import FP32_DOT, DotStep
from .tile_sweep import Sweep, edge_tiles, sweep_row
from .vectors import splat, transpose


def pick_block(n: int, want: int) -> int:
    """Largest block <= want that divides n (so no partial blocks)."""
    for r in range(min(want, n), 0, -1):
        if n % r == 0:
            return r
    return 1


def conv_input(k, geom: ConvGeom):
    """The input the kernel reads: x, or for ``geom.subsample`` x[:, :, ::sh, ::sw] copied into
    scratch, so that a strided 1x1 conv runs as a pointwise one over the flattened map (its
    rows as short as the strided output were 10% slower, ResNet-50's last downsampling 1x1
    measured in the model). Blocked storage copies a channel block per pixel as one vector."""
    x = k.inp(0)
    src = geom.subsample
    if src is None:
        return x
    em = k.em
    elem = geom.xb or 1
    OH, OW = src.OH, src.OW
    chunk = 16 if elem % 16 == 0 else elem
    ET = ir.VectorType(F32, chunk) if chunk > 1 else F32
    sub = k.scratch(geom.N * geom.C // elem * OH * OW * 4 * elem)
    with k.parallel_loop(geom.N * geom.C // elem * OH, OW * elem) as t:
        row = em.mul(em.add(em.mul(em.div(t, OH), src.H), em.mul(em.rem(t, OH), src.sh)), src.W)
        dst = em.mul(t, OW)
        with em.loop(0, OW, name="ow") as ow:
            with em.loop(0, elem // chunk, name="e") as e:
                i = em.mul(e, chunk)
                v = em.b.load(em.gep(x, em.add(em.mul(em.add(row, em.mul(ow, src.sw)), elem), i), F32), typ=ET, align=4)
                em.b.store(v, em.gep(sub, em.add(em.mul(em.add(dst, ow), elem), i), F32), align=4)
    k.barrier()
    return sub


def channel_tiles(Mg: int, lanes: int, want_nv: int, want_lanes: int = 0) -> tuple[int, int, int]:
    """(V, NV, Mp): output channels per vector, vectors per register tile, and the group's
    channel count padded to whole tiles (Mp > Mg: the tail lanes are computed, never stored).
    ``want_lanes`` 0: the widest vector that divides Mg, unless a wider one padded (by at most
    two thirds of Mg) has more useful lanes per vector FMA; else exactly that width.
    V == 0: no vector tiling (the row kernel)."""
    want_nv = max(1, want_nv)

    def padded(v):
        # the largest NV <= want_nv whose padding is within Mg/16 of the least padding
        # (more vectors per tile: fewer loads per FMA)
        size = {n: -(-Mg // (n * v)) * n * v for n in range(1, want_nv + 1)}
        least = min(size.values())
        nv = max(n for n in size if size[n] * 16 <= least * 16 + Mg)
        return v, nv, size[nv]

    if want_lanes:
        return padded(want_lanes)
    V = next((v for v in (lanes, lanes // 2, lanes // 4) if v >= 4 and Mg % v == 0), 0)
    if V:
        NV = want_nv
        while NV > 1 and Mg % (NV * V):
            NV -= 1
        if NV == 1 and want_nv == 2 and Mg % (3 * V) == 0 and lanes >= 16:
            NV = 3  # 3 vectors of 8 pixels load less per FMA than 1 of 16 (PP-OCR rec's 240
            #         channels: 261 GFLOP/s against 239)
    if V != lanes and Mg >= 8:
        # useful lanes per vector FMA: a full-width vector with padding lanes beats an exact
        # narrower one (ShuffleNet's 34-channel groups: 16 lanes padded to 48 ran 1.6x faster
        # than 8 lanes padded to 40)
        best = (V / lanes if V else 0.0, None)
        for w in (lanes, lanes // 2):
            if w < 4 or w <= V:
                break
            pv, pnv, pm = padded(w)
            if 3 * pm <= 5 * Mg and Mg / pm * w / lanes > best[0]:
                best = (Mg / pm * w / lanes, (pv, pnv, pm))
        if best[1] is not None:
            return best[1]
    return (V, NV, Mg) if V else (0, 1, Mg)


def _tiles_of(geom: ConvGeom, schedule, target) -> tuple[int, int, int]:
    return channel_tiles(geom.Mg, target.vector_lanes, schedule.oc_vectors, schedule.vector_lanes)


@dataclass(frozen=True)
class _Block:
    """The kernel-wide choices of a direct kernel: input and packed weights (``w_off``: the
    rows kernel's weight offset (g, ob, ic, kh, kw, r)), R channels per work item, the
    channel-vector tile (V lanes x NV vectors, OB blocks per group, ``padded``: a group's
    last block has channels past its end)."""
    x: ir.Value
    wp: ir.Value
    w_off: Callable | None
    R: int
    V: int = 0
    NV: int = 1
    OB: int = 1
    padded: bool = False
    dot: DotStep = FP32_DOT


@dataclass(frozen=True)
class _Item:
    """One work item: image n, group g, channel block ob (first channel oc0, ``count`` of its
    channels exist), output depth od and row oh; its rows start at y[row0 + r*plane]."""
    n: object
    g: object
    ob: object
    od: object
    oh: object
    oc0: object
    row0: object
    plane: int
    count: object


class ChannelVectors(ConvKernel):
    name = "channel vectors"

    def applies(self, geom, schedule, target) -> bool:
        V = _tiles_of(geom, schedule, target)[0]
        return geom.weights is not None and V > 0 and (schedule.algorithm != "rows" or bool(geom.yb))

    def emit(self, k, job: ConvJob) -> bool:
        return _emit_direct(k, job, True)


class Rows(ConvKernel):
    name = "rows"

    def applies(self, geom, schedule, target) -> bool:
        return True

    def emit(self, k, job: ConvJob) -> bool:
        return _emit_direct(k, job, False)


def _emit_direct(k, job: ConvJob, vec: bool, dot: DotStep = FP32_DOT) -> bool:
    """The channel-vector (``vec``) or row kernel of ``job``; ``dot``: how the channel-vector
    kernel multiplies (the input it reads and its geometry, the weight packing)."""
    em = k.em
    epi = job.epilogue
    sched = k.schedule(ConvSchedule)
    x, geo = dot.input(k, job.geom)
    job = replace(job, geom=geo)
    N, M, G, Cg, Mg, OD, OH, OW = geo.N, geo.M, geo.G, geo.Cg, geo.Mg, geo.OD, geo.OH, geo.OW
    xb, yb = geo.xb, geo.yb
    KH, KW = geo.KD * geo.KH, geo.KW  # (kd, kh) pairs are walked as one tap-row index
    V, NV, Mp = _tiles_of(geo, sched, k.target)
    # a blocked output needs the epilogue in registers, and whole channel tiles unless nothing
    # is stored per pixel (a mean without a residual); a blocked input only the vector kernel
    whole_tiles = Mp == Mg and V > 0 and yb % V == 0
    if yb:
        fits = vec and (epi.rows is None or epi.tile is not None) and (
            whole_tiles or (epi.mean_into is not None and not epi.reads))
    else:
        fits = epi.mean_into is None  # a blocked input: the vector or the row kernel
    if geo.blocked:  # the layout pass's own predicate (layout.py), asserted where it is relied on
        check_blocked_conv(k.node, V or 1, Mp)  # V 0: no channel vectors (the row kernel)
    if geo.blocked and not fits:
        raise AssertionError(f"blocked storage: {Mg} output channels in vectors of {V}, epilogue in registers "
                             f"{epi.tile is not None}: the layout pass should not have chosen it")
    if not vec:
        NV, Mp = 1, Mg
    R = NV * V if vec else pick_block(Mg, sched.oc_block)
    k.algorithm = dot.label + ((f"direct {R}ch" if vec else "rows") + (" pointwise" if KH * KW == 1 and geo.sh == geo.sw == 1 else "")
                   + (f" {'in' if xb else ''}{'+' if xb and yb else ''}{'out' if yb else ''} NHWC" if geo.blocked else ""))
    OB = Mp // R

    wdata = geo.weights
    if wdata is not None:
        wg = wdata.reshape(G, Mg, -1, KH, KW)  # (the node's input channels: a step may take several)
        if Mp > Mg:  # zero output channels up to whole tiles; their lanes are never stored
            wg = np.concatenate([wg, np.zeros((G, Mp - Mg) + wg.shape[2:], wg.dtype)], axis=1)
        packed = dot.pack(wg.reshape(G, OB, R, -1, KH, KW))
        wp = k.table(("conv.w", id(geo.node.inputs[1]), R, dot.precision), packed)

        def w_off(g, ob, ic, kh, kw, r):
            return em.lin([(g, OB * Cg * KH * KW * R), (ob, Cg * KH * KW * R), (ic, KH * KW * R),
                           (kh, KW * R), (kw, R)], r)
    else:
        wp = k.inp(1)

        def w_off(g, ob, ic, kh, kw, r):
            oc = em.add(em.mul(g, Mg), em.add(em.mul(ob, R), r))
            return em.lin([(oc, Cg * KH * KW), (ic, KH * KW), (kh, KW)], kw)

    blk = _Block(x, wp, w_off, R, V, NV, OB, Mp > Mg, dot)
    with k.parallel_loop(N * G * OB * OD * OH, Cg * KH * KW * OW * R) as t:
        if xb:  # an NHWC row holds every input channel: its channel blocks one after another
            n, g, od, oh, ob = em.unravel(t, [N, G, OD, OH, OB])  # (ResNet-50 256->64 at 56x56 8% faster)
        else:
            n, g, ob, od, oh = em.unravel(t, [N, G, OB, OD, OH])
        oc0 = em.add(em.mul(g, Mg), em.mul(ob, R))
        plane = OD * OH * OW
        row0 = em.add(em.mul(em.add(em.mul(n, M), oc0), plane), em.mul(em.add(em.mul(od, OH), oh), OW))
        # channels of this block (fewer than R in the last block of a padded group)
        count = R if Mp == Mg else em.smin(R, em.sub(Mg, em.mul(ob, R)))
        item = _Item(n, g, ob, od, oh, oc0, row0, plane, count)
        if vec:
            _vector_rows(k, job, blk, item)
        else:
            _scalar_rows(k, job, blk, item)
        if not (vec and epi.tile is not None):
            epi.after_rows(row0, plane, oc0, count, OW)
    return vec and epi.tile is not None


@contextmanager
def _input_rows(em, geo: ConvGeom, item: _Item):
    """for ic, (kd, kh) with the input row inside the tensor: yields (ic, tap row, input row offset)."""
    n, g, od, oh = item.n, item.g, item.od, item.oh
    with em.loop(0, geo.Cg, name="ic") as ic:
        c = em.add(em.mul(g, geo.Cg), ic)
        if geo.xb:  # channel c's pixel q at ((c - c % xb) * plane + q * xb + c % xb)
            lane = em.rem(c, geo.xb)
            xch = em.add(em.mul(em.add(em.mul(n, geo.C), em.sub(c, lane)), geo.D * geo.H * geo.W), lane)
        else:
            xch = em.mul(em.add(em.mul(n, geo.C), c), geo.D * geo.H * geo.W)
        with em.loop(0, geo.KD * geo.KH, name="kdh") as kdh:
            kd, kh = em.unravel(kdh, [geo.KD, geo.KH]) if geo.KD > 1 else (0, kdh)
            idd = em.sub(em.add(em.mul(od, geo.sd), em.mul(kd, geo.dd)), geo.pd)
            ih = em.sub(em.add(em.mul(oh, geo.sh), em.mul(kh, geo.dh)), geo.ph)
            inside = em.in_range(ih, 0, geo.H)
            if geo.D > 1 or geo.KD > 1:
                in_d = em.in_range(idd, 0, geo.D)
                if isinstance(inside, bool) or isinstance(in_d, bool):
                    inside = in_d if inside is True else inside if in_d is True else False
                else:
                    inside = em.b.and_(inside, in_d)
            with em.if_(inside):
                row = em.add(em.mul(idd, geo.H * geo.W), em.mul(ih, geo.W))
                yield ic, kdh, em.add(xch, em.mul(row, geo.xb) if geo.xb else row)


def _scalar_rows(k, job: ConvJob, blk: _Block, item: _Item) -> None:
    """R output rows, vectorized by LLVM along the output width (long rows)."""
    em = k.em
    geo, bias = job.geom, job.epilogue.bias
    rows = [em.add(item.row0, r * item.plane) for r in range(blk.R)]
    OW = geo.OW
    inits = [em.load(bias, em.add(item.oc0, r), F32) if bias is not None else em.fconst(0.0) for r in range(blk.R)]
    with em.loop(0, OW, name="ow") as ow:
        for r in range(blk.R):
            em.store(inits[r], job.y, em.add(rows[r], ow), F32)
    with _input_rows(em, geo, item) as (ic, kdh, xrow):
        _row_taps(k, job, blk, xrow, rows, lambda kw, r: blk.w_off(item.g, item.ob, ic, kdh, kw, r))


def _row_taps(k, job: ConvJob, blk: _Block, xrow, rows, w_tap) -> None:
    """y[rows[r] + ow] += w_tap(kw, r) * x[xrow + (ow*sw + kw*dw - pw) * px] over the valid ow
    range (``px``: floats between neighbouring input pixels, the block of NCHW[px]c)."""
    em = k.em
    b = em.b
    win, x, y, wp = job.geom.win, blk.x, job.y, blk.wp
    KW, W, OW, sw, dw, pw = win.KW, win.W, win.OW, win.sw, win.dw, win.pw
    px = job.geom.xb or 1

    def tap(kw):
        lo = em.smax(0, _ceil_div_ix(em, em.sub(pw, em.mul(kw, dw)), sw))
        hi = em.smin(OW, em.add(_floor_div_ix(em, em.sub(em.add(W - 1, pw), em.mul(kw, dw)), sw), 1))
        ws = [em.load(wp, w_tap(kw, r), F32) for r in range(blk.R)]
        xoff = em.sub(em.add(xrow, em.mul(kw, dw * px)), pw * px)
        with em.loop(lo, hi, name="ow") as ow:
            xv = em.load(x, em.add(xoff, em.mul(ow, sw * px)), F32)
            for r in range(blk.R):
                p = em.add(rows[r], ow)
                em.store(b.fadd(em.load(y, p, F32), b.fmul(ws[r], xv, flags=FAST), flags=FAST), y, p, F32)

    if KW <= 16:
        for kw in range(KW):
            tap(kw)
    else:
        with em.loop(0, KW, name="kw") as kw:
            tap(kw)


def _ceil_div_ix(em, a, s):
    if isinstance(a, int):
        return ceil_div(a, s)
    return em.sub(0, em.sdiv_floor(em.sub(0, a), s))


def _floor_div_ix(em, a, s):
    if isinstance(a, int):
        return floor_div(a, s)
    return em.sdiv_floor(a, s)



def _vector_rows(k, job: ConvJob, blk: _Block, item: _Item) -> None:
    """NV*V output rows with the channels in the vector lanes: the row is cut into tiles of
    T pixels, each tile keeps T x NV <V x float> accumulators; per tap NV weight vector loads
    and T input broadcasts feed T*NV FMAs. Tiles are unrolled, so which taps fall into the
    padding is decided at compile time.

    With ``conv_prefetch`` every step prefetches its share of the next channel block's
    weights into L2: a model's weights come from DRAM once per inference, and fetched all
    at once by the block's first tile they left its FMAs waiting (ResNet-50's 7x7 layers ran
    at 65% of peak in the model against 92% with their weights cached). Each tile also
    prefetches its pixels of the epilogue's ``reads``, and the epilogue's ``tile`` is applied
    to each transposed channel row before it is stored.

    Blocked output (``yb``): Y (and the epilogue's reads) is stored NCHW[yb]c, and each
    accumulator, V channels of one pixel, is stored as it is; with the epilogue's
    ``mean_into``, for a row that is the whole map, the accumulators are summed instead and
    each channel's mean stored at mean_into[n*M + c]."""
    em = k.em
    b = em.b
    geo, epi, sched = job.geom, job.epilogue, k.schedule(ConvSchedule)
    x, y, wp, V, NV, OB, padded = blk.x, job.y, blk.wp, blk.V, blk.NV, blk.OB, blk.padded
    n, g, ob, od, oh, oc0, row0, plane, count = (item.n, item.g, item.ob, item.od, item.oh, item.oc0, item.row0,
                                                 item.plane, item.count)
    bias, post_reads, tile_post = epi.bias, epi.reads, epi.tile
    OH = geo.OH
    # this row of the rows that read the channel block's weights, of G*OB blocks
    stream = (em.add(em.mul(od, OH), oh), geo.OD * OH, geo.G * OB) if sched.prefetch else None
    blocked_out = (geo.yb, em.mul(em.mul(n, geo.M), plane), em.mul(em.add(em.mul(od, OH), oh), geo.OW)) if geo.yb else None
    mean = (epi.mean_into, em.mul(n, geo.M), 1.0 / (geo.OD * OH * geo.OW)) if epi.mean_into is not None else None
    Cg, KH, KW, W, OW, sw, dw, pw = geo.Cg, geo.KD * geo.KH, geo.KW, geo.W, geo.OW, geo.sw, geo.dw, geo.pw
    VT = ir.VectorType(F32, V)
    # 0: 16 (AVX-512: 32 registers) or 8 accumulators; one channel vector gets twice the pixels
    # (SqueezeNet's 384->48 1x1: 74% of peak with 8 pixels, 91% with 16)
    T = sched.ow_tile or (max(1, (16 if k.target.vector_bits >= 512 else 8) // NV) if NV < 3 else 8)
    if not sched.ow_tile and KH * KW == 1 and Cg >= TILE_FIT_MIN_CHANNELS:
        T = _tile_pixels(OW, T, NV, k.target.vector_registers)
    undef = ir.Constant(VT, ir.Undefined)
    lane0 = ir.Constant(ir.IntType(32), 0)
    RV = NV * V
    # padded: only the first ``count`` channels of the tile exist; the bias is added per
    # stored row (no vector reads past its end)
    if bias is not None and not padded:
        inits = [b.load(em.gep(bias, em.add(oc0, v * V), F32), typ=VT, align=4) for v in range(NV)]
    elif bias is not None and blocked_out is not None:  # lanes past ``count`` start at 0
        inits = []
        for v in range(NV):
            init = ir.Constant(VT, [0.0] * V)
            for i in range(V):
                lane_ok = b.icmp_signed("<", em.i64(v * V + i), em.i64(count))
                value = em.load(bias, em.add(oc0, em.smin(v * V + i, em.sub(count, 1))), F32)
                init = b.insert_element(init, b.select(lane_ok, value, em.fconst(0.0)), ir.Constant(ir.IntType(32), i))
            inits.append(init)
    else:
        inits = [ir.Constant(VT, [0.0] * V)] * NV
    wbase = em.mul(em.add(em.mul(g, OB), ob), Cg * KH * KW * RV)
    sums = [em.local(VT, name="sum") for _ in range(NV)] if mean is not None else []
    for acc_sum in sums:
        b.store(ir.Constant(VT, [0.0] * V), acc_sum)

    def tile(ow0, size, checked):
        """Output pixels ow0 .. ow0+size-1; ``checked``: ow0 is a compile-time int and taps
        in the padding are dropped, else every tap is known to be inside the row."""
        accs = [[em.local(VT, name="acc") for _ in range(NV)] for _ in range(size)]
        for row in accs:
            for a, init in zip(row, inits):
                b.store(init, a)
        for extra in post_reads if blocked_out is None else ():
            for r in range(RV):
                # rows past the channel count of a padded block: clamped to its last row
                rr = r if not padded else em.smin(r, em.sub(count, 1))
                start = em.add(em.add(row0, em.mul(rr, plane)), ow0)
                em.prefetch(extra, start, F32)
                if size > 8:
                    em.prefetch(extra, em.add(start, size - 1), F32)
        with _input_rows(em, geo, item) as (ic, kdh, xrow):
            wkh = em.add(wbase, em.add(em.mul(ic, KH * KW * RV), em.mul(kdh, KW * RV)))
            if stream is not None:
                prefetch_next(ow0, size, em.add(em.mul(ic, KH), kdh))
            for kw in range(KW):
                taps = [(j, em.sub(em.add(em.mul(em.add(ow0, j), sw), kw * dw), pw)) for j in range(size)]
                if checked:
                    taps = [(j, iw) for j, iw in taps if 0 <= iw < W]
                if not taps:
                    continue
                wvs = [b.load(em.gep(wp, em.add(wkh, kw * RV + v * V), F32), typ=VT, align=4) for v in range(NV)]
                for j, iw in taps:
                    xv = em.load(x, em.add(xrow, em.mul(iw, geo.xb) if geo.xb else iw), F32)
                    xs = splat(b, xv, V)
                    for wv, a in zip(wvs, accs[j]):
                        b.store(blk.dot.mac(b, b.load(a, typ=VT), wv, xs), a)
        if blocked_out is not None:
            yb, image, pix0 = blocked_out
            for v in range(NV):
                c = em.add(oc0, v * V)
                lane = em.rem(c, yb)
                base = em.add(em.add(image, em.mul(em.sub(c, lane), plane)), lane)
                for j in range(size):
                    dst = em.add(base, em.mul(em.add(em.add(pix0, ow0), j), yb))
                    acc = b.load(accs[j][v], typ=VT)
                    if tile_post is not None:
                        acc = tile_post(acc, c, dst, channel_lanes=True)
                    if sums:
                        b.store(b.fadd(b.load(sums[v], typ=VT), acc, flags=FAST), sums[v])
                    else:
                        b.store(acc, em.gep(y, dst, F32), align=4)
            return
        # lanes go to RV different output rows: transpose V pixels x V channels in
        # registers, then one vector store of up to V pixels per channel row
        for v in range(NV):
            for j0 in range(0, size, V):
                width = min(V, size - j0)
                cols = transpose([b.load(accs[j0 + j][v], typ=VT) for j in range(width)], V, b)
                for r in range(V):
                    oc = v * V + r   # channel within the tile
                    row = b.shuffle_vector(cols[r], undef, ir.Constant(ir.VectorType(ir.IntType(32), width),
                                                                       list(range(width))))
                    dst = em.add(em.add(row0, oc * plane if isinstance(plane, int) else em.mul(oc, plane)),
                                 em.add(ow0, j0))
                    if padded:
                        with em.if_(oc < count if isinstance(count, int) else b.icmp_signed("<", em.i64(oc), count)):
                            if bias is not None:
                                add = em.load(bias, em.add(oc0, oc), F32)
                                addv = b.shuffle_vector(b.insert_element(ir.Constant(row.type, ir.Undefined), add, lane0),
                                                        ir.Constant(row.type, ir.Undefined),
                                                        ir.Constant(ir.VectorType(ir.IntType(32), width), [0] * width))
                                row = b.fadd(row, addv, flags=FAST)
                            if tile_post is not None:
                                row = tile_post(row, em.add(oc0, oc), dst)
                            b.store(row, em.gep(y, dst, F32), align=4)
                    else:
                        if tile_post is not None:
                            row = tile_post(row, em.add(oc0, oc), dst)
                        b.store(row, em.gep(y, dst, F32), align=4)

    block = Cg * KH * KW * RV                     # floats of weights per channel block
    if stream is not None:
        row, rows, blocks = stream
        steps = Cg * KH                             # (ic, kd*kh) steps per tile
        total = rows * OW * steps                   # pixel-steps of the whole block
        lines = -(-block // 16)                     # 64-byte lines of the next block
        last = blocks * block - 16
        row_pos = em.mul(row, OW * steps)

    def prefetch_next(ow0, size, step):
        """Line (position * lines // total) of the next block, where position counts
        pixel-steps through this block's rows and tiles."""
        pos = em.add(row_pos, em.add(em.mul(ow0, steps), em.mul(step, size)))
        line = em.div(em.mul(pos, lines), total)
        for j in range(max(1, -(-size * lines // total))):
            off = em.smin(em.add(em.add(wbase, block), em.mul(em.add(line, j), 16)), last)
            em.prefetch(wp, off, F32)

    # rows up to ``unroll_ow`` are all tiles whose padding taps are dropped at compile time
    sweep = Sweep(T, unroll=-1, edge_width=T, rest_at_edge=True)
    if OW <= sched.unroll_ow:
        edge_tiles(em, 0, OW, sweep, tile)
    else:
        sweep_row(em, geo.win, sweep, tile)
    if mean is not None:
        out, image, scale = mean
        for v in range(NV):
            total = b.fmul(b.load(sums[v], typ=VT), ir.Constant(VT, [scale] * V), flags=FAST)
            if not padded:
                b.store(total, em.gep(out, em.add(image, em.add(oc0, v * V)), F32), align=4)
                continue
            for i in range(V):  # the channels that exist
                with em.if_(b.icmp_signed("<", em.i64(v * V + i), em.i64(count))):
                    em.store(b.extract_element(total, ir.Constant(ir.IntType(32), i)), out,
                             em.add(image, em.add(oc0, v * V + i)), F32)


# input channels from which a 1x1 conv's tile width is fitted to its row (_tile_pixels):
# SqueezeNet's 1x1 convs over 16-384 channels ran 4-16% slower with fitted tiles, its
# 512-channel classifier and ResNet-50's 512-channel 7x7 layers 4-9% faster. Not for wider
# kernels: AlexNet's 5x5 conv on 26-pixel rows took 1.53 -> 2.33 ms with two 13-pixel tiles.
TILE_FIT_MIN_CHANNELS = 512
# an FMA's latency over its issue interval: fewer independent accumulators than this leave
# the FMA pipes waiting (4-cycle FMAs, two pipes)
FMA_CHAINS = 8


def _tile_pixels(OW: int, T: int, NV: int, registers: int) -> int:
    """Pixels per register tile for a row of OW: ``T`` unless its last tile is too narrow to
    keep FMA_CHAINS accumulators busy, then the width up to what the registers hold
    (``fits_registers``) that costs the fewest FMA issue slots, a narrow last tile counted at
    its latency. ResNet-50's 7x7 maps (49 pixels: 6 tiles of 8 and one of 1) were 7-11%
    faster with 10 or 14 in tuning."""
    if OW % T == 0 or (OW % T) * NV >= FMA_CHAINS:
        return T

    def cost(t):
        tail = OW % t
        return (OW // t) * t * NV + (max(tail * NV, FMA_CHAINS) if tail else 0)

    widest = max((t for t in range(1, registers + 1) if fits_registers(t, NV, registers)), default=0)
    widths = range(T, max(T, widest) + 1)
    return min(widths, key=lambda t: (cost(t), -t))  # ties: fewer tiles, fewer transposes
