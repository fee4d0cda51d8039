"""TE lowerings, one file per op family; importing this package fills the lowering table."""

from . import elementwise, movement, nn, reduce  # noqa: F401

try:  # the fused ops arrive with cnncc/ops/fused.py
    from cnncc.ops import registry as _registry

    if _registry.has_op("FusedConv") or _registry.has_op("FusedGemm"):
        from . import fused  # noqa: F401
except ImportError:  # pragma: no cover - fused lowerings not present in this build
    pass
