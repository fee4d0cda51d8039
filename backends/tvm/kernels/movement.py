"""Data movement and shape lowerings: reshape family, concat/split/slice, pad, resize, gather,
and the ops that only produce compile-time values (ConstantOfShape, Shape, Size, Range)."""

from __future__ import annotations

import math

import numpy as np
from tvm import te, topi

from cnncc.ir import Attrs
from cnncc.ops.tensor import _nearest_index, cubic_taps, resize_source_coords, upsample_as_resize_attrs

from ..lowering import KernelContext, register
from .common import all_of, bcast, const, tir


@register("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity")
def _reshape(ctx: KernelContext):
    # a pure reshape: Relax's RewriteDataflowReshape turns this kernel into a zero-copy view
    return [topi.reshape(ctx.x, ctx.out.shape)]


@register("Transpose")
def _transpose(ctx: KernelContext):
    return [topi.transpose(ctx.x, list(ctx.attrs.perm))]


@register("Concat")
def _concat(ctx: KernelContext):
    return [topi.concatenate(ctx.inputs, axis=ctx.attrs.axis % len(ctx.out.shape))]


@register("Split")
def _split(ctx: KernelContext):
    x = ctx.x
    axis = ctx.attrs.axis % len(x.shape)
    outs, start = [], 0
    for k, t in enumerate(ctx.out_types):
        outs.append(te.compute(t.shape, _shifted(x, axis, start), name=f"split{k}"))
        start += t.shape[axis]
    return outs


def _shifted(x, axis, start):
    return lambda *i: x[tuple(v + start if ax == axis else v for ax, v in enumerate(i))]


@register("Slice")
def _slice(ctx: KernelContext):
    x, a = ctx.x, ctx.attrs
    spec = {axis: (start, step) for start, axis, step in zip(a.starts, a.axes, a.steps)}

    def f(*i):
        src = []
        for ax, v in enumerate(i):
            if ax in spec:
                start, step = spec[ax]
                v = start + v * step
            src.append(v)
        return x[tuple(src)]

    return [te.compute(ctx.out.shape, f, name="slice")]


@register("Expand")
def _expand(ctx: KernelContext):
    r = len(ctx.out.shape)
    return [te.compute(ctx.out.shape, lambda *i: bcast(ctx.x, r, i), name="expand")]


@register("Tile")
def _tile(ctx: KernelContext):
    x = ctx.x
    dims = [int(d) for d in x.shape]
    return [te.compute(ctx.out.shape, lambda *i: x[tuple([tir.indexmod(v, d) for v, d in zip(i, dims)])], name="tile")]


@register("Pad")
def _pad(ctx: KernelContext):
    """Output index o reads input o - pad_begin; negative pads crop (ONNX: crop, then pad)."""
    x, a = ctx.x, ctx.attrs
    r = len(x.shape)
    dims = [int(d) for d in x.shape]
    lo = [max(-a.pads[i], 0) for i in range(r)]
    hi = [dims[i] - max(-a.pads[r + i], 0) for i in range(r)]

    def f(*o):
        src = [o[i] - a.pads[i] for i in range(r)]
        if a.mode == "constant":
            ok = all_of([tir.all(src[i] >= lo[i], src[i] < hi[i]) for i in range(r) if a.pads[i] > 0 or a.pads[r + i] > 0])
            safe = [tir.max(tir.min(src[i], hi[i] - 1), lo[i]) for i in range(r)]
            return tir.if_then_else(ok, x[tuple(safe)], tir.const(a.value, x.dtype))
        idx = []
        for i in range(r):
            if a.mode == "edge":
                idx.append(tir.max(tir.min(src[i], hi[i] - 1), lo[i]))
                continue
            span = hi[i] - lo[i]
            if a.mode == "wrap":
                idx.append(tir.floormod(src[i] - lo[i], span) + lo[i])
                continue
            rel = tir.abs(src[i] - lo[i])  # reflect at the start
            rel = tir.Select(rel >= span, 2 * (span - 1) - rel, rel)  # and at the end
            idx.append(rel + lo[i])
        return x[tuple(idx)]

    return [te.compute(ctx.out.shape, f, name="pad")]


def _resize(ctx: KernelContext, a):
    """Separable, like the reference: compile-time tables per resized axis (source indices,
    weights, out-of-roi masks), one stage per axis for linear/cubic, one gather for nearest."""
    x = ctx.x
    dims = [int(d) for d in x.shape]
    crop = a.coordinate_transformation_mode == "tf_crop_and_resize"
    axes = [ax for ax in range(len(dims)) if crop or not (dims[ax] == a.sizes[ax] and a.scales[ax] == 1.0)]
    extrapolate = const(a.get("extrapolation_value", 0.0) or 0.0)
    coords = {ax: resize_source_coords(a, ax, dims[ax]) for ax in axes}
    outside = {}
    if crop:
        outside = {ax: ctx.table(((coords[ax] < 0) | (coords[ax] > dims[ax] - 1)).astype("int32")) for ax in axes}
    if a.mode == "nearest":
        tables = {
            ax: ctx.table(_nearest_index(coords[ax], a.nearest_mode, dims[ax], a.scales[ax]).astype("int32")) for ax in axes
        }

        def f(*o):
            v = x[tuple(tables[ax][v] if ax in tables else v for ax, v in enumerate(o))]
            for ax in outside:
                v = tir.Select(outside[ax][o[ax]] != 0, extrapolate, v)
            return v

        return [te.compute(ctx.out.shape, f, name="resize")]
    y = x
    shape = list(dims)
    for ax in axes:
        c, n = coords[ax], dims[ax]
        if a.mode == "linear":
            clipped = np.clip(c, 0, n - 1)
            lo = np.floor(clipped).astype(np.int64)
            idx = np.stack([lo, np.minimum(lo + 1, n - 1)], axis=1)
            frac = clipped - lo
            w = np.stack([1 - frac, frac], axis=1)
        else:
            idx, w = cubic_taps(c, n, a)
        shape[ax] = a.sizes[ax]
        taps = _taps(y, ax, ctx.table(idx.astype("int32")), ctx.table(w.astype("float32")), outside.get(ax), extrapolate)
        y = te.compute(tuple(shape), taps, name=f"resize{ax}")
    if y is x:
        y = te.compute(x.shape, lambda *i: x[tuple(i)], name="resize")
    return [y]


