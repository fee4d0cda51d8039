"""Winograd on teams of 2 and 3 threads, on maps whose tile rows do not divide evenly among
them (at 3 threads on few rows a thread has none), both GEMM layouts, residual and pool
epilogues, run twice over the same workspace, against the float64 reference."""

import numpy as np
import pytest

from cnncc.backends import llvm
from cnncc.backends.reference import interpret
from llvm_helpers import const, op_graph, rand

WINO = dict(kernel_shape=(3, 3), strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1))
WINO_TOL = {2: 2e-5, 4: 1e-4}   # |error| <= tol * max|reference|, as in test_llvm_fused.py
RESIDUAL = (("bias",), ("add",), ("relu",))
POOL = (("bias",), ("relu",), ("max_pool", (3, 3), (2, 2), (1, 1, 1, 1), 0))


def _check(c, m, h, w, tile, epilogue):
    inputs = [rand(1, c, h, w), const(rand(m, c, 3, 3, seed=1)), const(rand(m, seed=2))]
    if ("add",) in epilogue:
        inputs.append(rand(1, m, h, w, seed=3))
    g, feeds = op_graph("FusedConv", inputs, dict(WINO, epilogue=epilogue))
    # parallel_min_work 0: these small maps run on the whole team too
    exe = llvm.build(g, params={"conv_algorithm": "winograd", "conv_winograd_tile": tile, "parallel_min_work": 0})
    assert [k.algorithm for k in exe.generated.kernels] == ["winograd"]
    want = interpret(g, feeds)
    for _ in range(2):   # the second run over the first one's workspace and output
        got = exe.run(feeds)
        for name, ref in want.items():
            np.testing.assert_allclose(got[name], ref, rtol=0, atol=WINO_TOL[tile] * np.abs(ref).max(), err_msg=name)


@pytest.mark.parametrize("threads", ["2", "3"])
@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("c,m,h,w", [
    (8, 16, 26, 26),    # 16 output channels: channel vectors in the GEMMs; 13 (F(2,3)) or 7 tile rows
    (6, 12, 26, 19),    # tiles in the lanes
    (5, 32, 10, 37),    # 5 (F(2,3)) or 3 tile rows, several tile vectors per row
    (7, 16, 5, 9),      # 3 or 2 tile rows: at 3 threads F(4,3) leaves one thread without rows
])
@pytest.mark.parametrize("epilogue", [RESIDUAL, POOL], ids=["residual", "pool"])
def test_winograd_thread_rows(monkeypatch, c, m, h, w, tile, threads, epilogue):
    monkeypatch.setenv("CNNCC_NUM_THREADS", threads)
    _check(c, m, h, w, tile, epilogue)
