"""Assemble a Graph's kernels into one Relax module of ``call_tir``s and build it.

``main(inputs..., weights...)`` calls one scheduled PrimFunc per node; constants (and the
compile-time tables some kernels need) are parameters, not IR constants, so a model's
weights never pass through the IR and are kept on the device by the executable. The Relax
pipeline is the lowering half of TVM's own (no legalization or fusion: cnncc already chose
the kernels): views for reshapes, static memory planning, VM code.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np
import tvm
from tvm import relax

from cnncc.errors import BackendError
from cnncc.ir import Graph

from .lowering import Kernel, KernelCache, workload_key
from .schedule import default_schedule


@dataclass
class KernelReport:
    name: str
    op: str
    key: str
    nodes: int
    schedule: str  # "tuned" | "default" | "default (record slower)" | "fallback" (cuda rule failed)


@dataclass
class Assembly:
    mod: tvm.IRModule
    weights: list[np.ndarray]  # in parameter order after the graph inputs
    weight_names: list[str]
    outputs: list[str]  # graph output names computed by main, in its tuple order
    kernels: list[KernelReport] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    cache: KernelCache | None = None


def _ident(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", name)
    return s if s and not s[0].isdigit() else f"v_{s}"


def lower_graph(graph: Graph) -> KernelCache:
    cache = KernelCache()
    for node in graph.nodes:
        cache.get(node)
    return cache


def schedule_kernels(cache: KernelCache, target, records=None) -> dict[str, tuple[tvm.tirx.PrimFunc, str]]:
    """Scheduled PrimFunc per kernel name: the best tuning record if there is a usable one
    (see tuning.TuningRecords), else the default schedule, decided kernel by kernel."""
    out = {}
    for k in cache:
        func, how = None, "default"
        if records is not None:
            func, how = records.schedule(k, target)
        if func is None:
            func = default_schedule(k.func, target, k.name, k.schedule_hint)
        out[k.name] = (func.without_attr("global_symbol"), how)
    return out


def assemble(graph: Graph, target, records=None) -> Assembly:
    t0 = time.perf_counter()
    cache = lower_graph(graph)
    t1 = time.perf_counter()
    scheduled = schedule_kernels(cache, target, records)
    t2 = time.perf_counter()

    bb = relax.BlockBuilder()
    gvars = {}
    for k in cache:
        gvars[k.name] = bb.add_func(scheduled[k.name][0], k.name)

    params: list[relax.Var] = []
    env: dict[int, relax.Expr] = {}
    used = set()

    def fresh(stem: str) -> str:
        name, i = _ident(stem), 0
        while name in used:
            i += 1
            name = f"{_ident(stem)}_{i}"
        used.add(name)
        return name

    for v in graph.inputs:
        var = relax.Var(fresh(v.name), relax.TensorType(v.shape, v.dtype))
        params.append(var)
        env[id(v)] = var

    weights: list[np.ndarray] = []
    weight_names: list[str] = []

    def weight(name: str, data: np.ndarray) -> relax.Var:
        vname = fresh(name)
        var = relax.Var(vname, relax.TensorType(data.shape, str(data.dtype)))
        params.append(var)
        weights.append(np.asarray(data, order="C"))  # (ascontiguousarray makes 0-d arrays 1-d)
        weight_names.append(vname)
        return var

    for c in graph.constants:
        env[id(c)] = weight(c.name, c.data)
    table_vars: dict[str, list[relax.Var]] = {}
    for k in cache:
        table_vars[k.name] = [weight(f"{k.name}_table{i}", t) for i, t in enumerate(k.tables)]

    computed = [v for v in graph.outputs if not v.is_constant and not any(v is i for i in graph.inputs)]
    with bb.function("main", params):
        with bb.dataflow():
            for node in graph.nodes:
                k: Kernel = cache.by_key[workload_key(node)]
                args = [env[id(v)] for v in node.inputs] + table_vars[k.name]
                sinfo = [relax.TensorType(o.shape, o.dtype) for o in node.outputs]
                call = relax.call_tir(gvars[k.name], args, sinfo if len(sinfo) > 1 else sinfo[0])
                res = bb.emit(call)
                if len(sinfo) == 1:
                    env[id(node.outputs[0])] = res
                else:
                    for i, o in enumerate(node.outputs):
                        env[id(o)] = bb.emit(relax.TupleGetItem(res, i))
            result = bb.emit_output(relax.Tuple([env[id(v)] for v in computed]))
        bb.emit_func_output(result)
    mod = bb.get()
    t3 = time.perf_counter()
    reports = [KernelReport(k.name, k.op, k.key, len(k.nodes), scheduled[k.name][1]) for k in cache]
    return Assembly(
        mod,
        weights,
        weight_names,
        [v.name for v in computed],
        reports,
        {"lower": t1 - t0, "schedule": t2 - t1, "assemble": t3 - t2},
        cache,
    )


def relax_pipeline():
    return tvm.transform.Sequential(
        [
            relax.transform.RewriteDataflowReshape(),
            relax.transform.ToNonDataflow(),
            relax.transform.RemovePurityChecking(),
            relax.transform.CallTIRRewrite(),
            relax.transform.StaticPlanBlockMemory(),
            relax.transform.LowerAllocTensor(),
            relax.transform.KillAfterLastUse(),
            relax.transform.LowerRuntimeBuiltin(),
            relax.transform.ComputePrimValue(),
            relax.transform.VMShapeLower(),
            relax.transform.AttachGlobalSymbol(),
        ]
    )


def build_module(asm: Assembly, target, max_retries: int = 16) -> tvm.runtime.Executable:
    """tvm.compile the assembled module. Some rule-based GPU schedules only fail when lowered
    (e.g. a cross-thread reduction dlight chose for a grouped conv); TVM's error names the
    kernel, which is then rescheduled with the simple fallback rule and the build retried."""
    from .schedule import default_schedule

    for _ in range(max_retries + 1):
        try:
            return tvm.compile(asm.mod, target=target, relax_pipeline=relax_pipeline())
        except Exception as exc:  # noqa: BLE001 - report as a backend failure with TVM's message
            text = str(exc)
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            first = next((line for line in lines if "Error" in line), lines[0] if lines else repr(exc))
            failed = re.search(r'GlobalVar\("(\w+)"\)', text)
            report = next((k for k in asm.kernels if failed and k.name == failed.group(1)), None)
            if target.kind.name != "cuda" or report is None or report.schedule == "fallback" or asm.cache is None:
                raise BackendError(f"tvm backend: building for {target.kind.name} failed: {first}") from exc
            kernel = next(k for k in asm.cache if k.name == report.name)
            func = default_schedule(kernel.func, target, kernel.name, hint="fallback").without_attr("global_symbol")
            asm.mod[asm.mod.get_global_var(kernel.name)] = func
            report.schedule = "fallback"
    raise BackendError(f"tvm backend: building for {target.kind.name} failed after {max_retries} reschedules")

