"""The op table. Importing this package declares every op (see registry.py for the API)."""

from cnncc.ops.registry import (  # noqa: F401
    REQUIRED,
    OpDef,
    all_ops,
    count_macs,
    defop,
    evaluate,
    get_op,
    has_op,
    infer_types,
    register,
)
from cnncc.ops import elementwise, fused, nn, tensor  # noqa: F401,E402  (declares the ops)
