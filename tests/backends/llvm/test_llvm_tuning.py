"""Tuning: per-workload schedules, the SQLite records, builds that apply them.
Tiny workloads and few trials; no timed assertions."""

import json
import sqlite3
import warnings

import numpy as np
import pytest

from cnncc.backends.llvm import records, tuning
from cnncc.backends.llvm.codegen import generate
from cnncc.backends.llvm.compile import optimize_module
from cnncc.backends.llvm.runtime import JitExecutable
from cnncc.backends.reference import interpret
from cnncc.backends.llvm.lowering import workload_key
from cnncc.backends.llvm.kernels.conv_schedule import ConvSchedule, fits_registers
from cnncc.backends.llvm.schedule import default_params
from cnncc.backends.llvm.target import resolve_target
from cnncc.errors import CnnccNote
from cnncc.ir import Graph, Node, TensorType, Value

from llvm_helpers import check, const, op_graph

RNG = np.random.default_rng(7)


def conv_graph(c=8, m=16, hw=10, k=3, group=1, relu=False):
    x = RNG.standard_normal((1, c, hw, hw)).astype(np.float32)
    w = RNG.standard_normal((m, c // group, k, k)).astype(np.float32)
    return op_graph("Conv", [x, const(w)], {"kernel_shape": (k, k), "pads": (k // 2,) * 4, "strides": (1, 1), "dilations": (1, 1), "group": group})


def two_conv_graph():
    """conv(8->16) -> conv(16->16) -> conv(16->16) same shape as the second: 2 workloads, 3 nodes."""
    x = Value("x", TensorType((1, 8, 9, 9), "float32"))
    vals = [x]
    nodes = []
    for i, (c, m) in enumerate([(8, 16), (16, 16), (16, 16)]):
        w = Value.constant(f"w{i}", RNG.standard_normal((m, c, 3, 3)).astype(np.float32))
        y = Value(f"y{i}", TensorType((1, m, 9, 9), "float32"))
        nodes.append(Node("Conv", [vals[-1], w], [y], {"kernel_shape": (3, 3), "pads": (1, 1, 1, 1), "strides": (1, 1),
                                                        "dilations": (1, 1), "group": 1}, name=f"conv{i}"))
        vals.append(y)
    g = Graph([x], [vals[-1]], nodes)
    g.validate()
    return g, {"x": RNG.standard_normal((1, 8, 9, 9)).astype(np.float32)}


def test_workload_key_is_stable_and_distinguishes_shapes():
    g1, _ = conv_graph(hw=10)
    g2, _ = conv_graph(hw=10)
    g3, _ = conv_graph(hw=12)
    assert workload_key(g1.nodes[0]) == workload_key(g2.nodes[0])
    assert workload_key(g1.nodes[0]) != workload_key(g3.nodes[0])


def test_candidates_start_with_default_and_respect_registers():
    g, _ = conv_graph()
    for cpu in (None, "x86-64-v3"):
        target = resolve_target(cpu)
        cands = tuning.candidates(g.nodes[0], target)
        assert cands[0] == {} and len(cands) > 1
        assert len({tuple(sorted(c.items())) for c in cands}) == len(cands)
        tiles = 0
        for c in cands:
            full = {**default_params(target), **c}
            if full["conv_ow_tile"]:
                tiles += 1
                assert fits_registers(full["conv_ow_tile"], full["conv_oc_vectors"], target.vector_registers)
        assert tiles
        # the tuner's candidates are the family's space, as parameters over the default
        default = ConvSchedule.for_target(target)
        assert [default.with_params(c) for c in cands] == list(dict.fromkeys(ConvSchedule.space(g.nodes[0], target)))


def test_records_round_trip(tmp_path):
    target = resolve_target(None)
    rec = records.Record("Conv(w)->(y){a=1}", "Conv", {"conv_ow_tile": 4, "conv_oc_vectors": 1}, 10.0, 12.5, 5, 1)
    with records.RecordsDB(tmp_path, target) as db:
        db.put(rec)
    with records.RecordsDB(tmp_path, target, create=False) as db:
        assert db.get(rec.workload) == rec
        assert db.get("other") is None
    assert records.schedules(tmp_path, target) == {rec.workload: rec.params}
    assert rec.schedule(target) == ConvSchedule.for_target(target).with_params(rec.params)
    with sqlite3.connect(tmp_path / records.FILENAME) as conn:
        (stored,), = conn.execute("SELECT params FROM records").fetchall()
    assert json.loads(stored) == {"schema": records.SCHEMA, "family": "conv", "params": rec.params}
    # another cpu does not see them
    assert records.schedules(tmp_path, resolve_target("x86-64-v3")) == {}
    # a record slower than the default is not applied
    with records.RecordsDB(tmp_path, target) as db:
        db.put(records.Record("slow", "Conv", {"conv_ow_tile": 2}, 20.0, 10.0, 3, 1))
    assert "slow" not in records.schedules(tmp_path, target)


def test_no_records_means_defaults(tmp_path):
    g, feeds = conv_graph()
    exe = check(g, feeds, db_dir=tmp_path / "empty")
    assert all(k.schedule == {} for k in exe.generated.kernels)


def test_tune_then_build_uses_records(tmp_path):
    g, feeds = two_conv_graph()
    seen = []
    results = tuning.tune(g, trials=4, db_dir=tmp_path, progress=lambda d, t, k: seen.append((d, t, k)))
    assert len(results) == 2 and [r.nodes for r in results] == [1, 2]
    assert seen and seen[-1][0] == seen[-1][1] == 8
    for r in results:
        assert not r.reused and r.trials == 4
        assert r.best_us <= r.default_us  # the default is a candidate
    rows = tuning.summary_table(results)
    assert set(rows[0]) == {"kernel", "op", "nodes", "trials", "best_us", "default_us", "speedup", "reused"}

    # force a non-default record for the first workload, then build: it is applied
    forced = {"conv_ow_tile": 2, "conv_oc_vectors": 1}
    target = resolve_target(None)
    with records.RecordsDB(tmp_path, target) as db:
        stored = {r.workload: db.get(r.workload) for r in results}
        assert all(stored[r.workload].params == r.params for r in results)
        db.put(records.Record(results[0].workload, "Conv", forced, 1.0, 2.0, 1, 1))
    exe = check(g, feeds, db_dir=tmp_path)
    by_node = {k.node_name: k for k in exe.generated.kernels}
    assert by_node["conv0"].schedule == forced
    assert by_node["conv1"].schedule == by_node["conv2"].schedule == (results[1].params if results[1].best_us <= results[1].default_us else {})

    # tuning again reuses the records
    again = tuning.tune(g, trials=4, db_dir=tmp_path)
    assert all(r.reused for r in again)


@pytest.mark.parametrize("kind", ["depthwise", "grouped", "pointwise"])
def test_every_candidate_is_correct(kind, tmp_path):
    """Each schedule in the space computes the same conv (checked against the reference)."""
    if kind == "depthwise":
        g, feeds = conv_graph(c=16, m=16, group=16, hw=9)
    elif kind == "grouped":
        g, feeds = conv_graph(c=16, m=32, group=4, hw=7)
    else:
        g, feeds = conv_graph(c=16, m=32, k=1, hw=7)
    target = resolve_target(None)
    key = workload_key(g.nodes[0])
    cands = tuning.candidates(g.nodes[0], target)
    want = interpret(g, feeds)
    for c in cands[:: max(1, len(cands) // 6)] + cands[-3:]:
        exe = _build_with(g, {key: c})
        assert exe.generated.kernels[0].schedule == c
        got = exe.run(feeds)
        for n in want:
            np.testing.assert_allclose(got[n], want[n], rtol=1e-3, atol=1e-4, err_msg=str(c))


def _build_with(g, schedules):
    target = resolve_target(None)
    gen = generate(g, target, None, schedules)
    tm = target.target_machine()
    return JitExecutable(g, gen, optimize_module(gen, tm), tm)


def test_budget_stops_early(tmp_path):
    g, _ = two_conv_graph()
    results = tuning.tune(g, trials=64, db_dir=tmp_path, budget_s=0.0)
    # out of time before the first workload: nothing measured, nothing recorded
    assert [r.trials for r in results] == [0, 0] and all(r.best_us is None for r in results)
    assert records.schedules(tmp_path, resolve_target(None)) == {}
    assert tuning.summary_table(results)[0]["speedup"] is None


def _tiny_onnx(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(RNG.standard_normal((8, 4, 3, 3)).astype(np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1, 1, 1, 1])
    graph = helper.make_graph([node], "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 6, 6])], [w])
    model = tmp_path / "conv.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(model))
    return model


def cli(*args):
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "cnncc.cli", *args], capture_output=True, text=True, env=env)


def _insert(db_dir, workload, op, params_json, target=None, best_us=1.0, default_us=2.0):
    """A row written by hand, as another (older, newer, broken) cnncc may have left it."""
    target = target or resolve_target(None)
    records.RecordsDB(db_dir, target).close()  # the file and its table
    with sqlite3.connect(db_dir / records.FILENAME) as conn:
        conn.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (workload, target.cpu, target.features, op, params_json, best_us, default_us, 3, 1, 0.0))


def test_old_and_foreign_records_are_ignored_with_a_note(tmp_path):
    g, feeds = conv_graph()
    key = workload_key(g.nodes[0])
    db = tmp_path / "db"
    bad = {
        key: ("Conv", json.dumps({"conv_schedule": "direct"})),                      # an older cnncc's name
        "w1": ("Conv", json.dumps({"schema": 2, "family": "conv", "params": {"conv_ow_tile": "eight"}})),
        "w2": ("Conv", json.dumps({"schema": 2, "family": "pool9", "params": {}})),  # a family gone
        "w3": ("Conv", json.dumps({"schema": 2, "family": "gemm", "params": {"gemm_row_block": 2}})),
        "w4": ("Conv", json.dumps({"gemm_row_block": 2})),                           # another family's field
        "w5": ("Conv", json.dumps({"schema": 2, "family": "conv", "params": {"conv_winograd_tile": 3}})),
        "w6": ("Conv", json.dumps({"schema": 99, "family": "conv", "params": {}})),  # a newer cnncc
        "w7": ("Conv", "not json"),
    }
    for w, (op, text) in bad.items():
        _insert(db, w, op, text)
    _insert(db, "old-but-valid", "Conv", json.dumps({"conv_ow_tile": 2, "conv_oc_vectors": 1}))
    target = resolve_target(None)
    with pytest.warns(CnnccNote, match=r"ignored 8 tuning records in .*db \(written by an older cnncc: "
                                       r"unknown schedule parameter conv_schedule; .*\)") as notes:
        assert records.schedules(db, target) == {"old-but-valid": {"conv_ow_tile": 2, "conv_oc_vectors": 1}}
    assert len(notes) == 1 and "\n" not in str(notes[0].message)
    with records.RecordsDB(db, target) as rdb:
        with pytest.warns(CnnccNote, match="ignored 1 tuning record in"):
            assert rdb.get(key) is None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert rdb.get("old-but-valid").params == {"conv_ow_tile": 2, "conv_oc_vectors": 1}
    # a build with the records works, with the default schedule for the workload
    with pytest.warns(CnnccNote, match="ignored 8 tuning records"):
        exe = check(g, feeds, db_dir=db)
    assert exe.generated.kernels[0].schedule == {}
    # tuning measures the workload again and replaces its record
    with pytest.warns(CnnccNote, match="ignored 8 tuning records"):
        results = tuning.tune(g, trials=2, db_dir=db)
    assert not results[0].reused and results[0].trials == 2
    with records.RecordsDB(db, target) as rdb:
        assert rdb.get(key) is not None


def test_cli_notes_ignored_records(tmp_path):
    model = _tiny_onnx(tmp_path)
    db = tmp_path / "db"
    _insert(db, "Conv(some old workload)", "Conv", json.dumps({"conv_schedule": "direct", "conv_ow_tile": 4}))
    proc = cli("compile", str(model), "--target", "llvm", "--db", str(db), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines == [f"note: ignored 1 tuning record in {db} (written by an older cnncc: "
                     f"unknown schedule parameter conv_schedule)"], proc.stderr


def test_cli_tune_then_compile(tmp_path):
    """`cnncc tune --target llvm` writes records that `cnncc compile --db` builds with."""
    model = _tiny_onnx(tmp_path)
    db = tmp_path / "db"
    proc = cli("tune", str(model), "--target", "llvm", "--db", str(db), "--trials", "3")
    assert proc.returncode == 0, proc.stderr
    assert "conv" in proc.stdout and (db / "llvm.sqlite").exists()
    proc = cli("compile", str(model), "--target", "llvm", "--db", str(db), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr


def test_export_of_tuned_winograd_and_padded_kernels(tmp_path):
    """Records and new schedules survive export: the shared library gets the scratch they
    need (Winograd's transformed tensors) and computes the same outputs."""
    x = Value("x", TensorType((1, 32, 14, 14), "float32"))
    w1 = Value.constant("w1", RNG.standard_normal((32, 32, 3, 3)).astype(np.float32) * 0.1)
    w2 = Value.constant("w2", RNG.standard_normal((20, 32, 1, 1)).astype(np.float32) * 0.1)
    y1 = Value("y1", TensorType((1, 32, 14, 14), "float32"))
    y2 = Value("y2", TensorType((1, 20, 14, 14), "float32"))
    conv = {"kernel_shape": (3, 3), "pads": (1, 1, 1, 1), "strides": (1, 1), "dilations": (1, 1), "group": 1}
    pw = {"kernel_shape": (1, 1), "pads": (0, 0, 0, 0), "strides": (1, 1), "dilations": (1, 1), "group": 1}
    g = Graph([x], [y2], [Node("Conv", [x, w1], [y1], conv, name="c3"), Node("Conv", [y1, w2], [y2], pw, name="c1")])
    feeds = {"x": RNG.standard_normal((1, 32, 14, 14)).astype(np.float32)}
    target = resolve_target(None)
    with records.RecordsDB(tmp_path / "db", target) as db:
        db.put(records.Record(workload_key(g.nodes[0]), "Conv", {"conv_algorithm": "winograd"}, 1.0, 2.0, 2, 1))
    exe = check(g, feeds, db_dir=tmp_path / "db")
    assert exe.generated.kernels[0].schedule == {"conv_algorithm": "winograd"}
    exe.export(tmp_path / "out")
    from cnncc.backends import llvm
    got = llvm.load(tmp_path / "out").run(feeds)
    np.testing.assert_allclose(got["y2"], interpret(g, feeds)["y2"], rtol=1e-3, atol=1e-4)


def test_candidate_agreement_scales_with_the_output():
    from cnncc.backends.llvm.tuning import _agrees

    want = np.array([[100.0, -80.0, 0.0, 1e-3]], np.float32)
    assert _agrees(want + 5e-3, want)             # 5e-3 < 1e-4 * max|Y| = 1e-2
    assert not _agrees(want + 5e-2, want)
    small = np.array([0.5, 0.0], np.float32)
    assert not _agrees(small + 2e-4, small)        # atol never below 1e-4
    assert _agrees(np.array([np.nan, 1.0], np.float32), np.array([np.nan, 1.0], np.float32))
    assert not _agrees(np.array([1, 2]), np.array([1, 3]))
