"""The model-zoo architectures that ship inside the onnx package, with usable weights.

The ``light`` models keep their architecture but store every weight as a ConstantOfShape of
0.02, which makes outputs nearly constant: fine for checking the shipped expected outputs,
useless for catching a wrong convolution. ``with_random_weights`` swaps in seeded random
weights of the same shapes, scaled by fan-in so activations stay in a sane range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

LIGHT_MODELS = (
    "bvlc_alexnet",
    "densenet121",
    "inception_v1",
    "inception_v2",
    "resnet50",
    "shufflenet",
    "squeezenet",
    "vgg19",
    "zfnet512",
)
DEFAULT_MODEL = "squeezenet"


def onnx_test_data_dir() -> Path:
    import onnx

    return Path(onnx.__file__).parent / "backend" / "test" / "data"


def light_model_path(name: str) -> Path:
    return onnx_test_data_dir() / "light" / f"light_{name}.onnx"


def light_expected_output(name: str) -> np.ndarray:
    import onnx
    from onnx import numpy_helper

    return numpy_helper.to_array(onnx.load_tensor(str(onnx_test_data_dir() / "light" / f"light_{name}_output_0.pb")))


def light_input(model) -> dict[str, np.ndarray]:
    """The input onnx's own test runner feeds the light models: arange(n) / n."""
    inits = {t.name for t in model.graph.initializer}
    feeds = {}
    for vi in model.graph.input:
        if vi.name in inits:
            continue
        shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim)
        n = int(np.prod(shape))
        feeds[vi.name] = (np.arange(n).reshape(shape) / n).astype(np.float32)
    return feeds


def with_random_weights(model, seed: int = 0):
    """A copy of ``model`` whose float constants (initializers and ConstantOfShape weights)
    are seeded random tensors of the same shapes: fan-in scaled for weights (rank >= 2),
    in [0.5, 1.5] for per-channel vectors, so batch-norm variances stay positive."""
    import onnx
    from onnx import numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    rng = np.random.default_rng(seed)
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

    def random_like(shape) -> np.ndarray:
        shape = tuple(int(d) for d in shape)
        if len(shape) >= 2:
            fan_in = int(np.prod(shape[1:]))
            return (rng.uniform(-1.0, 1.0, shape) * np.sqrt(3.0 / fan_in)).astype(np.float32)
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)

    new_nodes = []
    new_inits = []
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input and node.input[0] in consts:
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            is_float = value is None or value.data_type == onnx.TensorProto.FLOAT
            if is_float:
                new_inits.append(numpy_helper.from_array(random_like(consts[node.input[0]]), node.output[0]))
                continue
        new_nodes.append(node)
    for t in model.graph.initializer:
        if t.data_type == onnx.TensorProto.FLOAT and t.name not in {i.name for i in new_inits}:
            arr = numpy_helper.to_array(t)
            t.CopyFrom(numpy_helper.from_array(random_like(arr.shape), t.name))
    del model.graph.node[:]
    model.graph.node.extend(new_nodes)
    model.graph.initializer.extend(new_inits)
    # From IR 4 on, initializers need not be listed as inputs; dropping them lets runtimes
    # treat the weights as constants (onnxruntime would otherwise keep them overridable).
    model.ir_version = max(model.ir_version, 4)
    init_names = {t.name for t in model.graph.initializer}
    kept = [vi for vi in model.graph.input if vi.name not in init_names]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    return model


# -- trained models shipped inside PyPI wheels ----------------------------------------------
# rapidocr-onnxruntime carries PaddleOCR's PP-OCR networks (trained weights): a MobileNetV3 +
# DB detection net, a text-direction classifier and an SVTR recognizer.
PPOCR_WHEEL = "rapidocr-onnxruntime==1.4.4"
PPOCR_MODELS = {
    "ppocr-det": ("ch_PP-OCRv4_det_infer.onnx", {"x": (1, 3, 640, 640)}),
    "ppocr-cls": ("ch_ppocr_mobile_v2.0_cls_infer.onnx", {"x": (1, 3, 48, 192)}),
    "ppocr-rec": ("ch_PP-OCRv4_rec_infer.onnx", {"x": (1, 3, 48, 320)}),
}


def cache_dir() -> Path:
    import os

    root = os.environ.get("CNNCC_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "cnncc")
    return Path(root)


def ppocr_model_path(name: str) -> Path:
    """Path of a PP-OCR model, downloading its wheel (no dependencies) once into the cache.

    Raises ModelLoadError when the package index cannot be reached.
    """
    import subprocess
    import sys
    import tempfile
    import zipfile

    from cnncc.errors import ModelLoadError

    if name not in PPOCR_MODELS:
        raise ModelLoadError(f"unknown PP-OCR model {name!r}; choose one of {', '.join(PPOCR_MODELS)}")
    filename = PPOCR_MODELS[name][0]
    target = cache_dir() / "ppocr" / filename
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, PPOCR_WHEEL],
            capture_output=True,
            text=True,
            timeout=600,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise ModelLoadError(f"cannot download {PPOCR_WHEEL} (offline?): {last}")
        with zipfile.ZipFile(wheels[0]) as zf:
            for member in zf.namelist():
                if member.endswith(".onnx"):
                    out = target.parent / Path(member).name
                    tmp_out = out.with_suffix(".part")
                    tmp_out.write_bytes(zf.read(member))
                    tmp_out.replace(out)
    if not target.is_file():
        raise ModelLoadError(f"{PPOCR_WHEEL} does not contain {filename}")
    return target


def modern_models() -> dict:
    """The modern architecture suite (cnncc/modern), by name."""
    from cnncc.modern import MODERN_MODELS

    return MODERN_MODELS


SUITES = {
    "zoo": lambda: list(LIGHT_MODELS),
    "modern": lambda: list(modern_models()),
    "ppocr": lambda: list(PPOCR_MODELS),
}


def suite_models(spec: str) -> list[str]:
    """The model names of a comma-separated list of suites ("zoo", "modern", "ppocr",
    "zoo,modern,ppocr")."""
    from cnncc.errors import UsageError

    names: list[str] = []
    for suite in [s.strip() for s in spec.split(",") if s.strip()] or [spec]:
        if suite not in SUITES:
            raise UsageError(f"--suite {suite!r}: choose from {', '.join(SUITES)} (comma separated)")
        names += [n for n in SUITES[suite]() if n not in names]
    return names


def model_names() -> list[str]:
    return list(LIGHT_MODELS) + list(PPOCR_MODELS) + list(modern_models())


def get_model(name: str, random_weights: bool = True, seed: int = 0):
    """(ModelProto, input shapes) for a zoo name: a light model (seeded random weights unless
    ``random_weights`` is False), a trained PP-OCR network or a model of the modern suite
    (always seeded random weights)."""
    import onnx

    from cnncc.errors import ModelLoadError

    if name in PPOCR_MODELS:
        return onnx.load(str(ppocr_model_path(name))), dict(PPOCR_MODELS[name][1])
    if name in modern_models():
        return modern_models()[name].build(seed)
    if name not in LIGHT_MODELS:
        raise ModelLoadError(f"unknown zoo model {name!r}; choose one of {', '.join(model_names())}")
    model = onnx.load(str(light_model_path(name)))
    return (with_random_weights(model, seed) if random_weights else model), {}
