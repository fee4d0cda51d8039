"""Data movement, shape and reduction ops.

Operands that decide an output's shape (Reshape's shape, Slice's bounds, Pad's pads, Resize's
sizes, ...) are attributes here: shapes are static in cnncc, so the frontend folds those ONNX
inputs to constants and stores them resolved (no -1, no 0-means-copy, no negative axes).
"""

from __future__ import annotations

import math

import numpy as np

from cnncc.errors import RunError, ShapeError
from cnncc.ir import TensorType
from cnncc.ops.registry import REQUIRED, defop
from cnncc.ops.shapes import broadcast_shapes, normalize_axis, sized


# -- joining and splitting -----------------------------------------------------------------
def _concat_types(types, a):
    rank = types[0].rank
    axis = normalize_axis(a.axis, rank, "Concat")
    for t in types[1:]:
        if t.rank != rank or any(t.shape[i] != types[0].shape[i] for i in range(rank) if i != axis):
            raise ShapeError(f"Concat: {t} does not fit {types[0]} along axis {axis}")
    shape = list(types[0].shape)
    shape[axis] = sum(t.shape[axis] for t in types)
    return [TensorType(shape, types[0].dtype)]


@defop("Concat", _concat_types, attrs={"axis": REQUIRED}, inputs=(1, None))
def concat(a, *xs):
    return np.concatenate(xs, axis=a.axis)


def _split_types(types, a):
    x = types[0]
    axis = normalize_axis(a.axis, x.rank, "Split")
    if sum(a.split) != x.shape[axis]:
        raise ShapeError(f"Split: sizes {list(a.split)} do not add up to {x.shape[axis]} on axis {axis}")
    outs = []
    for size in a.split:
        shape = list(x.shape)
        shape[axis] = size
        outs.append(TensorType(shape, x.dtype))
    return outs


@defop("Split", _split_types, attrs={"axis": 0, "split": REQUIRED}, outputs=(1, 1 << 16))
def split(a, x):
    bounds = np.cumsum(a.split)[:-1]
    return tuple(np.split(x, bounds, axis=a.axis))


def normalize_slice(shape, starts, ends, axes, steps):
    """Clamp ONNX slice bounds per axis into the form the Slice op takes.

    Returns {axis: (start, end, step)} with 0 <= start, end <= dim for positive steps and
    -1 <= start, end <= dim - 1 for negative ones.
    """
    out = {}
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = normalize_axis(axis, len(shape), "Slice")
        dim = shape[axis]
        if step == 0:
            raise ShapeError("Slice: step 0")
        start = start + dim if start < 0 else start
        end = end + dim if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), dim), min(max(end, 0), dim)
        else:
            start, end = min(max(start, -1), dim - 1), min(max(end, -1), dim - 1)
        out[axis] = (start, end, step)
    return out


def _slice_lengths(shape, a):
    dims = list(shape)
    for start, end, axis, step in zip(a.starts, a.ends, a.axes, a.steps):
        dim = shape[axis]
        lo, hi = (0, dim) if step > 0 else (-1, dim - 1)
        if step == 0 or not (lo <= start <= hi and lo <= end <= hi):
            raise ShapeError(f"Slice: bounds {start}:{end}:{step} are not normalized for an axis of {dim}")
        dims[axis] = len(range(start, end, step))
    return dims


def _slice_types(types, a):
    if not (len(a.starts) == len(a.ends) == len(a.axes) == len(a.steps)):
        raise ShapeError("Slice: starts, ends, axes and steps differ in length")
    if len(set(a.axes)) != len(a.axes) or any(not 0 <= ax < types[0].rank for ax in a.axes):
        raise ShapeError(f"Slice: axes {list(a.axes)} are not distinct axes of {types[0]}")
    return [TensorType(_slice_lengths(types[0].shape, a), types[0].dtype)]


