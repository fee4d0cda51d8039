"""One or more small graphs per op of the op table, with shapes chosen to break things:
odd sizes, channel counts that are not a power of two, strides, dilations, asymmetric pads."""

from __future__ import annotations

import numpy as np

from tvm_graphs import GraphMaker

RNG = np.random.default_rng(1)


def _w(*shape):
    return (RNG.standard_normal(shape) * 0.3).astype("float32")


def _pos(*shape):
    return RNG.uniform(0.5, 1.5, shape).astype("float32")


def unary(op, shape, positive=False, **attrs):
    def make():
        m = GraphMaker(op)
        x = m.input(shape)
        if positive:  # Sqrt/Log want positive inputs: abs + 0.1 inside the graph
            x = m.op("Add", m.op("Abs", x), m.const(np.float32(0.1)))
        return m.graph(m.op(op, x, **attrs))

    return make


def binary(op, sa, sb, const_b=False):
    def make():
        m = GraphMaker(op)
        a = m.input(sa)
        b = m.const(_pos(*sb)) if const_b else m.input(sb)
        return m.graph(m.op(op, a, b))

    return make


def single(op, in_shapes, dtypes=None, consts=(), **attrs):
    """``op`` over graph inputs of ``in_shapes`` followed by constant operands ``consts``."""

    def make():
        m = GraphMaker(op)
        ins = [m.input(s, (dtypes or {}).get(i, "float32")) for i, s in enumerate(in_shapes)]
        ins += [m.const(c) for c in consts]
        out = m.op(op, *ins, **attrs)
        outs = out if isinstance(out, list) else [out]
        return m.graph(*outs)

    return make


def conv(x, w, bias=True, **attrs):
    sp = len(x) - 2
    attrs.setdefault("strides", (1,) * sp)
    attrs.setdefault("dilations", (1,) * sp)
    attrs.setdefault("pads", (0,) * (2 * sp))
    attrs.setdefault("kernel_shape", tuple(w[2:]))
    consts = [_w(*w)] + ([_w(w[0])] if bias else [])
    return single("Conv", [x], consts=consts, **attrs)


def conv_t(x, w, bias=True, **attrs):
    sp = len(x) - 2
    attrs.setdefault("strides", (1,) * sp)
    attrs.setdefault("dilations", (1,) * sp)
    attrs.setdefault("pads", (0,) * (2 * sp))
    attrs.setdefault("output_padding", (0,) * sp)
    attrs.setdefault("kernel_shape", tuple(w[2:]))
    consts = [_w(*w)] + ([_w(w[1] * attrs.get("group", 1))] if bias else [])
    return single("ConvTranspose", [x], consts=consts, **attrs)


def pool(op, x, k, s=None, pads=None, d=None, **attrs):
    sp = len(x) - 2
    return single(
        op, [x], kernel_shape=k, strides=s or (1,) * sp, pads=pads or (0,) * (2 * sp), dilations=d or (1,) * sp, **attrs
    )


def fused_conv(x, w, epilogue, extras, **attrs):
    sp = len(x) - 2
    attrs.setdefault("strides", (1,) * sp)
    attrs.setdefault("dilations", (1,) * sp)
    attrs.setdefault("pads", (0,) * (2 * sp))
    attrs.setdefault("kernel_shape", tuple(w[2:]))

    def make():
        m = GraphMaker("FusedConv")
        xi = m.input(x)
        args = [xi, m.const(_w(*w))]
        for kind in extras:
            args.append(m.input(kind) if isinstance(kind, tuple) else m.const(_w(kind)))
        return m.graph(m.op("FusedConv", *args, epilogue=epilogue, **attrs))

    return make


def unary_then(op, shape, **attrs):
    """``op`` on a positive input (abs + 0.1 in the graph), for logs of sums."""

    def make():
        m = GraphMaker(op)
        x = m.op("Add", m.op("Abs", m.input(shape)), m.const(np.float32(0.1)))
        return m.graph(m.op(op, x, **attrs))

    return make


def round_case():
    """Halves included: ONNX rounds half to even."""

    def make():
        m = GraphMaker("Round")
        x = m.input((3, 5))
        halves = m.const(np.array([-2.5, -1.5, -0.5, 0.5, 1.5], dtype=np.float32))
        return m.graph(m.op("Round", x), m.op("Round", m.op("Add", m.op("Mul", x, m.const(np.float32(0.0))), halves)))

    return make


