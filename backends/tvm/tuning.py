"""meta_schedule tuning of every distinct kernel workload into a JSON records database.

Layout of a records folder ``DB`` (shared by every model and every run)::

    DB/tvm/<target-key>/database_workload.json         meta_schedule: one line per workload
    DB/tvm/<target-key>/database_tuning_record.json    meta_schedule: one line per measured candidate
    DB/tvm/<target-key>/kernels.json                   cnncc: workload key -> kernel summary
    DB/tvm/<target-key>/logs/                          meta_schedule's logs

Records are keyed by workload (op, operand types, attributes: the kernel's PrimFunc is a
pure function of those), so a layer shape tuned for one model is reused by every model that
has it; the target key (``llvm-znver5``, ``cuda-sm_90``) keeps targets apart. ``build(...,
db_dir=DB)`` applies the best record of each kernel and falls back to the default schedule
per kernel.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cnncc.errors import BackendError, UsageError
from cnncc.ir import Graph

from .target import make_target, runtime_device, target_key

# kernels that are views or produce compile-time values: nothing to tune
UNTUNED_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "ConstantOfShape", "Shape", "Size", "Range"})

ProgressFn = Callable[[int, int, str], None]
_HAVE_XGB = importlib.util.find_spec("xgboost") is not None


@dataclass
class KernelTuning:
    kernel: str
    op: str
    workload: str
    nodes: int
    trials: int  # measured candidates in the database for this workload
    best_seconds: float | None
    default_seconds: float | None
    speedup: float | None  # default / best, when both were measured
    reused: bool  # records were already in the database: not tuned again
    tune_seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def database_dir(db_dir: str | Path, target) -> Path:
    """Records live in ``db_dir/tvm/<target-key>/``: keyed by workload inside, by target outside."""
    return Path(db_dir) / "tvm" / target_key(target)


class TuningRecords:
    """The records of one target, as ``build`` uses them: per kernel, the best record's
    schedule, unless the tuner measured it slower than the default schedule."""

    def __init__(self, path: Path):
        from tvm.s_tir import meta_schedule as ms

        self.path = path
        self.db = ms.database.JSONDatabase(work_dir=str(path), allow_missing=False)
        index = path / "kernels.json"
        self.index = json.loads(index.read_text()) if index.exists() else {}

    def schedule(self, kernel, target):
        """(scheduled PrimFunc or None, how): how is "tuned", "default" (no usable record) or
        "default (record slower)"."""
        import tvm
        from tvm.s_tir import meta_schedule as ms

        speedup = self.index.get(kernel.key, {}).get("speedup")
        if speedup is not None and speedup < 1.0:
            return None, "default (record slower)"
        try:
            sch = ms.tir_integration.compile_tir(self.db, tvm.IRModule({"main": kernel.func}), target)
        except Exception:  # noqa: BLE001 - a record that no longer replays: use the default
            return None, "default"
        if sch is None:
            return None, "default"
        return sch.mod["main"].with_attr("tirx.is_scheduled", True), "tuned"


def open_database(db_dir: str | Path, target) -> TuningRecords | None:
    path = database_dir(db_dir, target)
    if not (path / "database_workload.json").exists():
        return None
    return TuningRecords(path)


def tune(
    graph: Graph,
    device: str = "cpu",
    trials: int = 64,
    db_dir: str | Path = "tuning",
    progress: ProgressFn | None = None,
    *,
    arch: str | None = None,
    retune: bool = False,
    runner=None,
    seed: int = 0,
) -> list[KernelTuning]:
    """Tune every distinct kernel of ``graph`` for ``device`` ("cpu" or "cuda") with up to
    ``trials`` measured candidates each; records go to ``db_dir`` (see the module doc).

    Workloads already in the database are reused, not tuned again (``retune=True`` adds
    ``trials`` more). ``progress(done, total, kernel_name)`` is called after each measured
    batch with the trials measured so far and the trials planned. ``runner``: a meta_schedule Runner (e.g. an RPCRunner to a GPU host);
    default: measure on this machine, which for cuda needs a GPU here.
    Returns one KernelTuning per kernel, in graph order.
    """
    import tvm
    from tvm.s_tir import meta_schedule as ms

    from .module import lower_graph
    from .prepare import prepare
    from .schedule import default_schedule

    if trials < 1:
        raise UsageError(f"--trials must be at least 1, got {trials}")
    target = make_target(device, arch=arch, num_cores=1 if device == "cpu" else None)
    dev = runtime_device(target)
    if runner is None and not dev.exist:
        raise UsageError(
            f"tuning for {device} measures on a {device} device and there is none here; "
            "pass an RPC runner to a GPU host, or tune --target tvm-llvm"
        )
    if device == "cuda":
        from .cuda import prefer_nvcc_jit

        prefer_nvcc_jit()  # the runner loads each candidate's CUDA source
    work_dir = database_dir(db_dir, target)
    work_dir.mkdir(parents=True, exist_ok=True)
    db = ms.database.JSONDatabase(work_dir=str(work_dir))
    index_path = work_dir / "kernels.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}

    kernels = [k for k in lower_graph(prepare(graph, device)) if k.op not in UNTUNED_OPS]
    workloads = {k.name: db.commit_workload(tvm.IRModule({"main": k.func})) for k in kernels}
    todo = [k for k in kernels if retune or not db.get_top_k(workloads[k.name], 1)]
    t0 = time.perf_counter()
    if todo:
        # one tuning session for all kernels: builder/runner processes start once
        callbacks = list(ms.measure_callback.MeasureCallback.create("default"))
        if progress:
            callbacks.append(_progress_callback(ms, progress, [k.name for k in sorted(todo, key=lambda k: k.name)], trials))
        _quiet_meta_schedule_logger()
        try:
            ms.tune_tir(
                tvm.IRModule({k.name: k.func for k in todo}),
                target,
                work_dir=str(work_dir),
                max_trials_global=trials * len(todo),
                max_trials_per_task=trials,
                num_trials_per_iter=min(trials, 64),
                builder=_in_process_builder(ms),
                runner=runner or _local_runner(ms),
                database=db,
                # without xgboost there is no learned cost model to guide an evolutionary
                # search: sample the design space instead (much cheaper per trial)
                cost_model="xgb" if _HAVE_XGB else "random",
                strategy="evolutionary" if _HAVE_XGB else "replay-trace",
                measure_callbacks=callbacks,
                task_scheduler="round-robin",
                num_tuning_cores=1,
                seed=seed,
            )
        except Exception as exc:  # noqa: BLE001 - reported with what was being tuned
            raise BackendError(f"tvm backend: tuning {len(todo)} kernel(s) for {target_key(target)} failed: {exc}") from exc
    tune_s = time.perf_counter() - t0
    results: list[KernelTuning] = []
    for k in kernels:
        records = db.get_top_k(workloads[k.name], 1 << 30)  # measured candidates, best first
        best_s = _mean(records[0].run_secs) if records else None
        default_s = index.get(k.key, {}).get("default_seconds")
        if default_s is None and dev.exist:
            default_s = measure(default_schedule(k.func, target, k.name, k.schedule_hint), target, dev)
        result = KernelTuning(
            kernel=k.name,
            op=k.op,
            workload=k.key,
            nodes=len(k.nodes),
            trials=len(records),
            best_seconds=best_s,
            default_seconds=default_s,
            speedup=(default_s / best_s) if (best_s and default_s) else None,
            reused=k not in todo,
            tune_seconds=round(tune_s / max(len(todo), 1), 3) if k in todo else 0.0,
        )
        results.append(result)
        index[k.key] = {key: v for key, v in result.as_dict().items() if key not in ("reused", "tune_seconds", "nodes")}
    index_path.write_text(json.dumps(index, indent=1))
    return results


def _quiet_meta_schedule_logger() -> None:
    """Console output of meta_schedule at WARNING (its full logs still go to DB/.../logs/).
    Handlers left by an earlier tuning session in this process are dropped: meta_schedule
    re-lists them by name when it configures logging again, and fails on unnamed ones."""
    logger = logging.getLogger("tvm.s_tir.meta_schedule")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(logging.WARNING)


def _progress_callback(ms, progress: ProgressFn, task_names: list[str], trials: int):
    """Reports (trials measured so far, trials planned, kernel) after each measured batch."""
    from tvm.ir.utils import derived_object

    total = trials * len(task_names)
    state = {"done": 0}

    @derived_object
    class Progress(ms.measure_callback.PyMeasureCallback):
        def apply(self, task_scheduler, task_id, measure_candidates, builder_results, runner_results):
            state["done"] = min(state["done"] + len(runner_results), total)
            name = task_names[task_id] if 0 <= task_id < len(task_names) else ""
            progress(state["done"], total, name)

    return Progress()


def _mean(xs) -> float:
    return float(np.mean([float(x) for x in xs]))


def _in_process_builder(ms):
    """meta_schedule's own build and export, without its per-batch worker processes (each
    fresh worker re-imports TVM: seconds per candidate on a small machine)."""
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.builder.local_builder import default_build, default_export

    @derived_object
    class InProcessBuilder(ms.builder.PyBuilder):
        def build(self, build_inputs):
            results = []
            for item in build_inputs:
                try:
                    with warnings.catch_warnings():  # default_build calls the deprecated tvm.build
                        warnings.simplefilter("ignore", DeprecationWarning)
                        path = default_export(default_build(item.mod, item.target, None))
                    results.append(ms.builder.BuilderResult(path, None))
                except Exception as exc:  # noqa: BLE001 - a candidate that does not build
                    results.append(ms.builder.BuilderResult(None, f"{type(exc).__name__}: {exc}"))
            return results

    return InProcessBuilder()


def _local_runner(ms):
    return ms.runner.LocalRunner(evaluator_config=ms.runner.EvaluatorConfig(number=3, repeat=1, min_repeat_ms=0))


def measure(func, target, dev, number: int = 5) -> float:
    """Mean seconds of one scheduled PrimFunc on ``dev``, on random data (zeros for ints,
    which keeps index inputs in range)."""
    import tvm
    from tvm.s_tir.meta_schedule.arg_info import ArgInfo

    ex = tvm.compile(tvm.IRModule({"main": func.with_attr("global_symbol", "main")}), target=target)
    rng = np.random.default_rng(0)
    args = []
    for info in ArgInfo.from_prim_func(func):
        shape = [int(d) for d in info.shape]
        dtype = str(info.dtype)
        data = rng.standard_normal(shape).astype(dtype) if dtype.startswith("float") else np.zeros(shape, dtype)
        args.append(tvm.runtime.tensor(data, dev))
    timer = ex.mod.time_evaluator("main", dev, number=number, repeat=1)
    return float(timer(*args).mean)


def summary_table(results: list[KernelTuning]) -> list[dict]:
    """Rows for a CLI table: kernel, op, trials, best/default microseconds, speed-up."""
    rows = []
    for r in results:
        rows.append(
            {
                "kernel": r.kernel,
                "op": r.op,
                "nodes": r.nodes,
                "trials": r.trials,
                "best_us": None if r.best_seconds is None else round(r.best_seconds * 1e6, 1),
                "default_us": None if r.default_seconds is None else round(r.default_seconds * 1e6, 1),
                "speedup": None if r.speedup is None else round(r.speedup, 2),
                "reused": r.reused,
            }
        )
    return rows

