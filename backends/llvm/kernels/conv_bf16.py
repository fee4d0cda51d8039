"""bf16 convolutions on AVX512-BF16 dot products: the channel-vector kernel (conv_direct.py)
with input channels taken in pairs.

``vdpbf16ps acc, w, x`` adds, in each of its fp32 lanes, w[2i]*x[2i] + w[2i+1]*x[2i+1]: twice
the multiply-adds of an fp32 FMA per instruction, and on cpus that issue it as often as an
FMA (AMD Zen 4 and 5) twice the peak. One step of the kernel is a pair of input channels:
the weight vector holds (w[oc][ic], w[oc][ic+1]) per output channel lane, and the input
broadcast is one 32-bit word holding (x[ic], x[ic+1]) of one pixel. So the kernel first
converts its input to bf16 pairs in scratch, [n][g][ic/2][pixel] words (a strided 1x1 conv's
subsampling folded in), then runs the fp32 kernel's tiles, sweeps and epilogue unchanged:
accumulators are fp32, the epilogue runs in fp32 and the output is stored as fp32.

Rounding is to nearest even, in integer arithmetic (a NaN whose payload is only in the low
16 bits may become an infinity). An odd channel count is padded with a zero channel.

Also here: ``Bf16Winograd``, Winograd F(2,3) whose GEMMs run on the same pairs (winograd.py
with a DotStep), only when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from llvmlite import ir
from llvmlite.ir.types import _BaseFloatType

from ..emit import F32, I32
from .conv_direct import _emit_direct, _tiles_of, conv_input
from .conv_geom import ConvGeom
from .conv_kernel import ConvJob, ConvKernel
from .dot import DotStep, PlanePairs
from .winograd import chosen as winograd_chosen
from .winograd import emit_winograd

BF16_FEATURE = "avx512bf16"
# fp32 lanes of the forms of vdpbf16ps
DOT_LANES = (16, 8, 4)
# pixels converted per vector step
CONVERT_LANES = 16


class BFloatType(_BaseFloatType):
    """LLVM's ``bfloat`` (llvmlite 0.50's ir has no such type; only the intrinsics use it)."""
    null = "0.0"
    intrinsic_name = "bf16"

    def __str__(self):
        return "bfloat"


BFloatType._create_instance()
BF16 = BFloatType()


def round_to_bf16(x: np.ndarray) -> np.ndarray:
    """float32 -> bf16 bit patterns (uint16), rounded to nearest even; NaN stays NaN."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    return np.where(nan, np.uint16(0x7FC0), r)


