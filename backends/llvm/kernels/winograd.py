"""Winograd F(m x m, 3x3), m = 2 or 4, for 3x3, stride 1, dilation 1, ungrouped, batch-1
convs with constant weights: ``conv_algorithm="winograd"``, and by default ("auto") for wide
maps (``chosen``); the tuner measures both tiles and the direct kernel. The output tile is
``conv_winograd_tile``, else ``tile_size`` picks (4 but for small maps with large weights).
Multiplies per output: (m+2)^2 / m^2 instead of 9, i.e. 2.25x (m=2) or 4x (m=4) fewer.

    U  = G g G^T          weights, alpha x alpha (alpha = m + 2) per (out, in) channel,
                          at compile time in float64, then rounded to float32
    V  = B^T d B          every alpha x alpha input patch d (stride m), per input channel
    Mo = U . V            alpha^2 GEMMs (M x C) @ (C x tiles), one per patch position
    Y  = A^T Mo A         m x m outputs per tile, + bias, then the fused epilogue

The matrices are Lavin & Gray's (interpolation points 0, +-1 for F(2,3); 0, +-1, +-2 for
F(4,3)). Four phases with barriers between them, each split across threads; on large maps
phases 1-3 (transform, GEMMs, output) run band by band of tile rows, so that V and Mo stay in
L2 between them (``band_rows``), their loops split statically inside the band loop. The transforms
are vectorized over V consecutive tiles of a tile row (each input row of the tiles one load,
the alpha columns split off by stride-m shuffles; the m outputs of each tile interleaved by
shuffles into one row store), with shared sums and differences computed once (``_plan``).
The GEMMs put output channels in the vector lanes (tiles broadcast, the result transposed in
registers) where M is a multiple of the vector width, else tiles. Scratch: the zero-padded input, V and
Mo of one band (alpha^2 planes of channels x tiles floats each, planes an odd number of cache
lines apart).

Numerics: F(2,3)'s transforms only add and subtract; F(4,3)'s scale by up to 5 (B^T), 8
(A^T) and 1/24 (G), and its outputs are differences of larger intermediates, so it loses
about 20x more. Max |error| against the float64 NumPy reference, random normal inputs and
weights, C = 16..512 (M = 32..512, 7x7 to 56x56 maps, 10 shapes), as a fraction of max|Y|:
direct kernel <= 2.6e-6, F(2,3) <= 1.0e-6, F(4,3) <= 2.0e-5 (of the output's standard
deviation: 1.1e-5, 4.1e-6, 9.3e-5). The error scales with the output as a whole, not with
each element, so the tests check |error| <= tol * max|Y|: tol 2e-5 for F(2,3), 1e-4 for
F(4,3) (5x margin at C = 512).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from llvmlite import ir

from ..emit import F32, FAST
from .conv_kernel import ConvJob, ConvKernel
from .conv_schedule import ConvSchedule
from .dot import FP32_DOT, DotStep, PlanePairs
from .vectors import load_vector, splat, store_vector, transpose

# Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2015):
# Y = AT [(G g G^T) * (BT d BT^T)] AT^T for an (m+2)^2 input tile d, a 3x3 filter g.
BT2 = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
G2 = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
AT2 = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)

BT4 = np.array([[4, 0, -5, 0, 1, 0],
                [0, -4, -4, 1, 1, 0],
                [0, 4, -4, -1, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 2, -1, -2, 1, 0],
                [0, 4, 0, -5, 0, 1]], np.float64)
G4 = np.array([[1 / 4, 0, 0],
               [-1 / 6, -1 / 6, -1 / 6],
               [-1 / 6, 1 / 6, -1 / 6],
               [1 / 24, 1 / 12, 1 / 6],
               [1 / 24, -1 / 12, 1 / 6],
               [0, 0, 1]], np.float64)
AT4 = np.array([[1, 1, 1, 1, 1, 0],
                [0, 1, -1, 2, -2, 0],
                [0, 1, 1, 4, 4, 0],
                [0, 1, -1, 8, -8, 1]], np.float64)

TRANSFORMS = {2: (BT2, G2, AT2), 4: (BT4, G4, AT4)}   # output tile m -> (BT, G, AT)

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
    # bounded by the F(2,3) tile row (the most tiles per row) for either tile size
    OW = x.shape[3] + a.pads[1] + a.pads[3] - 2
    return OW >= 2 and (OW + 1) // 2 <= 16 * MAX_TILE_VECTORS


def _out_width(node) -> int:
    return node.inputs[0].shape[3] + node.attrs.pads[1] + node.attrs.pads[3] - 2


def chosen(node, schedule) -> bool:
    """``conv_algorithm`` "winograd" where it applies; "auto" where it applies to a map at
    least ``conv_winograd_min_width`` wide with >= 16 channels in and out (below 14
    wide only with transformed weights up to 8 MiB), where it measured faster than the
    direct kernel here (1 thread, Zen 5, the automatic tile: F(4,3) on all of these):
    ResNet-50's 3x3 layers 56 wide 2.6x, 28 wide 2.7x, 14 wide 2.3x; VGG-19's 224 wide
    (+ max pool) 1.1-1.2x, 112 wide 2.1-2.3x, 56 wide 2.7-3.3x, 28 wide 2.3-2.7x, 14 wide
    1.5-1.7x; SqueezeNet's 16->64 at 55x55 1.5x, 64->256 at 13x13 1.5x; Inception v1's 13x13
    layers 1.5-1.9x. Not below 12 wide by default: Inception v2's 7x7 layers measured 1.4x
    alone but made the model 3% slower, ResNet-50's 7x7 512->512 F(2,3) 1.3x alone, 16%
    slower in the model (cnncc bench, SqueezeNet 0.99 -> 0.92 of onnxruntime with these rules)."""
    sched = schedule.algorithm
    if sched not in ("auto", "winograd") or not applies(node):
        return False
    if sched == "winograd":
        return True
    min_w = schedule.winograd_min_width
    w = node.inputs[1]
    OW = _out_width(node)
    if min_w <= 0 or OW < min_w or w.shape[0] < 16 or w.shape[1] < 16:
        return False
    # below 14 wide each transformed weight serves few tiles: a model streams them from
    # memory, and large ones then cost more than the multiplies saved (ResNet-50's 7x7
    # 512->512, 16 MiB as F(2,3): 0.87 ms in the model against 0.75 ms direct)
    alpha = tile_size(node, schedule) + 2
    return OW >= 14 or alpha * alpha * w.shape[0] * w.shape[1] * 4 <= SMALL_MAP_MAX_WEIGHT_BYTES


SMALL_MAP_MAX_WEIGHT_BYTES = 8 << 20


# F(4,3)'s weights are 36/16 the size of F(2,3)'s: on small maps (few tiles to reuse each
# weight over) the GEMMs of large layers wait on streaming them from memory
TILE4_MIN_TILES = 16
TILE4_MAX_WEIGHT_BYTES = 16 << 20


def tile_size(node, schedule) -> int:
    """Output tile m: ``conv_winograd_tile`` when 2 or 4; else (0) 4, except 2 on small maps
    (< 16 F(4,3) tiles) whose F(4,3) weights exceed 16 MiB (M x C > ~116k: 512 x 512), where
    F(4,3) measured slower than F(2,3) (1 thread, Zen 5: 512->512 at 7x7 0.62x, 8x8 0.81x,
    12x12 0.84x; but 256->256 at 7x7 1.2x, 64->64 at 7x7 1.13x). On ResNet-50's and VGG-19's
    3x3 layers from 14 wide F(4,3) measured 1.04-1.75x F(2,3) (512->512 at 14x14: 0.93-1.05x)."""
    m = schedule.winograd_tile
    if m in TRANSFORMS:
        return m
    if m != 0:
        raise ValueError(f"conv_winograd_tile={m}: Winograd output tiles are 2 or 4 (0: automatic)")
    x, w = node.inputs[0], node.inputs[1]
    pads = node.attrs.pads
    OH, OW = x.shape[2] + pads[0] + pads[2] - 2, _out_width(node)
    tiles = (-(-OH // 4)) * (-(-OW // 4))
    if tiles < TILE4_MIN_TILES and 36 * w.shape[0] * w.shape[1] * 4 > TILE4_MAX_WEIGHT_BYTES:
        return 2
    return 4


def weight_transform(w: np.ndarray, m: int = 2) -> np.ndarray:
    """(alpha^2, M, C), alpha = m + 2: U[i*alpha+j, m, c] = (G g[m, c] G^T)[i, j] in float64
    (rounded to float32 once, when packed into the kernel's table)."""
    g = TRANSFORMS[m][1]
    u = np.einsum("ik,mckl,jl->ijmc", g, w.astype(np.float64), g)
    return u.reshape(len(g) ** 2, w.shape[0], w.shape[1])


def _combine(b, coeffs, vecs):
    """sum_k coeffs[k] * vecs[k]: zeros skipped, +-1 as adds/subs, other constants as a
    multiply that contracts with its add into an FMA. A +1 term (else a positive one) goes
    first so that neither a lone multiply nor a negation is needed where avoidable."""
    terms = sorted(((float(c), v) for c, v in zip(coeffs, vecs) if c != 0), key=lambda t: (t[0] < 0, t[0] != 1))
    out = None
    for c, v in terms:
        mag = abs(c)
        if out is None:
            if mag != 1:
                v = b.fmul(v, ir.Constant(v.type, [c] * v.type.count), flags=FAST)
            elif c < 0:
                v = b.fsub(ir.Constant(v.type, [0.0] * v.type.count), v, flags=FAST)
            out = v
            continue
        if mag != 1:
            v = b.fmul(v, ir.Constant(v.type, [mag] * v.type.count), flags=FAST)
        out = b.fsub(out, v, flags=FAST) if c < 0 else b.fadd(out, v, flags=FAST)
    return out


_PLANS: dict = {}   # matrix -> _plan(matrix): planned once, applied per emitted transform


def _plan(mat):
    """Each row of ``mat`` as terms (coefficient, (p, q, s)) of v_p + s*v_q (q None: v_p alone).
    Columns with equal coefficient magnitude in a row are paired, preferring the pairs that
    most rows share, so that e.g. F(4,3)'s v1 +- v2 and v3 +- v4 are computed once for all
    rows; a difference is turned around where that spares a negation. Operations (an FMA
    counted once): F(4,3) B^T 14 instead of 16, A^T 10 instead of 14; F(2,3) unchanged."""
    n = mat.shape[1]
    score = {(p, q): sum(1 for row in mat if row[p] != 0 and abs(row[p]) == abs(row[q]))
             for p in range(n) for q in range(p + 1, n)}
    order = sorted(score, key=lambda pq: -score[pq])
    plan, seen = [], set()
    for row in mat:
        left = {j for j in range(n) if row[j] != 0}
        terms = []
        for p, q in order:
            if p in left and q in left and abs(row[p]) == abs(row[q]):
                left -= {p, q}
                if row[q] == row[p]:
                    terms.append((row[p], (p, q, 1.0)))
                elif (q, p, -1.0) in seen and (p, q, -1.0) not in seen:
                    terms.append((-row[p], (q, p, -1.0)))
                else:
                    terms.append((row[p], (p, q, -1.0)))
        terms += [(row[j], (j, None, 0.0)) for j in sorted(left)]
        diffs = [i for i, (_, key) in enumerate(terms) if key[2] < 0]
        if diffs and all(c < 0 for c, _ in terms):
            i = min(diffs, key=lambda i: ((terms[i][1][1], terms[i][1][0], -1.0) not in seen, abs(terms[i][0]) != 1))
            c, (p, q, _) = terms[i]
            terms[i] = (-c, (q, p, -1.0))
        seen.update(key for _, key in terms)
        plan.append(terms)
    return plan


def _apply(b, mat, vecs):
    """[row . vecs for row in mat], shared column pairs computed once (``_plan``)."""
    pairs = {}
    mat_key = (mat.shape, mat.tobytes())
    if mat_key not in _PLANS:
        _PLANS[mat_key] = _plan(mat)

    def pair(key):
        if key not in pairs:
            p, q, sign = key
            pairs[key] = vecs[p] if q is None else _combine(b, (1, sign), (vecs[p], vecs[q]))
        return pairs[key]

    return [_combine(b, [c for c, _ in terms], [pair(key) for _, key in terms]) for terms in _PLANS[mat_key]]


def _plane_stride(n: int) -> int:
    """Floats from one of the alpha^2 transformed planes to the next: an odd number of cache
    lines, so that a transform's alpha^2 loads or stores (one per plane) fall into different
    L1 sets. With power-of-two strides (64 channels x 16 tiles = 4 KiB) they shared one set
    and F(4,3)'s 36 evicted each other: its transforms ran 3x slower."""
    lines = -(-n // 16)
    return 16 * (lines + 1 - lines % 2)


# V and Mo of one band of tile rows: about half of a 1 MiB L2, the rest for the weights and
# the input rows the transforms read
BAND_BYTES = 512 << 10
# Bands only where V and Mo of the whole map exceed this (below, L2 and L3 hold them well
# enough: ResNet-50's 56 and 28 wide layers, 3.6 MB, measured 3% slower in bands) ...
BAND_MIN_TRANSFORMED_BYTES = 4 << 20
# ... and the transformed weights, read again by every band's GEMMs, stay in L3 (32 MiB
# here): VGG-19's 256->512 at 28x28 (19 MB) measured 1.1x faster in bands, its 512->512
# at 28x28 and 14x14 (38 MB) 0.76x and 0.56x
BAND_MAX_WEIGHT_BYTES = 24 << 20


def band_rows(C: int, M: int, TH: int, TW: int, mt: int) -> int:
    """Tile rows per band: phases 1-3 run band by band so that a band's V and Mo
    ((m+2)^2 x (C + M) x tiles floats) stay in L2 between the transforms and the GEMMs,
    at least one row a band; all TH rows in one band where V and Mo of the whole map are
    small or the weights large (see the constants). On PP-OCR det's 96->24 at 160x160,
    V and Mo of the whole map (28 MB) went through DRAM: 2.2x faster in bands."""
    row = (mt + 2) ** 2 * (C + M) * TW * 4
    if row * TH <= BAND_MIN_TRANSFORMED_BYTES or (mt + 2) ** 2 * M * C * 4 > BAND_MAX_WEIGHT_BYTES:
        return TH
    return max(1, min(TH, BAND_BYTES // row))


class Winograd(ConvKernel):
    name = "winograd"

    def applies(self, geom, schedule, target) -> bool:
        return not geom.blocked and chosen(geom.node, schedule)

    def emit(self, k, job: ConvJob) -> bool:
        k.algorithm = "winograd"
        emit_winograd(k, job)
        return False


@dataclass(frozen=True)
class _Plan:
    """What the phases share: C -> M channels onto an OH x OW map in m x m tiles (TW a tile
    row), V and Mo (``vin``, ``mo``: planes SV and SM floats apart), the tile rows' chunks of
    at most V tiles, and for tiles in the lanes R channels per work item and the weights."""
    C: int
    M: int
    OH: int
    OW: int
    TW: int
    mt: int
    SV: int
    SM: int
    chunks: list
    vin: ir.Value
    mo: ir.Value
    R: int
    wt: ir.Value | None
    dot: DotStep = FP32_DOT


@dataclass(frozen=True)
class _Band:
    """Tile rows th0 .. th0 + rows - 1 (P = rows * TW tiles); ``static``: the parallel loops
    split by thread id; ``reps``: how many bands run this code (the work estimate)."""
    th0: object
    rows: int
    P: int
    static: bool
    reps: int


def emit_winograd(k, job: ConvJob, dot: DotStep = FP32_DOT) -> None:
    """``dot``: the GEMMs' multiply step; one of more than one channel (bf16 pairs) takes
    F(2,3) (F(4,3)'s transforms magnify the rounding 20x) and reads V converted to pairs."""
    em = k.em
    b = em.b
    node, o_shape = job.geom.node, job.geom.o_shape
    a = node.attrs
    _, C, H, W = k.in_shape(0)
    M = k.in_shape(1)[0]
    OH, OW = o_shape[-2:]
    ph, pw = a.pads[0], a.pads[1]
    mt = tile_size(node, k.schedule(ConvSchedule)) if dot.channels == 1 else 2
    bt, _, at = TRANSFORMS[mt]
    al = mt + 2
    A2 = al * al
    TH, TW = -(-OH // mt), -(-OW // mt)
    band = band_rows(C, M, TH, TW, mt)
    P = band * TW               # tiles per band
    # a tile row's input, m*TW + 2 columns, is read in one load per chunk
    Hp, Wp = mt * TH + 2, mt * TW + 2
    V = k.target.vector_lanes
    chunks = [(t0, min(V, TW - t0)) for t0 in range(0, TW, V)]
    R = next(r for r in range(max(1, min(8, 24 // len(chunks))), 0, -1) if M % r == 0)

    x = k.inp(0)
    xp = k.scratch(C * Hp * Wp * 4)
    SV, SM = _plane_stride(C * P), _plane_stride(M * P)
    vin = k.scratch(A2 * SV * 4)
    mo = k.scratch(A2 * SM * 4)
    if dot.channels > 1:
        SVp = _plane_stride(C // dot.channels * P)
        vpairs = k.scratch(A2 * SVp * 4)
    i32 = ir.IntType(32)

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

    def phases(th0, rows, static, reps=1):
        """Phases 1-3 on tile rows th0 .. th0 + rows - 1 (``rows`` fixed at compile time):
        V and Mo hold only these rows' tiles (rows * TW, the P of the band's GEMMs).
        ``reps``: how many bands run this code (the kernel's work estimate)."""
        bp = rows * TW
        # 1. input transform, V tiles at a time: one load per input row, the alpha columns
        # of the tiles split out of it by stride-m shuffles
        with k.parallel_loop(C * rows, A2 * 4 * TW * reps, static=static) as t:
            c, lt = em.unravel(t, [C, rows])
            base = em.add(em.mul(c, Hp * Wp), em.mul(em.mul(em.add(lt, th0), mt), Wp))
            for t0, w in chunks:
                d = []
                for r in range(al):
                    raw = load_vector(em, xp, em.add(base, r * Wp + mt * t0), mt * (w - 1) + al)
                    und = ir.Constant(raw.type, ir.Undefined)
                    d.append([b.shuffle_vector(raw, und,
                                               ir.Constant(ir.VectorType(i32, w), [j + mt * q for q in range(w)]))
                              for j in range(al)])
                cols = [_apply(b, bt, [d[r][j] for r in range(al)]) for j in range(al)]     # B^T d
                for i in range(al):
                    for j, v in enumerate(_apply(b, bt, [cols[jj][i] for jj in range(al)])):  # (B^T d) B
                        store_vector(em, v, vin, em.add(em.add((i * al + j) * SV, em.mul(c, bp)), em.add(em.mul(lt, TW), t0)))
        k.barrier()

        # 2. alpha^2 GEMMs (M x C) @ (C x bp); channels in the lanes measured faster than
        # tiles in the lanes also on wide maps (56 to 224 wide: F(2,3) 1.06-1.8x, F(4,3) 1.08x)
        band = _Band(th0, rows, bp, static, reps)
        plan = _Plan(C, M, OH, OW, TW, mt, SV, SM, chunks, vin, mo, R, wt, dot)
        if dot.channels > 1:  # (V as channel pairs: the channel-vector GEMM reads nothing else)
            dot.pair_planes(k, PlanePairs(vin, vpairs, A2, C, bp, SV, SVp), static, reps)
            k.barrier()
            _gemm_channel_vectors(k, replace(plan, C=C // dot.channels, SV=SVp, vin=vpairs), band)
        elif M % V == 0:
            _gemm_channel_vectors(k, plan, band)
        else:
            _gemm_tile_vectors(k, plan, band)
        k.barrier()
        # 3. needs no barrier before the next band's phase 1: that writes only V, which
        # phase 2 finished reading before the barrier above
        _output_transform(k, plan, band, job)

    MB = M // R
    wt = None
    if M % V:
        u = weight_transform(k.const_input(1), mt)                   # (A2, M, C)
        packed = u.reshape(A2, MB, R, C).transpose(0, 1, 3, 2)       # [xi][m block][c][r]
        wt = k.table(("wino.w", id(node.inputs[1]), mt, R), np.ascontiguousarray(packed, dtype=np.float32))
    if band == TH:
        phases(0, TH, False)
        return
    # the parallel loops inside the runtime band loop split statically (no work counters)
    full = TH // band
    with em.loop(0, full, name="band") as bi:
        phases(em.mul(bi, band), band, True, full)
    if TH % band:
        phases(full * band, TH % band, True)


def _gemm_tile_vectors(k, plan: _Plan, band: _Band) -> None:
    """Tiles in the vector lanes: R output channels x the tile row's chunks per work item
    (channel counts that are not a multiple of the vector width)."""
    em = k.em
    b = em.b
    vin, mo, wt, chunks, C, R, TW, SV, SM = (plan.vin, plan.mo, plan.wt, plan.chunks, plan.C, plan.R, plan.TW,
                                             plan.SV, plan.SM)
    P, TH, static, reps = band.P, band.rows, band.static, band.reps
    MB, A2 = plan.M // R, (plan.mt + 2) ** 2

    with k.parallel_loop(A2 * MB * TH, C * R * TW * reps, static=static) as t:
        xi, mb, th = em.unravel(t, [A2, MB, TH])
        accs = [[em.local(ir.VectorType(F32, w), name="acc") for (_, w) in chunks] for _ in range(R)]
        for row in accs:
            for acc, (_, w) in zip(row, chunks):
                b.store(ir.Constant(ir.VectorType(F32, w), [0.0] * w), acc)
        vrow = em.add(em.mul(xi, SV), em.mul(th, TW))
        wrow = em.mul(em.add(em.mul(xi, MB), mb), C * R)
        with em.loop(0, C, name="c") as c:
            us = [load_vector(em, vin, em.add(vrow, em.add(em.mul(c, P), t0)), w) for t0, w in chunks]
            for r in range(R):
                ws = em.load(wt, em.add(wrow, em.add(em.mul(c, R), r)), F32)
                for ci, (t0, w) in enumerate(chunks):
                    acc = accs[r][ci]
                    prod = b.fmul(us[ci], splat(b, ws, w), flags=FAST)
                    b.store(b.fadd(b.load(acc, typ=prod.type), prod, flags=FAST), acc)
        for r in range(R):
            m = em.add(em.mul(mb, R), r)
            dst = em.add(em.add(em.mul(xi, SM), em.mul(m, P)), em.mul(th, TW))
            for ci, (t0, w) in enumerate(chunks):
                store_vector(em, b.load(accs[r][ci], typ=ir.VectorType(F32, w)), mo, em.add(dst, t0))


def _gemm_channel_vectors(k, plan: _Plan, band: _Band) -> None:
    """Output channels in the vector lanes: per work item NV channel vectors x T tiles of
    accumulators, weights [xi][m block][c][NV*V] (packed again here), tile values broadcast;
    the tile leaves registers transposed, as rows of T tiles per channel. The blocks of T
    tiles are a runtime loop (unrolled, 56-wide maps took 0.6 s to compile)."""
    em = k.em
    b = em.b
    vin, mo, C, M, V, mt, SV, SM = plan.vin, plan.mo, plan.C, plan.M, k.target.vector_lanes, plan.mt, plan.SV, plan.SM
    P, static, reps = band.P, band.static, band.reps
    NV = 2 if M % (2 * V) == 0 else 1
    T = 8 if V >= 16 else 4
    RV = NV * V
    MB = M // RV
    u = weight_transform(k.const_input(1), mt)                    # (A2, M, C)
    A2 = len(u)
    packed = plan.dot.pack(u.reshape(A2, MB, RV, -1, 1, 1).astype(np.float32))  # [xi][mb][c][RV] (fp32)
    wt = k.table(("wino.wv", id(k.node.inputs[1]), mt, RV, plan.dot.precision), packed)
    VT = ir.VectorType(F32, V)
    i32 = ir.IntType(32)
    undef = ir.Constant(VT, ir.Undefined)
    splat = ir.Constant(ir.VectorType(i32, V), [0] * V)
    with k.parallel_loop(A2 * MB, C * RV * P * reps, static=static) as t:
        xi, mb = em.unravel(t, [A2, MB])
        wbase = em.mul(em.add(em.mul(xi, MB), mb), C * RV)
        vbase = em.mul(xi, SV)

        def block(p0, size):
            accs = [[em.local(VT, name="acc") for _ in range(NV)] for _ in range(size)]
            for row in accs:
                for a in row:
                    b.store(ir.Constant(VT, [0.0] * V), a)
            with em.loop(0, C, name="c") as c:
                wvs = [b.load(em.gep(wt, em.add(wbase, em.add(em.mul(c, RV), v * V)), F32), typ=VT, align=4)
                       for v in range(NV)]
                vrow = em.add(em.add(vbase, em.mul(c, P)), p0)
                for j in range(size):
                    xs = em.load(vin, em.add(vrow, j), F32)
                    xv = b.shuffle_vector(b.insert_element(undef, xs, ir.Constant(i32, 0)), undef, splat)
                    for wv, a in zip(wvs, accs[j]):
                        b.store(plan.dot.mac(b, b.load(a, typ=VT), wv, xv), a)
            for v in range(NV):
                cols = transpose([b.load(accs[j][v], typ=VT) for j in range(size)], V, b)
                keep = ir.Constant(ir.VectorType(i32, size), list(range(size)))
                for r in range(V):
                    m = em.add(em.mul(mb, RV), v * V + r)
                    row = b.shuffle_vector(cols[r], undef, keep)
                    b.store(row, em.gep(mo, em.add(em.add(em.mul(xi, SM), em.mul(m, P)), p0), F32), align=4)

        if P >= T:
            with em.loop(0, P // T, name="pb") as pb:
                block(em.mul(pb, T), T)
        if P % T:
            block(P - P % T, P % T)


def _output_transform(k, plan: _Plan, band: _Band, job: ConvJob) -> None:
    """Y = A^T Mo A + bias, the m outputs of each tile interleaved into output rows, then the
    epilogue; Mo holds the band's tile rows."""
    em = k.em
    b = em.b
    mo, y, bias, post = plan.mo, job.y, job.epilogue.bias, job.epilogue.rows
    chunks, M, OH, OW, TW, mt, SM = plan.chunks, plan.M, plan.OH, plan.OW, plan.TW, plan.mt, plan.SM
    P, th0, TH, static, reps = band.P, band.th0, band.rows, band.static, band.reps
    i32 = ir.IntType(32)
    at = TRANSFORMS[mt][2]
    al = mt + 2

    def guarded(i, th, emit):
        """The last tile row's rows past OH are not written."""
        oh = em.add(em.mul(th, mt), i)
        if OH % mt and i >= OH % mt:
            with em.if_(b.icmp_signed("<", em.i64(oh), em.i64(OH))):
                emit(oh)
        else:
            emit(oh)

    plane = OH * OW
    with k.parallel_loop(M * TH, al * al * mt * TW * reps, static=static) as t:
        m, lt = em.unravel(t, [M, TH])
        src = em.add(em.mul(m, P), em.mul(lt, TW))
        th = em.add(lt, th0)
        bv = em.load(bias, m, F32) if bias is not None else None
        for t0, w in chunks:
            mv = [load_vector(em, mo, em.add(em.add(src, xi * SM), t0), w) for xi in range(al * al)]
            cols = [_apply(b, at, [mv[r * al + j] for r in range(al)]) for j in range(al)]   # A^T Mo
            out_w = min(mt * w, OW - mt * t0)
            # output column mt*q + j is lane q of ys[j]; ys are concatenated pairwise first
            inter = ir.Constant(ir.VectorType(i32, out_w), [(j % mt) * w + j // mt for j in range(out_w)])
            for i in range(mt):
                ys = _apply(b, at, [cols[j][i] for j in range(al)])                   # (A^T Mo) A
                if bv is not None:
                    bs = splat(b, bv, w)
                    ys = [b.fadd(v, bs, flags=FAST) for v in ys]
                while len(ys) > 2:
                    n = ys[0].type.count
                    cat = ir.Constant(ir.VectorType(i32, 2 * n), list(range(2 * n)))
                    ys = [b.shuffle_vector(ys[q], ys[q + 1], cat) for q in range(0, len(ys), 2)]
                row = b.shuffle_vector(ys[0], ys[1], inter)
                guarded(i, th, lambda oh, row=row: store_vector(em, row, y, em.add(em.add(em.mul(m, plane), em.mul(oh, OW)),
                                                                          mt * t0)))
        if post is not None:
            for i in range(mt):
                guarded(i, th, lambda oh: post(em.add(em.mul(m, plane), em.mul(oh, OW)), plane, m, 1, OW))
