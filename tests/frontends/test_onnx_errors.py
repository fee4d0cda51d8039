"""Bad input to the ONNX frontend: one clear line each, of the right cnncc.errors type.

The CLI prints these messages as they are and exits with the error's exit_code; the CLI's
own tests check the exit codes.
"""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import cnncc
from cnncc import zoo
from cnncc.errors import ModelLoadError, ShapeError, UnsupportedDtypeError, UnsupportedOpError
from cnncc.frontends.onnx import import_onnx


def tiny(dtype=TensorProto.FLOAT, dims=(1, 3, 8, 8), extra_nodes=()):
    x = helper.make_tensor_value_info("x", dtype, dims)
    y = helper.make_tensor_value_info("y", dtype, dims)
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu0"), *extra_nodes]
    graph = helper.make_graph(nodes, "tiny", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def conv_model(in_channels=3):
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, in_channels, 8, 8))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 4, 6, 6))
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv0")], "c", [x], [y], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def error_of(fn, exc_type):
    with pytest.raises(exc_type) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message, f"not one line: {message!r}"
    assert type(info.value) is exc_type
    return message


def test_missing_file(tmp_path):
    msg = error_of(lambda: import_onnx(tmp_path / "nope.onnx"), ModelLoadError)
    assert msg == f"model file not found: {tmp_path / 'nope.onnx'} (check the path)"


def test_directory_instead_of_file(tmp_path):
    msg = error_of(lambda: import_onnx(tmp_path), ModelLoadError)
    assert "is a directory" in msg and "pass the .onnx file" in msg


def test_not_an_onnx_file(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("these are not the weights you are looking for\n" * 20)
    msg = error_of(lambda: import_onnx(path), ModelLoadError)
    assert msg.startswith(f"{path} is not a valid ONNX model: not ONNX, or truncated or corrupt (protobuf parse failed")
    assert msg.endswith("re-export or re-download it")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    msg = error_of(lambda: import_onnx(path), ModelLoadError)
    assert msg == f"{path} is not a valid ONNX model (it holds no graph); pass an .onnx file exported by a framework"


@pytest.mark.parametrize("fraction", [0.3, 0.9, 0.999])
def test_truncated_protobuf(tmp_path, fraction):
    data = zoo.light_model_path("squeezenet").read_bytes()
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: int(len(data) * fraction)])
    msg = error_of(lambda: import_onnx(path), ModelLoadError)
    assert "truncated or corrupt" in msg and "re-export or re-download it" in msg


def test_corrupt_protobuf(tmp_path):
    data = bytearray(zoo.light_model_path("squeezenet").read_bytes())
    data[10:60] = np.random.default_rng(0).bytes(50)
    path = tmp_path / "corrupt.onnx"
    path.write_bytes(bytes(data))
    msg = error_of(lambda: import_onnx(path), ModelLoadError)
    assert "truncated or corrupt" in msg or "invalid ONNX model" in msg


