"""What a conv kernel does with its results besides storing them: the fused epilogue.

A conv kernel gets one ``Epilogue`` (fused.py builds it from a FusedConv's steps; a plain
Conv's has at most a bias) instead of a parameter per hook."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llvmlite import ir


@dataclass(frozen=True)
class Epilogue:
    """``bias``: per-channel pointer, the rows' initial value. ``rows(row0, plane, oc0, R, OW)``
    runs after a work item's R rows (row r at y[row0 + r*plane ...]) are accumulated, while
    they are hot. ``reads``: tensors shaped like Y that the epilogue reads (a residual),
    prefetched tile by tile while the rows are accumulated. ``tile(v, channel, index,
    channel_lanes=False)``: the same steps on a vector of consecutive outputs of one channel
    (or, with ``channel_lanes``, of consecutive channels of one pixel), which the
    channel-vector kernel applies in registers before its stores, instead of ``rows``.
    ``mean_into`` (blocked output only): Y is not stored; each channel's mean over the map
    goes to mean_into[n, c] (a global average pool step, summed in registers)."""
    bias: ir.Value | None = None
    rows: Callable | None = None
    reads: Sequence[ir.Value] = ()
    tile: Callable | None = None
    mean_into: ir.Value | None = None

    def after_rows(self, row0, plane, oc0, count, width) -> None:
        if self.rows is not None:
            self.rows(row0, plane, oc0, count, width)


NONE = Epilogue()
