"""The CPU a module is generated for: triple, LLVM cpu name, features, vector width.

By default the host (LLVM's own detection). ``cpu="x86-64-v3"`` (or any LLVM cpu name)
targets another machine, e.g. an AVX2-only deployment host; features then come from the
cpu name alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import llvmlite.binding as llvm

from cnncc.errors import UsageError

_initialized = False


def init_llvm() -> None:
    """Register the native target and asm printer (llvm.initialize() itself is gone in 0.50)."""
    global _initialized
    if not _initialized:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _initialized = True


# cpu levels without a host query: (features, vector bits)
_LEVEL_BITS = {"x86-64": 128, "x86-64-v2": 128, "x86-64-v3": 256, "x86-64-v4": 512}


@dataclass(frozen=True)
class TargetInfo:
    triple: str
    cpu: str
    features: str          # LLVM feature string, "" = the cpu's defaults
    vector_bits: int       # widest float vector register
    is_host: bool

    @property
    def vector_lanes(self) -> int:
        """float32 lanes in one vector register."""
        return self.vector_bits // 32

    def describe(self) -> str:
        return f"{self.cpu} ({self.vector_bits}-bit vectors, {self.triple})"

    def target_machine(self, pic: bool = False, opt: int = 3):
        init_llvm()
        target = llvm.Target.from_triple(self.triple)
        kw = {"reloc": "pic", "codemodel": "default"} if pic else {}
        return target.create_target_machine(cpu=self.cpu, features=self.features, opt=opt, **kw)


def _vector_bits(features: dict[str, bool]) -> int:
    if features.get("avx512f"):
        return 512
    if features.get("avx2") or features.get("avx"):
        return 256
    return 128


@lru_cache(maxsize=None)
def host_target() -> TargetInfo:
    init_llvm()
    feats = llvm.get_host_cpu_features()
    return TargetInfo(
        triple=llvm.get_process_triple(),
        cpu=llvm.get_host_cpu_name(),
        features=feats.flatten(),
        vector_bits=_vector_bits(dict(feats)),
        is_host=True,
    )


def resolve_target(cpu: str | None = None) -> TargetInfo:
    """The host for ``cpu`` None/"native"/"host", else that LLVM cpu name on the host's triple."""
    host = host_target()
    if cpu in (None, "", "native", "host", host.cpu):
        return host
    init_llvm()
    target = llvm.Target.from_triple(host.triple)
    try:
        target.create_target_machine(cpu=cpu, opt=0)
    except Exception as exc:  # noqa: BLE001 - reported as a usage error
        raise UsageError(f"llvm: unknown cpu {cpu!r}: {exc}") from exc
    if cpu in _LEVEL_BITS:
        bits = _LEVEL_BITS[cpu]
    else:
        bits = 512 if any(s in cpu for s in ("avx512", "skylake-avx512", "icelake", "sapphire",
                                              "znver4", "znver5", "cascadelake", "cooperlake",
                                              "tigerlake", "cannonlake")) else 256
    return TargetInfo(triple=host.triple, cpu=cpu, features="", vector_bits=bits, is_host=False)
