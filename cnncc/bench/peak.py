"""The machine's fp32 peak, measured with a vector-FMA probe at each bench; the best seen is cached.

The probe is an LLVM loop of independent FMAs on the widest vectors the host supports
(enough accumulators to cover FMA latency on every current x86 core), JIT-compiled with
llvmlite and timed on one thread; the cache key is the CPU name and feature string.
"""

from __future__ import annotations

import ctypes
import json
import time
from dataclasses import asdict, dataclass

from cnncc.zoo import cache_dir

ACCUMULATORS = 12
ITERATIONS = 20_000_000


@dataclass
class Peak:
    gflops_per_core: float
    cpu: str
    vector_bits: int
    method: str
    best_seen_gflops_per_core: float = 0.0   # the best this CPU has shown (cached across runs)

    def gflops(self, threads: int) -> float:
        return self.gflops_per_core * max(threads, 1)


def host_cpu() -> tuple[str, str, int]:
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    name = llvm.get_host_cpu_name()
    features = llvm.get_host_cpu_features().flatten()
    bits = 512 if "+avx512f" in features else 256 if "+avx" in features else 128
    return name, features, bits


def _probe_ir(lanes: int) -> str:
    acc = [f"%a{i}" for i in range(ACCUMULATORS)]
    vt = f"<{lanes} x float>"
    splat = lambda v: f"<{', '.join([f'float {v}'] * lanes)}>"  # noqa: E731
    lines = [
        f"declare {vt} @llvm.fma.v{lanes}f32({vt}, {vt}, {vt})",
        "define float @probe(i64 %n) {",
        "entry:",
        "  br label %loop",
        "loop:",
        "  %i = phi i64 [0, %entry], [%i.next, %loop]",
    ]
    for k, a in enumerate(acc):
        lines.append(f"  {a} = phi {vt} [{splat(float(k + 1))}, %entry], [{a}.next, %loop]")
    for a in acc:
        lines.append(f"  {a}.next = call {vt} @llvm.fma.v{lanes}f32({vt} {a}, {vt} {splat('0x3FEFFFFFE0000000')}, {vt} {splat('0x3F50624DE0000000')})")
    lines += [
        "  %i.next = add i64 %i, 1",
        "  %done = icmp eq i64 %i.next, %n",
        "  br i1 %done, label %exit, label %loop",
        "exit:",
    ]
    total = f"{acc[0]}.next"
    for k, a in enumerate(acc[1:]):
        lines.append(f"  %s{k} = fadd {vt} {total}, {a}.next")
        total = f"%s{k}"
    lines += [f"  %r = extractelement {vt} {total}, i32 0", "  ret float %r", "}"]
    return "\n".join(lines)


def measure_peak() -> Peak:
    import llvmlite.binding as llvm

    name, features, bits = host_cpu()
    lanes = bits // 32
    target = llvm.Target.from_triple(llvm.get_process_triple())
    tm = target.create_target_machine(cpu=name, features=features, opt=3)
    module = llvm.parse_assembly(_probe_ir(lanes))
    module.verify()
    engine = llvm.create_mcjit_compiler(module, tm)
    engine.finalize_object()
    probe = ctypes.CFUNCTYPE(ctypes.c_float, ctypes.c_int64)(engine.get_function_address("probe"))
    probe(100_000)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        probe(ITERATIONS)
        best = min(best, time.perf_counter() - t0)
    flops = 2.0 * lanes * ACCUMULATORS * ITERATIONS
    return Peak(
        gflops_per_core=flops / best / 1e9,
        cpu=name,
        vector_bits=bits,
        method=f"{ACCUMULATORS} independent {bits}-bit FMA chains x {ITERATIONS:,} iterations, best of 5, 1 thread",
    )


def machine_peak() -> Peak:
    """This CPU's peak, measured now (a fraction of a second), so that "% of peak" compares
    kernels with what the core reaches under the same conditions: on a shared host the
    boost clock moves (here 256 to 288 GFLOP/s per core over one day). The best value
    seen is cached and reported next to it."""
    name, features, _ = host_cpu()
    path = cache_dir() / "peak.json"
    cached = {}
    if path.is_file():
        try:
            cached = json.loads(path.read_text())
        except json.JSONDecodeError:
            cached = {}
    key = f"{name}|{features}"
    peak = measure_peak()
    best = max(peak.gflops_per_core, float(cached.get(key, {}).get("gflops_per_core", 0.0)))
    peak.best_seen_gflops_per_core = best
    if best == peak.gflops_per_core:
        cached[key] = {k: v for k, v in asdict(peak).items() if k != "best_seen_gflops_per_core"}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(cached, indent=1))
        tmp.replace(path)
    return peak