@defop("Slice", _slice_types, attrs={"starts": REQUIRED, "ends": REQUIRED, "axes": REQUIRED, "steps": REQUIRED})
def slice_(a, x):
    """Bounds are normalized Python range() terms (see normalize_slice); end -1 with a
    negative step means "through index 0"."""
    index = [slice(None)] * x.ndim
    for start, end, axis, step in zip(a.starts, a.ends, a.axes, a.steps):
        empty = start < 0  # only possible with a negative step: nothing to take
        index[axis] = slice(0, 0) if empty else slice(start, None if end < 0 else end, step)
    return x[tuple(index)].copy()


# -- reshaping -----------------------------------------------------------------------------
def _reshape_types(types, a):
    if math.prod(a.shape) != types[0].numel:
        raise ShapeError(f"Reshape: cannot reshape {types[0]} to {list(a.shape)}")
    return [TensorType(a.shape, types[0].dtype)]


@defop("Reshape", _reshape_types, attrs={"shape": REQUIRED})
def reshape(a, x):
    """``shape`` is the resolved output shape (the frontend expands 0 and -1)."""
    return x.reshape(a.shape).copy()


def _flatten_types(types, a):
    x = types[0]
    axis = a.axis + x.rank if a.axis < 0 else a.axis
    if not 0 <= axis <= x.rank:
        raise ShapeError(f"Flatten: axis {a.axis} out of range for {x}")
    return [TensorType((math.prod(x.shape[:axis]), math.prod(x.shape[axis:])), x.dtype)]


@defop("Flatten", _flatten_types, attrs={"axis": 1})
def flatten(a, x):
    axis = a.axis + x.ndim if a.axis < 0 else a.axis
    return x.reshape(math.prod(x.shape[:axis]), -1).copy()


def _transpose_types(types, a):
    x = types[0]
    if sorted(a.perm) != list(range(x.rank)):
        raise ShapeError(f"Transpose: perm {list(a.perm)} is not a permutation of {x.rank} axes")
    return [TensorType(tuple(x.shape[p] for p in a.perm), x.dtype)]


@defop("Transpose", _transpose_types, attrs={"perm": REQUIRED})
def transpose(a, x):
    return np.ascontiguousarray(np.transpose(x, a.perm))


def _squeeze_types(types, a):
    x = types[0]
    axes = {normalize_axis(ax, x.rank, "Squeeze") for ax in a.axes}
    bad = [ax for ax in axes if x.shape[ax] != 1]
    if bad:
        raise ShapeError(f"Squeeze: axes {bad} of {x} are not 1")
    return [TensorType([d for i, d in enumerate(x.shape) if i not in axes], x.dtype)]


@defop("Squeeze", _squeeze_types, attrs={"axes": REQUIRED})
def squeeze(a, x):
    return np.squeeze(x, axis=tuple(a.axes)).copy()


def _unsqueeze_types(types, a):
    x = types[0]
    rank = x.rank + len(a.axes)
    axes = sorted(normalize_axis(ax, rank, "Unsqueeze") for ax in a.axes)
    shape = list(x.shape)
    for ax in axes:
        shape.insert(ax, 1)
    return [TensorType(shape, x.dtype)]


@defop("Unsqueeze", _unsqueeze_types, attrs={"axes": REQUIRED})
def unsqueeze(a, x):
    return x.reshape(_unsqueeze_types([TensorType(x.shape, str(x.dtype))], a)[0].shape).copy()


def _expand_types(types, a):
    if any(int(d) < 0 for d in a.shape):
        raise ShapeError(f"Expand: shape {list(a.shape)} has a negative dimension")
    return [sized("Expand", broadcast_shapes(types[0].shape, a.shape), types[0].dtype)]


@defop("Expand", _expand_types, attrs={"shape": REQUIRED})
def expand(a, x):
    return np.ascontiguousarray(np.broadcast_to(x, broadcast_shapes(x.shape, a.shape)))


