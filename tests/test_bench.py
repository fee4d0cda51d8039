"""`cnncc bench` on a tiny model: every JSON field, a real PNG, missing peers reported.

No timing assertions: the machine is shared; figures only have to exist and be sane.
"""

import json
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from cnncc.bench.measure import geomean, percentile
from cnncc.cli import main


def tiny_cnn(path):
    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "b")
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[2, 2], strides=[2, 2]),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 8, 8])], initializer=[w, b],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


RESULT_FIELDS = {
    "name", "status", "times_s", "compile_s", "artifact_bytes", "peak_rss_mib", "max_abs_err",
    "max_rel_err", "gflops", "percent_of_peak", "per_layer", "median_s", "p10_s", "p90_s",
}


def test_bench_json_and_plot(tmp_path, capsys):
    model = tiny_cnn(tmp_path / "tiny.onnx")
    out_json, out_png = tmp_path / "bench.json", tmp_path / "bench.png"
    code = main([
        "bench", model, "--target", "reference", "--against", "onnxruntime", "--threads", "1,2",
        "--repeat", "3", "--warmup", "1", "--json", str(out_json), "--plot", str(out_png),
    ])
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal width
    assert code == 0, printed
    assert "cnncc-reference / onnxruntime: median ratio" in printed
    payload = json.loads(out_json.read_text())
    machine = payload["machine"]
    for key in ("date", "cpu_model", "cores", "versions", "peak_gflops_per_core", "peak_method"):
        assert key in machine
    assert machine["peak_gflops_per_core"] > 1
    assert machine["peak_best_seen_gflops_per_core"] >= machine["peak_gflops_per_core"]
    assert [c["threads"] for c in payload["cases"]] == [1, 2]
    for case in payload["cases"]:
        assert case["macs"] == 8 * 16 * 16 * 27 + 8 * 8 * 8 * 4  # conv + pool windows
        names = [r["name"] for r in case["results"]]
        assert names == ["cnncc-reference", "onnxruntime"]
        for r in case["results"]:
            assert RESULT_FIELDS <= set(r)
            assert r["status"] == "ok" and len(r["times_s"]) == 3
            assert r["p10_s"] <= r["median_s"] <= r["p90_s"]
            assert r["max_abs_err"] < 1e-4
        (ratio,) = case["ratios"]
        assert ratio["contender"] == "cnncc-reference" and ratio["peer"] == "onnxruntime" and ratio["pairs"] == 3
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_peer_is_reported_not_fatal(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    model = tiny_cnn(tmp_path / "tiny.onnx")
    out_json = tmp_path / "bench.json"
    code = main(["bench", model, "--target", "reference", "--against", "onnxruntime", "--repeat", "2", "--warmup", "0", "--json", str(out_json)])
    printed = " ".join(capsys.readouterr().out.split())
    assert code == 0
    assert "onnxruntime: unavailable: onnxruntime is not installed" in printed
    (case,) = json.loads(out_json.read_text())["cases"]
    assert case["results"][1]["status"].startswith("unavailable")
    assert case["ratios"] == []


def test_bench_rejects_bad_options(tmp_path, capsys):
    model = tiny_cnn(tmp_path / "tiny.onnx")
    assert main(["bench", model, "--threads", "0"]) == 2
    assert "--threads '0'" in capsys.readouterr().err
    assert main(["bench", model, "--against", "nonsense"]) == 2
    assert main(["bench"]) == 2


def test_statistics_helpers():
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert geomean([0.5, 2.0]) == pytest.approx(1.0)


def test_per_layer_profile_of_llvm_artifact(tmp_path, capsys):
    model = tiny_cnn(tmp_path / "tiny.onnx")
    out_json = tmp_path / "bench.json"
    code = main(["bench", model, "--target", "llvm", "--against", "", "--repeat", "2", "--warmup", "0", "--per-layer", "--json", str(out_json)])
    printed = " ".join(capsys.readouterr().out.split())
    assert code == 0, printed
    assert "per kernel, slowest first" in printed
    (case,) = json.loads(out_json.read_text())["cases"]
    (result,) = case["results"]
    assert result["status"] == "ok"
    rows = result["per_layer"]
    assert rows and all("error" not in row for row in rows)
    conv = next(row for row in rows if row["op"] == "FusedConv")
    assert conv["macs"] == 8 * 16 * 16 * 27 and conv["time_s"] > 0 and conv["gflops"] > 0


def test_per_layer_rows_name_the_layer_shape_and_algorithm(tmp_path, capsys):
    model = tiny_cnn(tmp_path / "tiny.onnx")
    out_json = tmp_path / "bench.json"
    assert main(["bench", model, "--target", "llvm", "--against", "", "--repeat", "1", "--warmup", "0",
                 "--per-layer", "--json", str(out_json)]) == 0
    (case,) = json.loads(out_json.read_text())["cases"]
    conv = next(row for row in case["results"][0]["per_layer"] if row["op"] == "FusedConv")
    # the fused 2x2 max pool does not hide the convolution's 16x16 map
    assert conv["layer"].startswith("3x3/1 3->8 16x16 +pool ")
    assert conv["layer"].split("+pool ")[1] in ("pixel vectors", "direct 8ch", "rows", "winograd")


def test_layer_shape_of_grouped_strided_conv_and_gemm():
    from cnncc.ir import Attrs, Node, TensorType, Value
    from cnncc.stats import layer_shape

    x = Value("x", TensorType((1, 8, 15, 12), "float32"))
    w = Value("w", TensorType((16, 4, 3, 1), "float32"), data=np.zeros((16, 4, 3, 1), np.float32))
    y = Value("y", TensorType((1, 16, 8, 6), "float32"))
    conv = Node("Conv", [x, w], [y], Attrs(kernel_shape=(3, 1), strides=(2, 2), pads=(1, 0, 1, 0),
                                           dilations=(1, 1), group=2))
    assert layer_shape(conv) == "3x1/2 8->16 g2 8x6"
    a = Value("a", TensorType((1, 2048), "float32"))
    b = Value("b", TensorType((2048, 1000), "float32"), data=np.zeros((2048, 1000), np.float32))
    out = Value("o", TensorType((1, 1000), "float32"))
    assert layer_shape(Node("MatMul", [a, b], [out], Attrs())) == "2048->1000"
    assert layer_shape(Node("Relu", [a], [a], Attrs())) == ""
