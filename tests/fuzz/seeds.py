"""Small valid ONNX models the fuzzer starts from: together they reach every kind of op that
indexes with attributes or data (windows, pads, gathers, resizes, slices, reshapes, constant
shapes) and every lowering family of the llvm backend, at sizes that compile in ~0.1 s."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
SeedFn = Callable[[], onnx.ModelProto]
SEEDS: dict[str, SeedFn] = {}


def seed(fn: SeedFn) -> SeedFn:
    SEEDS[fn.__name__] = fn
    return fn


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _init(name: str, array: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(array, name)


def _f32(name: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def _model(nodes, inputs, outputs, inits=(), opset: int = OPSET) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "fuzz_seed", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@seed
def conv_relu_pool():
    w = _rng().standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = _rng().standard_normal(4).astype(np.float32)
    return _model(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[1, 1], kernel_shape=[3, 3]),
         helper.make_node("Relu", ["c"], ["r"]),
         helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[2, 2], strides=[2, 2])],
        [_f32("x", (1, 3, 8, 8))], [_f32("y", (1, 4, 4, 4))], [_init("w", w), _init("b", b)])


@seed
def depthwise_residual():
    w = _rng().standard_normal((8, 1, 3, 3)).astype(np.float32)
    w2 = _rng().standard_normal((8, 8, 1, 1)).astype(np.float32)
    return _model(
        [helper.make_node("Conv", ["x", "w"], ["d"], group=8, pads=[1, 1, 1, 1]),
         helper.make_node("Conv", ["d", "w2"], ["p"]),
         helper.make_node("Add", ["p", "x"], ["s"]),
         helper.make_node("Clip", ["s", "lo", "hi"], ["y"])],
        [_f32("x", (1, 8, 6, 7))], [_f32("y", (1, 8, 6, 7))],
        [_init("w", w), _init("w2", w2), _init("lo", np.array(0, np.float32)), _init("hi", np.array(6, np.float32))])


@seed
def pools():
    return _model(
        [helper.make_node("AveragePool", ["x"], ["a"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
         helper.make_node("GlobalAveragePool", ["a"], ["y"]),
         helper.make_node("LRN", ["x"], ["z"], size=3)],
        [_f32("x", (1, 3, 9, 9))], [_f32("y", (1, 3, 1, 1)), _f32("z", (1, 3, 9, 9))])


@seed
def gather_const():
    return _model(
        [helper.make_node("Gather", ["x", "i"], ["y"], axis=1)],
        [_f32("x", (2, 3, 4))], [_f32("y", (2, 2, 4))], [_init("i", np.array([2, -1], np.int64))])


@seed
def gather_runtime():
    return _model(
        [helper.make_node("Gather", ["x", "i"], ["y"], axis=0)],
        [_f32("x", (4, 5)), helper.make_tensor_value_info("i", TensorProto.INT64, [3])], [_f32("y", (3, 5))])


@seed
def slice_concat_split():
    ints = lambda name, v: _init(name, np.array(v, np.int64))  # noqa: E731
    return _model(
        [helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["s"]),
         helper.make_node("Concat", ["s", "s"], ["c"], axis=1),
         helper.make_node("Split", ["c", "parts"], ["y", "z"], axis=2)],
        [_f32("x", (1, 4, 6, 6))], [_f32("y", (1, 4, 2, 3)), _f32("z", (1, 4, 2, 3))],
        [ints("st", [1, 0]), ints("en", [3, 6]), ints("ax", [1, 2]), ints("sp", [1, 2]), ints("parts", [2, 1])])


@seed
def resize_pad():
    return _model(
        [helper.make_node("Resize", ["x", "", "scales"], ["r"], mode="nearest"),
         helper.make_node("Pad", ["r", "pads", "v"], ["y"], mode="constant")],
        [_f32("x", (1, 2, 3, 4))], [_f32("y", (1, 2, 8, 10))],
        [_init("scales", np.array([1, 1, 2, 2], np.float32)), _init("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)),
         _init("v", np.array(0.5, np.float32))])


@seed
def expand_tile_where():
    return _model(
        [helper.make_node("Expand", ["x", "shape"], ["e"]),
         helper.make_node("Tile", ["e", "reps"], ["t"]),
         helper.make_node("Greater", ["t", "zero"], ["m"]),
         helper.make_node("Where", ["m", "t", "zero"], ["y"])],
        [_f32("x", (1, 3, 1))], [_f32("y", (2, 3, 8))],
        [_init("shape", np.array([2, 3, 4], np.int64)), _init("reps", np.array([1, 1, 2], np.int64)),
         _init("zero", np.array(0, np.float32))])


@seed
def gemm_softmax():
    w = _rng().standard_normal((10, 48)).astype(np.float32)
    return _model(
        [helper.make_node("Flatten", ["x"], ["f"], axis=1),
         helper.make_node("Gemm", ["f", "w", "b"], ["g"], transB=1, alpha=0.5),
         helper.make_node("Softmax", ["g"], ["y"], axis=-1)],
        [_f32("x", (2, 3, 4, 4))], [_f32("y", (2, 10))],
        [_init("w", w), _init("b", np.zeros(10, np.float32))])


@seed
def shapes_from_constants():
    return _model(
        [helper.make_node("ConstantOfShape", ["s"], ["c"], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [2.0])),
         helper.make_node("Range", ["r0", "r1", "r2"], ["r"]),
         helper.make_node("Cast", ["r"], ["rf"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["c", "rf"], ["m"]),
         helper.make_node("Add", ["x", "m"], ["y"])],
        [_f32("x", (2, 5))], [_f32("y", (2, 5))],
        [_init("s", np.array([2, 5], np.int64)), _init("r0", np.array(0, np.int64)), _init("r1", np.array(5, np.int64)),
         _init("r2", np.array(1, np.int64))])


@seed
def reshape_transpose_norm():
    return _model(
        [helper.make_node("Reshape", ["x", "shape"], ["r"]),
         helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3]),
         helper.make_node("BatchNormalization", ["t", "g", "b", "m", "v"], ["n"], epsilon=1e-5),
         helper.make_node("DepthToSpace", ["n"], ["y"], blocksize=2)],
        [_f32("x", (1, 24, 4))], [_f32("y", (1, 1, 8, 8))],
        [_init("shape", np.array([1, 4, 4, 6], np.int64))] + [
            _init(n, np.ones(4, np.float32)) for n in ("g", "b", "m", "v")])


@seed
def conv_transpose_upsample():
    w = _rng().standard_normal((3, 2, 3, 3)).astype(np.float32)
    return _model(
        [helper.make_node("ConvTranspose", ["x", "w"], ["c"], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]),
         helper.make_node("InstanceNormalization", ["c", "s", "b"], ["y"])],
        [_f32("x", (1, 3, 4, 5))], [_f32("y", (1, 2, 8, 10))],
        [_init("w", w), _init("s", np.ones(2, np.float32)), _init("b", np.zeros(2, np.float32))])
