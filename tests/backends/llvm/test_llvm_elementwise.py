"""Elementwise ops on the llvm backend: what the op sample database (tests/op_samples.py,
run on every backend by tests/test_op_samples.py) does not check."""

import numpy as np

from llvm_helpers import op_graph


def test_exp_overflow_and_nan():
    from cnncc.backends import llvm

    g, feeds = op_graph("Exp", [np.array([100.0, -200.0, np.nan, 0.5], np.float32)])
    out = llvm.build(g).run(feeds)["out0"]
    assert np.isinf(out[0]) and out[1] < 1e-37 and np.isnan(out[2]) and abs(out[3] - np.exp(0.5)) < 1e-6
