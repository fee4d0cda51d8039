"""cnncc: a compiler from trained convolutional neural networks to optimized native code.

    m = cnncc.compile("model.onnx", target="reference", input_shapes={"x": (1, 3, 224, 224)})
    y = m(x)
"""

__version__ = "0.1.0"


def compile(*args, **kwargs):  # noqa: A001
    """Compile a model (a path to an .onnx file, an onnx.ModelProto or its serialized bytes)
    for a target; see ``cnncc.compiler.compile``."""
    from cnncc.compiler import compile as _compile

    return _compile(*args, **kwargs)


def load(directory):
    """Load an artifact written by ``CompiledModel.export`` / ``cnncc compile -o DIR``."""
    from cnncc.artifacts import load as _load

    return _load(directory)


__all__ = ["compile", "load", "__version__"]
