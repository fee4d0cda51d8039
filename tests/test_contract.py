"""Issue 16's contract breaks: every bad input is one `error:` line with exit 2-5 on the
command line and a CnnccError subclass in the Python API, never a raw exception, a crash or a
silently wrong result."""

import ctypes
import gc
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import cnncc
from cnncc.cli import main
from cnncc.errors import CnnccError, ModelLoadError, ShapeError, UnsupportedDtypeError, UsageError
from cnncc.frontends.onnx import import_onnx


def model(nodes, inits=(), x_dims=(1, 3, 8, 8), outputs=("y",), x_name="x", opset=17):
    x = helper.make_tensor_value_info(x_name, TensorProto.FLOAT, list(x_dims))
    out_dims = [f"d{i}" for i in range(len(x_dims))]  # the checker wants a shape; any rank-matching one
    ys = [helper.make_tensor_value_info(name, TensorProto.FLOAT, out_dims) for name in outputs]
    graph = helper.make_graph(nodes, "m", [x], ys, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def relu(dims=("N", 3, "H", "W")):
    return model([helper.make_node("Relu", ["x"], ["y"], name="r0")], x_dims=dims)


def one_line(exc_info) -> str:
    message = str(exc_info.value)
    assert "\n" not in message, message
    assert isinstance(exc_info.value, CnnccError)
    return message


def cli(capsys, *args):
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_error_line(err: str, message: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert message in lines[0], lines[0]


# -- frontend: initializers and attributes ---------------------------------------------------
@pytest.mark.parametrize("extra", [8, 3])
def test_initializer_raw_data_longer_than_its_dims(extra):
    w = numpy_helper.from_array(np.ones(3, np.float32), "w")
    w.raw_data += b"\0" * extra
    m = model([helper.make_node("Add", ["x", "w"], ["y"])], [w], x_dims=(1, 3))
    with pytest.raises(ModelLoadError) as info:
        import_onnx(m)
    msg = one_line(info)
    assert f"initializer 'w' holds {12 + extra} bytes of data, its dims [3] of float32 need 12" in msg


def test_initializer_typed_data_that_does_not_fit_its_dims():
    w = helper.make_tensor("w", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0])
    w.float_data.extend([4.0, 5.0])  # make_tensor checks the count; a corrupt file does not
    m = model([helper.make_node("Add", ["x", "w"], ["y"])], [w], x_dims=(1, 3))
    with pytest.raises(ModelLoadError) as info:
        import_onnx(m)
    assert "initializer 'w'" in one_line(info) and "dims [3]" in str(info.value)


def conv(**attrs):
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    return model([helper.make_node("Conv", ["x", "w"], ["y"], name="c0", **attrs)], [w])


@pytest.mark.parametrize(
    "attrs, message",
    [
        ({"strides": [0, 1]}, "strides [0, 1] must be positive"),
        ({"strides": [-1, 1]}, "strides [-1, 1] must be positive"),
        ({"strides": [0, 0], "auto_pad": "SAME_UPPER"}, "strides [0, 0] must be positive"),
        ({"dilations": [0, 1]}, "dilations [0, 1] must be positive"),
        ({"pads": [-5, 0, 0, 0]}, "pads [-5, 0, 0, 0] must not be negative"),
        ({"group": 0}, "group 0 must be positive"),
    ],
)
def test_conv_attributes_that_make_no_sense(attrs, message):
    with pytest.raises(ShapeError) as info:
        import_onnx(conv(**attrs))
    msg = one_line(info)
    assert "node c0 (Conv)" in msg and message in msg


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize(
    "attrs, message",
    [
        ({"kernel_shape": [2, 2], "strides": [0, 0]}, "strides [0, 0] must be positive"),
        ({"kernel_shape": [2, 2], "strides": [0, 2], "auto_pad": "SAME_UPPER"}, "strides [0, 2] must be positive"),
        ({"kernel_shape": [0, 2]}, "kernel_shape [0, 2] must be positive"),
        ({"kernel_shape": [-2, 2]}, "kernel_shape [-2, 2] must be positive"),
        ({"kernel_shape": [2, 2], "pads": [-1, 0, 0, 0]}, "pads [-1, 0, 0, 0] must not be negative"),
    ],
)
def test_pool_attributes_that_make_no_sense(op, attrs, message):
    with pytest.raises(ShapeError) as info:
        import_onnx(model([helper.make_node(op, ["x"], ["y"], name="p0", **attrs)]))
    msg = one_line(info)
    assert f"node p0 ({op})" in msg and message in msg


def test_max_pool_dilation_zero():
    m = model([helper.make_node("MaxPool", ["x"], ["y"], name="p0", kernel_shape=[2, 2], dilations=[0, 1])])
    with pytest.raises(ShapeError) as info:
        import_onnx(m)
    assert "dilations [0, 1] must be positive" in one_line(info)


@pytest.mark.parametrize("attrs, message", [
    ({"strides": [0, 1]}, "strides [0, 1] must be positive"),
    ({"dilations": [1, 0]}, "dilations [1, 0] must be positive"),
    ({"group": 0}, "group 0 must be positive"),
    ({"output_padding": [-1, 0]}, "output_padding [-1, 0] must not be negative"),
])
def test_conv_transpose_attributes_that_make_no_sense(attrs, message):
    w = numpy_helper.from_array(np.ones((3, 4, 3, 3), np.float32), "w")
    m = model([helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="t0", **attrs)], [w])
    with pytest.raises(ShapeError) as info:
        import_onnx(m)
    assert message in one_line(info)


