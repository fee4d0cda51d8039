"""The conv family's schedule: which algorithm, and the register tiles, blocks and rows of
the conv algorithms listed in conv.py (conv_direct.py, conv_pixels.py, conv_depthwise.py, winograd.py); and its search space (``space``), which
the tuner enumerates."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from cnncc.ir import Node

from ..schedule import Schedule, ScheduleError, schedule_family

def fits_registers(pixels: int, vectors: int, registers: int) -> bool:
    """The register budget of a channel-vector tile, for the kernel and the tuner alike:
    pixels x vectors accumulators, the tile's weight vectors, one broadcast input, and one
    register spare for the compiler."""
    return pixels * vectors + vectors + 2 <= registers


ConvAlgorithm = Literal["auto", "direct", "rows", "pixels", "winograd"]


@schedule_family("conv", ops={"Conv", "FusedConv"})
@dataclass(frozen=True)
class ConvSchedule(Schedule):
    """Parameters ``conv_<field>``. Defaults that depend on the target belong in
    ``for_target``; the ones written 0 ("automatic") below depend on the node as well
    (``ow_tile`` on the channel tiles and the row width, ``vector_lanes`` on the channels,
    ``winograd_tile`` on the map and weights), so the kernels derive them. None of the
    defaults is a cache size (``plane_max`` bounds a stack buffer)."""

    # "auto": the first algorithm of the list that applies; "rows": always the width-vectorized
    # row kernel; "direct": the channel-vector kernel, never Winograd; "pixels": pixels in
    # the vector lanes; "winograd": F(m x m, 3x3) where it applies (winograd.py)
    algorithm: ConvAlgorithm = "auto"
    pixels_max_taps: int = 32        # "auto" puts pixels in the vector lanes up to this Cg*KH*KW
    winograd_min_width: int = 12     # "auto" uses Winograd from this output width (0: never)
    winograd_tile: int = 0           # Winograd output tile m x m: 2 or 4 (0: winograd.tile_size picks)
    bf16_winograd: bool = False      # bf16 builds: F(2,3) with bf16 GEMMs where "auto" takes Winograd
                                     # (conv_bf16.Bf16Winograd: faster, about twice the rounding error)
    oc_block: int = 4                # output channels per work item of the row kernel
    ow_tile: int = 0                 # output pixels per register tile of the channel-vector kernel
                                     # (0: 8 with 32 vector registers (AVX-512), else 4; fitted to
                                     # short rows of deep convs, conv_direct._tile_pixels)
    oc_vectors: int = 2              # channel vectors per register tile (tile = ow_tile x oc_vectors)
    vector_lanes: int = 0            # channels per vector (0: widest that divides, or padded to the host width)
    prefetch: bool = True            # the channel-vector kernel prefetches the next block's weights
    pointwise_row: int = 256         # a 1x1 conv's flattened map is cut into rows of about this length
    unroll_ow: int = 32              # rows up to this width are fully unrolled into tiles
    plane_max: int = 1 << 15         # depthwise planes up to this many floats use the plane kernel
    window_rows: bool = True         # other depthwise convs: vectors along the output row (conv_depthwise.py, window.py)

    def check(self) -> None:
        if self.winograd_tile not in (0, 2, 4):
            raise ScheduleError(f"schedule parameter conv_winograd_tile={self.winograd_tile}: expected 0 (automatic), 2 or 4")

    @classmethod
    def space(cls, node: Node, target) -> list[ConvSchedule]:
        """The default, then: the channel-vector kernel ("direct"), pixels in the lanes, no
        weight prefetch; with constant weights, every register tile that fits
        (``fits_registers``: ow_tile x oc_vectors, rows unrolled or not) and padded channel
        tiles of another vector width where the channels do not fill vectors; the row
        kernel's channel blocks; the plane kernel off for depthwise convs; Winograd with
        either tile where it applies."""
        base = cls.for_target(target)
        Cg, Mg, depthwise = conv_shape(node)
        direct = replace(base, algorithm="direct")  # the channel-vector kernel, whatever "auto" picks
        out = [base, direct, replace(base, algorithm="pixels"), replace(base, prefetch=False)]
        if node.inputs[1].is_constant:
            for nv in (1, 2, 3, 4, 5, 6):
                for t in (2, 4, 6, 8, 10, 12, 14, 16):
                    if fits_registers(t, nv, target.vector_registers):
                        for unroll in (32, 0):
                            out.append(replace(direct, oc_vectors=nv, ow_tile=t, unroll_ow=unroll))
            lanes = target.vector_lanes
            for vl in (lanes, lanes // 2):
                if vl >= 4 and Mg % vl:  # padded channel tiles of another width
                    for nv in (1, 2):
                        out.append(replace(direct, vector_lanes=vl, oc_vectors=nv))
        for r in (1, 2, 4, 8):
            out.append(replace(base, algorithm="rows", oc_block=r))
        if depthwise:
            out.append(replace(base, plane_max=0))
        if winograd_applies(node):
            wino = replace(base, algorithm="winograd")
            out += [wino, replace(wino, winograd_tile=2), replace(wino, winograd_tile=4)]
        return out


def conv_shape(node: Node) -> tuple[int, int, bool]:
    """(Cg, Mg, depthwise) of a conv node: input and output channels per group."""
    w = node.inputs[1]
    g = node.attrs.group
    return w.shape[1], w.shape[0] // g, w.shape[1] == 1 and w.shape[0] == g


def winograd_applies(node: Node) -> bool:
    from .winograd import applies  # winograd.py imports this module
    return applies(node)
