"""Trained networks (PP-OCR, shipped in the rapidocr-onnxruntime wheel) against onnxruntime."""

import numpy as np
import pytest

import cnncc
from cnncc import zoo
from cnncc.errors import ModelLoadError

ort = pytest.importorskip("onnxruntime")


def ppocr(name):
    try:
        return zoo.ppocr_model_path(name)
    except ModelLoadError as exc:
        pytest.skip(f"PP-OCR models unavailable: {exc}")


@pytest.mark.parametrize("name", list(zoo.PPOCR_MODELS))
@pytest.mark.parametrize("opt_level", [0, 2])
def test_ppocr_matches_onnxruntime(name, opt_level):
    path = ppocr(name)
    shapes = zoo.PPOCR_MODELS[name][1]
    x = np.random.default_rng(0).uniform(-1, 1, shapes["x"]).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    expected = session.run(None, {"x": x})[0]
    model = cnncc.compile(str(path), target="reference", input_shapes=shapes, opt_level=opt_level)
    got = model(x)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)
