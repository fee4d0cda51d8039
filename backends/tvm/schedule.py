"""Default schedules (no tuning records): dlight rules on CUDA, light loop parallelism on CPU.

Every kernel leaves here scheduled and marked ``tirx.is_scheduled``; a kernel no rule can
schedule for CUDA is a BackendError naming it, never an unbound kernel that fails later.
"""

from __future__ import annotations

import tvm
from tvm.s_tir import dlight as dl

from cnncc.errors import BackendError


def _gpu_rules():
    return [dl.gpu.Matmul(), dl.gpu.GEMV(), dl.gpu.Reduction(), dl.gpu.GeneralReduction(), dl.gpu.Fallback()]


def mark_scheduled(func: tvm.tirx.PrimFunc) -> tvm.tirx.PrimFunc:
    return func.with_attr("tirx.is_scheduled", True)


def default_schedule(func: tvm.tirx.PrimFunc, target: tvm.target.Target, name: str = "", hint: str | None = None) -> tvm.tirx.PrimFunc:
    if target.kind.name == "cuda":
        return _cuda_default(func, target, name, hint)
    return mark_scheduled(_cpu_default(func))


def _cuda_default(func, target, name, hint=None):
    mod = tvm.IRModule({"main": func})
    rule_sets = [[dl.gpu.Fallback()]] if hint == "fallback" else [_gpu_rules(), [dl.gpu.Fallback()]]
    for rules in rule_sets:
        try:
            with target:
                out = dl.ApplyDefaultSchedule(*rules)(mod)["main"]
        except Exception as exc:  # noqa: BLE001 - try the next rule set, report at the end
            err = exc
            continue
        if "tirx.is_scheduled" in out.attrs:
            return out
        err = None
    raise BackendError(f"tvm backend: no default CUDA schedule for kernel {name}" + (f": {err}" if err else ""))


def _cpu_default(func):
    """Parallelize the outermost data-parallel loop of each top-level block, fuse the padding
    into its consumer. Good enough to run tests; meta_schedule does the real work."""
    sch = tvm.s_tir.Schedule(tvm.IRModule({"main": func}))
    root = sch.get_sblock("root")
    for block in sch.get_child_blocks(root):
        name = sch.get(block).name_hint
        if name.startswith("pad_temp"):
            try:
                sch.compute_inline(block)
            except Exception:  # noqa: BLE001 - keep it materialized
                pass
    for block in sch.get_child_blocks(sch.get_sblock("root")):
        loops = sch.get_loops(block)
        if not loops:
            continue
        iters = sch.get(block).iter_vars
        spatial = 0
        for iv in iters:
            if iv.iter_type != tvm.tirx.IterVar.DataPar:
                break
            spatial += 1
        spatial = min(spatial, len(loops))
        if spatial == 0:
            continue
        try:
            outer = sch.fuse(*loops[: min(spatial, 2)]) if spatial >= 2 else loops[0]
            sch.parallel(outer)
        except Exception:  # noqa: BLE001 - a block we cannot parallelize stays serial
            pass
    return sch.mod["main"]
