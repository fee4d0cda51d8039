"""Small graphs and artifacts for the test_artifact_* tests (exported llvm artifacts)."""

import numpy as np

from cnncc.builder import GraphBuilder
from cnncc.ir import Graph


def _op(b: GraphBuilder, op, inputs, **attrs):
    n = len(b.nodes)
    return b.op(op, inputs, attrs, name=f"n{n}_{op}", outputs=[f"{op.lower()}{n}"])


def tiny_graph(seed: int = 0, size: int = 8, input_name: str = "x") -> Graph:
    """x[1,3,size,size] -> Conv(4) -> Relu -> GlobalAveragePool -> Flatten -> [1,4]; the seed
    picks the weights, so two seeds give two artifacts with one signature and other outputs."""
    rng = np.random.default_rng(seed)
    g = GraphBuilder(f"tiny{seed}")
    x = g.input(input_name, (1, 3, size, size))
    w = g.const(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    b = g.const(rng.standard_normal(4).astype(np.float32), "b")
    h = _op(g, "Conv", [x, w, b], kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1))
    h = _op(g, "Relu", [h])
    h = _op(g, "GlobalAveragePool", [h])
    h = _op(g, "Flatten", [h])
    return g.build(h)


def tiny_input(seed: int = 0, size: int = 8) -> np.ndarray:
    return np.random.default_rng(100 + seed).standard_normal((1, 3, size, size)).astype(np.float32)


def export_tiny(directory, seed: int = 0, **kwargs):
    """Export tiny_graph(seed) to ``directory``; returns the JIT executable (the oracle)."""
    from cnncc.backends import llvm

    exe = llvm.build(tiny_graph(seed, **kwargs))
    exe.export(directory)
    return exe
