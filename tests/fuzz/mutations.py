"""Hypothesis strategies for fuzz cases: a seed model (seeds.py) with one to three mutations
of the kinds a hostile or careless user produces (attributes, dims, indices, dtypes, names,
initializer sizes, opsets, truncation, flipped bytes), and the command line to run it with."""

from __future__ import annotations

from dataclasses import dataclass, field

import onnx
from hypothesis import strategies as st
from onnx import TensorProto, helper

from seeds import SEEDS

# values that sit on the edges of what sizes, indices and counts may be
EDGE_INTS = [0, 1, 2, 3, -1, -2, -3, 4, 5, 7, 64, 1000, 100_000, 2**31 - 1, 2**31, 2**32, 2**62, -2**62, 2**63 - 1, -2**63]
EDGE_FLOATS = [0.0, -1.0, 1e-30, 0.5, 2.0, 1e10, 3e38, -3e38, float("inf"), float("-inf"), float("nan")]
EDGE_STRINGS = ["constant", "reflect", "edge", "nearest", "linear", "cubic", "NOTSET", "SAME_UPPER", "SAME_LOWER",
                "VALID", "", "garbage", "half_pixel", "asymmetric", "align_corners", "floor", "ceil"]
EXTRA_ATTRS = ["pads", "strides", "dilations", "group", "kernel_shape", "auto_pad", "axis", "axes", "ceil_mode",
               "count_include_pad", "mode", "size", "alpha", "beta", "perm", "keepdims", "epsilon", "transA",
               "transB", "blocksize", "output_padding", "output_shape", "to", "value"]
WEIRD_NAMES = ["", " ", "a b", "x\x01y", "tab\there", "new\nline", "emoji\U0001F600", "ünïcödé", "quote\"d",
               "back\\slash", "%percent%s", "int", "main", "cnncc_run", "x" * 300, "0starts_with_digit",
               "allow_pickle", "file", "../escape", "名前"]
DTYPES = [TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.INT8, TensorProto.UINT8, TensorProto.INT32,
          TensorProto.INT64, TensorProto.BOOL, TensorProto.STRING, TensorProto.COMPLEX64, TensorProto.BFLOAT16,
          TensorProto.UNDEFINED, 999]
CPUS = ["x86-64-v3", "x86-64-v2", "x86-64", "skylake-avx512", "znver4", "pentium42", "i686", "generic", "", "native"]


@dataclass
class FuzzCase:
    seed: str
    mutations: list[str] = field(default_factory=list)
    model: bytes = b""
    argv: list[str] = field(default_factory=list)   # MODEL stands for the model file's path
    env: dict[str, str] = field(default_factory=dict)
    # inf/nan weights: NaN and inf propagate through max, relu and sums in an order no
    # runtime defines, so only the exit code is judged, not the numbers
    nonfinite: bool = False

    def describe(self) -> str:
        return f"{self.seed} + [{'; '.join(self.mutations)}] argv={self.argv} env={self.env}"


def _mutate_attr(draw, model: onnx.ModelProto) -> str:
    node = draw(st.sampled_from(list(model.graph.node)))
    names = [a.name for a in node.attribute]
    name = draw(st.sampled_from(names + EXTRA_ATTRS))
    old = next((a for a in node.attribute if a.name == name), None)
    kind = old.type if old is not None else draw(st.sampled_from(
        [onnx.AttributeProto.INT, onnx.AttributeProto.INTS, onnx.AttributeProto.FLOAT, onnx.AttributeProto.STRING]))
    if kind == onnx.AttributeProto.INTS:
        base = list(old.ints) if old is not None else [1, 1]
        n = draw(st.sampled_from([len(base), 0, 1, len(base) + 1, 2 * len(base) or 2]))
        value = [draw(st.sampled_from(EDGE_INTS)) if draw(st.booleans()) else (base[i % len(base)] if base else 1)
                 for i in range(n)]
    elif kind == onnx.AttributeProto.INT:
        value = draw(st.sampled_from(EDGE_INTS))
    elif kind == onnx.AttributeProto.FLOAT:
        value = draw(st.sampled_from(EDGE_FLOATS))
    elif kind == onnx.AttributeProto.STRING:
        value = draw(st.sampled_from(EDGE_STRINGS))
    else:
        return f"attr {node.op_type}.{name} kept (type {kind})"
    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    attr_type = onnx.AttributeProto.INTS if kind == onnx.AttributeProto.INTS else None
    node.attribute.extend(kept + [helper.make_attribute(name, value, attr_type=attr_type)])
    return f"attr {node.name or node.op_type}.{name}={value!r}"


