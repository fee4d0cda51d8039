"""The llvm backend: a Graph becomes one LLVM module (llvmlite), JIT-compiled in process or
exported as a shared library with a C API.

    exe = build(graph, cpu=None, opt_level=3, params=None, num_threads=None)
    exe.run({"x": x}) -> {"y": y};  exe.export("out/");  load("out/")

Modules: target.py (which CPU), emit.py (IR helpers), lowering.py (op -> kernel table),
kernels/ (one file per op family), memory.py (arena plan), weights.py (weight blob),
codegen.py (kernels + entry), compile.py (verify + O3), runtime.py (JIT),
export.py (libmodel.so + model.h + weights.bin + meta.json), c/ (the C runtime).
"""

from __future__ import annotations

import time

from cnncc.ir import Graph

from .codegen import generate
from .compile import optimize_module
from .lowering import supported_ops  # noqa: F401
from .runtime import JitExecutable
from .target import resolve_target


def build(graph: Graph, cpu: str | None = None, opt_level: int = 3, params: dict | None = None,
          num_threads: int | None = None, **_ignored) -> JitExecutable:
    """Compile ``graph`` for this process. ``cpu`` picks another LLVM cpu (e.g. "x86-64-v3")
    for the code; the JIT still needs the host to run it. ``params`` overrides tile sizes."""
    t0 = time.perf_counter()
    target = resolve_target(cpu)
    gen = generate(graph, target, params)
    tm = target.target_machine()
    llmod = optimize_module(gen, tm, opt_level=3 if opt_level is None else max(int(opt_level), 1))
    t1 = time.perf_counter()
    exe = JitExecutable(graph, gen, llmod, tm, num_threads=num_threads)
    gen.timings["jit_s"] = time.perf_counter() - t1
    gen.timings["total_s"] = time.perf_counter() - t0
    exe.opt_level = opt_level
    exe.cpu = cpu
    return exe


def load(directory, meta: dict | None = None):
    """An exported model (libmodel.so + weights) loaded through its C API (``meta``: its
    meta.json, read again if not given)."""
    from .export import load_exported
    return load_exported(directory)
