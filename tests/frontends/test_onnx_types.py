"""An op given an element type its ONNX schema does not allow is refused at import (exit 3),
not widened to int64 and computed (the llvm kernels then produced garbage for a Conv over
uint8 inputs, found by the fuzzer)."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import cnncc
from cnncc.cli import main
from cnncc.errors import UnsupportedDtypeError


def _conv_over(elem_type) -> onnx.ModelProto:
    w = numpy_helper.from_array(np.ones((2, 3, 1, 1), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", elem_type, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.mark.parametrize("elem_type", [TensorProto.UINT8, TensorProto.INT8, TensorProto.INT32])
def test_conv_over_integers_is_refused(elem_type):
    with pytest.raises(UnsupportedDtypeError, match="unsupported type"):
        cnncc.compile(_conv_over(elem_type), target="reference")


def test_cli_exit_code(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    onnx.save(_conv_over(TensorProto.UINT8), path)
    assert main(["run", str(path), "--target", "llvm"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "tensor(uint8)" in err[0]


def test_float_conv_still_compiles():
    m = cnncc.compile(_conv_over(TensorProto.FLOAT), target="reference")
    assert m(np.ones((1, 3, 4, 4), np.float32)).shape == (1, 2, 4, 4)


def test_gemm_over_mixed_types_is_refused():
    """An int64 A against float32 B weights (found by the fuzzer: llvm computed garbage)."""
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.INT64, [2, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(UnsupportedDtypeError, match="inconsistent type"):
        cnncc.compile(model, target="reference")


@pytest.mark.parametrize("scales", [[1.0, 1.0, 2.0], [1.0, 1.0, 2.0, 2.0, 2.0], [1.0, 1.0, 0.0, 2.0], [1, 1, float("nan"), 2]])
def test_resize_scales_that_do_not_fit_the_rank(scales):
    """Scales of the wrong length were an IndexError (exit 70); zero or NaN scales too."""
    from cnncc.errors import ShapeError

    s = numpy_helper.from_array(np.array(scales, np.float32), "s")
    graph = helper.make_graph([helper.make_node("Resize", ["x", "", "s"], ["y"], mode="nearest")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 6, 8])], [s])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(ShapeError, match="Resize scales"):
        cnncc.compile(model, target="reference")
