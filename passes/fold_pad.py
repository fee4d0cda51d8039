"""fold-pad: a constant Pad on the spatial axes folded into the pads of the Conv or pool that
reads it (and nothing else reads it).

- Conv: it pads with zeros, so the Pad value must be 0;
- AveragePool: the padded zeros counted in the divisor, so the pool becomes
  ``count_include_pad=1``; allowed when the pool has no pads of its own or already counts them;
- MaxPool: its implicit pads are -inf, so only a Pad of -inf folds.
Pools in ceil_mode keep their Pad (the ceil-mode window rule depends on where the input ends).
"""

from __future__ import annotations

import math

from cnncc.builder import make_node
from cnncc.ir import Graph, Node
from cnncc.passes.manager import register_pass
from cnncc.passes.rewrite import Rewrite, Rule, Uses, apply_rules, report


def _spatial_pads(pad: Node) -> list[int] | None:
    """The Pad's spatial pads (begins then ends) when it pads nothing else, by >= 0."""
    a, r = pad.attrs, pad.inputs[0].type.rank
    pads = list(a.pads)
    if a.mode != "constant" or r < 3 or any(p < 0 for p in pads):
        return None
    if pads[0] or pads[1] or pads[r] or pads[r + 1]:
        return None
    return pads[2:r] + pads[r + 2 :]


def _fold(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
    x = node.inputs[0]
    pad = x.producer
    if pad is None or pad.op != "Pad" or uses.sole_user(x) is not node:
        return None
    extra = _spatial_pads(pad)
    if extra is None:
        return None
    value, a = pad.attrs.value, node.attrs
    changes = {}
    if node.op == "Conv":
        ok = value == 0
    elif node.op == "AveragePool":
        ok = value == 0 and not a.ceil_mode and (a.count_include_pad or not any(a.pads))
        changes["count_include_pad"] = 1
    else:  # MaxPool
        ok = value == -math.inf and not a.ceil_mode
    if not ok:
        return None
    changes["pads"] = [p + e for p, e in zip(a.pads, extra)]
    new = make_node(node.op, [pad.inputs[0], *node.inputs[1:]], node.outputs, dict(a, **changes), node.name)
    return Rewrite(remove=[pad, node], add=[new])


RULES = [Rule("Pad folded into pads", ("Conv", "AveragePool", "MaxPool"), _fold)]


@register_pass("fold-pad")
def fold_pad(graph: Graph) -> Graph:
    graph = graph.copy()
    report(apply_rules(graph, RULES))
    return graph
