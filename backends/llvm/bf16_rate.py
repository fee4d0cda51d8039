"""How much faster a cpu multiplies bf16 than fp32 with the instructions cnncc's bf16 kernels
use (vdpbf16ps): what ``--precision auto`` decides with.

vdpbf16ps does twice the multiply-adds of an fp32 FMA per instruction, but cpus issue it at
different rates: AMD Zen 4 and 5 as often as an FMA (2x the fp32 rate), Intel's Cooper Lake
and Sapphire Rapids family on one port against the FMA's two (1x: bf16 buys nothing but
rounding error there). On the host the rate is measured (a register-only loop of each
instruction, a few milliseconds); a named cpu (``--cpu``) is looked up in a table.
"""

from __future__ import annotations

import ctypes
import functools
import time

import llvmlite.binding as llvm

from .target import TargetInfo

# vdpbf16ps throughput over the 512-bit FMA's, in multiply-adds, of named cpus
NAMED_SPEEDUP = {"znver4": 2.0, "znver5": 2.0, "cooperlake": 1.0, "sapphirerapids": 1.0, "emeraldrapids": 1.0,
                 "graniterapids": 1.0, "diamondrapids": 1.0}
# what auto asks of bf16 before it gives up fp32's accuracy
WORTH_IT = 1.4

_CHAINS = 12
_ITERATIONS = 400_000


def _loop_ir(dot: bool) -> str:
    if dot:
        decl = "declare <16 x float> @llvm.x86.avx512bf16.dpbf16ps.512(<16 x float>, <32 x bfloat>, <32 x bfloat>)"
        step = "call <16 x float> @llvm.x86.avx512bf16.dpbf16ps.512(<16 x float> %c{i}, <32 x bfloat> %pa, <32 x bfloat> %pb)"
    else:
        decl = "declare <16 x float> @llvm.fma.v16f32(<16 x float>, <16 x float>, <16 x float>)"
        step = "call <16 x float> @llvm.fma.v16f32(<16 x float> %a, <16 x float> %b, <16 x float> %c{i})"
    phis = "\n".join(f"  %c{i} = phi <16 x float> [zeroinitializer, %entry], [%n{i}, %loop]" for i in range(_CHAINS))
    steps = "\n".join(f"  %n{i} = " + step.format(i=i) for i in range(_CHAINS))
    sums, total = [], "%n0"
    for i in range(1, _CHAINS):
        sums.append(f"  %s{i} = fadd <16 x float> {total}, %n{i}")
        total = f"%s{i}"
    return f"""{decl}
define float @probe(i64 %n, float %x) {{
entry:
  %v = insertelement <16 x float> undef, float %x, i32 0
  %a = shufflevector <16 x float> %v, <16 x float> undef, <16 x i32> zeroinitializer
  %b = fmul <16 x float> %a, %a
  %pa = bitcast <16 x float> %a to <32 x bfloat>
  %pb = bitcast <16 x float> %b to <32 x bfloat>
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%i1, %loop]
{phis}
{steps}
  %i1 = add i64 %i, 1
  %done = icmp eq i64 %i1, %n
  br i1 %done, label %exit, label %loop
exit:
{chr(10).join(sums)}
  %r = extractelement <16 x float> {total}, i32 0
  ret float %r
}}
"""


def _seconds(target: TargetInfo, dot: bool) -> float:
    module = llvm.parse_assembly(_loop_ir(dot))
    module.verify()
    engine = llvm.create_mcjit_compiler(module, target.target_machine(opt=3))
    engine.finalize_object()
    probe = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_int64, ctypes.c_float)(engine.get_function_address("probe"))
    probe(10_000, 1e-3)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        probe(_ITERATIONS, 1e-6)
        best = min(best, time.perf_counter() - t0)
    return best


@functools.cache
def _measured(target: TargetInfo) -> float:
    # per instruction: 32 multiply-adds for vdpbf16ps, 16 for the FMA
    return 2.0 * _seconds(target, dot=False) / _seconds(target, dot=True)


def bf16_dot_speedup(target: TargetInfo) -> float:
    """vdpbf16ps's multiply-add rate over the fp32 FMA's on ``target`` (0 without AVX512-BF16):
    measured on the host, else from NAMED_SPEEDUP (1.0 for a cpu not in it)."""
    if not target.has_feature("avx512bf16"):
        return 0.0
    if target.is_host:
        return _measured(target)
    return next((s for name, s in NAMED_SPEEDUP.items() if target.cpu.startswith(name)), 1.0)
