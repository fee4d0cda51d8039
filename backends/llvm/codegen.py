"""Graph -> one LLVM module: a kernel function per node, plus the entry

    i32 cnncc_run(ptr inputs[], ptr outputs[], ptr workspace, ptr weights, i32 nthreads)

which calls the kernels in order, each on the pointers the memory plan gives its values, and
returns 0, or ``(kernel index + 1) << 8 | code`` when a kernel that checks run-time data
(Gather's indices) found it invalid: ``run_error`` decodes that.
A kernel with enough work runs on the thread team: ``GOMP_parallel(thunk, args, nthreads)``
(nthreads 0 = libgomp's default, all cores), else it is called directly.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from llvmlite import ir

from cnncc.backends.base import lowering_boundary
from cnncc.ir import Graph, Value

from .emit import I32, I64, I8, PTR, VOID, ITEMSIZE
from .lowering import COUNTER_BYTES, STATUS_BYTES, VIEW_OPS, Kernel, kernel_key, lowering_for, workload_key
from .memory import MemoryPlan, kernel_free_nodes, plan_memory
from .schedule import check_params
from .target import TargetInfo
from .weights import Blob

ENTRY = "cnncc_run"


@dataclass
class KernelInfo:
    name: str
    node_name: str
    op: str
    parallel: bool
    work: int
    workload: str = ""
    schedule: dict = field(default_factory=dict)   # parameters that differ from the model's
    algorithm: str = ""                            # what the lowering chose ("winograd", ...)
    precision: str = "fp32"                        # what the kernel computes in (Kernel.precision_used)


@dataclass
class GeneratedModule:
    ir_module: ir.Module
    plan: MemoryPlan
    blob: Blob
    kernels: list[KernelInfo]
    target: TargetInfo
    params: dict               # the build's schedule parameters and flags (not the defaults)
    timings: dict = field(default_factory=dict)
    workspace_size: int = 0    # the arena plus the largest kernel scratch
    precision: str = "fp32"    # the build's arithmetic precision (Kernel.precision)
    requires: frozenset = frozenset()  # runtime facilities the kernels need (Kernel.requires)

    @property
    def llvm_ir(self) -> str:
        return str(self.ir_module)


def _symbol(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)[:40]


def generate(graph: Graph, target: TargetInfo, params: dict | None = None,
             schedules: Mapping[str, dict] | None = None, precision: str = "fp32") -> GeneratedModule:
    """``params``: schedule parameters (schedule.py) and build flags for every kernel;
    ``schedules`` maps a workload key (lowering.workload_key) to parameters for that kernel
    only (tuning records), over ``params``; ``precision``: what the kernels may compute in
    (``Kernel.precision``)."""
    t0 = time.perf_counter()
    params = check_params(params)
    free = kernel_free_nodes(graph, VIEW_OPS)
    blob = Blob()
    mod = ir.Module(name=_symbol(graph.name) or "model")
    mod.triple = target.triple

    # 1. one kernel function per distinct non-view node (lowering errors name the node);
    # a node equal to an earlier one up to its data is lowered again only to pack its
    # tables, and calls the earlier function
    lowerings = [(n, lowering_for(n)) for n in graph.nodes if id(n) not in free]
    kernels: list[tuple[Kernel, KernelInfo]] = []
    seen: dict = {}
    for i, (node, lower) in enumerate(lowerings):
        key = kernel_key(node)
        first = seen.get(key)
        kname = f"k{i}_{_symbol(node.op)}"
        wkey = workload_key(node) if schedules else ""
        own = dict(schedules.get(wkey, {})) if schedules else {}
        k = Kernel(mod if first is None else ir.Module(), kname, node, blob, {**params, **own}, target)
        k.precision = precision
        with lowering_boundary("llvm", node):
            lower(k, node)
            k.finish()
        if first is None:
            seen[key] = k
        else:
            k.fn = first.fn
        kernels.append((k, KernelInfo(k.fn.name, node.name, node.op, k.parallel, k.work, wkey, own,
                                             k.algorithm, k.precision_used)))

    plan = plan_memory(graph, VIEW_OPS, {id(k.node): k.output_over_input for k, _ in kernels
                                         if k.output_over_input is not None})

    # 2. the entry
    fnty = ir.FunctionType(I32, [PTR, PTR, PTR, PTR, I32])
    entry = ir.Function(mod, fnty, ENTRY)
    entry.attributes.add("nounwind")
    ins_arg, outs_arg, ws_arg, wt_arg, nt_arg = entry.args
    b = ir.IRBuilder(entry.append_basic_block("entry"))
    gomp = ir.Function(mod, ir.FunctionType(VOID, [PTR, PTR, I32, I32]), "GOMP_parallel")
    max_args = max([len(k.node.inputs) + len(k.node.outputs) + 2 for k, _ in kernels] + [1])
    max_tables = max([len(k.table_offsets) for k, _ in kernels] + [1])
    tables = b.alloca(PTR, size=ir.Constant(I64, max_tables), name="tables")
    scratch_bytes = max([k.scratch_bytes for k, _ in kernels] + [0])
    status = b.gep(ws_arg, [ir.Constant(I64, plan.arena_size)], source_etype=I8, inbounds=True)
    scratch = b.gep(ws_arg, [ir.Constant(I64, plan.arena_size + STATUS_BYTES)], source_etype=I8, inbounds=True)
    if any(k.checks_data for k, _ in kernels):
        b.store(ir.Constant(I32, 0), status)
    memset = ir.Function(mod, ir.FunctionType(VOID, [PTR, I8, I64, ir.IntType(1)]), "llvm.memset.p0.i64")
    argbuf = b.alloca(PTR, size=ir.Constant(I64, max_args), name="args")
    serial = b.icmp_signed("==", nt_arg, ir.Constant(I32, 1))

    def pointer(v: Value, used: bool = True) -> ir.Value:
        loc = plan[v]
        p = base_pointer(loc, used)
        if loc.offset:
            p = b.gep(p, [ir.Constant(I64, loc.offset)], source_etype=I8, inbounds=True)
        return p

    def base_pointer(loc, used: bool) -> ir.Value:
        if loc.kind == "input":
            return b.load(b.gep(ins_arg, [ir.Constant(I64, loc.index)], source_etype=PTR), typ=PTR)
        if loc.kind == "output":
            return b.load(b.gep(outs_arg, [ir.Constant(I64, loc.index)], source_etype=PTR), typ=PTR)
        if loc.kind == "arena":
            return b.gep(ws_arg, [ir.Constant(I64, loc.index)], source_etype=I8, inbounds=True)
        if not used:  # a constant the kernel packed itself: no need to store the original
            return ir.Constant(PTR, None)
        off = blob.add(("const", id(loc.root)), loc.root.data)
        return b.gep(wt_arg, [ir.Constant(I64, off)], source_etype=I8, inbounds=True)

    profile = _Profiler(mod, b, len(kernels)) if params.get("profile") else None
    for ki, (k, info) in enumerate(kernels):
        node = k.node
        args = [pointer(o) for o in node.outputs]
        args += [pointer(v, used=i in k.used_inputs) for i, v in enumerate(node.inputs)]
        for j, off in enumerate(k.table_offsets):
            b.store(b.gep(wt_arg, [ir.Constant(I64, off)], source_etype=I8, inbounds=True),
                    b.gep(tables, [ir.Constant(I64, j)], source_etype=PTR))
        args += [tables, scratch]
        if k.counters:  # zero the work counters
            b.call(memset, [scratch, ir.Constant(I8, 0), ir.Constant(I64, 64 * k.counters),
                            ir.Constant(ir.IntType(1), 0)])
        start = profile.now() if profile else None
        if not info.parallel:
            b.call(k.fn, args)
        else:
            thunk = _thunk(mod, k.fn, len(args))
            for j, a in enumerate(args):
                b.store(a, b.gep(argbuf, [ir.Constant(I64, j)], source_etype=PTR))
            with b.if_else(serial) as (then, otherwise):
                with then:
                    b.call(k.fn, args)
                with otherwise:
                    b.call(gomp, [thunk, argbuf, nt_arg, ir.Constant(I32, 0)])
        if profile:
            profile.add(ki, start)
        if k.checks_data:
            code = b.load(status, typ=I32)
            with b.if_then(b.icmp_unsigned("!=", code, ir.Constant(I32, 0)), likely=False):
                b.ret(b.or_(code, ir.Constant(I32, (ki + 1) << 8)))

    # 3. outputs that are inputs, constants, views or repeated: copy at the end
    if plan.final_copies:
        memcpy = ir.Function(mod, ir.FunctionType(VOID, [PTR, PTR, I64, ir.IntType(1)]),
                             "llvm.memcpy.p0.p0.i64")
        for k_out, v in plan.final_copies:
            dst = b.load(b.gep(outs_arg, [ir.Constant(I64, k_out)], source_etype=PTR), typ=PTR)
            nbytes = v.type.numel * ITEMSIZE[v.dtype]
            b.call(memcpy, [dst, pointer(v), ir.Constant(I64, nbytes), ir.Constant(ir.IntType(1), 0)])
    b.ret(ir.Constant(I32, 0))

    return GeneratedModule(mod, plan, blob, [i for _, i in kernels], target, params,
                           {"codegen_s": time.perf_counter() - t0},
                           workspace_size=plan.arena_size + STATUS_BYTES + COUNTER_BYTES
                           + (scratch_bytes + 63) // 64 * 64,
                           precision=precision,
                           requires=frozenset().union(*(k.requires for k, _ in kernels)))


RUN_ERRORS = {6: "index out of range"}


def run_error(status: int, kernels: list[KernelInfo]) -> str:
    """The message for a non-zero ``cnncc_run`` status (the C runtime spells the same)."""
    ki, code = (status >> 8) - 1, status & 0xFF
    what = RUN_ERRORS.get(code, f"error {code}")
    if 0 <= ki < len(kernels):
        return f"node {kernels[ki].node_name!r} ({kernels[ki].op}): {what} at run time"
    return f"{what} at run time"


def _thunk(mod: ir.Module, fn: ir.Function, nargs: int) -> ir.Function:
    """void fn.omp(ptr args): unpack the argument array and call fn (GOMP_parallel's callback)."""
    existing = mod.globals.get(fn.name + "_omp")
    if existing is not None:
        return existing
    th = ir.Function(mod, ir.FunctionType(VOID, [PTR]), fn.name + "_omp")
    th.linkage = "internal"
    b = ir.IRBuilder(th.append_basic_block("entry"))
    vals = [b.load(b.gep(th.args[0], [ir.Constant(I64, j)], source_etype=PTR), typ=PTR) for j in range(nargs)]
    b.call(fn, vals)
    b.ret_void()
    return th


PROFILE_SYMBOL = "cnncc_profile_ns"


class _Profiler:
    """With params["profile"]: the entry adds each kernel's wall time (ns, CLOCK_MONOTONIC)
    to the global array ``cnncc_profile_ns[kernel]``."""

    def __init__(self, mod: ir.Module, b: ir.IRBuilder, n: int):
        self.b = b
        self.table = ir.GlobalVariable(mod, ir.ArrayType(I64, n), PROFILE_SYMBOL)
        self.table.initializer = ir.Constant(ir.ArrayType(I64, n), [0] * n)
        self.clock = ir.Function(mod, ir.FunctionType(I32, [I32, PTR]), "clock_gettime")
        self.ts = b.alloca(I64, size=ir.Constant(I64, 2), name="ts")

    def now(self) -> ir.Value:
        b = self.b
        b.call(self.clock, [ir.Constant(I32, 1), self.ts])  # CLOCK_MONOTONIC
        sec = b.load(self.ts, typ=I64)
        nsec = b.load(b.gep(self.ts, [ir.Constant(I64, 1)], source_etype=I64), typ=I64)
        return b.add(b.mul(sec, ir.Constant(I64, 1_000_000_000)), nsec)

    def add(self, i: int, start: ir.Value) -> None:
        b = self.b
        slot = b.gep(self.table, [ir.Constant(I64, 0), ir.Constant(I64, i)], source_etype=self.table.value_type)
        slot = b.inttoptr(b.ptrtoint(slot, I64), PTR)  # llvmlite's typed-pointer checks
        b.store(b.add(b.load(slot, typ=I64), b.sub(self.now(), start)), slot)
