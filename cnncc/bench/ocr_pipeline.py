"""A small PP-OCR pipeline around three networks: detect lines, fix their direction, read them.

The pre- and post-processing follow PaddleOCR's (and rapidocr's) defaults, simplified where
that keeps the check readable: the detector's probability map is thresholded and its
connected regions become axis-aligned boxes (no rotated rectangles); recognition is CTC
greedy decoding with the dictionary the recognizer carries in its metadata. The networks are
plain callables (a batch-1 NCHW float32 array in, the output array back) of fixed input
shapes, so any runtime can stand behind them: onnxruntime, or cnncc at any precision.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Net = Callable[[np.ndarray], np.ndarray]

DET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
DET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
DET_THRESH = 0.3  # pixel probability that counts as text
DET_BOX_THRESH = 0.5  # mean probability a region needs to be kept
DET_UNCLIP_RATIO = 1.6  # the detector predicts shrunk regions; grow them back by area * ratio / perimeter
DET_MIN_SIDE = 3
CLS_LABELS = ("0", "180")
CLS_THRESH = 0.9  # rotate a line only when the classifier is this sure


@dataclass
class OcrNets:
    """The three networks and their fixed NCHW input shapes, plus the recognizer's characters
    (index 0 is CTC's blank)."""

    det: Net
    cls: Net
    rec: Net
    det_shape: tuple[int, int, int, int]
    cls_shape: tuple[int, int, int, int]
    rec_shape: tuple[int, int, int, int]
    characters: list[str]


def rec_characters(rec_model) -> list[str]:
    """CTC's classes for a PP-OCR recognizer: blank, the dictionary stored in the model's
    ``character`` metadata (as rapidocr reads it), then the space."""
    from cnncc.errors import ModelLoadError

    table = {p.key: p.value for p in rec_model.metadata_props}
    if "character" not in table:
        raise ModelLoadError("the recognizer carries no 'character' metadata (a dictionary file would be needed)")
    return ["<blank>", *table["character"].splitlines(), " "]


def det_input(image: np.ndarray, shape) -> np.ndarray:
    """An RGB page padded (bottom/right, with white) to the detector's input size, normalized
    as PaddleOCR does (BGR order, ImageNet mean and std)."""
    _, _, h, w = shape
    if image.shape[0] > h or image.shape[1] > w:
        raise ValueError(f"page {image.shape[1]}x{image.shape[0]} exceeds the detector's input {w}x{h}")
    page = np.full((h, w, 3), 255, dtype=np.uint8)
    page[: image.shape[0], : image.shape[1]] = image
    x = (page[..., ::-1].astype(np.float32) / 255.0 - DET_MEAN) / DET_STD
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def line_input(image: np.ndarray, shape) -> np.ndarray:
    """A line crop resized to the net's height (width by aspect ratio, at most the net's width),
    scaled to [-1, 1] and zero-padded on the right: PaddleOCR's resize_norm_img."""
    from PIL import Image

    _, _, h, w = shape
    ratio = image.shape[1] / max(image.shape[0], 1)
    resized_w = max(1, min(w, math.ceil(h * ratio)))
    resized = np.asarray(Image.fromarray(image).resize((resized_w, h), Image.BILINEAR), dtype=np.float32)
    x = np.zeros((3, h, w), dtype=np.float32)
    x[:, :, :resized_w] = (resized[..., ::-1].transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return x[None]


def _components(mask: np.ndarray) -> list[np.ndarray]:
    """4-connected regions of a boolean mask, each as an (n, 2) array of (row, col)."""
    labels = np.zeros(mask.shape, dtype=np.int32)
    regions = []
    h, w = mask.shape
    for start in zip(*np.nonzero(mask)):
        if labels[start]:
            continue
        label = len(regions) + 1
        labels[start] = label
        stack, pixels = [start], []
        while stack:
            r, c = stack.pop()
            pixels.append((r, c))
            for nr, nc in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
                if 0 <= nr < h and 0 <= nc < w and mask[nr, nc] and not labels[nr, nc]:
                    labels[nr, nc] = label
                    stack.append((nr, nc))
        regions.append(np.array(pixels))
    return regions


def db_boxes(prob: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Text boxes (x0, y0, x1, y1) from a DB probability map (H x W), top to bottom."""
    h, w = prob.shape
    boxes = []
    for pixels in _components(prob > DET_THRESH):
        r0, c0 = pixels.min(axis=0)
        r1, c1 = pixels.max(axis=0) + 1
        if min(r1 - r0, c1 - c0) < DET_MIN_SIDE or prob[pixels[:, 0], pixels[:, 1]].mean() < DET_BOX_THRESH:
            continue
        bw, bh = c1 - c0, r1 - r0
        grow = bw * bh * DET_UNCLIP_RATIO / (2 * (bw + bh))
        g = int(round(grow))
        boxes.append((max(0, c0 - g), max(0, r0 - g), min(w, c1 + g), min(h, r1 + g)))
    return sorted(boxes, key=lambda b: (b[1], b[0]))


def upright(nets: OcrNets, crop: np.ndarray) -> np.ndarray:
    """``crop`` turned upright when the direction classifier is sure it is upside down."""
    probs = np.asarray(nets.cls(line_input(crop, nets.cls_shape))).reshape(-1)
    label = int(np.argmax(probs))
    if CLS_LABELS[label] == "180" and probs[label] > CLS_THRESH:
        return np.ascontiguousarray(crop[::-1, ::-1])
    return crop


def ctc_greedy(probs: np.ndarray, characters: list[str]) -> str:
    """Best class per time step, repeats merged, blanks dropped."""
    best = np.asarray(probs).reshape(-1, probs.shape[-1]).argmax(axis=1)
    keep = np.ones(best.shape, dtype=bool)
    keep[1:] = best[1:] != best[:-1]
    return "".join(characters[i] for i in best[keep & (best != 0)])


def read_line(nets: OcrNets, crop: np.ndarray) -> str:
    crop = upright(nets, crop)
    return ctc_greedy(np.asarray(nets.rec(line_input(crop, nets.rec_shape))), nets.characters)


def read_page(nets: OcrNets, image: np.ndarray) -> list[tuple[tuple[int, int, int, int], str]]:
    """(box, text) for every line the detector finds in ``image``."""
    prob = np.asarray(nets.det(det_input(image, nets.det_shape)))[0, 0]
    h, w = image.shape[:2]
    found = []
    for x0, y0, x1, y1 in db_boxes(prob[:h, :w]):
        found.append(((x0, y0, x1, y1), read_line(nets, image[y0:y1, x0:x1])))
    return found
