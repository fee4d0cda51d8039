"""The sweep of one output row in tiles, shared by the kernels that vectorize along a row
(channel vectors, pixel vectors, sliding windows): edge tiles on the left, whose taps in the
padding are dropped at compile time, the interior (every tap inside the input row) in full
tiles, unrolled or a loop, then the rest and the right edge."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .conv_geom import Window

# tile(ow0, width, checked): output pixels ow0 .. ow0+width-1. ``checked``: the tile reaches
# into the padding (ow0 a compile-time int, or a loop index where the tile checks each tap
# at run time); else every tap is inside the row
Tile = Callable[[object, int, bool], None]


@dataclass(frozen=True)
class Sweep:
    width: int                  # pixels per interior tile
    unroll: int = 8             # up to this many interior tiles are unrolled, more are a loop (-1: a loop)
    edge_width: int = 1         # pixels per edge tile
    edge_loop: int = 0          # an edge of more pixels is a loop of checked tiles of one (0: unrolled)
    rest_at_edge: bool = False  # the interior's partial last tile is swept with the right edge


def edge_tiles(em, start: int, stop: int, sweep: Sweep, tile: Tile) -> None:
    """Checked tiles over pixels start .. stop-1: unrolled (padding taps dropped at compile
    time) for the usual one or two, else, with ``edge_loop``, a loop whose tiles check each
    tap at run time, so that wide pads do not grow the code."""
    if sweep.edge_loop and stop - start > sweep.edge_loop:
        with em.loop(start, stop, name="edge") as ow:
            tile(ow, 1, True)
        return
    for ow0 in range(start, stop, sweep.edge_width):
        tile(ow0, min(sweep.edge_width, stop - ow0), True)


def sweep_row(em, win: Window, sweep: Sweep, tile: Tile) -> None:
    """tile(...) over the output pixels 0 .. win.OW-1 of a row."""
    lo, hi = win.interior()
    n = sweep.width
    n_full = (hi - lo) // n
    edge_tiles(em, 0, lo, sweep, tile)
    if 0 <= sweep.unroll and n_full <= sweep.unroll:
        for i in range(n_full):
            tile(lo + i * n, n, False)
    else:
        with em.loop(0, n_full, name="tile") as i:
            tile(em.add(lo, em.mul(i, n)), n, False)
    rest = lo + n_full * n
    if sweep.rest_at_edge:
        edge_tiles(em, rest, win.OW, sweep, tile)
        return
    if hi > rest:
        tile(rest, hi - rest, False)
    edge_tiles(em, hi, win.OW, sweep, tile)
