"""LLVM IR text -> verified, optimized llvmlite module (new pass manager, O3)."""

from __future__ import annotations

import time

import llvmlite.binding as llvm
from llvmlite.binding.newpassmanagers import NewPassManager

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
        # A pass builder per module, not one reused: llvmlite's run registers callbacks of a
        # StandardInstrumentations that lives on its stack with the builder's callbacks, so a
        # second run through the same builder would call into freed memory. Each builder leaks
        # its PassInstrumentationCallbacks (~2 KiB; llvmlite's dispose does not delete it).
        pb = llvm.create_pass_builder(tm, pto)
        mpm = pb.getModulePassManager()
        try:
            mpm.run(mod, pb)
        finally:
            free_module_pass_manager(mpm)
            pb.close()
            pto.close()
    gen.timings["parse_s"] = t1 - t0
    gen.timings["optimize_s"] = time.perf_counter() - t1
    gen.timings["ir_chars"] = len(text)
    return mod


def free_module_pass_manager(mpm) -> None:
    """Delete the C++ pipeline behind ``mpm`` now.

    llvmlite 0.50's ``ModulePassManager(ffi.ObjectRef, NewPassManager)`` never frees it: its
    MRO finds ``ObjectRef._dispose`` (a no-op) before ``NewPassManager._dispose`` (which calls
    ``LLVMPY_DisposeNewModulePassManger``), so ``close()``/``__del__`` only forget the pointer,
    and every compile kept the O3 pipeline and what its passes accumulated while running
    (about 145 KiB of heap, scripts/llvm_compile_memory.py). Disposing through ``NewPassManager`` and then detaching is right whether or
    not a later llvmlite fixes the MRO (detach stops a second delete)."""
    if mpm.closed:
        return
    try:
        NewPassManager._dispose(mpm)
    finally:
        mpm.detach()
