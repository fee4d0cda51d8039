"""Which precision an llvm build computes in: ``--precision`` resolved against the cpu the
code is generated for (cnncc.precision names the choices); and, after code generation, which
kernels computed in it (``cnncc inspect --precision``)."""

from __future__ import annotations

from dataclasses import dataclass

from cnncc.errors import UsageError
from cnncc.ir import Graph
from cnncc.ops import count_macs
from cnncc.precision import AUTO, BF16, FP32, check_precision

from .bf16_rate import WORTH_IT, bf16_dot_speedup
from .codegen import GeneratedModule, generate
from .lowering import VIEW_OPS
from .memory import kernel_free_nodes
from .target import TargetInfo, resolve_target

# LLVM features that multiply bf16 at a rate fp32 cannot match: AMX tiles, AVX512 dot products
BF16_FEATURES = ("amx-bf16", "avx512bf16")


def accelerates_bf16(target: TargetInfo) -> bool:
    """Whether ``--precision bf16`` can be built for ``target`` at all."""
    return any(target.has_feature(f) for f in BF16_FEATURES)


def bf16_pays(target: TargetInfo) -> bool:
    """Whether cnncc's bf16 kernels are faster than fp32 on ``target``: what auto picks by.
    Only the vdpbf16ps kernels exist (no AMX tile kernel yet), so it is their rate over the
    fp32 FMA's (bf16_rate.py: measured on the host, a table for --cpu)."""
    return bf16_dot_speedup(target) >= WORTH_IT


def resolve_precision(precision: object, target: TargetInfo) -> str:
    """fp32 or bf16: ``precision`` for ``target``; auto picks bf16 where cnncc's bf16 kernels
    run faster than fp32 there. bf16 on a cpu without BF16_FEATURES is a UsageError naming
    them."""
    precision = check_precision(precision)
    if precision == AUTO:
        return BF16 if bf16_pays(target) else FP32
    if precision == BF16 and not accelerates_bf16(target):
        which = f"this host ({target.cpu})" if target.is_host else f"cpu {target.cpu}"
        raise UsageError(f"--precision bf16 needs a cpu with {' or '.join(BF16_FEATURES)}; {which} has neither; "
                         f"use --precision fp32 or auto, or --cpu for a cpu that has them (e.g. sapphirerapids)")
    return precision


@dataclass(frozen=True)
class KernelPrecision:
    """One kernel of a generated module: what it computes in, and the conversions it makes
    (activations are stored fp32 between kernels: a bf16 kernel rounds what it reads)."""

    node: str
    op: str
    algorithm: str
    precision: str
    macs: int
    conversions: tuple[str, ...]  # "x: fp32->bf16"


def kernel_precisions(graph: Graph, gen: GeneratedModule) -> list[KernelPrecision]:
    """Per kernel of ``gen`` (generated from ``graph``), in run order: the precision its
    lowering used (KernelInfo.precision) and the activations it converts on the way in
    (weights are packed at its precision at compile time). Nodes without a kernel (views,
    concats written in place) are not listed."""
    free = kernel_free_nodes(graph, VIEW_OPS)
    kernel_nodes = [n for n in graph.nodes if id(n) not in free]
    rows = []
    for node, k in zip(kernel_nodes, gen.kernels):
        data = [v for v in node.inputs if v is not None and not v.is_constant]
        # the reduced-precision kernels (conv_bf16.py) round the data they multiply, input 0;
        # a residual added in the epilogue stays fp32
        conv = (f"{data[0].name}: {FP32}->{k.precision}",) if k.precision != FP32 and data else ()
        macs = count_macs(node.op, [v.type for v in node.inputs if v is not None],
                          [v.type for v in node.outputs], node.attrs)
        rows.append(KernelPrecision(node.name, node.op, k.algorithm, k.precision, macs, conv))
    return rows


def precision_report(graph: Graph, cpu: str | None, precision: str) -> tuple[GeneratedModule, list[KernelPrecision]]:
    """Generate ``graph`` for ``cpu`` at ``precision`` (nothing is optimized or run) and say
    per kernel what it computes in: ``cnncc inspect --precision``."""
    target = resolve_target(cpu)
    gen = generate(graph, target, precision=resolve_precision(precision, target))
    return gen, kernel_precisions(graph, gen)
