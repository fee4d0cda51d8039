"""The CPU a module is generated for: triple, LLVM cpu name, features, vector width,
vector registers and cache sizes (the hardware facts a schedule's defaults derive from).

By default the host (LLVM's own detection; caches from sysfs). ``cpu="x86-64-v3"`` (or any
LLVM cpu name) targets another machine, e.g. an AVX2-only deployment host; features then
come from the cpu name alone, and the caches are typical sizes for it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import llvmlite.binding as llvm

from cnncc.errors import BackendError, UsageError

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

# cache sizes when the host's are not readable, and for named cpus not listed below
L1D_BYTES = 32 * 1024
L2_BYTES = 1 << 20
# typical per-core L1d / L2 of named cpus (the first listed prefix of the name that matches)
_NAMED_CACHES = {
    "sapphirerapids": (48 * 1024, 2 << 20), "emeraldrapids": (48 * 1024, 2 << 20),
    "graniterapids": (48 * 1024, 2 << 20),
    "icelake-server": (48 * 1024, 1280 * 1024), "icelake-client": (48 * 1024, 512 * 1024),
    "tigerlake": (48 * 1024, 1280 * 1024), "alderlake": (48 * 1024, 1280 * 1024),
    "skylake-avx512": (32 * 1024, 1 << 20), "cascadelake": (32 * 1024, 1 << 20),
    "cooperlake": (32 * 1024, 1 << 20), "skylake": (32 * 1024, 256 * 1024),
    "haswell": (32 * 1024, 256 * 1024), "broadwell": (32 * 1024, 256 * 1024),
    "znver5": (48 * 1024, 1 << 20), "znver4": (32 * 1024, 1 << 20), "znver3": (32 * 1024, 512 * 1024),
    "znver2": (32 * 1024, 512 * 1024), "znver1": (32 * 1024, 512 * 1024),
}


@dataclass(frozen=True)
class TargetInfo:
    triple: str
    cpu: str
    features: str          # LLVM feature string, "" = the cpu's defaults
    vector_bits: int       # widest float vector register
    is_host: bool
    l1d_bytes: int = L1D_BYTES   # per-core level-1 data cache
    l2_bytes: int = L2_BYTES     # per-core level-2 cache

    @property
    def vector_lanes(self) -> int:
        """float32 lanes in one vector register."""
        return self.vector_bits // 32

    @property
    def vector_registers(self) -> int:
        """Architectural vector registers (x86-64: 32 with AVX-512, else 16)."""
        return 32 if self.vector_bits >= 512 else 16

    def has_feature(self, name: str) -> bool:
        """Whether the code may use LLVM feature ``name`` ("amx-bf16", "avx512bf16", ...):
        from the feature string when there is one (the host), else from the cpu name."""
        if self.features:
            return f"+{name}" in self.features.split(",")
        return name in named_features(self.cpu)

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
        **dict(zip(("l1d_bytes", "l2_bytes"), host_caches())),
    )


def _cache_size(text: str) -> int | None:
    """sysfs's cache size ("48K", "2048K", "1M") in bytes."""
    text = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in "KMG" else text
    return int(digits) * scale if digits.isdigit() and int(digits) > 0 else None


def host_caches(root: str | Path = "/sys/devices/system/cpu/cpu0/cache") -> tuple[int, int]:
    """(L1d, L2) bytes of the host's first cpu from sysfs (``index*/level, type, size``);
    L1D_BYTES / L2_BYTES for what it does not say (no sysfs, another OS)."""
    l1d, l2 = None, None
    try:
        entries = sorted(Path(root).glob("index*"))
    except OSError:
        entries = []
    for d in entries:
        try:
            level = (d / "level").read_text().strip()
            kind = (d / "type").read_text().strip()
            size = _cache_size((d / "size").read_text())
        except (OSError, ValueError):
            continue
        if size is None:
            continue
        if level == "1" and kind in ("Data", "Unified") and l1d is None:
            l1d = size
        elif level == "2" and kind in ("Data", "Unified") and l2 is None:
            l2 = size
    return l1d or L1D_BYTES, l2 or L2_BYTES


# reduced-precision features of named cpus (LLVM names them; a named target has no feature
# string to ask): the first listed prefix of the name that matches
_AMX = ("amx-tile", "amx-bf16", "amx-int8", "avx512bf16", "avx512vnni", "avxvnni")
_NAMED_FEATURES = {
    "sapphirerapids": _AMX, "emeraldrapids": _AMX, "graniterapids": _AMX, "diamondrapids": _AMX,
    "cooperlake": ("avx512bf16", "avx512vnni"), "znver4": ("avx512bf16", "avx512vnni"),
    "znver5": ("avx512bf16", "avx512vnni", "avxvnni"),
    "icelake": ("avx512vnni",), "cascadelake": ("avx512vnni",), "tigerlake": ("avx512vnni",),
    "alderlake": ("avxvnni",), "raptorlake": ("avxvnni",), "meteorlake": ("avxvnni",),
    "x86-64-v4": (),
}


