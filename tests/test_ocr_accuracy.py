"""OCR end to end on the trained PP-OCR networks: rendered text read by cnncc and onnxruntime.

The networks come from the rapidocr-onnxruntime wheel (cached; skipped when offline). Each
net is compiled once per precision at -O2 for fixed shapes (cnncc.bench.ocr_accuracy.NET_SHAPES).
The pipeline's own pieces (CTC decoding, box finding, rendering) are checked without the
networks first.
"""

import numpy as np
import pytest

pytest.importorskip("PIL")

from cnncc.bench import ocr_accuracy, ocr_pipeline, ocr_render  # noqa: E402
from cnncc.bench.accuracy import PrecisionUnavailable  # noqa: E402
from cnncc.errors import ModelLoadError  # noqa: E402

FP32_MIN_STRING_ACCURACY = 0.9  # observed: 19 of 20 lines (one dropped space), cnncc and onnxruntime alike


# -- the pipeline's pieces, no networks ------------------------------------------------------
def test_ctc_greedy_merges_repeats_and_drops_blanks():
    characters = ["<blank>", "a", "b", " "]
    steps = [1, 1, 0, 1, 2, 2, 0, 0, 3, 2]  # a a _ a b b _ _ ' ' b
    probs = np.eye(4, dtype=np.float32)[steps][None]
    assert ocr_pipeline.ctc_greedy(probs, characters) == "aab b"


def test_db_boxes_finds_separate_regions_grown_back_and_drops_weak_ones():
    prob = np.zeros((40, 80), dtype=np.float32)
    prob[5:11, 10:50] = 0.9  # a line
    prob[20:26, 30:70] = 0.9  # another
    prob[32:36, 5:20] = 0.35  # above the pixel threshold, below the box threshold
    boxes = ocr_pipeline.db_boxes(prob)
    assert len(boxes) == 2
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = boxes
    assert ay0 < 5 and ay1 > 11 and ax0 < 10 and ax1 > 50  # grown by the unclip distance
    assert ay1 <= by0 and bx0 < 30 and bx1 > 70  # top to bottom, apart


def test_rendered_boxes_hold_the_ink_upright_and_rotated():
    font = ocr_render.find_fonts()[0]
    for rotated in (False, True):
        page = ocr_render.render_page(["total 42", "market"], [font, font], [20, 24], 120, 200, rotated=rotated)
        ink = page.image.min(axis=2) < 128
        inside = np.zeros_like(ink)
        for x0, y0, x1, y1 in page.boxes:
            inside[y0:y1, x0:x1] = True
        assert ink.any() and not (ink & ~inside).any(), f"ink outside the line boxes (rotated={rotated})"
        assert (page.boxes[0][1] < page.boxes[1][1]) != rotated  # the first line is on top unless turned


def test_edit_distance():
    assert ocr_accuracy.edit_distance("kitten", "sitting") == 3
    assert ocr_accuracy.edit_distance("", "abc") == 3
    assert ocr_accuracy.edit_distance("same", "same") == 0


# -- the trained networks --------------------------------------------------------------------
@pytest.fixture(scope="module")
def samples():
    try:
        for name in ocr_accuracy.NET_SHAPES:
            ocr_accuracy._load(name)
    except ModelLoadError as exc:
        pytest.skip(f"PP-OCR models unavailable: {exc}")
    return ocr_accuracy.make_samples(lines=12, pages=2)


@pytest.fixture(scope="module")
def fp32_nets(samples):
    return ocr_accuracy.cnncc_nets("fp32", opt_level=2)


@pytest.fixture(scope="module")
def fp32_read(samples, fp32_nets):
    return ocr_accuracy.transcribe(fp32_nets, samples)


def test_cnncc_fp32_reads_every_line_as_onnxruntime_does(samples, fp32_read):
    pytest.importorskip("onnxruntime")
    truths = samples.truths()
    ort_read = ocr_accuracy.transcribe(ocr_accuracy.onnxruntime_nets(), samples)
    assert fp32_read == ort_read
    cnncc_score = ocr_accuracy.score("cnncc", fp32_read, truths, None)
    ort_score = ocr_accuracy.score("onnxruntime", ort_read, truths, None)
    assert cnncc_score.string_accuracy == ort_score.string_accuracy
    assert cnncc_score.string_accuracy >= FP32_MIN_STRING_ACCURACY, ocr_accuracy.misreads(samples, cnncc_score)


def test_upside_down_lines_are_turned_and_read(samples, fp32_read):
    """The direction classifier's decision matters: rotated lines read as well as upright ones
    (read without turning, an upside-down line comes out as noise)."""
    n = len(samples.lines)
    rotated = [i for i, s in enumerate(samples.lines) if s.rotated]
    assert rotated and len(rotated) < n
    right = [ocr_accuracy.normalized(fp32_read[i]) == ocr_accuracy.normalized(samples.lines[i].text) for i in rotated]
    assert sum(right) >= len(rotated) - 1


@pytest.mark.parametrize("precision", ["bf16"])
def test_reduced_precision_string_accuracy_within_one_point_of_fp32(samples, fp32_nets, fp32_read, precision):
    try:
        nets = ocr_accuracy.cnncc_nets(precision, opt_level=2)
    except PrecisionUnavailable as exc:
        pytest.skip(str(exc))
    truths = samples.truths()
    reduced = ocr_accuracy.score(precision, ocr_accuracy.transcribe(nets, samples), truths, fp32_read)
    baseline = ocr_accuracy.score("fp32", fp32_read, truths, None)
    assert reduced.string_accuracy >= baseline.string_accuracy - 0.01, ocr_accuracy.misreads(samples, reduced)
    # the trained direction classifier picks fp32's class on every line
    assert ocr_accuracy.directions(nets, samples) == ocr_accuracy.directions(fp32_nets, samples)


def test_score_collapses_whitespace_and_counts_agreement():
    s = ocr_accuracy.score("x", ["a b", "c", " e "], ["a  b", "d", "e"], ["a b", "d", "e"])
    assert s.lines == 3
    assert s.string_accuracy == pytest.approx(2 / 3)
    assert s.char_accuracy == pytest.approx(1 - 1 / 5)  # one substitution in 5 characters
    assert s.fp32_agreement == pytest.approx(2 / 3)
