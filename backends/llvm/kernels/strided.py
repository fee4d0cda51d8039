"""The strided map: out[i] = f(in_0[off_0(i)], ..., in_k[off_k(i)]) over an N-d index space.

Every access is a base offset plus per-dimension strides (0 broadcasts, negative walks
backwards) or, per dimension, a table of element offsets (gathers, reflect pads, resizes).
Elementwise ops with broadcasting, Transpose, Slice, Expand, Tile, Concat, Split and Cast
are all this kernel with different accesses. Adjacent dimensions that are contiguous for
every access are merged, the innermost loop is unit-stride where the layout allows (so LLVM
vectorizes it), and the outer index space is split into blocks across threads.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from llvmlite import ir

from ..emit import I64, Emitter, Index
from ..schedule import MapSchedule


@dataclass
class Access:
    ptr: ir.Value
    etype: ir.Type
    strides: list[int]                 # elements, one per dimension of the index space
    offset: int = 0                    # elements
    tables: dict[int, ir.Value] = field(default_factory=dict)  # dim -> ptr to int64 offsets

    def copy(self) -> "Access":
        return Access(self.ptr, self.etype, list(self.strides), self.offset, dict(self.tables))


def contiguous_strides(shape: Sequence[int]) -> list[int]:
    strides, acc = [], 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    return strides[::-1]


def broadcast_strides(in_shape: Sequence[int], out_shape: Sequence[int]) -> list[int]:
    """Strides reading ``in_shape`` (numpy-broadcast) at every index of ``out_shape``."""
    own = contiguous_strides(in_shape)
    pad = len(out_shape) - len(in_shape)
    out = []
    for d, od in enumerate(out_shape):
        k = d - pad
        if k < 0 or (in_shape[k] == 1 and od != 1):
            out.append(0)
        else:
            out.append(own[k])
    return out


def _simplify(shape: list[int], accesses: list[Access]) -> list[int]:
    """Drop unit dimensions and merge dimensions that are contiguous for every access."""
    keep = [d for d, n in enumerate(shape) if n != 1 or any(d in a.tables for a in accesses)]
    shape = [shape[d] for d in keep]
    for a in accesses:
        a.tables = {keep.index(d): t for d, t in a.tables.items()}
        a.strides = [a.strides[d] for d in keep]
    d = len(shape) - 2
    while d >= 0:
        if all(d not in a.tables and d + 1 not in a.tables and a.strides[d] == a.strides[d + 1] * shape[d + 1]
               for a in accesses):
            shape[d:d + 2] = [shape[d] * shape[d + 1]]
            for a in accesses:
                a.strides[d:d + 2] = [a.strides[d + 1]]
                a.tables = {(k - 1 if k > d else k): t for k, t in a.tables.items()}
        d -= 1
    return shape


def _offset(em: Emitter, a: Access, idx: Sequence[Index], dims: Sequence[int], base: Index = 0) -> Index:
    off: Index = base
    for d, i in zip(dims, idx):
        if d in a.tables:
            off = em.add(off, em.load(a.tables[d], i, I64))
        else:
            off = em.add(off, em.mul(i, a.strides[d]))
    return off


def emit_map(k, shape: Sequence[int], out: Access, ins: Sequence[Access],
             fn: Callable[[Emitter, list[ir.Value]], ir.Value], work_per_elem: int = 1) -> None:
    """Write ``out[i] = fn(em, [in[i] ...])`` for every index ``i`` of ``shape``."""
    em = k.em
    if math.prod(shape) == 0:
        return
    out, ins = out.copy(), [a.copy() for a in ins]
    shape = _simplify(list(shape), [out, *ins])
    if not shape:  # a single element
        with k.parallel_loop(1, 1):
            vals = [em.load(a.ptr, a.offset, a.etype) for a in ins]
            em.store(fn(em, vals), out.ptr, out.offset, out.etype)
        return
    inner = shape[-1]
    outer = shape[:-1]
    block = max(1, k.schedule(MapSchedule).block)
    nblocks = -(-inner // block)
    block = -(-inner // nblocks)  # even blocks
    total = math.prod(outer) * nblocks
    with k.parallel_loop(total, min(block, inner) * work_per_elem) as t:
        idx = em.unravel(t, [*outer, nblocks])
        outer_idx, blk = idx[:-1], idx[-1]
        rank = len(shape)
        bases = [_offset(em, a, outer_idx, range(rank - 1), a.offset) for a in (out, *ins)]
        j0 = em.mul(blk, block)
        j1 = em.smin(em.add(j0, block), inner) if nblocks > 1 else inner
        with em.loop(j0, j1, name="j") as j:
            offs = [_offset(em, a, [j], [rank - 1]) for a in (out, *ins)]
            vals = [em.load(a.ptr, em.add(base, off), a.etype)
                    for a, base, off in zip(ins, bases[1:], offs[1:])]
            em.store(fn(em, vals), out.ptr, em.add(bases[0], offs[0]), out.etype)


def copy_access(k, ptr: ir.Value, etype: ir.Type, shape: Sequence[int], offset: int = 0) -> Access:
    return Access(ptr, etype, contiguous_strides(shape), offset)
