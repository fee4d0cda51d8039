"""The command line: help, version, commands on real models, and one-line errors with exit codes."""

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from cnncc import zoo
from cnncc.cli import main

SQUEEZENET = str(zoo.light_model_path("squeezenet"))


def cli(*args, cwd=None):
    """Run `cnncc ARGS` in a subprocess: exit code, stdout, stderr (as a user sees them)."""
    proc = subprocess.run(
        [sys.executable, "-m", "cnncc.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
    )
    return proc.returncode, proc.stdout, proc.stderr


def tiny_model(path, op="Relu", dims=("N", 4), dtype=TensorProto.FLOAT):
    x = helper.make_tensor_value_info("x", dtype, list(dims))
    y = helper.make_tensor_value_info("y", dtype, list(dims))
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"], name="n0")], "tiny", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return str(path)


def test_help_and_version():
    code, stdout, _ = cli("--help")
    assert code == 0
    for command in ("inspect", "run", "compile", "show", "zoo"):
        assert command in stdout
    code, stdout, _ = cli("--version")
    assert code == 0 and stdout.startswith("cnncc ")
    for command in ("inspect", "run", "compile", "show", "zoo"):
        code, stdout, _ = cli(command, "--help")
        assert code == 0 and "Usage" in stdout


def test_inspect_reports_shapes_ops_params_and_macs():
    code, stdout, stderr = cli("inspect", SQUEEZENET)
    assert code == 0, stderr
    assert "data_0" in stdout and "1x3x224x224" in stdout
    assert "Conv" in stdout and "26" in stdout  # 26 convolutions
    assert "parameters: 1,235,496" in stdout  # SqueezeNet 1.1's published parameter count
    gmacs = float(stdout.split("MACs: ")[1].split()[0])
    assert 0.34 < gmacs < 0.36  # SqueezeNet 1.1: ~0.35 GMACs at 224x224


def test_run_writes_outputs_and_checks(tmp_path):
    out = tmp_path / "out.npz"
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32))
    code, stdout, stderr = cli("run", SQUEEZENET, "--input", f"data_0={x}", "--output", str(out), "--check")
    assert code == 0, stderr
    assert "softmaxout_1" in stdout and "max abs err" in stdout
    saved = np.load(out)
    assert saved["softmaxout_1"].shape == (1, 1000, 1, 1)
    np.testing.assert_allclose(saved["softmaxout_1"].sum(), 1.0, rtol=1e-4)


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["run", "missing.onnx"], 2, "error: model file not found: missing.onnx"),
        (["run", "garbage.onnx"], 2, "is not a valid ONNX model"),
        (["run", "truncated.onnx"], 2, "is not a valid ONNX model"),
        (["run", "dynamic.onnx"], 4, "dynamic dimensions need a shape: x[N,4]"),
        (["run", "dynamic.onnx", "--input-shape", "x=1,5,6"], 4, "has rank 3, the model declares rank 2"),
        (["run", "dynamic.onnx", "--input-shape", "y=1,4"], 4, "unknown input(s) y"),
        (["run", "dynamic.onnx", "--input-shape", "x=oops"], 2, "expected NAME=D1,D2"),
        (["run", "unsupported.onnx"], 3, "unsupported ONNX op(s): Hardmax (node 'n0')"),
        (["run", "float64.onnx"], 3, "element type DOUBLE"),
        (["run", "squeezenet.onnx", "--target", "nonsense"], 2, "unknown target 'nonsense'"),
        (["run", "static.onnx", "--input", "x=wrong.npy"], 4, "input x: got shape [2, 2], the model was compiled for [1, 4]"),
        (["run", "squeezenet.onnx", "--disable-pass", "no-such-pass"], 2, "unknown pass(es) no-such-pass"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code(tmp_path, args, code, message):
    (tmp_path / "garbage.onnx").write_bytes(b"this is not protobuf at all \xff\xfe")
    (tmp_path / "truncated.onnx").write_bytes(open(SQUEEZENET, "rb").read()[:5000])
    tiny_model(tmp_path / "dynamic.onnx")
    tiny_model(tmp_path / "static.onnx", dims=(1, 4))
    tiny_model(tmp_path / "unsupported.onnx", op="Hardmax", dims=(1, 4))
    tiny_model(tmp_path / "float64.onnx", dims=(1, 4), dtype=TensorProto.DOUBLE)
    (tmp_path / "squeezenet.onnx").write_bytes(open(SQUEEZENET, "rb").read())
    np.save(tmp_path / "wrong.npy", np.zeros((2, 2), np.float32))
    rc, stdout, stderr = cli(*args, cwd=tmp_path)
    assert rc == code, (stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert message in lines[0]
    assert "Traceback" not in stderr


def test_debug_shows_the_traceback(tmp_path):
    rc, _, stderr = cli("--debug", "run", "missing.onnx", cwd=tmp_path)
    assert rc != 0 and "Traceback" in stderr and "ModelLoadError" in stderr


def test_main_returns_exit_codes_in_process(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "nope.onnx")]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert main(["--version"]) == 0


def test_zoo_writes_a_model_with_random_weights(tmp_path):
    path = tmp_path / "sq.onnx"
    rc, stdout, stderr = cli("zoo", "squeezenet", "-o", str(path))
    assert rc == 0, stderr
    model = onnx.load(str(path))
    weights = [onnx.numpy_helper.to_array(t) for t in model.graph.initializer if len(t.dims) == 4]
    assert len(weights) == 26 and np.std(weights[0]) > 0.01


def test_tune_then_compile_with_records(tmp_path):
    """`cnncc tune` on the CPU TVM target writes records that `run --db` applies."""
    rng = np.random.default_rng(0)
    w = onnx.numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["y"])]
    graph = helper.make_graph(
        nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])], [w],
    )
    model = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(model))
    db = tmp_path / "db"
    rc, stdout, stderr = cli("tune", str(model), "--target", "tvm-llvm", "--trials", "2", "--db", str(db))
    assert rc == 0, stderr
    assert "FusedConv" in stdout and "trials" in stdout
    assert any(db.rglob("database_tuning_record.json"))
    rc, stdout, stderr = cli("run", str(model), "--target", "tvm-llvm", "--db", str(db), "--check")
    assert rc == 0, stderr
    assert "-> ok" in stdout