@pytest.mark.parametrize("size", [0, -1])
@pytest.mark.parametrize("target", ["reference", "llvm"])
def test_lrn_size_below_one(size, target):
    m = model([helper.make_node("LRN", ["x"], ["y"], name="lrn0", size=size)])
    with pytest.raises(ShapeError) as info:
        cnncc.compile(m, target=target)
    assert f"LRN size {size} must be at least 1" in one_line(info)


def test_stride_zero_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    onnx.save(conv(strides=[0, 0]), str(path))
    code, _, err = cli(capsys, "run", str(path), "--target", "llvm")
    assert code == 4
    assert_one_error_line(err, "node c0 (Conv): Conv strides [0, 0] must be positive")


# -- input shapes ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dims, message",
    [
        ("1,3,99999999999999999999,1", "dimension 99999999999999999999 does not fit int64"),
        ("1,3,4611686018427387904,4", "is too large"),
    ],
)
def test_input_shape_past_int64_on_the_command_line(tmp_path, capsys, dims, message):
    path = tmp_path / "m.onnx"
    onnx.save(relu(), str(path))
    code, _, err = cli(capsys, "run", str(path), "--input-shape", f"x={dims}")
    assert code in (2, 4), err
    assert_one_error_line(err, message)


@pytest.mark.parametrize(
    "shapes, message",
    [
        ("x=1,3,2,2", "input_shapes must be a dict of input name to shape, got a str"),
        ([1, 3, 2, 2], "input_shapes must be a dict of input name to shape, got a list"),
        ({"x": "1,3,2,2"}, "input_shapes['x'] must be a sequence of integers"),
        ({"x": (1, 3, 2.5, 2)}, "input_shapes['x']: 2.5 is not an integer"),
        ({"x": (1, 3, -2, 2)}, "input_shapes['x']: dimensions must not be negative, got [1, 3, -2, 2]"),
        ({"x": (1, 3, 2**64, 2)}, f"dimension {2**64} does not fit int64"),
        ({"x": (1, 3, 2**40, 2**40)}, "is too large"),
    ],
)
def test_input_shapes_of_the_wrong_kind(shapes, message):
    with pytest.raises((UsageError, ShapeError)) as info:
        cnncc.compile(relu(), input_shapes=shapes)
    assert message in one_line(info)


