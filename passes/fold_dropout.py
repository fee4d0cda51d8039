"""fold-dropout: Dropout is the identity at inference.

The frontend maps every ONNX form (opset 7 to current; ratio as attribute or input,
training_mode false) to one ``Dropout(x) -> (y, mask)`` op. ``y`` becomes ``x``; a mask that
something reads becomes an all-true constant of its shape (a ConstantOfShape node, folded
later by fold-constants within its size limit).
"""

from __future__ import annotations

from cnncc.builder import make_node
from cnncc.ir import Graph, Node
from cnncc.passes.manager import register_pass
from cnncc.passes.rewrite import Rewrite, Rule, Uses, apply_rules, report


def _mask_nodes(node: Node, uses: Uses) -> list[Node]:
    if len(node.outputs) < 2 or not uses.used(node.outputs[1]):
        return []
    mask = node.outputs[1]
    return [make_node("ConstantOfShape", [], [mask], {"shape": mask.shape, "value": True, "dtype": "bool"}, node.name)]


def _dropout(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
    keep = _mask_nodes(node, uses)
    rw = uses.bypass(node, node.outputs[0], node.inputs[0], keep=keep)
    if rw is None:  # y is a graph output that x cannot stand in for: keep a plain copy
        y = node.outputs[0]
        rw = Rewrite(remove=[node], add=keep + [make_node("Identity", [node.inputs[0]], [y], {}, node.name)])
    return rw


RULES = [Rule("Dropout -> identity", ("Dropout",), _dropout)]


@register_pass("fold-dropout")
def fold_dropout(graph: Graph) -> Graph:
    graph = graph.copy()
    report(apply_rules(graph, RULES))
    return graph
