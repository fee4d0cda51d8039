"""What a backend module provides (``Backend``), what its build() returns (``Executable``),
and the input checks they all share."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np

from cnncc.errors import (CnnccError, InternalError, LoweringNotApplicable, ShapeError, UnsupportedDtypeError,
                          UnsupportedOpError, UsageError)
from cnncc.ir import Graph, Node


class Executable(Protocol):
    graph: Graph

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs by name for inputs by name."""


class Backend(Protocol):
    """A backend module (cnncc.backends.TARGETS names one per target)."""

    def passes(self, opt_level: int) -> list[str]:
        """Names of the passes the backend adds after the generic pipeline of -O ``opt_level``
        (passes/manager.py), in order; importing the module registers them with the pass
        manager, which imports no backend. Storage-layout decisions are such passes: they
        belong to the backend whose kernels read the layout."""

    def build(self, graph: Graph, **options: Any) -> Executable:
        """Compile an optimized ``graph``; ``options`` are the backend's own."""


def check_feeds(graph: Graph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inputs as contiguous arrays of the declared dtype and shape, or a CnnccError that says why.

    Arrays of another dtype are converted only where that keeps their values: float32 inputs
    take any float or integer array, integer inputs integer arrays whose values fit, bool
    inputs only bool; strings, complex numbers, objects and bools fed to numbers are refused."""
    if not isinstance(feeds, Mapping):
        raise UsageError(
            f"run() takes a dict of input name to array, got a {type(feeds).__name__}; "
            "call the model, m(x), for positional inputs"
        )
    expected = {v.name: v for v in graph.inputs}
    missing = [n for n in expected if n not in feeds]
    extra = [str(n) for n in feeds if n not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing input(s) {', '.join(missing)}")
        if extra:
            parts.append(f"unknown input(s) {', '.join(extra)}")
        raise UsageError(f"{'; '.join(parts)} (the model takes: {', '.join(expected)})")
    checked = {}
    for name, value in expected.items():
        arr = _input_array(name, feeds[name], value)
        if tuple(arr.shape) != value.shape:
            raise ShapeError(
                f"input {name}: got shape {list(arr.shape)}, the model was compiled for {list(value.shape)}; "
                f"feed that shape, or recompile with --input-shape {name}={','.join(map(str, arr.shape))}"
            )
        # np.asarray keeps 0-d inputs 0-d (np.ascontiguousarray makes them 1-d)
        checked[name] = np.asarray(_cast_input(name, arr, value.dtype), order="C")
    return checked


def _input_array(name: str, raw: Any, value) -> np.ndarray:
    takes = f"the model takes {value.dtype} of shape {list(value.shape)}"
    if isinstance(raw, np.ndarray):
        return raw
    if raw is None or isinstance(raw, (str, bytes, dict, set)):
        raise UsageError(f"input {name}: got a {type(raw).__name__}, {takes}")
    try:
        arr = np.asarray(raw)
    except (ValueError, TypeError):
        raise UsageError(f"input {name}: got a {type(raw).__name__} that is not an array (ragged nesting?), {takes}") from None
    if arr.dtype.kind == "O":
        raise UsageError(f"input {name}: got a {type(raw).__name__} that is not an array of numbers, {takes}")
    return arr


def _cast_input(name: str, arr: np.ndarray, dtype: str) -> np.ndarray:
    want = np.dtype(dtype)
    if arr.dtype == want:
        return arr
    src = arr.dtype
    if src.kind == "b" or want.kind == "b":
        castable = src.kind == want.kind
    elif want.kind == "f":
        castable = src.kind in "fiu"  # rounded to float32 like every value the model computes
    elif want.kind in "iu":
        castable = src.kind in "iu"
    else:
        castable = False
    if not castable:
        raise UnsupportedDtypeError(
            f"input {name}: got an array of dtype {src}, the model takes {dtype}; "
            f"convert it (e.g. x.astype(np.{dtype})) if its values mean {dtype} values"
        )
    if want.kind in "iu" and arr.size and not np.can_cast(src, want, casting="safe"):
        info = np.iinfo(want)
        lo, hi = arr.min(), arr.max()
        if lo < info.min or hi > info.max:
            raise UnsupportedDtypeError(f"input {name}: got {src} values past {dtype} (from {lo} to {hi}), the model takes {dtype}")
    return arr.astype(want)


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


@contextmanager
def lowering_boundary(backend: str, node: Node) -> Iterator[None]:
    """Around a backend's lowering of ``node``: a variant it has no kernel for
    (LoweringNotApplicable, NotImplementedError) is the user's UnsupportedOpError naming the
    node and op; a user error passes through; anything else is a bug in that lowering."""
    where = f"{backend} backend: node {node.name!r} ({node.op})"
    try:
        yield
    except LoweringNotApplicable as exc:
        raise UnsupportedOpError(f"{where}: no {backend} kernel for this variant of {node.op} ({exc}); "
                                 f"compile it with --target reference, or report it") from exc
    except NotImplementedError as exc:
        raise UnsupportedOpError(f"{where}: {exc} is not supported by the {backend} backend; "
                                 f"compile it with --target reference, or report it") from exc
    except (CnnccError, MemoryError):
        raise
    except Exception as exc:  # noqa: BLE001 - any other failure is a bug, attributed to its node
        raise InternalError(f"the {backend} lowering of node {node.name!r} ({node.op})", exc) from exc
