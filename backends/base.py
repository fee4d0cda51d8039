"""What every backend's build() returns, and the input checks they all share."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from cnncc.errors import ShapeError, UnsupportedOpError, UsageError
from cnncc.ir import Graph, Node


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


class LoweringTable:
    """A backend's table from op name to lowering function.

    The kernel modules register into it when ``kernels_module`` is first imported (lazily, so
    importing a backend stays cheap); an op without an entry is an UnsupportedOpError that
    names the op, the node and the backend.
    """

    def __init__(self, backend: str, kernels_module: str, alternatives: str):
        self.backend = backend
        self.functions: dict[str, Callable[..., Any]] = {}
        self._kernels_module = kernels_module
        self._alternatives = alternatives
        self._loaded = False

    def register(self, *ops: str):
        def wrap(fn):
            for op in ops:
                self.functions[op] = fn
            return fn

        return wrap

    def _load(self) -> None:
        if not self._loaded:
            importlib.import_module(self._kernels_module)
            self._loaded = True

    def ops(self) -> set[str]:
        self._load()
        return set(self.functions)

    def lookup(self, node: Node):
        self._load()
        fn = self.functions.get(node.op)
        if fn is None:
            raise UnsupportedOpError(
                f"{self.backend} backend: node {node.name!r} uses op {node.op}, which the {self.backend} backend "
                f"cannot lower; {self._alternatives}"
            )
        return fn
