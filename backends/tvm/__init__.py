"""The TVM backend: each node a TE compute -> PrimFunc, scheduled (default or tuned), all
kernels in one Relax module of call_tir's, built for ``cuda`` or TVM's LLVM CPU target.

    exe = build(graph, device="cuda", arch="sm_90", db_dir="tuning/")
    exe.cuda_source(); exe.export("out/");  load("out/", meta)

Files: lowering.py (the table, workload keys, kernel cache), kernels/ (the TE lowerings by
op family), schedule.py (default schedules), prepare.py (per-device graph adjustments),
module.py (Relax assembly and build),
cuda.py (nvcc: device code in the artifact), tuning.py (meta_schedule and the records
database), executable.py (run, inspect, export, load), target.py.
"""

from __future__ import annotations

import time
from pathlib import Path

from cnncc.ir import Graph

from .lowering import supported_ops  # noqa: F401


def passes(opt_level: int) -> list[str]:
    """The passes this backend adds to the generic pipeline: none. Its kernels compute on
    logical NCHW tensors, whatever storage the llvm backend's passes would choose."""
    return []


def build(
    graph: Graph,
    device: str = "cpu",
    arch: str | None = None,
    db_dir: str | Path | None = None,
    mcpu: str | None = None,
    device_code: bool | None = None,
    cpu: str | None = None,
    precision: str = "fp32",
    **options,
):
    """Compile ``graph`` for ``device`` ("cpu" or "cuda").

    db_dir: a tuning records folder (see tuning.py); kernels with a record use its best
    schedule, the others the default one. device_code (cuda): compile the kernels with nvcc
    into the artifact (default: when nvcc is on PATH). cpu (or mcpu): the LLVM CPU name for
    tvm-llvm (default: this machine's). precision: fp32 only for now ("auto" is fp32; bf16,
    and cuda fp16 later, are refused with a UsageError).
    """
    from .executable import TVMExecutable
    from .module import assemble, build_module
    from .prepare import prepare
    from cnncc.precision import fp32_only

    from .target import make_target
    from .tuning import open_database

    fp32_only(precision, "cuda" if device == "cuda" else "tvm-llvm")

    unknown = set(options) - {"emit_source", "opt_level"}
    if unknown:
        from cnncc.errors import UsageError

        raise UsageError(f"tvm backend: unknown build option(s) {sorted(unknown)}")
    target = make_target(device, arch=arch, mcpu=mcpu or cpu)
    records = open_database(db_dir, target) if db_dir else None
    asm = assemble(prepare(graph, device), target, records)
    t0 = time.perf_counter()
    ex = build_module(asm, target)
    asm.timings["compile"] = time.perf_counter() - t0
    code = {}
    if device == "cuda":
        from .cuda import attach_device_code

        t0 = time.perf_counter()
        ex, code = attach_device_code(ex, target, enabled=device_code)
        asm.timings["device_code"] = time.perf_counter() - t0
    return TVMExecutable(graph, target, device, ex, asm.weights, asm.outputs, asm.kernels, asm.timings, device_code=code)


def load(directory, meta: dict):
    from .executable import load_exported

    return load_exported(Path(directory), meta)
