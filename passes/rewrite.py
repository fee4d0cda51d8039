"""Rewrites as data: rules (anchor op, rewrite function) and one driver applying them to a fixpoint.

A rule looks at one anchor node and the graph around it (through ``Uses``) and returns a
``Rewrite`` -- nodes to remove, nodes to add in their place, values whose uses move to other
values -- or None when it does not apply. ``apply_rules`` sweeps the graph in order, applies
the first rule that matches each node, revisits what it created, and repeats until no rule
fires. Passes are then lists of rules plus a line calling the driver.

Graph output names are part of a model's interface: a rewrite never renames a graph output.
New nodes reuse the Value objects they replace, and ``Uses.bypass`` only drops a node whose
output is a graph output when the value it forwards can take that output's place.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from cnncc.builder import make_node  # noqa: F401 - its old home: rules written before cnncc.builder import it from here
from cnncc.ir import Graph, GraphError, Node, Value
from cnncc.ops import infer_types


@dataclass
class Rewrite:
    remove: list[Node]
    add: list[Node] = field(default_factory=list)
    replace: list[tuple[Value, Value]] = field(default_factory=list)  # (old, new): uses of old read new
    rename: list[tuple[Node, int, Value]] = field(default_factory=list)  # node.outputs[i] becomes value


RuleFn = Callable[[Graph, Node, "Uses"], Rewrite | None]


@dataclass(frozen=True)
class Rule:
    """``rewrite`` is tried on every node whose op is in ``ops``; ``name`` labels the stats."""

    name: str
    ops: tuple[str, ...]
    rewrite: RuleFn


class Uses:
    """Who reads each value, for the rules' conditions (rebuilt after every rewrite)."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self._users = graph.consumers()
        self._outputs = {id(v) for v in graph.outputs}
        self._inputs = {id(v) for v in graph.inputs}

    def users(self, v: Value) -> list[Node]:
        """Consumer nodes, each once."""
        seen: dict[int, Node] = {}
        for n in self._users.get(id(v), []):
            seen.setdefault(id(n), n)
        return list(seen.values())

    def is_output(self, v: Value) -> bool:
        return id(v) in self._outputs

    def is_input(self, v: Value) -> bool:
        return id(v) in self._inputs

    def used(self, v: Value) -> bool:
        return bool(self._users.get(id(v))) or self.is_output(v)

    def sole_user(self, v: Value) -> Node | None:
        """The one node reading ``v`` when nothing else does (no other node, not a graph output)."""
        users = self.users(v)
        if len(users) == 1 and not self.is_output(v):
            return users[0]
        return None

    def only_read_by(self, v: Value, nodes: Iterable[Node]) -> bool:
        ids = {id(n) for n in nodes}
        return not self.is_output(v) and all(id(n) in ids for n in self.users(v))

    def bypass(self, node: Node, out: Value, src: Value, keep: Sequence[Node] = ()) -> Rewrite | None:
        """Drop ``node`` (plus nothing else) so that readers of ``out`` read ``src`` instead.

        When ``out`` is a graph output, ``src``'s producer is renamed to produce ``out``
        (the output keeps its name); that needs ``src`` to be read by ``node`` alone.
        Returns None when the node cannot go without renaming a graph output.
        """
        if out.type != src.type:
            return None
        if not self.is_output(out):
            return Rewrite(remove=[node], add=list(keep), replace=[(out, src)])
        p = src.producer
        if (
            src.is_constant
            or p is None
            or self.is_input(src)
            or self.is_output(src)
            or not all(u is node for u in self.users(src))
        ):
            return None
        return Rewrite(remove=[node], add=list(keep), rename=[(p, p.outputs.index(src), out)])


def constant(graph: Graph, stem: str, data, dtype: str = "float32") -> Value:
    """A new constant with a fresh name."""
    return Value.constant(graph.fresh_name(stem), np.asarray(data, dtype=dtype))


