"""TE lowerings, one file per op family; importing this package fills the lowering table."""

from . import elementwise, fused, movement, nn, reduce  # noqa: F401
