"""Vector helpers the kernels share: splats, vector loads and stores, strided lanes, the
in-register transpose and interleave, and vector intrinsics."""

from __future__ import annotations

from llvmlite import ir

from ..emit import F32, FAST

I32 = ir.IntType(32)


def splat(b, v: ir.Value, w: int) -> ir.Value:
    vt = ir.VectorType(F32, w)
    one = b.insert_element(ir.Constant(vt, ir.Undefined), v, ir.Constant(I32, 0))
    return b.shuffle_vector(one, ir.Constant(vt, ir.Undefined), ir.Constant(ir.VectorType(I32, w), [0] * w))


def load_vector(em, ptr, idx, w: int) -> ir.Value:
    return em.b.load(em.gep(ptr, idx, F32), typ=ir.VectorType(F32, w), align=4)


def store_vector(em, val, ptr, idx) -> None:
    em.b.store(val, em.gep(ptr, idx, F32), align=4)


def every_nth(b, v: ir.Value, w: int, s: int) -> ir.Value:
    """Lanes 0, s, 2s, ... of ``v`` (w of them): a stride-s tap's inputs out of one load."""
    if s == 1:
        return v
    return b.shuffle_vector(v, ir.Constant(v.type, ir.Undefined),
                            ir.Constant(ir.VectorType(I32, w), [j * s for j in range(w)]))


def load_strided(em, ptr, idx, w: int, s: int) -> ir.Value:
    """ptr[idx + j*s] for j < w: one load of (w-1)*s+1 floats and one shuffle."""
    return every_nth(em.b, load_vector(em, ptr, idx, (w - 1) * s + 1), w, s)


def transpose(rows: list, V: int, b) -> list:
    """The V x V transpose of up to V <V x float> rows (missing rows undefined): log2(V)
    stages of two-operand shuffles that swap off-diagonal blocks."""
    VT = ir.VectorType(F32, V)
    m = list(rows) + [ir.Constant(VT, ir.Undefined)] * (V - len(rows))
    mask_t = ir.VectorType(I32, V)
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


def interleave_pairs(k, src, dst, W, add):
    """y[d + 2j + p] = src_ptr[srcs[p] + j] (+ add) for j < W, where ``src`` is (src_ptr,
    srcs) and ``dst`` is (y, d): vectors of the two rows interleaved by one shuffle and
    stored as one (the 2x2/2 upsampling's scatter)."""
    em = k.em
    b = em.b
    V = k.target.vector_lanes
    src_ptr, srcs = src
    y, d = dst

    def chunk(j0, w):
        rows = [load_vector(em, src_ptr, em.add(s_, j0), w) for s_ in srcs]
        if add is not None:
            rows = [b.fadd(r, splat(b, add, w), flags=FAST) for r in rows]
        mask = ir.Constant(ir.VectorType(I32, 2 * w), [j // 2 + (w if j % 2 else 0) for j in range(2 * w)])
        store_vector(em, b.shuffle_vector(rows[0], rows[1], mask), y, em.add(d, em.mul(j0, 2)))

    full = W // V
    if full:
        with em.loop(0, full, name="jv") as jv:
            chunk(em.mul(jv, V), V)
    for j in range(full * V, W):
        chunk(j, 1)


def vector_intrinsic(em, name: str, vt: ir.VectorType, nargs: int = 2) -> ir.Function:
    full = f"llvm.{name}.v{vt.count}f32"
    fn = em.module.globals.get(full)
    if fn is None:
        fn = ir.Function(em.module, ir.FunctionType(vt, [vt] * nargs), full)
    return fn
