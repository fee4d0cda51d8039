"""OCR string accuracy of the trained PP-OCR networks, per runtime and precision.

Rendered lines go through the direction classifier and the recognizer; rendered pages go
through the detector first, and each ground-truth line takes the text of the detected box
that overlaps it most. Every engine (onnxruntime, cnncc at each precision) reads the same
images; the score is the share of lines read exactly (whitespace runs collapsed), the
character accuracy (1 - edit distance / characters), and the share of lines read exactly as
cnncc fp32 read them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnncc.bench.ocr_pipeline import CLS_LABELS, OcrNets, line_input, read_line, read_page, rec_characters
from cnncc.bench.ocr_render import LineSample, PageSample, line_samples, page_samples

# Fixed input shapes: the zoo's for the classifier and recognizer; a small page for the detector.
NET_SHAPES = {"ppocr-det": (1, 3, 224, 384), "ppocr-cls": (1, 3, 48, 192), "ppocr-rec": (1, 3, 48, 320)}
MIN_IOU = 0.3  # a detected box this close to a ground-truth line reads that line


@dataclass
class OcrSamples:
    lines: list[LineSample]
    pages: list[PageSample]

    def truths(self) -> list[str]:
        return [s.text for s in self.lines] + [t for p in self.pages for t in p.texts]


def make_samples(lines: int = 24, pages: int = 4, seed: int = 0) -> OcrSamples:
    _, _, h, w = NET_SHAPES["ppocr-det"]
    return OcrSamples(line_samples(lines, seed), page_samples(pages, h, w, seed=seed + 1))


def _load(name: str):
    import onnx

    from cnncc import zoo

    return onnx.load(str(zoo.ppocr_model_path(name)))


def _nets(det, cls, rec, characters) -> OcrNets:
    s = NET_SHAPES
    return OcrNets(det, cls, rec, s["ppocr-det"], s["ppocr-cls"], s["ppocr-rec"], characters)


def onnxruntime_nets() -> OcrNets:
    import onnxruntime as ort

    def session(name):
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sess = ort.InferenceSession(_load(name).SerializeToString(), opts, providers=["CPUExecutionProvider"])
        return lambda x: sess.run(None, {"x": x})[0]

    return _nets(session("ppocr-det"), session("ppocr-cls"), session("ppocr-rec"), rec_characters(_load("ppocr-rec")))


def cnncc_nets(precision: str, target: str = "llvm", opt_level: int = 2, options: dict | None = None) -> OcrNets:
    """The three nets compiled by cnncc at ``precision``; PrecisionUnavailable when it cannot."""
    from cnncc.bench.accuracy import compile_at

    compiled = [compile_at(_load(name), target, precision, {"x": shape}, opt_level, options) for name, shape in NET_SHAPES.items()]
    return _nets(*compiled, rec_characters(_load("ppocr-rec")))


def _iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def transcribe(nets: OcrNets, samples: OcrSamples) -> list[str]:
    """One read string per ground-truth line, in ``samples.truths()`` order ("" for a page
    line no detected box overlaps)."""
    read = [read_line(nets, s.image) for s in samples.lines]
    for page in samples.pages:
        found = read_page(nets, page.image)
        for box in page.boxes:
            best = max(found, key=lambda f: _iou(f[0], box), default=None)
            read.append(best[1] if best is not None and _iou(best[0], box) >= MIN_IOU else "")
    return read


def normalized(text: str) -> str:
    return " ".join(text.split())


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


@dataclass
class OcrScore:
    engine: str
    status: str = "ok"
    lines: int = 0
    string_accuracy: float | None = None  # share of lines read exactly
    char_accuracy: float | None = None  # 1 - edit distance / characters
    fp32_agreement: float | None = None  # share of lines read as cnncc fp32 read them
    read: list[str] | None = None
    # the direction classifier (a trained 2-class net) on every rendered line: its top-1
    # against the rendered rotation, and against cnncc fp32's top-1
    direction_accuracy: float | None = None
    direction_agreement: float | None = None
    directions: list[int] | None = None


def score(engine: str, read: list[str], truths: list[str], fp32_read: list[str] | None) -> OcrScore:
    pairs = [(normalized(r), normalized(t)) for r, t in zip(read, truths)]
    chars = sum(len(t) for _, t in pairs)
    result = OcrScore(engine, lines=len(pairs), read=read)
    result.string_accuracy = sum(r == t for r, t in pairs) / len(pairs)
    result.char_accuracy = 1.0 - sum(edit_distance(r, t) for r, t in pairs) / max(chars, 1)
    if fp32_read is not None:
        result.fp32_agreement = sum(normalized(a) == normalized(b) for a, b in zip(read, fp32_read)) / len(read)
    return result


def directions(nets: OcrNets, samples: OcrSamples) -> list[int]:
    """The direction classifier's top-1 class per rendered line (CLS_LABELS: 0 or 180)."""
    return [int(np.argmax(np.asarray(nets.cls(line_input(s.image, nets.cls_shape))).reshape(-1))) for s in samples.lines]