def apply_rewrite(graph: Graph, rw: Rewrite) -> int:
    """Apply ``rw`` in place; returns the index where the added nodes start."""
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    positions = [index[id(n)] for n in rw.remove]
    for node, i, value in rw.rename:
        old = node.outputs[i]
        node.outputs[i] = value
        value.producer = node
        for n in graph.nodes:
            n.inputs = [value if v is old else v for v in n.inputs]
    for old, new in rw.replace:
        graph.replace_all_uses(old, new)
    at = max(positions) + 1 if positions else len(graph.nodes)
    removed = {id(n) for n in rw.remove}
    at -= sum(1 for p in positions if p < at)
    graph.nodes = [n for n in graph.nodes if id(n) not in removed]
    graph.nodes[at:at] = rw.add
    for node in rw.add:  # the rules' own check: a new node must type exactly as what it replaces
        for out in node.outputs:
            out.producer = node
        want = infer_types(node.op, [v.type for v in node.inputs], node.attrs)
        if want[: len(node.outputs)] != [o.type for o in node.outputs]:
            raise GraphError(f"rewrite made {node.op} node {node.name} typed {[str(o.type) for o in node.outputs]}, op says {[str(t) for t in want]}")
    return at


def apply_rules(graph: Graph, rules: Sequence[Rule], max_rewrites: int | None = None) -> Counter:
    """Apply ``rules`` to ``graph`` in place until none fires; returns how often each fired."""
    by_op: dict[str, list[Rule]] = {}
    for rule in rules:
        for op in rule.ops:
            by_op.setdefault(op, []).append(rule)
    counts: Counter = Counter()
    budget = max_rewrites if max_rewrites is not None else 20 * len(graph.nodes) + 100
    changed = True
    while changed:
        changed = False
        uses = Uses(graph)
        i = 0
        while i < len(graph.nodes):
            node = graph.nodes[i]
            for rule in by_op.get(node.op, ()):
                rw = rule.rewrite(graph, node, uses)
                if rw is None:
                    continue
                try:
                    i = apply_rewrite(graph, rw)
                except GraphError as exc:
                    raise GraphError(f"rule {rule.name} on node {node.name}: {exc}") from exc
                counts[rule.name] += 1
                uses = Uses(graph)
                changed = True
                budget -= 1
                if budget < 0:
                    raise GraphError(f"rewrite rules did not reach a fixpoint (last: {rule.name} on {node.name})")
                break
            else:
                i += 1
    return counts


def report(counts: Counter) -> None:
    """Hand the driver's counts to the pass manager's stats."""
    from cnncc.passes.manager import note

    for name, n in sorted(counts.items()):
        note(f"{name}: {n}")


def pointwise_conv(node: Node) -> bool:
    """A 2-D 1x1 ungrouped, unpadded, undilated Conv or FusedConv with constant weights (any
    stride): the convs the -O3 passes rewrite."""
    if node.op not in ("Conv", "FusedConv") or node.outputs[0].type.rank != 4 or not node.inputs[1].is_constant:
        return False
    a = node.attrs
    return tuple(a.kernel_shape) == (1, 1) and a.group == 1 and not any(a.pads) and tuple(a.dilations) == (1, 1)


def conv_epilogue(node: Node) -> tuple:
    """The FusedConv epilogue that a Conv or FusedConv computes after its convolution (a
    Conv's bias input is the step ("bias",))."""
    if node.op == "Conv":
        return (("bias",),) if len(node.inputs) == 3 else ()
    return tuple(node.attrs.epilogue)


def const_value(v: Value) -> np.ndarray | None:
    return v.data if v.is_constant else None


def per_channel(v: Value, out_shape: tuple[int, ...], axis: int = 1) -> np.ndarray | None:
    """``v`` as a length-C vector when it is a constant that varies along ``axis`` only and
    broadcasting it against ``out_shape`` leaves that shape unchanged; else None."""
    if not v.is_constant or len(out_shape) <= axis:
        return None
    shape = v.shape
    if len(shape) > len(out_shape):
        return None
    padded = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    c = out_shape[axis]
    if any(d != 1 for i, d in enumerate(padded) if i != axis) or padded[axis] not in (1, c):
        return None
    return np.broadcast_to(v.data.reshape(-1), (c,)).astype(v.dtype) if v.data.size == 1 else v.data.reshape(c)
