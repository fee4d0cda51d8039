"""The conv family's schedule: which algorithm, and the register tiles, blocks and rows of
the kernels in conv.py, window.py and winograd.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
    # "auto": the first algorithm of the list that applies; "rows": always the width-vectorized
    # row kernel; "direct": the channel-vector kernel, never Winograd; "pixels": pixels in
    # the vector lanes; "winograd": F(m x m, 3x3) where it applies (winograd.py)
    algorithm: ConvAlgorithm = "auto"
    pixels_max_taps: int = 32        # "auto" puts pixels in the vector lanes up to this Cg*KH*KW
    winograd_min_width: int = 12     # "auto" uses Winograd from this output width (0: never)
    winograd_tile: int = 0           # Winograd output tile m x m: 2 or 4 (0: winograd.tile_size picks)
    oc_block: int = 4                # output channels per work item of the row kernel
    ow_tile: int = 0                 # output pixels per register tile of the channel-vector kernel
                                     # (0: 8 with 32 vector registers (AVX-512), else 4; fitted to
                                     # short rows of deep convs, conv._tile_pixels)
    oc_vectors: int = 2              # channel vectors per register tile (tile = ow_tile x oc_vectors)
    vector_lanes: int = 0            # channels per vector (0: widest that divides, or padded to the host width)
    prefetch: bool = True            # the channel-vector kernel prefetches the next block's weights
    pointwise_row: int = 256         # a 1x1 conv's flattened map is cut into rows of about this length
    unroll_ow: int = 32              # rows up to this width are fully unrolled into tiles
    plane_max: int = 1 << 15         # depthwise planes up to this many floats use the plane kernel
    window_rows: bool = True         # other depthwise convs: vectors along the output row (window.py)

    def check(self) -> None:
        if self.winograd_tile not in (0, 2, 4):
            raise ScheduleError(f"schedule parameter conv_winograd_tile={self.winograd_tile}: expected 0 (automatic), 2 or 4")
