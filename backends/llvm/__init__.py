"""The llvm backend: a Graph becomes one LLVM module (llvmlite), JIT-compiled in process or
exported as a shared library with a C API.

    exe = build(graph, cpu=None, params=None, num_threads=None)
    exe.run({"x": x}) -> {"y": y};  exe.export("out/");  load("out/")

Modules: target.py (which CPU), emit.py (IR helpers), lowering.py (op -> kernel table),
kernels/ (one file per op family), memory.py (arena plan), weights.py (weight blob),
codegen.py (kernels + entry), compile.py (verify + O3), runtime.py (JIT),
export.py (libmodel.so + model.h + weights.bin + meta.json), c/ (the C runtime).
"""

from __future__ import annotations

import time

from cnncc.ir import Graph

from cnncc.errors import UsageError

from .codegen import generate
from .compile import optimize_module
from .lowering import DEFAULT_PARAMS, supported_ops  # noqa: F401
from .runtime import JitExecutable
from .target import resolve_target


def build(graph: Graph, cpu: str | None = None, params: dict | None = None, num_threads: int | None = None,
          db_dir=None, **unknown) -> JitExecutable:
    """Compile ``graph`` for this process.

    ``cpu``: another LLVM cpu for the code (e.g. "x86-64-v3"; the JIT still runs it here).
    ``params``: schedule parameters over ``lowering.DEFAULT_PARAMS`` (tile sizes, ...).
    ``num_threads``: fixed thread count (default: $CNNCC_NUM_THREADS at each run, else all
    cores). ``db_dir``: tuning records; the llvm backend has no tuner yet and ignores it.
    """
    if unknown:
        raise UsageError(f"llvm backend: unknown option(s) {', '.join(sorted(unknown))} "
                         f"(known: cpu, params, num_threads, db_dir)")
    unknown_params = set(params or {}) - set(DEFAULT_PARAMS) - {"profile"}
    if unknown_params:
        raise UsageError(f"llvm backend: unknown schedule parameter(s) {', '.join(sorted(unknown_params))}")
    t0 = time.perf_counter()
    target = resolve_target(cpu)
    gen = generate(graph, target, params)
    tm = target.target_machine()
    llmod = optimize_module(gen, tm)
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
