"""onnx's backend interface (``onnx.backend.base.Backend``) over any cnncc target.

The standard ONNX backend test runner drives a backend through this interface:

    import onnx.backend.test
    from cnncc.onnx_backend import backend_for
    globals().update(onnx.backend.test.BackendTest(backend_for("llvm"), __name__).test_cases)

This module is itself a backend for the default target (``reference``), like
``onnxruntime.backend``: ``cnncc.onnx_backend.run_model(model, inputs)``.

cnncc compiles for static shapes, while ONNX test models often take shape-deciding operands
(Reshape's shape, Slice's bounds, Pad's pads...) and dynamic dimensions as graph inputs. A
prepared model therefore compiles lazily, on the first ``run``: input shapes come from the
fed arrays, and an input the importer needs as a constant is baked into the model with the
fed value. Compilations are cached per input signature.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from onnx.backend.base import Backend, BackendRep

from cnncc.errors import UnsupportedDtypeError, UsageError

DEFAULT_TARGET = "reference"
DEFAULT_OPT_LEVEL = 2
# Devices each target runs on, in the backend test runner's spelling.
TARGET_DEVICES = {"reference": "CPU", "llvm": "CPU", "tvm-llvm": "CPU", "cuda": "CUDA"}


class CnnccBackendRep(BackendRep):
    """A prepared model: compiles on first run for the fed shapes, then reuses the compilation."""

    def __init__(self, model, target: str, opt_level: int, options: Mapping[str, Any] | None = None):
        self.model = model
        self.target = target
        self.opt_level = opt_level
        self.options = dict(options or {})
        inits = {t.name for t in model.graph.initializer}
        self.input_names = [vi.name for vi in model.graph.input if vi.name not in inits]
        self.output_names = [vo.name for vo in model.graph.output]
        self._out_dtypes = [_declared_dtype(vo) for vo in model.graph.output]
        self._baked: set[str] = set()  # inputs that had to become constants
        self._cache: dict[tuple, Any] = {}

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        feeds = self._feeds(inputs)
        compiled = self._compiled_for(feeds)
        outs = compiled.run({n: feeds[n] for n in compiled.input_names})
        results = []
        for name, dtype in zip(self.output_names, self._out_dtypes):
            arr = np.asarray(outs[name])
            if dtype is not None and arr.dtype != dtype:
                arr = arr.astype(dtype)  # cnncc widens small integer types to int64 internally
            results.append(arr)
        return tuple(results)

    # -- helpers ---------------------------------------------------------------------------
    def _feeds(self, inputs: Any) -> dict[str, np.ndarray]:
        if isinstance(inputs, Mapping):
            items = list(inputs.items())
        else:
            if isinstance(inputs, np.ndarray):
                inputs = [inputs]
            inputs = list(inputs)
            if len(inputs) > len(self.input_names):
                raise UsageError(f"got {len(inputs)} inputs, the model takes {len(self.input_names)} ({', '.join(self.input_names)})")
            items = list(zip(self.input_names, inputs))
        feeds = {}
        for name, v in items:
            if v is None or isinstance(v, (list, tuple, dict)):
                raise UnsupportedDtypeError(f"input {name} is a sequence, map or optional; cnncc takes tensors only")
            feeds[name] = np.asarray(v)
        missing = [n for n in self.input_names if n not in feeds]
        if missing:
            raise UsageError(f"missing input(s) {', '.join(missing)} (the model takes: {', '.join(self.input_names)})")
        return feeds

    def _key(self, feeds: Mapping[str, np.ndarray]) -> tuple:
        key = []
        for name in self.input_names:
            arr = feeds[name]
            baked = arr.tobytes() if name in self._baked else None
            key.append((name, arr.shape, str(arr.dtype), baked))
        return tuple(key)

    def _compiled_for(self, feeds: Mapping[str, np.ndarray]):
        from cnncc.compiler import compile as cnncc_compile
        from cnncc.frontends.onnx import NotConstantError

        key = self._key(feeds)
        if key in self._cache:
            return self._cache[key]
        while True:
            model = _with_constants(self.model, {n: feeds[n] for n in self._baked})
            shapes = {n: feeds[n].shape for n in self.input_names if n not in self._baked}
            try:
                compiled = cnncc_compile(model, target=self.target, input_shapes=shapes, opt_level=self.opt_level, **self.options)
                break
            except NotConstantError as exc:
                if exc.value_name in feeds and exc.value_name not in self._baked:
                    self._baked.add(exc.value_name)
                    continue
                # Computed from inputs (a shape built from a fed tensor): bake the integer inputs.
                ints = {n for n in self.input_names if feeds[n].dtype.kind in "iub"} - self._baked
                if not ints:
                    raise
                self._baked |= ints
        key = self._key(feeds)
        self._cache[key] = compiled
        return compiled


def _declared_dtype(value_info) -> np.dtype | None:
    from onnx import helper

    elem = value_info.type.tensor_type.elem_type if value_info.type.HasField("tensor_type") else 0
    if not elem:
        return None
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem))
    except Exception:  # noqa: BLE001 - types NumPy cannot hold (bfloat16, float8...)
        return None


def _with_constants(model, values: Mapping[str, np.ndarray]):
    """A copy of ``model`` where the named inputs are initializers holding ``values``."""
    if not values:
        return model
    import onnx
    from onnx import numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    kept = [vi for vi in model.graph.input if vi.name not in values]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    model.ir_version = max(model.ir_version, 4)  # initializers need not be inputs from IR 4 on
    for name, arr in values.items():
        model.graph.initializer.append(numpy_helper.from_array(np.asarray(arr), name))
    return model


class CnnccBackend(Backend):
    """onnx's Backend for one cnncc target (``reference`` here; see ``backend_for``)."""

    target = DEFAULT_TARGET
    opt_level = DEFAULT_OPT_LEVEL

    @classmethod
    def is_compatible(cls, model, device: str = "CPU", **kwargs: Any) -> bool:
        from cnncc.errors import UnsupportedOpError
        from cnncc.frontends.onnx import _default_opset, _reject_unsupported

        try:
            _reject_unsupported(model.graph, _default_opset(model))
        except UnsupportedOpError:
            return False
        return cls.supports_device(device)

    @classmethod
    def prepare(cls, model, device: str = "CPU", **kwargs: Any) -> CnnccBackendRep:
        from cnncc.frontends.onnx import load_model

        if not cls.supports_device(device):
            raise UsageError(f"target {cls.target!r} does not run on device {device!r}")
        from cnncc.frontends.onnx import _default_opset, _reject_unsupported

        model = load_model(model)  # checks the model; one clear error if it is broken
        _reject_unsupported(model.graph, _default_opset(model))  # fail now, not at the first run
        opt_level = kwargs.pop("opt_level", cls.opt_level)
        for ignored in ("rtol", "atol"):  # the test runner passes its tolerances through
            kwargs.pop(ignored, None)
        return CnnccBackendRep(model, cls.target, opt_level, kwargs)

    @classmethod
    def run_model(cls, model, inputs: Any, device: str = "CPU", **kwargs: Any) -> tuple[np.ndarray, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(
        cls,
        node,
        inputs: Any,
        device: str = "CPU",
        outputs_info: Sequence[tuple[np.dtype, tuple[int, ...]]] | None = None,
        **kwargs: Any,
    ) -> tuple[np.ndarray, ...]:
        """Run one NodeProto on ``inputs`` (a list in ``node.input`` order, or a dict)."""
        import onnx
        from onnx import helper

        opset = kwargs.pop("opset_version", None) or onnx.defs.onnx_opset_version()
        names = [n for n in node.input if n]
        arrays = inputs if isinstance(inputs, Mapping) else dict(zip(names, inputs))
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        graph_inputs = [
            helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(arrays[n].dtype), arrays[n].shape) for n in names
        ]
        outs = [o for o in node.output if o]
        if outputs_info is not None:
            graph_outputs = [
                helper.make_tensor_value_info(o, helper.np_dtype_to_tensor_dtype(np.dtype(dt)), shape)
                for o, (dt, shape) in zip(outs, outputs_info)
            ]
        else:
            graph_outputs = [helper.make_empty_tensor_value_info(o) for o in outs]
        graph = helper.make_graph([node], f"run_node_{node.op_type}", graph_inputs, graph_outputs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = min(model.ir_version, onnx.IR_VERSION)
        if outputs_info is None:  # the checker wants typed outputs: let onnx infer them
            model = onnx.shape_inference.infer_shapes(model)
        return cls.run_model(model, arrays, device, **kwargs)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        want = TARGET_DEVICES.get(cls.target, "CPU")
        return str(device).upper().split(":")[0] == want


_BACKENDS: dict[tuple[str, int], type[CnnccBackend]] = {}


def backend_for(target: str = DEFAULT_TARGET, opt_level: int = DEFAULT_OPT_LEVEL) -> type[CnnccBackend]:
    """The onnx Backend class compiling for ``target`` (``reference``, ``llvm``, ...)."""
    from cnncc.backends import TARGETS

    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r}; choose one of: {', '.join(TARGETS)}")
    key = (target, opt_level)
    if key not in _BACKENDS:
        name = f"CnnccBackend_{target.replace('-', '_')}_O{opt_level}"
        _BACKENDS[key] = type(name, (CnnccBackend,), {"target": target, "opt_level": opt_level})
    return _BACKENDS[key]


# The module as a backend for the default target, as onnx's runner and onnxruntime expect.
is_compatible = CnnccBackend.is_compatible
prepare = CnnccBackend.prepare
run_model = CnnccBackend.run_model
run_node = CnnccBackend.run_node
supports_device = CnnccBackend.supports_device
