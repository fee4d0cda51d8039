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


def layer_shape(node) -> str:
    """A short description of what a conv or GEMM node computes, for per-layer tables:
    "3x3/1 256->256 14x14" (kernel/stride, channels in->out, output map; "g32" when
    grouped), "2048->1000" for a GEMM; "" for other ops."""
    if node.op in ("Conv", "FusedConv") and len(node.inputs) > 1 and node.inputs[1].type.rank >= 3:
        w, x, a = node.inputs[1].shape, node.inputs[0].shape, node.attrs
        sp = len(w) - 2
        out = [(x[2 + i] + a.pads[i] + a.pads[sp + i] - a.dilations[i] * (w[2 + i] - 1) - 1) // a.strides[i] + 1
               for i in range(sp)]   # the convolution's map (before a fused pooling)
        kernel = "x".join(str(d) for d in w[2:])
        strides = "x".join(str(s) for s in a.strides) if len(set(a.strides)) > 1 else str(a.strides[0])
        group = f" g{a.group}" if a.group > 1 else ""
        pooled = " +pool" if node.op == "FusedConv" and any(s[0].endswith("pool") for s in a.epilogue) else ""
        return (f"{kernel}/{strides} {node.inputs[0].shape[1]}->{w[0]}{group} "
                f"{'x'.join(str(d) for d in out)}{pooled}")
    if node.op in ("Gemm", "FusedGemm", "MatMul") and node.inputs[1].type.rank == 2:
        k_dim = node.inputs[0].shape[-1]
        return f"{k_dim}->{node.outputs[0].shape[-1]}"
    return ""
