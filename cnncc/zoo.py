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
