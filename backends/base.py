"""What every backend's build() returns, and the input checks they all share."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import numpy as np

from cnncc.errors import ShapeError, UsageError
from cnncc.ir import Graph


class Executable(Protocol):
    graph: Graph

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs by name for inputs by name."""


def check_feeds(graph: Graph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inputs as contiguous arrays of the declared dtype and shape, or a ShapeError that says why."""
    expected = {v.name: v for v in graph.inputs}
    missing = [n for n in expected if n not in feeds]
    extra = [n for n in feeds if n not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing input(s) {', '.join(missing)}")
        if extra:
            parts.append(f"unknown input(s) {', '.join(extra)}")
        raise UsageError(f"{'; '.join(parts)} (the model takes: {', '.join(expected)})")
    checked = {}
    for name, value in expected.items():
        arr = np.asarray(feeds[name])
        if tuple(arr.shape) != value.shape:
            raise ShapeError(
                f"input {name}: got shape {list(arr.shape)}, the model was compiled for {list(value.shape)}; "
                f"feed that shape, or recompile with --input-shape {name}={','.join(map(str, arr.shape))}"
            )
        if str(arr.dtype) != value.dtype:
            if not np.can_cast(arr.dtype, value.dtype, casting="same_kind"):
                raise ShapeError(f"input {name}: got dtype {arr.dtype}, the model takes {value.dtype}; convert the input")
            arr = arr.astype(value.dtype)
        checked[name] = np.ascontiguousarray(arr)
    return checked
