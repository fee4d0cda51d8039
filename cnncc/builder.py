"""Making nodes and graphs through the op table: attributes completed from the op's defaults,
output types inferred by its shape function, names made unique.

``make_node`` is what a pass (or a backend's stand-in node) uses inside an existing graph;
``GraphBuilder`` writes a whole graph op by op, for the frontend's callers, the zoo and tests::

    b = GraphBuilder("net")
    x = b.input("x", (1, 3, 8, 8))
    w = b.const(np.ones((4, 3, 3, 3), np.float32))
    y = b.op("Conv", [x, w], kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1))
    b.output(b.op("Relu", [y]))
    graph = b.build()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from cnncc.ir import Attrs, Graph, Node, TensorType, Value
from cnncc.ops import get_op


def op_types(op: str, inputs: Sequence[Value], attrs: Mapping[str, Any] | None = None) -> tuple[Attrs, list[TensorType]]:
    """The attributes of ``op`` completed from its defaults, and the types of its outputs on
    ``inputs``. Raises ShapeError for a missing or unknown attribute, a wrong input count or
    inputs the op's shape function refuses."""
    opdef = get_op(op)
    a = opdef.normalize_attrs(dict(attrs or {}))
    opdef.check_arity(len(inputs))
    return a, list(opdef.infer([v.type for v in inputs], a))


def make_node(op: str, inputs: Sequence[Value], outputs: Sequence[Value | str], attrs: Mapping[str, Any] | None = None,
              name: str = "") -> Node:
    """A node of ``op`` over ``inputs`` with attributes completed from the op's defaults.
    Each entry of ``outputs`` is a Value the node defines as it is (a rewrite reusing the value
    it replaces; the rewrite driver checks its type) or the name of a new Value, typed by the op's
    shape function. Fewer outputs than the op infers leave the optional ones out."""
    if all(isinstance(o, Value) for o in outputs):
        return Node(op, inputs, outputs, get_op(op).normalize_attrs(dict(attrs or {})), name)
    a, types = op_types(op, inputs, attrs)
    if len(outputs) > len(types):
        raise ValueError(f"{op} has {len(types)} output(s), {len(outputs)} asked for")
    outs = [o if isinstance(o, Value) else Value(o, t) for o, t in zip(outputs, types)]
    return Node(op, inputs, outs, a, name)


def take_name(taken: set[str], wanted: str) -> str:
    """``wanted``, or ``wanted.k`` for the first k not in ``taken``; added to ``taken``."""
    name, k = wanted, 0
    while name in taken:
        k += 1
        name = f"{wanted}.{k}"
    taken.add(name)
    return name


class GraphBuilder:
    """A graph written op by op. Node and value names are unique: a wanted name already taken
    gets a ``.1``, ``.2``... suffix; a node without a name is named after its op."""

    def __init__(self, name: str = "graph"):
        self.name = name
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.nodes: list[Node] = []
        self._taken: set[str] = set()
        self._node_names: set[str] = set()
        self._count = 0

    def unique(self, wanted: str) -> str:
        """``wanted``, or ``wanted.k`` for the first k that no value has taken yet (and now takes it)."""
        return take_name(self._taken, wanted)

    def _node_name(self, wanted: str | None, op: str) -> str:
        if wanted is None:
            self._count += 1
            wanted = f"{op.lower()}{self._count}"
        return take_name(self._node_names, wanted)

    def input(self, name: str, shape: Sequence[int], dtype: str = "float32") -> Value:
        v = Value(self.unique(name), TensorType(tuple(shape), dtype))
        self.inputs.append(v)
        return v

    def const(self, data: Any, name: str | None = None, dtype: str | None = None) -> Value:
        """A constant (0-d data stays 0-d); named ``c<k>`` unless ``name`` is given."""
        arr = np.array(data, dtype=dtype, order="C")  # a C-contiguous copy: the graph owns its constants
        if name is None:
            self._count += 1
            name = f"c{self._count}"
        return Value(self.unique(name), TensorType(arr.shape, str(arr.dtype)), arr)

    def op(self, op: str, inputs: Sequence[Value], attrs: Mapping[str, Any] | None = None, *, name: str | None = None,
           outputs: Iterable[str] | None = None, n_outputs: int | None = None, **kw: Any) -> Value | list[Value]:
        """Add an ``op`` node (attributes from ``attrs`` and keyword arguments, completed from
        the op's defaults) and return its output: one Value, or a list when it has several.
        ``outputs`` names the output values (default: the node's name, with ``.i`` when there
        are several); fewer names than the op has outputs keep only the first ones, and any
        iterable will do (``(f"out{i}" for i in itertools.count())``);
        ``n_outputs`` keeps only the first n of the outputs the op infers."""
        a, types = op_types(op, inputs, {**dict(attrs or {}), **kw})
        if n_outputs is not None:
            types = types[:n_outputs]
        node_name = self._node_name(name, op)
        wanted = outputs if outputs is not None else (
            [node_name] if len(types) == 1 else [f"{node_name}.{i}" for i in range(len(types))])
        outs = [Value(self.unique(n), t) for n, t in zip(wanted, types)]
        self.nodes.append(Node(op, list(inputs), outs, a, node_name))
        return outs[0] if len(outs) == 1 else outs

    def output(self, *values: Value) -> None:
        self.outputs.extend(values)

    def build(self, *outputs: Value) -> Graph:
        """The graph (validated): its outputs are those given to ``output()``, then ``outputs``."""
        graph = Graph(list(self.inputs), self.outputs + list(outputs), list(self.nodes), self.name)
        graph.validate()
        return graph