def _tile_types(types, a):
    if len(a.repeats) != types[0].rank:
        raise ShapeError(f"Tile: repeats {list(a.repeats)} do not match {types[0]}")
    if any(int(r) < 0 for r in a.repeats):
        raise ShapeError(f"Tile: repeats {list(a.repeats)} must not be negative")
    return [sized("Tile", [d * r for d, r in zip(types[0].shape, a.repeats)], types[0].dtype)]


@defop("Tile", _tile_types, attrs={"repeats": REQUIRED})
def tile(a, x):
    return np.tile(x, a.repeats)


# -- padding and resizing ------------------------------------------------------------------
PAD_MODES = ("constant", "reflect", "edge", "wrap")


def _pad_types(types, a):
    x = types[0]
    if len(a.pads) != 2 * x.rank:
        raise ShapeError(f"Pad: pads {list(a.pads)} do not fit {x}")
    if a.mode not in PAD_MODES:
        raise ShapeError(f"Pad: mode {a.mode!r} is not one of {PAD_MODES}")
    shape = [d + a.pads[i] + a.pads[x.rank + i] for i, d in enumerate(x.shape)]
    if min(shape, default=1) < 0:
        raise ShapeError(f"Pad: pads {list(a.pads)} remove more than {x} holds")
    return [TensorType(shape, x.dtype)]


@defop("Pad", _pad_types, attrs={"pads": REQUIRED, "mode": "constant", "value": 0.0})
def pad(a, x):
    r = x.ndim
    crop = tuple(slice(max(-a.pads[i], 0), x.shape[i] - max(-a.pads[r + i], 0)) for i in range(r))
    x = x[crop]
    widths = [(max(a.pads[i], 0), max(a.pads[r + i], 0)) for i in range(r)]
    if a.mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=np.array(a.value, dtype=x.dtype))
    return np.pad(x, widths, mode=a.mode)


RESIZE_MODES = ("nearest", "linear", "cubic")
COORD_MODES = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_crop_and_resize", "half_pixel_symmetric")
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")


def _resize_types(types, a):
    x = types[0]
    if len(a.sizes) != x.rank or len(a.scales) != x.rank:
        raise ShapeError(f"Resize: sizes {list(a.sizes)} / scales {list(a.scales)} do not fit {x}")
    if a.mode not in RESIZE_MODES:
        raise ShapeError(f"Resize: mode {a.mode!r} is not supported (only {', '.join(RESIZE_MODES)})")
    if a.coordinate_transformation_mode not in COORD_MODES:
        raise ShapeError(f"Resize: coordinate_transformation_mode {a.coordinate_transformation_mode!r} is not supported")
    if a.coordinate_transformation_mode == "tf_crop_and_resize" and len(a.get("roi") or ()) != 2 * x.rank:
        raise ShapeError(f"Resize: tf_crop_and_resize needs a roi of {2 * x.rank} values, got {a.get('roi')}")
    if a.nearest_mode not in NEAREST_MODES:
        raise ShapeError(f"Resize: nearest_mode {a.nearest_mode!r} is not supported")
    return [TensorType(a.sizes, x.dtype)]


