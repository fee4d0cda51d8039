"""Small graphs and artifacts for the test_artifact_* tests (exported llvm artifacts)."""

import numpy as np

from cnncc.ir import Graph, Node, TensorType, Value
from cnncc.ops import get_op, infer_types


def _node(nodes, op, inputs, **attrs):
    a = get_op(op).normalize_attrs(attrs)
    out = Value(f"{op.lower()}{len(nodes)}", infer_types(op, [v.type for v in inputs], a)[0])
    nodes.append(Node(op, inputs, [out], a, name=f"n{len(nodes)}_{op}"))
    return out


def tiny_graph(seed: int = 0, size: int = 8, input_name: str = "x") -> Graph:
    """x[1,3,size,size] -> Conv(4) -> Relu -> GlobalAveragePool -> Flatten -> [1,4]; the seed
    picks the weights, so two seeds give two artifacts with one signature and other outputs."""
    rng = np.random.default_rng(seed)
    x = Value(input_name, TensorType((1, 3, size, size)))
    w = Value.constant("w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    b = Value.constant("b", rng.standard_normal(4).astype(np.float32))
    nodes = []
    h = _node(nodes, "Conv", [x, w, b], kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1))
    h = _node(nodes, "Relu", [h])
    h = _node(nodes, "GlobalAveragePool", [h])
    h = _node(nodes, "Flatten", [h])
    return Graph([x], [h], nodes, name=f"tiny{seed}")


def tiny_input(seed: int = 0, size: int = 8) -> np.ndarray:
    return np.random.default_rng(100 + seed).standard_normal((1, 3, size, size)).astype(np.float32)


def export_tiny(directory, seed: int = 0, **kwargs):
    """Export tiny_graph(seed) to ``directory``; returns the JIT executable (the oracle)."""
    from cnncc.backends import llvm

    exe = llvm.build(tiny_graph(seed, **kwargs))
    exe.export(directory)
    return exe
