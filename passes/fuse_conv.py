"""fuse-conv: Conv + bias + activations / residual add + pooling -> one FusedConv.

The patterns are the table in passes/epilogue.py (activation and pooling ops, residual Add,
per-channel PRelu, SiLU), applied by the rewrite driver to a fixpoint: each round lets a
Conv or FusedConv absorb the op that alone reads its output, until nothing more fits. A
pooling step ends an epilogue. Conv's own bias becomes the first step ("bias",).
"""

from __future__ import annotations

from cnncc.ir import Graph, Node
from cnncc.ops.nn import CONV_ATTRS
from cnncc.passes.epilogue import Fusion, grow
from cnncc.passes.manager import register_pass
from cnncc.passes.rewrite import Rule, apply_rules, conv_epilogue, report


def _start_conv(graph: Graph, node: Node):
    return list(node.inputs), {k: node.attrs[k] for k in CONV_ATTRS}, conv_epilogue(node)


CONV = Fusion(base="Conv", fused="FusedConv", pools=True, start=_start_conv)
RULES = [Rule("steps fused into FusedConv epilogues", ("Conv", "FusedConv"), grow(CONV))]


@register_pass("fuse-conv")
def fuse_conv(graph: Graph) -> Graph:
    graph = graph.copy()
    report(apply_rules(graph, RULES))
    return graph