def test_tune_refuses_targets_without_a_tuner(tmp_path):
    rc, _, stderr = cli("tune", SQUEEZENET, "--target", "reference")
    assert rc == 2 and "has no tuner yet" in stderr


def test_compile_llvm_then_run_the_artifact(tmp_path):
    out_dir = tmp_path / "sq"
    rc, stdout, stderr = cli("compile", SQUEEZENET, "--target", "llvm", "-o", str(out_dir), "--emit-source")
    assert rc == 0, stderr
    assert (out_dir / "libmodel.so").is_file() and (out_dir / "model.h").is_file() and (out_dir / "meta.json").is_file()
    assert any(p.suffix == ".ll" for p in out_dir.iterdir())
    x = tmp_path / "x.npy"
    np.save(x, np.random.default_rng(3).standard_normal((1, 3, 224, 224)).astype(np.float32))
    rc, stdout, stderr = cli("run", str(out_dir), "--input", f"data_0={x}", "--output", str(tmp_path / "a.npz"))
    assert rc == 0, stderr
    rc, stdout, stderr = cli("run", SQUEEZENET, "--input", f"data_0={x}", "--output", str(tmp_path / "b.npz"))
    assert rc == 0, stderr
    np.testing.assert_allclose(np.load(tmp_path / "a.npz")["softmaxout_1"], np.load(tmp_path / "b.npz")["softmaxout_1"], rtol=1e-3, atol=1e-6)
    rc, _, stderr = cli("run", str(out_dir), "--check")
    assert rc == 2 and "--check needs the model" in stderr
    rc, _, stderr = cli("run", str(tmp_path))
    assert rc == 2 and "not a cnncc artifact" in stderr


def test_tune_llvm_with_a_time_budget(tmp_path):
    db = tmp_path / "db"
    rc, stdout, stderr = cli("tune", SQUEEZENET, "--target", "llvm", "--trials", "2", "--budget-s", "3", "--db", str(db))
    assert rc == 0, stderr
    assert (db / "llvm.sqlite").is_file()
    rc, _, stderr = cli("tune", SQUEEZENET, "--target", "tvm-llvm", "--budget-s", "3", "--db", str(db))
    assert rc == 2 and "counts trials, not seconds" in stderr


def test_inspect_lists_the_ops_of_a_model_it_cannot_compile(tmp_path):
    path = tiny_model(tmp_path / "unsupported.onnx", op="Hardmax", dims=(1, 4))
    rc, stdout, stderr = cli("inspect", path)
    assert rc == 3
    assert "Hardmax" in stdout and "no" in stdout
    assert "unsupported ONNX op(s): Hardmax" in stderr
