"""How far a reduced-precision build strays from fp32, measured on seeded inputs.

For a model and a list of precisions, each precision is compiled for the same target and run
on ``inputs`` seeded standard-normal inputs. The baseline is cnncc's fp32 build of that
target (itself checked against the NumPy reference backend on the first input: the fp32
row). Per precision: the largest absolute difference from fp32, that difference divided by
the largest magnitude of the fp32 output (the measure the bf16 goal, 2e-2, is stated in),
and, for classifiers, how often the top-1 class matches fp32's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnncc.errors import BackendError, UsageError
from cnncc.precision import PRECISIONS, check_precision

MIN_CLASSES = 10  # an output of at least this many scores per sample is a classifier's


class PrecisionUnavailable(Exception):
    """This cnncc, target or host cannot build the precision; the message says why."""


def parse_precisions(text: str) -> list[str]:
    values = [p.strip() for p in text.split(",") if p.strip()]
    if not values:
        raise UsageError(f"--precision {text!r}: expected a comma-separated list of {', '.join(PRECISIONS)}")
    return list(dict.fromkeys(check_precision(p) for p in values))


def compile_at(model, target: str, precision: str, input_shapes=None, opt_level: int = 2, options: dict | None = None):
    """``cnncc.compile`` at ``precision``. fp32 passes no ``precision`` argument, so this works
    with a cnncc that predates it; any other precision that cnncc, the target or the host
    refuses (an unknown option, missing CPU features) raises PrecisionUnavailable."""
    import cnncc

    kwargs = dict(options or {})
    if precision != "fp32":
        kwargs["precision"] = precision
    try:
        return cnncc.compile(model, target=target, input_shapes=input_shapes, opt_level=opt_level, **kwargs)
    except (TypeError, UsageError, BackendError) as exc:
        if precision == "fp32":
            raise
        raise PrecisionUnavailable(f"precision {precision} is not available for target {target}: {exc}") from exc


def classifier_output(shape) -> bool:
    """A classifier's output: one score per class per sample, (N, C) or (N, C, 1, 1), C >= MIN_CLASSES."""
    rest = [int(d) for d in shape[1:]]
    return bool(rest) and max(rest) >= MIN_CLASSES and int(np.prod(rest)) == max(rest)


def top1(output: np.ndarray) -> np.ndarray:
    return np.asarray(output).reshape(output.shape[0], -1).argmax(axis=1)


@dataclass
class ErrorStats:
    """Running worst-case errors of one precision against its baseline."""

    inputs: int = 0
    max_abs_err: float = 0.0
    max_rel_to_peak: float = 0.0  # max |got - base| / max |base|, per output and input
    top1_same: int = 0
    top1_total: int = 0

    def add(self, got: dict, base: dict, classifier: str | None) -> None:
        self.inputs += 1
        for name, ref in base.items():
            a = np.asarray(got[name], dtype=np.float64)
            b = np.asarray(ref, dtype=np.float64)
            diff = float(np.abs(a - b).max()) if b.size else 0.0
            self.max_abs_err = max(self.max_abs_err, diff)
            peak = float(np.abs(b).max()) if b.size else 0.0
            self.max_rel_to_peak = max(self.max_rel_to_peak, diff / peak if peak > 0 else (0.0 if diff == 0 else np.inf))
        if classifier is not None:
            same = top1(np.asarray(got[classifier])) == top1(np.asarray(base[classifier]))
            self.top1_same += int(same.sum())
            self.top1_total += same.size

    @property
    def top1_agreement(self) -> float | None:
        return self.top1_same / self.top1_total if self.top1_total else None


@dataclass
class PrecisionRow:
    precision: str
    baseline: str  # what it was compared with
    status: str = "ok"
    stats: ErrorStats | None = None


@dataclass
class AccuracyReport:
    model: str
    target: str
    classifier: str | None  # the output whose top-1 is compared, if the model is a classifier
    fp32_classes: int  # distinct fp32 top-1 classes over the inputs (1: agreement says little)
    rows: list[PrecisionRow]


def seeded_inputs(shapes: dict, count: int, seed: int) -> list[dict[str, np.ndarray]]:
    from cnncc.bench.models import seeded_feeds

    return [seeded_feeds(shapes, seed + i) for i in range(count)]


@dataclass(frozen=True)
class AccuracySettings:
    target: str = "llvm"
    inputs: int = 100  # seeded inputs per precision: seeds seed, seed + 1, ...
    seed: int = 0
    opt_level: int = 2
    options: dict | None = None  # backend options, e.g. a tuning db_dir


def measure(name: str, model, shapes: dict, precisions: list[str], settings: AccuracySettings = AccuracySettings()) -> AccuracyReport:
    """Every precision in ``precisions`` against cnncc fp32 on ``settings.inputs`` seeded
    inputs; the fp32 row against the reference backend on the first input."""
    target, inputs, opt_level, options = settings.target, settings.inputs, settings.opt_level, settings.options
    fp32 = compile_at(model, target, "fp32", shapes, opt_level, options)
    feeds = seeded_inputs({v.name: v.shape for v in fp32.graph.inputs}, inputs, settings.seed)
    base_outputs = [fp32.run(f) for f in feeds]
    outs = {v.name: v.shape for v in fp32.graph.outputs}
    classifier = next((n for n, s in outs.items() if len(outs) == 1 and classifier_output(s)), None)
    classes = len({int(c) for o in base_outputs for c in top1(o[classifier])}) if classifier else 0

    rows = []
    for precision in precisions:
        if precision == "fp32":
            reference = compile_at(model, "reference", "fp32", shapes, opt_level)
            stats = ErrorStats()
            stats.add(base_outputs[0], reference.run(feeds[0]), classifier)
            rows.append(PrecisionRow("fp32", "reference backend", stats=stats))
            continue
        row = PrecisionRow(precision, f"cnncc {target} fp32")
        try:
            compiled = compile_at(model, target, precision, shapes, opt_level, options)
        except PrecisionUnavailable as exc:
            row.status = f"unavailable: {exc}"
            rows.append(row)
            continue
        row.stats = ErrorStats()
        for f, base in zip(feeds, base_outputs):
            row.stats.add(compiled.run(f), base, classifier)
        rows.append(row)
    return AccuracyReport(name, target, classifier, classes, rows)
