"""Size limits a model must stay within to be compiled.

A tiny model can describe an enormous tensor (a ConstantOfShape of [2**20, 2**20], an input
shape of 1x3x100000x100000): without a limit, compiling it tries to allocate terabytes, or
spends hours generating code for a map no machine could hold. The limits are checked as
soon as the sizes are known (shape inference in the frontend, the llvm backend's plan),
and an excess is a ShapeError that names the tensor, its shape, its size and the limit.

| limit | default | environment variable |
| --- | --- | --- |
| one tensor (input, constant, intermediate, output) | 16 GiB | CNNCC_MAX_TENSOR_BYTES |
| the llvm run-time workspace (arena of intermediates) | 32 GiB | CNNCC_MAX_WORKSPACE_BYTES |
| the packed weights of the llvm backend | 16 GiB | CNNCC_MAX_WEIGHTS_BYTES |

Values are bytes, optionally with a binary suffix (``512M``, ``64G``, ``1T``; ``K``, ``KiB``
and ``KB`` all mean 1024). Every limit is at most 2**62 bytes, so element counts and byte
offsets of any accepted tensor fit the int64 arithmetic of generated code.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cnncc.errors import ShapeError, UsageError

GiB = 1 << 30
HARD_MAX_BYTES = 1 << 62

ENV = {
    "tensor_bytes": "CNNCC_MAX_TENSOR_BYTES",
    "workspace_bytes": "CNNCC_MAX_WORKSPACE_BYTES",
    "weights_bytes": "CNNCC_MAX_WEIGHTS_BYTES",
}
_SUFFIX = {"": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5}


@dataclass(frozen=True)
class Limits:
    tensor_bytes: int = 16 * GiB
    workspace_bytes: int = 32 * GiB
    weights_bytes: int = 16 * GiB


def parse_bytes(text: str, name: str) -> int:
    """``"4096"``, ``"512M"``, ``"16GiB"`` -> bytes; a UsageError naming ``name`` otherwise."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMGTP]?)(?:I?B)?\s*", text, flags=re.IGNORECASE)
    if not m:
        raise UsageError(f"{name}={text!r} is not a size in bytes (e.g. 17179869184, 512M, 16G)")
    n = int(m.group(1)) << (10 * _SUFFIX[m.group(2).upper()])
    if not 1 <= n <= HARD_MAX_BYTES:
        raise UsageError(f"{name}={text!r} is out of range (1 byte to {format_bytes(HARD_MAX_BYTES)})")
    return n


def current() -> Limits:
    """The defaults, overridden by the environment (read at each call: tests and long-lived
    processes may change it)."""
    given = {}
    for field, var in ENV.items():
        text = os.environ.get(var, "").strip()
        if text:
            given[field] = parse_bytes(text, var)
    return Limits(**given)


def format_bytes(n: int) -> str:
    for unit, shift in (("EiB", 60), ("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.3g} {unit}"
    return f"{n} bytes"


def nbytes(shape: Sequence[int], dtype) -> int:
    """Exact size in bytes (Python ints: no int64 wrap-around for absurd shapes)."""
    return math.prod(int(d) for d in shape) * np.dtype(dtype).itemsize


def check_tensor(what: str, shape: Sequence[int], dtype, limits: Limits | None = None) -> None:
    """Refuse a tensor larger than the per-tensor limit; ``what`` names it for the user
    ("node conv1 (Conv): output y")."""
    limits = limits or current()
    size = nbytes(shape, dtype)
    if size > limits.tensor_bytes:
        dims = "x".join(str(int(d)) for d in shape)
        raise ShapeError(
            f"{what}: {np.dtype(dtype)}[{dims}] is {format_bytes(size)} ({size} bytes), over the limit of "
            f"{format_bytes(limits.tensor_bytes)} per tensor; use smaller input shapes, or raise "
            f"{ENV['tensor_bytes']} if this machine has the memory"
        )


def check_graph(graph, limits: Limits | None = None) -> None:
    """Every value of ``graph`` within the per-tensor limit (for graphs built without the
    frontend, which checks each node as it is imported)."""
    limits = limits or current()
    for v in graph.values():
        where = f"node {v.producer.name} ({v.producer.op}): output {v.name}" if v.producer is not None else (
            f"constant {v.name}" if v.is_constant else f"input {v.name}")
        check_tensor(where, v.shape, v.dtype, limits)


def check_total(kind: str, size: int, model: str, limits: Limits | None = None) -> None:
    """``kind`` "workspace" or "weights": the backend's run-time arena or packed weights."""
    limits = limits or current()
    field = f"{kind}_bytes"
    limit = getattr(limits, field)
    if size > limit:
        raise ShapeError(
            f"model {model}: its {kind} would take {format_bytes(size)} ({size} bytes), over the limit of "
            f"{format_bytes(limit)}; use smaller input shapes, or raise {ENV[field]} if this machine has the memory"
        )