def test_numpy_integer_input_shapes_are_fine():
    m = cnncc.compile(relu(), input_shapes={"x": np.array([1, 3, 2, 2])})
    assert m.graph.inputs[0].shape == (1, 3, 2, 2)


def test_huge_input_is_one_error_line(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    onnx.save(relu(), str(path))
    # 3 * 2**58 float32s: fits int64 as a byte count, fits no machine's address space
    code, _, err = cli(capsys, "run", str(path), "--input-shape", f"x=1,3,{2**28},{2**30}")
    assert code == 4, err
    assert_one_error_line(err, "")  # "not enough memory", or a size limit that refuses it sooner


def test_out_of_memory_is_one_error_line(tmp_path, capsys, monkeypatch):
    import cnncc.cli

    def oom(graph, seed):
        raise MemoryError("Unable to allocate 224. GiB for an array with shape (1, 3, 100000, 100000)")

    monkeypatch.setattr(cnncc.cli, "random_inputs", oom)
    path = tmp_path / "m.onnx"
    onnx.save(relu(), str(path))
    code, _, err = cli(capsys, "run", str(path), "--input-shape", "x=1,3,4,4")
    assert code == 4
    assert_one_error_line(err, "not enough memory (Unable to allocate 224. GiB for an array with shape (1, 3, 100000, 100000))")


def test_out_of_memory_in_the_python_api(monkeypatch):
    import cnncc.backends.reference as reference

    def oom(*args, **kwargs):
        raise MemoryError("Unable to allocate 1.00 TiB")

    m = cnncc.compile(relu(), input_shapes={"x": (1, 3, 2, 2)})
    monkeypatch.setattr(m._executable, "run", oom)
    with pytest.raises(ShapeError) as info:
        m.run({"x": np.ones((1, 3, 2, 2), np.float32)})
    assert one_line(info) == "not enough memory to run the model (Unable to allocate 1.00 TiB); use smaller input shapes"
    monkeypatch.setattr(reference, "build", oom)
    with pytest.raises(ShapeError) as info:
        cnncc.compile(relu(), input_shapes={"x": (1, 3, 2, 2)})
    assert "not enough memory to compile the model (Unable to allocate 1.00 TiB)" in one_line(info)


# -- the Python API --------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [None, 42, 3.5, ["m.onnx"]])
def test_compile_something_that_is_not_a_model(bad):
    with pytest.raises(UsageError) as info:
        cnncc.compile(bad)
    assert "cnncc.compile takes a path to an .onnx file, an onnx.ModelProto or its serialized bytes" in one_line(info)


def test_compile_the_bytes_of_a_model():
    m = cnncc.compile(relu().SerializeToString(), input_shapes={"x": (1, 3, 2, 2)})
    x = np.arange(-6, 6, dtype=np.float32).reshape(1, 3, 2, 2)
    np.testing.assert_array_equal(m(x), np.maximum(x, 0))
    m = cnncc.compile(bytearray(relu().SerializeToString()), input_shapes={"x": (1, 3, 2, 2)})
    np.testing.assert_array_equal(m(x), np.maximum(x, 0))


def test_compile_bytes_that_are_not_a_model():
    with pytest.raises(ModelLoadError) as info:
        cnncc.compile(b"\xff\xfenot protobuf")
    assert "bytes given to cnncc.compile are not a valid ONNX model" in one_line(info)


@pytest.fixture(scope="module")
def small():
    return cnncc.compile(relu(), input_shapes={"x": (1, 3, 2, 2)})


def test_run_with_a_list_instead_of_a_dict(small):
    x = np.ones((1, 3, 2, 2), np.float32)
    with pytest.raises(UsageError) as info:
        small.run([x])
    assert "run() takes a dict of input name to array, got a list; call the model, m(x), for positional inputs" in one_line(info)


@pytest.mark.parametrize(
    "value, message",
    [
        (np.ones((1, 3, 2, 2)).astype(str), "input x: got an array of dtype <U32"),
        (np.ones((1, 3, 2, 2), np.complex64), "input x: got an array of dtype complex64"),
        (np.ones((1, 3, 2, 2)).astype(object), "input x: got an array of dtype object"),
        (np.ones((1, 3, 2, 2), bool), "input x: got an array of dtype bool"),
        ("hello", "input x: got a str"),
        (None, "input x: got a NoneType"),
        ([[1.0], [1.0, 2.0]], "input x: got a list that is not an array"),
    ],
)
def test_inputs_of_a_dtype_the_model_does_not_take(small, value, message):
    with pytest.raises((UnsupportedDtypeError, UsageError)) as info:
        small.run({"x": value})
    msg = one_line(info)
    assert message in msg and "the model takes float32" in msg


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.uint8, np.int32])
def test_inputs_that_cast_to_float32_safely_are_cast(small, dtype):
    x = np.arange(12).reshape(1, 3, 2, 2).astype(dtype)
    np.testing.assert_array_equal(small.run({"x": x})["y"], x.astype(np.float32))


