"""ConvTranspose, NCHW: the gather form, and kernels equal to their stride as a pointwise conv
plus a scatter."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from cnncc.builder import make_node
from cnncc.ir import TensorType, Value

from ..emit import F32, FAST
from ..lowering import register
from .conv import emit_conv
from .conv_geom import ceil_div, conv_geometry, depth_geometry, floor_div
from .conv_schedule import ConvSchedule
from .vectors import interleave_pairs


def _tiles_output(node, o_shape) -> bool:
    """A 2-D ConvTranspose whose kernel equals its stride (no pads, dilation, output
    padding or groups) and constant weights: every output pixel gets exactly one tap."""
    a, w = node.attrs, node.inputs[1]
    return (len(o_shape) == 4 and w.is_constant and a.group == 1 and tuple(a.kernel_shape) == tuple(a.strides)
            and not any(a.pads) and set(a.dilations) == {1} and not any(a.output_padding)
            and tuple(o_shape[2:]) == tuple(s * d for s, d in zip(a.strides, node.inputs[0].shape[2:])))


@contextmanager
def _as_node(k, node):
    """The kernel lowers ``node`` (a stand-in sharing the real node's inputs) for a while."""
    real = k.node
    k.node = node
    try:
        yield
    finally:
        k.node = real


def _conv_transpose_as_pointwise(k, node):
    """Kernel == stride: a pointwise conv to C -> M*KH*KW channels (the channel-vector kernel,
    into scratch), then each (kh, kw) channel of it scattered to its output phase, + bias.
    (PP-OCR's 2x2/2 upsampling: the gather form ran at 2% of peak, 17 ms of a 57 ms model.)"""
    em = k.em
    x, w = node.inputs[0], node.inputs[1]
    N, C, H, W = x.shape
    _, M, KH, KW = w.shape
    # output channel (m, kh, kw) of the pointwise conv: w[c, m, kh, kw]
    wp = np.ascontiguousarray(w.data.transpose(1, 2, 3, 0).reshape(M * KH * KW, C, 1, 1))
    pw_w = Value(f"{w.name}.pointwise", TensorType(wp.shape, "float32"), data=wp)
    pw_node = make_node("Conv", [x, pw_w], [f"{node.name}.phases"],
                        dict(kernel_shape=(1, 1), strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1),
                        name=f"{node.name}.pointwise")
    mid_t = pw_node.outputs[0].type
    mid = k.scratch(mid_t.nbytes)
    with _as_node(k, pw_node):
        emit_conv(k, pw_node, mid, mid_t.shape)
    k.algorithm = f"as pointwise {k.algorithm}, then phases"
    k.barrier()
    y = k.out()
    bias = k.inp(2) if len(node.inputs) > 2 else None
    OH, OW = H * KH, W * KW
    with k.parallel_loop(N * M * H * KH, W * KW) as t:
        nm, i, kh = em.unravel(t, [N * M, H, KH])
        add = em.load(bias, em.rem(nm, M), F32) if bias is not None else None
        dst = em.add(em.mul(nm, OH * OW), em.mul(em.add(em.mul(i, KH), kh), OW))
        # phase (kh, kw) of channel m: pointwise channel (m*KH + kh)*KW + kw
        srcs = [em.add(em.mul(em.add(em.mul(em.add(em.mul(nm, KH), kh), KW), kw), H * W), em.mul(i, W))
                for kw in range(KW)]
        if KW == 2:
            interleave_pairs(k, (mid, srcs), (y, dst), W, add)
        else:
            for kw in range(KW):
                with em.loop(0, W, name="j") as j:
                    v = em.load(mid, em.add(srcs[kw], j), F32)
                    if add is not None:
                        v = em.b.fadd(v, add, flags=FAST)
                    em.store(v, y, em.add(dst, em.add(em.mul(j, KW), kw)), F32)


@register("ConvTranspose")
def lower_conv_transpose(k, node):
    """Gather form: each output row sums the input rows/columns that land on it; kernels
    equal to their stride run as a pointwise conv plus a scatter (``_conv_transpose_as_pointwise``)."""
    if _tiles_output(node, k.out_shape()) and k.schedule(ConvSchedule).algorithm != "rows":
        _conv_transpose_as_pointwise(k, node)
        return
    a = node.attrs
    em = k.em
    b = em.b
    x_shape, w_shape, o_shape = k.in_shape(0), k.in_shape(1), k.out_shape()
    N, C, H, W, KH, KW, sh, sw, dh, dw, ph, pw, _, _ = conv_geometry(x_shape, w_shape, a)
    D, OD, KD, sd, dd, pd = depth_geometry(x_shape, w_shape, o_shape, a)
    G = a.group
    Cg, Mg = C // G, w_shape[1]
    M = Mg * G
    OH, OW = (1, o_shape[2]) if len(o_shape) == 3 else o_shape[-2:]
    x, wt, y = k.inp(0), k.inp(1), k.out()
    bias = k.inp(2) if len(node.inputs) > 2 else None

    def landing(o, kk, p, d, s, size):
        """(condition, input index) for output index o and kernel tap kk: o + p - kk*d = i*s."""
        tt = em.sub(em.add(o, p), em.mul(kk, d))
        if isinstance(tt, int):
            ok = tt >= 0 and tt % s == 0 and tt // s < size
            return ok, (tt // s if ok else 0)
        ok = b.icmp_signed(">=", tt, em.i64(0))
        if s > 1:
            ok = b.and_(ok, b.icmp_signed("==", b.srem(tt, em.i64(s)), em.i64(0)))
        i = b.sdiv(tt, em.i64(s)) if s > 1 else tt
        return b.and_(ok, b.icmp_signed("<", i, em.i64(size))), i

    with k.parallel_loop(N * G * Mg * OD * OH, Cg * KD * KH * KW * W // max(sh, 1)) as t:
        n, g, m, od, oh = em.unravel(t, [N, G, Mg, OD, OH])
        oc = em.add(em.mul(g, Mg), m)
        row = em.mul(em.add(em.mul(n, M), oc), OD * OH * OW)
        row = em.add(row, em.mul(em.add(em.mul(od, OH), oh), OW))
        init = em.load(bias, oc, F32) if bias is not None else em.fconst(0.0)
        with em.loop(0, OW, name="ow") as ow:
            em.store(init, y, em.add(row, ow), F32)
        with em.loop(0, Cg, name="ic") as ic:
            cin = em.add(em.mul(g, Cg), ic)
            xch = em.mul(em.add(em.mul(n, C), cin), D * H * W)
            wch = em.mul(em.add(em.mul(cin, Mg), m), KD * KH * KW)
            with em.loop(0, KD, name="kd") as kd:
                ok_d, idd = landing(od, kd, pd, dd, sd, D)
                with em.if_(ok_d):
                    with em.loop(0, KH, name="kh") as kh:
                        ok_h, ih = landing(oh, kh, ph, dh, sh, H)
                        with em.if_(ok_h):
                            xrow = em.add(xch, em.add(em.mul(idd, H * W), em.mul(ih, W)))
                            wrow = em.add(wch, em.mul(em.add(em.mul(kd, KH), kh), KW))
                            for kw in range(KW):
                                wv = em.load(wt, em.add(wrow, kw), F32)
                                off = kw * dw - pw                 # ow = iw*sw + off
                                lo = max(0, ceil_div(-off, sw))
                                hi = min(W, floor_div(OW - 1 - off, sw) + 1)
                                with em.loop(lo, hi, name="iw") as iw:
                                    p = em.add(row, em.add(em.mul(iw, sw), off))
                                    xv = em.load(x, em.add(xrow, iw), F32)
                                    em.store(b.fadd(em.load(y, p, F32), b.fmul(wv, xv, flags=FAST), flags=FAST),
                                             y, p, F32)

