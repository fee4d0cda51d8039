"""Gemm and MatMul (batched, broadcasting, 1-D operands).

Schedule: a work item is ``RB`` rows of C times a column block of ``NB`` columns; for each k
the RB values of A are broadcast against one contiguous row of B (i-k-j order), so the
inner loop is a unit-stride FMA loop that LLVM vectorizes. When B is stored transposed
(Gemm transB, e.g. every classifier layer), each output is instead a dot product of two
contiguous rows (vectorized as a reassociated reduction), so B is used in place: no
transposed copy of VGG's 400 MB classifier at compile time. RB is ``gemm_row_block``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from llvmlite import ir

from ..emit import F32, FAST, REASSOC
from ..lowering import register
from ..schedule import Schedule, schedule_family
from .conv_direct import pick_block
from .strided import broadcast_strides
from .vectors import splat


@schedule_family("gemm", ops={"Gemm", "MatMul", "FusedGemm"})
@dataclass(frozen=True)
class GemmSchedule(Schedule):
    """Parameters ``gemm_<field>``."""
    row_block: int = 4        # output rows sharing one pass over B

    @classmethod
    def space(cls, node, target) -> list[GemmSchedule]:
        """The default, then each row block."""
        from dataclasses import replace
        base = cls.for_target(target)
        return [base] + [replace(base, row_block=r) for r in (1, 2, 3, 4, 6, 8)]


NB = 512  # column block: RB rows of C stay in L1 while B streams


@dataclass(frozen=True)
class Gemm:
    """y[bt, i, j] = alpha * sum_k A[bt, i, k] * B[bt, k, j] (+ c(bt, i, j) value).

    a_strides/b_strides: (batch offsets per batch index list, row stride, col stride).
    ``post(rows, i0, j0, j1)`` runs after each work item's rows are complete (epilogues)."""
    batch: list
    M: int
    N: int
    K: int
    a_ptr: ir.Value
    a_strides: tuple
    b_ptr: ir.Value
    b_strides: tuple
    y: ir.Value
    c: Callable | None = None
    alpha: float = 1.0
    post: Callable | None = None
    b_pairs: bool = False  # b_ptr holds B^T as bf16 pair rows (gemm_bf16.pack_columns)


