"""ONNX frontend: ModelProto -> Graph with static shapes.

One converter per ONNX op (versioned where opsets differ, like the Relax importer's
``_impl_v{N}``). Converters emit op-table nodes through ``Importer.emit``, which infers
types and folds a node right away when its inputs are constant and its result is small,
so shape-computing subgraphs (Shape -> Gather -> Concat -> Reshape) vanish during import
and every value ends up with a static shape.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnncc import limits
from cnncc.builder import op_types, take_name
from cnncc.errors import ModelLoadError, ShapeError, UnsupportedDtypeError, UnsupportedOpError, UsageError
from cnncc.ir import Graph, Node, TensorType, Value
from cnncc.ops import evaluate, get_op
from cnncc.ops.nn import check_window
from cnncc.ops.shapes import normalize_axis, resolve_auto_pad
from cnncc.ops.tensor import normalize_slice

MIN_OPSET = 7
FOLD_AT_IMPORT_MAX_ELEMENTS = 1 << 16  # bigger constant subgraphs are left to the folding pass
ALWAYS_FOLD = {"Shape", "Size"}  # their values follow from static shapes alone

Converter = Callable[["Importer", Any, int], None]


class NotConstantError(ShapeError):
    """An input that decides a shape (Reshape's shape, Slice's bounds, ...) is not a constant.

    ``value_name`` names the ONNX tensor, so a caller that knows its value (the ONNX backend
    interface, fed concrete arrays) can bake it into the model and import again.
    """

    def __init__(self, message: str, value_name: str):
        super().__init__(message)
        self.value_name = value_name
CONVERTERS: dict[str, Converter] = {}


def converter(*op_types: str):
    def wrap(fn: Converter) -> Converter:
        for op_type in op_types:
            CONVERTERS[op_type] = fn
        return fn

    return wrap


def supported_onnx_ops() -> list[str]:
    return sorted(CONVERTERS)


# -- loading -------------------------------------------------------------------------------
def load_model(source: str | os.PathLike | Any):
    """A checked ModelProto from a path or a ModelProto, or a ModelLoadError saying why not."""
    import onnx

    if isinstance(source, onnx.ModelProto):
        model = source
    elif isinstance(source, (bytes, bytearray, memoryview)):
        model = _model_from_bytes(bytes(source))
    elif not isinstance(source, (str, os.PathLike)):
        raise UsageError(
            f"cnncc.compile takes a path to an .onnx file, an onnx.ModelProto or its serialized bytes, "
            f"got {type(source).__name__}"
        )
    else:
        path = Path(source)
        if not path.exists():
            raise ModelLoadError(f"model file not found: {path} (check the path)")
        if path.is_dir():
            raise ModelLoadError(f"{path} is a directory, not an ONNX model file; pass the .onnx file inside it")
        if not path.is_file():  # open() of a FIFO blocks until a writer comes, a device never ends
            raise ModelLoadError(f"{path} is not a regular file (a FIFO, device or socket); pass an .onnx file")
        model = _parse(lambda: onnx.load(str(path), load_external_data=False),
                       f"{path} is not a valid ONNX model: not ONNX, or truncated or corrupt", "re-export or re-download it",
                       f"{path} is not a valid ONNX model (it holds no graph); pass an .onnx file exported by a framework")
        _load_external_data(model, path.parent)
    _reject_unsupported(model.graph, _default_opset(model))  # name them before the checker trips on them
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # noqa: BLE001 - checker raises ValidationError and friends
        raise ModelLoadError(f"invalid ONNX model: {_first_line(exc)} (onnx.checker rejects it; re-export the model)") from exc
    return model


def _check_types(model) -> None:
    """Refuse tensors of a type an op does not take (a Conv over uint8, say): onnx.checker
    leaves that to shape inference, and cnncc's integer widening would otherwise compute
    something no runtime would. Other inference complaints are left to cnncc's own shape
    functions, which name the node."""
    import onnx

    try:
        onnx.shape_inference.infer_shapes(model, check_type=True)
    except onnx.shape_inference.InferenceError as exc:
        text = _first_line(exc)
        if any(k in text.lower() for k in ("unsupported type", "inconsistent type", "type mismatch",
                                           "bound to different types", "type error")):
            raise UnsupportedDtypeError(f"invalid ONNX model: {text} (the op does not take that element type)") from exc
    except (ValueError, RuntimeError):  # too large to serialize for inference, and the like
        pass


def _parse(load, invalid: str, hint: str, empty: str):
    """``load()``'s ModelProto, or a ModelLoadError: ``invalid`` when protobuf cannot parse
    it, ``empty`` when it parses (protobuf accepts almost any bytes) but holds no graph."""
    try:
        model = load()
    except Exception as exc:  # noqa: BLE001 - protobuf raises several unrelated types
        raise ModelLoadError(f"{invalid} (protobuf parse failed: {_first_line(exc)}); {hint}") from exc
    if not model.graph.node and not model.graph.output:
        raise ModelLoadError(empty)
    return model


def _model_from_bytes(data: bytes):
    import onnx
    from onnx.external_data_helper import uses_external_data

    model = _parse(lambda: onnx.load_model_from_string(data), "the bytes given to cnncc.compile are not a valid ONNX model",
                   "pass ModelProto.SerializeToString() of a model",
                   "the bytes given to cnncc.compile are not a valid ONNX model (they hold no graph)")
    external = [t.name for t in model.graph.initializer if uses_external_data(t)]
    if external:
        # external files are named relative to the model's folder, which bytes do not have
        raise ModelLoadError(
            f"the model given as bytes keeps initializer(s) {', '.join(external[:3])} in external data files; "
            "pass the path of the .onnx file instead"
        )
    return model


def _load_external_data(model, base_dir: Path) -> None:
    from onnx.external_data_helper import load_external_data_for_model, uses_external_data

    missing = []
    for tensor in model.graph.initializer:
        if uses_external_data(tensor):
            location = next((e.value for e in tensor.external_data if e.key == "location"), "")
            if not (base_dir / location).exists():
                missing.append(f"{location} (for {tensor.name})")
            elif not (base_dir / location).is_file():
                raise ModelLoadError(f"external data {location} (for {tensor.name}) is not a regular file; "
                                     "pass the model with its data files")
    if missing:
        raise ModelLoadError(
            f"external data file(s) missing next to the model: {', '.join(missing)}; "
            f"put them in {base_dir.resolve()} beside the model"
        )
    try:
        load_external_data_for_model(model, str(base_dir))
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"cannot read the model's external data: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


# -- dtypes --------------------------------------------------------------------------------
def _np_dtype(elem_type: int, where: str) -> str:
    from onnx import TensorProto, helper

    try:
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))
    except Exception:  # noqa: BLE001
        dtype = None
    if elem_type in (TensorProto.INT32, TensorProto.INT16, TensorProto.INT8, TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32):
        return "int64"  # integer tensors only index and shape here; widen them
    if dtype is None or str(dtype) not in ("float32", "int64", "bool"):
        name = TensorProto.DataType.Name(elem_type) if elem_type in TensorProto.DataType.values() else str(elem_type)
        raise UnsupportedDtypeError(f"{where} has element type {name}; cnncc computes in float32 (int64 for shapes): re-export the model in float32")
    return str(dtype)


def tensor_array(tensor, where: str) -> np.ndarray:
    """The array of a TensorProto, or a ModelLoadError when its data does not fit its dims
    (onnx.checker only catches raw_data that is too short; numpy_helper would raise a bare
    ValueError, or read the first bytes of too long a blob)."""
    from onnx import TensorProto, helper, numpy_helper

    dims = [int(d) for d in tensor.dims]
    fixed_size = tensor.data_type not in (TensorProto.UNDEFINED, TensorProto.STRING) and tensor.data_type not in _PACKED_TYPES
    if tensor.HasField("raw_data") and fixed_size:
        try:
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor.data_type))
        except Exception:  # noqa: BLE001 - an element type numpy lacks: _constant_array names it
            dtype = None
        if dtype is not None and len(tensor.raw_data) != math.prod(dims) * dtype.itemsize:
            raise ModelLoadError(
                f"{where} holds {len(tensor.raw_data)} bytes of data, its dims {dims} of {dtype} need "
                f"{math.prod(dims) * dtype.itemsize}; the model file is corrupt: re-export it"
            )
    try:
        return numpy_helper.to_array(tensor)
    except (ValueError, TypeError) as exc:
        raise ModelLoadError(f"{where}: its data does not fit its dims {dims} ({_first_line(exc)}); the model file is corrupt: re-export it") from exc


# 4-bit types pack two elements a byte: their raw_data size is not numel * itemsize
_PACKED_TYPES = {21, 22, 23, 25, 26}


def _constant_array(arr: np.ndarray, where: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.dtype.kind in "iu" and arr.dtype != np.int64 and arr.dtype != np.uint64:
        return arr.astype(np.int64)
    if str(arr.dtype) not in ("float32", "int64", "bool"):
        raise UnsupportedDtypeError(f"{where} has dtype {arr.dtype}; cnncc computes in float32 (int64 for shapes): re-export the model in float32")
    return arr


def _constant_value(name: str, arr: np.ndarray) -> Value:
    """A constant Value that keeps 0-d arrays 0-d (``np.ascontiguousarray`` would not)."""
    arr = np.array(arr, order="C")
    return Value(name, TensorType(arr.shape, str(arr.dtype)), arr)


# -- the importer --------------------------------------------------------------------------
INT64_MAX = 2**63 - 1


def checked_input_shapes(input_shapes) -> dict[str, tuple[int, ...]]:
    """``input_shapes`` as {name: tuple of positive ints that fit int64}, or a UsageError."""
    if input_shapes is None:
        return {}
    if not isinstance(input_shapes, Mapping):
        raise UsageError(
            f"input_shapes must be a dict of input name to shape, got a {type(input_shapes).__name__}; "
            "e.g. input_shapes={'x': (1, 3, 224, 224)}"
        )
    shapes = {}
    for name, dims in input_shapes.items():
        where = f"input_shapes[{name!r}]"
        if isinstance(dims, (str, bytes)) or not isinstance(dims, (Sequence, np.ndarray)):
            raise UsageError(f"{where} must be a sequence of integers such as (1, 3, 224, 224), got {dims!r}")
        shape = []
        for d in dims:
            if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
                raise UsageError(f"{where}: {d!r} is not an integer; give whole dimensions such as (1, 3, 224, 224)")
            shape.append(int(d))
        if any(d > INT64_MAX for d in shape):
            raise ShapeError(f"{where}: dimension {max(shape)} does not fit int64")
        # 0 is allowed: an empty tensor is a valid ONNX input (the onnx backend tests feed some)
        if min(shape, default=0) < 0:
            raise ShapeError(f"{where}: dimensions must not be negative, got {shape}")
        shapes[str(name)] = tuple(shape)
    return shapes



class Importer:
    def __init__(self, model, input_shapes: Mapping[str, Sequence[int]] | None):
        self.model = model
        self.opset = _default_opset(model)
        self.input_shapes = checked_input_shapes(input_shapes)
        self.values: dict[str, Value] = {}
        self.nodes: list[Node] = []
        self.node_name = ""
        self._taken: set[str] = set()
        self.limits = limits.current()

    # -- values ----------------------------------------------------------------------------
    def value(self, name: str) -> Value:
        try:
            return self.values[name]
        except KeyError:
            raise ShapeError(f"node {self.node_name}: input {name!r} is not defined before it is used") from None

    def optional(self, node, index: int) -> Value | None:
        if index < len(node.input) and node.input[index]:
            return self.value(node.input[index])
        return None

    def const(self, node, index: int, what: str, default: Any = None) -> np.ndarray | None:
        """The constant array at input ``index``; static shapes need such inputs to be known."""
        v = self.optional(node, index)
        if v is None:
            return default
        if not v.is_constant:
            raise NotConstantError(
                f"node {self.node_name} ({node.op_type}): {what} (input {v.name!r}) must be a constant "
                "(an initializer or computable from static shapes); cnncc compiles for static shapes",
                node.input[index],
            )
        return v.data

    def unique_name(self, wanted: str) -> str:
        return take_name(self._taken, wanted)

    def bind(self, onnx_name: str, value: Value) -> None:
        if onnx_name:
            self.values[onnx_name] = value

    # -- emitting ops ----------------------------------------------------------------------
    def emit(self, op: str, inputs: Sequence[Value], attrs: Mapping[str, Any] | None = None, outputs: Sequence[str] = ("",), name: str | None = None) -> list[Value]:
        """Add an op-table node (or fold it to constants) and return its output values."""
        a = get_op(op).normalize_attrs(dict(attrs or {}))  # first: an attribute error gets no shape hint
        try:
            a, types = op_types(op, inputs, a)
        except ShapeError as exc:
            raise ShapeError(f"node {self.node_name} ({op}): {exc} (check --input-shape values, or the model is inconsistent)") from None
        node_name = name or self.node_name
        wanted = list(outputs)[: len(types)] + [""] * max(len(types) - len(outputs), 0)
        out_names = [self.unique_name(o or f"{node_name}.{op}.{i}") for i, o in enumerate(wanted)]
        for n, t in zip(out_names, types):  # before folding allocates it, or codegen sweeps it
            limits.check_tensor(f"node {node_name} ({op}): output {n}", t.shape, t.dtype, self.limits)
        fold = op in ALWAYS_FOLD or (
            all(v.is_constant for v in inputs) and sum(t.numel for t in types) <= FOLD_AT_IMPORT_MAX_ELEMENTS
        )
        if fold:
            if op in ALWAYS_FOLD:
                # Shape/Size read only the shape: a broadcast zero allocates nothing
                arrays = evaluate(op, [np.broadcast_to(np.zeros((), v.dtype), v.shape) for v in inputs], a)
            else:
                arrays = evaluate(op, [v.data for v in inputs], a)
            return [Value(n, t, np.asarray(arr, order="C")) for n, t, arr in zip(out_names, types, arrays)]
        outs = [Value(n, t) for n, t in zip(out_names, types)]
        self.nodes.append(Node(op, inputs, outs, a, node_name))
        return outs

    def emit_node(self, node, op: str, inputs: Sequence[Value], attrs: Mapping[str, Any] | None = None) -> None:
        """Emit ``op`` for ONNX ``node`` and bind its (non-empty) outputs."""
        wanted = [o for o in node.output]
        while wanted and not wanted[-1]:
            wanted.pop()
        outs = self.emit(op, inputs, attrs, outputs=wanted)
        for onnx_name, v in zip(wanted, outs):
            self.bind(onnx_name, v)

    # -- the whole model -------------------------------------------------------------------
    def run(self) -> Graph:
        g = self.model.graph
        _reject_unsupported(g, self.opset)
        initializers = {t.name for t in g.initializer}
        for t in g.initializer:
            arr = _constant_array(tensor_array(t, f"initializer {t.name!r}"), f"initializer {t.name}")
            self._taken.add(t.name)
            self.values[t.name] = _constant_value(t.name, arr)
        inputs = []
        real_inputs = [vi for vi in g.input if vi.name not in initializers]
        self._check_input_shapes(real_inputs)
        for vi in real_inputs:
            dtype = _np_dtype(vi.type.tensor_type.elem_type, f"model input {vi.name}")
            shape = self._static_shape(vi)
            nbytes = math.prod(shape) * np.dtype(dtype).itemsize
            if nbytes > INT64_MAX:
                raise ShapeError(f"input {vi.name}: shape {list(shape)} is too large ({nbytes:.3g} bytes does not fit int64); give a smaller --input-shape")
            limits.check_tensor(f"input {vi.name}", shape, dtype, self.limits)
            value = Value(vi.name, TensorType(shape, dtype))
            self._taken.add(vi.name)
            self.values[vi.name] = value
            inputs.append(value)
        _check_types(self.model)  # after the inputs' and initializers' own dtype errors
        for i, node in enumerate(_topological(g)):
            self.node_name = node.name or f"{node.op_type}_{i}"
            CONVERTERS[node.op_type](self, node, self.opset)
        outputs = []
        for vo in g.output:
            v = self.value(vo.name)
            outputs.append(v)
        graph = Graph(inputs, outputs, self.nodes, name=g.name or "model")
        graph.validate()
        return graph

    def _check_input_shapes(self, real_inputs) -> None:
        names = {vi.name for vi in real_inputs}
        unknown = sorted(set(self.input_shapes) - names)
        if unknown:
            raise ShapeError(f"--input-shape names unknown input(s) {', '.join(unknown)}; the model's inputs are: {', '.join(sorted(names))}")
        dynamic, examples = [], []
        for vi in real_inputs:
            dims = _declared_dims(vi)
            if vi.name not in self.input_shapes and any(d is None or isinstance(d, str) for d in dims):
                dynamic.append(f"{vi.name}[{','.join(str(d if d is not None else '?') for d in dims)}]")
                examples.append(f"--input-shape {vi.name}={','.join(str(d) if isinstance(d, int) else '1' for d in dims)}")
        if dynamic:
            raise ShapeError(
                f"model input(s) with dynamic dimensions need a shape: {'; '.join(dynamic)}; "
                f"give one per input, e.g. {' '.join(examples)} (input_shapes= in the Python API)"
            )

    def _static_shape(self, vi) -> tuple[int, ...]:
        dims = _declared_dims(vi)
        given = self.input_shapes.get(vi.name)
        if given is None:
            return tuple(dims)
        if len(given) != len(dims):
            raise ShapeError(f"input {vi.name}: given shape {list(given)} has rank {len(given)}, the model declares rank {len(dims)} {dims}; give {len(dims)} dimensions")
        for g_dim, d in zip(given, dims):
            if isinstance(d, int) and d != g_dim:
                raise ShapeError(f"input {vi.name}: given shape {list(given)} conflicts with the declared {dims}; keep the fixed dimensions and set only the dynamic ones")
        return given


def _declared_dims(vi) -> list:
    dims = []
    for d in vi.type.tensor_type.shape.dim:
        if d.HasField("dim_value") and d.dim_value > 0:
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param or None)
        else:
            dims.append(None)
    return dims


def _default_opset(model) -> int:
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 1


def _reject_unsupported(g, opset: int) -> None:
    """Name every unsupported op type (and one node of each) before failing."""
    import onnx

    missing: dict[str, list[str]] = {}
    for i, node in enumerate(g.node):
        if node.domain not in ("", "ai.onnx") or node.op_type not in CONVERTERS:
            key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
            missing.setdefault(key, []).append(node.name or f"#{i}")
    if missing:
        parts = []
        for op_type, names in sorted(missing.items()):
            more = f" and {len(names) - 1} more" if len(names) > 1 else ""
            parts.append(f"{op_type} (node {names[0]!r}{more})")
        raise UnsupportedOpError(
            f"unsupported ONNX op(s): {', '.join(parts)}; cnncc cannot compile this model (the README lists the supported ops)"
        )
    newest = onnx.defs.onnx_opset_version()
    if opset > newest:
        raise UnsupportedOpError(
            f"model uses ONNX opset {opset}, newer than the installed onnx knows ({newest}); "
            "upgrade onnx or export the model for an older opset"
        )


def _topological(g):
    """ONNX requires topological order, but exporters slip; sort when they do."""
    defined = {i.name for i in g.input} | {t.name for t in g.initializer} | {""}
    ordered, pending = [], list(g.node)
    while pending:
        progressed = False
        rest = []
        for node in pending:
            if all(n in defined for n in node.input):
                ordered.append(node)
                defined.update(node.output)
                progressed = True
            else:
                rest.append(node)
        if not progressed:
            bad = rest[0]
            missing = [n for n in bad.input if n not in defined]
            raise ModelLoadError(f"node {bad.name or bad.op_type} reads {missing[0]!r}, which nothing produces (or a cycle)")
        pending = rest
    return ordered


def import_onnx(source, input_shapes: Mapping[str, Sequence[int]] | None = None) -> Graph:
    """Load (path or ModelProto) and import an ONNX model into a Graph with static shapes."""
    model = upgrade_opset(load_model(source))
    return Importer(model, input_shapes).run()


def upgrade_opset(model):
    """Models older than opset 7 go through onnx's version converter (opset 7 made
    broadcasting implicit and dropped the ``consumed_inputs``/``is_test`` era attributes)."""
    opset = _default_opset(model)
    if opset >= MIN_OPSET or not any(n.domain in ("", "ai.onnx") for n in model.graph.node):
        return model
    from onnx import version_converter

    try:
        return version_converter.convert_version(model, MIN_OPSET)
    except Exception as exc:  # noqa: BLE001 - the converter raises RuntimeError and friends
        raise UnsupportedOpError(
            f"model uses ONNX opset {opset} and onnx's version converter cannot bring it to opset {MIN_OPSET} "
            f"({_first_line(exc)}); re-export the model with opset {MIN_OPSET} or newer"
        ) from exc


# -- attribute helpers ---------------------------------------------------------------------
def attrs_of(node) -> dict[str, Any]:
    from onnx import helper

    out = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        if isinstance(value, bytes):
            value = value.decode()
        out[attr.name] = value
    return out


def _inputs(imp: Importer, node) -> list[Value]:
    return [imp.value(n) for n in node.input if n]


# -- converters ----------------------------------------------------------------------------
SAME_NAME_OPS = [
    "Relu", "LeakyRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus",
    "Sqrt", "Exp", "Log", "Abs", "Neg", "Reciprocal", "Floor", "Ceil", "Erf",
    "Add", "Sub", "Mul", "Div", "Pow", "Sum", "Max", "Min", "Mean",
    "Identity", "Concat", "Flatten", "LRN", "InstanceNormalization", "Gemm", "MatMul",
    "GlobalAveragePool", "GlobalMaxPool", "Gather",
    "Mish", "Softsign", "Celu", "ThresholdedRelu", "Gelu", "Round", "Sign",
    "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor", "Not", "Where",
    "ArgMax", "ArgMin", "DepthToSpace", "SpaceToDepth",
]


@converter(*SAME_NAME_OPS)
def _same_name(imp: Importer, node, opset: int) -> None:
    attrs = attrs_of(node)
    attrs.pop("broadcast", None)  # opset < 7 leftovers some exporters keep writing
    unknown = sorted(set(attrs) - set(get_op(node.op_type).attrs))
    if unknown:
        raise UnsupportedOpError(
            f"node {imp.node_name}: {node.op_type} with attribute(s) {', '.join(unknown)} is not supported (opset {opset})"
        )
    imp.emit_node(node, node.op_type, _inputs(imp, node), attrs)


@converter("PRelu")
def _prelu(imp: Importer, node, opset: int) -> None:
    x, slope = _inputs(imp, node)
    c = x.shape[1] if x.type.rank >= 2 else None
    if slope.type.rank == 1 and slope.shape[0] == c and x.type.rank > 2 and x.shape[-1] != c:
        # Opset 6 applied a [C] slope per channel; opset 7 broadcasting would reject it.
        (slope,) = imp.emit("Reshape", [slope], {"shape": (c,) + (1,) * (x.type.rank - 2)})
    imp.emit_node(node, "PRelu", [x, slope])


def _check_window(imp: Importer, node, kernel, strides, dilations) -> None:
    try:
        check_window(node.op_type, kernel, strides, dilations)
    except ShapeError as exc:
        raise ShapeError(f"node {imp.node_name} ({node.op_type}): {exc}; the model is invalid: re-export it") from None


def _spatial_attrs(imp: Importer, node, x: Value, kernel: Sequence[int], with_dilations: bool = True) -> dict:
    a = attrs_of(node)
    sp = x.type.rank - 2
    strides = list(a.get("strides", [1] * sp))
    dilations = list(a.get("dilations", [1] * sp)) if with_dilations else [1] * sp
    _check_window(imp, node, kernel, strides, dilations)  # before auto_pad divides by the strides
    auto_pad = a.get("auto_pad", "NOTSET")
    if auto_pad in ("NOTSET", ""):
        pads = list(a.get("pads", [0] * (2 * sp)))
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER", "VALID"):
        pads = resolve_auto_pad(auto_pad, x.shape[2:], kernel, strides, dilations)
    else:
        raise ShapeError(f"node {imp.node_name}: unknown auto_pad {auto_pad!r}")
    return {"kernel_shape": list(kernel), "strides": strides, "pads": pads, "dilations": dilations}


@converter("Conv")
def _conv(imp: Importer, node, opset: int) -> None:
    ins = _inputs(imp, node)
    x, w = ins[0], ins[1]
    a = attrs_of(node)
    kernel = a.get("kernel_shape", list(w.shape[2:]))
    attrs = _spatial_attrs(imp, node, x, kernel)
    attrs["group"] = a.get("group", 1)
    imp.emit_node(node, "Conv", ins, attrs)


@converter("ConvTranspose")
def _conv_transpose(imp: Importer, node, opset: int) -> None:
    ins = _inputs(imp, node)
    x, w = ins[0], ins[1]
    a = attrs_of(node)
    sp = x.type.rank - 2
    kernel = list(a.get("kernel_shape", w.shape[2:]))
    strides = list(a.get("strides", [1] * sp))
    dilations = list(a.get("dilations", [1] * sp))
    out_pad = list(a.get("output_padding", [0] * sp))
    auto_pad = a.get("auto_pad", "NOTSET")
    pads = list(a.get("pads", [0] * (2 * sp)))
    out_shape = a.get("output_shape")
    _check_window(imp, node, kernel, strides, dilations)
    if out_shape is not None or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        wanted = list(out_shape)[-sp:] if out_shape is not None else [x.shape[2 + i] * strides[i] for i in range(sp)]
        begins, ends = [], []
        for i in range(sp):
            total = strides[i] * (x.shape[2 + i] - 1) + out_pad[i] + (kernel[i] - 1) * dilations[i] + 1 - wanted[i]
            # A negative total (output_shape beyond the full result) pads the end with zeros.
            if auto_pad == "SAME_UPPER":
                begins.append(total // 2)
                ends.append(total - total // 2)
            else:
                begins.append(total - total // 2)
                ends.append(total // 2)
        pads = begins + ends
    elif auto_pad == "VALID":
        pads = [0] * (2 * sp)
    attrs = {
        "kernel_shape": kernel,
        "strides": strides,
        "pads": pads,
        "dilations": dilations,
        "group": a.get("group", 1),
        "output_padding": out_pad,
    }
    imp.emit_node(node, "ConvTranspose", ins, attrs)


@converter("MaxPool", "AveragePool")
def _pool(imp: Importer, node, opset: int) -> None:
    x = imp.value(node.input[0])
    a = attrs_of(node)
    if len([o for o in node.output if o]) > 1:
        raise UnsupportedOpError(f"node {imp.node_name}: MaxPool with an Indices output is not supported")
    attrs = _spatial_attrs(imp, node, x, a["kernel_shape"], with_dilations=True)
    attrs["ceil_mode"] = a.get("ceil_mode", 0)
    if node.op_type == "AveragePool":
        attrs["count_include_pad"] = a.get("count_include_pad", 0)
    imp.emit_node(node, node.op_type, [x], attrs)


@converter("BatchNormalization")
def _batch_norm(imp: Importer, node, opset: int) -> None:
    a = attrs_of(node)
    if a.get("training_mode", 0) or len([o for o in node.output if o]) > 1:
        raise UnsupportedOpError(f"node {imp.node_name}: BatchNormalization in training mode is not supported")
    if a.get("spatial", 1) != 1:
        raise UnsupportedOpError(f"node {imp.node_name}: BatchNormalization with spatial=0 is not supported")
    imp.emit_node(node, "BatchNormalization", _inputs(imp, node), {"epsilon": a.get("epsilon", 1e-5)})


@converter("Clip")
def _clip(imp: Importer, node, opset: int) -> None:
    a = attrs_of(node)
    if opset < 11:
        lo, hi = a.get("min"), a.get("max")
    else:
        lo = imp.const(node, 1, "min")
        hi = imp.const(node, 2, "max")
        lo = None if lo is None else float(np.asarray(lo).reshape(-1)[0])
        hi = None if hi is None else float(np.asarray(hi).reshape(-1)[0])
    x = imp.value(node.input[0])
    if x.dtype != "float32":
        lo = None if lo is None else int(lo)
        hi = None if hi is None else int(hi)
    imp.emit_node(node, "Clip", [x], {"min": lo, "max": hi})


@converter("Softmax", "LogSoftmax")
def _softmax(imp: Importer, node, opset: int) -> None:
    x = imp.value(node.input[0])
    a = attrs_of(node)
    if opset >= 13:
        imp.emit_node(node, node.op_type, [x], {"axis": a.get("axis", -1)})
        return
    # Before opset 13 the input is coerced to 2-D at ``axis`` and normalized over the rest.
    axis = normalize_axis(a.get("axis", 1), x.type.rank, node.op_type)
    if axis == x.type.rank - 1:
        imp.emit_node(node, node.op_type, [x], {"axis": -1})
        return
    flat = (math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))
    (x2,) = imp.emit("Reshape", [x], {"shape": flat})
    (y2,) = imp.emit(node.op_type, [x2], {"axis": -1})
    imp.emit_node(node, "Reshape", [y2], {"shape": x.shape})


@converter("Dropout")
def _dropout(imp: Importer, node, opset: int) -> None:
    a = attrs_of(node)
    ratio = a.get("ratio", 0.5)
    if opset >= 12:
        r = imp.const(node, 1, "ratio")
        ratio = ratio if r is None else float(np.asarray(r).reshape(-1)[0])
        training = imp.const(node, 2, "training_mode", default=np.array(False))
        if bool(np.asarray(training).reshape(-1)[0]) and ratio != 0:  # ratio 0 drops nothing
            raise UnsupportedOpError(f"node {imp.node_name}: Dropout in training mode is not supported (cnncc compiles for inference)")
    imp.emit_node(node, "Dropout", [imp.value(node.input[0])], {"ratio": ratio})


@converter("Cast")
def _cast(imp: Importer, node, opset: int) -> None:
    to = _np_dtype(attrs_of(node)["to"], f"node {imp.node_name} (Cast target)")
    imp.emit_node(node, "Cast", [imp.value(node.input[0])], {"to": to})


@converter("CastLike")
def _cast_like(imp: Importer, node, opset: int) -> None:
    x, like = imp.value(node.input[0]), imp.value(node.input[1])
    imp.emit_node(node, "Cast", [x], {"to": like.dtype})


@converter("Constant")
def _constant(imp: Importer, node, opset: int) -> None:
    a = attrs_of(node)
    if "value" in a:
        arr = tensor_array(a["value"], f"node {imp.node_name} (Constant value)") if not isinstance(a["value"], np.ndarray) else a["value"]
    elif "value_float" in a:
        arr = np.array(a["value_float"], dtype=np.float32)
    elif "value_floats" in a:
        arr = np.array(a["value_floats"], dtype=np.float32)
    elif "value_int" in a:
        arr = np.array(a["value_int"], dtype=np.int64)
    elif "value_ints" in a:
        arr = np.array(a["value_ints"], dtype=np.int64)
    else:
        raise UnsupportedOpError(f"node {imp.node_name}: Constant of kind {sorted(a)} is not supported")
    arr = _constant_array(arr, f"node {imp.node_name} (Constant)")
    name = imp.unique_name(node.output[0])
    imp.bind(node.output[0], _constant_value(name, arr))


@converter("ConstantOfShape")
def _constant_of_shape(imp: Importer, node, opset: int) -> None:
    shape = [int(d) for d in imp.const(node, 0, "shape")]
    a = attrs_of(node)
    value = np.zeros(1, dtype=np.float32)
    if "value" in a:
        value = _constant_array(tensor_array(a["value"], f"node {imp.node_name} (value)"), f"node {imp.node_name} (value)")
    imp.emit_node(node, "ConstantOfShape", [], {"shape": shape, "value": value.reshape(-1)[0].item(), "dtype": str(value.dtype)})


@converter("Shape")
def _shape(imp: Importer, node, opset: int) -> None:
    a = attrs_of(node)
    imp.emit_node(node, "Shape", [imp.value(node.input[0])], {"start": a.get("start", 0), "end": a.get("end")})


@converter("Size")
def _size(imp: Importer, node, opset: int) -> None:
    imp.emit_node(node, "Size", [imp.value(node.input[0])])


@converter("Reshape")
def _reshape(imp: Importer, node, opset: int) -> None:
    x = imp.value(node.input[0])
    wanted = [int(d) for d in imp.const(node, 1, "shape")]
    allowzero = attrs_of(node).get("allowzero", 0)
    shape = [x.shape[i] if (d == 0 and not allowzero) else d for i, d in enumerate(wanted)]
    if shape.count(-1) > 1:
        raise ShapeError(f"node {imp.node_name}: Reshape shape {wanted} has more than one -1")
    if -1 in shape:
        known = math.prod(d for d in shape if d != -1)
        if known == 0 or x.type.numel % known:
            raise ShapeError(f"node {imp.node_name}: cannot reshape {x.type} to {wanted}")
        shape[shape.index(-1)] = x.type.numel // known
    imp.emit_node(node, "Reshape", [x], {"shape": shape})


@converter("Transpose")
def _transpose(imp: Importer, node, opset: int) -> None:
    x = imp.value(node.input[0])
    perm = attrs_of(node).get("perm", list(reversed(range(x.type.rank))))
    imp.emit_node(node, "Transpose", [x], {"perm": list(perm)})


def _axes_from(imp: Importer, node, opset: int, since: int, index: int = 1):
    """Axes from the attribute (older opsets) or from a constant input (``since`` onwards)."""
    if opset >= since:
        axes = imp.const(node, index, "axes")
        return None if axes is None else [int(v) for v in np.asarray(axes).reshape(-1)]
    axes = attrs_of(node).get("axes")
    return None if axes is None else list(axes)


@converter("Squeeze")
def _squeeze(imp: Importer, node, opset: int) -> None:
    x = imp.value(node.input[0])
    axes = _axes_from(imp, node, opset, 13)
    if axes is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    axes = sorted(normalize_axis(ax, x.type.rank, "Squeeze") for ax in axes)
    imp.emit_node(node, "Squeeze", [x], {"axes": axes})


@converter("Unsqueeze")
def _unsqueeze(imp: Importer, node, opset: int) -> None:
    x = imp.value(node.input[0])
    axes = _axes_from(imp, node, opset, 13)
    rank = x.type.rank + len(axes)
    imp.emit_node(node, "Unsqueeze", [x], {"axes": sorted(normalize_axis(ax, rank, "Unsqueeze") for ax in axes)})


@converter("LayerNormalization")
def _layer_norm(imp: Importer, node, opset: int) -> None:
    a = attrs_of(node)
    a.pop("stash_type", None)  # cnncc computes the statistics in float64 anyway
    imp.emit_node(node, "LayerNormalization", _inputs(imp, node), a)


@converter(
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
    "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp",
)
def _reduce(imp: Importer, node, opset: int) -> None:
    x = imp.value(node.input[0])
    since = 13 if node.op_type == "ReduceSum" else 18
    axes = _axes_from(imp, node, opset, since)
    a = attrs_of(node)
    if not axes:
        if a.get("noop_with_empty_axes", 0):
            imp.emit_node(node, "Identity", [x])
            return
        axes = list(range(x.type.rank))
    axes = sorted(normalize_axis(ax, x.type.rank, node.op_type) for ax in axes)
    imp.emit_node(node, node.op_type, [x], {"axes": axes, "keepdims": a.get("keepdims", 1)})


@converter("Split")
def _split(imp: Importer, node, opset: int) -> None:
    x = imp.value(node.input[0])
    a = attrs_of(node)
    axis = normalize_axis(a.get("axis", 0), x.type.rank, "Split")
    sizes = imp.const(node, 1, "split") if opset >= 13 else a.get("split")
    n_out = len(node.output)
    dim = x.shape[axis]
    if sizes is None or len(sizes) == 0:
        n = a.get("num_outputs", n_out)
        chunk = -(-dim // n)
        if opset < 18 and dim % n:
            raise ShapeError(f"node {imp.node_name}: cannot split {dim} into {n} equal parts")
        sizes = [min(chunk, dim - i * chunk) for i in range(n)]
    imp.emit_node(node, "Split", [x], {"axis": axis, "split": [int(s) for s in sizes]})


@converter("Slice")
def _slice(imp: Importer, node, opset: int) -> None:
    x = imp.value(node.input[0])
    if opset < 10:
        a = attrs_of(node)
        starts, ends = list(a["starts"]), list(a["ends"])
        axes = list(a.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts = [int(v) for v in imp.const(node, 1, "starts")]
        ends = [int(v) for v in imp.const(node, 2, "ends")]
        axes = imp.const(node, 3, "axes")
        axes = list(range(len(starts))) if axes is None else [int(v) for v in axes]
        steps = imp.const(node, 4, "steps")
        steps = [1] * len(starts) if steps is None else [int(v) for v in steps]
    bounds = normalize_slice(x.shape, starts, ends, axes, steps)
    axes_sorted = sorted(bounds)
    imp.emit_node(
        node,
        "Slice",
        [x],
        {
            "starts": [bounds[ax][0] for ax in axes_sorted],
            "ends": [bounds[ax][1] for ax in axes_sorted],
            "axes": axes_sorted,
            "steps": [bounds[ax][2] for ax in axes_sorted],
        },
    )


@converter("Pad")
def _pad(imp: Importer, node, opset: int) -> None:
    x = imp.value(node.input[0])
    a = attrs_of(node)
    mode = a.get("mode", "constant")
    if opset < 11:
        pads, value = list(a.get("pads", a.get("paddings", []))), float(a.get("value", 0.0))
    else:
        pads = [int(v) for v in imp.const(node, 1, "pads")]
        cval = imp.const(node, 2, "constant_value")
        value = 0.0 if cval is None or np.asarray(cval).size == 0 else np.asarray(cval).reshape(-1)[0].item()
        axes = imp.const(node, 3, "axes") if opset >= 18 else None
        if axes is not None:
            r = x.type.rank
            full = [0] * (2 * r)
            axes = [normalize_axis(int(ax), r, "Pad") for ax in axes]
            for k, ax in enumerate(axes):
                full[ax], full[r + ax] = pads[k], pads[len(axes) + k]
            pads = full
    if mode not in ("constant", "reflect", "edge", "wrap"):
        raise UnsupportedOpError(f"node {imp.node_name}: Pad mode {mode!r} is not supported")
    imp.emit_node(node, "Pad", [x], {"pads": pads, "mode": mode, "value": value})


@converter("Resize")
def _resize(imp: Importer, node, opset: int) -> None:
    x = imp.value(node.input[0])
    a = attrs_of(node)
    r = x.type.rank
    mode = a.get("mode", "nearest")
    if mode not in ("nearest", "linear", "cubic"):
        raise UnsupportedOpError(f"node {imp.node_name}: Resize mode {mode!r} is not supported (nearest, linear, cubic are)")
    if a.get("antialias", 0):
        raise UnsupportedOpError(f"node {imp.node_name}: Resize with antialias is not supported")
    roi = None
    if opset == 10:
        scales = [float(s) for s in np.asarray(imp.const(node, 1, "scales")).reshape(-1)]
        coord, nearest = "asymmetric", "floor"
        sizes = None
    else:
        coord = a.get("coordinate_transformation_mode", "half_pixel")
        nearest = a.get("nearest_mode", "round_prefer_floor")
        if coord == "tf_crop_and_resize":
            roi = [float(v) for v in np.asarray(imp.const(node, 1, "roi")).reshape(-1)]
        scales = imp.const(node, 2, "scales")
        sizes = imp.const(node, 3, "sizes")
        scales = None if scales is None or np.asarray(scales).size == 0 else [float(s) for s in np.asarray(scales).reshape(-1)]
        sizes = None if sizes is None or np.asarray(sizes).size == 0 else [int(s) for s in np.asarray(sizes).reshape(-1)]
    axes = a.get("axes")
    want = r if axes is None else len(axes)
    for what, vals, n in (("scales", scales, want), ("sizes", sizes, want), ("roi", roi, 2 * want)):
        if vals is not None and len(vals) != n:
            raise ShapeError(f"node {imp.node_name}: Resize {what} has {len(vals)} values, the input of rank {r} "
                             f"needs {n}{'' if axes is None else f' (axes {list(axes)})'}")
    if scales is not None and not all(math.isfinite(s) and s > 0 for s in scales):
        raise ShapeError(f"node {imp.node_name}: Resize scales must be positive and finite, got {scales}")
    if sizes is not None and min(sizes, default=1) < 0:
        raise ShapeError(f"node {imp.node_name}: Resize sizes must not be negative, got {sizes}")
    if axes is not None:
        axes = [normalize_axis(ax, r, "Resize") for ax in axes]
        if roi is not None:
            full_roi = [0.0] * r + [1.0] * r
            for k, ax in enumerate(axes):
                full_roi[ax], full_roi[r + ax] = roi[k], roi[len(axes) + k]
            roi = full_roi
        full_scales, full_sizes = [1.0] * r, list(x.shape)
        for k, ax in enumerate(axes):
            if scales is not None:
                full_scales[ax] = scales[k]
            if sizes is not None:
                full_sizes[ax] = sizes[k]
        scales = full_scales if scales is not None else None
        sizes = full_sizes if sizes is not None else None
    if sizes is not None:
        policy = a.get("keep_aspect_ratio_policy", "stretch")
        if policy != "stretch":
            chosen = axes or list(range(r))
            ratios = [sizes[ax] / x.shape[ax] for ax in chosen]
            s = min(ratios) if policy == "not_larger" else max(ratios)
            scales = [1.0] * r
            sizes = list(x.shape)
            for ax in chosen:
                scales[ax] = s
                sizes[ax] = int(math.floor(s * x.shape[ax] + 0.5))
        else:
            scales = [sizes[i] / x.shape[i] for i in range(r)]
    elif scales is not None:
        extent = [1.0] * r if roi is None else [roi[r + i] - roi[i] for i in range(r)]
        sizes = [int(math.floor(x.shape[i] * extent[i] * scales[i])) for i in range(r)]
    else:
        raise ShapeError(f"node {imp.node_name}: Resize needs scales or sizes")
    imp.emit_node(
        node,
        "Resize",
        [x],
        {
            "mode": mode,
            "coordinate_transformation_mode": coord,
            "nearest_mode": nearest,
            "sizes": sizes,
            "scales": scales,
            "cubic_coeff_a": float(a.get("cubic_coeff_a", -0.75)),
            "exclude_outside": int(a.get("exclude_outside", 0)),
            "roi": roi,
            "extrapolation_value": float(a.get("extrapolation_value", 0.0)),
        },
    )


@converter("Upsample")
def _upsample(imp: Importer, node, opset: int) -> None:
    x = imp.value(node.input[0])
    a = attrs_of(node)
    scales = a.get("scales") if opset < 9 else imp.const(node, 1, "scales")
    mode = a.get("mode", "nearest")
    if mode == "bilinear":
        mode = "linear"
    imp.emit_node(node, "Upsample", [x], {"mode": mode, "scales": [float(s) for s in scales]})


@converter("Expand")
def _expand(imp: Importer, node, opset: int) -> None:
    shape = [int(d) for d in imp.const(node, 1, "shape")]
    imp.emit_node(node, "Expand", [imp.value(node.input[0])], {"shape": shape})


@converter("Tile")
def _tile(imp: Importer, node, opset: int) -> None:
    repeats = [int(d) for d in imp.const(node, 1, "repeats")]
    imp.emit_node(node, "Tile", [imp.value(node.input[0])], {"repeats": repeats})


@converter("Range")
def _range(imp: Importer, node, opset: int) -> None:
    start, limit, delta = (imp.const(node, i, name) for i, name in enumerate(("start", "limit", "delta")))
    dtype = str(np.asarray(start).dtype)
    imp.emit_node(
        node,
        "Range",
        [],
        {"start": np.asarray(start).item(), "limit": np.asarray(limit).item(), "delta": np.asarray(delta).item(), "dtype": dtype},
    )
