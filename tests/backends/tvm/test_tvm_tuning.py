"""meta_schedule tuning on tvm-llvm: a tiny conv, a handful of trials, records read back and
applied by build(db_dir=...), reused by a second model with the same layer."""

import json

import numpy as np
import pytest

from cnncc.backends.reference import interpret
from tvm_graphs import GraphMaker, random_feeds

pytest.importorskip("tvm")
pytest.importorskip("cloudpickle")  # meta_schedule's runner needs it

from cnncc.backends import tvm as tvm_backend  # noqa: E402
from cnncc.backends.tvm.tuning import database_dir, summary_table, tune  # noqa: E402

TRIALS = 4


def tiny_conv(seed=0, extra_relu=False):
    rng = np.random.default_rng(seed)
    m = GraphMaker("tiny_conv")
    x = m.input((1, 8, 10, 10), name="x")
    w = m.const(rng.standard_normal((8, 8, 3, 3)).astype(np.float32) * 0.2)
    b = m.const(rng.standard_normal(8).astype(np.float32))
    y = m.op("FusedConv", x, w, b, kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1),
             epilogue=(("bias",), ("relu",)))
    if extra_relu:
        y = m.op("Sigmoid", y)
    return m.graph(y)


@pytest.fixture(scope="module")
def tuned_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("tuning")
    calls = []
    results = tune(tiny_conv(), "cpu", trials=TRIALS, db_dir=db, progress=lambda d, t, k: calls.append((d, t, k)))
    return db, results, calls


def test_tune_reports_every_kernel(tuned_db):
    db, results, calls = tuned_db
    (r,) = results
    assert r.op == "FusedConv" and not r.reused
    assert 1 <= r.trials <= TRIALS
    assert r.best_seconds > 0 and r.default_seconds > 0 and r.speedup == pytest.approx(r.default_seconds / r.best_seconds)
    assert calls and calls[-1][0] == calls[-1][1] == TRIALS
    (row,) = summary_table(results)
    assert row["kernel"] == r.kernel and row["trials"] == r.trials


def test_records_are_in_the_database(tuned_db):
    db, results, _ = tuned_db
    target = tvm_backend.build(tiny_conv(), device="cpu").target
    folder = database_dir(db, target)
    records = [json.loads(line) for line in (folder / "database_tuning_record.json").read_text().splitlines() if line]
    assert len(records) == results[0].trials
    index = json.loads((folder / "kernels.json").read_text())
    assert index[results[0].workload]["kernel"] == results[0].kernel


def _set_speedup(db, workload, speedup):
    target = tvm_backend.build(tiny_conv(), device="cpu").target
    path = database_dir(db, target) / "kernels.json"
    index = json.loads(path.read_text())
    index[workload]["speedup"] = speedup
    path.write_text(json.dumps(index))


def test_build_applies_the_records(tuned_db):
    db, results, _ = tuned_db
    _set_speedup(db, results[0].workload, 2.0)  # whatever this noisy machine measured
    g = tiny_conv()
    default = tvm_backend.build(g, device="cpu")
    tuned = tvm_backend.build(g, device="cpu", db_dir=db)
    assert [k.schedule for k in default.kernels] == ["default"]
    assert [k.schedule for k in tuned.kernels] == ["tuned"]
    assert default.host_source() != tuned.host_source()  # a different schedule, different code
    feeds = random_feeds(g)
    want = interpret(g, feeds)
    for name, ref in want.items():
        np.testing.assert_allclose(tuned.run(feeds)[name], ref, rtol=1e-3, atol=1e-4)


def test_record_measured_slower_than_default_is_not_used(tuned_db):
    db, results, _ = tuned_db
    _set_speedup(db, results[0].workload, 0.5)
    try:
        exe = tvm_backend.build(tiny_conv(), device="cpu", db_dir=db)
        assert [k.schedule for k in exe.kernels] == ["default (record slower)"]
    finally:
        _set_speedup(db, results[0].workload, 2.0)


def test_records_are_reused_across_models(tuned_db):
    db, results, _ = tuned_db
    other = tiny_conv(seed=5, extra_relu=True)  # same conv layer shape, other weights, one more op
    again = tune(other, "cpu", trials=1, db_dir=db)
    by_op = {r.op: r for r in again}
    assert by_op["FusedConv"].reused and by_op["FusedConv"].workload == results[0].workload
    assert not by_op["Sigmoid"].reused
    _set_speedup(db, results[0].workload, 2.0)
    exe = tvm_backend.build(other, device="cpu", db_dir=db)
    assert {k.op: k.schedule for k in exe.kernels}["FusedConv"] == "tuned"
    assert {k.op: k.schedule for k in exe.kernels}["Sigmoid"] in ("tuned", "default (record slower)")


def test_missing_database_falls_back_to_defaults(tmp_path):
    exe = tvm_backend.build(tiny_conv(), device="cpu", db_dir=tmp_path / "empty")
    assert [k.schedule for k in exe.kernels] == ["default"]


def test_cuda_tuning_without_gpu_is_a_clear_error(tmp_path):
    import tvm

    from cnncc.errors import UsageError

    if tvm.cuda(0).exist:
        pytest.skip("a GPU is present")
    with pytest.raises(UsageError, match="no.*cuda|there is none"):
        tune(tiny_conv(), "cuda", trials=1, db_dir=tmp_path)


def test_cuda_search_space_builds_without_gpu():
    """The GPU tiling space of a fused conv (+ max-pool) and sampled candidates build to CUDA C;
    measuring them needs a GPU (local runner) or an RPC runner."""
    from tvm.s_tir import meta_schedule as ms

    from cnncc.backends.tvm.module import lower_graph
    from cnncc.backends.tvm.target import make_target
    from cnncc.backends.tvm.tuning import _in_process_builder

    m = GraphMaker("conv_pool")
    x = m.input((1, 8, 12, 12), name="x")
    w = m.const(np.full((16, 8, 3, 3), 0.01, np.float32))
    y = m.op("FusedConv", x, w, kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1),
             epilogue=(("relu",), ("max_pool", (2, 2), (2, 2), (0, 0, 0, 0), 0)))
    (kernel,) = list(lower_graph(m.graph(y)))
    target = make_target("cuda", arch="sm_90")
    ctx = ms.TuneContext(mod=kernel.func, target=target, space_generator="post-order-apply",
                         search_strategy="replay-trace", task_name=kernel.name, num_threads=1)
    spaces = ctx.generate_design_space()
    assert spaces
    ctx.pre_tuning(max_trials=2, num_trials_per_iter=2, design_spaces=spaces)
    candidates = ctx.generate_measure_candidates()
    results = _in_process_builder(ms).build([ms.builder.BuilderInput(c.sch.mod, target) for c in candidates])
    assert results and all(r.error_msg is None for r in results), [r.error_msg for r in results]
