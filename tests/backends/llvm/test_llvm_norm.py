"""Gemm/MatMul register tiles (per CPU) and LRN's vectorized log on the llvm backend; the
op sample database (tests/op_samples.py) checks every op's samples on every backend."""

import pytest

from llvm_helpers import check_op, const, rand


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
@pytest.mark.parametrize("m,k,n", [(1, 120, 16), (8, 33, 37), (40, 120, 600), (6, 7, 1100), (12, 5, 70)])
def test_gemm_register_tiles(m, k, n, cpu):
    """B rows contiguous and at least a vector wide: register tiles over all of K, column
    blocks of whole tiles, a narrower tail tile in the last block; alpha and a bias row, a
    full C, a runtime B and a batched MatMul."""
    check_op("Gemm", [rand(m, k), const(rand(k, n, seed=1)), const(rand(n, seed=2))], dict(alpha=0.5), cpu=cpu)
    check_op("Gemm", [rand(m, k), rand(k, n, seed=1), const(rand(m, n, seed=2))], dict(beta=1.5), cpu=cpu)
    check_op("MatMul", [rand(2, m, k), const(rand(k, n, seed=1))], cpu=cpu)
    check_op("MatMul", [rand(3, m, k), rand(3, k, n, seed=1)], cpu=cpu)


def test_lrn_vectorized_log_over_a_wide_range():
    """LRN takes d ** beta as exp(beta * log d) with emit.log_normal (plain IR, vectorized):
    d = bias + alpha/size * sum of squares swept over 60 decades, plus inf and NaN inputs."""
    import numpy as np

    from llvm_helpers import check_op

    mags = np.geomspace(1e-12, 1e17, 2000)
    signs = np.where(np.arange(mags.size) % 2, -1.0, 1.0)
    x = np.concatenate([mags * signs, [0.0, np.nan, np.inf]]).astype(np.float32).reshape(1, 1, -1, 1)
    x = np.concatenate([x, x[:, :, ::-1], x * 0.5], axis=1)  # 3 channels: windows of mixed sizes
    for bias in (1e-30, 0.5, 1.0, 3.0, 1e6):
        check_op("LRN", [x], {"size": 3, "alpha": 1e-4, "beta": 0.75, "bias": bias}, rtol=2e-5, atol=1e-30)
