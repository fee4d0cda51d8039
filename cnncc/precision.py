"""The arithmetic precisions a build may ask for, and what backends without reduced-precision
kernels make of them.

    fp32   every kernel computes in float32 (the default)
    bf16   kernels with a bfloat16 algorithm use it (float32 accumulation), rounding their
           float32 inputs as they read them; the others stay float32. Needs a cpu that
           multiplies bf16 (llvm: amx-bf16 or avx512bf16); elsewhere a UsageError naming
           what is missing
    auto   bf16 where the target's bf16 kernels are faster than fp32 (llvm: measured on the
           host, bf16_rate.py), else fp32

A compiled model's inputs and outputs are float32 whatever the precision.
"""

from __future__ import annotations

from cnncc.errors import UsageError

FP32, BF16, AUTO = "fp32", "bf16", "auto"
PRECISIONS = (FP32, BF16, AUTO)


def check_precision(precision: object) -> str:
    """``precision`` if it names one of PRECISIONS, else a UsageError listing them."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise UsageError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return precision


def fp32_only(precision: object, target: str) -> str:
    """The precision a target without reduced-precision kernels builds for ``precision``:
    fp32 for fp32 and auto; a UsageError for anything else."""
    if check_precision(precision) == BF16:
        raise UsageError(f"--precision {precision}: target {target!r} computes in fp32 only for now; "
                         f"use --target llvm for bf16, or --precision fp32 or auto")
    return FP32
