"""Compiled device code for cuda artifacts.

``tvm.compile`` for CUDA emits CUDA C only; the TVM runtime compiles it when the module is
first loaded on a GPU host (through the ``tvm_callback_cuda_compile`` hook: NVRTC from the
``cuda-bindings`` package, or nvcc). When nvcc is present at *build* time, cnncc compiles the
source here into a fatbin (SASS for the target's arch plus PTX for newer GPUs), ships it as
``kernels.fatbin`` next to ``model.so``, and ``load`` installs a hook that hands the runtime
this fatbin for exactly this source (matched by SHA-256): the GPU host then needs neither
nvcc nor NVRTC. Any other source goes on to TVM's own compiler hook.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from cnncc.errors import BackendError

_FATBINS: dict[str, bytes] = {}  # sha256 of CUDA source -> fatbin, for the runtime hook
_previous_hook = None


def find_nvcc() -> str | None:
    return shutil.which("nvcc")


def cuda_module(ex):
    stack = [getattr(ex, "mod", ex)]
    while stack:
        m = stack.pop()
        for sub in m.imports:
            if sub.kind == "cuda":
                return sub
            stack.append(sub)
    return None


def source_digest(src: str) -> str:
    return hashlib.sha256(src.encode()).hexdigest()


def compile_fatbin(src: str, arch: str, nvcc: str | None = None) -> bytes:
    """nvcc -> fatbin with SASS for ``arch`` and PTX of the same compute capability."""
    nvcc = nvcc or find_nvcc()
    if nvcc is None:
        raise BackendError("nvcc not found on PATH: cannot compile CUDA device code at build time")
    cc = arch.removeprefix("sm_")
    env = dict(os.environ)
    if "CUDA_PATH" not in env and Path("/usr/local/cuda").is_dir():
        env["CUDA_PATH"] = "/usr/local/cuda"
    with tempfile.TemporaryDirectory(prefix="cnncc_nvcc_") as tmp:
        cu, out = Path(tmp) / "kernels.cu", Path(tmp) / "kernels.fatbin"
        cu.write_text(src)
        cmd = [
            nvcc, "--fatbin", "-O3", "-std=c++17", "-diag-suppress", "177,1046",
            f"-gencode=arch=compute_{cc},code=[sm_{cc},compute_{cc}]", "-o", str(out), str(cu),
        ]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            raise BackendError(f"nvcc failed on the generated CUDA source ({arch}): {(r.stderr or r.stdout)[-1500:]}")
        return out.read_bytes()


def attach_device_code(ex, target, enabled: bool | None = None):
    """(executable, info): info says what the artifact will carry for the device."""
    mod = cuda_module(ex)
    if mod is None:
        return ex, {"format": "none"}
    src = mod.inspect_source()
    info = {"format": "cuda-source", "source_sha256": source_digest(src), "arch": str(target.arch)}
    nvcc = find_nvcc()
    if enabled is False or (enabled is None and nvcc is None):
        info["note"] = "device code is compiled from source on first load (NVRTC or nvcc on the GPU host)"
        return ex, info
    fatbin = compile_fatbin(src, str(target.arch), nvcc)
    info.update({"format": "fatbin", "binaries": {"fatbin": fatbin}, "fatbin_bytes": len(fatbin)})
    return ex, info


def prefer_nvcc_jit() -> None:
    """Where the TVM runtime must compile CUDA source itself (no shipped fatbin, tuning
    candidates) and NVRTC is unusable (no ``cuda-bindings`` package) but nvcc is there, let it
    use nvcc. Explicit settings of TVM_CUDA_COMPILE_MODE / CUDA_PATH win."""
    import importlib.util

    try:
        have_nvrtc = importlib.util.find_spec("cuda.bindings") is not None
    except ModuleNotFoundError:
        have_nvrtc = False
    if not have_nvrtc and find_nvcc():
        os.environ.setdefault("TVM_CUDA_COMPILE_MODE", "nvcc")
        if Path("/usr/local/cuda").is_dir():
            os.environ.setdefault("CUDA_PATH", "/usr/local/cuda")


def install_fatbin(src_digest: str, fatbin: bytes) -> None:
    """Serve ``fatbin`` to the TVM runtime when it asks to compile the source ``src_digest``."""
    global _previous_hook
    import tvm_ffi

    _FATBINS[src_digest] = fatbin
    if _previous_hook is not None:
        return
    _previous_hook = tvm_ffi.get_global_func("tvm_callback_cuda_compile", allow_missing=True) or False

    def hook(code):
        code = str(code)
        blob = _FATBINS.get(source_digest(code))
        if blob is not None:
            return bytes(blob)
        if _previous_hook:
            return _previous_hook(code)
        raise RuntimeError("no CUDA compiler hook registered")

    tvm_ffi.register_global_func("tvm_callback_cuda_compile", hook, override=True)