def bf16_to_float(bits: np.ndarray) -> np.ndarray:
    return (np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def _dot_intrinsic(module: ir.Module, lanes: int) -> ir.Function:
    name = f"llvm.x86.avx512bf16.dpbf16ps.{lanes * 32}"
    fn = module.globals.get(name)
    if fn is None:
        vt, pt = ir.VectorType(F32, lanes), ir.VectorType(BF16, 2 * lanes)
        fn = ir.Function(module, ir.FunctionType(vt, [vt, pt, pt]), name)
    return fn


def rounded_bits(b, v, t: ir.Type):
    """The float(s) ``v`` as i32 bits whose upper half is the bf16 rounded to nearest even."""
    def c(x):
        return ir.Constant(t, [x] * t.count) if isinstance(t, ir.VectorType) else ir.Constant(t, x)
    u = b.bitcast(v, t)
    odd = b.and_(b.lshr(u, c(16)), c(1))
    return b.add(b.add(u, c(0x7FFF)), odd)


def _pair(b, lo, hi, t: ir.Type, hi_mask):
    """One word per lane: bf16(lo) in the low half, bf16(hi) in the high half."""
    def c(x):
        return ir.Constant(t, [x] * t.count) if isinstance(t, ir.VectorType) else ir.Constant(t, x)
    return b.or_(b.and_(rounded_bits(b, hi, t), hi_mask(c)), b.lshr(rounded_bits(b, lo, t), c(16)))


def paired_input(k, geom: ConvGeom):
    """Input channel pairs of ``geom`` as bf16 words in scratch, and the geometry the kernel
    reads them with (C: the pairs; one word per pixel; a blocked input NCHW[xb]c becomes
    NCHW[xb/2]c of pair words)."""
    if geom.xb:
        return _paired_blocked_input(k, geom)
    em, b = k.em, k.em.b
    x = k.inp(0)
    G, Cg = geom.G, geom.Cg
    pairs = (Cg + 1) // 2
    pixels = geom.D * geom.H * geom.W
    src = geom.subsample
    # source rows: the whole plane as one row, or a strided 1x1 conv's kept rows and pixels
    if src is None:
        rows, width, pitch, step, plane_in = 1, pixels, 0, 1, pixels
    else:
        rows, width, pitch, step, plane_in = src.OH, src.OW, src.sh * src.W, src.sw, src.H * src.W
    words = k.scratch(geom.N * G * pairs * pixels * 4)
    with k.parallel_loop(geom.N * G * pairs * rows, 2 * width) as t:
        n, g, icp, r = em.unravel(t, [geom.N, G, pairs, rows])
        c0 = em.add(em.mul(g, Cg), em.mul(icp, 2))
        lo = em.add(em.mul(em.add(em.mul(n, geom.C), c0), plane_in), em.mul(r, pitch))
        if Cg % 2:  # the last pair of a group has no second channel: its half is zero
            has_hi = b.icmp_signed("<", em.i64(em.add(em.mul(icp, 2), 1)), em.i64(Cg))
            hi = em.add(lo, b.select(has_hi, em.i64(plane_in), em.i64(0)))

            def hi_mask(c):
                return b.select(has_hi, _keep_hi(c), c(0))
        else:
            hi, hi_mask = em.add(lo, plane_in), _keep_hi
        _convert_row(em, _Row(x, words, lo, hi, em.mul(t, width), width, step), hi_mask)
    k.barrier()
    return words, replace(geom, C=G * pairs, subsample=None)


def _keep_hi(c):
    return c(0xFFFF0000 - (1 << 32))


@dataclass(frozen=True)
class _Row:
    """One row of pair words: dst[i] = (src[lo + i*step], src[hi + i*step]) for i < width."""
    src: ir.Value
    dst: ir.Value
    lo: object
    hi: object
    at: object
    width: int
    step: int


def _convert_row(em, row: _Row, hi_mask=_keep_hi) -> None:
    """Whole vectors, then the rest under a compile-time mask. A vector of 16 pixels with a
    step reads 15*step+1 floats: inside its row, since a strided 1x1 conv's last kept pixel
    is at most the row's last."""
    b = em.b
    IV = ir.VectorType(I32, CONVERT_LANES)
    nvec, tail = divmod(row.width, CONVERT_LANES)
    if nvec:
        with em.loop(0, nvec, name="q") as q:
            q0 = em.mul(q, CONVERT_LANES)
            a = _load_pixels(em, row.src, em.add(row.lo, em.mul(q0, row.step)), row.step)
            c = _load_pixels(em, row.src, em.add(row.hi, em.mul(q0, row.step)), row.step)
            b.store(_pair(b, a, c, IV, hi_mask), em.gep(row.dst, em.add(row.at, q0), I32), align=4)
    if tail:
        q0 = nvec * CONVERT_LANES
        a = _load_pixels(em, row.src, em.add(row.lo, q0 * row.step), row.step, tail)
        c = _load_pixels(em, row.src, em.add(row.hi, q0 * row.step), row.step, tail)
        _masked_store(em, _pair(b, a, c, IV, hi_mask), em.gep(row.dst, em.add(row.at, q0), I32), tail)


def _paired_blocked_input(k, geom: ConvGeom):
    """NCHW[xb]c input (even xb, ungrouped): a pixel's channels c, c+1 of a block are
    neighbours, so the pairs are every two floats in order, converted in one sweep."""
    em = k.em
    x = conv_input(k, geom)  # (a strided conv's subsampled copy, still blocked)
    words = geom.N * geom.C * geom.D * geom.H * geom.W // 2
    out = k.scratch(words * 4)
    chunk = 64 * CONVERT_LANES  # words per work item
    with k.parallel_loop(-(-words // chunk), 2 * chunk) as t:
        w0 = em.mul(t, chunk)
        adjacent_pairs(em, x, out, (w0, em.smin(em.add(w0, chunk), words)), whole=words - words % CONVERT_LANES)
    k.barrier()
    return out, replace(geom, C=geom.C // 2, xb=geom.xb // 2, subsample=None)


def adjacent_pairs(em, src, dst, span: tuple, whole: int) -> None:
    """dst[w] = (src[2w], src[2w+1]) as a bf16 pair word, for w in span = (w0, w1); vectors
    of 16 words up to ``whole`` (a multiple of 16 at which no vector may start past), the
    rest one word at a time."""
    b = em.b
    w0, w1 = span
    FV, IV = ir.VectorType(F32, 2 * CONVERT_LANES), ir.VectorType(I32, 2 * CONVERT_LANES)
    OV = ir.VectorType(I32, CONVERT_LANES)
    vec_stop = em.smin(w1, whole)
    with em.loop(w0, vec_stop, step=CONVERT_LANES, name="w") as w:
        r = rounded_bits(b, b.load(em.gep(src, em.mul(w, 2), F32), typ=FV, align=4), IV)
        lo = b.shuffle_vector(r, ir.Constant(IV, ir.Undefined), ir.Constant(OV, list(range(0, 2 * CONVERT_LANES, 2))))
        hi = b.shuffle_vector(r, ir.Constant(IV, ir.Undefined), ir.Constant(OV, list(range(1, 2 * CONVERT_LANES, 2))))
        pair = b.or_(b.and_(hi, ir.Constant(OV, [-65536] * CONVERT_LANES)), b.lshr(lo, ir.Constant(OV, [16] * CONVERT_LANES)))
        b.store(pair, em.gep(dst, w, I32), align=4)
    with em.loop(em.smax(w0, vec_stop), w1, name="w") as w:
        lo = em.load(src, em.mul(w, 2), F32)
        hi = em.load(src, em.add(em.mul(w, 2), 1), F32)
        em.store(_pair(b, lo, hi, I32, _keep_hi), dst, w, I32)


def _load_pixels(em, x, idx, step: int, count: int = CONVERT_LANES):
    """CONVERT_LANES floats x[idx + j*step]: one load, and a shuffle when strided; only the
    first ``count`` are read (a masked load: the lanes past them are undefined)."""
    b = em.b
    wide = (CONVERT_LANES - 1) * step + 1
    ptr = em.gep(x, idx, F32)
    if count == CONVERT_LANES:
        v = b.load(ptr, typ=ir.VectorType(F32, wide), align=4)
    else:
        v = masked_load(em, ptr, wide, (count - 1) * step + 1)
    if step == 1:
        return v
    return b.shuffle_vector(v, ir.Constant(v.type, ir.Undefined),
                            ir.Constant(ir.VectorType(I32, CONVERT_LANES), [j * step for j in range(CONVERT_LANES)]))


def _mask(lanes: int, count: int) -> ir.Constant:
    return ir.Constant(ir.VectorType(ir.IntType(1), lanes), [j < count for j in range(lanes)])


def masked_load(em, ptr, lanes: int, count: int, zeros: bool = False):
    """``lanes`` floats at ``ptr`` of which only the first ``count`` are read; the others
    undefined, or 0.0 with ``zeros`` (a dot product's tail)."""
    vt = ir.VectorType(F32, lanes)
    name = f"llvm.masked.load.v{lanes}f32.p0"
    fn = em.module.globals.get(name) or ir.Function(
        em.module, ir.FunctionType(vt, [ir.PointerType(), I32, ir.VectorType(ir.IntType(1), lanes), vt]), name)
    rest = ir.Constant(vt, [0.0] * lanes) if zeros else ir.Constant(vt, ir.Undefined)
    return em.b.call(fn, [ptr, ir.Constant(I32, 4), _mask(lanes, count), rest])


def _masked_store(em, value, ptr, count: int) -> None:
    lanes = value.type.count
    name = f"llvm.masked.store.v{lanes}i32.p0"
    fn = em.module.globals.get(name) or ir.Function(
        em.module, ir.FunctionType(ir.VoidType(), [value.type, ir.PointerType(), I32, ir.VectorType(ir.IntType(1), lanes)]),
        name)
    em.b.call(fn, [value, ptr, ir.Constant(I32, 4), _mask(lanes, count)])


@dataclass(frozen=True)
class Bf16Pairs(DotStep):
    """A pair of input channels per step: bf16 weights and inputs, fp32 accumulators."""

    label: str = "bf16 "
    precision: str = "bf16"
    channels: int = 2

    def pair_planes(self, k, job: PlanePairs, static: bool, reps: int) -> None:
        """Winograd's V as channel pairs (an odd channel count does not take Winograd)."""
        em = k.em
        pairs = job.channels // 2
        with k.parallel_loop(job.planes * pairs, 2 * job.row * reps, static=static) as t:
            xi, cp = em.unravel(t, [job.planes, pairs])
            lo = em.add(em.mul(xi, job.src_plane), em.mul(cp, 2 * job.row))
            at = em.add(em.mul(xi, job.dst_plane), em.mul(cp, job.row))
            _convert_row(em, _Row(job.src, job.dst, lo, em.add(lo, job.row), at, job.row, 1))

    def input(self, k, geom):
        return paired_input(k, geom)

    def pack(self, w: np.ndarray) -> np.ndarray:
        G, OB, R, Cg, KH, KW = w.shape
        if Cg % 2:
            w = np.concatenate([w, np.zeros((G, OB, R, 1, KH, KW), w.dtype)], axis=3)
        pairs = w.reshape(G, OB, R, (Cg + 1) // 2, 2, KH, KW).transpose(0, 1, 3, 5, 6, 2, 4)
        return np.ascontiguousarray(round_to_bf16(pairs))  # [g][ob][icp][kh][kw][r][2]

    def mac(self, b, acc, w, x):
        lanes = acc.type.count
        pt = ir.VectorType(BF16, 2 * lanes)
        fn = _dot_intrinsic(b.block.function.module, lanes)
        return b.call(fn, [acc, b.bitcast(w, pt), b.bitcast(x, pt)])


BF16_PAIRS = Bf16Pairs()


class Bf16ChannelVectors(ConvKernel):
    """The channel-vector kernel on bf16 pairs, for builds at bf16 on cpus with AVX512-BF16,
    constant weights and at least two input channels per group, except where the fp32
    build would take Winograd (that stays fp32 Winograd unless ``conv_bf16_winograd``)."""

    name = "bf16 channel vectors"

    def applies(self, geom, schedule, target) -> bool:
        if geom.precision != "bf16" or not target.has_feature(BF16_FEATURE):
            return False
        if schedule.algorithm == "auto" and not geom.blocked and winograd_chosen(geom.node, schedule):
            # fp32 Winograd F(4,3) does a quarter of the multiplies: in the model it ran as
            # fast as this kernel on ResNet-50's 3x3 layers and far faster on VGG-19's (the whole
            # VGG-19 at bf16 took 187 ms with them direct, 142 ms with them fp32 Winograd; fp32
            # 156 ms; znver4), and it keeps fp32's accuracy there
            return False
        if geom.weights is None or geom.Cg < 2 or schedule.algorithm not in ("auto", "direct"):
            return False
        if geom.xb and (geom.xb % 2 or geom.Cg % 2 or geom.G > 1):  # (blocked: always even, ungrouped)
            return False
        # (the 128/256-bit forms need AVX512VL, which every cpu with AVX512-BF16 has)
        return _tiles_of(geom, schedule, target)[0] in DOT_LANES

    def emit(self, k, job: ConvJob) -> bool:
        k.precision_used = "bf16"
        return _emit_direct(k, job, True, BF16_PAIRS)


class Bf16Winograd(ConvKernel):
    """Winograd F(2,3) with the GEMMs on bf16 channel pairs (transforms in fp32), where the
    fp32 build would take Winograd (winograd.chosen), with an even input channel count and
    output channels in whole vectors; only when asked (``conv_bf16_winograd``, or
    ``conv_algorithm="winograd"`` in a bf16 build). ResNet-50's 3x3 stride-1 layers ran 1.3-1.6x
    faster than the direct bf16 kernel (znver4), but its rounding error is about 1.8x the
    direct kernel's (V and U rounded after transforms that add up to four terms; F(4,3)'s
    would make it 20x): the whole ResNet-50 (seeded random weights) went from 1.5e-2 to
    2.0e-2 of the output's largest magnitude, the edge of the bound bf16 builds keep."""

    name = "bf16 winograd"

    def applies(self, geom, schedule, target) -> bool:
        if not (schedule.bf16_winograd or schedule.algorithm == "winograd"):
            return False
        return (geom.precision == "bf16" and target.has_feature(BF16_FEATURE) and not geom.blocked
                and geom.C % 2 == 0 and geom.M % target.vector_lanes == 0 and target.vector_lanes in DOT_LANES
                and winograd_chosen(geom.node, schedule))

    def emit(self, k, job: ConvJob) -> bool:
        k.algorithm = "bf16 winograd"
        k.precision_used = "bf16"
        emit_winograd(k, job, BF16_PAIRS)
        return False
