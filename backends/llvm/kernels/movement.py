"""Data movement: Concat, Split, Slice, Transpose, Expand, Tile, Pad, Resize/Upsample,
Gather, copies for view ops that must materialize, and ops whose output is known at compile
time (Shape, Size, Range, ConstantOfShape: the value is packed into the weight blob)."""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numpy.lib.stride_tricks import as_strided

from cnncc.errors import ShapeError
from cnncc.ir import Attrs
from cnncc.ops import evaluate
from cnncc.ops.tensor import upsample_as_resize_attrs

from ..emit import F32, FAST, I64, I8, llvm_type
from ..lowering import RUN_INDEX_ERROR, VIEW_OPS, register
from .strided import Access, broadcast_strides, contiguous_strides, emit_map


def _identity(em, v):
    return v[0]


def copy(k, dst, src, etype, shape):
    st = contiguous_strides(shape)
    emit_map(k, shape, Access(dst, etype, st), [Access(src, etype, st)], _identity)


def fill(k, dst, etype, shape, value):
    const = k.em.const(etype, value)
    emit_map(k, shape, Access(dst, etype, contiguous_strides(shape)), [], lambda em, v: const)


@register(*VIEW_OPS)
def _copy(k, node):
    """A view op whose output must own its bytes (a graph output): copy."""
    copy(k, k.out(0), k.inp(0), k.in_type(0), k.in_shape(0))
    if len(node.outputs) > 1:  # Dropout's mask: all true
        fill(k, k.out(1), I8, k.out_shape(1), 1)


@register("Concat")
def _concat(k, node):
    shape = k.out_shape()
    axis = node.attrs.axis % len(shape)
    ost = contiguous_strides(shape)
    pos = 0
    for i, v in enumerate(node.inputs):
        emit_map(k, v.shape, Access(k.out(), k.out_type(), ost, pos * ost[axis]),
                 [Access(k.inp(i), k.in_type(i), contiguous_strides(v.shape))], _identity)
        pos += v.shape[axis]


@register("Split")
def _split(k, node):
    shape = k.in_shape(0)
    axis = node.attrs.axis % len(shape)
    ist = contiguous_strides(shape)
    pos = 0
    for i, v in enumerate(node.outputs):
        emit_map(k, v.shape, Access(k.out(i), k.out_type(i), contiguous_strides(v.shape)),
                 [Access(k.inp(0), k.in_type(0), ist, pos * ist[axis])], _identity)
        pos += v.shape[axis]


@register("Slice")
def _slice(k, node):
    a = node.attrs
    ist = contiguous_strides(k.in_shape(0))
    strides, offset = list(ist), 0
    for start, end, axis, step in zip(a.starts, a.ends, a.axes, a.steps):
        if start < 0:  # empty slice (negative step from -1)
            return
        offset += start * ist[axis]
        strides[axis] = ist[axis] * step
    shape = k.out_shape()
    emit_map(k, shape, Access(k.out(), k.out_type(), contiguous_strides(shape)),
             [Access(k.inp(0), k.in_type(0), strides, offset)], _identity)


@register("Transpose")
def _transpose(k, node):
    ist = contiguous_strides(k.in_shape(0))
    shape = k.out_shape()
    emit_map(k, shape, Access(k.out(), k.out_type(), contiguous_strides(shape)),
             [Access(k.inp(0), k.in_type(0), [ist[p] for p in node.attrs.perm])], _identity)


@register("Expand")
def _expand(k, node):
    shape = k.out_shape()
    emit_map(k, shape, Access(k.out(), k.out_type(), contiguous_strides(shape)),
             [Access(k.inp(0), k.in_type(0), broadcast_strides(k.in_shape(0), shape))], _identity)


@register("Tile")
def _tile(k, node):
    """Index space (r0, d0, r1, d1, ...): the input ignores the repeat dimensions."""
    ishape, reps = k.in_shape(0), node.attrs.repeats
    ist, ost = contiguous_strides(ishape), contiguous_strides(k.out_shape())
    space, o_str, i_str = [], [], []
    for d, r in enumerate(reps):
        space += [r, ishape[d]]
        o_str += [ishape[d] * ost[d], ost[d]]
        i_str += [0, ist[d]]
    emit_map(k, space, Access(k.out(), k.out_type(), o_str), [Access(k.inp(0), k.in_type(0), i_str)], _identity)