def _with_directions(result: OcrScore, nets: OcrNets, samples: OcrSamples, fp32_dirs: list[int] | None) -> OcrScore:
    dirs = directions(nets, samples)
    truth = [CLS_LABELS.index("180" if s.rotated else "0") for s in samples.lines]
    result.directions = dirs
    result.direction_accuracy = sum(d == t for d, t in zip(dirs, truth)) / max(len(dirs), 1)
    if fp32_dirs is not None:
        result.direction_agreement = sum(d == f for d, f in zip(dirs, fp32_dirs)) / max(len(dirs), 1)
    return result


def evaluate(samples: OcrSamples, precisions: list[str], target: str = "llvm", with_onnxruntime: bool = True,
             opt_level: int = 2) -> list[OcrScore]:
    """cnncc fp32 first (the baseline for agreement), then every other precision, then
    onnxruntime; a precision that cannot be built is a row saying why."""
    from cnncc.bench.accuracy import PrecisionUnavailable

    truths = samples.truths()
    fp32_nets = cnncc_nets("fp32", target, opt_level)
    fp32_read = transcribe(fp32_nets, samples)
    scores = [_with_directions(score(f"cnncc-{target} fp32", fp32_read, truths, fp32_read), fp32_nets, samples, None)]
    fp32_dirs = scores[0].directions
    scores[0].direction_agreement = 1.0
    for precision in precisions:
        if precision == "fp32":
            continue
        try:
            nets = cnncc_nets(precision, target, opt_level)
        except PrecisionUnavailable as exc:
            scores.append(OcrScore(f"cnncc-{target} {precision}", status=f"unavailable: {exc}"))
            continue
        scores.append(_with_directions(score(f"cnncc-{target} {precision}", transcribe(nets, samples), truths, fp32_read),
                                       nets, samples, fp32_dirs))
    if with_onnxruntime:
        try:
            nets = onnxruntime_nets()
        except ImportError:
            scores.append(OcrScore("onnxruntime fp32", status="unavailable: onnxruntime is not installed (pip install onnxruntime)"))
        else:
            scores.append(_with_directions(score("onnxruntime fp32", transcribe(nets, samples), truths, fp32_read),
                                           nets, samples, fp32_dirs))
    return scores


def print_scores(console, samples: OcrSamples, scores: list[OcrScore]) -> None:
    from rich.table import Table

    title = (f"PP-OCR string accuracy: {len(samples.lines)} lines (classifier + recognizer) and "
             f"{len(samples.pages)} pages of {len(samples.pages[0].texts) if samples.pages else 0} lines (+ detector)")
    table = Table(title=title)
    for col in ("engine", "lines", "string accuracy", "char accuracy", "same as cnncc fp32",
                "direction top-1 right", "direction top-1 = cnncc fp32"):
        table.add_column(col, justify="left" if col == "engine" else "right")

    def pct(v):
        return "-" if v is None else f"{100 * v:.1f}%"
    for s in scores:
        if s.status != "ok":
            table.add_row(s.engine, "[yellow]n/a[/yellow]", "-", "-", "-", "-", "-")
            continue
        table.add_row(s.engine, str(s.lines), pct(s.string_accuracy), pct(s.char_accuracy), pct(s.fp32_agreement),
                      pct(s.direction_accuracy), pct(s.direction_agreement))
    console.print(table)
    for s in scores:
        if s.status != "ok":
            console.print(f"  {s.engine}: {s.status}", markup=False)


def misreads(samples: OcrSamples, score_: OcrScore) -> list[tuple[str, str]]:
    """(truth, read) for every line ``score_``'s engine got wrong."""
    return [(t, r) for t, r in zip(samples.truths(), score_.read or []) if normalized(t) != normalized(r)]
