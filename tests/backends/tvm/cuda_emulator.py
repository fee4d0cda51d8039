"""Run a generated CUDA kernel on the CPU: its CUDA C compiled as C++ under a small shim
(one std::thread per CUDA thread, std::barrier for __syncthreads, blocks one after another).

Checks indexing, tiling and shared-memory staging of the default schedules numerically on a
machine without a GPU. Limits: one kernel per PrimFunc, float/int math, no warp intrinsics
(kernels using __shfl* are not emulated), launch dimensions taken from the scheduled TIR.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import tvm

SHIM = r"""
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>
struct dim3_ { int x = 0, y = 0, z = 0; };
thread_local dim3_ threadIdx, blockIdx;
static std::barrier<>* g_bar;
using std::max; using std::min;
struct float2 { float x, y; };
struct float3 { float x, y, z; };
struct float4 { float x, y, z, w; };
struct int2 { int x, y; };
struct int4 { int x, y, z, w; };
static inline float2 make_float2(float a, float b) { return {a, b}; }
static inline float3 make_float3(float a, float b, float c) { return {a, b, c}; }
static inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
static inline int2 make_int2(int a, int b) { return {a, b}; }
static inline int4 make_int4(int a, int b, int c, int d) { return {a, b, c, d}; }
#define __expf expf
#define __logf logf
static inline float __fdividef(float a, float b) { return a / b; }
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __restrict__ __restrict
#define __syncthreads() g_bar->arrive_and_wait()
"""

LAUNCH = r"""
extern "C" void launch(int gx, int gy, int gz, int tx, int ty, int tz, {params}) {{
  for (int bz = 0; bz < gz; ++bz) for (int by = 0; by < gy; ++by) for (int bx = 0; bx < gx; ++bx) {{
    std::barrier<> bar(tx * ty * tz); g_bar = &bar;
    std::vector<std::thread> ts;
    for (int z = 0; z < tz; ++z) for (int y = 0; y < ty; ++y) for (int x = 0; x < tx; ++x)
      ts.emplace_back([=] {{ blockIdx = {{bx, by, bz}}; threadIdx = {{x, y, z}}; {kernel}({args}); }});
    for (auto& th : ts) th.join();
  }}
}}
"""


def launch_dims(func: tvm.tirx.PrimFunc) -> dict[str, int]:
    """Extents of the thread-bound loops of a scheduled PrimFunc, by tag (blockIdx.x, ...)."""
    dims: dict[str, int] = {}
    # (TVM 0.27 exposes no TIR visitor to Python: read the printed loops)
    for lo, hi, tag in re.findall(r'T\.thread_binding\((\d+)(?:, (\d+))?, thread="([\w.]+)"', func.script()):
        extent = int(hi) - int(lo) if hi else int(lo)
        dims[tag] = max(dims.get(tag, 1), extent)
    return dims


_DEFINITION = re.compile(r'extern "C" __global__ void (?:__launch_bounds__\(\d+\) )?(\w+)\(([^)]*)\)\s*\{')


def emulatable(src: str) -> bool:
    return len(_DEFINITION.findall(src)) == 1 and "__shfl" not in src


def kernel_params(src: str) -> list[str]:
    """Buffer names of the kernel's parameters (``NAME_ptr`` -> NAME), in order."""
    _, plist = _DEFINITION.search(src).groups()
    return [p.split()[-1].removesuffix("_ptr") for p in plist.split(",")]


def run_kernel(src: str, dims: dict[str, int], arrays: dict[str, np.ndarray], workdir: Path | None = None) -> None:
    """Run the single kernel of ``src``; ``arrays`` by buffer name (kernel parameter ``NAME_ptr``),
    outputs are written in place."""
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        raise RuntimeError("no C++ compiler")
    definition = _DEFINITION.search(src)
    kernel, plist = definition.group(1), [p.strip() for p in definition.group(2).split(",")]
    body = src[definition.start():]
    body = re.sub(r"__shared__\s+(alignas\(\d+\)\s+)?", lambda m: (m.group(1) or "") + "static ", body)
    names = [p.split()[-1] for p in plist]
    cpp = SHIM + body + LAUNCH.format(params=", ".join(plist), kernel=kernel, args=", ".join(names))
    tmp = Path(workdir or tempfile.mkdtemp(prefix="cnncc_emu_"))
    digest = hashlib.sha1(cpp.encode()).hexdigest()[:12]
    cpp_path, so = tmp / f"emu_{digest}.cpp", tmp / f"emu_{digest}.so"  # a fresh .so per kernel
    cpp_path.write_text(cpp)
    subprocess.run([compiler, "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", "-w", "-o", str(so), str(cpp_path)], check=True)
    lib = ctypes.CDLL(str(so))
    ptrs = [arrays[n.removesuffix("_ptr")].ctypes.data_as(ctypes.c_void_p) for n in names]
    g = [dims.get(f"blockIdx.{a}", 1) for a in "xyz"]
    t = [dims.get(f"threadIdx.{a}", 1) for a in "xyz"]
    lib.launch(*(ctypes.c_int(v) for v in g + t), *ptrs)
