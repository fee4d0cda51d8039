"""fold-constants: evaluate, through the op table's references, every node whose inputs are
all constants (weight-only subgraphs, shape subgraphs), and Shape/Size of any value (shapes
are static).

Size limit, so folding never blows up a model: a result is folded when it has at most
FOLD_MAX_ELEMENTS elements and either it is small (FOLD_SMALL_ELEMENTS), or it is no bigger
than the constants it is computed from, or it ends up as a parameter operand (a weight, a
bias, batch-norm statistics, a slope), which a backend needs as a constant anyway. A
broadcasting ``Expand`` of a scalar feeding an activation stays a node.
"""

from __future__ import annotations

import numpy as np

from cnncc.ir import Graph, Node, Value
from cnncc.ops import evaluate
from cnncc.passes.manager import note, register_pass

FOLD_MAX_ELEMENTS = 1 << 27  # 512 MiB of float32: past this, leave the subgraph alone
FOLD_SMALL_ELEMENTS = 1 << 16
SHAPE_OPS = ("Shape", "Size")
# op -> input positions that are parameters (weights) rather than data
PARAM_INPUTS: dict[str, frozenset[int]] = {
    "Conv": frozenset({1, 2}),
    "ConvTranspose": frozenset({1, 2}),
    "FusedConv": frozenset(range(1, 1 << 16)),
    "Gemm": frozenset({1, 2}),
    "FusedGemm": frozenset(range(1, 1 << 16)),
    "MatMul": frozenset({1}),
    "BatchNormalization": frozenset({1, 2, 3, 4}),
    "InstanceNormalization": frozenset({1, 2}),
    "PRelu": frozenset({1}),
}


def _foldable(node: Node, constant: set[int]) -> bool:
    return node.op in SHAPE_OPS or all(id(v) in constant or v.is_constant for v in node.inputs)


def _feeds_parameters(graph: Graph, candidates: list[Node]) -> set[int]:
    """ids of candidate outputs that reach a parameter operand through other candidates only."""
    cand = {id(n) for n in candidates}
    param: set[int] = set()
    for node in reversed(graph.nodes):
        for i, v in enumerate(node.inputs):
            if i in PARAM_INPUTS.get(node.op, ()) or (id(node) in cand and any(id(o) in param for o in node.outputs)):
                param.add(id(v))
    return param


@register_pass("fold-constants")
def fold_constants(graph: Graph) -> Graph:
    graph = graph.copy()
    constant: set[int] = set()
    candidates = []
    for node in graph.nodes:
        if _foldable(node, constant):
            candidates.append(node)
            constant.update(id(o) for o in node.outputs)
    if not candidates:
        return graph
    param = _feeds_parameters(graph, candidates)
    folded: dict[int, Value] = {}
    kept = []
    skipped = 0
    for node in graph.nodes:
        node.inputs = [folded.get(id(v), v) for v in node.inputs]
        if not _foldable(node, {id(v) for v in node.inputs if v.is_constant}):
            kept.append(node)
            continue
        out_elems = sum(o.type.numel for o in node.outputs)
        in_elems = sum(v.type.numel for v in node.inputs)
        ok = out_elems <= FOLD_MAX_ELEMENTS and (
            node.op in SHAPE_OPS
            or out_elems <= FOLD_SMALL_ELEMENTS
            or out_elems <= in_elems
            or any(id(o) in param for o in node.outputs)
        )
        if not ok:
            skipped += 1
            kept.append(node)
            continue
        args = [v.data if v.is_constant else np.broadcast_to(np.zeros((), v.dtype), v.shape) for v in node.inputs]
        try:
            arrays = evaluate(node.op, args, node.attrs)
        except Exception as exc:  # noqa: BLE001 - the node fails at run time too; leave it there
            note(f"could not fold {node.op} node {node.name}: {exc}")
            kept.append(node)
            continue
        for out, arr in zip(node.outputs, arrays):
            arr = np.ascontiguousarray(arr, dtype=out.dtype).reshape(out.shape)
            folded[id(out)] = Value(out.name, out.type, arr)
    graph.outputs = [folded.get(id(v), v) for v in graph.outputs]
    n = len(graph.nodes) - len(kept)
    graph.nodes = kept
    if n:
        note(f"folded {n} node(s) into constants")
    if skipped:
        note(f"left {skipped} constant node(s) unfolded (result larger than its inputs)")
    return graph
