"""Small TE helpers shared by the lowerings: broadcasting, constants, bounds checks."""

from __future__ import annotations

from collections.abc import Sequence

import tvm
from tvm import te

tir = tvm.tirx


def const(value, dtype: str = "float32"):
    return tir.const(value, dtype)


def bcast(t: te.Tensor, out_rank: int, idx: Sequence):
    """``t`` read at the output index ``idx`` under NumPy broadcasting."""
    shape = [int(d) for d in t.shape]
    off = out_rank - len(shape)
    return t[tuple([0 if d == 1 else idx[i + off] for i, d in enumerate(shape)])]


def all_of(conds):
    out = None
    for c in conds:
        out = c if out is None else tir.all(out, c)
    return out if out is not None else tir.const(True, "bool")


def lowest(dtype: str):
    return tir.min_value(dtype)


def highest(dtype: str):
    return tir.max_value(dtype)


def dtype_of(e) -> str:
    """The dtype of a tensor element or an expression (TVM 0.27 expressions carry ``ty``)."""
    d = getattr(e, "dtype", None)
    return str(d if d is not None else e.ty)
