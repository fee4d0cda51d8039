"""Memory one process keeps per llvm compile: build a small graph N times (after a warm-up)
and print the growth of RSS and of glibc's in-use heap per build.

    python scripts/llvm_compile_memory.py [--builds 200] [--warmup 30] [--keep-pass-managers]

The warm-up is long because the first ~25 builds grow RSS by tens of MiB once (the OpenMP
runtime, LLVM's lazily built tables, malloc's arenas), after which it stays flat.
``--keep-pass-managers`` skips freeing the O3 pipeline after each module (what llvmlite 0.50
does by itself, see backends/llvm/compile.py ``free_module_pass_manager``): the figure from
before that fix. The last line is JSON (tests/backends/llvm/test_llvm_compile_memory.py reads it).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import time

import numpy as np

from cnncc.builder import GraphBuilder
from cnncc.ir import Graph

PAGE = os.sysconf("SC_PAGE_SIZE")


def small_graph() -> Graph:
    """x[1,3,8,8] -> Conv(4, 3x3) -> Relu -> GlobalAveragePool -> Flatten."""
    rng = np.random.default_rng(0)
    b = GraphBuilder("small")
    x = b.input("x", (1, 3, 8, 8))
    w = b.const(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    h = b.op("Conv", [x, w], {"kernel_shape": (3, 3), "strides": (1, 1), "pads": (1, 1, 1, 1),
                              "dilations": (1, 1)}, name="conv", outputs=["conv"])
    h = b.op("Relu", [h], name="relu", outputs=["relu"])
    h = b.op("GlobalAveragePool", [h], name="gap", outputs=["gap"])
    return b.build(b.op("Flatten", [h], name="flatten", outputs=["y"]))


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                               "fsmblks", "uordblks", "fordblks", "keepcost")]


def heap_bytes() -> int | None:
    """Bytes malloc has handed out and not taken back (glibc's mallinfo2), None elsewhere:
    steadier than RSS, which moves with what malloc keeps cached."""
    try:
        fn = ctypes.CDLL(None).mallinfo2
    except AttributeError:
        return None
    fn.restype = _MallInfo2
    info = fn()
    return info.uordblks + info.hblkhd


def measure(builds: int, warmup: int, keep_pass_managers: bool) -> dict:
    from cnncc.backends import llvm
    from cnncc.backends.llvm import compile as llvm_compile

    if keep_pass_managers:
        llvm_compile.free_module_pass_manager = lambda mpm: None
    graph = small_graph()
    for _ in range(warmup):
        llvm.build(graph)
    gc.collect()
    rss0, heap0, t0 = rss_bytes(), heap_bytes(), time.perf_counter()
    for _ in range(builds):
        llvm.build(graph)
    gc.collect()
    rss1, heap1 = rss_bytes(), heap_bytes()
    return {"builds": builds, "rss_kib_per_build": (rss1 - rss0) / builds / 1024,
            "heap_kib_per_build": None if heap0 is None else (heap1 - heap0) / builds / 1024,
            "ms_per_build": (time.perf_counter() - t0) / builds * 1000}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--builds", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--keep-pass-managers", action="store_true")
    args = ap.parse_args()
    r = measure(args.builds, args.warmup, args.keep_pass_managers)
    heap = "n/a" if r["heap_kib_per_build"] is None else f"{r['heap_kib_per_build']:.1f} KiB"
    print(f"{r['builds']} builds: RSS {r['rss_kib_per_build']:.1f} KiB/build, heap {heap}/build, "
          f"{r['ms_per_build']:.0f} ms/build")
    print(json.dumps(r))


if __name__ == "__main__":
    main()
