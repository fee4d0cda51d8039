"""Kernel generators, one file per op family. Importing this package fills the lowering table."""

from . import conv, conv_transpose, elementwise, fused, gemm, movement, norm, pool  # noqa: F401
