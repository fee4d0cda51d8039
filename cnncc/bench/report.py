"""What a benchmark prints and writes: rich tables, JSON with machine info, a bar chart."""

from __future__ import annotations

import json
import math
import os
import platform
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path

from rich.console import Console
from rich.table import Table

from cnncc.artifacts import atomic_path
from cnncc.bench.measure import Case, geomean
from cnncc.errors import UsageError


def machine_info(peak=None) -> dict:
    from importlib import metadata

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "versions": {},
    }
    for pkg in ("cnncc", "numpy", "onnx", "onnxruntime", "openvino", "llvmlite", "apache-tvm"):
        try:
            info["versions"][pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info["versions"][pkg] = None
    try:
        from cnncc.bench.peak import host_cpu

        name, features, bits = host_cpu()
        info["llvm_cpu"] = name
        info["cpu_features"] = features
        info["vector_bits"] = bits
    except Exception:  # noqa: BLE001 - llvmlite missing: the rest still stands
        pass
    if peak is not None:
        info["peak_gflops_per_core"] = round(peak.gflops_per_core, 1)
        info["peak_method"] = peak.method
        info["peak_best_seen_gflops_per_core"] = round(peak.best_seen_gflops_per_core, 1)
    return info


def _ms(seconds) -> str:
    return "-" if seconds is None or not math.isfinite(seconds) else f"{seconds * 1e3:,.2f}"


def _fmt(value, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and not math.isfinite(value)) else format(value, spec)


def print_case(console: Console, case: Case) -> None:
    table = Table(title=f"{case.model}: batch {case.batch}, {case.threads} thread(s), {case.macs / 1e9:.2f} GMACs")
    cols = ["contender", "median ms", "p10-p90 ms", "GFLOP/s", "% peak", "compile s", "peak RSS MiB", "artifact MiB", "max abs err", "max rel err"]
    for col in cols:
        table.add_column(col, justify="left" if col == "contender" else "right")
    for r in case.results:
        if not r.ok:
            table.add_row(r.name, "[yellow]n/a[/yellow]", *["-"] * (len(cols) - 2))
            continue
        table.add_row(
            r.name,
            _ms(r.median_s),
            f"{_ms(r.p10_s)}-{_ms(r.p90_s)}",
            _fmt(r.gflops, ",.1f"),
            _fmt(r.percent_of_peak, ".0f"),
            _fmt(r.compile_s, ".2f"),
            _fmt(r.peak_rss_mib, ",.0f"),
            "-" if r.artifact_bytes is None else f"{r.artifact_bytes / 2**20:,.1f}",
            _fmt(r.max_abs_err, ".1e"),
            _fmt(r.max_rel_err, ".1e"),
        )
    console.print(table)
    for r in case.results:
        if not r.ok:
            console.print(f"  {r.name}: {r.status}", markup=False)
        elif r.note:
            console.print(f"  {r.name}: {r.note}", markup=False)
    for ratio in case.ratios:
        console.print(
            f"  {ratio.contender} / {ratio.peer}: median ratio {ratio.median:.3f} "
            f"(p10 {ratio.p10:.3f}, p90 {ratio.p90:.3f}, {ratio.pairs} pairs of calls from the same blocks)"
        )
    for r in case.results:
        if r.per_layer:
            print_per_layer(console, r)


def print_per_layer(console: Console, result) -> None:
    rows = sorted((row for row in result.per_layer if "error" not in row), key=lambda row: -row.get("time_s", 0))
    errors = [row["error"] for row in result.per_layer if "error" in row]
    if errors:
        console.print(f"  per-layer profile of {result.name} failed: {errors[0]}")
        return
    table = Table(title=f"{result.name}: per kernel, slowest first")
    for col in ("kernel", "op", "layer", "ms", "share", "MMACs", "GFLOP/s", "% peak"):
        table.add_column(col, justify="left" if col in ("kernel", "op", "layer") else "right")
    total = sum(row.get("time_s", 0) for row in rows) or 1.0
    for row in rows:
        table.add_row(
            str(row.get("name")),
            str(row.get("op")),
            str(row.get("layer", "")),
            _ms(row.get("time_s")),
            f"{100 * row.get('time_s', 0) / total:.1f}%",
            _fmt(row.get("macs", 0) / 1e6, ",.1f"),
            _fmt(row.get("gflops"), ",.1f"),
            _fmt(row.get("percent_of_peak"), ".0f"),
        )
    console.print(table)


def label(cases: list[Case], index: int) -> str:
    """The name contender ``index`` ran under, the same in every case where it ran (a peer
    may label itself when prepared: ``openvino-default (bf16)``)."""
    names = [c.results[index].name for c in cases if c.results[index].ok] or [c.results[index].name for c in cases]
    return max(dict.fromkeys(names), key=names.count)


def print_peer_summaries(console: Console, cases: list[Case], n_cnncc: int) -> dict[str, dict[str, dict[int, float]]]:
    """One table per peer: per model and thread count, each cnncc contender's time and its
    median per-pair ratio to the peer, with the geometric mean per thread count. Contenders
    are the results' positions: the ``n_cnncc`` cnncc ones first, then the peers. Returns
    ``{peer: {cnncc contender: {threads: geomean ratio}}}``."""
    mine_names = [label(cases, i) for i in range(n_cnncc)]
    out: dict[str, dict[str, dict[int, float]]] = {}
    for j in range(n_cnncc, len(cases[0].results)):
        peer = label(cases, j)
        table = Table(title=f"summary: cnncc vs {peer} (median of per-pair ratios; < 1 means cnncc is faster)")
        cols = ["model", "threads", "batch", f"{peer} ms"]
        for name in mine_names:
            prefix = "" if n_cnncc == 1 else f"{name} "
            cols += [f"{name} ms", f"{prefix}ratio", f"{prefix}p10-p90"]
        for col in cols:
            table.add_column(col, justify="left" if col == "model" else "right")
        by_threads: dict[str, dict[int, list[float]]] = {name: {} for name in mine_names}
        for case in cases:
            other = case.results[j]
            row = [case.model, str(case.threads), str(case.batch), _ms(other.median_s) if other.ok else "n/a"]
            for i, name in enumerate(mine_names):
                mine = case.results[i]
                ratio = next((x for x in case.ratios if x.contender == mine.name and x.peer == other.name), None)
                if ratio:
                    by_threads[name].setdefault(case.threads, []).append(ratio.median)
                row += [
                    _ms(mine.median_s) if mine.ok else "n/a",
                    f"{ratio.median:.3f}" if ratio else "-",
                    f"{ratio.p10:.3f}-{ratio.p90:.3f}" if ratio else "-",
                ]
            table.add_row(*row)
        geo = {name: {t: geomean(v) for t, v in sorted(ts.items())} for name, ts in by_threads.items()}
        for t in sorted({t for ts in geo.values() for t in ts}):
            row = ["[bold]geomean[/bold]", str(t), "", ""]
            for name in mine_names:
                g = geo[name].get(t)
                row += ["", "-" if g is None else f"[bold]{g:.3f}[/bold]", ""]
            table.add_row(*row)
        console.print(table)
        out[peer] = geo
    return out


def _scaling_groups(cases: list[Case]) -> list[list[dict]]:
    """Per model and batch (its cases follow each other, one per thread count; a model given
    twice is two groups): per contender and thread count above 1, the median time there
    over the median at 1 thread. Nothing for a group without a 1-thread case."""
    runs: list[list[Case]] = []
    for case in cases:
        last = runs[-1] if runs else None
        if last and (last[0].model, last[0].batch) == (case.model, case.batch) and case.threads not in {c.threads for c in last}:
            last.append(case)
        else:
            runs.append([case])
    groups = []
    for group in runs:
        base = next((c for c in group if c.threads == 1), None)
        rows = []
        for case in group if base else []:
            if case.threads < 2:
                continue
            for index, (one, many) in enumerate(zip(base.results, case.results)):
                if one.ok and many.ok and one.times_s and many.times_s:
                    rows.append({"model": case.model, "batch": case.batch, "contender": label(cases, index),
                                 "threads": case.threads, "ratio": many.median_s / one.median_s})
        if rows:
            groups.append(rows)
    return groups


def thread_scaling(cases: list[Case]) -> list[dict]:
    """Per model, batch and contender: median time at each thread count above 1 over the
    median at 1 thread (0.5 is perfect scaling on 2 threads). Empty without a 1-thread case."""
    return [row for rows in _scaling_groups(cases) for row in rows]


def print_thread_scaling(console: Console, cases: list[Case]) -> None:
    groups = _scaling_groups(cases)
    if not groups:
        return
    rows = [row for group in groups for row in group]
    threads = sorted({r["threads"] for r in rows})
    contenders = list(dict.fromkeys(r["contender"] for r in rows))
    if len(threads) == 1:
        title = f"thread scaling: median time at {threads[0]} threads / at 1 thread (1/{threads[0]} is perfect)"
    else:
        title = "thread scaling: median time at N threads / at 1 thread (1/N is perfect)"
    table = Table(title=title)
    table.add_column("model", justify="left")
    table.add_column("batch", justify="right")
    columns = [(name, t) for name in contenders for t in threads]
    for name, t in columns:
        table.add_column(name if len(threads) == 1 else f"{name} {t}T/1T", justify="right")
    for group in groups:
        found = {(r["contender"], r["threads"]): r["ratio"] for r in group}
        table.add_row(group[0]["model"], str(group[0]["batch"]), *[_fmt(found.get(key), ".3f") for key in columns])
    geo = [geomean([r["ratio"] for r in rows if (r["contender"], r["threads"]) == key]) for key in columns]
    table.add_row("[bold]geomean[/bold]", "", *[f"[bold]{_fmt(g, '.3f')}[/bold]" for g in geo])
    console.print(table)


def print_accuracy(console: Console, report) -> None:
    """One row per precision of an accuracy.AccuracyReport: errors against its baseline and,
    for a classifier, top-1 agreement with fp32."""
    title = f"{report.model}: accuracy on {report.target}"
    if report.classifier:
        title += f" (classifier: top-1 of {report.classifier}; fp32 chose {report.fp32_classes} distinct classes)"
    table = Table(title=title)
    for col in ("precision", "against", "inputs", "max abs err", "max err / max |fp32|", "top-1 agreement"):
        table.add_column(col, justify="left" if col in ("precision", "against") else "right")
    for row in report.rows:
        s = row.stats
        if s is None:
            table.add_row(row.precision, row.baseline, "[yellow]n/a[/yellow]", "-", "-", "-")
            continue
        agreement = s.top1_agreement
        table.add_row(
            row.precision,
            row.baseline,
            str(s.inputs),
            _fmt(s.max_abs_err, ".2e"),
            _fmt(s.max_rel_to_peak, ".2e"),
            "-" if agreement is None else f"{100 * agreement:.1f}% ({s.top1_same}/{s.top1_total})",
        )
    console.print(table)
    for row in report.rows:
        if row.stats is None:
            console.print(f"  {row.precision}: {row.status}", markup=False)


def to_json(cases: list[Case], info: dict, command: str) -> dict:
    out = {"command": command, "machine": info, "cases": []}
    for case in cases:
        entry = {k: v for k, v in asdict(case).items() if k not in ("results", "ratios")}
        entry["results"] = []
        for r in case.results:
            row = asdict(r)
            row.update(median_s=r.median_s if r.times_s else None, p10_s=r.p10_s if r.times_s else None, p90_s=r.p90_s if r.times_s else None)
            entry["results"].append(row)
        entry["ratios"] = [asdict(x) for x in case.ratios]
        out["cases"].append(entry)
    return out


def write_json(path: Path, payload: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_finite(payload), indent=1, default=str, allow_nan=False))


