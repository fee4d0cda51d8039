"""Models for a benchmark: files or zoo names, specialized to a batch size, with seeded inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnncc.errors import UsageError


def load(spec: str):
    """(name, ModelProto, default input shapes) for a file path or a zoo name."""
    import onnx

    from cnncc import zoo
    from cnncc.frontends.onnx import load_model

    if Path(spec).is_file():
        return Path(spec).stem, load_model(spec), {}
    if spec in zoo.model_names():
        model, shapes = zoo.get_model(spec)
        return spec, model, shapes
    if spec.endswith(".onnx"):
        load_model(spec)  # raises the usual one-line "not found"
    raise UsageError(f"{spec!r} is neither a model file nor a zoo model ({', '.join(zoo.model_names())})")


def real_inputs(model) -> list:
    inits = {t.name for t in model.graph.initializer}
    return [vi for vi in model.graph.input if vi.name not in inits]


def specialize(model, input_shapes: dict, batch: int):
    """A copy with every input's dimensions fixed (batch replaces dimension 0)."""
    import onnx

    model = onnx.ModelProto.FromString(model.SerializeToString())
    shapes = {}
    for vi in real_inputs(model):
        dims = vi.type.tensor_type.shape.dim
        given = input_shapes.get(vi.name)
        shape = []
        for i, d in enumerate(dims):
            if given is not None:
                value = given[i]
            elif d.HasField("dim_value") and d.dim_value > 0:
                value = d.dim_value
            else:
                raise UsageError(f"input {vi.name} has a dynamic dimension {i}; give --input-shape {vi.name}=...")
            if i == 0 and batch:
                value = batch
            shape.append(int(value))
        for d, value in zip(dims, shape):
            d.Clear()
            d.dim_value = value
        shapes[vi.name] = tuple(shape)
    return model, shapes


def seeded_feeds(shapes: dict, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}
