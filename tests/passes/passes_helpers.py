"""Hand-built graphs and the checks every pass test makes.

``Builder`` writes small graphs op by op (attributes completed from the op table, types
inferred); ``check_pass`` runs one pass, checks it left its input untouched, validates the
result and compares outputs with the reference backend before and after.
"""

from __future__ import annotations

import functools

import numpy as np

from cnncc.backends.reference import interpret
from cnncc.builder import GraphBuilder
from cnncc.ir import Graph, Node, Value
from cnncc.passes.manager import PassRecord, run_pass

RTOL = 1e-4


class Builder:
    """cnncc.builder.GraphBuilder with the short spellings these tests use (``b.input(1, 3, 8, 8)``,
    ``b.op("Relu", x)``) and one counter naming inputs x1, constants c2, values v3, nodes relu4."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.b = GraphBuilder("test")
        self._n = 0

    @property
    def inputs(self) -> list[Value]:
        return self.b.inputs

    @property
    def nodes(self) -> list[Node]:
        return self.b.nodes

    def _name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}{self._n}"

    def input(self, *shape: int, dtype: str = "float32") -> Value:
        return self.b.input(self._name("x"), shape, dtype)

    def const(self, data, dtype: str = "float32") -> Value:
        return self.b.const(data, self._name("c"), dtype)

    def rand(self, *shape: int, lo: float = -1.0, hi: float = 1.0) -> Value:
        return self.const(self.rng.uniform(lo, hi, shape).astype(np.float32))

    def op(self, op: str, *inputs: Value, outputs: int = 1, **attrs):
        names = [self._name("v") for _ in range(outputs)]
        outs = self.b.op(op, inputs, attrs, outputs=names, name=self._name(op.lower()))
        return outs if outputs == 1 or isinstance(outs, list) else [outs]

    def conv(self, x: Value, cout: int, k: int = 3, stride: int = 1, pad: int | None = None, bias: bool = True, group: int = 1, dilation: int = 1) -> Value:
        cin = x.shape[1]
        sp = x.type.rank - 2
        pad = (k // 2) if pad is None else pad
        fan_in = cin // group * k**sp
        w = self.rand(cout, cin // group, *([k] * sp), lo=-(3 / fan_in) ** 0.5, hi=(3 / fan_in) ** 0.5)
        ins = [x, w] + ([self.rand(cout)] if bias else [])
        return self.op("Conv", *ins, kernel_shape=[k] * sp, strides=[stride] * sp, pads=[pad] * (2 * sp), dilations=[dilation] * sp, group=group)

    def batch_norm(self, x: Value) -> Value:
        c = x.shape[1]
        return self.op("BatchNormalization", x, self.rand(c, lo=0.5, hi=1.5), self.rand(c), self.rand(c), self.rand(c, lo=0.5, hi=1.5))

    def graph(self, *outputs: Value, name: str = "test") -> Graph:
        self.b.name = name
        return self.b.build(*outputs)


def random_feeds(graph: Graph, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {v.name: rng.standard_normal(v.shape).astype(v.dtype) for v in graph.inputs}


def assert_same_outputs(before: Graph, after: Graph, feeds, rtol: float = RTOL, atol_scale: float = 1e-5) -> None:
    """Same output names, and values within rtol (plus atol_scale x the largest magnitude,
    for values that cancel to near zero)."""
    want = interpret(before, feeds)
    got = interpret(after, feeds)
    assert list(got) == list(want), f"output names changed: {list(want)} -> {list(got)}"
    for name in want:
        w, g = want[name], got[name]
        assert g.shape == w.shape and g.dtype == w.dtype, name
        scale = float(np.max(np.abs(w))) if w.size and w.dtype.kind == "f" else 0.0
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol_scale * scale, err_msg=name)


def check_pass(name: str, graph: Graph, feeds=None, rtol: float = RTOL) -> tuple[Graph, PassRecord]:
    """Run pass ``name``; the input graph must come back unchanged and the outputs equal."""
    text = str(graph)
    record = PassRecord(name, len(graph.nodes), len(graph.nodes))
    out = run_pass(name, graph, record)
    assert str(graph) == text, f"pass {name} modified its input graph"
    graph.validate()
    assert_same_outputs(graph, out, feeds if feeds is not None else random_feeds(graph), rtol)
    return out, record


def ops(graph: Graph) -> dict[str, int]:
    return graph.op_histogram()


def epilogues(graph: Graph, op: str = "FusedConv") -> list[tuple]:
    return [tuple(s[0] for s in n.attrs.epilogue) for n in graph.nodes if n.op == op]


@functools.lru_cache(maxsize=None)
def light_model(name: str, random_weights: bool = True):
    """(Graph, feeds) of a light model-zoo model, imported once per test session."""
    import onnx

    from cnncc import zoo
    from cnncc.frontends.onnx import import_onnx

    model = onnx.load(str(zoo.light_model_path(name)))
    feeds = zoo.light_input(model)
    if random_weights:
        model = zoo.with_random_weights(model, seed=0)
    return import_onnx(model), feeds
