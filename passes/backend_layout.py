"""backend-layout: the -O3 hook for backend-specific layout choices (a no-op today).

This is where the CPU backend's blocked layout (NCHW[x]c) and pre-packed weights will be
chosen per node, from the tuning database, once a backend declares what it wants. Until
then -O3 computes exactly what -O2 does.
"""

from __future__ import annotations

from cnncc.ir import Graph
from cnncc.passes.manager import register_pass


@register_pass("backend-layout")
def backend_layout(graph: Graph) -> Graph:
    return graph.copy()
