"""In-process execution: MCJIT the optimized module and call ``cnncc_run`` through ctypes
(which releases the GIL for the call). Threads come from libgomp, loaded into the process.
Code that needs something from the OS first (``GeneratedModule.requires``: "amx", the
permission for the AMX tile state) gets it before its first run."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import threading
from collections.abc import Mapping

import llvmlite.binding as llvm
import numpy as np

from cnncc.backends.base import check_feeds
from cnncc.errors import BackendError, RunError, UsageError
from cnncc.ir import Graph

from .amx_permission import request_amx
from .codegen import ENTRY, GeneratedModule, run_error
from .thread_limit import usable_threads
from .weights import aligned_empty

RUN_SIG = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32)

_gomp_loaded = False


DEFAULT_SPINCOUNT = "10000"


def load_libgomp() -> None:
    """Make GOMP_parallel and omp_* resolvable by JIT'ed code."""
    global _gomp_loaded
    if _gomp_loaded:
        return
    # libgomp's idle threads spin for ~300k iterations by default; when the cores are shared
    # with other busy processes a spinning thread holds its core for a whole scheduler tick
    # while its teammate waits for one (ResNet-50 on 2 threads: 440 ms spinning against
    # 47 ms passive, on a busy 2-core machine). Waiting passively costs a futex wake per
    # parallel kernel instead, which small models feel (SqueezeNet 2 threads: 2.43 ms
    # passive, 1.69 ms with a 10k spin). So, unless the user chose, spin briefly: long
    # enough to bridge the gap between one inference's kernels, short enough to give the
    # core back soon after. (libgomp reads this once, when it is loaded.)
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["GOMP_SPINCOUNT"] = DEFAULT_SPINCOUNT
    name = libgomp_name()
    try:
        llvm.load_library_permanently(name)
    except RuntimeError as exc:
        raise BackendError(f"llvm: cannot load libgomp ({name}) for the JIT thread pool: {exc}") from exc
    _gomp_loaded = True


def libgomp_name() -> str:
    return ctypes.util.find_library("gomp") or "libgomp.so.1"


THREADS_PER_CORE = 4
MAX_THREADS = 256  # model.h: CNNCC_MAX_THREADS


def max_threads() -> int:
    """The most threads a run asks libgomp for: a few per core and at most MAX_THREADS (more
    only slow a run down). Within that, a run asks for no more than its thread could start
    (thread_limit: libgomp ends the process when it cannot start one)."""
    return max(1, min(MAX_THREADS, THREADS_PER_CORE * (os.cpu_count() or 1)))


@functools.cache
def default_team() -> int:
    """libgomp's own team size (OMP_NUM_THREADS, else the cores this process may use), within
    max_threads(): what a count of 0 means."""
    try:
        n = ctypes.CDLL(libgomp_name()).omp_get_max_threads()
    except (OSError, AttributeError):
        n = os.cpu_count() or 1
    return max(1, min(n, max_threads()))


def team_size(requested: int | None = None) -> int:
    """The threads a run asks libgomp for: num_threads(requested), 0 resolved to
    default_team(), then no more than this thread can start (usable_threads)."""
    return usable_threads(num_threads(requested) or default_team())


def num_threads(requested: int | None = None) -> int:
    """Thread count for a run: explicit, else $CNNCC_NUM_THREADS, else 0 (= all cores);
    clamped to max_threads(). Negative or non-integer counts are refused."""
    if requested is None:
        env = os.environ.get("CNNCC_NUM_THREADS", "").strip()
        if not env:
            return 0
        try:
            n = int(env, 10)
        except ValueError:
            raise UsageError(f"CNNCC_NUM_THREADS={env!r} is not a number (0 = all cores, 1..{max_threads()})") from None
        source = f"CNNCC_NUM_THREADS={env!r}"
    else:
        if isinstance(requested, bool) or not isinstance(requested, (int, np.integer)):
            raise UsageError(f"num_threads={requested!r} is not an integer (0 = all cores, 1..{max_threads()})")
        n, source = int(requested), f"num_threads={requested}"
    if n < 0:
        raise UsageError(f"{source} is negative (0 = all cores, 1..{max_threads()})")
    return min(n, max_threads())


# what a name in GeneratedModule.requires asks of the OS before the code runs (the exported
# library's C runtime makes the same requests at model create: export.py, c/runtime.c)
REQUESTS = {"amx": request_amx}


def request_requirements(requires) -> None:
    """Make the OS requests ``requires`` names (each at most once per process); a
    BackendError when one is refused. An unknown name is a bug in a kernel."""
    for name in sorted(requires):
        if name not in REQUESTS:
            raise ValueError(f"llvm: a kernel requires {name!r}, which the runtime cannot provide "
                             f"(known: {', '.join(REQUESTS)})")
        REQUESTS[name]()


def alloc_like(shape, dtype) -> np.ndarray:
    """A C-contiguous, 64-byte aligned array."""
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    return aligned_empty(max(n * dt.itemsize, 1))[: n * dt.itemsize].view(dt).reshape(shape)


def pointer_array(arrays) -> ctypes.Array:
    return (ctypes.c_void_p * max(len(arrays), 1))(*[a.ctypes.data for a in arrays])


