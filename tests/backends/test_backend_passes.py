"""Backends contribute their own passes per -O level (``passes(opt_level)``): the pipeline a
target runs is the generic list of the level plus its backend's passes. Only the llvm
backend adds one, backend-layout at -O3, so no target but llvm runs an llvm layout pass."""

import os
import subprocess
import sys

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import cnncc
from cnncc.backends import backend_passes
from cnncc.compiler import optimize_for
from cnncc.errors import UsageError
from cnncc.passes.manager import PIPELINES


def _residual_model():
    """x -> 1x1 -> relu -> 1x1 + first -> relu -> 1x1: a value the llvm backend stores NHWC."""
    rng = np.random.default_rng(0)

    def weight(name, m, c):
        return numpy_helper.from_array((rng.standard_normal((m, c, 1, 1)) * 0.2).astype(np.float32), name)

    nodes = [helper.make_node("Conv", ["x", "w0"], ["a"]), helper.make_node("Relu", ["a"], ["p"]),
             helper.make_node("Conv", ["p", "w1"], ["b"]), helper.make_node("Add", ["b", "p"], ["c"]),
             helper.make_node("Relu", ["c"], ["q"]), helper.make_node("Conv", ["q", "w2"], ["y"])]
    graph = helper.make_graph(nodes, "residual", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 32, 6, 5])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, 6, 5])],
                              [weight("w0", 64, 32), weight("w1", 64, 64), weight("w2", 16, 64)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def _marked(graph) -> int:
    return sum(1 for n in graph.nodes if n.op == "FusedConv" and (n.attrs.x_block or n.attrs.y_block))


@pytest.mark.parametrize("target", ["reference", "tvm-llvm", "cuda"])
def test_other_backends_contribute_no_pass(target):
    if target != "reference":
        pytest.importorskip("tvm")
    assert [backend_passes(target, level) for level in PIPELINES] == [[]] * len(PIPELINES)
    records: list = []
    out = optimize_for(cnncc.compiler.import_model(_residual_model()), target, 3, records=records)
    assert [r.name for r in records] == PIPELINES[3] and _marked(out) == 0


def test_llvm_adds_its_layout_pass_at_o3():
    assert [backend_passes("llvm", level) for level in PIPELINES] == [[], [], [], ["backend-layout"]]
    records: list = []
    model = cnncc.compile(_residual_model(), target="llvm", opt_level=3, pass_records=records)
    assert [r.name for r in records] == PIPELINES[3] + ["backend-layout"]
    assert _marked(model.graph) == 3
    x = np.random.default_rng(1).standard_normal((1, 32, 6, 5)).astype(np.float32)
    want = cnncc.compile(_residual_model(), opt_level=0)(x)
    np.testing.assert_allclose(model(x), want, rtol=1e-4, atol=1e-4)


def test_the_generic_pipeline_only_without_a_target():
    records: list = []
    optimize_for(cnncc.compiler.import_model(_residual_model()), None, 3, records=records)
    assert [r.name for r in records] == PIPELINES[3]


@pytest.mark.parametrize("target", [None, "reference", "llvm"])
def test_a_backend_pass_can_be_named_whatever_the_target(target):
    """--disable-pass / --print-after backend-layout resolve with any target (the llvm
    backend registers the pass when imported); a name no backend has is still an error."""
    graph = cnncc.compiler.import_model(_residual_model())
    printed: list = []
    out = optimize_for(graph, target, 3, disable=["backend-layout"], print_after=["backend-layout"], echo=printed.append)
    assert _marked(out) == 0 and printed == []
    with pytest.raises(UsageError, match="unknown pass.*no-such-pass"):
        optimize_for(graph, target, 3, disable=["no-such-pass"])


def test_inspect_shows_a_target_pipeline_only_when_asked(tmp_path):
    import onnx

    path = tmp_path / "residual.onnx"
    onnx.save(_residual_model(), str(path))

    def inspect(*args):
        proc = subprocess.run([sys.executable, "-m", "cnncc.cli", "inspect", str(path), "-O3", *args],
                              capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "backend-layout" not in inspect()
    assert "values stored NHWC between 1x1 convs: 2" in inspect("--target", "llvm")
