"""On a machine with an NVIDIA GPU: the cuda builds run and match the reference.
Skipped elsewhere (the cuda build itself is covered by test_tvm_cuda.py)."""

import numpy as np
import pytest

import cnncc
from cnncc import zoo
from cnncc.backends.reference import interpret
from tvm_graphs import random_feeds, small_cnn

tvm = pytest.importorskip("tvm")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not tvm.cuda(0).exist, reason="no CUDA GPU on this machine"),
]


def assert_matches(graph, got, feeds):
    for name, ref in interpret(graph, feeds).items():
        np.testing.assert_allclose(got[name], ref, rtol=1e-3, atol=1e-4, err_msg=name)


def test_small_cnn_on_gpu():
    g = small_cnn()
    feeds = random_feeds(g)
    assert_matches(g, cnncc.compile(g, target="cuda").run(feeds), feeds)


def test_exported_artifact_runs_on_gpu(tmp_path):
    g = small_cnn()
    feeds = random_feeds(g)
    out = cnncc.compile(g, target="cuda").export(tmp_path / "art")
    assert_matches(g, cnncc.load(out).run(feeds), feeds)


@pytest.mark.parametrize("name", zoo.LIGHT_MODELS)
def test_light_model_on_gpu(name):
    import onnx

    model = zoo.with_random_weights(onnx.load(str(zoo.light_model_path(name))))
    feeds = zoo.light_input(model)
    compiled = cnncc.compile(model, target="cuda")
    assert_matches(compiled.graph, compiled.run(feeds), feeds)
