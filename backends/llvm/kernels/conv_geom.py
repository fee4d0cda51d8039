"""Convolution geometry, decoded once from a node: ``ConvGeom`` for the conv kernels, and
``Window``, the 2-D sliding window over one plane that pooling, depthwise convs and the tile
sweeps share."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np


def floor_div(a: int, b: int) -> int:
    return a // b


def ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


@dataclass(frozen=True)
class Window:
    """Input H x W, output OH x OW, kernel KH x KW, strides, dilations and leading pads."""
    H: int
    W: int
    OH: int
    OW: int
    KH: int
    KW: int
    sh: int
    sw: int
    dh: int
    dw: int
    ph: int
    pw: int

    def interior(self) -> tuple[int, int]:
        """(lo, hi): the output pixels lo .. hi-1 of a row have every tap inside the input row."""
        lo = min(self.OW, ceil_div(self.pw, self.sw))
        hi = max(lo, min(self.OW, floor_div(self.W - 1 - (self.KW - 1) * self.dw + self.pw, self.sw) + 1))
        return lo, hi


def conv_geometry(x_shape, w_shape, a):
    """2-D view (N, C, H, W, KH, KW, sh, sw, dh, dw, ph, pw, ph_end, pw_end) of a 1-D or
    2-D convolution; 3-D ones fold depth in through ``depth_geometry``."""
    sp = len(x_shape) - 2
    if sp == 1:
        N, C, W = x_shape
        H, KH, sh, dh, ph, ph_end = 1, 1, 1, 1, 0, 0
        KW, sw, dw, pw, pw_end = w_shape[2], a.strides[0], a.dilations[0], a.pads[0], a.pads[1]
    elif sp in (2, 3):
        N, C, H, W = x_shape[0], x_shape[1], x_shape[-2], x_shape[-1]
        KH, KW = w_shape[-2:]
        sh, sw = a.strides[-2:]
        dh, dw = a.dilations[-2:]
        ph, pw = a.pads[sp - 2:sp]
        ph_end, pw_end = a.pads[-2:]
    else:
        raise NotImplementedError(f"{sp}-D convolution (only 1-D, 2-D and 3-D)")
    return N, C, H, W, KH, KW, sh, sw, dh, dw, ph, pw, ph_end, pw_end


def depth_geometry(x_shape, w_shape, o_shape, a):
    """(D, OD, KD, sd, dd, pd) of a 3-D convolution; (1, 1, 1, 1, 1, 0) otherwise."""
    if len(x_shape) != 5:
        return 1, 1, 1, 1, 1, 0
    return x_shape[2], o_shape[2], w_shape[2], a.strides[0], a.dilations[0], a.pads[0]


@dataclass(frozen=True)
class ConvGeom(Window):
    """A Conv (or FusedConv) node as the kernels see it: its 2-D window (the Window fields),
    N images of C channels in G groups to M channels, and depth (D, KD, ...; 1 for 1-D and
    2-D convs).

    The window may differ from the node's: a pointwise conv's map is flattened into rows
    (``pointwise_row``), and a strided 1x1 conv with ``subsample`` set reads its input
    through a copy of x[:, :, ::sh, ::sw] (``subsample`` is the window before that)."""
    node: Any
    o_shape: tuple
    N: int
    C: int
    M: int
    G: int
    D: int
    OD: int
    KD: int
    sd: int
    dd: int
    pd: int
    weights: np.ndarray | None     # the weights when they are constants
    unpadded: bool
    xb: int = 0                    # X stored NCHW[xb]c (passes/backend_layout.py; 0: NCHW)
    yb: int = 0                    # Y (and residuals) stored NCHW[yb]c
    subsample: Window | None = None
    precision: str = "fp32"        # what the build lets a kernel compute in (Kernel.precision)

    @property
    def win(self) -> Window:
        """The window alone."""
        return Window(*(getattr(self, f) for f in Window.__dataclass_fields__))

    @property
    def Cg(self) -> int:
        return self.C // self.G

    @property
    def Mg(self) -> int:
        return self.M // self.G

    @property
    def blocked(self) -> bool:
        return bool(self.xb or self.yb)

    @property
    def rank(self) -> int:
        return len(self.o_shape)


def pointwise_row(pixels: int, want: int) -> int:
    """Row length for a pointwise conv over a flattened map of ``pixels``: all of it up to
    ``want``, else the longest divisor <= ``want`` that is a multiple of 8 (whole register
    tiles), else the longest divisor >= want/4, else all of it. Rows of a few hundred pixels
    give the threads more work items to share and leave a work item's rows in cache for a
    row epilogue (at 1 thread, ResNet-50's 1x1 layers measured the same either way)."""
    if want <= 0 or pixels <= want:
        return pixels
    divisors = [d for d in range(want, 0, -1) if pixels % d == 0]
    for d in divisors:
        if d % 8 == 0 and 4 * d >= want:
            return d
    return divisors[0] if 4 * divisors[0] >= want else pixels


def conv_geom(k, node, o_shape, whole_map: bool = False) -> ConvGeom:
    """The geometry of conv ``node`` (inputs 0 and 1 of kernel ``k``) into ``o_shape``;
    ``whole_map``: a pointwise conv's map stays one row (an epilogue that averages it)."""
    from .conv_schedule import ConvSchedule

    a = node.attrs
    sched = k.schedule(ConvSchedule)
    x_shape, w_shape = k.in_shape(0), k.in_shape(1)
    N, C, H, W, KH, KW, sh, sw, dh, dw, ph, pw, _, _ = conv_geometry(x_shape, w_shape, a)
    D, OD, KD, sd, dd, pd = depth_geometry(x_shape, w_shape, o_shape, a)
    OH, OW = (1, o_shape[2]) if len(o_shape) == 3 else o_shape[-2:]
    unpadded = a.pads[-1] == 0 and ph == pw == 0 and (len(o_shape) == 3 or a.pads[2] == 0)
    g = ConvGeom(H, W, OH, OW, KH, KW, sh, sw, dh, dw, ph, pw, node=node, o_shape=tuple(o_shape), N=N, C=C,
                 M=w_shape[0], G=a.group, D=D, OD=OD, KD=KD, sd=sd, dd=dd, pd=pd, weights=k.const_input(1),
                 unpadded=unpadded, xb=a.get("x_block", 0), yb=a.get("y_block", 0), precision=k.precision)
    if (len(o_shape) == 4 and KH == KW == 1 and (sh, sw) != (1, 1) and unpadded and g.Cg > 1
            and g.weights is not None and (sched.algorithm in ("auto", "direct") or g.blocked)):
        # (blocked storage: whatever the algorithm, which only the pointwise form can take)
        g = replace(g, H=OH, W=OW, sh=1, sw=1, subsample=g.win)
    if len(o_shape) <= 4 and KH == KW == 1 and g.sh == g.sw == 1 and unpadded:
        # pointwise: the map flattened and cut into rows of S pixels
        # (a mean over the map: the whole map in one row, so one work item sums it)
        pixels = g.H * g.W
        S = pixels if whole_map else pointwise_row(pixels, sched.pointwise_row)
        g = replace(g, H=pixels // S, W=S, OH=pixels // S, OW=S)
    if g.blocked and not (len(o_shape) == 4 and KH == KW == 1 and g.sh == g.sw == 1 and unpadded and g.G == 1
                          and g.weights is not None):
        raise AssertionError("blocked storage (x_block/y_block) needs a 1x1 ungrouped unpadded conv with "
                             "constant weights: the layout pass should not have chosen it")
    return g
