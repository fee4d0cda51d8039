"""Per-workload schedule search for the llvm backend, measured on this machine.

    results = tune(graph, trials=64, db_dir="tuning")      # records -> db_dir/llvm.sqlite
    exe = build(graph, db_dir="tuning")                    # each kernel gets its best record

A kernel's schedule is its family's typed schedule (schedule.py): conv register tiles
(output pixels x channel vectors), the row kernel's channel block, whether rows are unrolled,
the depthwise plane kernel, direct or Winograd, gemm row blocks. The tuner never names a
schedule field: ``candidates(node, target)`` is the node's family's ``space(node, target)``
as parameter overrides; the default schedule is always candidate 0 and always measured, so a
record is never slower than the default as measured. Each candidate is built as a
one-node model (same op, attributes, shapes and constant weights), checked against the
default candidate's output, and timed through ``JitExecutable.time_runs`` (best of a few
batches). Candidates that generate the same kernel IR as an earlier one are not measured again.

Distinct workloads are keyed by ``lowering.workload_key``; records live in records.py's
SQLite file, keyed by workload + CPU name + features. Workloads already recorded are reused,
not tuned again (``retune=True`` measures them again and keeps the better record).
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from cnncc.errors import BackendError, UnsupportedOpError, UsageError
from cnncc.ir import Graph, Node, Value

from .codegen import generate
from .compile import optimize_module
from .lowering import VIEW_OPS, workload_key
from .schedule import family_for
from .records import Record, RecordsDB
from .runtime import JitExecutable
from .target import TargetInfo, resolve_target

ProgressFn = Callable[[int, int, str], None]


@dataclass
class Result:
    kernel: str             # the first node with this workload
    op: str
    workload: str
    nodes: int              # nodes of the graph with this workload
    trials: int             # candidates measured (for a reused record: when it was tuned)
    best_us: float | None
    default_us: float | None
    params: dict = field(default_factory=dict)   # the best schedule's non-default parameters
    reused: bool = False

    @property
    def speedup(self) -> float | None:
        if not self.best_us or self.default_us is None:
            return None
        return self.default_us / self.best_us


# -- the search space -----------------------------------------------------------------------

def candidates(node: Node, target: TargetInfo) -> list[dict]:
    """Schedules worth measuring for ``node``, as parameter overrides: its family's
    ``space(node, target)`` (schedule.py), each as the parameters that differ from the
    family's default (the default first, ``{}``), without repeats. ``[{}]`` for an op that no
    family schedules."""
    family = family_for(node.op)
    if family is None:
        return [{}]
    default = family.for_target(target)
    uniq, seen = [{}], {()}
    for s in family.space(node, target):
        params = s.params(base=default)
        key = tuple(sorted(params.items()))
        if key not in seen:
            seen.add(key)
            uniq.append(params)
    return uniq


def tunable(node: Node, target: TargetInfo) -> bool:
    return node.op not in VIEW_OPS and len(candidates(node, target)) > 1


# -- measuring ------------------------------------------------------------------------------

def single_node_graph(node: Node) -> Graph:
    """``node`` alone: its non-constant inputs become graph inputs, its constants stay."""
    mapping: dict[int, Value] = {}
    inputs, args = [], []
    for v in node.inputs:
        if v.is_constant:
            args.append(v)
            continue
        if id(v) not in mapping:
            mapping[id(v)] = Value(v.name, v.type)
            inputs.append(mapping[id(v)])
        args.append(mapping[id(v)])
    outs = [Value(o.name, o.type) for o in node.outputs]
    return Graph(inputs, outs, [Node(node.op, args, outs, node.attrs, node.name)], name=f"tune_{node.op}")


def _feeds(graph: Graph, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for v in graph.inputs:
        if v.dtype.startswith("float"):
            feeds[v.name] = rng.standard_normal(v.shape).astype(v.dtype)
        else:
            feeds[v.name] = np.zeros(v.shape, v.dtype)
    return feeds


def _agrees(got: np.ndarray, want: np.ndarray) -> bool:
    """A candidate's output against the default's: rtol 1e-3 and an absolute tolerance of
    1e-4 of the output's largest magnitude (at least 1e-4). Winograd F(4x4,3x3)'s error
    scales with the whole output (about 2e-5 of max|Y| at 512 channels), so a fixed atol
    rejected it on layers with large outputs."""
    if got.dtype.kind != "f":
        return bool(np.array_equal(got, want))
    finite = np.abs(want[np.isfinite(want)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    return bool(np.allclose(got, want, rtol=1e-3, atol=1e-4 * scale, equal_nan=True))


class _Measurer:
    """Builds and times candidates of one workload."""

    def __init__(self, node: Node, target: TargetInfo, threads: int, min_batch_s: float = 0.02):
        self.graph = single_node_graph(node)
        self.key = workload_key(node)
        self.target = target
        self.threads = threads
        self.min_batch_s = min_batch_s
        self.feeds = _feeds(self.graph)
        self.reference = None      # the default candidate's outputs
        self.seen_ir: dict[str, float | None] = {}

    def measure(self, params: dict) -> float | None:
        """Seconds per run of the candidate, None when it fails or disagrees with the default.
        A candidate whose kernel IR equals an earlier one's gets that one's time."""
        try:
            gen = generate(self.graph, self.target, None, {self.key: params} if params else None)
        except (BackendError, UnsupportedOpError):  # no kernel for this candidate's variant
            if not params:
                raise
            return None
        digest = hashlib.sha1(gen.llvm_ir.encode()).hexdigest()
        if digest in self.seen_ir:
            return self.seen_ir[digest]
        t = None
        try:
            llmod = optimize_module(gen, self.target.target_machine())
            exe = JitExecutable(self.graph, gen, llmod, self.target.target_machine(), num_threads=self.threads)
            outs = exe.run(self.feeds)
            if self.reference is None:
                self.reference = outs
            elif not all(_agrees(outs[n], self.reference[n])
                         for n in outs):
                raise BackendError(f"candidate {params} disagrees with the default schedule")
            once = min(exe.time_runs(self.feeds, number=1, repeat=2))
            number = max(1, min(1000, int(self.min_batch_s / max(once, 1e-7))))
            t = min(exe.time_runs(self.feeds, number=number, repeat=3))
        except (BackendError, RuntimeError):  # a candidate LLVM rejects: skipped
            if not params:
                raise
            t = None
        self.seen_ir[digest] = t
        return t


# -- the driver -----------------------------------------------------------------------------

def _workloads(graph: Graph, target: TargetInfo) -> list[tuple[str, Node, int]]:
    """(key, first node, node count) per distinct tunable workload, in graph order."""
    found: dict[str, list] = {}
    for node in graph.nodes:
        if not tunable(node, target):
            continue
        key = workload_key(node)
        if key in found:
            found[key][2] += 1
        else:
            found[key] = [key, node, 1]
    return [tuple(v) for v in found.values()]


@dataclass(frozen=True)
class TuneOptions:
    """What ``tune`` measures and how."""
    trials: int = 64                 # measured candidates per workload, the default included
    budget_s: float | None = None    # stop measuring after this many seconds (what was measured is kept)
    cpu: str | None = None           # tune code for this LLVM cpu (it must run on this machine)
    arch: str | None = None          # the same, by architecture name
    num_threads: int = 1
    retune: bool = False             # measure recorded workloads again, keep the better record
    seed: int = 0                    # the order in which candidates are sampled


def tune(graph: Graph, db_dir: str | Path = "tuning", progress: ProgressFn | None = None,
         options: TuneOptions | None = None, **fields) -> list[Result]:
    """Tune every distinct kernel workload of ``graph`` (``TuneOptions``: ``options``, or its
    fields as keywords); records go to ``db_dir/llvm.sqlite``. ``progress(done, total,
    kernel)`` after each candidate. Returns one Result per workload, in graph order."""
    try:
        opts = replace(options or TuneOptions(), **fields)
    except TypeError as exc:
        raise UsageError(f"tune: {exc}") from None
    trials, budget_s, num_threads, retune, seed = opts.trials, opts.budget_s, opts.num_threads, opts.retune, opts.seed
    if trials < 1:
        raise UsageError("tune: trials must be at least 1")
    target = resolve_target(opts.cpu or opts.arch)
    rng = random.Random(seed)
    t_start = time.perf_counter()
    results: list[Result] = []
    with RecordsDB(db_dir, target) as db:
        plan = []
        known = db.all()  # valid records only: an invalid one is noted once and tuned again
        for key, node, count in _workloads(graph, target):
            rec = known.get(key)
            if rec is not None and not retune:
                results.append(Result(node.name, node.op, key, count, rec.trials, rec.best_us, rec.default_us,
                                      rec.params, reused=True))
                continue
            cands = candidates(node, target)
            rest = cands[1:]
            rng.shuffle(rest)
            plan.append((key, node, count, rec, [cands[0]] + rest[:trials - 1]))
            results.append(None)  # filled below, in graph order
        total = sum(len(p[4]) for p in plan)
        done = 0
        slots = [i for i, r in enumerate(results) if r is None]
        for slot, (key, node, count, old, cands) in zip(slots, plan):
            if budget_s is not None and time.perf_counter() - t_start > budget_s:
                # out of time: this workload keeps its record or the default
                results[slot] = Result(node.name, node.op, key, count, 0, None, None, {}, reused=False)
                continue
            m = _Measurer(node, target, num_threads)
            default_s, best_s, best_params, measured = None, None, {}, 0
            for params in cands:
                if budget_s is not None and time.perf_counter() - t_start > budget_s and default_s is not None:
                    break
                t = m.measure(params)
                measured += 1
                done += 1
                if progress is not None:
                    progress(done, total, node.name)
                if t is None:
                    continue
                if not params:
                    default_s = t
                if best_s is None or t < best_s:
                    best_s, best_params = t, params
            rec = Record(key, node.op, best_params, best_s * 1e6, default_s * 1e6, measured, num_threads)
            if old is not None and old.best_us / max(old.default_us, 1e-9) < rec.best_us / max(rec.default_us, 1e-9):
                rec = old  # the earlier record was the better find
            db.put(rec)
            results[slot] = Result(node.name, node.op, key, count, measured, rec.best_us, rec.default_us,
                                   rec.params, reused=False)
    return results


def summary_table(results: list[Result]) -> list[dict]:
    """Rows for the CLI table: kernel, op, nodes, trials, best/default microseconds, speed-up."""
    rows = []
    for r in results:
        sp = r.speedup
        rows.append({
            "kernel": r.kernel,
            "op": r.op,
            "nodes": r.nodes,
            "trials": r.trials,
            "best_us": None if r.best_us is None else round(r.best_us, 1),
            "default_us": None if r.default_us is None else round(r.default_us, 1),
            "speedup": None if sp is None else round(sp, 2),
            "reused": r.reused,
        })
    return rows
