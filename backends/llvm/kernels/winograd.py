"""Winograd F(2x2, 3x3) for 3x3, stride 1, dilation 1, ungrouped, batch-1 convs with
constant weights: ``conv_schedule="winograd"``, and by default ("auto") for wide maps
(``chosen``); the tuner measures both. 2.25x fewer multiplies than direct convolution.

    U  = G g G^T          weights, 4x4 per (out, in) channel, at compile time
    V  = B^T d B          every 4x4 input patch d (stride 2), per input channel
    Mo = U . V            16 GEMMs (M x C) @ (C x tiles), one per patch position
    Y  = A^T Mo A         2x2 outputs per tile, + bias, then the fused epilogue

Four phases with barriers between them, each split across threads. The transforms are
vectorized over V consecutive tiles of a tile row (strided input loads as one load +
shuffle, output pairs interleaved by a shuffle into one row store); the GEMMs put tiles in
the vector lanes on wide maps and output channels on small ones (tiles broadcast, the
result transposed in registers). Scratch: the
zero-padded input, V and Mo (16 x channels x tiles floats each).

Numerics: the transforms add and subtract (no large constants in F(2,3)), so results
agree with direct convolution to float32 rounding; the tests check rtol 1e-3, atol 1e-4
against the NumPy reference, for up to a few hundred input channels.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from ..emit import F32, FAST

BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)

MAX_TILE_VECTORS = 8   # tile-row chunks per GEMM work item (accumulators R x chunks)


def applies(node) -> bool:
    if node.op not in ("Conv", "FusedConv") or len(node.inputs) < 2:
        return False
    x, w = node.inputs[0], node.inputs[1]
    a = node.attrs
    if len(x.shape) != 4 or x.shape[0] != 1 or not w.is_constant or tuple(w.shape[2:]) != (3, 3):
        return False
    if a.group != 1 or tuple(a.strides) != (1, 1) or tuple(a.dilations) != (1, 1):
        return False
    OW = x.shape[3] + a.pads[1] + a.pads[3] - 2
    return OW >= 2 and (OW + 1) // 2 <= 16 * MAX_TILE_VECTORS


def chosen(node, params) -> bool:
    """``conv_schedule`` "winograd" where it applies; "auto" where it applies to a wide map
    (output width >= ``conv_winograd_min_width``) with >= 32 channels in and out, where it
    measured faster than the direct kernel here (ResNet-50's 3x3 layers, 1 thread, Zen 5:
    56 wide 1.3x, 28 wide 1.8x, 14 wide 1.6x; 7 wide 0.97x)."""
    sched = params["conv_schedule"]
    if sched not in ("auto", "winograd") or not applies(node):
        return False
    if sched == "winograd":
        return True
    min_w = int(params["conv_winograd_min_width"])
    x, w = node.inputs[0], node.inputs[1]
    OW = x.shape[3] + node.attrs.pads[1] + node.attrs.pads[3] - 2
    return min_w > 0 and OW >= min_w and w.shape[0] >= 32 and w.shape[1] >= 32


def weight_transform(w: np.ndarray) -> np.ndarray:
    """(16, M, C): U[i*4+j, m, c] = (G g[m, c] G^T)[i, j]."""
    u = np.einsum("ik,mckl,jl->ijmc", G, w.astype(np.float64), G)
    return u.reshape(16, w.shape[0], w.shape[1])


def _combine(b, coeffs, vecs):
    """sum_k coeffs[k] * vecs[k] with adds/subs for +-1 (every row here has one)."""
    out = None
    for c, v in zip(coeffs, vecs):
        if c == 0:
            continue
        if c not in (1, -1):
            v = b.fmul(v, ir.Constant(v.type, [float(c)] * v.type.count), flags=FAST)
        if out is None:
            out = v if c != -1 else b.fsub(ir.Constant(v.type, [0.0] * v.type.count), v, flags=FAST)
        else:
            out = b.fsub(out, v, flags=FAST) if c == -1 else b.fadd(out, v, flags=FAST)
    return out


def _splat(b, v, w):
    vt = ir.VectorType(F32, w)
    one = b.insert_element(ir.Constant(vt, ir.Undefined), v, ir.Constant(ir.IntType(32), 0))
    return b.shuffle_vector(one, ir.Constant(vt, ir.Undefined), ir.Constant(ir.VectorType(ir.IntType(32), w), [0] * w))


def emit_winograd(k, node, y, o_shape, bias, post):
    em = k.em
    b = em.b
    a = node.attrs
    _, C, H, W = k.in_shape(0)
    M = k.in_shape(1)[0]
    OH, OW = o_shape[-2:]
    ph, pw = a.pads[0], a.pads[1]
    TH, TW = -(-OH // 2), -(-OW // 2)
    P = TH * TW
    Hp, Wp = 2 * TH + 2, 2 * TW + 3
    V = k.target.vector_lanes
    chunks = [(t0, min(V, TW - t0)) for t0 in range(0, TW, V)]
    R = next(r for r in range(max(1, min(8, 24 // len(chunks))), 0, -1) if M % r == 0)

    x = k.inp(0)
    xp = k.scratch(C * Hp * Wp * 4)
    vin = k.scratch(16 * C * P * 4)
    mo = k.scratch(16 * M * P * 4)
    i32 = ir.IntType(32)

    def vload(ptr, idx, w):
        return b.load(em.gep(ptr, idx, F32), typ=ir.VectorType(F32, w), align=4)

    def vstore(val, ptr, idx):
        b.store(val, em.gep(ptr, idx, F32), align=4)

    # 0. zero-padded copy of the input
    with k.parallel_loop(C * Hp, Wp) as t:
        row = em.mul(t, Wp)
        with em.loop(0, Wp, name="z") as i:
            em.store(em.fconst(0.0), xp, em.add(row, i), F32)
        c, hp = em.unravel(t, [C, Hp])
        ih = em.sub(hp, ph)
        with em.if_(em.in_range(ih, 0, H)):
            src = em.add(em.mul(c, H * W), em.mul(ih, W))
            with em.loop(0, W, name="w") as i:
                em.store(em.load(x, em.add(src, i), F32), xp, em.add(row, em.add(i, pw)), F32)
    k.barrier()

    # 1. input transform, V tiles at a time
    with k.parallel_loop(C * TH, 16 * 4 * TW) as t:
        c, th = em.unravel(t, [C, TH])
        base = em.add(em.mul(c, Hp * Wp), em.mul(em.mul(th, 2), Wp))
        for t0, w in chunks:
            mask = ir.Constant(ir.VectorType(i32, w), [2 * j for j in range(w)])
            d = []
            for r in range(4):
                row = []
                for j in range(4):
                    raw = vload(xp, em.add(base, r * Wp + 2 * t0 + j), 2 * w - 1)
                    row.append(b.shuffle_vector(raw, ir.Constant(raw.type, ir.Undefined), mask))
                d.append(row)
            tmp = [[_combine(b, BT[i], [d[r][j] for r in range(4)]) for j in range(4)] for i in range(4)]
            for i in range(4):
                for j in range(4):
                    v = _combine(b, BT[j], tmp[i])
                    vstore(v, vin, em.add(em.mul(em.add((i * 4 + j) * C, c), P), em.add(em.mul(th, TW), t0)))
    k.barrier()

    # 2. 16 GEMMs (M x C) @ (C x P)
    MB = M // R
    if TW < V and M % V == 0:
        _gemm_channel_vectors(k, vin, mo, C, M, P, V)
        k.barrier()
    else:
        u = weight_transform(k.const_input(1))                       # (16, M, C)
        packed = u.reshape(16, MB, R, C).transpose(0, 1, 3, 2)       # [xi][m block][c][r]
        wt = k.table(("wino.w", id(node.inputs[1]), R), np.ascontiguousarray(packed, dtype=np.float32))
        _gemm_tile_vectors(k, vin, mo, wt, chunks, C, M, P, TH, TW, R, MB)
        k.barrier()
    _output_transform(k, mo, y, bias, post, chunks, M, P, OH, OW, TH, TW)


def _gemm_tile_vectors(k, vin, mo, wt, chunks, C, M, P, TH, TW, R, MB):
    """Tiles in the vector lanes: R output channels x the tile row's chunks per work item
    (wide maps)."""
    em = k.em
    b = em.b

    def vload(ptr, idx, w):
        return b.load(em.gep(ptr, idx, F32), typ=ir.VectorType(F32, w), align=4)

    def vstore(val, ptr, idx):
        b.store(val, em.gep(ptr, idx, F32), align=4)

    with k.parallel_loop(16 * MB * TH, C * R * TW) as t:
        xi, mb, th = em.unravel(t, [16, MB, TH])
        accs = [[em.local(ir.VectorType(F32, w), name="acc") for (_, w) in chunks] for _ in range(R)]
        for row in accs:
            for acc, (_, w) in zip(row, chunks):
                b.store(ir.Constant(ir.VectorType(F32, w), [0.0] * w), acc)
        vrow = em.add(em.mul(em.mul(xi, C), P), em.mul(th, TW))
        wrow = em.mul(em.add(em.mul(xi, MB), mb), C * R)
        with em.loop(0, C, name="c") as c:
            us = [vload(vin, em.add(vrow, em.add(em.mul(c, P), t0)), w) for t0, w in chunks]
            for r in range(R):
                ws = em.load(wt, em.add(wrow, em.add(em.mul(c, R), r)), F32)
                for ci, (t0, w) in enumerate(chunks):
                    acc = accs[r][ci]
                    prod = b.fmul(us[ci], _splat(b, ws, w), flags=FAST)
                    b.store(b.fadd(b.load(acc, typ=prod.type), prod, flags=FAST), acc)
        for r in range(R):
            m = em.add(em.mul(mb, R), r)
            dst = em.add(em.mul(em.add(em.mul(xi, M), m), P), em.mul(th, TW))
            for ci, (t0, w) in enumerate(chunks):
                vstore(b.load(accs[r][ci], typ=ir.VectorType(F32, w)), mo, em.add(dst, t0))


def _gemm_channel_vectors(k, vin, mo, C, M, P, V):
    """Output channels in the vector lanes (small maps): per work item NV channel vectors x
    T tiles of accumulators, weights [xi][m block][c][NV*V] (packed again here), tile values
    broadcast; the tile leaves registers transposed, as rows of T tiles per channel."""
    em = k.em
    b = em.b
    from .conv import _transpose

    NV = 2 if M % (2 * V) == 0 else 1
    T = 8 if V >= 16 else 4
    RV = NV * V
    MB = M // RV
    u = weight_transform(k.const_input(1))                        # (16, M, C)
    packed = u.reshape(16, MB, RV, C).transpose(0, 1, 3, 2)        # [xi][mb][c][RV]
    wt = k.table(("wino.wv", id(k.node.inputs[1]), RV), np.ascontiguousarray(packed, dtype=np.float32))
    VT = ir.VectorType(F32, V)
    i32 = ir.IntType(32)
    undef = ir.Constant(VT, ir.Undefined)
    splat = ir.Constant(ir.VectorType(i32, V), [0] * V)
    with k.parallel_loop(16 * MB, C * RV * P) as t:
        xi, mb = em.unravel(t, [16, MB])
        wbase = em.mul(em.add(em.mul(xi, MB), mb), C * RV)
        vbase = em.mul(em.mul(xi, C), P)
        for p0 in range(0, P, T):
            size = min(T, P - p0)
            accs = [[em.local(VT, name="acc") for _ in range(NV)] for _ in range(size)]
            for row in accs:
                for a in row:
                    b.store(ir.Constant(VT, [0.0] * V), a)
            with em.loop(0, C, name="c") as c:
                wvs = [b.load(em.gep(wt, em.add(wbase, em.add(em.mul(c, RV), v * V)), F32), typ=VT, align=4)
                       for v in range(NV)]
                vrow = em.add(vbase, em.mul(c, P))
                for j in range(size):
                    xs = em.load(vin, em.add(vrow, p0 + j), F32)
                    xv = b.shuffle_vector(b.insert_element(undef, xs, ir.Constant(i32, 0)), undef, splat)
                    for wv, a in zip(wvs, accs[j]):
                        b.store(b.fadd(b.load(a, typ=VT), b.fmul(wv, xv, flags=FAST), flags=FAST), a)
            for v in range(NV):
                cols = _transpose([b.load(accs[j][v], typ=VT) for j in range(size)], V, b)
                keep = ir.Constant(ir.VectorType(i32, size), list(range(size)))
                for r in range(V):
                    m = em.add(em.mul(mb, RV), v * V + r)
                    row = b.shuffle_vector(cols[r], undef, keep)
                    b.store(row, em.gep(mo, em.add(em.mul(em.add(em.mul(xi, M), m), P), p0), F32), align=4)


def _output_transform(k, mo, y, bias, post, chunks, M, P, OH, OW, TH, TW):
    """Y = A^T Mo A + bias, pairs interleaved into output rows, then the epilogue."""
    em = k.em
    b = em.b
    i32 = ir.IntType(32)

    def vload(ptr, idx, w):
        return b.load(em.gep(ptr, idx, F32), typ=ir.VectorType(F32, w), align=4)

    def vstore(val, ptr, idx):
        b.store(val, em.gep(ptr, idx, F32), align=4)

    plane = OH * OW
    with k.parallel_loop(M * TH, 16 * 2 * TW) as t:
        m, th = em.unravel(t, [M, TH])
        src = em.add(em.mul(m, P), em.mul(th, TW))
        bv = em.load(bias, m, F32) if bias is not None else None
        for t0, w in chunks:
            mv = [vload(mo, em.add(em.add(src, xi * M * P), t0), w) for xi in range(16)]
            tmp = [[_combine(b, AT[i], [mv[r * 4 + j] for r in range(4)]) for j in range(4)] for i in range(2)]
            out_w = min(2 * w, OW - 2 * t0)
            inter = ir.Constant(ir.VectorType(i32, out_w), [(j // 2) + (w if j % 2 else 0) for j in range(out_w)])
            for i in range(2):
                y0, y1 = (_combine(b, AT[j], tmp[i]) for j in range(2))
                if bv is not None:
                    bs = _splat(b, bv, w)
                    y0, y1 = b.fadd(y0, bs, flags=FAST), b.fadd(y1, bs, flags=FAST)
                row = b.shuffle_vector(y0, y1, inter)
                oh = em.add(em.mul(th, 2), i)
                dst = em.add(em.add(em.mul(m, plane), em.mul(oh, OW)), 2 * t0)
                if i == 1 and OH % 2:
                    with em.if_(b.icmp_signed("<", em.i64(oh), em.i64(OH))):
                        vstore(row, y, dst)
                else:
                    vstore(row, y, dst)
        if post is not None:
            for i in range(2):
                oh = em.add(em.mul(th, 2), i)
                row0 = em.add(em.mul(m, plane), em.mul(oh, OW))
                if i == 1 and OH % 2:
                    with em.if_(b.icmp_signed("<", em.i64(oh), em.i64(OH))):
                        post(row0, plane, m, 1, OW)
                else:
                    post(row0, plane, m, 1, OW)
