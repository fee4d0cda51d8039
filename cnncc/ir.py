"""The graph IR every stage of cnncc shares: typed Values, Nodes, and the Graph holding them.

Frontends produce a Graph, passes rewrite it, backends consume it. Shapes are static: a
frontend specializes every dynamic dimension before a Graph exists.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

SUPPORTED_DTYPES = ("float32", "int64", "int32", "bool")


@dataclass(frozen=True)
class TensorType:
    shape: tuple[int, ...]
    dtype: str = "float32"

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(d) for d in self.shape))
        object.__setattr__(self, "dtype", str(np.dtype(self.dtype)))

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def numel(self) -> int:
        # Python ints: np.prod in int64 wraps silently for absurd shapes (2**40 x 2**40 gave 0)
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * np.dtype(self.dtype).itemsize

    def __str__(self) -> str:
        return f"{self.dtype}[{'x'.join(map(str, self.shape))}]"


class Value:
    """A tensor: a graph input, a constant (``data`` set), or the output of one node."""

    __slots__ = ("name", "type", "producer", "data")

    def __init__(self, name: str, type: TensorType, data: np.ndarray | None = None):
        self.name = name
        self.type = type
        self.producer: Node | None = None
        self.data = data
        if data is not None:
            if tuple(data.shape) != type.shape or str(data.dtype) != type.dtype:
                raise ValueError(f"constant {name}: data {data.dtype}{list(data.shape)} != {type}")
            data.setflags(write=False)

    @classmethod
    def constant(cls, name: str, data: Any, dtype: str | None = None) -> Value:
        arr = np.asarray(data, dtype=dtype)
        arr = arr.copy() if arr.ndim == 0 else np.ascontiguousarray(arr)  # keep 0-d scalars 0-d
        return cls(name, TensorType(arr.shape, str(arr.dtype)), arr)

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def shape(self) -> tuple[int, ...]:
        return self.type.shape

    @property
    def dtype(self) -> str:
        return self.type.dtype

    def __repr__(self) -> str:
        return f"%{self.name}: {self.type}"


class Attrs(Mapping):
    """Immutable, hashable node attributes, readable as ``attrs["x"]`` or ``attrs.x``."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Any] | None = None, **kw: Any):
        merged = dict(items or {}, **kw)
        object.__setattr__(self, "_items", {k: _freeze(v) for k, v in sorted(merged.items())})

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._items[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        raise TypeError("Attrs are immutable; use attrs.replace(...)")

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(self._items.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Attrs) and self._items == other._items

    def replace(self, **changes: Any) -> Attrs:
        return Attrs(self._items, **changes)

    def __repr__(self) -> str:
        # Epilogues are what a reader of a fused node needs whole; other long values get cut.
        return ", ".join(f"{k}={v!r}" if k == "epilogue" else f"{k}={_short(v)}" for k, v in self._items.items())


def _freeze(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, np.ndarray):
        return tuple(_freeze(x) for x in v.tolist())
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return tuple((k, _freeze(x)) for k, x in sorted(v.items()))
    return v


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


class Node:
    """One op application. ``name`` traces back to the source model for error messages."""

    __slots__ = ("op", "inputs", "outputs", "attrs", "name")

    def __init__(
        self,
        op: str,
        inputs: Iterable[Value],
        outputs: Iterable[Value],
        attrs: Attrs | Mapping[str, Any] | None = None,
        name: str = "",
    ):
        self.op = op
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.attrs = attrs if isinstance(attrs, Attrs) else Attrs(attrs or {})
        self.name = name or (self.outputs[0].name if self.outputs else op)
        for out in self.outputs:
            out.producer = self

    def __repr__(self) -> str:
        outs = ", ".join(f"%{v.name}" for v in self.outputs)
        ins = ", ".join(f"%{v.name}" for v in self.inputs)
        attrs = f" {{{self.attrs!r}}}" if self.attrs else ""
        types = ", ".join(str(v.type) for v in self.outputs)
        return f"{outs} = {self.op}({ins}){attrs} : {types}  # {self.name}"


class GraphError(Exception):
    """The graph breaks an invariant: a bug in a frontend or pass, not in the user's model."""


class Graph:
    """Inputs, outputs and nodes in topological order. Constants are Values with data."""

    def __init__(self, inputs: list[Value], outputs: list[Value], nodes: list[Node], name: str = "graph"):
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.nodes = list(nodes)
        self.name = name
        self._fresh = itertools.count()

    # -- queries ---------------------------------------------------------------------------
    @property
    def constants(self) -> list[Value]:
        seen: dict[int, Value] = {}
        for node in self.nodes:
            for v in node.inputs:
                if v.is_constant:
                    seen.setdefault(id(v), v)
        for v in self.outputs:
            if v.is_constant:
                seen.setdefault(id(v), v)
        return list(seen.values())

    def values(self) -> list[Value]:
        """Every value the graph touches, each once: inputs, constants, node outputs."""
        seen: dict[int, Value] = {id(v): v for v in self.inputs}
        for v in self.constants:
            seen.setdefault(id(v), v)
        for node in self.nodes:
            for v in node.outputs:
                seen.setdefault(id(v), v)
        return list(seen.values())

    def consumers(self) -> dict[int, list[Node]]:
        """Map from ``id(value)`` to the nodes reading it (a node once per use)."""
        users: dict[int, list[Node]] = {}
        for node in self.nodes:
            for v in node.inputs:
                users.setdefault(id(v), []).append(node)
        return users

    def users_of(self, value: Value) -> list[Node]:
        return [n for n in self.nodes if any(v is value for v in n.inputs)]

    def is_output(self, value: Value) -> bool:
        return any(v is value for v in self.outputs)

    def op_histogram(self) -> dict[str, int]:
        hist: dict[str, int] = {}
        for node in self.nodes:
            hist[node.op] = hist.get(node.op, 0) + 1
        return dict(sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])))

    def fresh_name(self, stem: str) -> str:
        taken = {v.name for v in self.values()}
        while True:
            name = f"{stem}.{next(self._fresh)}"
            if name not in taken:
                return name

    # -- edits -----------------------------------------------------------------------------
    def replace_all_uses(self, old: Value, new: Value) -> None:
        if old.type != new.type:
            raise GraphError(f"cannot replace {old!r} by {new!r}: types differ")
        for node in self.nodes:
            node.inputs = [new if v is old else v for v in node.inputs]
        self.outputs = [new if v is old else v for v in self.outputs]

    def remove_nodes(self, dead: Iterable[Node]) -> None:
        dead_ids = {id(n) for n in dead}
        self.nodes = [n for n in self.nodes if id(n) not in dead_ids]

    def insert_before(self, anchor: Node, new_nodes: list[Node]) -> None:
        idx = next(i for i, n in enumerate(self.nodes) if n is anchor)
        self.nodes[idx:idx] = new_nodes

    def replace_node(self, old: Node, new_nodes: list[Node]) -> None:
        idx = next(i for i, n in enumerate(self.nodes) if n is old)
        self.nodes[idx : idx + 1] = new_nodes

    def toposort(self) -> None:
        """Reorder nodes topologically, keeping the current order where it is free."""
        import networkx as nx

        g = self.to_networkx()
        order = {id(n): i for i, n in enumerate(self.nodes)}
        try:
            sorted_nodes = list(nx.lexicographical_topological_sort(g, key=lambda n: order[id(n)]))
        except nx.NetworkXUnfeasible as exc:
            raise GraphError(f"graph {self.name} has a cycle") from exc
        self.nodes = sorted_nodes

    def copy(self) -> Graph:
        """A structural copy: new Values and Nodes, constant arrays shared (they are read-only)."""
        mapping: dict[int, Value] = {}

        def clone(v: Value) -> Value:
            if id(v) not in mapping:
                mapping[id(v)] = Value(v.name, v.type, v.data)
            return mapping[id(v)]

        inputs = [clone(v) for v in self.inputs]
        nodes = [
            Node(n.op, [clone(v) for v in n.inputs], [clone(v) for v in n.outputs], n.attrs, n.name)
            for n in self.nodes
        ]
        return Graph(inputs, [clone(v) for v in self.outputs], nodes, self.name)

    # -- checks and views ------------------------------------------------------------------
    def validate(self) -> None:
        """Raise GraphError on dangling values, double definitions, cycles or type mismatches."""
        from cnncc.ops import infer_types

        defined: dict[int, Value] = {id(v): v for v in self.inputs}
        names: dict[str, Value] = {}
        for v in self.inputs:
            if v.is_constant or v.producer is not None:
                raise GraphError(f"graph input %{v.name} must be a plain value")
        producers = {id(o): n for n in self.nodes for o in n.outputs}
        for node in self.nodes:
            for v in node.inputs:
                if v.is_constant or id(v) in defined:
                    continue
                if id(v) in producers:
                    raise GraphError(f"node {node.name} ({node.op}) reads %{v.name} before it is computed (cycle or bad order)")
                raise GraphError(f"node {node.name} ({node.op}) reads %{v.name}, which nothing defines")
            for out in node.outputs:
                if id(out) in defined:
                    raise GraphError(f"%{out.name} is defined twice (second time by node {node.name})")
                if out.producer is not node:
                    raise GraphError(f"%{out.name} does not point back to its producer {node.name}")
                if out.is_constant:
                    raise GraphError(f"%{out.name} is a node output and a constant")
                defined[id(out)] = out
            try:
                expected = infer_types(node.op, [v.type for v in node.inputs], node.attrs)
            except Exception as exc:  # noqa: BLE001 - reported with the node that failed
                raise GraphError(f"node {node.name} ({node.op}): {exc}") from exc
            got = [o.type for o in node.outputs]
            if expected[: len(got)] != got:
                raise GraphError(
                    f"node {node.name} ({node.op}): outputs typed {[str(t) for t in got]}, "
                    f"op says {[str(t) for t in expected[: len(got)]]}"
                )
        for v in self.values():
            other = names.setdefault(v.name, v)
            if other is not v:
                raise GraphError(f"two different values are named %{v.name}")
        for v in self.outputs:
            if not (v.is_constant or id(v) in defined):
                raise GraphError(f"graph output %{v.name} is never computed")

    def to_networkx(self):
        """A DiGraph over nodes (edges carry the value), for graph algorithms and pictures."""
        import networkx as nx

        g = nx.DiGraph()
        producers = {id(o): n for n in self.nodes for o in n.outputs}
        for node in self.nodes:
            g.add_node(node)
            for v in node.inputs:
                src = producers.get(id(v))
                if src is not None:
                    g.add_edge(src, node, value=v)
        return g

    def __str__(self) -> str:
        lines = [f"graph {self.name}("]
        lines += [f"    {v!r}," for v in self.inputs]
        lines.append(") {")
        for c in self.constants:
            lines.append(f"  const %{c.name}: {c.type}")
        for node in self.nodes:
            lines.append(f"  {node!r}")
        lines.append("  return " + ", ".join(f"%{v.name}" for v in self.outputs))
        lines.append("}")
        return "\n".join(lines)