def named_features(cpu: str) -> tuple[str, ...]:
    """The reduced-precision LLVM features an LLVM cpu name implies."""
    return next((f for name, f in _NAMED_FEATURES.items() if cpu.startswith(name)), ())


def named_caches(cpu: str) -> tuple[int, int]:
    """Typical (L1d, L2) bytes of an LLVM cpu name."""
    return next((c for name, c in _NAMED_CACHES.items() if cpu.startswith(name)), (L1D_BYTES, L2_BYTES))


def resolve_target(cpu: str | None = None) -> TargetInfo:
    """The host for ``cpu`` None/"native"/"host", else that LLVM cpu name on the host's triple."""
    host = host_target()
    if cpu in (None, "", "native", "host", host.cpu):
        return host
    check_cpu(host.triple, cpu)
    if cpu in _LEVEL_BITS:
        bits = _LEVEL_BITS[cpu]
    else:
        bits = 512 if any(s in cpu for s in ("avx512", "skylake-avx512", "icelake", "sapphire",
                                              "znver4", "znver5", "cascadelake", "cooperlake",
                                              "tigerlake", "cannonlake")) else 256
    l1d, l2 = named_caches(cpu)
    return TargetInfo(triple=host.triple, cpu=cpu, features="", vector_bits=bits, is_host=False,
                      l1d_bytes=l1d, l2_bytes=l2)


# Run in a child process: LLVM reports an unknown cpu, or a 32-bit one on a 64-bit triple,
# with report_fatal_error, which exits the process (only when code is generated, so creating
# a target machine proves nothing). cpu "help" makes LLVM print the cpus it knows to stderr.
_PROBE = r"""
import json, os, sys, tempfile
import llvmlite.binding as llvm
llvm.initialize_native_target(); llvm.initialize_native_asmprinter()
triple, cpu = sys.argv[1:3]
target = llvm.Target.from_triple(triple)
with tempfile.TemporaryFile() as f:
    saved = os.dup(2)
    os.dup2(f.fileno(), 2)
    try:
        target.create_target_machine(cpu="help", opt=0)
    finally:
        os.dup2(saved, 2)
    f.seek(0)
    text = f.read().decode(errors="replace")
names = []
if "Available CPUs" in text:
    for line in text.split("Available CPUs", 1)[1].splitlines()[1:]:
        if line.startswith("Available features"):
            break
        if " - " in line:
            names.append(line.split()[0])
print(json.dumps(names), flush=True)
if cpu in names:
    tm = target.create_target_machine(cpu=cpu, opt=0)
    tm.emit_object(llvm.parse_assembly("define i32 @f() {\n  ret i32 0\n}\n"))
    print("ok", flush=True)
"""

_SUGGESTED = ("x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4", "skylake-avx512", "znver4")


@lru_cache(maxsize=None)
def _probe_cpu(triple: str, cpu: str) -> tuple[tuple[str, ...], bool, str]:
    """(the cpu names LLVM knows for ``triple``, whether ``cpu`` generates code, LLVM's
    complaint if it does not)."""
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE, triple, cpu], capture_output=True, text=True,
                              timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendError(f"llvm: could not check cpu {cpu!r} in a child process: {exc}") from exc
    lines = proc.stdout.splitlines()
    try:
        names = tuple(json.loads(lines[0]))
    except (IndexError, ValueError):
        raise BackendError(f"llvm: could not list LLVM's cpus for {triple}: "
                           f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}") from None
    complaint = next((ln for ln in proc.stderr.splitlines() if "LLVM ERROR" in ln), "")
    return names, lines[1:2] == ["ok"], complaint.replace("LLVM ERROR:", "").strip()


def check_cpu(triple: str, cpu: str) -> None:
    """A UsageError unless LLVM generates code for ``cpu`` on ``triple`` (checked before
    this process asks LLVM for it: LLVM would end the process instead of raising)."""
    names, ok, complaint = _probe_cpu(triple, cpu)
    if ok:
        return
    known = set(names)
    # (no close matches: the names nearest a bad one are often 32-bit cpus, i586 for i686)
    hint = f"valid names include {', '.join(n for n in _SUGGESTED if n in known)}, or native (this machine)"
    if cpu not in known:
        raise UsageError(f"llvm: unknown cpu {cpu!r} for {triple}; {hint}")
    raise UsageError(f"llvm: cpu {cpu!r} cannot generate code for {triple} "
                     f"({complaint or 'LLVM refused it'}: a 32-bit cpu?); {hint}")
