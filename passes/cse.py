"""cse: common subexpression elimination.

Two nodes with the same op, attributes and inputs compute the same values (every op is
pure); the later one goes and its readers read the earlier one's outputs. Equal constants
(same dtype, shape and bytes, up to CSE_CONSTANT_MAX_ELEMENTS) are merged first, so nodes
over equal-but-distinct constants are found too. A node whose output is a graph output is
kept (the output keeps its name).
"""

from __future__ import annotations

import hashlib

from cnncc.ir import Graph, Value
from cnncc.passes.manager import note, register_pass

CSE_CONSTANT_MAX_ELEMENTS = 1 << 20


def _constant_key(v: Value):
    return (v.dtype, v.shape, hashlib.blake2b(v.data.tobytes(), digest_size=16).digest())


@register_pass("cse")
def cse(graph: Graph) -> Graph:
    graph = graph.copy()
    canon: dict[int, Value] = {}
    by_bytes: dict[tuple, Value] = {}
    for c in graph.constants:
        if c.type.numel <= CSE_CONSTANT_MAX_ELEMENTS:
            first = by_bytes.setdefault(_constant_key(c), c)
            if first is not c and not graph.is_output(c):
                canon[id(c)] = first
    merged_consts = len(canon)
    outputs = {id(v) for v in graph.outputs}
    seen: dict[tuple, list[Value]] = {}
    kept = []
    merged_nodes = 0
    for node in graph.nodes:
        node.inputs = [canon.get(id(v), v) for v in node.inputs]
        key = (node.op, node.attrs, tuple(id(v) for v in node.inputs), len(node.outputs))
        first = seen.get(key)
        if first is not None and not any(id(o) in outputs for o in node.outputs):
            for old, new in zip(node.outputs, first):
                canon[id(old)] = new
            merged_nodes += 1
            continue
        seen.setdefault(key, node.outputs)
        kept.append(node)
    graph.nodes = kept
    if merged_consts:
        note(f"merged {merged_consts} duplicate constant(s)")
    if merged_nodes:
        note(f"merged {merged_nodes} duplicate node(s)")
    return graph