def test_int64_input_refuses_floats_and_out_of_range_unsigned():
    x = helper.make_tensor_value_info("x", TensorProto.INT64, [2])
    y = helper.make_tensor_value_info("y", TensorProto.INT64, [2])
    m = helper.make_model(helper.make_graph([helper.make_node("Neg", ["x"], ["y"])], "i", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17)])
    compiled = cnncc.compile(m)
    assert compiled.run({"x": np.array([1, 2], np.int32)})["y"].tolist() == [-1, -2]
    assert compiled.run({"x": np.array([1, 2], np.uint64)})["y"].tolist() == [-1, -2]
    with pytest.raises(UnsupportedDtypeError) as info:
        compiled.run({"x": np.array([1.5, 2.0])})
    assert "input x: got an array of dtype float64" in one_line(info)
    with pytest.raises(UnsupportedDtypeError) as info:
        compiled.run({"x": np.array([2**63, 1], np.uint64)})
    assert "values past int64" in one_line(info)


# -- run --check and run -o ------------------------------------------------------------------
def nan_model(path):
    nodes = [helper.make_node("Log", ["x"], ["allow_pickle"]), helper.make_node("Relu", ["x"], ["file"]),
             helper.make_node("Sqrt", ["x"], ["y"])]
    onnx.save(model(nodes, x_dims=(1, 4), outputs=("allow_pickle", "file", "y")), str(path))
    return str(path)


def test_check_treats_nans_in_the_same_places_as_equal(tmp_path, capsys):
    np.save(tmp_path / "x.npy", np.array([[-1, 2, -3, 4]], np.float32))
    code, out, err = cli(capsys, "run", nan_model(tmp_path / "m.onnx"), "--target", "llvm", "--check",
                         "--input", f"x={tmp_path / 'x.npy'}")
    assert code == 0, err
    assert "check y: max abs err 0, max rel err 0 -> ok" in out
    assert "MISMATCH" not in out
    assert err == ""  # numpy's invalid-value warnings are no errors: NaN is the model's result


def test_check_still_reports_a_nan_against_a_number():
    from cnncc.cli import outputs_agree

    ok, abs_err, _ = outputs_agree(np.array([np.nan, 1.0]), np.array([0.5, 1.0]))
    assert not ok and np.isnan(abs_err)
    ok, abs_err, _ = outputs_agree(np.array([np.nan, np.inf, 1.0]), np.array([np.nan, np.inf, 1.0]))
    assert ok and abs_err == 0