def resize_source_coords(a, axis: int, in_size: int) -> np.ndarray:
    """Input coordinate of every output index along ``axis`` (float64, before rounding)."""
    out_size, scale = a.sizes[axis], a.scales[axis]
    i = np.arange(out_size, dtype=np.float64)
    mode = a.coordinate_transformation_mode
    if mode == "half_pixel":
        return (i + 0.5) / scale - 0.5
    if mode == "half_pixel_symmetric":
        adj = out_size / (scale * in_size)
        center = in_size / 2
        offset = center * (1 - adj)
        return offset + (i + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (i + 0.5) / scale - 0.5 if out_size > 1 else np.zeros_like(i)
    if mode == "align_corners":
        # ONNX divides by scale * in_size - 1 (not the rounded output size) when scales are given.
        width = scale * in_size
        return i * (in_size - 1) / (width - 1) if width != 1 else np.zeros_like(i)
    if mode == "tf_crop_and_resize":
        start, end = a.roi[axis], a.roi[len(a.sizes) + axis]
        width = scale * in_size
        if width == 1:
            return np.full_like(i, (end - start) * (in_size - 1) / 2 + start * (in_size - 1))
        return i * (end - start) * (in_size - 1) / (width - 1) + start * (in_size - 1)
    return i / scale  # asymmetric


def cubic_taps(coords: np.ndarray, size: int, a) -> tuple[np.ndarray, np.ndarray]:
    """Resize's cubic interpolation along one axis: the 4 source indices (clamped into the
    axis) and weights of each output coordinate; with ``exclude_outside`` the weights of
    taps outside the axis are dropped and the rest renormalized. Shared by the reference
    and the backends, which precompute these tables."""
    base = np.floor(coords)
    raw = base.astype(np.int64)[:, None] + np.arange(-1, 3)
    w = _cubic_weights(coords - base, a.get("cubic_coeff_a", -0.75))
    if a.get("exclude_outside", 0):
        w = np.where((raw < 0) | (raw >= size), 0.0, w)
        total = w.sum(axis=1, keepdims=True)
        w = w / np.where(total == 0, 1.0, total)
    return np.clip(raw, 0, size - 1), w


def _cubic_weights(t: np.ndarray, A: float) -> np.ndarray:
    """Keys cubic convolution weights of the 4 neighbours floor-1 .. floor+2 (N, 4)."""

    def near(d):  # |d| <= 1
        return ((A + 2) * d - (A + 3)) * d * d + 1

    def far(d):  # 1 < |d| < 2
        return ((A * d - 5 * A) * d + 8 * A) * d - 4 * A

    return np.stack([far(t + 1), near(t), near(1 - t), far(2 - t)], axis=-1)


def _nearest_index(coords: np.ndarray, mode: str, in_size: int, scale: float) -> np.ndarray:
    if mode == "round_prefer_floor":
        idx = np.where(coords == np.floor(coords) + 0.5, np.floor(coords), np.round(coords))
    elif mode == "round_prefer_ceil":
        idx = np.where(coords == np.floor(coords) + 0.5, np.ceil(coords), np.round(coords))
    elif mode == "floor":
        idx = np.floor(coords)
    else:
        idx = np.ceil(coords)
    return np.clip(idx, 0, in_size - 1).astype(np.int64)


@defop(
    "Resize",
    _resize_types,
    attrs={
        "mode": "nearest",
        "coordinate_transformation_mode": "half_pixel",
        "nearest_mode": "round_prefer_floor",
        "sizes": REQUIRED,
        "scales": REQUIRED,
        "cubic_coeff_a": -0.75,
        "exclude_outside": 0,
        "roi": None,  # tf_crop_and_resize only: starts then ends, normalized
        "extrapolation_value": 0.0,
    },
)
def resize(a, x):
    """Separable nearest/linear/cubic resize; ``scales`` drive the coordinate transform,
    ``sizes`` the shape. Neighbours past the edge repeat the edge pixel."""
    y = x.astype(np.float64)
    crop = a.coordinate_transformation_mode == "tf_crop_and_resize"
    for axis in range(x.ndim):
        in_size, out_size = x.shape[axis], a.sizes[axis]
        if in_size == out_size and a.scales[axis] == 1.0 and not crop:
            continue
        coords = resize_source_coords(a, axis, in_size)
        along = [-1 if i == axis else 1 for i in range(x.ndim)]
        if a.mode == "nearest":
            y = np.take(y, _nearest_index(coords, a.nearest_mode, in_size, a.scales[axis]), axis=axis)
        elif a.mode == "linear":
            clipped = np.clip(coords, 0, in_size - 1)
            lo = np.floor(clipped).astype(np.int64)
            hi = np.minimum(lo + 1, in_size - 1)
            frac = (clipped - lo).reshape(along)
            y = np.take(y, lo, axis=axis) * (1 - frac) + np.take(y, hi, axis=axis) * frac
        else:
            idx, w = cubic_taps(coords, in_size, a)
            picked = np.take(y, idx, axis=axis)  # axis -> (out, 4)
            y = (picked * w.reshape(w.shape + (1,) * (x.ndim - axis - 1))).sum(axis=axis + 1)
        if crop:
            outside = ((coords < 0) | (coords > in_size - 1)).reshape(along)
            y = np.where(outside, a.get("extrapolation_value", 0.0), y)
    return y.astype(x.dtype)


def _upsample_types(types, a):
    x = types[0]
    if len(a.scales) != x.rank:
        raise ShapeError(f"Upsample: scales {list(a.scales)} do not fit {x}")
    if a.mode not in ("nearest", "linear"):
        raise ShapeError(f"Upsample: mode {a.mode!r} is not supported")
    return [TensorType([int(math.floor(d * s)) for d, s in zip(x.shape, a.scales)], x.dtype)]


def upsample_as_resize_attrs(a, in_shape) -> dict:
    """Upsample (deprecated) is Resize with asymmetric coordinates and floor rounding."""
    sizes = [int(math.floor(d * s)) for d, s in zip(in_shape, a.scales)]
    return {
        "mode": a.mode,
        "coordinate_transformation_mode": "asymmetric",
        "nearest_mode": "floor",
        "sizes": sizes,
        "scales": a.scales,
        "cubic_coeff_a": -0.75,
        "exclude_outside": 0,
        "roi": None,
        "extrapolation_value": 0.0,
    }


@defop("Upsample", _upsample_types, attrs={"mode": "nearest", "scales": REQUIRED})
def upsample(a, x):
    from cnncc.ir import Attrs

    return resize(Attrs(upsample_as_resize_attrs(a, x.shape)), x)


# -- constants and shapes ------------------------------------------------------------------
def _constant_of_shape_types(types, a):
    return [sized("ConstantOfShape", a.shape, a.dtype)]


@defop("ConstantOfShape", _constant_of_shape_types, attrs={"shape": REQUIRED, "value": 0.0, "dtype": "float32"}, inputs=0)
def constant_of_shape(a):
    return np.full(a.shape, a.value, dtype=a.dtype)


def _shape_range(rank, a):
    start = a.start + rank if a.start < 0 else a.start
    end = rank if a.end is None else (a.end + rank if a.end < 0 else a.end)
    return min(max(start, 0), rank), min(max(end, 0), rank)


def _shape_types(types, a):
    lo, hi = _shape_range(types[0].rank, a)
    return [TensorType((max(hi - lo, 0),), "int64")]


@defop("Shape", _shape_types, attrs={"start": 0, "end": None})
def shape(a, x):
    lo, hi = _shape_range(x.ndim, a)
    return np.array(x.shape[lo:hi], dtype=np.int64)


@defop("Size", lambda types, a: [TensorType((), "int64")])
def size(a, x):
    return np.array(x.size, dtype=np.int64)


def _range_types(types, a):
    if any(isinstance(v, float) and not math.isfinite(v) for v in (a.start, a.limit, a.delta)):
        raise ShapeError(f"Range: start {a.start}, limit {a.limit}, delta {a.delta} must be finite")
    if a.delta == 0:
        raise ShapeError(f"Range: delta is 0 (start {a.start}, limit {a.limit}): the range would never end")
    if all(isinstance(v, int) for v in (a.start, a.limit, a.delta)):
        n = max(-((a.start - a.limit) // a.delta), 0)  # exact: float division rounds past 2**53
    else:
        n = max(int(math.ceil((a.limit - a.start) / a.delta)), 0)
    return [sized("Range", (n,), a.dtype)]


@defop("Range", _range_types, attrs={"start": REQUIRED, "limit": REQUIRED, "delta": REQUIRED, "dtype": "int64"}, inputs=0)
def range_(a):
    n = _range_types([], a)[0].shape[0]
    return (a.start + np.arange(n) * a.delta).astype(a.dtype)


def _gather_types(types, a):
    data, idx = types
    if data.rank < 1:
        raise ShapeError(f"Gather: data must have rank >= 1, got a scalar {data}")
    axis = normalize_axis(a.axis, data.rank, "Gather")
    if idx.dtype not in ("int64", "int32"):
        raise ShapeError(f"Gather: indices must be integers, got {idx.dtype}")
    shape = data.shape[:axis] + idx.shape + data.shape[axis + 1 :]
    return [TensorType(shape, data.dtype)]


@defop("Gather", _gather_types, attrs={"axis": 0}, inputs=2)
def gather(a, data, idx):
    axis = a.axis % data.ndim
    dim = data.shape[axis]
    if idx.size and (idx.min() < -dim or idx.max() >= dim):
        bad = idx[(idx < -dim) | (idx >= dim)].reshape(-1)[0]
        raise RunError(f"Gather: index {int(bad)} is out of range for an axis of size {dim} "
                       f"(valid: {-dim}..{dim - 1})")
    return np.take(data, np.where(idx < 0, idx + dim, idx), axis=axis)


# -- reductions ----------------------------------------------------------------------------
def _reduce_types(op):
    def infer(types, a):
        x = types[0]
        axes = {normalize_axis(ax, x.rank, op) for ax in a.axes}
        if a.keepdims:
            shape = [1 if i in axes else d for i, d in enumerate(x.shape)]
        else:
            shape = [d for i, d in enumerate(x.shape) if i not in axes]
        return [TensorType(shape, x.dtype)]

    return infer


REDUCTIONS = {
    "ReduceMean": lambda x, axes, keep: x.mean(axis=axes, keepdims=keep, dtype=np.float64),
    "ReduceSum": lambda x, axes, keep: x.sum(axis=axes, keepdims=keep, dtype=np.float64),
    "ReduceProd": lambda x, axes, keep: x.prod(axis=axes, keepdims=keep, dtype=np.float64),
    "ReduceL1": lambda x, axes, keep: np.abs(x).sum(axis=axes, keepdims=keep, dtype=np.float64),
    "ReduceL2": lambda x, axes, keep: np.sqrt(np.square(x, dtype=np.float64).sum(axis=axes, keepdims=keep)),
    "ReduceSumSquare": lambda x, axes, keep: np.square(x, dtype=np.float64).sum(axis=axes, keepdims=keep),
    "ReduceLogSum": lambda x, axes, keep: np.log(x.sum(axis=axes, keepdims=keep, dtype=np.float64)),
    "ReduceLogSumExp": lambda x, axes, keep: _log_sum_exp(x.astype(np.float64), axes, keep),
    "ReduceMax": lambda x, axes, keep: x.max(axis=axes, keepdims=keep, initial=_extreme(x.dtype, low=True)),
    "ReduceMin": lambda x, axes, keep: x.min(axis=axes, keepdims=keep, initial=_extreme(x.dtype, low=False)),
}


def _extreme(dtype: np.dtype, low: bool):
    """The identity of max (low) or min over ``dtype``: what ONNX returns for an empty set."""
    if dtype.kind == "f":
        return -np.inf if low else np.inf
    if dtype.kind == "b":
        return not low
    info = np.iinfo(dtype)
    return info.min if low else info.max


def _declare_reduction(name, fn):
    @defop(name, _reduce_types(name), attrs={"axes": REQUIRED, "keepdims": 1})
    def ref(a, x, _fn=fn):
        """``axes`` is resolved by the frontend (all axes when ONNX gives none)."""
        axes = tuple(ax % x.ndim for ax in a.axes)
        return np.asarray(_fn(x, axes, bool(a.keepdims))).astype(x.dtype)


for _name, _fn in REDUCTIONS.items():
    _declare_reduction(_name, _fn)


def _log_sum_exp(x, axes, keep):
    if x.size == 0:
        return np.log(np.exp(x).sum(axis=axes, keepdims=keep))
    m = x.max(axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    out = np.log(np.exp(x - m).sum(axis=axes, keepdims=True)) + m
    return out if keep else np.squeeze(out, axis=axes)


def _arg_types(types, a):
    x = types[0]
    axis = normalize_axis(a.axis, x.rank, "ArgMax/ArgMin")
    shape = [1 if i == axis else d for i, d in enumerate(x.shape)] if a.keepdims else [d for i, d in enumerate(x.shape) if i != axis]
    return [TensorType(shape, "int64")]


def _declare_arg(name, fn):
    @defop(name, _arg_types, attrs={"axis": 0, "keepdims": 1, "select_last_index": 0})
    def ref(a, x, _fn=fn):
        axis = a.axis % x.ndim
        if a.select_last_index:
            flipped = np.flip(x, axis=axis)
            idx = x.shape[axis] - 1 - _fn(flipped, axis=axis)
        else:
            idx = _fn(x, axis=axis)
        idx = idx.astype(np.int64)
        return np.expand_dims(idx, axis) if a.keepdims else idx


_declare_arg("ArgMax", np.argmax)
_declare_arg("ArgMin", np.argmin)


# -- moving channels to and from space -----------------------------------------------------
def _depth_to_space_types(types, a):
    x = types[0]
    b = a.blocksize
    if b < 1:
        raise ShapeError(f"DepthToSpace: blocksize must be at least 1, got {b}")
    if x.rank != 4 or x.shape[1] % (b * b):
        raise ShapeError(f"DepthToSpace: {x} is not NCHW with channels divisible by blocksize^2 = {b * b}")
    if a.mode not in ("DCR", "CRD"):
        raise ShapeError(f"DepthToSpace: mode {a.mode!r} is not DCR or CRD")
    n, c, h, w = x.shape
    return [TensorType((n, c // (b * b), h * b, w * b), x.dtype)]


@defop("DepthToSpace", _depth_to_space_types, attrs={"blocksize": REQUIRED, "mode": "DCR"})
def depth_to_space(a, x):
    n, c, h, w = x.shape
    b = a.blocksize
    if a.mode == "DCR":
        y = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return np.ascontiguousarray(y.reshape(n, c // (b * b), h * b, w * b))


def _space_to_depth_types(types, a):
    x = types[0]
    b = a.blocksize
    if b < 1:
        raise ShapeError(f"SpaceToDepth: blocksize must be at least 1, got {b}")
    if x.rank != 4 or x.shape[2] % b or x.shape[3] % b:
        raise ShapeError(f"SpaceToDepth: {x} is not NCHW with H and W divisible by blocksize {b}")
    if a.mode not in ("DCR", "CRD"):
        raise ShapeError(f"SpaceToDepth: mode {a.mode!r} is not DCR or CRD")
    n, c, h, w = x.shape
    return [TensorType((n, c * b * b, h // b, w // b), x.dtype)]


@defop("SpaceToDepth", _space_to_depth_types, attrs={"blocksize": REQUIRED, "mode": "DCR"})
def space_to_depth(a, x):
    """``mode`` (opset 25): DCR puts the block offsets before the channels, CRD after."""
    n, c, h, w = x.shape
    b = a.blocksize
    perm = (0, 3, 5, 1, 2, 4) if a.mode == "DCR" else (0, 1, 3, 5, 2, 4)
    y = x.reshape(n, c, h // b, b, w // b, b).transpose(perm)
    return np.ascontiguousarray(y.reshape(n, c * b * b, h // b, w // b))
