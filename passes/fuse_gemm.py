"""fuse-gemm: Gemm (MatMul is canonicalized to Gemm) + bias + activations -> one FusedGemm.

Gemm's C becomes the first epilogue step: ("bias",) when it is a per-column constant (beta
folded in), ("add",) when it has the output's full shape; any other C keeps the Gemm as is.
Then the epilogue grows by the same activation table as fuse-conv (no pooling).
"""

from __future__ import annotations

from cnncc.ir import Graph, Node
from cnncc.passes.epilogue import Fusion, as_channel_vector, grow
from cnncc.passes.manager import register_pass
from cnncc.passes.rewrite import Rule, apply_rules, constant, report


def _start_gemm(graph: Graph, node: Node):
    a = node.attrs
    attrs = {"alpha": a.alpha, "transA": a.transA, "transB": a.transB}
    inputs = list(node.inputs[:2])
    if len(node.inputs) == 2:
        return inputs, attrs, ()
    c, y = node.inputs[2], node.outputs[0]
    vec = as_channel_vector(c, y.shape, a.beta)
    if vec is not None:
        return inputs + [constant(graph, f"{node.name}.bias", vec, y.dtype)], attrs, (("bias",),)
    if c.type == y.type and (a.beta == 1.0 or c.is_constant):
        if a.beta != 1.0:
            c = constant(graph, f"{node.name}.C", c.data * a.beta, y.dtype)
        return inputs + [c], attrs, (("add",),)
    return None


GEMM = Fusion(base="Gemm", fused="FusedGemm", pools=False, start=_start_gemm)
RULES = [Rule("steps fused into FusedGemm epilogues", ("Gemm", "FusedGemm"), grow(GEMM))]


@register_pass("fuse-gemm")
def fuse_gemm(graph: Graph) -> Graph:
    graph = graph.copy()
    report(apply_rules(graph, RULES))
    return graph
