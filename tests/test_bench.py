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
    assert set(payload["geomean_ratio_by_peer"]) == {"onnxruntime"}
    assert set(payload["geomean_ratio_by_peer"]["onnxruntime"]["cnncc-reference"]) == {"1", "2"}
    assert payload["geomean_ratio_by_threads"] == payload["geomean_ratio_by_peer"]["onnxruntime"]["cnncc-reference"]
    scaling = payload["thread_scaling"]
    assert {(r["contender"], r["threads"]) for r in scaling} == {("cnncc-reference", 2), ("onnxruntime", 2)}
    assert all(r["model"] == "tiny" and r["batch"] == 1 and r["ratio"] > 0 for r in scaling)
    assert "summary: cnncc vs onnxruntime" in printed and "thread scaling" in printed
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


def test_missing_openvino_is_a_row_saying_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "openvino", None)  # import fails as if not installed
    model = tiny_cnn(tmp_path / "tiny.onnx")
    out_json = tmp_path / "bench.json"
    code = main(["bench", model, "--target", "reference", "--against", "openvino,openvino-default", "--repeat", "1",
                 "--warmup", "0", "--json", str(out_json)])
    printed = " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal width
    assert code == 0, printed
    for name in ("openvino", "openvino-default"):
        assert f" {name}: unavailable: openvino is not installed (pip install 'cnncc[bench]')" in printed
    (case,) = json.loads(out_json.read_text())["cases"]
    assert [r["name"] for r in case["results"]] == ["cnncc-reference", "openvino", "openvino-default"]
    assert [r["status"] for r in case["results"][1:]] == ["unavailable: openvino is not installed (pip install 'cnncc[bench]')"] * 2


def _feeds():
    return {"x": np.random.default_rng(1).standard_normal((1, 3, 16, 16)).astype(np.float32)}


def _expected(model_path, feeds):
    from cnncc.backends.reference import interpret
    from cnncc.frontends.onnx import import_onnx

    return interpret(import_onnx(onnx.load(model_path)), feeds)["y"]


def test_openvino_runs_fp32_and_default_labelled_with_its_precision(tmp_path):
    pytest.importorskip("openvino", reason="openvino is not installed (pip install 'cnncc[bench]')")
    from cnncc.bench.contenders import make_contenders

    path = tiny_cnn(tmp_path / "tiny.onnx")
    feeds = _feeds()
    expected = _expected(path, feeds)
    f32, default = make_contenders([], ["openvino", "openvino-default"])
    p = f32.prepare(onnx.load(path), {}, feeds, 1)
    assert p.name == "openvino"
    np.testing.assert_allclose(p.outputs["y"], expected, rtol=1e-4, atol=1e-4)
    p = default.prepare(onnx.load(path), {}, feeds, 1)
    assert p.name.startswith("openvino-default (") and p.name.endswith(")")
    precision = p.name[len("openvino-default ("):-1]
    assert precision in ("f32", "bf16", "f16")
    np.testing.assert_allclose(p.outputs["y"], expected, rtol=5e-2, atol=5e-2 * float(np.abs(expected).max()))


def test_onnxruntime_runs_with_and_without_spinning(tmp_path):
    from cnncc.bench.contenders import make_contenders

    path = tiny_cnn(tmp_path / "tiny.onnx")
    feeds = _feeds()
    expected = _expected(path, feeds)
    default, nospin, alias = make_contenders([], ["onnxruntime", "onnxruntime-nospin", "ort"])
    assert (default.name, nospin.name, alias.name) == ("onnxruntime", "onnxruntime-nospin", "onnxruntime")
    assert default.spinning and not nospin.spinning
    for contender in (default, nospin):
        p = contender.prepare(onnx.load(path), {}, feeds, 2)
        assert p.name == contender.name
        np.testing.assert_allclose(p.outputs["y"], expected, rtol=1e-4, atol=1e-4)


def test_bench_rejects_bad_options(tmp_path, capsys):
    model = tiny_cnn(tmp_path / "tiny.onnx")
    assert main(["bench", model, "--threads", "0"]) == 2
    assert "--threads '0'" in capsys.readouterr().err
    assert main(["bench", model, "--against", "nonsense"]) == 2
    assert main(["bench"]) == 2


