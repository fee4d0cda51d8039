"""dce: remove nodes none of whose outputs is read (every op in the table is pure)."""

from __future__ import annotations

from cnncc.ir import Graph
from cnncc.passes.manager import note, register_pass


def live_nodes(graph: Graph) -> list:
    live_values = {id(v) for v in graph.outputs}
    live = []
    for node in reversed(graph.nodes):
        if any(id(o) in live_values for o in node.outputs):
            live.append(node)
            live_values.update(id(v) for v in node.inputs)
    return live[::-1]


@register_pass("dce")
def dce(graph: Graph) -> Graph:
    graph = graph.copy()
    before = len(graph.nodes)
    graph.nodes = live_nodes(graph)
    if before != len(graph.nodes):
        note(f"removed {before - len(graph.nodes)} dead node(s)")
    return graph
