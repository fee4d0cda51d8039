"""Errors with boundaries: a bug in a pass or a lowering is an InternalError naming where it
happened (exit 70, one line that says it is a cnncc bug; the traceback with --debug), never a
user's BackendError; a lowering with no kernel for a variant is a user's UnsupportedOpError
naming the node and the op; a user's error raised inside a pass keeps its class."""

import pytest
from onnx import TensorProto, helper

import cnncc
from cnncc.backends.llvm import codegen
from cnncc.cli import main
from cnncc.errors import InternalError, LoweringNotApplicable, ShapeError, UnsupportedOpError
from cnncc.passes import manager
from cnncc.passes.manager import PASSES, run_pass


def relu_model(path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="n0")], "tiny", [x], [y])
    import onnx

    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def lowering_raising(exc):
    def lower(k, node):
        raise exc

    return lambda node: lower


def one_error_line(err):
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_a_lowering_raising_keyerror_is_an_internal_error(tmp_path, monkeypatch):
    monkeypatch.setattr(codegen, "lowering_for", lowering_raising(KeyError("x_block")))
    with pytest.raises(InternalError, match=r"llvm lowering of node 'n0' \(Relu\): KeyError") as info:
        cnncc.compile(relu_model(tmp_path / "m.onnx"), target="llvm")
    assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.parametrize("exc", [LoweringNotApplicable("no kernel for blocked int64"), NotImplementedError("4-D pooling")])
def test_no_kernel_for_a_variant_is_an_unsupported_op_error(tmp_path, monkeypatch, exc):
    monkeypatch.setattr(codegen, "lowering_for", lowering_raising(exc))
    with pytest.raises(UnsupportedOpError, match=r"node 'n0' \(Relu\).*" + str(exc)):
        cnncc.compile(relu_model(tmp_path / "m.onnx"), target="llvm")


def test_cli_internal_error_from_a_lowering_is_one_line_and_exit_70(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(codegen, "lowering_for", lowering_raising(KeyError("x_block")))
    model = relu_model(tmp_path / "m.onnx")
    assert main(["run", model, "--target", "llvm"]) == 70
    line = one_error_line(capsys.readouterr().err)
    assert "internal error in the llvm lowering of node 'n0' (Relu): KeyError: 'x_block'" in line
    assert "this is a cnncc bug" in line and "--debug" in line
    assert main(["--debug", "run", model, "--target", "llvm"]) == 70
    err = capsys.readouterr().err
    assert "Traceback" in err and "KeyError: 'x_block'" in err and "InternalError" in err


def test_cli_lowering_not_applicable_is_a_user_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(codegen, "lowering_for", lowering_raising(LoweringNotApplicable("int64 blocked storage")))
    assert main(["run", relu_model(tmp_path / "m.onnx"), "--target", "llvm"]) == UnsupportedOpError.exit_code
    line = one_error_line(capsys.readouterr().err)
    assert "'n0' (Relu)" in line and "no llvm kernel for this variant" in line and "bug" not in line


def boom(graph):
    raise ValueError("bad axis")


def test_a_pass_raising_is_an_internal_error_naming_the_pass(tmp_path, monkeypatch):
    monkeypatch.setitem(PASSES, "test-boom", boom)
    graph = cnncc.compiler.import_model(relu_model(tmp_path / "m.onnx"), {})
    with pytest.raises(InternalError, match="internal error in pass test-boom: ValueError: bad axis") as info:
        run_pass("test-boom", graph)
    assert isinstance(info.value.__cause__, ValueError)


def test_a_users_error_in_a_pass_keeps_its_class(tmp_path, monkeypatch):
    def refuses(graph):
        raise ShapeError("node n0 (Relu): shapes do not fit")

    monkeypatch.setitem(PASSES, "test-refuses", refuses)
    graph = cnncc.compiler.import_model(relu_model(tmp_path / "m.onnx"), {})
    with pytest.raises(ShapeError, match="shapes do not fit"):
        run_pass("test-refuses", graph)


def test_cli_internal_error_from_a_pass(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(manager.PASSES, "cse", boom)
    model = relu_model(tmp_path / "m.onnx")
    assert main(["inspect", model, "-O1"]) == 70
    line = one_error_line(capsys.readouterr().err)
    assert "internal error in pass cse: ValueError: bad axis" in line and "this is a cnncc bug" in line
    assert main(["--debug", "inspect", model, "-O1"]) == 70
    err = capsys.readouterr().err
    assert "Traceback" in err and "in boom" in err


def test_internal_error_pickles():
    import pickle

    again = pickle.loads(pickle.dumps(InternalError("pass cse", KeyError("k"))))
    assert str(again) == "internal error in pass cse: KeyError: 'k'" and again.where == "pass cse"


@pytest.mark.parametrize("exc,error,message", [
    (KeyError("axis"), InternalError, r"internal error in the tvm lowering of node 'n0' \(Relu\): KeyError"),
    (LoweringNotApplicable("int64 Relu"), UnsupportedOpError, r"node 'n0' \(Relu\): no tvm kernel for this variant"),
])
def test_the_tvm_lowering_has_the_same_boundary(tmp_path, monkeypatch, exc, error, message):
    from cnncc.backends.tvm import lowering as tvm_lowering

    def lower(ctx):
        raise exc

    monkeypatch.setattr(tvm_lowering, "lowering_for", lambda node: lower)
    with pytest.raises(error, match=message):
        cnncc.compile(relu_model(tmp_path / "m.onnx"), target="tvm-llvm")
