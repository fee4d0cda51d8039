"""The llvm backend: a Graph becomes one LLVM module (llvmlite), JIT-compiled in process or
exported as a shared library with a C API.

    exe = build(graph, cpu=None, params=None, num_threads=None)
    exe.run({"x": x}) -> {"y": y};  exe.export("out/");  load("out/")

    tuning.tune(graph, db_dir="tuning"); build(graph, db_dir="tuning")   # tuned schedules

Schedules: a kernel reads its family's typed schedule (schedule.py; ``ConvSchedule`` beside
the conv kernels, ``GemmSchedule``, ...) through ``Kernel.schedule``: the family's defaults
for the target, then ``build(params=...)``, then the tuning record of its workload
(lowering.workload_key) for this CPU. ``cnncc tune MODEL --target llvm --db DIR`` measures candidates per workload
(tuning.py) into DIR/llvm.sqlite (records.py); ``cnncc compile --db DIR`` (or
$CNNCC_TUNING_DB, which ``cnncc bench`` builds also read) applies them.

Modules: target.py (which CPU), emit.py (IR helpers), lowering.py (op -> kernel table),
kernels/ (one file per op family), memory.py (arena plan), weights.py (weight blob),
codegen.py (kernels + entry), compile.py (verify + O3), runtime.py (JIT),
precision.py (what ``precision="auto"``/"bf16" means for the cpu; amx_permission.py: the
Linux permission request AMX code needs before it runs),
layout.py (which convs may keep tensors blocked, NHWC: the predicate the layout pass and the
conv kernel share), layout_pass.py (backend-layout, the pass this backend adds at -O3),
export.py (libmodel.so + model.h + weights.bin + meta.json), c/ (the C runtime),
tuning.py (per-workload schedule search) and records.py (its SQLite database).
"""

from __future__ import annotations

import os
import time

from cnncc import limits as size_limits
from cnncc.errors import UsageError
from cnncc.ir import Graph

from . import layout_pass, records
from .codegen import generate
from .compile import optimize_module
from .lowering import supported_ops  # noqa: F401
from .precision import resolve_precision
from .runtime import JitExecutable
from .schedule import ScheduleError, check_params
from .runtime import num_threads as check_threads
from .target import resolve_target


def passes(opt_level: int) -> list[str]:
    """The passes this backend adds after the generic pipeline of -O ``opt_level``: at -O3,
    NHWC storage between 1x1 convs (layout_pass.py, registered by importing this package)."""
    return [layout_pass.NAME] if opt_level >= 3 else []


def build(graph: Graph, cpu: str | None = None, params: dict | None = None, num_threads: int | None = None,
          db_dir=None, lazy: bool = False, precision: str = "fp32", **unknown) -> JitExecutable:
    """Compile ``graph`` for this process.

    ``cpu``: another LLVM cpu for the code (e.g. "x86-64-v3"; the JIT still runs it here).
    ``params``: schedule parameters (schedule.py: ``conv_ow_tile``, ...) and build flags.
    ``num_threads``: fixed thread count (default: $CNNCC_NUM_THREADS at each run, else all
    cores). ``db_dir``: a tuning records folder (tuning.py; default $CNNCC_TUNING_DB): each
    kernel whose workload has a record gets the record's parameters (over ``params``), the
    others the defaults. ``lazy``: optimize and JIT-load the code at its first run (for
    callers that may only export it). ``precision``: "fp32", "bf16" or "auto"
    (cnncc.precision; precision.py resolves it for the cpu, bf16 on a cpu without bf16
    arithmetic is a UsageError); ``gen.precision`` says what was chosen.
    """
    if unknown:
        raise UsageError(f"llvm backend: unknown option(s) {', '.join(sorted(unknown))} "
                         f"(known: cpu, params, num_threads, db_dir, lazy, precision)")
    try:
        params = check_params(params)
    except ScheduleError as exc:
        raise UsageError(f"llvm backend: {exc}") from None
    if num_threads is not None:
        check_threads(num_threads)  # refused now rather than at the first run
    limits = size_limits.current()
    size_limits.check_graph(graph, limits)  # a Graph built without the frontend's checks
    t0 = time.perf_counter()
    target = resolve_target(cpu)
    precision = resolve_precision(precision, target)
    if db_dir is None and os.environ.get("CNNCC_TUNING_DB", "").strip():
        db_dir = os.environ["CNNCC_TUNING_DB"].strip()
    schedules = records.schedules(db_dir, target) if db_dir is not None else None
    gen = generate(graph, target, params, schedules, precision=precision)
    size_limits.check_total("workspace", gen.workspace_size, graph.name, limits)
    size_limits.check_total("weights", gen.blob.size, graph.name, limits)
    tm = target.target_machine()
    llmod = None if lazy else optimize_module(gen, tm)
    t1 = time.perf_counter()
    exe = JitExecutable(graph, gen, llmod, tm, num_threads=num_threads)
    gen.timings["jit_s"] = time.perf_counter() - t1
    gen.timings["total_s"] = time.perf_counter() - t0
    return exe


def load(directory, meta: dict | None = None):
    """An exported model (libmodel.so + weights) loaded through its C API (``meta``: its
    meta.json, read again if not given)."""
    from .export import load_exported
    return load_exported(directory)