@pytest.mark.parametrize("name", ["outs", "outs.data", "outs.npz"])
def test_output_file_takes_any_name_and_any_output_names(tmp_path, capsys, name):
    np.save(tmp_path / "x.npy", np.array([[-1, 2, -3, 4]], np.float32))
    dest = tmp_path / name
    code, out, err = cli(capsys, "run", nan_model(tmp_path / "m.onnx"), "-o", str(dest), "--input", f"x={tmp_path / 'x.npy'}")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.onnx", "x.npy", name])  # no .part left
    saved = np.load(dest)
    assert sorted(saved.files) == ["allow_pickle", "file", "y"]
    np.testing.assert_array_equal(saved["file"], [[0, 2, 0, 4]])
    np.testing.assert_array_equal(saved["allow_pickle"], np.log(np.array([[-1, 2, -3, 4]], np.float32)))


def test_output_onto_a_folder_is_refused_before_running(tmp_path, capsys):
    (tmp_path / "folder").mkdir()
    code, _, err = cli(capsys, "run", nan_model(tmp_path / "m.onnx"), "-o", str(tmp_path / "folder"))
    assert code == 2
    assert_one_error_line(err, "is a folder; give a file name for the outputs, e.g.")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "m.onnx"]
    assert list((tmp_path / "folder").iterdir()) == []


# -- C header names --------------------------------------------------------------------------
def test_input_and_output_names_with_control_characters_and_emoji(tmp_path):
    x_name, y_name = 'in\x01put "\\ ? \U0001F600', "out\tput\n\u00e9\u4e2d"
    m = model([helper.make_node("Relu", [x_name], [y_name], name="r\x02")], x_dims=(1, 4),
              outputs=(y_name,), x_name=x_name)
    compiled = cnncc.compile(m, target="llvm")
    out = compiled.export(tmp_path / "art")  # links runtime.c against the generated header
    loaded = cnncc.load(out)
    assert loaded.input_names == [x_name] and loaded.output_names == [y_name]
    x = np.array([[-1, 2, -3, 4]], np.float32)
    np.testing.assert_array_equal(loaded.run({x_name: x})[y_name], [[0, 2, 0, 4]])
    lib = ctypes.CDLL(str(out / "libmodel.so"))
    lib.cnncc_input_name.restype = lib.cnncc_output_name.restype = ctypes.c_char_p
    assert lib.cnncc_input_name(0) == x_name.encode()
    assert lib.cnncc_output_name(0) == y_name.encode()


def test_c_string_escapes_every_name():
    from cnncc.backends.llvm.export import _c_string

    assert _c_string("plain_name:0") == '"plain_name:0"'
    assert _c_string('a"b\\c?\x01\U0001F600') == '"a\\"b\\\\c\\?\\001\\360\\237\\230\\200"'
    assert _c_string("9") == '"9"' and _c_string("\x00" + "7") == '"\\0007"'


# -- item 10 ---------------------------------------------------------------------------------
def test_bench_plot_without_matplotlib_names_the_extra(monkeypatch, capsys):
    import cnncc.bench.models as bench_models
    import cnncc.bench.peak as bench_peak

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ModuleNotFoundError

    def must_not_run(*args, **kwargs):
        raise AssertionError("a model or the peak probe ran before the missing extra was reported")

    monkeypatch.setattr(bench_models, "load", must_not_run)
    monkeypatch.setattr(bench_peak, "machine_peak", must_not_run)
    code, _, err = cli(capsys, "bench", "squeezenet", "--plot", "bench.png")
    assert code == 2
    assert_one_error_line(err, "--plot needs matplotlib: pip install 'cnncc[bench]'")


BIG = 3e38


