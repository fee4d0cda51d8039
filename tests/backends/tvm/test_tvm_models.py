"""Whole graphs: a small CNN end to end on tvm-llvm (through cnncc.compile and the pass
pipeline), export and load, kernel sharing, and the light model-zoo models for cuda."""

import numpy as np
import pytest

import cnncc
from cnncc.backends.reference import interpret
from cnncc.ir import Graph
from tvm_graphs import GraphMaker, random_feeds, small_cnn

pytest.importorskip("tvm")

from cnncc.backends import tvm as tvm_backend  # noqa: E402


def assert_matches(graph: Graph, got: dict, feeds: dict):
    want = interpret(graph, feeds)
    for name, ref in want.items():
        np.testing.assert_allclose(got[name], ref, rtol=1e-3, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("opt_level", [0, 2])
def test_small_cnn_end_to_end(opt_level):
    g = small_cnn()
    feeds = random_feeds(g)
    model = cnncc.compile(g, target="tvm-llvm", opt_level=opt_level)
    if opt_level == 2:
        assert "FusedConv" in model.graph.op_histogram()
    assert_matches(g, model.run(feeds), feeds)


def test_small_cnn_batch_and_odd_size():
    g = small_cnn(seed=3, n=2, size=13)
    feeds = random_feeds(g, seed=1)
    assert_matches(g, cnncc.compile(g, target="tvm-llvm").run(feeds), feeds)


def test_export_and_load_roundtrip(tmp_path):
    g = small_cnn()
    feeds = random_feeds(g)
    model = cnncc.compile(g, target="tvm-llvm")
    out = model.export(tmp_path / "art")
    assert {p.name for p in out.iterdir()} >= {"model.so", "weights.npz", "meta.json"}
    loaded = cnncc.load(out)
    got = loaded.run(feeds)
    assert_matches(g, got, feeds)


def test_identical_workloads_share_one_kernel():
    m = GraphMaker("shared")
    x = m.input((1, 4, 6, 6), name="x")
    w = np.full((4, 4, 3, 3), 0.1, np.float32)
    conv = dict(kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1))
    y = m.op("Relu", m.op("Conv", x, m.const(w), **conv))
    y = m.op("Relu", m.op("Conv", y, m.const(w * 2), **conv))
    g = m.graph(y)
    exe = tvm_backend.build(g, device="cpu")
    assert sorted((k.op, k.nodes) for k in exe.kernels) == [("Conv", 2), ("Relu", 2)]
    feeds = random_feeds(g)
    assert_matches(g, exe.run(feeds), feeds)


def test_graph_output_that_is_an_input_or_repeated():
    m = GraphMaker("passthrough")
    x = m.input((2, 3), name="x")
    y = m.op("Relu", x)
    g = m.graph(y, x, y)
    feeds = random_feeds(g)
    got = tvm_backend.build(g, device="cpu").run(feeds)
    np.testing.assert_array_equal(got["x"], feeds["x"])
    assert_matches(g, got, feeds)


def test_cuda_run_without_gpu_says_so():
    exe = tvm_backend.build(small_cnn(), device="cuda", device_code=False)
    import tvm

    if tvm.cuda(0).exist:
        pytest.skip("a GPU is present")
    with pytest.raises(cnncc.errors.BackendError, match="no cuda device"):
        exe.run(random_feeds(small_cnn()))


# -- the light model zoo ------------------------------------------------------------------
def _light(name):
    from cnncc import zoo

    path = zoo.light_model_path(name)
    if not path.exists():
        pytest.skip(f"{path} is not shipped with this onnx")
    return path


@pytest.mark.parametrize("name", __import__("cnncc.zoo", fromlist=["LIGHT_MODELS"]).LIGHT_MODELS)
def test_light_model_builds_for_cuda(name):
    model = cnncc.compile(str(_light(name)), target="cuda", device_code=False)
    exe = model._executable
    src = exe.cuda_source()
    assert src.count("__global__") >= 1
    assert exe.kernels and all(k.schedule in ("default", "fallback") for k in exe.kernels)


def _check_light_on_cpu(name):
    import onnx

    from cnncc import zoo

    model = zoo.with_random_weights(onnx.load(str(_light(name))))
    feeds = zoo.light_input(model)
    compiled = cnncc.compile(model, target="tvm-llvm")
    assert_matches(compiled.graph, compiled.run(feeds), feeds)


def test_light_squeezenet_matches_reference_on_cpu():
    _check_light_on_cpu("squeezenet")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet", "vgg19", "zfnet512"])
def test_light_model_matches_reference_on_cpu(name):
    _check_light_on_cpu(name)


# -- trained PP-OCR networks (hard-swish, resize, conv-transpose, matmul, layer statistics) --
@pytest.mark.slow
@pytest.mark.parametrize("name", ["ppocr-det", "ppocr-cls", "ppocr-rec"])
def test_ppocr_model_matches_reference_on_cpu_and_builds_for_cuda(name):
    from cnncc import zoo
    from cnncc.errors import CnnccError

    try:
        model, shapes = zoo.get_model(name)
    except (CnnccError, OSError) as exc:
        pytest.skip(f"{name} is not available here: {exc}")
    compiled = cnncc.compile(model, target="tvm-llvm", input_shapes=shapes)
    feeds = random_feeds(compiled.graph)
    assert_matches(compiled.graph, compiled.run(feeds), feeds)
    exe = cnncc.compile(model, target="cuda", input_shapes=shapes, device_code=False)._executable
    assert "__global__" in exe.cuda_source()
