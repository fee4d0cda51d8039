"""PP-OCR string accuracy per precision: rendered lines and pages read by cnncc (fp32 and
each precision asked for) and by onnxruntime, with agreement against cnncc fp32.

    python scripts/ocr_accuracy.py [--precision fp32,bf16] [--lines 60] [--pages 6] [--misreads]

Needs the PP-OCR networks (downloaded once into the cnncc cache, see `cnncc zoo`), Pillow
and onnxruntime. A precision this cnncc or this host cannot build is a row saying why.
"""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    from cnncc.bench import ocr_accuracy
    from cnncc.bench.accuracy import parse_precisions
    from cnncc.errors import CnnccError

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="fp32,bf16", help="comma separated: fp32, bf16, auto")
    parser.add_argument("--lines", type=int, default=60, help="rendered lines (every other one rotated 180)")
    parser.add_argument("--pages", type=int, default=6, help="rendered pages of 4 lines (every other one rotated 180)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", default="llvm")
    parser.add_argument("--opt-level", "-O", type=int, default=2)
    parser.add_argument("--no-onnxruntime", action="store_true", help="skip the onnxruntime row")
    parser.add_argument("--misreads", action="store_true", help="list every line each engine got wrong")
    args = parser.parse_args(argv)
    console = Console(highlight=False)
    try:
        precisions = parse_precisions(args.precision)
        started = time.perf_counter()
        samples = ocr_accuracy.make_samples(args.lines, args.pages, args.seed)
        scores = ocr_accuracy.evaluate(samples, precisions, args.target, not args.no_onnxruntime, args.opt_level)
    except CnnccError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    ocr_accuracy.print_scores(console, samples, scores)
    if args.misreads:
        for s in scores:
            for truth, read in ocr_accuracy.misreads(samples, s) if s.status == "ok" else []:
                console.print(f"  {s.engine}: {truth!r} read as {read!r}", markup=False)
    console.print(f"{time.perf_counter() - started:.1f} s", markup=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