class JitExecutable:
    """A compiled model in this process: ``run({name: array}) -> {name: array}``."""

    def __init__(self, graph: Graph, gen: GeneratedModule, llmod, tm, num_threads: int | None = None):
        load_libgomp()
        self.graph = graph
        self.generated = gen
        self.plan = gen.plan
        self.num_threads = num_threads
        self._llmod, self._tm = llmod, tm
        self._ee = self._run_fn = None
        if llmod is not None:
            self._engine()
        # Weights and workspace are allocated by the first run: a command that only exports
        # never needs them (the workspace of a large model can be far more than its weights).
        self._weights_buf = self._workspace_buf = None
        self._alloc_lock = threading.Lock()  # a buffer replaced under a running call would be freed
        self._lock = threading.Lock()  # one workspace: one run at a time

    def _engine(self):
        """The JIT engine, made on first use when the build was lazy (``llmod`` None): a
        command that only exports never pays for optimizing and loading a second copy."""
        if self._ee is None:
            if self._llmod is None:
                from .compile import optimize_module
                self._llmod = optimize_module(self.generated, self._tm)
            self._ee = llvm.create_mcjit_compiler(self._llmod, self._tm)  # owns llmod; keep alive
            self._ee.finalize_object()
            self._run_fn = RUN_SIG(self._ee.get_function_address(ENTRY))
        return self._ee

    @property
    def _weights(self) -> np.ndarray:
        with self._alloc_lock:
            if self._weights_buf is None:
                self._weights_buf = self.generated.blob.consolidate()
        return self._weights_buf

    @property
    def _workspace(self) -> np.ndarray:
        with self._alloc_lock:
            if self._workspace_buf is None:
                self._workspace_buf = aligned_empty(max(self.generated.workspace_size, 64))
        return self._workspace_buf

    @property
    def _run(self):
        self._engine()
        request_requirements(self.generated.requires)  # before the first run; cheap after
        return self._run_fn

    @property
    def precision(self) -> str:
        """What the build computes in ("fp32", "bf16"): ``precision="auto"`` resolved."""
        return self.generated.precision

    @property
    def llvm_ir(self) -> str:
        """The generated module before optimization."""
        return self.generated.llvm_ir

    def sources(self) -> dict[str, str]:
        """What ``--emit-source`` writes: the IR as generated and optimized, and the assembly."""
        return {"model.ll": self.llvm_ir, "model.opt.ll": self.optimized_ir(), "model.s": self.assembly()}

    def optimized_ir(self) -> str:
        self._engine()
        return str(self._llmod)

    def assembly(self) -> str:
        self._engine()
        return self._tm.emit_assembly(self._llmod)

    def profile(self, feeds: Mapping[str, np.ndarray], runs: int = 10) -> list[dict]:
        """Per-kernel wall time (ms per run, averaged over ``runs``), slowest first; needs
        ``build(..., params={"profile": True})``."""
        from .codegen import PROFILE_SYMBOL

        if not self.generated.params.get("profile"):
            raise UsageError("build with params={'profile': True} to profile kernels")
        n = len(self.generated.kernels)
        table = (ctypes.c_int64 * n).from_address(self._engine().get_global_value_address(PROFILE_SYMBOL))
        self.run(feeds)
        ctypes.memset(table, 0, 8 * n)
        for _ in range(runs):
            self.run(feeds)
        rows = [{"kernel": k.name, "node": k.node_name, "op": k.op, "parallel": k.parallel,
                 "algorithm": k.algorithm, "ms": table[i] / 1e6 / runs} for i, k in enumerate(self.generated.kernels)]
        return sorted(rows, key=lambda r: -r["ms"])

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = check_feeds(self.graph, feeds)
        ins = [feeds[v.name] for v in self.graph.inputs]
        outs = [alloc_like(v.shape, v.dtype) for v in self.graph.outputs]
        nt = team_size(self.num_threads)
        in_ptrs, out_ptrs = pointer_array(ins), pointer_array(outs)  # alive during the call
        with self._lock:
            status = self._run(ctypes.addressof(in_ptrs), ctypes.addressof(out_ptrs),
                               self._workspace.ctypes.data, self._weights.ctypes.data, nt)
        if status:
            raise RunError(run_error(status, self.generated.kernels))
        return {v.name: o for v, o in zip(self.graph.outputs, outs)}

    def time_runs(self, feeds: Mapping[str, np.ndarray], number: int = 10, repeat: int = 3,
                  threads: int | None = None) -> list[float]:
        """Seconds per run of ``cnncc_run`` (no Python between runs), for each of ``repeat``
        batches of ``number`` runs; the tuner's measurement."""
        import time

        feeds = check_feeds(self.graph, feeds)
        ins = [feeds[v.name] for v in self.graph.inputs]
        outs = [alloc_like(v.shape, v.dtype) for v in self.graph.outputs]
        nt = team_size(self.num_threads if threads is None else threads)
        in_ptrs, out_ptrs = pointer_array(ins), pointer_array(outs)
        args = (ctypes.addressof(in_ptrs), ctypes.addressof(out_ptrs), self._workspace.ctypes.data,
                self._weights.ctypes.data, nt)
        run = self._run
        times = []
        with self._lock:
            status = run(*args)  # warm up caches and the thread team
            if status:
                raise RunError(run_error(status, self.generated.kernels))
            for _ in range(repeat):
                t0 = time.perf_counter()
                for _ in range(number):
                    run(*args)
                times.append((time.perf_counter() - t0) / number)
        return times

    def __call__(self, *arrays: np.ndarray):
        res = self.run(dict(zip((v.name for v in self.graph.inputs), arrays)))
        vals = list(res.values())
        return vals[0] if len(vals) == 1 else vals

    def export(self, directory: str, force: bool = False) -> str:
        from .export import export
        return export(self, directory, force)
