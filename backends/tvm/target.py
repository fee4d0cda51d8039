"""TVM targets for cnncc's devices: ``cpu`` (LLVM for the host CPU) and ``cuda`` (sm_XX).

TVM 0.27 takes targets as dicts. The CPU target always names the host CPU (a bare "llvm"
gives generic SSE code, and "native" is ignored). The CUDA target carries the limits
meta_schedule's GPU search space needs, so the same target serves building and tuning.
"""

from __future__ import annotations

import os

import tvm

from cnncc.errors import UsageError

DEVICES = ("cpu", "cuda")
DEFAULT_CUDA_ARCH = "sm_90"
CUDA_ARCHS = ("sm_70", "sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_90a", "sm_100", "sm_120")


def host_cpu() -> str:
    try:
        import llvmlite.binding as llvm

        name = llvm.get_host_cpu_name()
        if name and name != "generic":
            return name
    except Exception:  # noqa: BLE001 - fall back to generic code
        pass
    return "generic"


def make_target(device: str, arch: str | None = None, mcpu: str | None = None, num_cores: int | None = None) -> tvm.target.Target:
    if device == "cpu":
        spec = {"kind": "llvm", "mcpu": mcpu or host_cpu(), "num-cores": int(num_cores or os.cpu_count() or 1)}
        return tvm.target.Target(spec)
    if device == "cuda":
        arch = arch or DEFAULT_CUDA_ARCH
        if arch not in CUDA_ARCHS:
            raise UsageError(f"cuda arch {arch!r} is not one of {', '.join(CUDA_ARCHS)}")
        spec = {
            "kind": "cuda",
            "arch": arch,
            "max_shared_memory_per_block": 49152,
            "max_threads_per_block": 1024,
            "thread_warp_size": 32,
            "registers_per_block": 65536,
        }
        return tvm.target.Target(spec, host={"kind": "llvm", "mcpu": host_cpu()})
    raise UsageError(f"tvm backend: unknown device {device!r} (choose one of {', '.join(DEVICES)})")


def target_key(target: tvm.target.Target) -> str:
    """A folder name for the tuning records of ``target`` (records never mix targets)."""
    if target.kind.name == "cuda":
        return f"cuda-{target.arch}"
    return f"llvm-{target.attrs.get('mcpu', 'generic')}"


def runtime_device(target: tvm.target.Target):
    return tvm.cuda(0) if target.kind.name == "cuda" else tvm.cpu(0)
