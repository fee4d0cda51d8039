"""Direct convolution (1-D and 2-D, groups, depthwise, dilation, stride, asymmetric pads) and
ConvTranspose, NCHW.

Schedules (``ConvSchedule`` in conv_schedule.py, per workload from the tuner):

* channel vectors (constant weights, the default): one work item is R = NV x V output
  channels of one output row; register tiles of T pixels x NV <V x float> accumulators,
  weights packed [g][oc block][ic][kh][kw][R], inputs broadcast; the tile leaves registers
  through an in-register transpose as vector row stores. A group whose channel count is not
  a multiple of V is padded to whole tiles (zero weights; the tail lanes are not stored).
* rows (``conv_algorithm="rows"``, runtime weights, tiny channel counts): R output rows, the
  innermost loop over the output width (LLVM vectorizes it); ``R`` is ``conv_oc_block``.
* depthwise: the padded-plane kernel for stride 1 and small planes, else window.py's
  row-vectorized windows (any stride <= 4).
* pixels (``_pixel_rows``): output pixels in the vector lanes, R channels of broadcast
  weights; for few taps per output (``_pixels_chosen``), no transpose.
* Winograd F(2x2,3x3) (winograd.py) for 3x3 stride-1 convs, chosen by ``winograd.chosen``.
* "direct" forces the channel-vector kernel (the tuner's candidates set it).

Padding never needs a branch in an inner loop: which taps fall into it is decided at compile
time. A 1x1 stride-1 unpadded conv runs over the flattened spatial dimension.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from cnncc.ir import Attrs, Node, TensorType, Value

from ..emit import F32, FAST
from ..lowering import register
from . import winograd
from .conv_schedule import ConvSchedule
from .window import max_stride, splat, window_rows


def _floor_div(a: int, b: int) -> int:
    return a // b


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def conv_geometry(x_shape, w_shape, a):
    """2-D view (N, C, H, W, KH, KW, sh, sw, dh, dw, ph, pw, ph_end, pw_end) of a 1-D or
    2-D convolution; 3-D ones fold depth in through ``depth_geometry``."""
    sp = len(x_shape) - 2
    if sp == 1:
        N, C, W = x_shape
        H, KH, sh, dh, ph, ph_end = 1, 1, 1, 1, 0, 0
        KW, sw, dw, pw, pw_end = w_shape[2], a.strides[0], a.dilations[0], a.pads[0], a.pads[1]
    elif sp in (2, 3):
        N, C, H, W = x_shape[0], x_shape[1], x_shape[-2], x_shape[-1]
        KH, KW = w_shape[-2:]
        sh, sw = a.strides[-2:]
        dh, dw = a.dilations[-2:]
        ph, pw = a.pads[sp - 2:sp]
        ph_end, pw_end = a.pads[-2:]
    else:
        raise NotImplementedError(f"{sp}-D convolution (only 1-D, 2-D and 3-D)")
    return N, C, H, W, KH, KW, sh, sw, dh, dw, ph, pw, ph_end, pw_end


def depth_geometry(x_shape, w_shape, o_shape, a):
    """(D, OD, KD, sd, dd, pd) of a 3-D convolution; (1, 1, 1, 1, 1, 0) otherwise."""
    if len(x_shape) != 5:
        return 1, 1, 1, 1, 1, 0
    return x_shape[2], o_shape[2], w_shape[2], a.strides[0], a.dilations[0], a.pads[0]


CONV_KEYS = ("kernel_shape", "strides", "pads", "dilations", "group")


def _pick_block(n: int, want: int) -> int:
    """Largest block <= want that divides n (so no partial blocks)."""
    for r in range(min(want, n), 0, -1):
        if n % r == 0:
            return r
    return 1


@register("Conv")
def lower_conv(k, node):
    emit_conv(k, node, k.out(), k.out_shape(), k.inp(2) if len(node.inputs) > 2 else None)


def emit_conv(k, node, y, o_shape, bias=None, post=None, post_reads=(), tile_post=None, mean_into=None):
    """Conv of inputs 0 (x) and 1 (w) of ``node`` into ``y`` (shape ``o_shape``), rows
    initialized with ``bias`` (a per-channel pointer) or 0. ``post(row0, plane, oc0, R, OW)``
    runs after a work item's R rows (row r at y[row0 + r*plane ...]) are accumulated
    (fused epilogues, while the rows are hot); ``post_reads``: tensors shaped like ``y`` that
    ``post`` reads (a residual), prefetched tile by tile while the rows are accumulated.
    ``tile_post(v, channel, index)``: the same epilogue on a vector of consecutive outputs of
    one channel, which the channel-vector kernel applies in registers before its row stores
    (then ``post`` is not run there). Returns whether it did: each output element then is
    stored once, after its ``post_reads`` elements were read. ``mean_into`` (blocked output
    only): Y is not stored; each channel's mean over the map goes to ``mean_into[n, c]``
    (a global average pool step, summed in registers)."""
    a = node.attrs
    em = k.em
    xb, yb = a.get("x_block", 0), a.get("y_block", 0)  # blocked storage (passes/backend_layout.py)
    blocked = bool(xb or yb)
    if not blocked and winograd.chosen(node, k.schedule(ConvSchedule)):
        k.algorithm = "winograd"
        winograd.emit_winograd(k, node, y, o_shape, bias, post)
        return False
    x_shape, w_shape = k.in_shape(0), k.in_shape(1)
    N, C, H, W, KH, KW, sh, sw, dh, dw, ph, pw, _, _ = conv_geometry(x_shape, w_shape, a)
    D, OD, KD, sd, dd, pd = depth_geometry(x_shape, w_shape, o_shape, a)
    M = w_shape[0]
    G = a.group
    Cg, Mg = C // G, M // G
    OH, OW = (1, o_shape[2]) if len(o_shape) == 3 else o_shape[-2:]
    x = k.inp(0)
    unpadded = a.pads[-1] == 0 and ph == pw == 0 and (len(o_shape) == 3 or a.pads[2] == 0)
    if (len(o_shape) == 4 and KH == KW == 1 and (sh, sw) != (1, 1) and unpadded and Cg > 1
            and k.const_input(1) is not None and k.schedule(ConvSchedule).algorithm in ("auto", "direct")):
        x = _subsample(k, x, N * C // (xb or 1), H, W, OH, OW, sh, sw, xb or 1)
        H, W, sh, sw = OH, OW, 1, 1
    if len(o_shape) <= 4 and KH == KW == 1 and sh == sw == 1 and unpadded:
        # pointwise: the map flattened and cut into rows of S pixels
        # (a mean over the map: the whole map in one row, so one work item sums it)
        S = H * W if mean_into is not None else pointwise_row(H * W, k.schedule(ConvSchedule).pointwise_row)
        H, W, OH, OW = H * W // S, S, H * W // S, S
    if blocked and not (len(o_shape) == 4 and KH == KW == 1 and sh == sw == 1 and unpadded and G == 1
                        and k.const_input(1) is not None):
        raise ValueError("blocked storage (x_block/y_block) needs a 1x1 ungrouped unpadded conv with constant weights")
    # only the channel-vector and row kernels below read and write blocked storage
    depthwise = not blocked and len(o_shape) == 4 and Cg == 1 and Mg == 1 and k.schedule(ConvSchedule).algorithm != "rows"
    if (depthwise and sh == sw == 1
            and _padded_plane_size(H, W, OH, OW, KH, KW, dh, dw, ph, pw) <= k.schedule(ConvSchedule).plane_max):
        k.algorithm = "depthwise planes"
        _depthwise_planes(k, node, y, bias, post, N, G, H, W, OH, OW, KH, KW, dh, dw, ph, pw)
        return False
    if depthwise and max_stride(sw) and k.schedule(ConvSchedule).window_rows:
        k.algorithm = "depthwise rows"
        _depthwise_rows(k, y, bias, post, N, G, H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw)
        return False
    if not blocked and _pixels_chosen(k, node, o_shape, Cg, KH, KW, OW, sw, D):
        k.algorithm = "pixel vectors"
        _pixel_rows(k, node, x, y, bias, post, N, G, Cg, Mg, H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw)
        return False
    geo = _Geo(C, Cg, D, H, W, KD, KH, KW, sd, sh, sw, dd, dh, dw, pd, ph, pw, OW, xb)
    KH = KD * KH  # (kd, kh) pairs are walked as one tap-row index
    wdata = k.const_input(1)
    V, NV, Mp = channel_tiles(Mg, k.target.vector_lanes, k.schedule(ConvSchedule).oc_vectors,
                              k.schedule(ConvSchedule).vector_lanes)
    vec = wdata is not None and V > 0 and (k.schedule(ConvSchedule).algorithm != "rows" or bool(yb))
    # a blocked output needs the epilogue in registers, and whole channel tiles unless nothing
    # is stored per pixel (a mean without a residual); a blocked input only the vector kernel
    whole_tiles = Mp == Mg and V > 0 and yb % V == 0
    if yb:
        fits = vec and (post is None or tile_post is not None) and (whole_tiles or (mean_into is not None and not post_reads))
    else:
        fits = mean_into is None  # a blocked input: the vector or the row kernel
    if blocked and not fits:
        raise ValueError(f"blocked storage: {Mg} output channels in vectors of {V}, epilogue in registers "
                         f"{tile_post is not None}: the layout pass should not have chosen it")
    if not vec:
        NV, Mp = 1, Mg
    R = NV * V if vec else _pick_block(Mg, k.schedule(ConvSchedule).oc_block)
    k.algorithm = ((f"direct {R}ch" if vec else "rows") + (" pointwise" if KH * KW == 1 and sh == sw == 1 else "")
                   + (f" {'in' if xb else ''}{'+' if xb and yb else ''}{'out' if yb else ''} NHWC" if blocked else ""))
    OB = Mp // R

    if wdata is not None:
        wg = wdata.reshape(G, Mg, Cg, KH, KW)
        if Mp > Mg:  # zero output channels up to whole tiles; their lanes are never stored
            wg = np.concatenate([wg, np.zeros((G, Mp - Mg, Cg, KH, KW), wg.dtype)], axis=1)
        packed = wg.reshape(G, OB, R, Cg, KH, KW).transpose(0, 1, 3, 4, 5, 2)
        wp = k.table(("conv.w", id(node.inputs[1]), R), np.ascontiguousarray(packed, dtype=np.float32))

        def w_off(g, ob, ic, kh, kw, r):
            return em.lin([(g, OB * Cg * KH * KW * R), (ob, Cg * KH * KW * R), (ic, KH * KW * R),
                           (kh, KW * R), (kw, R)], r)
    else:
        wp = k.inp(1)

        def w_off(g, ob, ic, kh, kw, r):
            oc = em.add(em.mul(g, Mg), em.add(em.mul(ob, R), r))
            return em.lin([(oc, Cg * KH * KW), (ic, KH * KW), (kh, KW)], kw)

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
        if vec:
            stream = (em.add(em.mul(od, OH), oh), OD * OH, G * OB) if k.schedule(ConvSchedule).prefetch else None
            blocked_out = (yb, em.mul(em.mul(n, M), plane), em.mul(em.add(em.mul(od, OH), oh), OW)) if yb else None
            mean = (mean_into, em.mul(n, M), 1.0 / (OD * OH * OW)) if mean_into is not None else None
            _vector_rows(k, geo, x, y, wp, bias, row0, plane, oc0, n, g, ob, od, oh, V, NV, OB, count, Mp > Mg,
                         stream, post_reads, tile_post, blocked_out, mean)
        else:
            rows = [em.add(row0, r * plane) for r in range(R)]
            _scalar_rows(k, geo, x, y, wp, w_off, bias, rows, oc0, n, g, ob, od, oh, R)
        if post is not None and not (vec and tile_post is not None):
            post(row0, plane, oc0, count, OW)
    return vec and tile_post is not None


def pointwise_row(pixels: int, want: int) -> int:
    """Row length for a pointwise conv over a flattened map of ``pixels``: all of it up to
    ``want``, else the longest divisor <= ``want`` that is a multiple of 8 (whole register
    tiles), else the longest divisor >= want/4, else all of it. Rows of a few hundred pixels
    give the threads more work items to share and leave a work item's rows in cache for a
    row epilogue (at 1 thread, ResNet-50's 1x1 layers measured the same either way)."""
    if want <= 0 or pixels <= want:
        return pixels
    divisors = [d for d in range(want, 0, -1) if pixels % d == 0]
    for d in divisors:
        if d % 8 == 0 and 4 * d >= want:
            return d
    return divisors[0] if 4 * divisors[0] >= want else pixels


def _subsample(k, x, planes, H, W, OH, OW, sh, sw, elem=1):
    """x[:, :, ::sh, ::sw] copied into scratch: a strided 1x1 conv then runs as a pointwise
    one over the flattened map (its rows as short as the strided output were 10% slower,
    ResNet-50's last downsampling 1x1 measured in the model). ``elem``: floats per pixel
    (a channel block of blocked storage, copied as one vector)."""
    em = k.em
    chunk = 16 if elem % 16 == 0 else elem
    ET = ir.VectorType(F32, chunk) if chunk > 1 else F32
    sub = k.scratch(planes * OH * OW * 4 * elem)
    with k.parallel_loop(planes * OH, OW * elem) as t:
        src = em.mul(em.add(em.mul(em.div(t, OH), H), em.mul(em.rem(t, OH), sh)), W)
        dst = em.mul(t, OW)
        with em.loop(0, OW, name="ow") as ow:
            with em.loop(0, elem // chunk, name="e") as e:
                i = em.mul(e, chunk)
                v = em.b.load(em.gep(x, em.add(em.mul(em.add(src, em.mul(ow, sw)), elem), i), F32), typ=ET, align=4)
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


def _plane_pitch(W, OW, KW, dw, pw) -> int:
    """Row pitch of the padded plane: whole 16-float vectors, so that the row-blocked loop over
    columns has no scalar remainder (PP-OCR rec's 80-wide 5x5 layers: 72 -> 91 GFLOP/s)."""
    return -(-max(W + pw, OW + (KW - 1) * dw) // 16) * 16


def _padded_plane_size(H, W, OH, OW, KH, KW, dh, dw, ph, pw):
    Hp = max(H + ph, OH + (KH - 1) * dh)
    return Hp * _plane_pitch(W, OW, KW, dw, pw) + (KW - 1) * dw + 1


DW_ROW_BLOCK = 4


def _depthwise_planes(k, node, y, bias, post, N, G, H, W, OH, OW, KH, KW, dh, dw, ph, pw):
    """Depthwise, stride 1: one work item is one channel plane. The plane is copied into a
    zero-padded stack buffer of row pitch Wp; then every output pixel of the padded-width
    grid is one long unit-stride loop (KH*KW FMAs per element, vectorized by LLVM), and the
    valid OW columns of each row are copied out. Short rows stop mattering."""
    em = k.em
    b = em.b
    Wp = _plane_pitch(W, OW, KW, dw, pw)
    size = _padded_plane_size(H, W, OH, OW, KH, KW, dh, dw, ph, pw)
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
            if post is not None:
                post(out, 0, g, 1, OW)


def _depthwise_rows(k, y, bias, post, N, G, H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw):
    """Depthwise, any stride: window.window_rows with one FMA per tap."""
    em = k.em
    b = em.b
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
        if post is not None:
            post(em.mul(em.add(em.mul(p, OH), oh), OW), 0, em.rem(p, G), 1, OW)

    window_rows(k, N * G, H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw, x, init, tap, store,
                KH * KW * OW, after_row)


def _pixels_chosen(k, node, o_shape, Cg, KH, KW, OW, sw, D) -> bool:
    """``conv_algorithm`` "pixels", or "auto" for few taps per output at stride 1 (Cg*KH*KW
    <= ``conv_pixels_max_taps``, e.g. a narrow grouped 1x1): there the channel-vector tile's
    transpose costs as much as its FMAs. Not for 16+ taps onto whole channel vectors, where
    the channel-vector kernel measured faster (SqueezeNet's 16->64 1x1: 74% of peak against
    63%, 32->128: 91% against 78%). ShuffleNet's 34-channel groups (34 taps) also run faster
    as channel vectors, padded to 48 (55-64% against 39-49%)."""
    sched = k.schedule(ConvSchedule).algorithm
    if sched not in ("auto", "pixels") or len(o_shape) != 4 or D != 1 or k.const_input(1) is None:
        return False
    if not max_stride(sw) or OW < k.target.vector_lanes // 2:
        return False
    # measured here: 1.5x faster on ShuffleNet's grouped 1x1 (Cg 6), 1.3x slower on
    # 3-channel stride-2 stems (the strided loads' shuffles)
    taps = Cg * KH * KW
    whole_vectors = (node.inputs[1].shape[0] // node.attrs.group) % k.target.vector_lanes == 0
    return sched == "pixels" or (sw == 1 and taps <= k.schedule(ConvSchedule).pixels_max_taps
                                 and not (whole_vectors and taps >= 16))


def _pixel_rows(k, node, x, y, bias, post, N, G, Cg, Mg, H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw):
    """Output pixels in the vector lanes: one work item is R output channels of one output
    row; each tile of V pixels keeps R accumulators, a tap loads the tile's inputs once (a
    stride-s tap: one load + shuffle) and does R FMAs with broadcast weights; tiles are
    stored as they are (no transpose). Edge pixels are tiles of one whose padding taps are
    dropped at compile time."""
    em = k.em
    b = em.b
    V = k.target.vector_lanes
    R = _pick_block(Mg, V if V >= 16 else 8)
    OB = Mg // R
    wdata = k.const_input(1)
    packed = wdata.reshape(G, OB, R, Cg, KH, KW).transpose(0, 1, 3, 4, 5, 2)
    wp = k.table(("conv.wpix", id(node.inputs[1]), R), np.ascontiguousarray(packed, dtype=np.float32))
    C, M = G * Cg, G * Mg
    plane = OH * OW
    lo = min(OW, _ceil_div(pw, sw))
    hi = max(lo, min(OW, (W - 1 - (KW - 1) * dw + pw) // sw + 1))
    n_full = (hi - lo) // V
    i32 = ir.IntType(32)

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
                            xv = b.load(em.gep(x, em.add(xrow, col), F32),
                                        typ=ir.VectorType(F32, (w - 1) * sw + 1), align=4)
                            if sw > 1:
                                xv = b.shuffle_vector(xv, ir.Constant(xv.type, ir.Undefined),
                                                      ir.Constant(ir.VectorType(i32, w), [j * sw for j in range(w)]))
                            for r in range(R):
                                ws = em.load(wp, em.add(wrow, kw * R + r), F32)
                                vals[r] = b.fadd(vals[r], b.fmul(xv, splat(b, ws, w), flags=FAST), flags=FAST)
                        for a, v in zip(accs, vals):
                            b.store(v, a)
            for r, a in enumerate(accs):
                b.store(b.load(a, typ=vt), em.gep(y, em.add(em.add(row0, r * plane), ow0), F32), align=4)

        for ow in range(lo):
            tile(ow, 1, True)
        if n_full > 8:
            with em.loop(0, n_full, name="tile") as i:
                tile(em.add(lo, em.mul(i, V)), V, False)
        else:
            for i in range(n_full):
                tile(lo + i * V, V, False)
        rest = lo + n_full * V
        if hi > rest:
            tile(rest, hi - rest, False)
        for ow in range(hi, OW):
            tile(ow, 1, True)
        if post is not None:
            post(row0, plane, oc0, R, OW)


@dataclass(frozen=True)
class _Geo:
    C: int
    Cg: int
    D: int
    H: int
    W: int
    KD: int
    KH: int
    KW: int
    sd: int
    sh: int
    sw: int
    dd: int
    dh: int
    dw: int
    pd: int
    ph: int
    pw: int
    OW: int
    xb: int = 0   # X stored NCHW[xb]c (0: NCHW)


@contextmanager
def _input_rows(em, geo, n, g, od, oh):
    """for ic, (kd, kh) with the input row inside the tensor: yields (ic, tap row, input row offset)."""
    gm = geo
    with em.loop(0, gm.Cg, name="ic") as ic:
        c = em.add(em.mul(g, gm.Cg), ic)
        if gm.xb:  # channel c's pixel q at ((c - c % xb) * plane + q * xb + c % xb)
            lane = em.rem(c, gm.xb)
            xch = em.add(em.mul(em.add(em.mul(n, gm.C), em.sub(c, lane)), gm.D * gm.H * gm.W), lane)
        else:
            xch = em.mul(em.add(em.mul(n, gm.C), c), gm.D * gm.H * gm.W)
        with em.loop(0, gm.KD * gm.KH, name="kdh") as kdh:
            kd, kh = em.unravel(kdh, [gm.KD, gm.KH]) if gm.KD > 1 else (0, kdh)
            idd = em.sub(em.add(em.mul(od, gm.sd), em.mul(kd, gm.dd)), gm.pd)
            ih = em.sub(em.add(em.mul(oh, gm.sh), em.mul(kh, gm.dh)), gm.ph)
            inside = em.in_range(ih, 0, gm.H)
            if gm.D > 1 or gm.KD > 1:
                in_d = em.in_range(idd, 0, gm.D)
                if isinstance(inside, bool) or isinstance(in_d, bool):
                    inside = in_d if inside is True else inside if in_d is True else False
                else:
                    inside = em.b.and_(inside, in_d)
            with em.if_(inside):
                row = em.add(em.mul(idd, gm.H * gm.W), em.mul(ih, gm.W))
                yield ic, kdh, em.add(xch, em.mul(row, gm.xb) if gm.xb else row)


def _scalar_rows(k, geo, x, y, wp, w_off, bias, rows, oc0, n, g, ob, od, oh, R):
    """R output rows, vectorized by LLVM along the output width (long rows)."""
    em = k.em
    OW = geo.OW
    inits = [em.load(bias, em.add(oc0, r), F32) if bias is not None else em.fconst(0.0) for r in range(R)]
    with em.loop(0, OW, name="ow") as ow:
        for r in range(R):
            em.store(inits[r], y, em.add(rows[r], ow), F32)
    with _input_rows(em, geo, n, g, od, oh) as (ic, kdh, xrow):
        _row_taps(k, x, y, xrow, rows, wp, lambda kw, r: w_off(g, ob, ic, kdh, kw, r),
                  R, geo.KW, geo.W, OW, geo.sw, geo.dw, geo.pw, geo.xb or 1)


def _vector_rows(k, geo, x, y, wp, bias, row0, plane, oc0, n, g, ob, od, oh, V, NV, OB, count, padded,
                 stream=None, post_reads=(), tile_post=None, blocked_out=None, mean=None):
    """NV*V output rows with the channels in the vector lanes: the row is cut into tiles of
    T pixels, each tile keeps T x NV <V x float> accumulators; per tap NV weight vector loads
    and T input broadcasts feed T*NV FMAs. Tiles are unrolled, so which taps fall into the
    padding is decided at compile time.

    ``stream`` (row, rows, blocks): this is row ``row`` of the ``rows`` that read this
    channel block's weights, of ``blocks`` blocks. Every step then prefetches its share of the
    next block's weights into L2: a model's weights come from DRAM once per inference, and
    fetched all at once by the block's first tile they left its FMAs waiting (ResNet-50's
    7x7 layers ran at 65% of peak in the model against 92% with their weights cached).
    Each tile also prefetches its pixels of ``post_reads`` for the epilogue, which
    ``tile_post`` applies to each transposed channel row before it is stored.

    ``blocked_out`` (yb, image base, row's first pixel): Y (and ``post_reads``) is stored
    NCHW[yb]c, and each accumulator, V channels of one pixel, is stored as it is; with
    ``mean`` (pointer, image base, 1/pixels), for a row that is the whole map, the
    accumulators are summed instead and each channel's mean stored at pointer[base + c]."""
    em = k.em
    b = em.b
    Cg, KH, KW, W, OW, sw, dw, pw = geo.Cg, geo.KD * geo.KH, geo.KW, geo.W, geo.OW, geo.sw, geo.dw, geo.pw
    VT = ir.VectorType(F32, V)
    # 0: 16 (AVX-512: 32 registers) or 8 accumulators; one channel vector gets twice the pixels
    # (SqueezeNet's 384->48 1x1: 74% of peak with 8 pixels, 91% with 16)
    T = k.schedule(ConvSchedule).ow_tile or (max(1, (16 if k.target.vector_bits >= 512 else 8) // NV) if NV < 3 else 8)
    if not k.schedule(ConvSchedule).ow_tile and KH * KW == 1 and Cg >= TILE_FIT_MIN_CHANNELS:
        T = _tile_pixels(OW, T, NV, 32 if k.target.vector_bits >= 512 else 16)
    undef = ir.Constant(VT, ir.Undefined)
    splat = ir.Constant(ir.VectorType(ir.IntType(32), V), [0] * V)
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
        with _input_rows(em, geo, n, g, od, oh) as (ic, kdh, xrow):
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
                    xs = b.shuffle_vector(b.insert_element(undef, xv, lane0), undef, splat)
                    for wv, a in zip(wvs, accs[j]):
                        b.store(b.fadd(b.load(a, typ=VT), b.fmul(wv, xs, flags=FAST), flags=FAST), a)
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
                cols = _transpose([b.load(accs[j0 + j][v], typ=VT) for j in range(width)], V, b)
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

    def static_tiles(lo, hi):
        for ow0 in range(lo, hi, T):
            tile(ow0, min(T, hi - ow0), True)

    if OW <= k.schedule(ConvSchedule).unroll_ow:
        static_tiles(0, OW)
    else:
        # interior: every tap of every kernel column inside the row
        lo = min(OW, _ceil_div(pw, sw))
        hi = max(lo, min(OW, _floor_div(W - 1 - (KW - 1) * dw + pw, sw) + 1))
        n_full = (hi - lo) // T
        static_tiles(0, lo)
        with em.loop(0, n_full, name="tile") as i:
            tile(em.add(lo, em.mul(i, T)), T, False)
        static_tiles(lo + n_full * T, OW)
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
    keep FMA_CHAINS accumulators busy, then the width up to what the registers hold (T x NV
    accumulators, NV weight vectors, one broadcast) that costs the fewest FMA issue slots,
    a narrow last tile counted at its latency. ResNet-50's 7x7 maps (49 pixels: 6 tiles of
    8 and one of 1) were 7-11% faster with 10 or 14 in tuning."""
    if OW % T == 0 or (OW % T) * NV >= FMA_CHAINS:
        return T

    def cost(t):
        tail = OW % t
        return (OW // t) * t * NV + (max(tail * NV, FMA_CHAINS) if tail else 0)

    widths = range(T, max(T, (registers - NV - 2) // NV) + 1)  # one register spare
    return min(widths, key=lambda t: (cost(t), -t))  # ties: fewer tiles, fewer transposes


def _transpose(rows: list, V: int, b) -> list:
    """The V x V transpose of up to V <V x float> rows (missing rows undefined): log2(V)
    stages of two-operand shuffles that swap off-diagonal blocks."""
    VT = ir.VectorType(F32, V)
    m = list(rows) + [ir.Constant(VT, ir.Undefined)] * (V - len(rows))
    mask_t = ir.VectorType(ir.IntType(32), V)
    s = V // 2
    while s >= 1:
        lo = ir.Constant(mask_t, [c if c & s == 0 else V + c - s for c in range(V)])
        hi = ir.Constant(mask_t, [c + s if c & s == 0 else V + c for c in range(V)])
        for r in range(V):
            if r & s == 0:
                a, c = m[r], m[r + s]
                m[r], m[r + s] = b.shuffle_vector(a, c, lo), b.shuffle_vector(a, c, hi)
        s //= 2
    return m


def _row_taps(k, x, y, xrow, rows, wp, w_off, R, KW, W, OW, sw, dw, pw, px=1):
    """y[rows[r] + ow] += w[kw, r] * x[xrow + (ow*sw + kw*dw - pw) * px] over the valid ow
    range (``px``: floats between neighbouring input pixels, the block of NCHW[px]c)."""
    em = k.em
    b = em.b

    def tap(kw):
        lo = em.smax(0, _ceil_div_ix(em, em.sub(pw, em.mul(kw, dw)), sw))
        hi = em.smin(OW, em.add(_floor_div_ix(em, em.sub(em.add(W - 1, pw), em.mul(kw, dw)), sw), 1))
        ws = [em.load(wp, w_off(kw, r), F32) for r in range(R)]
        xoff = em.sub(em.add(xrow, em.mul(kw, dw * px)), pw * px)
        with em.loop(lo, hi, name="ow") as ow:
            xv = em.load(x, em.add(xoff, em.mul(ow, sw * px)), F32)
            for r in range(R):
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
        return _ceil_div(a, s)
    return em.sub(0, em.sdiv_floor(em.sub(0, a), s))


def _floor_div_ix(em, a, s):
    if isinstance(a, int):
        return _floor_div(a, s)
    return em.sdiv_floor(a, s)


def _tiles_output(node, o_shape) -> bool:
    """A 2-D ConvTranspose whose kernel equals its stride (no pads, dilation, output
    padding or groups) and constant weights: every output pixel gets exactly one tap."""
    a, w = node.attrs, node.inputs[1]
    return (len(o_shape) == 4 and w.is_constant and a.group == 1 and tuple(a.kernel_shape) == tuple(a.strides)
            and not any(a.pads) and set(a.dilations) == {1} and not any(a.output_padding)
            and tuple(o_shape[2:]) == tuple(s * d for s, d in zip(a.strides, node.inputs[0].shape[2:])))


@contextmanager
def _as_node(k, node):
    """The kernel lowers ``node`` (a stand-in sharing the real node's inputs) for a while."""
    real = k.node
    k.node = node
    try:
        yield
    finally:
        k.node = real


def _conv_transpose_as_pointwise(k, node):
    """Kernel == stride: a pointwise conv to C -> M*KH*KW channels (the channel-vector kernel,
    into scratch), then each (kh, kw) channel of it scattered to its output phase, + bias.
    (PP-OCR's 2x2/2 upsampling: the gather form ran at 2% of peak, 17 ms of a 57 ms model.)"""
    em = k.em
    x, w = node.inputs[0], node.inputs[1]
    N, C, H, W = x.shape
    _, M, KH, KW = w.shape
    # output channel (m, kh, kw) of the pointwise conv: w[c, m, kh, kw]
    wp = np.ascontiguousarray(w.data.transpose(1, 2, 3, 0).reshape(M * KH * KW, C, 1, 1))
    pw_w = Value(f"{w.name}.pointwise", TensorType(wp.shape, "float32"), data=wp)
    mid_t = TensorType((N, M * KH * KW, H, W), "float32")
    pw_node = Node("Conv", [x, pw_w], [Value(f"{node.name}.phases", mid_t)],
                   Attrs(kernel_shape=(1, 1), strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1),
                   name=f"{node.name}.pointwise")
    mid = k.scratch(mid_t.nbytes)
    with _as_node(k, pw_node):
        emit_conv(k, pw_node, mid, mid_t.shape)
    k.algorithm = f"as pointwise {k.algorithm}, then phases"
    k.barrier()
    y = k.out()
    bias = k.inp(2) if len(node.inputs) > 2 else None
    OH, OW = H * KH, W * KW
    with k.parallel_loop(N * M * H * KH, W * KW) as t:
        nm, i, kh = em.unravel(t, [N * M, H, KH])
        add = em.load(bias, em.rem(nm, M), F32) if bias is not None else None
        dst = em.add(em.mul(nm, OH * OW), em.mul(em.add(em.mul(i, KH), kh), OW))
        # phase (kh, kw) of channel m: pointwise channel (m*KH + kh)*KW + kw
        srcs = [em.add(em.mul(em.add(em.mul(em.add(em.mul(nm, KH), kh), KW), kw), H * W), em.mul(i, W))
                for kw in range(KW)]
        if KW == 2:
            _interleave_pairs(k, mid, srcs, y, dst, W, add)
        else:
            for kw in range(KW):
                with em.loop(0, W, name="j") as j:
                    v = em.load(mid, em.add(srcs[kw], j), F32)
                    if add is not None:
                        v = em.b.fadd(v, add, flags=FAST)
                    em.store(v, y, em.add(dst, em.add(em.mul(j, KW), kw)), F32)


def _interleave_pairs(k, src_ptr, srcs, y, dst, W, add):
    """y[dst + 2j + p] = src[srcs[p] + j] (+ add) for j < W: vectors of the two rows
    interleaved by one shuffle and stored as one (the 2x2/2 upsampling's scatter)."""
    em = k.em
    b = em.b
    V = k.target.vector_lanes
    i32 = ir.IntType(32)

    def chunk(j0, w):
        vt = ir.VectorType(F32, w)
        rows = [b.load(em.gep(src_ptr, em.add(s_, j0), F32), typ=vt, align=4) for s_ in srcs]
        if add is not None:
            rows = [b.fadd(r, splat(b, add, w), flags=FAST) for r in rows]
        mask = ir.Constant(ir.VectorType(i32, 2 * w), [j // 2 + (w if j % 2 else 0) for j in range(2 * w)])
        b.store(b.shuffle_vector(rows[0], rows[1], mask), em.gep(y, em.add(dst, em.mul(j0, 2)), F32), align=4)

    full = W // V
    if full:
        with em.loop(0, full, name="jv") as jv:
            chunk(em.mul(jv, V), V)
    for j in range(full * V, W):
        chunk(j, 1)


@register("ConvTranspose")
def lower_conv_transpose(k, node):
    """Gather form: each output row sums the input rows/columns that land on it; kernels
    equal to their stride run as a pointwise conv plus a scatter (``_conv_transpose_as_pointwise``)."""
    if _tiles_output(node, k.out_shape()) and k.schedule(ConvSchedule).algorithm != "rows":
        _conv_transpose_as_pointwise(k, node)
        return
    a = node.attrs
    em = k.em
    b = em.b
    x_shape, w_shape, o_shape = k.in_shape(0), k.in_shape(1), k.out_shape()
    N, C, H, W, KH, KW, sh, sw, dh, dw, ph, pw, _, _ = conv_geometry(x_shape, w_shape, a)
    D, OD, KD, sd, dd, pd = depth_geometry(x_shape, w_shape, o_shape, a)
    G = a.group
    Cg, Mg = C // G, w_shape[1]
    M = Mg * G
    OH, OW = (1, o_shape[2]) if len(o_shape) == 3 else o_shape[-2:]
    x, wt, y = k.inp(0), k.inp(1), k.out()
    bias = k.inp(2) if len(node.inputs) > 2 else None

    def landing(o, kk, p, d, s, size):
        """(condition, input index) for output index o and kernel tap kk: o + p - kk*d = i*s."""
        tt = em.sub(em.add(o, p), em.mul(kk, d))
        if isinstance(tt, int):
            ok = tt >= 0 and tt % s == 0 and tt // s < size
            return ok, (tt // s if ok else 0)
        ok = b.icmp_signed(">=", tt, em.i64(0))
        if s > 1:
            ok = b.and_(ok, b.icmp_signed("==", b.srem(tt, em.i64(s)), em.i64(0)))
        i = b.sdiv(tt, em.i64(s)) if s > 1 else tt
        return b.and_(ok, b.icmp_signed("<", i, em.i64(size))), i

    with k.parallel_loop(N * G * Mg * OD * OH, Cg * KD * KH * KW * W // max(sh, 1)) as t:
        n, g, m, od, oh = em.unravel(t, [N, G, Mg, OD, OH])
        oc = em.add(em.mul(g, Mg), m)
        row = em.mul(em.add(em.mul(n, M), oc), OD * OH * OW)
        row = em.add(row, em.mul(em.add(em.mul(od, OH), oh), OW))
        init = em.load(bias, oc, F32) if bias is not None else em.fconst(0.0)
        with em.loop(0, OW, name="ow") as ow:
            em.store(init, y, em.add(row, ow), F32)
        with em.loop(0, Cg, name="ic") as ic:
            cin = em.add(em.mul(g, Cg), ic)
            xch = em.mul(em.add(em.mul(n, C), cin), D * H * W)
            wch = em.mul(em.add(em.mul(cin, Mg), m), KD * KH * KW)
            with em.loop(0, KD, name="kd") as kd:
                ok_d, idd = landing(od, kd, pd, dd, sd, D)
                with em.if_(ok_d):
                    with em.loop(0, KH, name="kh") as kh:
                        ok_h, ih = landing(oh, kh, ph, dh, sh, H)
                        with em.if_(ok_h):
                            xrow = em.add(xch, em.add(em.mul(idd, H * W), em.mul(ih, W)))
                            wrow = em.add(wch, em.mul(em.add(em.mul(kd, KH), kh), KW))
                            for kw in range(KW):
                                wv = em.load(wt, em.add(wrow, kw), F32)
                                off = kw * dw - pw                 # ow = iw*sw + off
                                lo = max(0, _ceil_div(-off, sw))
                                hi = min(W, _floor_div(OW - 1 - off, sw) + 1)
                                with em.loop(lo, hi, name="iw") as iw:
                                    p = em.add(row, em.add(em.mul(iw, sw), off))
                                    xv = em.load(x, em.add(xrow, iw), F32)
                                    em.store(b.fadd(em.load(y, p, F32), b.fmul(wv, xv, flags=FAST), flags=FAST),
                                             y, p, F32)

