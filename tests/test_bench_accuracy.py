"""`cnncc bench --precision`: accuracy of each precision against fp32 on seeded inputs.

Runs today at fp32 (bf16 reports itself unavailable until the compiler has it) and checks
bf16's figures against the issue's goals once it is there.
"""

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cnncc.bench import accuracy
from cnncc.cli import main


def tiny_classifier(classes: int = 16, features: int = 64):
    """x (1, features) -> Gemm -> Relu -> Gemm -> Softmax: (1, classes) scores."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array((rng.standard_normal((features, 48)) / 8).astype(np.float32), "w1")
    w2 = numpy_helper.from_array((rng.standard_normal((48, classes)) / 4).astype(np.float32), "w2")
    b2 = numpy_helper.from_array(rng.standard_normal(classes).astype(np.float32) * 0.1, "b2")
    nodes = [
        helper.make_node("Gemm", ["x", "w1"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Gemm", ["r", "w2", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny_classifier", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, features])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, classes])], initializer=[w1, w2, b2],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.mark.parametrize(("shape", "expected"), [
    ((1, 1000), True), ((4, 1000, 1, 1), True), ((1, 10), True), ((1, 9), False),
    ((1, 2, 7, 7), False), ((1, 64, 7, 7), False), ((1,), False), ((1, 1, 640, 640), False),
])
def test_classifier_outputs(shape, expected):
    assert accuracy.classifier_output(shape) is expected


def test_error_stats_relative_to_the_largest_fp32_magnitude_and_top1():
    stats = accuracy.ErrorStats()
    base = {"y": np.array([[0.0, 4.0, -2.0]], dtype=np.float32)}
    stats.add({"y": np.array([[0.5, 3.9, -2.0]], dtype=np.float32)}, base, "y")
    stats.add({"y": np.array([[4.5, 4.0, -2.0]], dtype=np.float32)}, base, "y")
    assert stats.inputs == 2
    assert stats.max_abs_err == pytest.approx(4.5)
    assert stats.max_rel_to_peak == pytest.approx(4.5 / 4.0)
    assert (stats.top1_same, stats.top1_total) == (1, 2)


def test_parse_precisions_refuses_unknown_names():
    assert accuracy.parse_precisions("fp32,bf16,fp32") == ["fp32", "bf16"]
    with pytest.raises(accuracy.UsageError, match="fp32, bf16, auto"):
        accuracy.parse_precisions("fp32,fp16")


def test_measure_fp32_against_reference_and_bf16_against_fp32():
    report = accuracy.measure("tiny", tiny_classifier(), {}, ["fp32", "bf16"], accuracy.AccuracySettings("llvm", inputs=40))
    assert report.classifier == "y" and report.fp32_classes > 1
    fp32, bf16 = report.rows
    assert fp32.baseline == "reference backend" and fp32.stats.inputs == 1
    assert fp32.stats.max_rel_to_peak < 1e-5 and fp32.stats.top1_agreement == 1.0
    if bf16.stats is None:
        assert bf16.status.startswith("unavailable: precision bf16 is not available for target llvm: ")
    else:  # the goals for bf16
        assert bf16.stats.inputs == 40
        assert bf16.stats.max_rel_to_peak <= 2e-2
        assert bf16.stats.top1_agreement >= 0.95


def test_bench_prints_and_writes_accuracy(tmp_path, capsys):
    model = tmp_path / "tiny.onnx"
    onnx.save(tiny_classifier(), str(model))
    out_json = tmp_path / "bench.json"
    code = main(["bench", str(model), "--target", "llvm", "--against", "", "--precision", "fp32,bf16", "--repeat", "1",
                 "--warmup", "0", "--accuracy-inputs", "5", "--json", str(out_json)])
    printed = " ".join(capsys.readouterr().out.split())
    assert code == 0, printed
    assert "tiny: accuracy on llvm (classifier: top-1 of y;" in printed and "100.0% (1/1)" in printed
    payload = json.loads(out_json.read_text())
    assert [r["name"] for r in payload["cases"][0]["results"]] == ["cnncc-llvm", "cnncc-llvm-bf16"]
    (report,) = payload["accuracy"]
    assert [row["precision"] for row in report["rows"]] == ["fp32", "bf16"]
    assert report["rows"][0]["stats"]["max_rel_to_peak"] < 1e-5
    bf16 = report["rows"][1]
    assert bf16["stats"] is not None or "bf16: unavailable: precision bf16" in printed


def test_bench_refuses_an_unknown_precision(tmp_path, capsys):
    model = tmp_path / "tiny.onnx"
    onnx.save(tiny_classifier(), str(model))
    code = main(["bench", str(model), "--precision", "fp16"])
    assert code == 2
    assert "precision 'fp16' is not one of fp32, bf16, auto" in capsys.readouterr().err


def test_measure_a_reduced_precision_build(monkeypatch):
    """The non-fp32 branch, with a stand-in build: fp32 outputs rounded to bf16 (8 bits of
    mantissa), so its error against fp32 is known to lie in (0, 2**-8] of the peak."""
    import cnncc

    real_compile = cnncc.compile

    def to_bf16(a):
        bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
        return ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)

    class RoundedOutputs:
        def __init__(self, inner):
            self.inner, self.graph = inner, inner.graph

        def run(self, feeds):
            return {k: to_bf16(v) for k, v in self.inner.run(feeds).items()}

    def compile_with_precision(model, precision="fp32", **kwargs):
        built = real_compile(model, **kwargs)
        return RoundedOutputs(built) if precision == "bf16" else built

    monkeypatch.setattr(cnncc, "compile", compile_with_precision)
    report = accuracy.measure("tiny", tiny_classifier(), {}, ["bf16"], accuracy.AccuracySettings("llvm", inputs=40))
    (bf16,) = report.rows
    assert bf16.status == "ok" and bf16.baseline == "cnncc llvm fp32"
    assert bf16.stats.inputs == 40 and bf16.stats.top1_total == 40
    assert 0 < bf16.stats.max_rel_to_peak <= 2**-8
    assert bf16.stats.top1_agreement >= 0.9
