"""Elementwise ops on the llvm backend: what the op sample database (tests/op_samples.py,
run on every backend by tests/test_op_samples.py) does not check."""

import math

import numpy as np
from llvm_helpers import const, op_graph

from cnncc.backends import llvm


def test_exp_overflow_and_nan():
    g, feeds = op_graph("Exp", [np.array([100.0, -200.0, np.nan, 0.5], np.float32)])
    out = llvm.build(g).run(feeds)["out0"]
    assert np.isinf(out[0]) and out[1] < 1e-37 and np.isnan(out[2]) and abs(out[3] - np.exp(0.5)) < 1e-6


def test_erf_is_inline_and_accurate():
    """Erf (and GELU's erf) is a vectorizable rational function, not a libm call per element:
    within 5e-7 of float64 erf over [-6, 6], tiny magnitudes, infinities and NaN."""
    x = np.concatenate([np.linspace(-6, 6, 20001), np.logspace(-30, 0.5, 500), -np.logspace(-30, 0.5, 500),
                        [np.inf, -np.inf, np.nan, 0.0, -0.0]]).astype(np.float32)
    g, feeds = op_graph("Erf", [x])
    exe = llvm.build(g)
    assert "erff" not in exe.generated.llvm_ir
    got = exe.run(feeds)["out0"].astype(np.float64)
    want = np.array([math.erf(float(v)) for v in x])
    finite = ~np.isnan(want)
    assert np.abs(got[finite] - want[finite]).max() <= 5e-7
    assert np.isnan(got[~finite]).all() and np.signbit(got[-1]) and got[-5] == 1.0 and got[-4] == -1.0


def test_pow_by_a_constant_two_is_a_square():
    """LayerNorm's Pow(x, 2) (ConvNeXt) multiplies instead of calling pow per element; the
    result is exactly pow's (x*x is correctly rounded), broadcasting included."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    x.flat[:3] = [np.inf, np.nan, -0.0]
    for exponent in (np.float32(2.0), np.full((3, 1, 1), 2.0, np.float32)):
        g, feeds = op_graph("Pow", [x, const(exponent)])
        exe = llvm.build(g)
        assert "llvm.pow" not in exe.generated.llvm_ir
        want = np.broadcast_to((x.astype(np.float64) ** 2).astype(np.float32), exe.run(feeds)["out0"].shape)
        np.testing.assert_array_equal(exe.run(feeds)["out0"], want)  # correctly rounded (numpy's powf is not)
    g, feeds = op_graph("Pow", [x, const(np.float32(3.0))])
    assert "llvm.pow" in llvm.build(g).generated.llvm_ir  # other exponents keep pow
