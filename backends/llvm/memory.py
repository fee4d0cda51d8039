"""The memory plan: where every value of a graph lives while ``cnncc_run`` executes.

* graph inputs and outputs live in the caller's buffers;
* constants live in the weight blob;
* every other value gets an offset in one workspace arena. Two values share bytes when
  their lifetimes (from the producing node to the last reader) do not overlap: the plan
  colours the interference graph (networkx greedy colouring, largest buffers first) and
  gives each colour a slot as large as its largest member;
* view ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity) produce no code: their output
  is the input's storage, whose lifetime grows to cover the view's readers;
* a Concat whose slices are contiguous produces no code either: each producer writes straight
  into its slice of the output, and other readers of an input read it there (a value is
  placed in one concat at most);
* a kernel that reads each element of one input just before it writes the same element of
  its output (a conv whose residual add is applied in registers) may be given that input's
  storage for its output, where it is the input's last reader: the residual's bytes are
  then read and written back once, instead of read once and a fresh buffer's written (which
  the cache also reads first). ResNet's residual 1x1 layers move 3.2 MB of residual each.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from cnncc.ir import Graph, Node, Value

from .weights import ALIGN, _round_up


@dataclass(frozen=True)
class Location:
    kind: str       # "input" | "output" | "arena" | "const"
    index: int = 0  # input/output position, or byte offset of the slot in the arena
    root: Value | None = None  # the value owning the storage (constants: itself)
    offset: int = 0  # bytes into the owner's storage (slices of an in-place Concat)


@dataclass
class MemoryPlan:
    locations: dict[int, Location]
    arena_size: int
    naive_size: int                       # sum of all arena intermediates, unshared
    views: set[int] = field(default_factory=set)          # ids of nodes that need no kernel
    final_copies: list[tuple[int, Value]] = field(default_factory=list)  # (output index, source)
    colours: int = 0
    inplace_concats: int = 0
    inplace_outputs: int = 0

    def __getitem__(self, v: Value) -> Location:
        return self.locations[id(v)]

    def summary(self) -> str:
        saved = 100.0 * (1 - self.arena_size / self.naive_size) if self.naive_size else 0.0
        return (f"arena {self.arena_size / 1e6:.2f} MB for {self.naive_size / 1e6:.2f} MB of "
                f"intermediates ({saved:.0f}% saved, {self.colours} slots, "
                f"{self.inplace_concats} concats in place, {self.inplace_outputs} outputs over an input)")


def kernel_free_nodes(graph: Graph, view_ops: frozenset[str]) -> set[int]:
    """ids of the nodes the plan will give no kernel (views, concats in place)."""
    return _storage_aliases(graph, view_ops)[1]


def _storage_aliases(graph: Graph, view_ops: frozenset[str]):
    """(alias, views, in-place concat count, owned_output, input_pos): ``alias`` maps a value
    to (the value whose storage it is part of, byte offset)."""
    nodes = graph.nodes
    input_pos = {id(v): i for i, v in enumerate(graph.inputs)}

    # which graph output owns its value's storage (the first position that names it)
    owned_output: dict[int, int] = {}
    for k, v in enumerate(graph.outputs):
        if v.is_constant or id(v) in input_pos or id(v) in owned_output:
            continue
        owned_output[id(v)] = k

    # value -> (value whose storage it is part of, byte offset)
    alias: dict[int, tuple[Value, int]] = {}
    views: set[int] = set()
    for n in nodes:
        if is_view(n, view_ops) and id(n.outputs[0]) not in owned_output:
            alias[id(n.outputs[0])] = (n.inputs[0], 0)
            views.add(id(n))
    inplace = 0
    for n in reversed(nodes):  # consumers first, so nested concats compose
        if n.op == "Concat" and _concat_in_place(n, alias, owned_output, input_pos):
            out = n.outputs[0]
            axis = n.attrs.axis % len(out.shape)
            row = int(np.prod(out.shape[axis + 1:], dtype=np.int64)) * np.dtype(out.dtype).itemsize
            pos = 0
            for v in n.inputs:
                alias[id(v)] = (out, pos * row)
                pos += v.shape[axis]
            views.add(id(n))
            inplace += 1
    return alias, views, inplace, owned_output, input_pos


def plan_memory(graph: Graph, view_ops: frozenset[str],
                output_over_input: Mapping[int, int] | None = None) -> MemoryPlan:
    """``output_over_input``: node id -> index of the input whose storage that node's kernel
    can take for its output 0 (see the module docstring); the plan uses it where it can."""
    nodes = graph.nodes
    end = len(nodes)  # the final output copies happen "after" the last node
    alias, views, inplace, owned_output, input_pos = _storage_aliases(graph, view_ops)

    def resolve(v: Value) -> tuple[Value, int]:
        off = 0
        while id(v) in alias:
            v, o = alias[id(v)]
            off += o
        return v, off

    over_input = _outputs_over_inputs(graph, output_over_input or {}, alias, resolve, owned_output)

    # lifetimes of storage owners: [first defining node, last reading node]
    start: dict[int, int] = {}
    stop: dict[int, int] = {}
    owner: dict[int, Value] = {}
    for i, n in enumerate(nodes):
        if id(n) in views:
            continue
        for o in n.outputs:
            r, _ = resolve(o)
            start[id(r)] = min(start.get(id(r), i), i)
            stop[id(r)] = max(stop.get(id(r), i), i)
            owner[id(r)] = r
    for i, n in enumerate(nodes):
        for v in n.inputs:
            r, _ = resolve(v)
            if id(r) in stop:
                stop[id(r)] = max(stop[id(r)], i)

    final_copies = []
    for k, v in enumerate(graph.outputs):
        if owned_output.get(id(v)) == k:
            continue
        final_copies.append((k, v))
        r, _ = resolve(v)
        if id(r) in stop:
            stop[id(r)] = end

    arena_vals = [owner[i] for i in start if i not in owned_output and i not in input_pos]
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

    base: dict[int, Location] = {}
    for v in graph.inputs:
        base[id(v)] = Location("input", input_pos[id(v)], v)
    for c in graph.constants:
        base[id(c)] = Location("const", 0, c)
    for v in graph.outputs:
        if id(v) in owned_output:
            base[id(v)] = Location("output", owned_output[id(v)], v)
    for v in arena_vals:
        base[id(v)] = Location("arena", slot_off[colouring[id(v)]], v)
    locations: dict[int, Location] = {}
    for v in graph.values():
        r, o = resolve(v)
        b = base[id(r)]
        locations[id(v)] = Location(b.kind, b.index, b.root, b.offset + o)

    return MemoryPlan(
        locations=locations,
        arena_size=off,
        naive_size=sum(sizes.values()),
        views=views,
        final_copies=final_copies,
        colours=len(slot_size),
        inplace_concats=inplace,
        inplace_outputs=over_input,
    )


def _outputs_over_inputs(graph: Graph, output_over_input: Mapping[int, int], alias, resolve,
                         owned_output) -> int:
    """Alias each offered output to its input's storage where that is safe: the input is a
    whole arena buffer (no slice, no graph input/output/constant) of the output's size, the
    node reads it through that input only, and no later node (or graph output) reads it.
    Adds to ``alias``; returns how many outputs it placed."""
    if not output_over_input:
        return 0
    nodes = graph.nodes
    last_read: dict[int, int] = {}  # storage owner -> index of its last reader
    for i, n in enumerate(nodes):
        for v in n.inputs:
            last_read[id(resolve(v)[0])] = i
    for v in graph.outputs:
        last_read[id(resolve(v)[0])] = len(nodes)
    placed = 0
    for i, n in enumerate(nodes):
        idx = output_over_input.get(id(n))
        if idx is None:
            continue
        out, src = n.outputs[0], n.inputs[idx]
        root, off = resolve(src)
        # (graph inputs and constants have no producer)
        if (off or id(out) in alias or id(out) in owned_output or id(root) in owned_output
                or root.producer is None or root.type.nbytes != out.type.nbytes or root.dtype != out.dtype
                or last_read.get(id(root)) != i
                or sum(resolve(v)[0] is root for v in n.inputs) != 1):
            continue
        alias[id(out)] = (root, 0)
        last_read[id(root)] = max(i, last_read.get(id(out), i))
        placed += 1
    return placed


def _concat_in_place(n: Node, alias, owned_output, input_pos) -> bool:
    """Can every input of Concat ``n`` be computed straight into its slice of the output?
    Slices must be contiguous (nothing but 1s before the axis), and every input must be a
    node output owning its bytes, not yet placed in another concat."""
    out = n.outputs[0]
    axis = n.attrs.axis % len(out.shape)
    if any(d != 1 for d in out.shape[:axis]) or len({id(v) for v in n.inputs}) != len(n.inputs):
        return False
    for v in n.inputs:
        if (v.is_constant or v.producer is None or id(v) in input_pos or id(v) in owned_output
                or id(v) in alias):
            return False
    return True


def is_view(node: Node, view_ops: frozenset[str]) -> bool:
    return node.op in view_ops and len(node.outputs) == 1 and node.inputs[0].dtype == node.outputs[0].dtype
