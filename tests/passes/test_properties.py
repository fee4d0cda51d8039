"""Property: random small CNNs built from the supported ops compute the same at -O0 and -O2."""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncc.passes.manager import optimize
from passes_helpers import Builder, assert_same_outputs, random_feeds

ACTS = ["Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Clip", "PRelu", "SiLU"]


def _activation(b: Builder, y, name: str):
    if name == "Clip":
        return b.op("Clip", y, min=0.0, max=6.0)
    if name == "PRelu":
        return b.op("PRelu", y, b.rand(y.shape[1], 1, 1, lo=0.0, hi=0.5))
    if name == "SiLU":
        return b.op("Mul", y, b.op("Sigmoid", y))
    if name == "LeakyRelu":
        return b.op("LeakyRelu", y, alpha=0.2)
    return b.op(name, y)


@st.composite
def cnns(draw):
    b = Builder(seed=draw(st.integers(0, 2**16)))
    c0 = draw(st.integers(1, 4))
    size = draw(st.integers(5, 10))
    x = b.input(1, c0, size, size + draw(st.integers(0, 2)))
    y, outs = x, []
    seen = [x]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["conv", "conv", "conv", "bn", "act", "pool", "residual", "pad", "scale", "dropout", "concat", "identity"]))
        if kind == "conv":
            group = draw(st.sampled_from([1, y.shape[1]])) if y.shape[1] > 1 else 1
            cout = group * draw(st.integers(1, 3)) if group > 1 else draw(st.integers(1, 6))
            k = draw(st.sampled_from([1, 3]))
            if min(y.shape[2:]) < k:
                continue
            y = b.conv(y, cout, k=k, stride=draw(st.sampled_from([1, 1, 2])), bias=draw(st.booleans()), group=group, pad=draw(st.sampled_from([0, k // 2])))
            if draw(st.booleans()):
                seen.append(y)
                y = _activation(b, y, draw(st.sampled_from(ACTS)))
        elif kind == "bn":
            y = b.batch_norm(y)
        elif kind == "act":
            y = _activation(b, y, draw(st.sampled_from(ACTS)))
        elif kind == "pool" and min(y.shape[2:]) >= 3:
            op = draw(st.sampled_from(["MaxPool", "AveragePool"]))
            extra = {"count_include_pad": draw(st.sampled_from([0, 1]))} if op == "AveragePool" else {}
            y = b.op(op, y, kernel_shape=[3, 2], strides=[2, 1], pads=[1, 0, 1, 1], dilations=[1, 1], ceil_mode=draw(st.sampled_from([0, 1])), **extra)
        elif kind == "residual":
            same = [v for v in seen if v.type == y.type and v is not y]
            if same:
                y = b.op(draw(st.sampled_from(["Add", "Sum"])), draw(st.sampled_from(same)), y)
        elif kind == "pad":
            y = b.op("Pad", y, pads=[0, 0, 1, draw(st.integers(0, 1)), 0, 0, 1, 0])
        elif kind == "scale":
            y = b.op(draw(st.sampled_from(["Mul", "Add"])), y, b.rand(y.shape[1], 1, 1, lo=0.5, hi=1.5))
        elif kind == "dropout":
            y = b.op("Dropout", y)
        elif kind == "concat":
            y = b.op("Concat", y, b.op("Relu", y), axis=1)
        elif kind == "identity":
            y = b.op("Identity", y)
        seen.append(y)
        if draw(st.integers(0, 5)) == 0:
            outs.append(y)  # an intermediate graph output: fusion must not swallow it
    tail = draw(st.sampled_from(["none", "gap", "gemm"]))
    if tail == "gap":
        y = b.op("GlobalAveragePool", _activation(b, y, "Relu"))
    elif tail == "gemm":
        flat = b.op("Reshape", y, shape=[1, int(np.prod(y.shape))])
        y = _activation(b, b.op("Gemm", flat, b.rand(4, flat.shape[1], lo=-0.3, hi=0.3), b.rand(4), transB=1), draw(st.sampled_from(ACTS[:-2])))
    outs.append(y)
    return b.graph(*dict.fromkeys(outs))


@settings(max_examples=int(__import__("os").environ.get("CNNCC_HYPOTHESIS_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cnns())
def test_o2_matches_o0(graph):
    out = optimize(graph, 2)
    assert len(out.nodes) <= len(graph.nodes)
    assert_same_outputs(graph, out, random_feeds(graph), rtol=1e-4)