@pytest.mark.parametrize(
    "node, x_dims",
    [
        (helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]), (1, 2, 9, 40)),
        (helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], strides=[2, 2]), (1, 2, 8, 8)),
        (helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3, 3], strides=[1, 1], count_include_pad=1, pads=[1, 1, 1, 1]), (1, 2, 6, 6)),
        (helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2, 2]), (1, 2, 3, 4, 5)),
        (helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[3]), (1, 2, 7)),
        (helper.make_node("GlobalAveragePool", ["x"], ["y"]), (1, 3, 7, 7)),
        (helper.make_node("ReduceMean", ["x"], ["y"], axes=[2, 3], keepdims=1), (1, 3, 5, 5)),
    ],
)
def test_average_pools_of_huge_finite_values_stay_finite(node, x_dims):
    m = model([node], x_dims=x_dims)
    rng = np.random.default_rng(0)
    x = (rng.uniform(0.9, 1.0, x_dims) * BIG).astype(np.float32)
    x[..., 0] *= -1  # some negative columns: the sums are not one-signed
    ref = cnncc.compile(m, target="reference").run({"x": x})["y"]
    got = cnncc.compile(m, target="llvm").run({"x": x})["y"]
    assert np.isfinite(ref).all()
    assert np.isfinite(got).all(), got
    np.testing.assert_allclose(got, ref, rtol=1e-5)
    # ordinary values keep their precision
    x = rng.standard_normal(x_dims).astype(np.float32)
    np.testing.assert_allclose(cnncc.compile(m, target="llvm").run({"x": x})["y"],
                               cnncc.compile(m, target="reference").run({"x": x})["y"], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("target", ["reference", "llvm"])
def test_scalar_inputs_stay_scalar(target):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])
    s = helper.make_tensor_value_info("s", TensorProto.FLOAT, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])
    m = helper.make_model(helper.make_graph([helper.make_node("Mul", ["x", "s"], ["y"])], "s", [x, s], [y]),
                          opset_imports=[helper.make_opsetid("", 17)])
    compiled = cnncc.compile(m, target=target)
    out = compiled.run({"x": np.array([1, 2, 3], np.float32), "s": np.array(2.0)})  # 0-d float64
    np.testing.assert_array_equal(out["y"], [2, 4, 6])


def test_a_dropped_llvm_model_leaves_no_python_object_behind():
    """Guards the Python side of issue 16's per-compile growth: the executable (and with it its
    execution engine, weights and workspace) is freed. The ~0.15 MiB a compile still keeps is
    native: llvmlite's pass builder allocates a PassInstrumentationCallbacks it never frees, and
    each pass-pipeline run registers instrumentation callbacks into it."""
    import weakref

    m = cnncc.compile(relu(), target="llvm", input_shapes={"x": (1, 3, 4, 4)})
    m.run({"x": np.ones((1, 3, 4, 4), np.float32)})
    gone = weakref.ref(m._executable)
    del m
    gc.collect()
    assert gone() is None


# -- found by the fuzzer (make fuzz N=10000 SEED=1) ----------------------------------------
def _one_node(op, inputs, attrs, out_shape):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node(op, [n for n, _ in inputs], ["y"], **attrs)], "g",
                              [helper.make_tensor_value_info(n, t, s) for n, (t, s) in inputs],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("op", ["DepthToSpace", "SpaceToDepth"])
@pytest.mark.parametrize("blocksize", [0, -1])
def test_blocksize_below_one_is_a_shape_error(op, blocksize):
    """blocksize -1 / 0 was a ZeroDivisionError in the llvm lowering (exit 70)."""
    from onnx import TensorProto

    model = _one_node(op, [("x", (TensorProto.FLOAT, [1, 4, 4, 4]))], {"blocksize": blocksize}, [1, 4, 4, 4])
    with pytest.raises(ShapeError, match="blocksize must be at least 1"):
        cnncc.compile(model, target="llvm")


def test_gather_from_a_scalar_is_a_shape_error():
    """Gather over 0-d data was a ZeroDivisionError (axis % rank) in the llvm lowering."""
    from onnx import TensorProto

    model = _one_node("Gather", [("x", (TensorProto.FLOAT, [])), ("i", (TensorProto.INT64, [3]))], {}, [3])
    with pytest.raises(ShapeError, match="rank >= 1"):
        cnncc.compile(model, target="llvm")