def _taps(y, axis, idx, weight, outside, extrapolate):
    """Weighted sum of the taps of ``y`` along ``axis`` (tables idx/weight of (out, taps))."""
    taps = int(idx.shape[1])

    def f(*o):
        def at(t):
            return tuple(idx[o[axis], t] if k == axis else v for k, v in enumerate(o))

        v = y[at(0)] * weight[o[axis], 0]
        for t in range(1, taps):
            v = v + y[at(t)] * weight[o[axis], t]
        return v if outside is None else tir.Select(outside[o[axis]] != 0, extrapolate, v)

    return f


@register("Resize")
def _resize_op(ctx: KernelContext):
    return _resize(ctx, ctx.attrs)


@register("Upsample")
def _upsample(ctx: KernelContext):
    return _resize(ctx, Attrs(upsample_as_resize_attrs(ctx.attrs, ctx.in_types[0].shape)))


@register("Gather")
def _gather(ctx: KernelContext):
    data, idx = ctx.inputs
    axis = ctx.attrs.axis % len(data.shape)
    dim = int(data.shape[axis])
    ir = len(idx.shape)

    def f(*o):
        pre, mid, post = o[:axis], o[axis : axis + ir], o[axis + ir :]
        v = idx[tuple(mid)]
        v = tir.Select(v < tir.const(0, v.dtype), v + tir.const(dim, v.dtype), v)
        return data[(*pre, v, *post)]

    return [te.compute(ctx.out.shape, f, name="gather")]


# -- ops whose values are known at compile time ------------------------------------------
@register("ConstantOfShape")
def _constant_of_shape(ctx: KernelContext):
    a = ctx.attrs
    return [te.compute(ctx.out.shape, lambda *i: tir.const(a.value, a.dtype), name="fill")]


def _from_values(ctx: KernelContext, values, name):
    """A small 1-D int tensor of known values, as a select chain (Shape, Range)."""
    dt = ctx.out.dtype

    def f(i):
        v = tir.const(values[-1] if values else 0, dt)
        for k in range(len(values) - 2, -1, -1):
            v = tir.Select(i == k, tir.const(values[k], dt), v)
        return v

    return [te.compute(ctx.out.shape, f, name=name)]


@register("Shape")
def _shape(ctx: KernelContext):
    from cnncc.ops.tensor import _shape_range

    shape = ctx.in_types[0].shape
    lo, hi = _shape_range(len(shape), ctx.attrs)
    return _from_values(ctx, list(shape[lo:hi]), "shape")


@register("Size")
def _size(ctx: KernelContext):
    n = math.prod(ctx.in_types[0].shape)
    return [te.compute((), lambda: tir.const(n, "int64"), name="size")]


@register("Range")
def _range(ctx: KernelContext):
    a = ctx.attrs
    dt = ctx.out.dtype
    if "int" in dt:
        return [te.compute(ctx.out.shape, lambda i: tir.const(a.start, dt) + i.astype(dt) * tir.const(a.delta, dt), name="range")]
    return [te.compute(ctx.out.shape, lambda i: (tir.const(a.start, "float64") + i.astype("float64") * tir.const(a.delta, "float64")).astype(dt), name="range")]


# -- moving channels to and from space -----------------------------------------------------
@register("DepthToSpace")
def _depth_to_space(ctx: KernelContext):
    x, a = ctx.x, ctx.attrs
    b = a.blocksize
    c_out = ctx.out.shape[1]

    def f(n, c, h, w):
        bh, bw = tir.indexmod(h, b), tir.indexmod(w, b)
        src_c = (bh * b + bw) * c_out + c if a.mode == "DCR" else c * b * b + bh * b + bw
        return x[n, src_c, tir.indexdiv(h, b), tir.indexdiv(w, b)]

    return [te.compute(ctx.out.shape, f, name="depth_to_space")]


@register("SpaceToDepth")
def _space_to_depth(ctx: KernelContext):
    x, a = ctx.x, ctx.attrs
    b = a.blocksize
    c_in = ctx.in_types[0].shape[1]

    def f(n, c, h, w):
        if a.mode == "DCR":  # c = (bh * b + bw) * C + ci
            blk, ci = tir.indexdiv(c, c_in), tir.indexmod(c, c_in)
        else:  # c = ci * b * b + bh * b + bw
            ci, blk = tir.indexdiv(c, b * b), tir.indexmod(c, b * b)
        return x[n, ci, h * b + tir.indexdiv(blk, b), w * b + tir.indexmod(blk, b)]

    return [te.compute(ctx.out.shape, f, name="space_to_depth")]
