"""Unary, binary (broadcasting), variadic, Clip and Cast on the llvm backend."""

import numpy as np
import pytest

from llvm_helpers import check_op, rand

UNARY = ["Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus",
         "Exp", "Abs", "Neg", "Floor", "Ceil", "Erf", "Mish", "Softsign", "Celu", "ThresholdedRelu", "Gelu",
         "Round", "Sign"]
SHAPES = [(2, 3, 5, 7), (17,), (1, 33, 1, 65)]


@pytest.mark.parametrize("op", UNARY)
@pytest.mark.parametrize("shape", SHAPES)
def test_unary(op, shape):
    check_op(op, [rand(*shape) * 4])


def test_unary_with_attrs():
    x = rand(3, 10) * 4
    check_op("LeakyRelu", [x], {"alpha": 0.3})
    check_op("Elu", [x], {"alpha": 0.5})
    check_op("HardSigmoid", [x], {"alpha": 0.3, "beta": 0.4})
    check_op("Celu", [x], {"alpha": 0.6})
    check_op("ThresholdedRelu", [x], {"alpha": 0.5})
    check_op("Gelu", [x], {"approximate": "tanh"})
    check_op("Round", [np.array([0.5, 1.5, 2.5, -0.5, -1.5, 2.4999], np.float32)])


@pytest.mark.parametrize("op,fix", [("Sqrt", np.abs), ("Log", lambda x: np.abs(x) + 0.1),
                                    ("Reciprocal", lambda x: np.abs(x) + 0.5)])
def test_unary_positive(op, fix):
    check_op(op, [fix(rand(4, 9))])


@pytest.mark.parametrize("op", ["Relu", "Abs", "Neg", "Sign"])
def test_unary_int(op):
    check_op(op, [np.array([[-3, 4, 0], [7, -9, 2]], np.int64)])


@pytest.mark.parametrize("lo,hi", [(-0.5, None), (None, 0.2), (-0.5, 0.3)])
def test_clip(lo, hi):
    check_op("Clip", [rand(3, 7)], {"min": lo, "max": hi})


BROADCASTS = [((2, 3, 4, 5), (4, 1)), ((2, 3, 4, 5), (2, 3, 4, 5)), ((1, 3, 1, 5), (2, 1, 4, 1)), ((7,), ()),
              ((3, 1), (1, 65))]


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "PRelu", "Pow"])
@pytest.mark.parametrize("a_shape,b_shape", BROADCASTS)
def test_binary(op, a_shape, b_shape):
    a = np.abs(rand(*a_shape)) + 0.1
    b = rand(*b_shape, seed=3) if b_shape else np.array(0.7, np.float32)
    check_op(op, [a, b])


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
def test_binary_int(op):
    check_op(op, [np.array([7, -7, 9, 100], np.int64), np.array([2, 2, -4, 3], np.int64)])


@pytest.mark.parametrize("op", ["Sum", "Max", "Min", "Mean"])
def test_variadic(op):
    check_op(op, [rand(2, 3, 4, 5), rand(5, seed=3), rand(3, 1, 1, seed=4)])
    check_op(op, [rand(6, 5)])


@pytest.mark.parametrize("src,to", [("float32", "int64"), ("float32", "int32"), ("float32", "bool"),
                                    ("int64", "float32"), ("bool", "float32"), ("int32", "int64"),
                                    ("int64", "int32")])
def test_cast(src, to):
    x = (rand(3, 5) * 10).astype(src)
    check_op("Cast", [x], {"to": to})


@pytest.mark.parametrize("op", ["Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual"])
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_compare(op, dtype):
    rng = np.random.default_rng(1)
    a = rng.integers(0, 3, size=(2, 3, 4)).astype(dtype)
    b = rng.integers(0, 3, size=(3, 1)).astype(dtype)
    check_op(op, [a, b])


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_logical(op):
    rng = np.random.default_rng(2)
    check_op(op, [rng.random((3, 4)) > 0.5, rng.random((4,)) > 0.5])


def test_not_and_where():
    rng = np.random.default_rng(3)
    cond = rng.random((2, 1, 5)) > 0.5
    check_op("Not", [cond])
    check_op("Where", [cond, rand(3, 5), rand(2, 3, 1, seed=4)])
    check_op("Where", [cond, np.arange(5, dtype=np.int64), np.array(-1, np.int64)])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the reference overflows on purpose
@pytest.mark.parametrize("op", ["Exp", "Sigmoid", "Tanh", "Softplus", "Mish", "Gelu", "Elu", "Erf"])
def test_transcendentals_over_wide_ranges(op):
    x = np.concatenate([np.linspace(-100, 100, 401), np.linspace(-1, 1, 201), np.logspace(-8, -1, 50),
                        -np.logspace(-8, -1, 50), [0.0, 88.5, -87.0, 89.0]]).astype(np.float32)
    if op == "Exp":
        x = x[x < 88.7]  # float32 overflow to inf is checked apart
    check_op(op, [x])


def test_exp_overflow_and_nan():
    from cnncc.backends import llvm
    from llvm_helpers import op_graph

    g, feeds = op_graph("Exp", [np.array([100.0, -200.0, np.nan, 0.5], np.float32)])
    out = llvm.build(g).run(feeds)["out0"]
    assert np.isinf(out[0]) and out[1] < 1e-37 and np.isnan(out[2]) and abs(out[3] - np.exp(0.5)) < 1e-6
