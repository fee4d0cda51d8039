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
    """Per top-level block: reductions (conv, gemm, pooling) get the innermost output loop
    split and vectorized under the reduction loops (accumulating a row of outputs at once);
    the outermost data-parallel loops run in parallel. Enough to run tests at a sane speed;
    meta_schedule does the real work."""
    sch = tvm.s_tir.Schedule(tvm.IRModule({"main": func}))
    for block in sch.get_child_blocks(sch.get_sblock("root")):
        try:
            _cpu_block(sch, block)
        except Exception:  # noqa: BLE001 - a block this simple recipe does not fit stays as is
            pass
    return sch.mod["main"]


def _cpu_block(sch, block) -> None:
    loops = sch.get_loops(block)
    kinds = [iv.iter_type for iv in sch.get(block).iter_vars]
    if not loops or len(kinds) != len(loops):
        return
    n_spatial = next((i for i, k in enumerate(kinds) if k != tvm.tirx.IterVar.DataPar), len(kinds))
    if n_spatial == 0:
        return
    spatial, reduce = list(loops[:n_spatial]), list(loops[n_spatial:])
    if reduce and n_spatial >= 2:
        extent = int(sch.get(spatial[-1]).extent)
        vec = next((v for v in (16, 8, 4) if extent % v == 0 and extent > v), None)
        if vec is not None:
            outer, inner = sch.split(spatial[-1], [None, vec])
            sch.reorder(*spatial[:-1], outer, *reduce, inner)
            sch.decompose_reduction(block, reduce[0])
            sch.vectorize(inner)
            spatial = spatial[:-1] + [outer]
    par = sch.fuse(*spatial[:2]) if len(spatial) >= 2 else spatial[0]
    sch.parallel(par)