def test_unknown_peer_is_one_line_naming_the_choices(tmp_path, capsys):
    model = tiny_cnn(tmp_path / "tiny.onnx")
    assert main(["bench", model, "--against", "onnxruntime,bogus"]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert "--against 'bogus'" in line
    for name in ("onnxruntime", "onnxruntime-nospin", "openvino", "openvino-default", "tvm", "reference"):
        assert name in line
    assert captured.out == ""


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


# -- the schedule: alternating blocks with a pause, on a fake clock --------------------------
class FakeClock:
    """Time moves only when a fake contender runs (by its cost) or the schedule sleeps."""

    def __init__(self):
        self.now = 0.0
        self.log = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.log.append(("pause", seconds))
        self.now += seconds

    def contender(self, name, cost):
        def run():
            self.log.append(name)
            self.now += cost
            return {}

        return run


def _turns(log):
    """The log as turns: (contender, calls in the turn), pauses as ("pause", seconds)."""
    turns = []
    for entry in log:
        if isinstance(entry, tuple):
            turns.append(entry)
        elif turns and turns[-1][0] == entry:
            turns[-1] = (entry, turns[-1][1] + 1)
        else:
            turns.append((entry, 1))
    return turns


def test_schedule_alternates_blocks_and_flips_the_order():
    from cnncc.bench.schedule import Schedule, run_blocks

    clock = FakeClock()
    runs = [clock.contender("a", 1.0), clock.contender("b", 2.0), clock.contender("c", 3.0)]
    blocks = []
    times = run_blocks(runs, 12, Schedule(runs_per_block=5, warm_per_block=1, pause_s=0.1), clock=clock,
                       sleep=clock.sleep, on_block=lambda block, calls: blocks.append((block, calls)))
    pause = ("pause", 0.1)
    # blocks of 5, 5 and the 2 left, each turn 1 warm call + the timed ones; order flips per block
    assert _turns(clock.log) == [
        ("a", 6), pause, ("b", 6), pause, ("c", 6), pause,
        ("c", 6), pause, ("b", 6), pause, ("a", 6), pause,
        ("a", 3), pause, ("b", 3), pause, ("c", 3),
    ]
    assert blocks == [(1, 5), (2, 5), (3, 2)]
    # timed calls only, each timed by the clock around it (no pause, no warm call inside)
    assert times == [pytest.approx([1.0] * 12), pytest.approx([2.0] * 12), pytest.approx([3.0] * 12)]


def test_schedule_with_one_contender_does_not_pause_and_warmup_comes_first():
    from cnncc.bench.schedule import Schedule, run_blocks

    clock = FakeClock()
    times = run_blocks([clock.contender("a", 1.0)], 3, Schedule(runs_per_block=5, warm_per_block=1), warmup=2,
                       clock=clock, sleep=clock.sleep)
    assert clock.log == ["a"] * (2 + 1 + 3)
    assert times == [[1.0] * 3]


def test_schedule_min_time_runs_full_blocks_until_each_contender_had_its_time():
    from cnncc.bench.schedule import Schedule, run_blocks

    clock = FakeClock()
    runs = [clock.contender("a", 1.0), clock.contender("b", 1.0)]
    # 2 contenders x 14 s: each block takes 2 x 6 s of calls (+ pauses), so 3 blocks
    times = run_blocks(runs, 1, Schedule(runs_per_block=5, warm_per_block=1, pause_s=0.5), min_time_s=14.0,
                       clock=clock, sleep=clock.sleep)
    assert [len(t) for t in times] == [15, 15]
    assert [entry for entry in _turns(clock.log) if entry[0] != "pause"] == [("a", 6), ("b", 6)] + [("b", 6), ("a", 6)] + [("a", 6), ("b", 6)]
    assert clock.log.count(("pause", 0.5)) == 5


def test_run_case_times_every_contender_the_same_number_of_calls(tmp_path):
    from cnncc.bench.contenders import Prepared
    from cnncc.bench.measure import run_case
    from cnncc.bench.schedule import Schedule

    class Fake:
        def __init__(self, name):
            self.name, self.calls = name, 0

        def prepare(self, model, input_shapes, feeds, threads):
            def run():
                self.calls += 1
                return {"y": np.zeros(1, np.float32)}

            return Prepared(self.name, run, 0.0)

    fakes = [Fake("cnncc-fake"), Fake("peer")]
    advanced = []
    case = run_case("m", None, {}, {}, fakes, 1, 1, 0, None, None, warmup=1, repeat=7,
                    on_run=advanced.append, schedule=Schedule(runs_per_block=5, warm_per_block=1, pause_s=0.0))
    assert [len(r.times_s) for r in case.results] == [7, 7]
    assert [f.calls for f in fakes] == [1 + 2 + 7] * 2  # --warmup, a warm call per block, the timed ones
    assert advanced == [5, 2]
    (ratio,) = case.ratios
    assert (ratio.contender, ratio.peer, ratio.pairs) == ("cnncc-fake", "peer", 7)


def test_thread_scaling_pairs_each_model_with_its_own_one_thread_case():
    from cnncc.bench.measure import Case, Result
    from cnncc.bench.report import thread_scaling

    def case(model, threads, cnncc_s, peer_s, peer_status="ok"):
        results = [Result("cnncc-llvm", times_s=[cnncc_s]), Result("peer", status=peer_status, times_s=[peer_s] if peer_status == "ok" else [])]
        return Case(model, threads, 1, 0, results, [])

    # the same model given twice is two groups; a peer that failed at 2 threads has no row
    cases = [case("a", 1, 4.0, 8.0), case("a", 2, 2.0, 6.0), case("a", 1, 4.0, 8.0), case("a", 2, 3.0, 0.0, "failed: x"),
             case("b", 2, 1.0, 1.0)]
    rows = thread_scaling(cases)
    assert [(r["model"], r["contender"], r["threads"], r["ratio"]) for r in rows] == [
        ("a", "cnncc-llvm", 2, 0.5), ("a", "peer", 2, 0.75), ("a", "cnncc-llvm", 2, 0.75),
    ]
