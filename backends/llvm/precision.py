"""Which precision an llvm build computes in: ``--precision`` resolved against the cpu the
code is generated for (cnncc.precision names the choices); and, after code generation, which
kernels computed in it (``cnncc inspect --precision``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from cnncc.errors import UsageError
from cnncc.ir import Graph, Node, Value
from cnncc.ops import count_macs
from cnncc.precision import AUTO, BF16, FP32, check_precision

from .codegen import GeneratedModule, generate
from .lowering import VIEW_OPS
from .memory import kernel_free_nodes
from .target import TargetInfo, resolve_target

# LLVM features that multiply bf16 at a rate fp32 cannot match: AMX tiles, AVX512 dot products
BF16_FEATURES = ("amx-bf16", "avx512bf16")


def accelerates_bf16(target: TargetInfo) -> bool:
    return any(target.has_feature(f) for f in BF16_FEATURES)


def resolve_precision(precision: object, target: TargetInfo) -> str:
    """fp32 or bf16: ``precision`` for ``target``; auto picks bf16 where the cpu accelerates
    it. bf16 on a cpu without BF16_FEATURES is a UsageError naming them."""
    precision = check_precision(precision)
    if precision == AUTO:
        return BF16 if accelerates_bf16(target) else FP32
    if precision == BF16 and not accelerates_bf16(target):
        which = f"this host ({target.cpu})" if target.is_host else f"cpu {target.cpu}"
        raise UsageError(f"--precision bf16 needs a cpu with {' or '.join(BF16_FEATURES)}; {which} has neither; "
                         f"use --precision fp32 or auto, or --cpu for a cpu that has them (e.g. sapphirerapids)")
    return precision


@dataclass(frozen=True)
class KernelPrecision:
    """One kernel of a generated module: what it computes in, and where its operands change
    precision on the way in or out (graph inputs and outputs are fp32)."""

    node: str
    op: str
    algorithm: str
    precision: str
    macs: int
    conversions: tuple[str, ...]  # "x: fp32->bf16", "y: bf16->fp32 (output)"


def kernel_precisions(graph: Graph, gen: GeneratedModule) -> list[KernelPrecision]:
    """Per kernel of ``gen`` (generated from ``graph``), in run order: the precision its
    lowering used (KernelInfo.precision) and the conversions at its edges. A node without a
    kernel (a view, a concat written in place) passes its inputs' precision on."""
    free = kernel_free_nodes(graph, VIEW_OPS)
    kernel_nodes = [n for n in graph.nodes if id(n) not in free]
    info = dict(zip(map(id, kernel_nodes), gen.kernels))
    produced: dict[int, str] = {id(v): FP32 for v in graph.inputs}
    rows: dict[int, KernelPrecision] = {}
    for node in graph.nodes:
        # activations only: weights are packed for the kernel's precision at compile time
        data = [v for v in node.inputs if v is not None and not v.is_constant]
        ins = [produced.get(id(v), FP32) for v in data]
        k = info.get(id(node))
        if k is None:  # no kernel: storage shared with its inputs
            out = ins[0] if ins and len(set(ins)) == 1 else FP32
        else:
            out = k.precision
            conv = tuple(f"{v.name}: {p}->{out}" for v, p in zip(data, ins) if p != out)
            macs = count_macs(node.op, [v.type for v in node.inputs if v is not None],
                              [v.type for v in node.outputs], node.attrs)
            rows[id(node)] = KernelPrecision(node.name, node.op, k.algorithm, out, macs, conv)
        for v in node.outputs:
            produced[id(v)] = out
    # results leave as fp32: the last kernel before an output converts
    for v in graph.outputs:
        p = produced.get(id(v), FP32)
        producer = _kernel_behind(v, free)
        if p != FP32 and producer is not None and id(producer) in rows:
            r = rows[id(producer)]
            rows[id(producer)] = replace(r, conversions=r.conversions + (f"{v.name}: {p}->{FP32} (output)",))
    return [rows[id(n)] for n in kernel_nodes]


def _kernel_behind(v: Value, free: set[int]) -> Node | None:
    """The node whose kernel writes ``v`` (through views)."""
    node = v.producer
    while node is not None and id(node) in free:
        data = [u for u in node.inputs if u is not None and not u.is_constant]
        node = data[0].producer if data else None
    return node


def precision_report(graph: Graph, cpu: str | None, precision: str) -> tuple[GeneratedModule, list[KernelPrecision]]:
    """Generate ``graph`` for ``cpu`` at ``precision`` (nothing is optimized or run) and say
    per kernel what it computes in: ``cnncc inspect --precision``."""
    target = resolve_target(cpu)
    gen = generate(graph, target, precision=resolve_precision(precision, target))
    return gen, kernel_precisions(graph, gen)
