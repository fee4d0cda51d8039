"""A NumPy forward pass of the ops the modern suite writes, run while a graph is written so that
each layer's weights can be fitted to the statistics of the values reaching it (batch
normalization folded with statistics of seeded inputs), on a batch of calibration inputs
where the graph has batch 1 (a Reshape's leading dimension is taken as that batch). Only as exact as calibration needs:
erf is a polynomial approximation (|error| < 1.5e-7), and nothing here checks cnncc."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _pad(x: np.ndarray, pads, value: float = 0.0) -> np.ndarray:
    top, left, bottom, right = pads
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def conv(x, w, b=None, *, kernel_shape, strides=(1, 1), pads=(0, 0, 0, 0), group=1, dilations=(1, 1)):
    assert tuple(dilations) == (1, 1)
    (kh, kw), (sh, sw) = kernel_shape, strides
    xp = _pad(x, pads)
    n, c, hp, wp = xp.shape
    oh, ow = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    cout = w.shape[0]
    if group == c and w.shape[1] == 1 and cout == c:  # depthwise: one shifted slice per tap
        y = np.zeros((n, c, oh, ow), np.float32)
        for i in range(kh):
            for j in range(kw):
                y += w[None, :, 0, i, j, None, None] * xp[:, :, i : i + sh * oh : sh, j : j + sw * ow : sw]
    else:
        win = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :oh, :ow]
        win = win.reshape(n, group, c // group, oh, ow, kh, kw)
        wg = w.reshape(group, cout // group, c // group, kh, kw)
        y = np.einsum("ngchwij,gocij->ngohw", win, wg, optimize=True).reshape(n, cout, oh, ow)
    return (y + b[None, :, None, None] if b is not None else y).astype(np.float32)


def conv_transpose(x, w, b=None, *, kernel_shape, strides):
    """Only the non-overlapping case (kernel == stride), which is what the suite writes."""
    (kh, kw), (sh, sw) = kernel_shape, strides
    assert (kh, kw) == (sh, sw)
    n, _, h, wd = x.shape
    y = np.einsum("nchw,coij->nohiwj", x, w, optimize=True).reshape(n, w.shape[1], h * kh, wd * kw)
    return (y + b[None, :, None, None] if b is not None else y).astype(np.float32)


def max_pool(x, *, kernel_shape, strides, pads):
    (kh, kw), (sh, sw) = kernel_shape, strides
    win = sliding_window_view(_pad(x, pads, -np.inf), (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw]
    return win.max(axis=(-2, -1))


def erf(x):
    """Abramowitz and Stegun 7.1.26."""
    s = np.sign(x)
    a = np.abs(x).astype(np.float64)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return (s * (1.0 - poly * np.exp(-a * a))).astype(np.float32)


def softmax(x, *, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def resize_nearest(x, roi, scales, **_):
    ry, rx = int(scales[2]), int(scales[3])
    return x.repeat(ry, axis=2).repeat(rx, axis=3)


def split(x, sizes, *, axis):
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


def gemm(a, b, c, *, transB, alpha=1.0, beta=1.0):
    return (alpha * (a @ (b.T if transB else b)) + beta * c).astype(np.float32)


EVAL = {
    "Conv": conv,
    "ConvTranspose": conv_transpose,
    "MaxPool": max_pool,
    "GlobalAveragePool": lambda x: x.mean(axis=(2, 3), keepdims=True),
    "Gemm": gemm,
    "Flatten": lambda x, axis: x.reshape(x.shape[0], -1),
    "Relu": lambda x: np.maximum(x, 0),
    "Clip": lambda x, lo, hi: np.clip(x, lo, hi),
    "HardSwish": lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
    "HardSigmoid": lambda x, alpha, beta: np.clip(alpha * x + beta, 0, 1),
    "Sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "Erf": erf,
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Div": np.divide,
    "Pow": np.power,
    "Sqrt": np.sqrt,
    "ReduceMean": lambda x, axes, keepdims: x.mean(axis=tuple(axes), keepdims=bool(keepdims)),
    "Concat": lambda *xs, axis: np.concatenate(xs, axis=axis),
    "Split": split,
    "Resize": resize_nearest,
    "Reshape": lambda x, shape: x.reshape((x.shape[0], *shape[1:])),  # the graph's batch 1 is the calibration batch
    "Transpose": lambda x, perm: x.transpose(perm),
    "Softmax": softmax,
}


def evaluate(op_type: str, inputs: list, attrs: dict) -> list[np.ndarray]:
    """The op's outputs, as float32 arrays (int64 stays int64)."""
    out = EVAL[op_type](*inputs, **attrs)
    outs = out if isinstance(out, list) else [out]
    return [o.astype(np.float32) if o.dtype.kind == "f" else o for o in outs]