def _mutate_dim(draw, model: onnx.ModelProto) -> str:
    vi = draw(st.sampled_from(list(model.graph.input) + list(model.graph.output)))
    dims = vi.type.tensor_type.shape.dim
    if not dims:
        return "dim: scalar kept"
    i = draw(st.integers(0, len(dims) - 1))
    choice = draw(st.sampled_from(["value", "param", "drop", "add"]))
    if choice == "param":
        dims[i].dim_param = draw(st.sampled_from(["N", "batch", "", "?"]))
        return f"dim {vi.name}[{i}]=param"
    if choice == "drop":
        del dims[i]
        return f"dim {vi.name}: dropped axis {i}"
    if choice == "add":
        dims.add().dim_value = draw(st.sampled_from([1, 2, 3]))
        return f"dim {vi.name}: added an axis"
    dims[i].dim_value = draw(st.sampled_from([0, 1, 2, 5, 100_000, 2**40, 2**62]))
    return f"dim {vi.name}[{i}]={dims[i].dim_value}"


def _mutate_initializer(draw, model: onnx.ModelProto) -> str:
    if not model.graph.initializer:
        return "init: none"
    t = draw(st.sampled_from(list(model.graph.initializer)))
    try:
        arr = onnx.numpy_helper.to_array(t).copy()
    except Exception:  # noqa: BLE001 - an earlier mutation already broke it
        return f"init {t.name}: already broken"
    choice = draw(st.sampled_from(["values", "dims", "raw_short", "raw_long", "dtype"]))
    if choice == "values" and arr.size:
        flat = arr.reshape(-1)
        j = draw(st.integers(0, flat.size - 1))
        if arr.dtype.kind in "iu":
            v = draw(st.sampled_from(EDGE_INTS))
            info = __import__("numpy").iinfo(arr.dtype)
            flat[j] = min(max(v, info.min), info.max)
        else:
            flat[j] = draw(st.sampled_from(EDGE_FLOATS))
            if not __import__("numpy").isfinite(flat[j]) or abs(flat[j]) > 1e30:
                model.doc_string += " nonfinite"  # read back by fuzz_cases
        t.CopyFrom(onnx.numpy_helper.from_array(arr, t.name))
        return f"init {t.name}[{j}]={flat[j]!r}"
    if choice == "dims" and t.dims:
        i = draw(st.integers(0, len(t.dims) - 1))
        t.dims[i] = draw(st.sampled_from([0, 1, 2, 7, 2**40]))
        return f"init {t.name}.dims[{i}]={t.dims[i]}"
    if choice in ("raw_short", "raw_long"):
        t.CopyFrom(onnx.numpy_helper.from_array(arr, t.name))
        raw = t.raw_data
        t.raw_data = raw[: len(raw) // 2] if choice == "raw_short" else raw + raw[:8] + b"\0" * 8
        return f"init {t.name}: {choice}"
    t.data_type = draw(st.sampled_from(DTYPES[:-1]))
    return f"init {t.name}: dtype {t.data_type}"


def _mutate_input_dtype(draw, model: onnx.ModelProto) -> str:
    vi = draw(st.sampled_from(list(model.graph.input)))
    vi.type.tensor_type.elem_type = draw(st.sampled_from(DTYPES))
    return f"dtype {vi.name}={vi.type.tensor_type.elem_type}"


def _rename(model: onnx.ModelProto, old: str, new: str) -> None:
    g = model.graph
    for n in g.node:
        n.input[:] = [new if x == old else x for x in n.input]
        n.output[:] = [new if x == old else x for x in n.output]
    for coll in (g.input, g.output, g.value_info, g.initializer):
        for item in coll:
            if item.name == old:
                item.name = new


def _mutate_name(draw, model: onnx.ModelProto) -> str:
    g = model.graph
    names = sorted({x for n in g.node for x in list(n.input) + list(n.output) if x})
    old = draw(st.sampled_from(names))
    new = draw(st.sampled_from(WEIRD_NAMES + names))  # an existing name makes a duplicate
    _rename(model, old, new)
    return f"rename {old!r}->{new!r}"


def _mutate_opset(draw, model: onnx.ModelProto) -> str:
    model.opset_import[0].version = draw(st.sampled_from([1, 5, 6, 7, 9, 10, 11, 12, 17, 19, 21, 23, 30]))
    return f"opset {model.opset_import[0].version}"


def _mutate_wiring(draw, model: onnx.ModelProto) -> str:
    node = draw(st.sampled_from(list(model.graph.node)))
    choice = draw(st.sampled_from(["drop_input", "extra_input", "empty_input", "op_type"]))
    if choice == "drop_input" and node.input:
        del node.input[-1]
    elif choice == "extra_input":
        node.input.append(draw(st.sampled_from([node.input[0] if node.input else "x", "nonexistent"])))
    elif choice == "empty_input" and node.input:
        node.input[draw(st.integers(0, len(node.input) - 1))] = ""
    else:
        node.op_type = draw(st.sampled_from(["Conv", "Gather", "MaxPool", "Resize", "Pad", "NotAnOp", "Loop", "Identity"]))
    return f"wiring {node.op_type}: {choice}"


STRUCTURED = [_mutate_attr, _mutate_attr, _mutate_dim, _mutate_initializer, _mutate_input_dtype, _mutate_name,
              _mutate_opset, _mutate_wiring]


def _corrupt(draw, data: bytes) -> tuple[bytes, str]:
    choice = draw(st.sampled_from(["truncate", "flip", "empty"]))
    if choice == "empty" or not data:
        return b"", "empty file"
    if choice == "truncate":
        cut = draw(st.integers(0, len(data) - 1))
        return data[:cut], f"truncated at {cut}/{len(data)}"
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        i = draw(st.integers(0, len(buf) - 1))
        buf[i] = draw(st.integers(0, 255))
    return bytes(buf), "flipped bytes"


def _argv(draw, model: onnx.ModelProto) -> list[str]:
    """``run MODEL --target llvm --check`` mostly; sometimes ``compile`` to an artifact (the
    worker then runs the artifact too), with optimization levels, CPUs and input shapes."""
    options = []
    if draw(st.booleans()):
        options += ["-O", str(draw(st.sampled_from([0, 1, 2, 3])))]
    if draw(st.integers(0, 9)) == 0:
        options += ["--cpu", draw(st.sampled_from(CPUS))]
    if draw(st.integers(0, 7)) == 0:
        name = draw(st.sampled_from([i.name for i in model.graph.input] + ["nope"]))
        dims = draw(st.lists(st.sampled_from([0, 1, 2, 3, 4, 8, 2**63, -1, 99999999999999999999]), max_size=5))
        options += ["--input-shape", f"{name}={','.join(map(str, dims))}"]
    if draw(st.integers(0, 5)) == 0:
        return ["compile", "MODEL", "--target", "llvm", "-o", "ARTIFACT", *options]
    return ["run", "MODEL", "--target", "llvm", "--check", *options]


@st.composite
def fuzz_cases(draw) -> FuzzCase:
    name = draw(st.sampled_from(sorted(SEEDS)))
    model = SEEDS[name]()
    case = FuzzCase(name)
    for _ in range(draw(st.integers(1, 3))):
        case.mutations.append(draw(st.sampled_from(STRUCTURED))(draw, model))
    case.argv = _argv(draw, model)
    data = model.SerializeToString()
    if draw(st.integers(0, 9)) == 0:
        data, what = _corrupt(draw, data)
        case.mutations.append(what)
    case.model = data
    case.nonfinite = "nonfinite" in model.doc_string
    if draw(st.integers(0, 9)) == 0:
        case.env["CNNCC_NUM_THREADS"] = draw(st.sampled_from(["1", "2", "3", "0", "-5", "abc", "100000", "2147483648"]))
    return case