def argmax_ties():
    """Repeated values: the first (or last) index must win, as in NumPy."""

    def make():
        m = GraphMaker("ArgMaxTies")
        x = m.op("Floor", m.input((4, 6)))  # random normals floored: many ties
        return m.graph(m.op("ArgMax", x, axis=1), m.op("ArgMax", x, axis=1, select_last_index=1, keepdims=0))

    return make


CASES = {
    # -- elementwise
    **{f"{op}": unary(op, (2, 3, 5, 7)) for op in ("Relu", "Sigmoid", "Tanh", "Exp", "Abs", "Neg", "Floor", "Ceil", "Erf", "HardSwish", "Softplus")},
    "Relu-1d": unary("Relu", (37,)),
    "LeakyRelu": unary("LeakyRelu", (3, 17), alpha=0.2),
    "Elu": unary("Elu", (3, 17), alpha=0.7),
    "Selu": unary("Selu", (3, 17)),
    "HardSigmoid": unary("HardSigmoid", (3, 17), alpha=0.3, beta=0.4),
    "Sqrt": unary("Sqrt", (4, 9), positive=True),
    "Log": unary("Log", (4, 9), positive=True),
    "Reciprocal": unary("Reciprocal", (4, 9), positive=True),
    "Clip": unary("Clip", (2, 3, 5), min=-0.5, max=0.5),
    "Clip-min-only": unary("Clip", (2, 3, 5), min=0.0),
    "Identity": unary("Identity", (2, 3, 5)),
    "Dropout": single("Dropout", [(2, 3, 5)]),
    "Cast-int": single("Cast", [(2, 7)], to="int64"),
    "Cast-bool": single("Cast", [(2, 7)], to="bool"),
    "Cast-from-int": single("Cast", [(2, 7)], dtypes={0: "int64"}, to="float32"),
    "Add-bcast": binary("Add", (2, 3, 4, 5), (3, 1, 5)),
    "Add-int": single("Add", [(3, 4), (4,)], dtypes={0: "int64", 1: "int64"}),
    "Sub": binary("Sub", (2, 3, 4), (2, 3, 4)),
    "Mul-scalar": binary("Mul", (2, 3, 4), (), const_b=True),
    "Div": binary("Div", (2, 3, 4), (1, 4), const_b=True),
    "Div-int": single("Div", [(3, 4)], dtypes={0: "int64"}, consts=[np.array([[1, -2, 3, -4]] * 3, dtype=np.int64)]),
    "Pow": single("Pow", [(3, 4)], consts=[np.full((3, 4), 2.0, np.float32)]),
    "PRelu": binary("PRelu", (2, 3, 4, 4), (3, 1, 1), const_b=True),
    "Sum": single("Sum", [(2, 3), (3,), (2, 1)]),
    "Mean": single("Mean", [(2, 3), (2, 3)]),
    "Max": single("Max", [(2, 3, 4), (4,)]),
    "Min": single("Min", [(2, 3, 4), (3, 1)]),
    # -- convolution
    "Conv-3x3-pad": conv((1, 3, 9, 11), (5, 3, 3, 3), pads=(1, 1, 1, 1)),
    "Conv-stride-dil-asym": conv((2, 4, 13, 10), (6, 4, 3, 2), strides=(2, 1), dilations=(2, 1), pads=(1, 0, 2, 1)),
    "Conv-grouped": conv((1, 6, 8, 8), (9, 2, 3, 3), group=3, pads=(1, 1, 1, 1), bias=False),
    "Conv-depthwise": conv((1, 5, 7, 7), (5, 1, 3, 3), group=5, strides=(2, 2), pads=(1, 1, 1, 1)),
    "Conv-1d": conv((1, 3, 17), (4, 3, 5), pads=(2, 1)),
    "Conv-3d": conv((1, 2, 5, 6, 4), (3, 2, 2, 3, 2), bias=False),
    "ConvTranspose": conv_t((1, 4, 5, 6), (4, 3, 3, 3), strides=(2, 2), pads=(1, 1, 1, 1), output_padding=(1, 1)),
    "ConvTranspose-grouped-dil": conv_t((1, 4, 4, 5), (4, 2, 2, 3), group=2, dilations=(2, 1), pads=(0, 1, 1, 0), bias=False),
    # -- pooling
    "MaxPool": pool("MaxPool", (1, 3, 9, 9), (3, 3), (2, 2), (1, 1, 1, 1)),
    "MaxPool-ceil-dil": pool("MaxPool", (2, 2, 10, 11), (2, 3), (2, 2), (0, 1, 1, 0), (2, 1), ceil_mode=1),
    "AveragePool": pool("AveragePool", (1, 3, 9, 9), (3, 3), (2, 2), (1, 1, 1, 1)),
    "AveragePool-incl-ceil": pool("AveragePool", (1, 2, 10, 7), (3, 2), (2, 2), (1, 0, 1, 1), ceil_mode=1, count_include_pad=1),
    "AveragePool-1d": pool("AveragePool", (1, 2, 11), (4,), (3,), (1, 2)),
    "GlobalAveragePool": single("GlobalAveragePool", [(2, 5, 6, 7)]),
    "GlobalMaxPool": single("GlobalMaxPool", [(2, 5, 6, 7)]),
    # -- normalization
    "LRN": single("LRN", [(1, 7, 4, 5)], size=3, alpha=0.01, beta=0.75, bias=1.0),
    "LRN-even": single("LRN", [(1, 6, 3, 3)], size=4),
    "BatchNormalization": single("BatchNormalization", [(2, 4, 3, 5)], consts=[_pos(4), _w(4), _w(4), _pos(4)], epsilon=1e-3),
    "InstanceNormalization": single("InstanceNormalization", [(2, 3, 4, 5)], consts=[_pos(3), _w(3)]),
    "Softmax": single("Softmax", [(3, 10)], axis=1),
    "Softmax-axis0": single("Softmax", [(4, 3, 5)], axis=0),
    "LogSoftmax": single("LogSoftmax", [(3, 10)], axis=-1),
    # -- dense
    "Gemm": single("Gemm", [(3, 5)], consts=[_w(5, 4), _w(4)]),
    "Gemm-trans-alpha-beta": single("Gemm", [(5, 3)], consts=[_w(4, 5), _w(3, 4)], transA=1, transB=1, alpha=0.5, beta=2.0),
    "Gemm-noC": single("Gemm", [(3, 5), (5, 2)]),
    "MatMul": single("MatMul", [(2, 3, 4), (4, 5)]),
    "MatMul-bcast": single("MatMul", [(2, 1, 3, 4), (3, 4, 2)]),
    "MatMul-vec": single("MatMul", [(4,), (2, 4, 3)]),
    "MatMul-mat-vec": single("MatMul", [(2, 3, 4), (4,)]),
    # -- data movement
    "Concat": single("Concat", [(2, 3, 4), (2, 1, 4), (2, 2, 4)], axis=1),
    "Concat-last": single("Concat", [(2, 3), (2, 5)], axis=-1),
    "Split": single("Split", [(2, 7, 3)], axis=1, split=(2, 4, 1)),
    "Slice": single("Slice", [(5, 6, 7)], starts=(1, 6), ends=(4, 0), axes=(0, 2), steps=(2, -2)),
    "Slice-neg-step-to-start": single("Slice", [(6, 4)], starts=(5,), ends=(-1,), axes=(0,), steps=(-1,)),
    "Reshape": single("Reshape", [(2, 3, 4)], shape=(6, 4)),
    "Flatten": single("Flatten", [(2, 3, 4, 5)], axis=2),
    "Squeeze": single("Squeeze", [(1, 3, 1, 4)], axes=(0, 2)),
    "Unsqueeze": single("Unsqueeze", [(3, 4)], axes=(0, 3)),
    "Transpose": single("Transpose", [(2, 3, 4, 5)], perm=(0, 2, 3, 1)),
    "Expand": single("Expand", [(3, 1)], shape=(2, 3, 4)),
    "Tile": single("Tile", [(2, 3)], repeats=(2, 3)),
    "Pad-constant": single("Pad", [(1, 2, 4, 5)], pads=(0, 0, 1, 2, 0, 0, 2, 1), value=1.5),
    "Pad-crop-mixed": single("Pad", [(2, 6, 5)], pads=(0, -1, 2, 0, 2, -1)),
    "Pad-reflect": single("Pad", [(1, 2, 4, 5)], pads=(0, 0, 2, 1, 0, 0, 1, 3), mode="reflect"),
    "Pad-edge": single("Pad", [(1, 2, 4, 5)], pads=(0, 0, 2, 1, 0, 0, 1, 3), mode="edge"),
    "Resize-nearest": single("Resize", [(1, 2, 3, 4)], sizes=(1, 2, 7, 8), scales=(1.0, 1.0, 7 / 3, 2.0)),
    "Resize-linear-align": single(
        "Resize", [(1, 2, 4, 5)], mode="linear", coordinate_transformation_mode="align_corners", sizes=(1, 2, 7, 3), scales=(1.0, 1.0, 1.75, 0.6)
    ),
    "Resize-linear-half-pixel": single("Resize", [(1, 1, 3, 3)], mode="linear", sizes=(1, 1, 6, 6), scales=(1.0, 1.0, 2.0, 2.0)),
    "Upsample": single("Upsample", [(1, 2, 3, 3)], scales=(1.0, 1.0, 2.0, 3.0)),
    "Gather": single("Gather", [(5, 4)], consts=[np.array([[0, -1], [3, 2]], dtype=np.int64)], axis=0),
    "Gather-axis1": single("Gather", [(2, 5, 3)], consts=[np.array([4, 0, -2], dtype=np.int64)], axis=1),
    "ConstantOfShape": single("ConstantOfShape", [], shape=(2, 3), value=0.25),
    "Shape": single("Shape", [(2, 3, 4)]),
    "Shape-range": single("Shape", [(2, 3, 4, 5)], start=1, end=-1),
    "Size": single("Size", [(2, 3, 4)]),
    "Range": single("Range", [], start=2, limit=11, delta=3),
    "Range-float": single("Range", [], start=0.5, limit=2.0, delta=0.25, dtype="float32"),
    # -- reductions
    "ReduceSum": single("ReduceSum", [(2, 3, 4)], axes=(1,)),
    "ReduceMean": single("ReduceMean", [(2, 3, 4)], axes=(0, 2), keepdims=0),
    "ReduceMax": single("ReduceMax", [(2, 3, 4)], axes=(2,), keepdims=0),
    "ReduceMin": single("ReduceMin", [(2, 3, 4)], axes=(0, 1, 2)),
    # -- fused
    "FusedConv-bias-relu": fused_conv((1, 3, 8, 9), (4, 3, 3, 3), (("bias",), ("relu",)), [4], pads=(1, 1, 1, 1)),
    "FusedConv-res-clip-maxpool": fused_conv(
        (1, 3, 8, 8), (4, 3, 3, 3), (("bias",), ("add",), ("clip", 0.0, 6.0), ("max_pool", (2, 2), (2, 2), (0, 0, 0, 0), 0)),
        [4, (1, 4, 8, 8)], pads=(1, 1, 1, 1),
    ),
    "FusedConv-scale-shift": fused_conv((1, 3, 8, 9), (4, 3, 3, 3), (("bias",), ("scale",), ("relu",), ("shift",)),
                                        [4, 4, 4], pads=(1, 1, 1, 1)),
    "FusedConv-prelu-avgpool": fused_conv(
        (1, 4, 9, 9), (6, 2, 3, 3), (("prelu",), ("avg_pool", (3, 3), (2, 2), (1, 1, 1, 1), 1, 0)), [6], group=2
    ),
    "FusedConv-acts-gap": fused_conv(
        (1, 3, 7, 7), (5, 3, 1, 1),
        (("bias",), ("leaky_relu", 0.1), ("hard_swish",), ("silu",), ("elu", 0.5), ("global_avg_pool",)), [5],
    ),
    "FusedConv-sigmoids": fused_conv(
        (1, 2, 6, 6), (3, 2, 3, 3), (("sigmoid",), ("hard_sigmoid", 0.2, 0.5), ("selu", 1.6, 1.05), ("tanh",)), [], strides=(2, 2)
    ),
}


