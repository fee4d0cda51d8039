"""The op table: each op declared once, with attributes, shape function and NumPy reference.

Frontends map onto these ops, passes rewrite between them, backends lower from them. An
op's reference implementation is the semantics every backend is tested against.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnncc.errors import ShapeError, UnsupportedOpError
from cnncc.ir import Attrs, TensorType


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()

InferFn = Callable[[Sequence[TensorType], Attrs], list[TensorType]]
ReferenceFn = Callable[..., Any]
MacsFn = Callable[[Sequence[TensorType], Sequence[TensorType], Attrs], int]


@dataclass(frozen=True)
class OpDef:
    name: str
    infer: InferFn
    reference: ReferenceFn
    attrs: Mapping[str, Any] = field(default_factory=dict)
    num_inputs: tuple[int, int | None] = (1, 1)
    num_outputs: tuple[int, int] = (1, 1)
    macs: MacsFn | None = None
    doc: str = ""

    def normalize_attrs(self, given: Mapping[str, Any]) -> Attrs:
        unknown = set(given) - set(self.attrs)
        if unknown:
            raise ShapeError(f"{self.name}: unknown attribute(s) {sorted(unknown)}")
        merged = {}
        for key, default in self.attrs.items():
            if key in given:
                merged[key] = given[key]
            elif default is REQUIRED:
                raise ShapeError(f"{self.name}: attribute {key!r} is required")
            else:
                merged[key] = default
        return Attrs(merged)

    def check_arity(self, n_inputs: int) -> None:
        lo, hi = self.num_inputs
        if n_inputs < lo or (hi is not None and n_inputs > hi):
            want = f"{lo}" if lo == hi else f"{lo}..{hi if hi is not None else 'n'}"
            raise ShapeError(f"{self.name} takes {want} inputs, got {n_inputs}")


_TABLE: dict[str, OpDef] = {}


def register(opdef: OpDef) -> OpDef:
    if opdef.name in _TABLE:
        raise ValueError(f"op {opdef.name} declared twice")
    _TABLE[opdef.name] = opdef
    return opdef


def defop(
    name: str,
    infer: InferFn,
    attrs: Mapping[str, Any] | None = None,
    inputs: int | tuple[int, int | None] = 1,
    outputs: int | tuple[int, int] = 1,
    macs: MacsFn | None = None,
):
    """Decorator declaring an op whose reference is the decorated function ``ref(attrs, *xs)``."""

    def wrap(fn: ReferenceFn) -> ReferenceFn:
        register(
            OpDef(
                name=name,
                infer=infer,
                reference=fn,
                attrs=dict(attrs or {}),
                num_inputs=inputs if isinstance(inputs, tuple) else (inputs, inputs),
                num_outputs=outputs if isinstance(outputs, tuple) else (outputs, outputs),
                macs=macs,
                doc=(fn.__doc__ or "").strip(),
            )
        )
        return fn

    return wrap


def get_op(name: str) -> OpDef:
    try:
        return _TABLE[name]
    except KeyError:
        raise UnsupportedOpError(f"op {name} is not in cnncc's op table") from None


def has_op(name: str) -> bool:
    return name in _TABLE


def all_ops() -> dict[str, OpDef]:
    return dict(sorted(_TABLE.items()))


def infer_types(op: str, types: Sequence[TensorType], attrs: Attrs) -> list[TensorType]:
    opdef = get_op(op)
    opdef.check_arity(len(types))
    return list(opdef.infer(list(types), attrs))


def evaluate(op: str, arrays: Sequence[np.ndarray], attrs: Attrs) -> list[np.ndarray]:
    """Run an op's NumPy reference; always returns a list of arrays."""
    result = get_op(op).reference(attrs, *arrays)
    outs = list(result) if isinstance(result, (tuple, list)) else [result]
    return [np.asarray(o, order="C") for o in outs]  # keeps 0-d results 0-d


def count_macs(op: str, in_types: Sequence[TensorType], out_types: Sequence[TensorType], attrs: Attrs) -> int:
    opdef = get_op(op)
    return int(opdef.macs(in_types, out_types, attrs)) if opdef.macs else 0