def gemm_core(k, p: Gemm) -> None:
    em = k.em
    b = em.b
    batch, M, N, K, a_ptr, b_ptr, y, c, alpha, post = (p.batch, p.M, p.N, p.K, p.a_ptr, p.b_ptr, p.y, p.c, p.alpha,
                                                        p.post)
    a_strides, b_strides = p.a_strides, p.b_strides
    RB = pick_block(M, k.schedule(GemmSchedule).row_block)
    nb = -(-N // NB)
    nblk = -(-N // nb)
    a_bs, a_rs, a_cs = a_strides
    b_bs, b_rs, b_cs = b_strides
    nbatch = math.prod(batch)
    if p.b_pairs:
        from .gemm_bf16 import dot_rows_bf16  # (it imports this module)
        k.algorithm, k.precision_used = "bf16 dot rows", "bf16"
        dot_rows_bf16(k, p, (RB, nb, nblk))
        return
    if b_rs == 1 and b_cs != 1:
        _dot_rows(k, p, (RB, nb, nblk))
        return
    if b_cs == 1 and N >= k.target.vector_lanes:
        # twice the rows of the other schedules: B is read once per row block (PP-OCR rec's
        # 40x120 @ 120x6625: 171 GFLOP/s with 4 rows, 212 with 8)
        RB2 = pick_block(M, 2 * k.schedule(GemmSchedule).row_block)
        _register_tiles(k, p, RB2)
        return
    with k.parallel_loop(nbatch * (M // RB) * nb, RB * K * nblk) as t:
        bidx, a_base, b_base, i0, j0, j1, rows = _work_item(em, t, p, (RB, nb, nblk))
        with em.loop(j0, j1, name="j") as j:
            for r in range(RB):
                init = c(bidx, em.add(i0, r), j) if c is not None else em.fconst(0.0)
                em.store(init, y, em.add(rows[r], j), F32)
        with em.loop(0, K, name="k") as kk:
            av = []
            for r in range(RB):
                v = em.load(a_ptr, em.add(a_base, em.add(em.mul(em.add(i0, r), a_rs), em.mul(kk, a_cs))), F32)
                av.append(b.fmul(v, em.fconst(alpha)) if alpha != 1.0 else v)
            brow = em.add(b_base, em.mul(kk, b_rs))
            with em.loop(j0, j1, name="j") as j:
                bv = em.load(b_ptr, em.add(brow, em.mul(j, b_cs)), F32)
                for r in range(RB):
                    p = em.add(rows[r], j)
                    em.store(b.fadd(em.load(y, p, F32), b.fmul(av[r], bv, flags=FAST), flags=FAST), y, p, F32)
        if post is not None:
            post(rows, i0, j0, j1)


def _register_tiles(k, p: Gemm, RB: int) -> None:
    """B rows contiguous: register tiles of RB rows x NV column vectors accumulate over all
    of K (per k: NV vector loads of B, RB broadcasts of A, RB*NV FMAs) and are stored once.
    Column blocks are whole tiles but the last, whose narrower tail tile is known at compile
    time. (The i-k-j loop before kept the output rows in memory: a load and a store per FMA;
    PP-OCR rec's 40x120 @ 120x6625 ran at 54 GFLOP/s.)"""
    em = k.em
    b = em.b
    batch, M, N, K, a_ptr, b_ptr, y, c, alpha, post = (p.batch, p.M, p.N, p.K, p.a_ptr, p.b_ptr, p.y, p.c, p.alpha,
                                                        p.post)
    a_strides, b_strides = p.a_strides, p.b_strides
    V = k.target.vector_lanes
    NV = max(1, min(4, 16 // RB))
    W = NV * V
    nbatch = math.prod(batch)
    a_bs, a_rs, a_cs = a_strides
    b_bs, b_rs, _ = b_strides
    nblk = -(-min(N, NB) // W) * W            # a column block: whole tiles
    nb = -(-N // nblk)
    tail = (N - (nb - 1) * nblk) % W          # the last block's narrower tile

    def tile(j, width, item):
        bidx, a_base, b_base, i0, rows = item
        widths = [V] * (width // V) + ([width % V] if width % V else [])
        offs = [q * V for q in range(len(widths))]
        accs = [[em.local(ir.VectorType(F32, w), name="acc") for w in widths] for _ in range(RB)]
        for row in accs:
            for a, w in zip(row, widths):
                b.store(ir.Constant(ir.VectorType(F32, w), [0.0] * w), a)
        with em.loop(0, K, name="k") as kk:
            brow = em.add(b_base, em.add(em.mul(kk, b_rs), j))
            bvs = [b.load(em.gep(b_ptr, em.add(brow, o), F32), typ=ir.VectorType(F32, w), align=4)
                   for o, w in zip(offs, widths)]
            for r in range(RB):
                av = em.load(a_ptr, em.add(a_base, em.add(em.mul(em.add(i0, r), a_rs), em.mul(kk, a_cs))), F32)
                for a, bv, w in zip(accs[r], bvs, widths):
                    prod = b.fmul(splat(b, av, w), bv, flags=FAST)
                    b.store(b.fadd(b.load(a, typ=bv.type), prod, flags=FAST), a)
        for r in range(RB):
            for a, o, w in zip(accs[r], offs, widths):
                v = b.load(a, typ=ir.VectorType(F32, w))
                if alpha != 1.0:
                    v = b.fmul(v, splat(b, em.fconst(alpha), w))
                dst = em.add(rows[r], em.add(j, o))
                if c is not None:
                    for q in range(w):
                        add = c(bidx, em.add(i0, r), em.add(j, o + q))
                        v = b.insert_element(v, b.fadd(b.extract_element(v, ir.Constant(ir.IntType(32), q)), add),
                                             ir.Constant(ir.IntType(32), q))
                b.store(v, em.gep(y, dst, F32), align=4)

    with k.parallel_loop(nbatch * (M // RB) * nb, RB * K * nblk) as t:
        bidx, a_base, b_base, i0, j0, j1, rows = _work_item(em, t, p, (RB, nb, nblk))
        jm = em.add(j0, em.mul(em.div(em.sub(j1, j0), W), W))
        with em.loop(j0, jm, step=W, name="j") as j:
            tile(j, W, (bidx, a_base, b_base, i0, rows))
        if tail:
            with em.if_(b.icmp_signed("<", em.i64(jm), em.i64(j1))):
                tile(jm, tail, (bidx, a_base, b_base, i0, rows))
        if post is not None:
            post(rows, i0, j0, j1)


# columns of B^T per pass of the dot-product kernel: independent reductions for the FMA
# pipes and one load of A per JB FMAs
JB = 4


def _dot_rows(k, p: Gemm, blocks: tuple) -> None:
    """y[i, j] = alpha * dot(A[i, :], B[:, j]) with B's columns contiguous; JB columns at a
    time (a batch-1 classifier layer is a matrix-vector product: one reduction chain per
    output left it waiting on FMA latency)."""
    em = k.em
    b = em.b
    M, K, a_ptr, b_ptr, y, c, alpha, post = p.M, p.K, p.a_ptr, p.b_ptr, p.y, p.c, p.alpha, p.post
    RB, nb, nblk = blocks
    a_bs, a_rs, a_cs = p.a_strides
    b_bs, _, b_cs = p.b_strides
    nbatch = math.prod(p.batch)

    def columns(j, width):
        accs = [[em.local(F32, name="acc") for _ in range(width)] for _ in range(RB)]
        for row in accs:
            for a in row:
                b.store(em.fconst(0.0), a)
        bcols = [em.add(b_base, em.mul(em.add(j, q), b_cs)) for q in range(width)]
        with em.loop(0, K, name="k") as kk:
            bvs = [em.load(b_ptr, em.add(col, kk), F32) for col in bcols]
            for r in range(RB):
                av = em.load(a_ptr, em.add(a_base, em.add(em.mul(em.add(i0, r), a_rs), em.mul(kk, a_cs))), F32)
                for q, bv in enumerate(bvs):
                    acc = accs[r][q]
                    b.store(b.fadd(b.load(acc, typ=F32), b.fmul(av, bv, flags=REASSOC), flags=REASSOC), acc)
        for r in range(RB):
            for q in range(width):
                v = b.load(accs[r][q], typ=F32)
                if alpha != 1.0:
                    v = b.fmul(v, em.fconst(alpha))
                jq = em.add(j, q)
                if c is not None:
                    v = b.fadd(v, c(bidx, em.add(i0, r), jq))
                em.store(v, y, em.add(rows[r], jq), F32)

    with k.parallel_loop(nbatch * (M // RB) * nb, RB * K * nblk) as t:
        bidx, a_base, b_base, i0, j0, j1, rows = _work_item(em, t, p, blocks)
        jm = em.add(j0, em.mul(em.div(em.sub(j1, j0), JB), JB))   # end of the whole JB groups
        with em.loop(j0, jm, step=JB, name="j") as j:
            columns(j, JB)
        with em.loop(jm, j1, name="j") as j:
            columns(j, 1)
        if post is not None:
            post(rows, i0, j0, j1)


def gemm_operands(k, node, alpha):
    """K and the A/B pointers and strides of a Gemm-like node; constant B is packed (K, N)
    with alpha folded in, else alpha stays a multiplier."""
    a = node.attrs
    A_shape = k.in_shape(0)
    M, N = k.out_shape()
    K = A_shape[0] if a.transA else A_shape[1]
    a_str = ([], 1, M) if a.transA else ([], K, 1)
    bdata = k.const_input(1)
    from . import gemm_bf16  # (it imports this module)
    if gemm_bf16.applies(k, node, bdata):  # bf16 pair rows of B^T, alpha folded in
        if alpha != 1.0:
            bdata = (bdata.astype(np.float64) * alpha).astype(np.float32)
        b_ptr = k.table(("gemm.b.bf16", id(node.inputs[1]), alpha), gemm_bf16.pack_columns(bdata, a.transB))
        return dict(K=K, a_ptr=k.inp(0), a_strides=a_str, b_ptr=b_ptr, b_strides=([], 1, (K + 1) // 2), alpha=1.0,
                    b_pairs=True)
    if bdata is not None:  # used in its own layout; alpha folded in when it is not 1
        if alpha != 1.0:
            bdata, alpha = (bdata.astype(np.float64) * alpha).astype(np.float32), 1.0
        b_ptr = k.table(("gemm.b", id(node.inputs[1]), alpha), bdata)
        b_str = ([], 1, K) if a.transB else ([], N, 1)
    else:
        b_ptr = k.inp(1)
        b_str = ([], 1, K) if a.transB else ([], N, 1)
    return dict(K=K, a_ptr=k.inp(0), a_strides=a_str, b_ptr=b_ptr, b_strides=b_str, alpha=alpha)


@register("Gemm")
def _gemm(k, node):
    a = node.attrs
    em = k.em
    M, N = k.out_shape()
    ops = gemm_operands(k, node, a.alpha)
    c = None
    if len(node.inputs) > 2 and a.beta != 0.0:
        cs = broadcast_strides(k.in_shape(2), (M, N))
        cdata = k.const_input(2)
        if cdata is not None:
            c_ptr, beta = k.table(("gemm.c", id(node.inputs[2]), a.beta),
                                  (cdata.astype(np.float64) * a.beta).astype(np.float32)), 1.0
        else:
            c_ptr, beta = k.inp(2), a.beta

        def c(bidx, i, j):
            v = em.load(c_ptr, em.add(em.mul(i, cs[0]), em.mul(j, cs[1])), F32)
            return em.b.fmul(v, em.fconst(beta)) if beta != 1.0 else v
    gemm_core(k, Gemm(batch=[], M=M, N=N, y=k.out(), c=c, **ops))


@register("MatMul")
def _matmul(k, node):
    A_shape, B_shape = k.in_shape(0), k.in_shape(1)
    a2 = (1,) + A_shape if len(A_shape) == 1 else A_shape
    b2 = B_shape + (1,) if len(B_shape) == 1 else B_shape
    M, K = a2[-2:]
    N = b2[-1]
    out_batch = list(np.broadcast_shapes(a2[:-2], b2[:-2]))
    a_bs = [s * M * K for s in broadcast_strides(a2[:-2], out_batch)]
    b_bs = [s * K * N for s in broadcast_strides(b2[:-2], out_batch)]
    gemm_core(k, Gemm(batch=out_batch, M=M, N=N, K=K, a_ptr=k.inp(0), a_strides=(a_bs, K, 1),
                      b_ptr=k.inp(1), b_strides=(b_bs, N, 1), y=k.out()))


def _work_item(em, t, p: Gemm, blocks: tuple):
    """Where parallel work item ``t`` (batch x row block x column block; ``blocks``: RB rows,
    nb column blocks of nblk) reads and writes: batch indices, A and B batch offsets, first
    row, column range, and output row offsets."""
    batch, M, N, a_bs, b_bs = p.batch, p.M, p.N, p.a_strides[0], p.b_strides[0]
    RB, nb, nblk = blocks
    bt, ib, jb = em.unravel(t, [math.prod(batch), M // RB, nb])
    bidx = em.unravel(bt, batch) if batch else []
    i0 = em.mul(ib, RB)
    j0 = em.mul(jb, nblk)
    j1 = em.smin(em.add(j0, nblk), N) if nb > 1 else N
    rows = [em.add(em.mul(bt, M * N), em.mul(em.add(i0, r), N)) for r in range(RB)]
    return bidx, em.lin(zip(bidx, a_bs)), em.lin(zip(bidx, b_bs)), i0, j0, j1, rows
