"""cnncc.onnx_backend: onnx's Backend interface, as onnx's own test runner uses it."""

import numpy as np
import onnx
import onnx.backend.test
import pytest
from onnx import TensorProto, helper

import cnncc.onnx_backend as cob
from cnncc.errors import UnsupportedOpError, UsageError


def reshape_model():
    """Reshape whose target shape is a graph input: cnncc must bake it from the fed value."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ("N", 6))
    s = helper.make_tensor_value_info("shape", TensorProto.INT64, (2,))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    y.type.tensor_type.ClearField("shape")
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"]), helper.make_node("Relu", ["r"], ["y"])]
    graph = helper.make_graph(nodes, "g", [x, s], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ("A", "B"))])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_run_node():
    node = helper.make_node("Relu", ["x"], ["y"])
    x = np.array([[-1.0, 2.0]], np.float32)
    (y,) = cob.run_node(node, [x])
    np.testing.assert_array_equal(y, [[0.0, 2.0]])


def test_run_node_with_attributes_and_two_inputs():
    node = helper.make_node("Gemm", ["a", "b"], ["y"], transB=1, alpha=2.0)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.ones((4, 3), np.float32)
    (y,) = cob.run_node(node, [a, b])
    np.testing.assert_allclose(y, 2 * a @ b.T)


def test_prepare_specializes_shapes_and_bakes_shape_inputs():
    rep = cob.prepare(reshape_model())
    x = np.arange(-6, 6, dtype=np.float32).reshape(2, 6)
    (y,) = rep.run([x, np.array([3, 4], np.int64)])
    np.testing.assert_array_equal(y, np.maximum(x, 0).reshape(3, 4))
    (y,) = rep.run({"x": x, "shape": np.array([4, 3], np.int64)})  # a new value recompiles
    assert y.shape == (4, 3)
    (y,) = rep.run([np.ones((3, 6), np.float32), np.array([2, 9], np.int64)])  # a new batch size
    assert y.shape == (2, 9)


def test_outputs_keep_the_declared_dtype():
    node = helper.make_node("Add", ["a", "b"], ["y"])
    a = np.array([1, 2], np.int32)
    (y,) = cob.run_node(node, [a, a])
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y, [2, 4])


def test_unsupported_op_is_refused_at_prepare():
    node = helper.make_node("Sin", ["x"], ["y"])
    with pytest.raises(UnsupportedOpError, match="Sin"):
        cob.run_node(node, [np.zeros(3, np.float32)])
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (3,))], [helper.make_tensor_value_info("y", TensorProto.FLOAT, (3,))]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert not cob.is_compatible(model)


def test_devices_and_targets():
    assert cob.supports_device("CPU") and not cob.supports_device("CUDA")
    llvm = cob.backend_for("llvm")
    assert llvm.target == "llvm" and llvm.supports_device("CPU")
    assert cob.backend_for("cuda").supports_device("CUDA")
    assert cob.backend_for("llvm") is llvm  # one class per (target, opt level)
    with pytest.raises(UsageError, match="unknown target"):
        cob.backend_for("vax")


def test_the_standard_onnx_runner_drives_it():
    """onnx.backend.test.BackendTest over a few node cases, as a backend author runs it."""
    import unittest

    runner = onnx.backend.test.BackendTest(cob.backend_for("reference"), __name__)
    for pattern in (r"^test_relu_cpu$", r"^test_maxpool_2d_ceil_cpu$", r"^test_reshape_negative_dim_cpu$"):
        runner.include(pattern)
    suite = unittest.TestSuite()
    for case in runner.test_cases.values():
        suite.addTests(unittest.defaultTestLoader.loadTestsFromTestCase(case))
    result = unittest.TestResult()
    with np.errstate(all="ignore"):
        suite.run(result)
    ran = result.testsRun - len(result.skipped)
    assert not result.failures and not result.errors, result.failures + result.errors
    assert ran >= 3
