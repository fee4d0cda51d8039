"""The NumPy interpreter: runs any Graph op by op with the op table's references.

Slow on purpose and simple on purpose: it is the oracle every other backend is checked against.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from cnncc.backends.base import check_feeds
from cnncc.errors import BackendError
from cnncc.ir import Graph
from cnncc.ops import evaluate


def interpret(graph: Graph, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    env: dict[int, np.ndarray] = {id(v): feeds[v.name] for v in graph.inputs}
    last_use = {}
    for i, node in enumerate(graph.nodes):
        for v in node.inputs:
            last_use[id(v)] = i
    keep = {id(v) for v in graph.outputs}
    for i, node in enumerate(graph.nodes):
        args = [v.data if v.is_constant else env[id(v)] for v in node.inputs]
        try:
            results = evaluate(node.op, args, node.attrs)
        except Exception as exc:  # noqa: BLE001 - any failure is attributed to its node
            raise BackendError(f"reference: node {node.name} ({node.op}) failed: {exc}") from exc
        for out, arr in zip(node.outputs, results):
            if tuple(arr.shape) != out.shape or str(arr.dtype) != out.dtype:
                raise BackendError(
                    f"reference: node {node.name} ({node.op}) produced {arr.dtype}{list(arr.shape)}, "
                    f"declared {out.type}"
                )
            env[id(out)] = arr
        for v in node.inputs:  # free intermediates early: whole models at 224x224 add up
            if last_use.get(id(v)) == i and id(v) not in keep and not v.is_constant:
                env.pop(id(v), None)
    return {v.name: (v.data if v.is_constant else env[id(v)]) for v in graph.outputs}


class ReferenceExecutable:
    def __init__(self, graph: Graph):
        self.graph = graph

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return interpret(self.graph, check_feeds(self.graph, feeds))


def passes(opt_level: int) -> list[str]:
    """The passes this backend adds to the generic pipeline: none (it runs any Graph)."""
    return []


def build(graph: Graph, precision: str = "fp32", **options) -> ReferenceExecutable:
    """``precision``: the oracle computes in fp32 (and float64 where NumPy does); bf16 is refused."""
    from cnncc.precision import fp32_only

    fp32_only(precision, "reference")
    return ReferenceExecutable(graph)
