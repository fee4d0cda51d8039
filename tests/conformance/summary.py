"""Conformance counts: ``python -m tests.conformance.summary [--suite S ...] [--match RE] [--markdown]``.

Runs every case of the chosen suites (all by default) through ``cnncc.onnx_backend`` and
prints passed / failed / skipped per suite, per op for the node cases of ops cnncc converts,
the skip reasons grouped, and every failure. ``CNNCC_CONFORMANCE_TARGET`` and
``CNNCC_CONFORMANCE_OPT_LEVEL`` choose the target and -O level (default reference, -O2).
Exits non-zero when a case fails.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import time

from . import cases


def skip_category(reason: str) -> str:
    """A reason without node and tensor names, so that alike refusals count together."""
    if "unsupported ONNX op(s)" in reason:
        return "op not supported by cnncc"
    m = re.search(r"element type (\w+)|dtype (\w+)", reason)
    if m and "Dtype" in reason:
        return f"dtype {m.group(1) or m.group(2)}"
    if "sequence, map or optional" in reason:
        return "sequence/optional inputs"
    reason = re.sub(r"^\w+Error: ", "", reason)
    reason = re.sub(r"node \S+ ", "", reason)
    return reason


def run(suites, match: str | None = None) -> list[cases.Outcome]:
    bk = cases.backend()
    outcomes = []
    for suite in suites:
        start = time.perf_counter()
        items = [(n, i) for n, i in cases.suite_items(suite) if not match or re.search(match, n)]
        for _, item in items:
            outcomes.append(cases.run_item(suite, item, bk))
        print(f"# {suite}: {len(items)} cases in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return outcomes


def table(rows, header, markdown: bool) -> list[str]:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        return lines + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
    return [fmt.format(*header)] + [fmt.format(*(str(c) for c in r)) for r in rows]


def report(outcomes: list[cases.Outcome], markdown: bool = False) -> str:
    from cnncc.frontends.onnx import CONVERTERS

    out = [f"cnncc conformance: target {cases.TARGET}, -O{cases.OPT_LEVEL}", ""]
    by_suite = collections.defaultdict(collections.Counter)
    for o in outcomes:
        by_suite[o.suite][o.status] += 1
    rows = [(s, c["passed"], c["failed"], c["skipped"], sum(c.values())) for s, c in by_suite.items()]
    out += table(rows, ("suite", "passed", "failed", "skipped", "total"), markdown) + [""]

    node = [o for o in outcomes if o.suite == "node"]
    if node:
        per_op = collections.defaultdict(collections.Counter)
        other = collections.Counter()
        for o in node:
            op = o.op.replace(" (expanded)", "")
            if op in CONVERTERS:
                per_op[o.op][o.status] += 1
            else:
                other[o.status] += 1
        rows = [(op, c["passed"], c["failed"], c["skipped"]) for op, c in sorted(per_op.items())]
        out += [f"node cases of the {len({r[0].split(' ')[0] for r in rows})} ONNX ops cnncc converts:", ""]
        out += table(rows, ("op", "passed", "failed", "skipped"), markdown)
        n_other_ops = len({o.op for o in node if o.op.replace(" (expanded)", "") not in CONVERTERS})
        out += ["", f"node cases of {n_other_ops} other ops (function-expanded ones may pass): "
                f"passed {other['passed']}, failed {other['failed']}, skipped {other['skipped']}", ""]

    skips = collections.Counter()
    for o in outcomes:
        if o.status == "skipped":
            skips[(o.suite if o.suite != "node" else "node", skip_category(o.reason))] += 1
    if skips:
        out += ["skip reasons:", ""]
        out += table([(f"{s}: {r}", n) for (s, r), n in skips.most_common()], ("reason", "cases"), markdown) + [""]

    failures = [o for o in outcomes if o.status == "failed"]
    out.append(f"failures: {len(failures)}")
    out += [f"  {o.suite}/{o.name}: {o.reason}" for o in failures]
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.conformance.summary", description=__doc__.splitlines()[0])
    parser.add_argument("--suite", action="append", choices=cases.SUITES, help="repeatable; default: all")
    parser.add_argument("--markdown", action="store_true", help="tables in Markdown (for the README)")
    parser.add_argument("--match", metavar="REGEX", help="only the cases whose name matches (e.g. 'conv|pool')")
    args = parser.parse_args(argv)
    outcomes = run(args.suite or cases.SUITES, args.match)
    print(report(outcomes, args.markdown))
    return 1 if any(o.status == "failed" for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
