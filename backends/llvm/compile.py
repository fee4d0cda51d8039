"""LLVM IR text -> verified, optimized llvmlite module (new pass manager, O3)."""

from __future__ import annotations

import time

import llvmlite.binding as llvm

from cnncc.errors import BackendError

from .codegen import GeneratedModule
from .schedule import BUILD_FLAGS
from .target import init_llvm


def optimize_module(gen: GeneratedModule, tm, opt_level: int = 3):
    # (opt_level is LLVM's; the graph-level -O levels are the pass manager's business)
    """Parse, verify and optimize; returns the llvmlite ModuleRef. Timings go into gen.timings."""
    init_llvm()
    gen.ir_module.data_layout = str(tm.target_data)
    t0 = time.perf_counter()
    text = str(gen.ir_module)
    try:
        mod = llvm.parse_assembly(text)
        mod.verify()
    except RuntimeError as exc:
        raise BackendError(f"llvm: generated IR does not verify (a cnncc bug): {exc}") from exc
    t1 = time.perf_counter()
    if opt_level > 0:
        pto = llvm.create_pipeline_tuning_options(speed_level=min(opt_level, 3))
        pto.loop_vectorization = True
        pto.slp_vectorization = True
        pto.loop_unrolling = bool(gen.params.get("llvm_unroll", BUILD_FLAGS["llvm_unroll"]))
        pto.loop_interleaving = True
        pb = llvm.create_pass_builder(tm, pto)
        pb.getModulePassManager().run(mod, pb)
    gen.timings["parse_s"] = t1 - t0
    gen.timings["optimize_s"] = time.perf_counter() - t1
    gen.timings["ir_chars"] = len(text)
    return mod
