"""The modern architecture suite (cnncc/modern): each graph is valid ONNX with the ops it
advertises and sane activations, and cnncc's llvm target matches onnxruntime on it at -O2 and
-O3 within 1e-3 of the output's largest magnitude."""

import functools

import numpy as np
import onnx
import pytest

import cnncc
from cnncc.modern import MODERN_MODELS

ADVERTISED_OPS = {
    "mobilenet_v2": {"Clip", "Conv", "Add", "GlobalAveragePool", "Gemm"},
    "mobilenet_v3_large": {"HardSwish", "HardSigmoid", "GlobalAveragePool", "Mul", "Relu"},
    "mobilenet_v3_small": {"HardSwish", "HardSigmoid", "GlobalAveragePool", "Mul", "Relu"},
    "efficientnet_b0": {"Sigmoid", "Mul", "GlobalAveragePool", "Add"},
    "regnet_y_400mf": {"Conv", "Sigmoid", "Mul", "Relu", "Add"},
    "convnext_tiny": {"Erf", "ReduceMean", "Sub", "Pow", "Sqrt", "Div", "Mul", "Add"},
    "resnet18": {"Conv", "MaxPool", "Relu", "Add", "Gemm"},
    "yolov8n": {"Resize", "Concat", "Split", "MaxPool", "Sigmoid", "Softmax", "Transpose", "Reshape"},
    "unet": {"ConvTranspose", "Concat", "MaxPool", "Relu"},
}
# a conv attribute each family must have somewhere (kernel side, depthwise, grouped)
ADVERTISED_CONVS = {
    "mobilenet_v2": [("depthwise", 3)],
    "mobilenet_v3_large": [("depthwise", 3), ("depthwise", 5)],
    "mobilenet_v3_small": [("depthwise", 5)],
    "efficientnet_b0": [("depthwise", 3), ("depthwise", 5)],
    "regnet_y_400mf": [("grouped", 3)],
    "convnext_tiny": [("depthwise", 7)],
    "resnet18": [("dense", 7), ("dense", 3)],
    "yolov8n": [("dense", 3)],
    "unet": [("dense", 3)],
}
# GMACs at the size `cnncc zoo` writes (the published figures, within a few percent)
GMACS = {
    "mobilenet_v2": 0.30, "mobilenet_v3_large": 0.22, "mobilenet_v3_small": 0.057, "efficientnet_b0": 0.39,
    "regnet_y_400mf": 0.40, "convnext_tiny": 4.46, "resnet18": 1.82, "yolov8n": 4.4, "unet": 48.2,
}


@functools.cache
def built(name):
    spec = MODERN_MODELS[name]
    return spec.build(seed=0, size=spec.test_size)


def seeded_input(name):
    model, shapes = built(name)
    (input_name, shape), = shapes.items()
    return input_name, np.random.default_rng(1).standard_normal(shape).astype(np.float32)


def test_the_suite_is_the_advertised_one():
    assert set(MODERN_MODELS) == set(ADVERTISED_OPS) == set(ADVERTISED_CONVS) == set(GMACS)


@pytest.mark.parametrize("name", list(MODERN_MODELS))
def test_graph_is_valid_onnx_with_the_advertised_ops(name):
    model, _ = built(name)
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 17
    ops = {n.op_type for n in model.graph.node}
    assert ADVERTISED_OPS[name] <= ops, f"{name} lacks {ADVERTISED_OPS[name] - ops}"
    inits = {t.name: t for t in model.graph.initializer}
    convs = set()
    for node in model.graph.node:
        if node.op_type != "Conv":
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        k, group = attrs["kernel_shape"][0], attrs.get("group", 1)
        cin_per_group = inits[node.input[1]].dims[1]
        kind = "dense" if group == 1 else "depthwise" if cin_per_group == 1 else "grouped"
        convs.add((kind, k))
    assert set(ADVERTISED_CONVS[name]) <= convs, f"{name} has convs {sorted(convs)}"


