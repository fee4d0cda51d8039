"""bf16 Gemm on AVX512-BF16 dot products: a Gemm (or FusedGemm) with constant B, A not
transposed and no batch, in a bf16 build on a cpu with AVX512-BF16 (every classifier layer).

B is packed at compile time as B^T in bf16, one row of K/2 pair words per output column (an
odd K padded with a zero); the kernel first rounds A's rows into pair words in scratch, then
each output is a dot product of two pair rows on vdpbf16ps: 16 lanes of fp32 partial sums per
output, JB outputs per pass so that an A load feeds JB dot products, summed across lanes at
the end. A batch-1 classifier is a matrix-vector product that streams B from memory once per
inference: bf16 halves those bytes (VGG-19's first classifier layer: 411 MB of fp32 weights).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir

from ..emit import F32, FAST, I32
from .conv_bf16 import (BF16_FEATURE, BF16_PAIRS, CONVERT_LANES, rounded_bits, adjacent_pairs, masked_load,
                        round_to_bf16)

JB = 4  # outputs per pass over A's pair row
MIN_K = 32  # shorter rows stay fp32 (a pair row of fewer than one vector)


def applies(k, node, bdata) -> bool:
    a = node.attrs
    return (k.precision == "bf16" and k.target.has_feature(BF16_FEATURE) and bdata is not None
            and not a.transA and _k_of(node) >= MIN_K)


def _k_of(node) -> int:
    a = node.attrs
    shape = node.inputs[0].shape
    return shape[0] if a.transA else shape[1]


def pack_columns(bdata: np.ndarray, trans_b: bool) -> np.ndarray:
    """B (K x N, or N x K with transB) as N rows of K/2 bf16 pair words (uint16 [N][Kp][2])."""
    bt = np.asarray(bdata, dtype=np.float32)
    bt = bt if trans_b else bt.T
    if bt.shape[1] % 2:
        bt = np.concatenate([bt, np.zeros((bt.shape[0], 1), np.float32)], axis=1)
    return np.ascontiguousarray(round_to_bf16(bt))


def dot_rows_bf16(k, p, blocks: tuple) -> None:
    """The Gemm ``p`` (gemm.Gemm, ``b_pairs``: b_ptr holds pack_columns' rows) as dot
    products of bf16 pair rows; ``blocks``: (RB rows, nb column blocks of nblk columns)."""
    from .gemm import _work_item

    em = k.em
    b = em.b
    M, K, y, c, post = p.M, p.K, p.y, p.c, p.post
    assert p.alpha == 1.0  # gemm_operands folds it into the packed B
    Kp = (K + 1) // 2
    RB = blocks[0]
    a_rs = p.a_strides[1]

    # A's rows as pair words (an odd K: the last word's high half is zero)
    apairs = k.scratch(M * Kp * 4)
    with k.parallel_loop(M, K) as i:
        src = em.gep(p.a_ptr, em.mul(i, a_rs), F32)
        dst = em.gep(apairs, em.mul(i, Kp), I32)
        adjacent_pairs(em, src, dst, (0, K // 2), K // 2 - (K // 2) % CONVERT_LANES)
        if K % 2:
            last = b.lshr(rounded_bits(b, em.load(src, K - 1, F32), I32), ir.Constant(I32, 16))
            em.store(last, dst, K // 2, I32)
    k.barrier()

    VT = ir.VectorType(F32, CONVERT_LANES)
    nvec, tail = divmod(Kp, CONVERT_LANES)

    def load(ptr, idx):
        if tail and isinstance(idx, tuple):  # (base, "tail"): the row's last words under a mask
            return masked_load(em, em.gep(ptr, idx[0], F32), CONVERT_LANES, tail, zeros=True)
        return b.load(em.gep(ptr, idx, F32), typ=VT, align=4)

    def columns(j, width, item):
        bidx, i0, rows = item
        accs = [[em.local(VT, name="acc") for _ in range(width)] for _ in range(RB)]
        for row in accs:
            for a in row:
                b.store(ir.Constant(VT, [0.0] * CONVERT_LANES), a)
        arows = [em.mul(em.add(i0, r), Kp) for r in range(RB)]
        brows = [em.mul(em.add(j, q), Kp) for q in range(width)]

        def step(offset_of):
            avs = [load(apairs, offset_of(ar)) for ar in arows]
            bvs = [load(p.b_ptr, offset_of(br)) for br in brows]
            for r in range(RB):
                for q in range(width):
                    acc = accs[r][q]
                    b.store(BF16_PAIRS.mac(b, b.load(acc, typ=VT), bvs[q], avs[r]), acc)

        if nvec:
            with em.loop(0, nvec, name="kk") as kk:
                step(lambda base: em.add(base, em.mul(kk, CONVERT_LANES)))
        if tail:
            step(lambda base: (em.add(base, nvec * CONVERT_LANES), "tail"))
        for r in range(RB):
            for q in range(width):
                v = _lane_sum(b, b.load(accs[r][q], typ=VT))  # (alpha is folded into B)
                jq = em.add(j, q)
                if c is not None:
                    v = b.fadd(v, c(bidx, em.add(i0, r), jq))
                em.store(v, y, em.add(rows[r], jq), F32)

    with k.parallel_loop((M // RB) * blocks[1], RB * Kp * blocks[2]) as t:
        bidx, _, _, i0, j0, j1, rows = _work_item(em, t, p, blocks)
        jm = em.add(j0, em.mul(em.div(em.sub(j1, j0), JB), JB))
        with em.loop(j0, jm, step=JB, name="j") as j:
            columns(j, JB, (bidx, i0, rows))
        with em.loop(jm, j1, name="j") as j:
            columns(j, 1, (bidx, i0, rows))
        if post is not None:
            post(rows, i0, j0, j1)


def _lane_sum(b, v):
    """The sum of a vector's lanes, halving it by shuffles."""
    n = v.type.count
    while n > 1:
        n //= 2
        lo = b.shuffle_vector(v, ir.Constant(v.type, ir.Undefined), ir.Constant(ir.VectorType(I32, n), list(range(n))))
        hi = b.shuffle_vector(v, ir.Constant(v.type, ir.Undefined), ir.Constant(ir.VectorType(I32, n), list(range(n, 2 * n))))
        v = b.fadd(lo, hi, flags=FAST)
    return b.extract_element(v, ir.Constant(I32, 0))