def fused_gemm_case(epilogue, extras, **attrs):
    def make():
        m = GraphMaker("FusedGemm")
        a = m.input((3, 6))
        args = [a, m.const(_w(5, 6))]
        for e in extras:
            args.append(m.input(e) if isinstance(e, tuple) else m.const(_w(e)))
        return m.graph(m.op("FusedGemm", *args, epilogue=epilogue, transB=1, **attrs))

    return make


CASES.update({
    # -- added with the op table's second round
    **{op: unary(op, (2, 3, 7)) for op in ("Mish", "Softsign", "Sign")},
    "Round": round_case(),
    "Celu": unary("Celu", (3, 9), alpha=0.8),
    "ThresholdedRelu": unary("ThresholdedRelu", (3, 9), alpha=0.3),
    "Gelu": unary("Gelu", (3, 9)),
    "Gelu-tanh": unary("Gelu", (3, 9), approximate="tanh"),
    "Sign-int": single("Sign", [(3, 4)], dtypes={0: "int64"}),
    "Equal-int": single("Equal", [(3, 4), (4,)], dtypes={0: "int64", 1: "int64"}),
    "Greater": single("Greater", [(2, 3, 4), (3, 1)]),
    "Less": single("Less", [(2, 3), (2, 3)]),
    "GreaterOrEqual": single("GreaterOrEqual", [(2, 3), (1,)]),
    "LessOrEqual": single("LessOrEqual", [(2, 3), (2, 1)]),
    "And": single("And", [(2, 3), (3,)], dtypes={0: "bool", 1: "bool"}),
    "Or": single("Or", [(2, 3), (2, 3)], dtypes={0: "bool", 1: "bool"}),
    "Xor": single("Xor", [(2, 3), (2, 3)], dtypes={0: "bool", 1: "bool"}),
    "Not": single("Not", [(2, 5)], dtypes={0: "bool"}),
    "Where": single("Where", [(2, 1, 4), (3, 4), (2, 3, 1)], dtypes={0: "bool"}),
    "LayerNormalization": single("LayerNormalization", [(2, 3, 8)], consts=[_pos(8), _w(8)], n_out=1),
    "LayerNormalization-stats": single("LayerNormalization", [(2, 3, 4, 5)], consts=[_pos(4, 5)], axis=2, epsilon=1e-3),
    "ReduceProd": single("ReduceProd", [(2, 3, 4)], axes=(1,)),
    "ReduceL1": single("ReduceL1", [(2, 3, 4)], axes=(0, 2), keepdims=0),
    "ReduceL2": single("ReduceL2", [(2, 3, 4)], axes=(2,)),
    "ReduceSumSquare": single("ReduceSumSquare", [(2, 3, 4)], axes=(1, 2), keepdims=0),
    "ReduceLogSum": unary_then("ReduceLogSum", (2, 3, 4), axes=(1,)),
    "ReduceLogSumExp": single("ReduceLogSumExp", [(2, 3, 4)], axes=(0, 2), keepdims=0),
    "ArgMax": single("ArgMax", [(3, 5, 4)], axis=1),
    "ArgMin-last-nokeep": single("ArgMin", [(3, 5)], consts=(), axis=-1, keepdims=0, select_last_index=1),
    "ArgMax-ties": argmax_ties(),
    "DepthToSpace-DCR": single("DepthToSpace", [(1, 8, 2, 3)], blocksize=2),
    "DepthToSpace-CRD": single("DepthToSpace", [(2, 12, 2, 2)], blocksize=2, mode="CRD"),
    "SpaceToDepth": single("SpaceToDepth", [(1, 3, 4, 6)], blocksize=2),
    "Pad-wrap": single("Pad", [(1, 2, 4, 5)], pads=(0, 0, 2, 1, 0, 0, 1, 3), mode="wrap"),
    "Resize-cubic": single("Resize", [(1, 2, 5, 6)], mode="cubic", sizes=(1, 2, 9, 4), scales=(1.0, 1.0, 1.8, 2 / 3)),
    "Resize-cubic-exclude": single(
        "Resize", [(1, 1, 4, 4)], mode="cubic", exclude_outside=1, cubic_coeff_a=-0.5, sizes=(1, 1, 7, 7), scales=(1.0, 1.0, 1.75, 1.75)
    ),
    "Resize-crop": single(
        "Resize", [(1, 1, 5, 6)], mode="linear", coordinate_transformation_mode="tf_crop_and_resize",
        roi=(0.0, 0.0, -0.2, 0.1, 1.0, 1.0, 0.9, 1.3), extrapolation_value=-1.0, sizes=(1, 1, 4, 5), scales=(1.0, 1.0, 0.8, 5 / 6),
    ),
    "Resize-crop-nearest": single(
        "Resize", [(1, 1, 5, 6)], coordinate_transformation_mode="tf_crop_and_resize",
        roi=(0.0, 0.0, -0.2, 0.1, 1.0, 1.0, 0.9, 1.3), sizes=(1, 1, 4, 5), scales=(1.0, 1.0, 0.8, 5 / 6),
    ),
})

CASES["FusedGemm-bias-relu"] = fused_gemm_case((("bias",), ("relu",)), [5])
CASES["FusedGemm-alpha-add-prelu"] = fused_gemm_case((("add",), ("prelu",), ("clip", None, 0.3)), [(3, 5), 5], alpha=0.5)
