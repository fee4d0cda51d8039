"""Whole models at -O3 on llvm (NHWC storage between 1x1 convs, map means in registers)
compute what -O2 computes."""

import numpy as np
import pytest

from cnncc.backends import llvm
from cnncc import zoo
from cnncc.compiler import optimize_for
from cnncc.errors import ModelLoadError
from cnncc.frontends.onnx import import_onnx


def _marked(graph) -> int:
    return sum(1 for n in graph.nodes if n.op == "FusedConv" and (n.attrs.x_block or n.attrs.y_block))


def _o3_against_o2(graph, marked: int, concats_in_place: int | None = None):
    rng = np.random.default_rng(0)
    feeds = {v.name: rng.standard_normal(v.shape).astype(np.float32) for v in graph.inputs}
    o2, o3 = optimize_for(graph, "llvm", 2), optimize_for(graph, "llvm", 3)
    assert _marked(o2) == 0 and _marked(o3) == marked
    want = llvm.build(o2).run(feeds)
    for threads in (1, 2):
        exe = llvm.build(o3, num_threads=threads)
        if concats_in_place is not None:
            assert exe.plan.inplace_concats == concats_in_place
        got = exe.run(feeds)
        for name, ref in want.items():
            np.testing.assert_allclose(got[name], ref, rtol=1e-4, atol=1e-5 * float(np.abs(ref).max()))


def test_resnet50():
    proto, shapes = zoo.get_model("resnet50")
    # the first block's projection joined to its residual conv: one concat, placed in place
    _o3_against_o2(import_onnx(proto, shapes or None), marked=34, concats_in_place=1)


def test_squeezenet_classifier():
    proto, shapes = zoo.get_model("squeezenet")
    _o3_against_o2(import_onnx(proto, shapes or None), marked=1)


def test_ppocr_det():
    """Readers of NHWC values whose own epilogue (hard swish) stays per row in NCHW."""
    try:
        path = zoo.ppocr_model_path("ppocr-det")
    except ModelLoadError as exc:
        pytest.skip(f"PP-OCR models unavailable: {exc}")
    import onnx

    _o3_against_o2(import_onnx(onnx.load(str(path)), zoo.PPOCR_MODELS["ppocr-det"][1]), marked=4)
