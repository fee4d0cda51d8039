"""Neural-network ops: convolutions, pooling, normalization, softmax, dense layers.

Spatial attributes are always explicit here: the frontend resolves auto_pad, fills default
strides/dilations and turns ConvTranspose's output_shape into pads, so every backend sees
one form. ``pads`` follows ONNX: all begins, then all ends.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cnncc.errors import ShapeError
from cnncc.ir import TensorType
from cnncc.ops.registry import REQUIRED, defop
from cnncc.ops.shapes import broadcast_shapes, normalize_axis, pooled_size, same_as_first

F32 = np.float32

CONV_ATTRS = {"kernel_shape": REQUIRED, "strides": REQUIRED, "pads": REQUIRED, "dilations": REQUIRED, "group": 1}
POOL_ATTRS = {
    "kernel_shape": REQUIRED,
    "strides": REQUIRED,
    "pads": REQUIRED,
    "dilations": REQUIRED,
    "ceil_mode": 0,
}


def check_window(op: str, kernel, strides, dilations) -> None:
    """Kernel, strides and dilations of a sliding window are positive (a stride of 0 would
    divide by zero, a kernel of 0 reads nothing)."""
    for key, values in (("kernel_shape", kernel), ("strides", strides), ("dilations", dilations)):
        if any(int(v) < 1 for v in values):
            raise ShapeError(f"{op} {key} {list(values)} must be positive")


def _check_spatial(op, x: TensorType, a, negative_pads: bool = False) -> int:
    sp = x.rank - 2
    if sp < 1:
        raise ShapeError(f"{op} needs an input of rank >= 3, got {x}")
    for key, n in (("kernel_shape", sp), ("strides", sp), ("dilations", sp), ("pads", 2 * sp)):
        if len(a[key]) != n:
            raise ShapeError(f"{op}: {key}={list(a[key])} does not fit a {sp}-D input {x}")
    check_window(op, a.kernel_shape, a.strides, a.dilations)
    # ONNX pads are >= 0; only ConvTranspose uses negative ones (an output_shape beyond the full result)
    if not negative_pads and min(a.pads, default=0) < 0:
        raise ShapeError(f"{op} pads {list(a.pads)} must not be negative")
    return sp


def _out_spatial(x: TensorType, a, ceil_mode: bool = False) -> list[int]:
    sp = x.rank - 2
    return [
        pooled_size(x.shape[2 + i], a.kernel_shape[i], a.strides[i], a.pads[i], a.pads[sp + i], a.dilations[i], ceil_mode)
        for i in range(sp)
    ]


def _windows(x: np.ndarray, a, fill: float, out_sizes: list[int]) -> np.ndarray:
    """View (N, C, *out, *kernel) of every (dilated, strided) window of the padded input."""
    sp = x.ndim - 2
    k, s, d, pads = a.kernel_shape, a.strides, a.dilations, a.pads
    spans = [d[i] * (k[i] - 1) + 1 for i in range(sp)]
    widths = [(0, 0), (0, 0)]
    for i in range(sp):
        need = (out_sizes[i] - 1) * s[i] + spans[i]
        end = need - x.shape[2 + i] - pads[i]
        widths.append((pads[i], max(end, 0)))
    xp = np.pad(x, widths, constant_values=fill)
    win = sliding_window_view(xp, spans, axis=tuple(range(2, 2 + sp)))
    index = (slice(None), slice(None))
    index += tuple(slice(0, (out_sizes[i] - 1) * s[i] + 1, s[i]) for i in range(sp))
    index += tuple(slice(None, None, d[i]) for i in range(sp))
    return win[index]


# -- convolution ---------------------------------------------------------------------------
def _conv_types(types, a):
    x, w = types[0], types[1]
    sp = _check_spatial("Conv", x, a)
    if a.group < 1:
        raise ShapeError(f"Conv group {a.group} must be positive")
    if w.rank != x.rank:
        raise ShapeError(f"Conv: weight {w} and input {x} differ in rank")
    if x.shape[1] != w.shape[1] * a.group:
        raise ShapeError(f"Conv: input has {x.shape[1]} channels, weight expects {w.shape[1]} x group {a.group}")
    if w.shape[0] % a.group:
        raise ShapeError(f"Conv: {w.shape[0]} output channels not divisible by group {a.group}")
    if tuple(w.shape[2:]) != tuple(a.kernel_shape):
        raise ShapeError(f"Conv: kernel_shape {list(a.kernel_shape)} != weight {w}")
    if len(types) == 3 and types[2].shape != (w.shape[0],):
        raise ShapeError(f"Conv: bias {types[2]} does not match {w.shape[0]} output channels")
    del sp
    return [TensorType((x.shape[0], w.shape[0], *_out_spatial(x, a)), x.dtype)]


def _conv_macs(ins, outs, a):
    return outs[0].numel * ins[1].numel // ins[1].shape[0]


def conv_nchw(x: np.ndarray, w: np.ndarray, a) -> np.ndarray:
    """Grouped, strided, dilated, padded N-D convolution without bias.

    Accumulates in float64: the oracle should not depend on BLAS blocking, and models with
    constant weights (the model zoo's light models) amplify float32 rounding through softmax.
    """
    dtype = x.dtype
    x, w = x.astype(np.float64), w.astype(np.float64)
    sp = x.ndim - 2
    out_sizes = _out_spatial(TensorType(x.shape, str(x.dtype)), a)
    win = _windows(x, a, 0.0, out_sizes)  # N, C, *O, *K
    g = a.group
    n, c = x.shape[:2]
    m = w.shape[0]
    cg, mg = c // g, m // g
    k_axes = list(range(2 + sp, 2 + 2 * sp))
    outs = []
    for gi in range(g):
        xw = win[:, gi * cg : (gi + 1) * cg]
        wg = w[gi * mg : (gi + 1) * mg]
        # contract channels and kernel positions: (N, *O, Mg)
        outs.append(np.tensordot(xw, wg, axes=([1, *k_axes], [1, *range(2, 2 + sp)])))
    y = np.concatenate(outs, axis=-1) if g > 1 else outs[0]
    return np.ascontiguousarray(np.moveaxis(y, -1, 1)).astype(dtype)


@defop("Conv", _conv_types, attrs=CONV_ATTRS, inputs=(2, 3), macs=_conv_macs)
def conv(a, x, w, b=None):
    y = conv_nchw(x, w, a)
    if b is not None:
        y += b.reshape((1, -1) + (1,) * (x.ndim - 2))
    return y


def _conv_transpose_types(types, a):
    x, w = types[0], types[1]
    sp = _check_spatial("ConvTranspose", x, a, negative_pads=True)
    if a.group < 1:
        raise ShapeError(f"ConvTranspose group {a.group} must be positive")
    if w.rank != x.rank or tuple(w.shape[2:]) != tuple(a.kernel_shape):
        raise ShapeError(f"ConvTranspose: kernel_shape {list(a.kernel_shape)} != weight {w}")
    if x.shape[1] != w.shape[0]:
        raise ShapeError(f"ConvTranspose: input has {x.shape[1]} channels, weight {w} expects {w.shape[0]}")
    if x.shape[1] % a.group:
        raise ShapeError(f"ConvTranspose: {x.shape[1]} input channels not divisible by group {a.group}")
    if len(a.output_padding) != sp:
        raise ShapeError(f"ConvTranspose: output_padding {list(a.output_padding)} does not fit {sp}-D input")
    if min(a.output_padding, default=0) < 0:
        raise ShapeError(f"ConvTranspose output_padding {list(a.output_padding)} must not be negative")
    out = []
    for i in range(sp):
        full = a.strides[i] * (x.shape[2 + i] - 1) + a.output_padding[i] + a.dilations[i] * (a.kernel_shape[i] - 1) + 1
        out.append(full - a.pads[i] - a.pads[sp + i])
    if min(out) <= 0:
        raise ShapeError(f"ConvTranspose: output size {out} is empty")
    return [TensorType((x.shape[0], w.shape[1] * a.group, *out), x.dtype)]


def _conv_transpose_macs(ins, outs, a):
    return ins[0].numel * ins[1].numel // ins[1].shape[0]


@defop(
    "ConvTranspose",
    _conv_transpose_types,
    attrs={**CONV_ATTRS, "output_padding": REQUIRED},
    inputs=(2, 3),
    macs=_conv_transpose_macs,
)
def conv_transpose(a, x, w, b=None):
    """Scatter form: every input pixel adds its kernel-weighted contribution to the output."""
    sp = x.ndim - 2
    n, cin = x.shape[:2]
    g = a.group
    cg, mg = cin // g, w.shape[1]
    s, d, k = a.strides, a.dilations, a.kernel_shape
    full = [s[i] * (x.shape[2 + i] - 1) + a.output_padding[i] + d[i] * (k[i] - 1) + 1 for i in range(sp)]
    y = np.zeros((n, mg * g, *full), dtype=F32)
    for gi in range(g):
        xg = x[:, gi * cg : (gi + 1) * cg]
        wg = w[gi * cg : (gi + 1) * cg]
        col = np.tensordot(xg, wg, axes=([1], [0]))  # N, *I, Mg, *K
        col = np.moveaxis(col, 1 + sp, 1)  # N, Mg, *I, *K
        for pos in itertools.product(*(range(kk) for kk in k)):
            dst = (slice(None), slice(gi * mg, (gi + 1) * mg))
            dst += tuple(slice(pos[i] * d[i], pos[i] * d[i] + s[i] * (x.shape[2 + i] - 1) + 1, s[i]) for i in range(sp))
            y[dst] += col[(Ellipsis, *pos)]
    # Negative pads (ONNX output_shape beyond the full result) grow the output with zeros.
    grow = [(0, 0), (0, 0)] + [(max(-a.pads[i], 0), max(-a.pads[sp + i], 0)) for i in range(sp)]
    y = np.pad(y, grow)
    crop = (slice(None), slice(None))
    crop += tuple(slice(max(a.pads[i], 0), y.shape[2 + i] - max(a.pads[sp + i], 0)) for i in range(sp))
    y = np.ascontiguousarray(y[crop])
    if b is not None:
        y += b.reshape((1, -1) + (1,) * sp)
    return y


# -- pooling -------------------------------------------------------------------------------
def _pool_types(op):
    def infer(types, a):
        x = types[0]
        _check_spatial(op, x, a)
        return [TensorType((x.shape[0], x.shape[1], *_out_spatial(x, a, bool(a.ceil_mode))), x.dtype)]

    return infer


def _pool_macs(ins, outs, a):
    return outs[0].numel * math.prod(a.kernel_shape)


@defop("MaxPool", _pool_types("MaxPool"), attrs=POOL_ATTRS, macs=_pool_macs)
def max_pool(a, x):
    out_sizes = _out_spatial(TensorType(x.shape, str(x.dtype)), a, bool(a.ceil_mode))
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    win = _windows(x, a, lowest, out_sizes)
    sp = x.ndim - 2
    return win.max(axis=tuple(range(2 + sp, 2 + 2 * sp))).astype(x.dtype)


@defop("AveragePool", _pool_types("AveragePool"), attrs={**POOL_ATTRS, "count_include_pad": 0}, macs=_pool_macs)
def average_pool(a, x):
    """Divisor counts real pixels, plus explicit pads when count_include_pad; never the ceil overhang."""
    sp = x.ndim - 2
    out_sizes = _out_spatial(TensorType(x.shape, str(x.dtype)), a, bool(a.ceil_mode))
    k_axes = tuple(range(2 + sp, 2 + 2 * sp))
    sums = _windows(x, a, 0.0, out_sizes).sum(axis=k_axes, dtype=np.float64)
    ones = np.ones((1, 1, *x.shape[2:]), dtype=F32)
    if a.count_include_pad:
        pad_widths = [(0, 0), (0, 0)] + [(a.pads[i], a.pads[sp + i]) for i in range(sp)]
        counted = np.pad(ones, pad_widths, constant_values=1.0)
        counts = _windows(counted, a.replace(pads=(0,) * (2 * sp)), 0.0, out_sizes).sum(axis=k_axes)
    else:
        counts = _windows(ones, a, 0.0, out_sizes).sum(axis=k_axes)
    return (sums / counts).astype(x.dtype)


def _global_pool_types(types, a):
    x = types[0]
    if x.rank < 3:
        raise ShapeError(f"global pooling needs rank >= 3, got {x}")
    return [TensorType(x.shape[:2] + (1,) * (x.rank - 2), x.dtype)]


@defop("GlobalAveragePool", _global_pool_types, macs=lambda i, o, a: i[0].numel)
def global_average_pool(a, x):
    return x.mean(axis=tuple(range(2, x.ndim)), keepdims=True, dtype=np.float64).astype(x.dtype)


@defop("GlobalMaxPool", _global_pool_types, macs=lambda i, o, a: i[0].numel)
def global_max_pool(a, x):
    return x.max(axis=tuple(range(2, x.ndim)), keepdims=True)


# -- normalization -------------------------------------------------------------------------
def _lrn_types(types, a):
    if a.size < 1:
        raise ShapeError(f"LRN size {a.size} must be at least 1 (the number of channels summed)")
    if types[0].rank < 2:
        raise ShapeError(f"LRN needs an input of rank >= 2, got {types[0]}")
    return same_as_first(types, a)


@defop("LRN", _lrn_types, attrs={"size": REQUIRED, "alpha": 0.0001, "beta": 0.75, "bias": 1.0})
def lrn(a, x):
    c = x.shape[1]
    sq = (x.astype(np.float64)) ** 2
    acc = np.zeros_like(sq)
    lo_off, hi_off = (a.size - 1) // 2, math.ceil((a.size - 1) / 2)
    for ch in range(c):
        acc[:, ch] = sq[:, max(0, ch - lo_off) : min(c, ch + hi_off + 1)].sum(axis=1)
    return (x / (a.bias + a.alpha / a.size * acc) ** a.beta).astype(x.dtype)


def _channel_param_types(op, n_params):
    def infer(types, a):
        x = types[0]
        if x.rank < 2:
            raise ShapeError(f"{op} needs rank >= 2, got {x}")
        for t in types[1 : 1 + n_params]:
            if t.shape != (x.shape[1],):
                raise ShapeError(f"{op}: per-channel parameter {t} does not match {x.shape[1]} channels")
        return [x]

    return infer


def _per_channel(v: np.ndarray, rank: int) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (rank - 2))


@defop("BatchNormalization", _channel_param_types("BatchNormalization", 4), attrs={"epsilon": 1e-5}, inputs=5)
def batch_norm(a, x, scale, bias, mean, var):
    """Inference form: uses the running mean and variance."""
    r = x.ndim
    inv = scale / np.sqrt(var.astype(np.float64) + a.epsilon)
    y = (x - _per_channel(mean, r)) * _per_channel(inv, r) + _per_channel(bias, r)
    return y.astype(x.dtype)


@defop("InstanceNormalization", _channel_param_types("InstanceNormalization", 2), attrs={"epsilon": 1e-5}, inputs=3)
def instance_norm(a, x, scale, bias):
    axes = tuple(range(2, x.ndim))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    var = x64.var(axis=axes, keepdims=True)
    y = (x64 - mean) / np.sqrt(var + a.epsilon) * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)
    return y.astype(x.dtype)


def _layer_norm_types(types, a):
    x = types[0]
    axis = normalize_axis(a.axis, x.rank, "LayerNormalization")
    for t in types[1:]:
        try:
            ok = broadcast_shapes(t.shape, x.shape[axis:]) == tuple(x.shape[axis:])
        except ShapeError:
            ok = False
        if not ok:
            raise ShapeError(f"LayerNormalization: {t} does not broadcast to the normalized shape {list(x.shape[axis:])}")
    stats = TensorType([d if i < axis else 1 for i, d in enumerate(x.shape)], x.dtype)
    return [x, stats, stats]


@defop(
    "LayerNormalization",
    _layer_norm_types,
    attrs={"axis": -1, "epsilon": 1e-5},
    inputs=(2, 3),
    outputs=(1, 3),
)
def layer_norm(a, x, scale, bias=None):
    """Normalizes over the axes from ``axis`` on; also returns the mean and 1/stddev."""
    axes = tuple(range(a.axis % x.ndim, x.ndim))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(((x64 - mean) ** 2).mean(axis=axes, keepdims=True) + a.epsilon)
    y = (x64 - mean) * inv_std * scale
    if bias is not None:
        y = y + bias
    return y.astype(x.dtype), mean.astype(x.dtype), inv_std.astype(x.dtype)


def _softmax_types(op):
    def infer(types, a):
        normalize_axis(a.axis, types[0].rank, op)
        return [types[0]]

    return infer


@defop("Softmax", _softmax_types("Softmax"), attrs={"axis": -1})
def softmax(a, x):
    """Opset-13 semantics (one axis); the frontend rewrites the older flatten-to-2-D form."""
    e = np.exp(x - x.max(axis=a.axis, keepdims=True))
    return (e / e.sum(axis=a.axis, keepdims=True)).astype(x.dtype)


@defop("LogSoftmax", _softmax_types("LogSoftmax"), attrs={"axis": -1})
def log_softmax(a, x):
    z = x - x.max(axis=a.axis, keepdims=True)
    return (z - np.log(np.exp(z).sum(axis=a.axis, keepdims=True))).astype(x.dtype)


# -- dense layers --------------------------------------------------------------------------
def _gemm_types(types, a):
    A, B = types[0], types[1]
    if A.rank != 2 or B.rank != 2:
        raise ShapeError(f"Gemm needs 2-D operands, got {A} and {B}")
    m, k = A.shape[::-1] if a.transA else A.shape
    k2, n = B.shape[::-1] if a.transB else B.shape
    if k != k2:
        raise ShapeError(f"Gemm: inner dimensions differ ({A} x {B}, transA={a.transA}, transB={a.transB})")
    if len(types) == 3:
        from cnncc.ops.shapes import broadcast_shapes

        if broadcast_shapes(types[2].shape, (m, n)) != (m, n):
            raise ShapeError(f"Gemm: C {types[2]} does not broadcast to ({m}, {n})")
    return [TensorType((m, n), A.dtype)]


def _gemm_macs(ins, outs, a):
    k = ins[0].shape[0] if a.transA else ins[0].shape[1]
    return outs[0].numel * k


@defop("Gemm", _gemm_types, attrs={"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0}, inputs=(2, 3), macs=_gemm_macs)
def gemm(a, A, B, C=None):
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    y = (A64.T if a.transA else A64) @ (B64.T if a.transB else B64)
    if a.alpha != 1.0:
        y = y * F32(a.alpha)
    if C is not None:
        y = y + F32(a.beta) * C
    return y.astype(A.dtype)


def _matmul_shape(a: tuple, b: tuple) -> tuple:
    from cnncc.ops.shapes import broadcast_shapes

    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ShapeError(f"MatMul: inner dimensions differ ({list(a)} x {list(b)})")
    out = broadcast_shapes(a2[:-2], b2[:-2]) + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


def _matmul_types(types, a):
    return [TensorType(_matmul_shape(types[0].shape, types[1].shape), types[0].dtype)]


@defop("MatMul", _matmul_types, inputs=2, macs=lambda i, o, a: o[0].numel * i[0].shape[-1])
def matmul(a, A, B):
    return np.matmul(A.astype(np.float64), B.astype(np.float64)).astype(A.dtype)
