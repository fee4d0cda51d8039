"""The lowering table: op name -> function that writes the node's kernel into a function.

A lowering receives a ``Kernel`` (the function being written, its buffer pointers and the
weight blob) and the node. An op without an entry is a compile-time UnsupportedOpError.
View ops (Reshape and friends) have no kernel: the memory plan aliases their output.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager

import numpy as np
from llvmlite import ir

from cnncc.backends.base import LoweringTable
from cnncc.ir import Node

from .emit import PTR, VOID, Emitter, llvm_type
from .schedule import ParallelSchedule, S
from .weights import Blob

LowerFn = Callable[["Kernel", Node], None]

# the first bytes of kernel scratch hold one work counter (own cache line) per parallel
# loop of a kernel; the entry zeroes them before each kernel. Later loops split statically.
MAX_COUNTERS = 8
COUNTER_BYTES = 64 * MAX_COUNTERS
# a run's status word sits in the cache line just before kernel scratch: a kernel that checks
# data it reads at run time (Gather's indices) stores an error code there instead of reading
# outside a tensor, and the entry returns it after that kernel (see codegen.generate)
STATUS_BYTES = 64
RUN_OK = 0
RUN_INDEX_ERROR = 6  # model.h: CNNCC_ERR_INDEX
TABLE = LoweringTable("llvm", "cnncc.backends.llvm.kernels", "compile it with --target reference, or report the op")
LOWERINGS: dict[str, LowerFn] = TABLE.functions
register = TABLE.register
lowering_for = TABLE.lookup

# ops whose output is the input's bytes under another shape: no code, same storage
VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})

def supported_ops() -> list[str]:
    return sorted(TABLE.ops() | VIEW_OPS)


class Kernel:
    """One node's kernel function ``void k(ptr out..., ptr in..., ptr tables, ptr scratch)``.

    Lowerings read buffers with ``inp(i)``/``out(i)``, put packed data into the weight blob
    with ``table(...)``, and distribute work with ``parallel_loop``; a kernel that called
    ``parallel_loop`` with enough work is run by the whole thread team.
    """

    def __init__(self, module: ir.Module, name: str, node: Node, blob: Blob, params: dict, target):
        self.node = node
        self.blob = blob
        self.params = params   # checked schedule parameters (schedule.check_params) for this kernel
        self._schedules: dict[type, object] = {}
        self.target = target
        n_out, n_in = len(node.outputs), len(node.inputs)
        fnty = ir.FunctionType(VOID, [PTR] * (n_out + n_in + 2))
        self.fn = ir.Function(module, fnty, name)
        self.fn.attributes.add("nounwind")
        self.fn.attributes.add("noinline")  # one call site each; inlining into the entry buys nothing
        self.fn.linkage = "internal"
        self.em = Emitter(self.fn)
        self._outs = self.fn.args[:n_out]
        self._ins = self.fn.args[n_out:n_out + n_in]
        self._tables = self.fn.args[-2]
        self._scratch = self.fn.args[-1]
        self.table_offsets: list[int] = []
        self.scratch_bytes = 0
        self.counters = 0
        self.used_inputs: set[int] = set()
        self.parallel = False
        self.work = 0
        self.algorithm = ""  # set by lowerings with a choice of algorithm (profiles show it)
        self.static_loops = False  # every parallel loop split by thread id (phases that hand data on)
        self.output_over_input: int | None = None  # see output_may_overwrite
        self.checks_data = False  # the kernel may report a run-time error (fail())
        # the build's arithmetic precision ("fp32", "bf16"): a kernel with a reduced-precision
        # algorithm for it may use it; every other kernel stays fp32
        self.precision = "fp32"
        # what this kernel computes in: a lowering that chose a reduced-precision algorithm
        # sets it ("bf16"); KernelInfo.precision reports it (cnncc inspect --precision)
        self.precision_used = "fp32"
        # cpu facilities the code needs from the runtime before it runs ("amx": the Linux
        # permission request for the AMX tile state); see GeneratedModule.requires
        self.requires: set[str] = set()

    # -- buffers -------------------------------------------------------------------------
    def out(self, i: int = 0) -> ir.Value:
        return self._outs[i]

    def inp(self, i: int) -> ir.Value:
        self.used_inputs.add(i)
        return self._ins[i]

    def in_shape(self, i: int) -> tuple[int, ...]:
        return self.node.inputs[i].shape

    def out_shape(self, i: int = 0) -> tuple[int, ...]:
        return self.node.outputs[i].shape

    def in_type(self, i: int) -> ir.Type:
        return llvm_type(self.node.inputs[i].dtype)

    def out_type(self, i: int = 0) -> ir.Type:
        return llvm_type(self.node.outputs[i].dtype)

    def const_input(self, i: int) -> np.ndarray | None:
        """The input's data when it is a compile-time constant."""
        v = self.node.inputs[i]
        return v.data if v.is_constant else None

    def table(self, key, array: np.ndarray) -> ir.Value:
        """A pointer to ``array`` (packed at compile time) inside the weight blob. The kernel
        reads it from its table argument, so nodes that differ only in their data share
        one kernel function."""
        self.table_offsets.append(self.blob.add(key, array))
        slot = self.em.b.gep(self._tables, [ir.Constant(ir.IntType(64), len(self.table_offsets) - 1)],
                             source_etype=PTR)
        return self.em.b.load(slot, typ=PTR)

    def scratch(self, nbytes: int) -> ir.Value:
        """Workspace only this kernel uses while it runs (the same bytes for every kernel),
        after the work counters of its parallel loops; each call gets its own 64-byte
        aligned region."""
        offset = self.scratch_bytes
        self.scratch_bytes = offset + (int(nbytes) + 63) // 64 * 64
        return self.em.b.gep(self._scratch, [ir.Constant(ir.IntType(64), COUNTER_BYTES + offset)],
                             source_etype=ir.IntType(8), inbounds=True)

    def fail(self, code: int) -> None:
        """Record a run-time error (``RUN_INDEX_ERROR``...) in the run's status word; the
        entry stops after this kernel and returns it. The kernel must then write nothing
        it was not sure of: it is the caller's contract that failed, not ours."""
        self.checks_data = True
        status = self.em.b.gep(self._scratch, [ir.Constant(ir.IntType(64), -STATUS_BYTES)],
                               source_etype=ir.IntType(8))
        # several threads may fail at once; each writes the same code
        self.em.b.atomic_rmw("xchg", status, ir.Constant(ir.IntType(32), code), "monotonic")

    def output_may_overwrite(self, i: int) -> None:
        """Declare that the kernel reads each element of input ``i`` before it writes the same
        element of output 0 and reads no other element of it: the memory plan may then give
        the output that input's storage (memory.py)."""
        self.output_over_input = i

    # -- scheduling ----------------------------------------------------------------------
    def schedule(self, family: type[S]) -> S:
        """This kernel's schedule of ``family`` (schedule.py): the family's defaults for the
        target, with the kernel's parameters applied."""
        s = self._schedules.get(family)
        if s is None:
            s = self._schedules[family] = family.for_target(self.target).with_params(self.params)
        return s

    def is_parallel(self, total: int, work_per_item: int) -> bool:
        return total > 1 and total * work_per_item >= self.schedule(ParallelSchedule).min_work

    @contextmanager
    def parallel_loop(self, total: int, work_per_item: int = 1, name: str = "t", static: bool = False):
        """for t in range(total), split across threads when the work is large enough.
        Everything a parallel kernel writes must be written inside such loops. ``static``:
        split by thread id, without a work counter; required inside a runtime loop, since
        a counter is zeroed only once per kernel call and would be spent after one trip."""
        # Every loop splits by thread id (outside a team that is the whole range), so that
        # all phases of a kernel agree on who writes what; the kernel runs on the team
        # when any of its loops has enough work.
        self.parallel |= self.is_parallel(total, work_per_item)
        self.work += total * work_per_item
        if not (static or self.static_loops) and self.counters < MAX_COUNTERS:  # chunks from a shared counter
            counter = self.em.b.gep(self._scratch, [ir.Constant(ir.IntType(64), 64 * self.counters)],
                                    source_etype=ir.IntType(8), inbounds=True)
            self.counters += 1
            with self.em.dynamic_loop(total, counter, name=name) as t:
                yield t
        else:
            with self.em.parallel_loop(total, True, name=name) as t:
                yield t

    def barrier(self) -> None:
        """Wait for the whole team between dependent phases (a no-op outside a team)."""
        self.em.barrier()

    def finish(self) -> None:
        # buffers never overlap, except an output and the input it may overwrite
        shared = {0, len(self._outs) + self.output_over_input} if self.output_over_input is not None else set()
        for j, a in enumerate(self.fn.args[:len(self._outs) + len(self._ins)]):
            if j not in shared:
                a.add_attribute("noalias")
        self.em.finish()


def workload_key(node: Node) -> str:
    """A stable text naming what a node's kernel computes (op, every attribute in full, operand
    types and which inputs are constants): the tuning records' key. Nodes with equal keys get
    the same schedule, also across models."""
    attrs = ",".join(f"{k}={node.attrs[k]!r}" for k in node.attrs)
    ins = ",".join(f"{v.dtype}{list(v.shape)}{'c' if v.is_constant else ''}" for v in node.inputs)
    outs = ",".join(f"{v.dtype}{list(v.shape)}" for v in node.outputs)
    return f"{node.op}({ins})->({outs}){{{attrs}}}"


def kernel_key(node: Node):
    """Nodes with equal keys get identical kernels (only their buffers and tables differ)."""
    return (node.op, node.attrs,
            tuple((v.shape, v.dtype, v.is_constant) for v in node.inputs),
            tuple((v.shape, v.dtype) for v in node.outputs))
