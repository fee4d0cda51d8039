"""Shape arithmetic shared by several ops' shape functions."""

from __future__ import annotations

import math
from collections.abc import Sequence

from cnncc.errors import ShapeError
from cnncc.ir import TensorType


def sized(op: str, shape: Sequence[int], dtype: str) -> TensorType:
    """The type of an output whose shape comes from attributes rather than the inputs
    (ConstantOfShape, Expand, Tile, Range): a few bytes of model can ask for terabytes, so
    the dims and the size limit are checked before anything is allocated or folded."""
    from cnncc import limits

    if any(int(d) < 0 for d in shape):
        raise ShapeError(f"{op}: output shape {[int(d) for d in shape]} has a negative dimension")
    limits.check_tensor(f"{op} output", shape, dtype)
    return TensorType(shape, dtype)


def same_as_first(types: Sequence[TensorType], attrs) -> list[TensorType]:
    return [types[0]]


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """NumPy/ONNX multidirectional broadcasting, with an error that names both shapes."""
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        dims = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0}
        dims.discard(1)
        if len(dims) > 1:
            raise ShapeError(f"shapes {' and '.join(str(list(s)) for s in shapes)} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def normalize_axis(axis: int, rank: int, op: str = "") -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"{op}: axis {axis} out of range for rank {rank}")
    return axis % max(rank, 1)


def pooled_size(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, dilation: int, ceil_mode: bool) -> int:
    """Output length of a conv/pool window sliding over one spatial axis."""
    span = dilation * (kernel - 1) + 1
    # Framework pads are below the window span (SAME pads always are); past input + span they
    # only add outputs that see nothing but padding. Absurd ones (2**62) would otherwise make
    # maps too large to describe, and a code generator sweep over them never ends.
    if max(pad_begin, pad_end) > size + span:
        raise ShapeError(f"pads {pad_begin}+{pad_end} are larger than the input ({size}) plus the window ({span}); "
                         "no framework exports such pads, check the model")
    room = size + pad_begin + pad_end - span
    if room < 0:
        raise ShapeError(f"window of {span} does not fit input of {size} with pads {pad_begin}+{pad_end}")
    out = (math.ceil(room / stride) if ceil_mode else room // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad_begin:
        # ONNX/PyTorch: the last window must start inside the input or the left pad.
        out -= 1
    return out


def resolve_auto_pad(
    auto_pad: str, sizes: Sequence[int], kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int]
) -> list[int]:
    """Explicit ONNX pads (begins then ends) for SAME_UPPER / SAME_LOWER / VALID."""
    n = len(sizes)
    if auto_pad == "VALID":
        return [0] * (2 * n)
    begins, ends = [], []
    for size, k, s, d in zip(sizes, kernel, strides, dilations):
        out = -(-size // s)
        total = max(0, (out - 1) * s + d * (k - 1) + 1 - size)
        small, large = total // 2, total - total // 2
        if auto_pad == "SAME_UPPER":
            begins.append(small)
            ends.append(large)
        else:
            begins.append(large)
            ends.append(small)
    return begins + ends