def _finite(value):
    """JSON has no NaN or infinity: missing figures become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def require_plotting() -> None:
    """A UsageError naming the extra to install when matplotlib is missing: ``bench --plot``
    checks this before it spends minutes measuring."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'cnncc[bench]' (or pip install matplotlib), or drop --plot") from None


def write_plot(path: Path, cases: list[Case], title: str) -> None:
    require_plotting()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{c.model}\n{c.threads}T b{c.batch}" for c in cases]
    names = []
    for c in cases:
        for r in c.results:
            if r.name not in names:
                names.append(r.name)
    width = 0.8 / max(len(names), 1)
    fig, ax = plt.subplots(figsize=(min(16, 3 + 0.45 * len(cases) * max(len(names), 1)), 4.5))
    for k, name in enumerate(names):
        xs, meds, lo, hi = [], [], [], []
        for i, c in enumerate(cases):
            r = next((r for r in c.results if r.name == name and r.ok and r.times_s), None)
            if r is None:
                continue
            xs.append(i + k * width)
            meds.append(r.median_s * 1e3)
            lo.append((r.median_s - r.p10_s) * 1e3)
            hi.append((r.p90_s - r.median_s) * 1e3)
        ax.bar(xs, meds, width, yerr=[lo, hi], capsize=3, label=name)
    ax.set_xticks([i + width * (len(names) - 1) / 2 for i in range(len(cases))])
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_yscale("log")  # contenders differ by orders of magnitude (TVM untuned, the reference)
    ax.set_ylabel("latency, ms, log scale (median; bars p10-p90)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