@pytest.mark.parametrize("name", list(MODERN_MODELS))
def test_macs_are_the_full_size_architecture(name):
    from cnncc.frontends.onnx import import_onnx
    from cnncc.stats import graph_stats

    spec = MODERN_MODELS[name]
    model, _ = built(name)
    # every layer's map scales with the input's side (YOLO's test size is half its bench size)
    macs = graph_stats(import_onnx(model)).total_macs * (spec.size / spec.test_size) ** 2
    assert macs / 1e9 == pytest.approx(GMACS[name], rel=0.03)


@pytest.mark.parametrize("name", list(MODERN_MODELS))
def test_activations_stay_order_one(name):
    """On an input other than the calibration one, the output is finite, not constant, not huge."""
    ort = pytest.importorskip("onnxruntime")
    model, _ = built(name)
    input_name, x = seeded_input(name)
    y = reference_output(name, ort)
    assert np.isfinite(y).all()
    assert y.std() > 1e-2
    if name == "yolov8n":  # boxes in pixels, then 80 class probabilities
        boxes, probs = y[:, :4], y[:, 4:]
        assert 0 < probs.min() and probs.max() < 1 and probs.std() > 1e-2
        assert np.abs(boxes).max() < 4 * MODERN_MODELS[name].test_size
    else:
        assert 0.1 < y.std() < 10 and np.abs(y).max() < 100


@functools.cache
def reference_output(name, ort):
    model, _ = built(name)
    input_name, x = seeded_input(name)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {input_name: x})[0]


@pytest.mark.slow
@pytest.mark.parametrize("opt_level", [2, 3])
@pytest.mark.parametrize("name", list(MODERN_MODELS))
def test_llvm_matches_onnxruntime(name, opt_level):
    ort = pytest.importorskip("onnxruntime")
    model, _ = built(name)
    input_name, x = seeded_input(name)
    expected = reference_output(name, ort)
    got = cnncc.compile(model, target="llvm", opt_level=opt_level).run({input_name: x})
    (y,) = got.values()
    assert y.shape == expected.shape
    err = float(np.abs(y - expected).max())
    print(f"{name} -O{opt_level}: max |cnncc - onnxruntime| = {err:.3g} = {err / np.abs(expected).max():.3g} of max |output|")
    assert err <= 1e-3 * np.abs(expected).max()
    if name == "yolov8n":  # the class probabilities are small beside the boxes: hold them to their own scale
        assert np.abs(y[:, 4:] - expected[:, 4:]).max() <= 1e-3 * np.abs(expected[:, 4:]).max()


def test_zoo_lists_and_writes_the_modern_models(tmp_path, capsys):
    from cnncc.cli import main

    assert main(["zoo"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in MODERN_MODELS)
    path = tmp_path / "m.onnx"
    assert main(["zoo", "mobilenet_v3_small", "-o", str(path)]) == 0
    written = onnx.load(str(path))
    onnx.checker.check_model(written)
    model, _ = MODERN_MODELS["mobilenet_v3_small"].build(seed=0)
    assert written.SerializeToString() == model.SerializeToString()  # seeded: the same bytes every time
    assert [d.dim_value for d in written.graph.input[0].type.tensor_type.shape.dim] == [1, 3, 224, 224]


def test_bench_suites_combine():
    from cnncc import zoo
    from cnncc.errors import UsageError

    assert zoo.suite_models("modern") == list(MODERN_MODELS)
    assert zoo.suite_models("zoo,modern") == list(zoo.LIGHT_MODELS) + list(MODERN_MODELS)
    assert zoo.suite_models("modern,modern") == list(MODERN_MODELS)
    assert zoo.suite_models("zoo,ppocr") == list(zoo.LIGHT_MODELS) + list(zoo.PPOCR_MODELS)
    with pytest.raises(UsageError, match="choose from zoo, modern"):
        zoo.suite_models("zoo,nope")


def test_bench_runs_a_modern_model(capsys):
    from cnncc.cli import main

    code = main(["bench", "mobilenet_v3_small", "--target", "reference", "--against", "", "--repeat", "1", "--warmup", "0"])
    printed = " ".join(capsys.readouterr().out.split())
    assert code == 0, printed
    assert "mobilenet_v3_small" in printed
