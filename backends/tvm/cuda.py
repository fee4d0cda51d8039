"""Device code for the cuda artifact: nvcc at build time, when present."""

from __future__ import annotations


def attach_device_code(ex, target, enabled=None):
    return ex, {"format": "cuda-source"}
