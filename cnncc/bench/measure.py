"""The benchmark loop: prepare every contender, then time them in alternating blocks
(``schedule.py``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from cnncc.bench.contenders import Prepared, Unavailable
from cnncc.bench.schedule import Schedule, run_blocks


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else math.nan


@dataclass
class Result:
    """One contender on one case."""

    name: str
    status: str = "ok"
    times_s: list[float] = field(default_factory=list)
    compile_s: float | None = None
    artifact_bytes: int | None = None
    peak_rss_mib: float | None = None
    max_abs_err: float | None = None
    max_rel_err: float | None = None
    gflops: float | None = None
    percent_of_peak: float | None = None
    per_layer: list[dict] | None = None
    note: str | None = None  # what the contender reported about how it runs (e.g. fewer threads than asked)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def median_s(self) -> float:
        return percentile(self.times_s, 50)

    @property
    def p10_s(self) -> float:
        return percentile(self.times_s, 10)

    @property
    def p90_s(self) -> float:
        return percentile(self.times_s, 90)


@dataclass
class Ratio:
    """Per-call ratios contender/peer: the i-th timed calls of both, from the same block."""

    contender: str
    peer: str
    median: float
    p10: float
    p90: float
    pairs: int


@dataclass
class Case:
    model: str
    threads: int
    batch: int
    macs: int
    results: list[Result]
    ratios: list[Ratio]


def _errors(got: dict, expected: dict) -> tuple[float, float]:
    abs_err = rel_err = 0.0
    for name, ref in expected.items():
        if name not in got:
            continue
        a = np.asarray(got[name], dtype=np.float64)
        b = np.asarray(ref, dtype=np.float64)
        if a.shape != b.shape:
            return math.inf, math.inf
        if a.size:
            diff = np.abs(a - b)
            abs_err = max(abs_err, float(diff.max()))
            rel_err = max(rel_err, float((diff / np.maximum(np.abs(b), 1e-6)).max()))
    return abs_err, rel_err


def run_case(
    model_name: str,
    model,
    input_shapes: dict,
    feeds: dict,
    contenders: list,
    threads: int,
    batch: int,
    macs: int,
    expected: dict | None,
    peak_gflops: float | None,
    warmup: int = 3,
    repeat: int = 20,
    min_time_s: float | None = None,
    per_layer: bool = False,
    on_step: Callable[[str], None] | None = None,
    on_run: Callable[[int], None] | None = None,
    schedule: Schedule | None = None,
) -> Case:
    """Prepare each contender, then time them in alternating blocks (``schedule.run_blocks``).
    ``on_run(calls)`` after each block with the timed calls each contender had in it."""
    prepared: list[tuple[Result, Prepared | None]] = []
    for contender in contenders:
        result = Result(contender.name)
        if on_step:
            on_step(f"{model_name}: preparing {contender.name}")
        try:
            p = contender.prepare(model, input_shapes, feeds, threads)
        except Unavailable as exc:
            result.status = f"unavailable: {exc}"
            prepared.append((result, None))
            continue
        except Exception as exc:  # noqa: BLE001 - a crash of one contender is its row, not ours
            result.status = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            prepared.append((result, None))
            continue
        result.name = p.name  # a peer may label itself with what it chose (openvino-default's precision)
        result.note = p.note
        result.compile_s, result.artifact_bytes, result.peak_rss_mib = p.compile_s, p.artifact_bytes, p.peak_rss_mib
        if expected is not None:
            result.max_abs_err, result.max_rel_err = _errors(p.outputs, expected)
        prepared.append((result, p))

    live = [(r, p) for r, p in prepared if p is not None]

    def block_done(block: int, calls: int) -> None:
        if on_step:
            on_step(f"{model_name}: {threads} thread(s), batch {batch}, block {block}")
        if on_run:
            on_run(calls)

    times = run_blocks([p.run for _, p in live], repeat, schedule or Schedule(), warmup, min_time_s, on_block=block_done)
    for (r, _), t in zip(live, times):
        r.times_s = t

    for r, p in live:
        if r.times_s and macs:
            r.gflops = 2.0 * macs / r.median_s / 1e9
            if peak_gflops:
                r.percent_of_peak = 100.0 * r.gflops / peak_gflops
        if per_layer and p.per_layer is not None:
            try:
                r.per_layer = p.per_layer()
            except Exception as exc:  # noqa: BLE001
                r.per_layer = [{"error": str(exc)}]
            for row in r.per_layer:
                if row.get("time_s") and row.get("macs"):
                    row["gflops"] = 2.0 * row["macs"] / row["time_s"] / 1e9
                    if peak_gflops:
                        row["percent_of_peak"] = 100.0 * row["gflops"] / peak_gflops

    ratios = []
    cnncc_results = [r for r, _ in prepared if r.name.startswith("cnncc-") and r.ok]
    for mine in cnncc_results:
        for peer, _ in prepared:
            if peer is mine or not peer.ok or not peer.times_s:
                continue
            pairs = [a / b for a, b in zip(mine.times_s, peer.times_s)]
            ratios.append(Ratio(mine.name, peer.name, percentile(pairs, 50), percentile(pairs, 10), percentile(pairs, 90), len(pairs)))
    return Case(model_name, threads, batch, macs, [r for r, _ in prepared], ratios)


def geomean(values: Sequence[float]) -> float:
    vals = [v for v in values if v and v > 0 and math.isfinite(v)]
    return math.exp(sum(math.log(v) for v in vals) / len(vals)) if vals else math.nan