@register("DepthToSpace", "SpaceToDepth")
def _depth_space(k, node):
    """A reshape + transpose (as in the reference) read through strides."""
    n, c, h, w = k.in_shape(0)
    bs = node.attrs.blocksize
    if node.op == "DepthToSpace":
        if node.attrs.mode == "DCR":
            view, perm = (n, bs, bs, c // (bs * bs), h, w), (0, 3, 4, 1, 5, 2)
        else:
            view, perm = (n, c // (bs * bs), bs, bs, h, w), (0, 1, 4, 2, 5, 3)
    else:
        view = (n, c, h // bs, bs, w // bs, bs)
        perm = (0, 3, 5, 1, 2, 4) if node.attrs.mode == "DCR" else (0, 1, 3, 5, 2, 4)
    vst = contiguous_strides(view)
    space = [view[p] for p in perm]
    et = k.in_type(0)
    emit_map(k, space, Access(k.out(), et, contiguous_strides(space)),
             [Access(k.inp(0), et, [vst[p] for p in perm])], _identity)


@register("Pad")
def _pad(k, node):
    a = node.attrs
    ishape, oshape = k.in_shape(0), k.out_shape()
    r = len(ishape)
    ist = contiguous_strides(ishape)
    et = k.in_type(0)
    # negative pads crop first (like the reference), then pad by max(pad, 0)
    offset, cshape = 0, []
    for d in range(r):
        cb, ce = max(-a.pads[d], 0), max(-a.pads[r + d], 0)
        offset += cb * ist[d]
        cshape.append(ishape[d] - cb - ce)
    pb = [max(a.pads[d], 0) for d in range(r)]
    pe = [max(a.pads[r + d], 0) for d in range(r)]
    ost = contiguous_strides(oshape)
    if a.mode == "constant" or math.prod(cshape) == 0:
        value = a.value if et == F32 else int(a.value)
        fill(k, k.out(), et, oshape, value)
        k.barrier()
        interior = sum(pb[d] * ost[d] for d in range(r))
        emit_map(k, cshape, Access(k.out(), et, ost, interior), [Access(k.inp(0), et, ist, offset)], _identity)
        return
    tables = {}
    for d in range(r):
        if pb[d] or pe[d]:
            src = np.pad(np.arange(cshape[d]), (pb[d], pe[d]), mode=a.mode).astype(np.int64) * ist[d]
            tables[d] = k.table(("pad", node.name, d), src)
    emit_map(k, oshape, Access(k.out(), et, ost), [Access(k.inp(0), et, list(ist), offset, tables)], _identity)


# -- Resize / Upsample -----------------------------------------------------------------------
def _interp_matrix(attrs: Attrs, axis: int, in_size: int, extrapolation: float = 0.0) -> np.ndarray:
    """(out, in) interpolation matrix of one axis, from the reference itself: Resize is
    separable and linear, so resizing an identity matrix along that axis gives it."""
    sizes = (attrs.sizes[axis], in_size)
    scales = (attrs.scales[axis], 1.0)
    changes = dict(sizes=sizes, scales=scales)
    if attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize":
        rank = len(attrs.sizes)
        changes["roi"] = (attrs.roi[axis], 0.0, attrs.roi[rank + axis], 1.0)
        changes["extrapolation_value"] = extrapolation
    return evaluate("Resize", [np.eye(in_size, dtype=np.float32)], attrs.replace(**changes))[0].astype(np.float64)


@register("Resize", "Upsample")
def _resize(k, node):
    """Per resized axis, tables of source offsets and weights (1 tap nearest, 2 linear, 4
    cubic); tf_crop_and_resize adds per-axis "outside" flags that yield the extrapolation
    value."""
    attrs = node.attrs
    ishape, oshape = k.in_shape(0), k.out_shape()
    if node.op == "Upsample":
        attrs = Attrs(upsample_as_resize_attrs(attrs, ishape))
    crop = attrs.get("coordinate_transformation_mode") == "tf_crop_and_resize"
    ist, ost = contiguous_strides(ishape), contiguous_strides(oshape)
    et = k.in_type(0)
    taps = {}  # axis -> (offsets, weights, ntaps, outside flags or None)
    nearest = not crop
    for d in range(len(ishape)):
        if ishape[d] == oshape[d] and attrs.scales[d] == 1.0 and not crop:
            continue
        m = _interp_matrix(attrs, d, ishape[d])
        outside = None
        if crop:  # rows that change with the extrapolation value lie outside the crop box
            outside = np.any(_interp_matrix(attrs, d, ishape[d], 1.0) != m, axis=1)
            m[outside] = 0.0
        nt = max(1, int((np.abs(m) > 0).sum(axis=1).max()))
        idx = np.zeros((oshape[d], nt), np.int64)
        wts = np.zeros((oshape[d], nt), np.float32)
        for o in range(oshape[d]):
            nz = np.nonzero(m[o])[0]
            idx[o, :len(nz)] = nz
            wts[o, :len(nz)] = m[o, nz]
        if nt > 1 or not np.all(wts == 1.0):
            nearest = False
        taps[d] = (idx * ist[d], wts, nt, outside)
    if nearest:
        tables = {d: k.table(("resize.idx", node.name, d), t[0].reshape(-1)) for d, t in taps.items()}
        emit_map(k, oshape, Access(k.out(), et, ost), [Access(k.inp(0), et, list(ist), 0, tables)], _identity)
        return
    if et != F32:
        raise NotImplementedError(f"linear Resize of {node.inputs[0].dtype}")
    _resize_linear(k, node, oshape, ist, taps, attrs.get("extrapolation_value", 0.0))


def _resize_linear(k, node, oshape, ist, taps, extrapolation):
    """out[o] = sum over tap combinations of prod(weights) * in[sum(offsets)]."""
    em = k.em
    b = em.b
    rank = len(oshape)
    ptrs = {d: (k.table(("resize.idx", node.name, d), t[0].reshape(-1)),
                k.table(("resize.w", node.name, d), t[1].reshape(-1)), t[2],
                None if t[3] is None else k.table(("resize.out", node.name, d), t[3].astype(np.int8)))
            for d, t in taps.items()}
    outer, inner = oshape[:-1], oshape[-1]
    x, y = k.inp(0), k.out()
    ntap_total = math.prod(t[2] for t in ptrs.values())
    with k.parallel_loop(math.prod(outer), inner * ntap_total * 2) as t:
        oidx = em.unravel(t, outer)
        with em.loop(0, inner, name="j") as j:
            idx = [*oidx, j]
            base = 0
            choices = []  # per resized axis: list of (offset, weight)
            outside = None
            for d in range(rank):
                if d in ptrs:
                    iptr, wptr, nt, optr = ptrs[d]
                    row = em.mul(idx[d], nt)
                    choices.append([(em.load(iptr, em.add(row, c), I64), em.load(wptr, em.add(row, c), F32))
                                    for c in range(nt)])
                    if optr is not None:
                        flag = em.load(optr, idx[d], I8)
                        outside = flag if outside is None else b.or_(outside, flag)
                else:
                    base = em.add(base, em.mul(idx[d], ist[d]))
            acc = None
            for combo in _product(choices):
                off, w = base, None
                for o, wt in combo:
                    off = em.add(off, o)
                    w = wt if w is None else b.fmul(w, wt, flags=FAST)
                term = b.fmul(w, em.load(x, off, F32), flags=FAST)
                acc = term if acc is None else b.fadd(acc, term, flags=FAST)
            if outside is not None:
                acc = b.select(b.icmp_unsigned("!=", outside, ir.Constant(I8, 0)), em.fconst(extrapolation), acc)
            em.store(acc, y, em.lin([(i, s) for i, s in zip(idx, contiguous_strides(oshape))]), F32)


def _product(lists):
    out = [[]]
    for choices in lists:
        out = [prev + [c] for prev in out for c in choices]
    return out


# -- Gather ------------------------------------------------------------------------------------
@register("Gather")
def _gather(k, node):
    data, ind = node.inputs
    axis = node.attrs.axis % len(data.shape)
    A = math.prod(data.shape[:axis])
    D = data.shape[axis]
    B = math.prod(data.shape[axis + 1:])
    nidx = math.prod(ind.shape)
    et = k.in_type(0)
    idx = k.const_input(1)
    if idx is not None:
        bad = (idx < -D) | (idx >= D)
        if bad.any():
            raise ShapeError(f"node {node.name!r} (Gather): constant index {int(idx[bad].reshape(-1)[0])} is "
                             f"out of range for axis {axis} of size {D} (valid: {-D}..{D - 1})")
        src = np.where(idx < 0, idx + D, idx).astype(np.int64).reshape(-1) * B
        table = k.table(("gather", node.name), src)
        emit_map(k, (A, nidx, B), Access(k.out(), et, [nidx * B, B, 1]),
                 [Access(k.inp(0), et, [D * B, 0, 1], 0, {1: table})], _identity)
        return
    em = k.em
    it = k.in_type(1)
    x, y, ip = k.inp(0), k.out(), k.inp(1)
    with k.parallel_loop(A * nidx, B) as t:
        a_i, n_i = em.unravel(t, [A, nidx])
        i = em.load(ip, n_i, it)
        if it != I64:
            i = em.b.sext(i, I64)
        neg = em.b.icmp_signed("<", i, em.i64(0))
        i = em.b.select(neg, em.b.add(i, em.i64(D)), i)
        # an index outside the axis fails the run (the reference raises); nothing is read
        inside = em.b.icmp_unsigned("<", i, em.i64(D))
        with em.b.if_else(inside, likely=True) as (ok, bad_index):
            with ok:
                src = em.add(em.mul(a_i, D * B), em.b.mul(i, em.i64(B)))
                dst = em.mul(t, B)
                with em.loop(0, B, name="b") as b:
                    em.store(em.load(x, em.add(src, b), et), y, em.add(dst, b), et)
            with bad_index:
                k.fail(RUN_INDEX_ERROR)


# -- values known at compile time --------------------------------------------------------------
@register("Shape", "Size", "Range", "ConstantOfShape")
def _materialize(k, node):
    """The output depends only on shapes and attributes: compute it now, copy it at run time."""
    dummies = [as_strided(np.zeros(1, v.dtype), v.shape, [0] * len(v.shape)) for v in node.inputs]
    value = evaluate(node.op, dummies, node.attrs)[0]
    out = node.outputs[0]
    ptr = k.table(("value", node.name), np.ascontiguousarray(value, dtype=out.dtype))
    copy(k, k.out(), ptr, llvm_type(out.dtype), out.shape)

