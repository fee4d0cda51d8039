"""Small graphs for the tvm backend tests, built through the op table (attrs normalized,
output types inferred) so they are exactly what a frontend would produce."""

from __future__ import annotations

import itertools

import numpy as np

from cnncc.builder import GraphBuilder
from cnncc.ir import Graph, Node, Value


class GraphMaker:
    """cnncc.builder.GraphBuilder spelled as these tests use it: ``m.op("Relu", x)``, inputs
    in0, in1..., constants c<k>, values relu<k>_<i> of nodes Relu_<k>."""

    def __init__(self, name: str = "g"):
        self.b = GraphBuilder(name)
        self._n = 0

    @property
    def inputs(self) -> list[Value]:
        return self.b.inputs

    @property
    def nodes(self) -> list[Node]:
        return self.b.nodes

    def input(self, shape, dtype="float32", name=None) -> Value:
        return self.b.input(name or f"in{len(self.b.inputs)}", shape, dtype)

    def const(self, data, name=None) -> Value:
        self._n += 1
        return self.b.const(data, name or f"c{self._n}")

    def op(self, op: str, *inputs: Value, n_out: int | None = None, **attrs):
        self._n += 1
        k = self._n
        return self.b.op(op, inputs, attrs, name=f"{op}_{k}", n_outputs=n_out,
                         outputs=(f"{op.lower()}{k}_{i}" for i in itertools.count()))

    def graph(self, *outputs: Value) -> Graph:
        return self.b.build(*outputs)


def random_feeds(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for v in graph.inputs:
        if v.dtype.startswith("float"):
            feeds[v.name] = rng.standard_normal(v.shape).astype(v.dtype)
        elif v.dtype == "bool":
            feeds[v.name] = rng.random(v.shape) > 0.5
        else:
            feeds[v.name] = rng.integers(-3, 4, v.shape).astype(v.dtype)
    return feeds


def small_cnn(seed: int = 0, n: int = 1, size: int = 16) -> Graph:
    """conv-bn-relu, pool, residual block, depthwise conv, global pool, gemm, softmax."""
    rng = np.random.default_rng(seed)
    w = lambda *s: (rng.standard_normal(s) * np.sqrt(2.0 / np.prod(s[1:]))).astype("float32")  # noqa: E731
    p = lambda c: rng.uniform(0.5, 1.5, c).astype("float32")  # noqa: E731
    m = GraphMaker("small_cnn")
    x = m.input((n, 3, size, size), name="x")
    conv = dict(kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1))
    y = m.op("Conv", x, m.const(w(8, 3, 3, 3)), m.const(p(8)), **conv)
    y = m.op("BatchNormalization", y, m.const(p(8)), m.const(p(8) - 1), m.const(p(8) - 1), m.const(p(8)))
    y = m.op("Relu", y)
    y = m.op("MaxPool", y, kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), dilations=(1, 1))
    r = m.op("Conv", y, m.const(w(8, 8, 3, 3)), **conv)
    r = m.op("Relu", r)
    r = m.op("Conv", r, m.const(w(8, 1, 3, 3)), m.const(p(8)), group=8, **conv)
    y = m.op("Relu", m.op("Add", y, r))
    y = m.op("Conv", y, m.const(w(16, 8, 1, 1)), kernel_shape=(1, 1), strides=(2, 2), pads=(0, 0, 0, 0), dilations=(1, 1))
    y = m.op("GlobalAveragePool", y)
    y = m.op("Flatten", y)
    y = m.op("Gemm", y, m.const(w(10, 16)), m.const(p(10)), transB=1)
    return m.graph(m.op("Softmax", y, axis=1))
