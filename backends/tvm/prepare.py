"""Backend-local graph adjustments before lowering (on a copy; the caller's graph is untouched).

cuda: a FusedConv whose epilogue ends in pooling becomes FusedConv (pointwise epilogue only)
followed by the pooling op. The convolution then gets dlight's implicit-GEMM schedule
(shared-memory tiles); with the pool in the same PrimFunc no GPU rule applies and the whole
kernel would fall back to one thread per output without shared memory.
"""

from __future__ import annotations

from cnncc.builder import make_node
from cnncc.ir import Graph, Node
from cnncc.ops.fused import POOL_STEPS, split_extras

CONV_KEYS = ("kernel_shape", "strides", "pads", "dilations", "group")


def prepare(graph: Graph, device: str) -> Graph:
    if device != "cuda" or not any(_pooled(n) for n in graph.nodes):
        return graph
    graph = graph.copy()
    for node in [n for n in graph.nodes if _pooled(n)]:
        graph.replace_node(node, _split(graph, node))
    return graph


def _pooled(node: Node) -> bool:
    return node.op == "FusedConv" and bool(node.attrs.epilogue) and node.attrs.epilogue[-1][0] in POOL_STEPS


def _split(graph: Graph, node: Node) -> list[Node]:
    epilogue = tuple(node.attrs.epilogue)
    pool = epilogue[-1]
    x, w, *extras = node.inputs
    kept = [e for step, e in zip(epilogue[:-1], split_extras(epilogue[:-1], extras)) if e is not None]
    conv_attrs = {k: node.attrs[k] for k in CONV_KEYS} | {"epilogue": epilogue[:-1]}
    conv = make_node("FusedConv", [x, w, *kept], [graph.fresh_name(f"{node.outputs[0].name}.conv")], conv_attrs,
                     name=f"{node.name}.conv")
    mid = conv.outputs[0]
    sp = mid.type.rank - 2
    if pool[0] == "global_avg_pool":
        op, attrs = "GlobalAveragePool", {}
    else:
        op = "MaxPool" if pool[0] == "max_pool" else "AveragePool"
        attrs = {"kernel_shape": pool[1], "strides": pool[2], "pads": pool[3], "dilations": (1,) * sp, "ceil_mode": pool[4]}
        if pool[0] == "avg_pool":
            attrs["count_include_pad"] = pool[5]
    pooled = make_node(op, [mid], list(node.outputs), attrs, name=f"{node.name}.pool")
    return [conv, pooled]
