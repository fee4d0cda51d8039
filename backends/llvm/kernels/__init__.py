"""Kernel generators, one file per op family (conv: one file per algorithm family, listed in
conv.py's ALGORITHMS; conv_geom.py, epilogue.py, tile_sweep.py and vectors.py are what they
share). Importing this package fills the lowering table."""

from . import conv, conv_transpose, elementwise, fused, gemm, movement, norm, pool  # noqa: F401