def test_external_data_file_missing(tmp_path):
    path = tmp_path / "ext.onnx"
    onnx.save(conv_model(), str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    (tmp_path / "weights.bin").unlink()
    msg = error_of(lambda: import_onnx(path), ModelLoadError)
    assert msg == f"external data file(s) missing next to the model: weights.bin (for w); put them in {tmp_path.resolve()} beside the model"


def test_external_data_present_loads(tmp_path):
    path = tmp_path / "ext.onnx"
    onnx.save(conv_model(), str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    m = cnncc.compile(path, opt_level=0)
    y = m(np.ones((1, 3, 8, 8), np.float32))
    np.testing.assert_allclose(y, np.full((1, 4, 6, 6), 27.0, np.float32))


def test_unsupported_ops_are_all_named():
    extra = [
        helper.make_node("NonMaxSuppression", ["y", "y"], ["nms_out"], name="nms"),
        helper.make_node("Sin", ["y"], ["s1"], name="sin1"),
        helper.make_node("Sin", ["y"], ["s2"], name="sin2"),
        helper.make_node("MyCustomOp", ["y"], ["c"], name="custom", domain="com.example"),
    ]
    model = tiny(extra_nodes=extra)
    model.opset_import.append(helper.make_opsetid("com.example", 1))
    msg = error_of(lambda: import_onnx(model), UnsupportedOpError)
    assert msg == (
        "unsupported ONNX op(s): NonMaxSuppression (node 'nms'), Sin (node 'sin1' and 1 more), "
        "com.example.MyCustomOp (node 'custom'); cnncc cannot compile this model (the README lists the supported ops)"
    )


def test_unknown_op_is_unsupported_not_invalid():
    model = tiny(extra_nodes=[helper.make_node("FooBar", ["y"], ["z"], name="fb")])
    msg = error_of(lambda: import_onnx(model), UnsupportedOpError)
    assert msg.startswith("unsupported ONNX op(s): FooBar (node 'fb')")


@pytest.mark.parametrize(("elem", "name"), [(TensorProto.DOUBLE, "DOUBLE"), (TensorProto.FLOAT16, "FLOAT16"), (TensorProto.BFLOAT16, "BFLOAT16")])
def test_unsupported_input_dtype(elem, name):
    msg = error_of(lambda: import_onnx(tiny(dtype=elem)), UnsupportedDtypeError)
    assert msg == f"model input x has element type {name}; cnncc computes in float32 (int64 for shapes): re-export the model in float32"


def test_unsupported_initializer_dtype():
    model = conv_model()
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float64), "w"))
    msg = error_of(lambda: import_onnx(model), UnsupportedDtypeError)
    assert msg.startswith("initializer w has dtype float64") and "re-export the model in float32" in msg


def test_given_shape_conflicts_with_declared():
    msg = error_of(lambda: import_onnx(tiny(), {"x": (1, 3, 9, 9)}), ShapeError)
    assert msg == "input x: given shape [1, 3, 9, 9] conflicts with the declared [1, 3, 8, 8]; keep the fixed dimensions and set only the dynamic ones"


def test_given_shape_wrong_rank():
    msg = error_of(lambda: import_onnx(tiny(), {"x": (3, 8, 8)}), ShapeError)
    assert msg == "input x: given shape [3, 8, 8] has rank 3, the model declares rank 4 [1, 3, 8, 8]; give 4 dimensions"


def test_given_shape_for_unknown_input():
    msg = error_of(lambda: import_onnx(tiny(), {"image": (1, 3, 8, 8)}), ShapeError)
    assert msg == "--input-shape names unknown input(s) image; the model's inputs are: x"


def test_shapes_that_do_not_fit_a_node():
    msg = error_of(lambda: import_onnx(conv_model(in_channels=4)), ShapeError)
    assert msg == (
        "node conv0 (Conv): Conv: input has 4 channels, weight expects 3 x group 1 "
        "(check --input-shape values, or the model is inconsistent)"
    )


def test_fed_shape_mismatch_at_run_time():
    m = cnncc.compile(tiny(), opt_level=0)
    msg = error_of(lambda: m.run({"x": np.zeros((1, 3, 9, 9), np.float32)}), ShapeError)
    assert "input x: got shape [1, 3, 9, 9]" in msg and "[1, 3, 8, 8]" in msg


def test_dynamic_input_without_shape():
    msg = error_of(lambda: import_onnx(tiny(dims=("N", 3, None, 8))), ShapeError)
    assert msg == (
        "model input(s) with dynamic dimensions need a shape: x[N,3,?,8]; "
        "give one per input, e.g. --input-shape x=1,3,1,8 (input_shapes= in the Python API)"
    )


def test_dynamic_input_with_shape_compiles():
    m = cnncc.compile(tiny(dims=("N", 3, "H", "W")), input_shapes={"x": (2, 3, 5, 7)}, opt_level=0)
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 7)).astype(np.float32)
    np.testing.assert_array_equal(m(x), np.maximum(x, 0))


def test_old_opset_is_upgraded():
    model = tiny()
    model.opset_import[0].version = 6
    m = cnncc.compile(model, opt_level=0)
    x = np.linspace(-1, 1, 192, dtype=np.float32).reshape(1, 3, 8, 8)
    np.testing.assert_array_equal(m(x), np.maximum(x, 0))


def test_newer_opset_than_onnx_knows():
    model = tiny()
    model.opset_import[0].version = onnx.defs.onnx_opset_version() + 1
    with pytest.raises((UnsupportedOpError, ModelLoadError)) as info:
        import_onnx(model)
    assert "\n" not in str(info.value)
