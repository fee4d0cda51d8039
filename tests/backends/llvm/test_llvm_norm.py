"""Normalizations, softmax, reductions, Gemm and MatMul on the llvm backend."""

import numpy as np
import pytest

from llvm_helpers import check_op, const, rand


@pytest.mark.parametrize("constant", [True, False])
def test_batch_norm(constant):
    wrap = const if constant else (lambda a: a)
    params = [rand(3, seed=1), rand(3, seed=2), rand(3, seed=3), rand(3, seed=4, lo=0.5, hi=2)]
    check_op("BatchNormalization", [rand(2, 3, 5, 4)] + [wrap(p) for p in params], {"epsilon": 1e-3})


@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (1, 5, 17)])
def test_instance_norm(shape):
    check_op("InstanceNormalization", [rand(*shape), rand(shape[1], seed=1), rand(shape[1], seed=2)])


@pytest.mark.parametrize("size", [1, 3, 4, 5])
def test_lrn(size):
    check_op("LRN", [rand(2, 7, 5, 4)], {"size": size, "alpha": 0.01, "beta": 0.75, "bias": 2.0})


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("shape,axis", [((2, 3, 5), 1), ((2, 3, 5), -1), ((3, 1000), 1), ((4, 7), 0)])
def test_softmax(op, shape, axis):
    check_op(op, [rand(*shape) * 5], {"axis": axis})


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                                "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp"])
@pytest.mark.parametrize("axes,keep", [((1, 3), 1), ((0,), 0), ((0, 1, 2, 3), 0), ((2,), 1)])
def test_reduce(op, axes, keep):
    x = rand(2, 7, 5, 4) * 1.5 if op != "ReduceProd" else rand(2, 7, 5, 4, lo=0.8, hi=1.2)
    check_op(op, [x], {"axes": axes, "keepdims": keep})


def test_reduce_log_sum():
    check_op("ReduceLogSum", [rand(3, 6, 5, lo=0.1, hi=2.0)], {"axes": (1,)})


@pytest.mark.parametrize("op", ["ArgMax", "ArgMin"])
@pytest.mark.parametrize("axis,keep,last", [(1, 1, 0), (-1, 0, 1), (0, 1, 1)])
def test_arg(op, axis, keep, last):
    x = np.round(rand(3, 6, 5) * 2)  # ties, so first/last index matters
    check_op(op, [x], {"axis": axis, "keepdims": keep, "select_last_index": last})


@pytest.mark.parametrize("x_shape,axis,p_shape,bias", [((2, 3, 8), -1, (8,), True), ((2, 3, 4, 5), 1, (3, 4, 5), True),
                                                      ((4, 6, 5), 1, (1, 5), False)])
def test_layer_norm(x_shape, axis, p_shape, bias):
    from llvm_helpers import check, op_graph

    inputs = [rand(*x_shape), rand(*p_shape, seed=1)] + ([rand(*p_shape, seed=2)] if bias else [])
    g, feeds = op_graph("LayerNormalization", inputs, {"axis": axis})
    check(g, feeds)


def test_reduce_int():
    x = np.arange(24, dtype=np.int64).reshape(2, 3, 4) - 7
    for op in ("ReduceSum", "ReduceMax", "ReduceMin"):
        check_op(op, [x], {"axes": (1,)})


@pytest.mark.parametrize("a_shape,b_shape,attrs,const_b,c_shape", [
    ((3, 7), (5, 7), dict(transB=1, alpha=0.5, beta=2.0), True, (5,)),
    ((7, 3), (7, 5), dict(transA=1), False, (3, 1)),
    ((1, 300), (300, 1000), {}, True, (1000,)),
    ((5, 9), (9, 17), dict(beta=0.0), True, (5, 17)),
    ((2, 4), (4, 3), {}, False, None),
])
def test_gemm(a_shape, b_shape, attrs, const_b, c_shape):
    b = rand(*b_shape, seed=1)
    inputs = [rand(*a_shape), const(b) if const_b else b]
    if c_shape:
        inputs.append(const(rand(*c_shape, seed=3)))
    check_op("Gemm", inputs, attrs)


@pytest.mark.parametrize("a_shape,b_shape", [((2, 3, 4, 6), (3, 6, 5)), ((6,), (2, 6, 5)), ((4, 6), (6,)),
                                              ((1, 9), (9, 13)), ((5, 1, 2, 3), (4, 3, 7))])
def test_matmul(a_shape, b_shape):
    check_op("MatMul", [rand(*a_shape), rand(*b_shape, seed=1)])


def test_matmul_constant_b():
    check_op("MatMul", [rand(3, 8), const(rand(8, 33, seed=1))])


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
