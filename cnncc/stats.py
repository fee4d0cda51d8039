"""Figures about a graph that people ask for: parameters, bytes, MACs per op."""

from __future__ import annotations

from dataclasses import dataclass, field

from cnncc.ir import Graph
from cnncc.ops import count_macs


@dataclass
class GraphStats:
    parameters: int = 0
    parameter_bytes: int = 0
    macs_by_op: dict[str, int] = field(default_factory=dict)

    @property
    def total_macs(self) -> int:
        return sum(self.macs_by_op.values())


def weight_values(graph: Graph):
    """Values that do not depend on any graph input and feed something that does: the weights.

    Counting these (rather than only constants) gives the same figure before and after
    constant folding, e.g. for models whose weights are ConstantOfShape nodes.
    """
    static = {id(v) for v in graph.constants}
    for node in graph.nodes:
        if all(id(v) in static for v in node.inputs):
            static.update(id(o) for o in node.outputs)
    seen: dict[int, object] = {}
    for node in graph.nodes:
        if all(id(v) in static for v in node.inputs):
            continue
        for v in node.inputs:
            if id(v) in static:
                seen.setdefault(id(v), v)
    return list(seen.values())


def graph_stats(graph: Graph) -> GraphStats:
    stats = GraphStats()
    for v in weight_values(graph):
        stats.parameters += v.type.numel
        stats.parameter_bytes += v.type.nbytes
    for node in graph.nodes:
        macs = count_macs(node.op, [v.type for v in node.inputs], [v.type for v in node.outputs], node.attrs)
        if macs:
            stats.macs_by_op[node.op] = stats.macs_by_op.get(node.op, 0) + macs
    return stats
