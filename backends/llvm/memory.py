"""The memory plan: where every value of a graph lives while ``cnncc_run`` executes.

* graph inputs and outputs live in the caller's buffers;
* constants live in the weight blob;
* every other value gets an offset in one workspace arena. Two values share bytes when
  their lifetimes (from the producing node to the last reader) do not overlap: the plan
  colours the interference graph (networkx greedy colouring, largest buffers first) and
  gives each colour a slot as large as its largest member;
* view ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity) produce no code: their output
  is the input's storage, whose lifetime grows to cover the view's readers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from cnncc.ir import Graph, Node, Value

from .weights import ALIGN, _round_up


@dataclass(frozen=True)
class Location:
    kind: str       # "input" | "output" | "arena" | "const"
    index: int = 0  # input/output position, or byte offset in the arena
    root: Value | None = None  # the value owning the storage (constants: itself)


@dataclass
class MemoryPlan:
    locations: dict[int, Location]
    arena_size: int
    naive_size: int                       # sum of all arena intermediates, unshared
    views: set[int] = field(default_factory=set)          # ids of nodes that are views
    final_copies: list[tuple[int, Value]] = field(default_factory=list)  # (output index, source)
    colours: int = 0

    def __getitem__(self, v: Value) -> Location:
        return self.locations[id(v)]

    def summary(self) -> str:
        saved = 100.0 * (1 - self.arena_size / self.naive_size) if self.naive_size else 0.0
        return (f"arena {self.arena_size / 1e6:.2f} MB for {self.naive_size / 1e6:.2f} MB of "
                f"intermediates ({saved:.0f}% saved, {self.colours} slots)")


def plan_memory(graph: Graph, view_ops: frozenset[str]) -> MemoryPlan:
    nodes = graph.nodes
    end = len(nodes)  # the final output copies happen "after" the last node
    input_pos = {id(v): i for i, v in enumerate(graph.inputs)}

    # which graph output owns its value's storage (the first position that names it)
    owned_output: dict[int, int] = {}
    for k, v in enumerate(graph.outputs):
        if v.is_constant or id(v) in input_pos or id(v) in owned_output:
            continue
        owned_output[id(v)] = k

    root: dict[int, Value] = {}
    views: set[int] = set()
    for n in nodes:
        if is_view(n, view_ops) and id(n.outputs[0]) not in owned_output:
            src = n.inputs[0]
            root[id(n.outputs[0])] = root.get(id(src), src)
            views.add(id(n))

    def storage(v: Value) -> Value:
        return root.get(id(v), v)

    # lifetimes of storage roots: [defining node, last reading node]
    start: dict[int, int] = {}
    stop: dict[int, int] = {}
    owner: dict[int, Value] = {}
    for i, n in enumerate(nodes):
        if id(n) in views:
            continue
        for o in n.outputs:
            start[id(o)] = i
            stop[id(o)] = i
            owner[id(o)] = o
    for i, n in enumerate(nodes):
        for v in n.inputs:
            r = storage(v)
            if id(r) in stop:
                stop[id(r)] = max(stop[id(r)], i)

    final_copies = []
    for k, v in enumerate(graph.outputs):
        if owned_output.get(id(v)) == k:
            continue
        final_copies.append((k, v))
        r = storage(v)
        if id(r) in stop:
            stop[id(r)] = end

    locations: dict[int, Location] = {}
    arena_vals = [owner[i] for i in start if i not in owned_output]
    sizes = {id(v): _round_up(max(v.type.nbytes, 1), ALIGN) for v in arena_vals}
    g = nx.Graph()
    g.add_nodes_from(id(v) for v in arena_vals)
    by_start = sorted(arena_vals, key=lambda v: start[id(v)])
    for a_i, a in enumerate(by_start):  # interval overlap, sweep by start
        for b in by_start[a_i + 1:]:
            if start[id(b)] > stop[id(a)]:
                break
            g.add_edge(id(a), id(b))
    colouring = nx.greedy_color(g, strategy=lambda G, c: sorted(G, key=lambda n: -sizes[n])) if len(g) else {}
    slot_size: dict[int, int] = {}
    for vid, c in colouring.items():
        slot_size[c] = max(slot_size.get(c, 0), sizes[vid])
    slot_off: dict[int, int] = {}
    off = 0
    for c in sorted(slot_size):
        slot_off[c] = off
        off += slot_size[c]

    for v in graph.inputs:
        locations[id(v)] = Location("input", input_pos[id(v)], v)
    for c in graph.constants:
        locations[id(c)] = Location("const", 0, c)
    for vid, k in owned_output.items():
        locations[vid] = Location("output", k, None)
    for v in arena_vals:
        locations[id(v)] = Location("arena", slot_off[colouring[id(v)]], v)
    for n in nodes:  # views, in order, so chains of views resolve
        if id(n) in views:
            src = locations[id(n.inputs[0])]
            locations[id(n.outputs[0])] = src
    for vid, k in owned_output.items():
        v = next(o for o in graph.outputs if id(o) == vid)
        locations[vid] = Location("output", k, v)

    return MemoryPlan(
        locations=locations,
        arena_size=off,
        naive_size=sum(sizes.values()),
        views=views,
        final_copies=final_copies,
        colours=len(slot_size),
    )


def is_view(node: Node, view_ops: frozenset[str]) -> bool:
    return node.op in view_ops and len(node.outputs) == 1 and node.inputs[0].dtype == node.outputs[0].dtype
