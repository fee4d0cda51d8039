"""FusedConv and FusedGemm (every epilogue step kind) against their unfused references."""

import pytest

from llvm_helpers import check_op, const, rand

CONV = dict(kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1))
X, W = (1, 4, 9, 10), (6, 4, 3, 3)
Y = (1, 6, 9, 10)

STEPS = [
    ((("bias",), ("relu",)), ["bias"]),
    ((("bias",), ("add",), ("relu",)), ["bias", "add"]),
    ((("prelu",),), ["prelu"]),
    ((("leaky_relu", 0.2), ("clip", 0.0, 6.0)), []),
    ((("clip", None, 0.5), ("sigmoid",)), []),
    ((("silu",), ("hard_sigmoid", 0.3, 0.4)), []),
    ((("hard_swish",), ("elu", 0.7)), []),
    ((("selu", 1.6, 1.05), ("tanh",)), []),
    ((("bias",), ("relu",), ("max_pool", (3, 3), (2, 2), (1, 1, 1, 1), 0)), ["bias"]),
    ((("bias",), ("avg_pool", (2, 2), (2, 2), (0, 0, 1, 1), 1, 0)), ["bias"]),
    ((("relu",), ("global_avg_pool",)), []),
]


def _extras(kinds, c=6):
    out = []
    for kind in kinds:
        if kind == "bias":
            out.append(const(rand(c, seed=5)))
        elif kind == "add":
            out.append(rand(*Y, seed=6))
        else:
            out.append(const(rand(c, seed=7)))
    return out


@pytest.mark.parametrize("epilogue,extras", STEPS)
def test_fused_conv(epilogue, extras):
    check_op("FusedConv", [rand(*X), const(rand(*W, seed=1))] + _extras(extras), {**CONV, "epilogue": epilogue})


def test_fused_conv_grouped_strided():
    attrs = dict(kernel_shape=(3, 3), strides=(2, 2), pads=(0, 1, 1, 0), dilations=(1, 1), group=2,
                 epilogue=(("bias",), ("relu",), ("max_pool", (2, 2), (2, 2), (0, 0, 0, 0), 1)))
    check_op("FusedConv", [rand(1, 4, 11, 12), const(rand(6, 2, 3, 3, seed=1)), const(rand(6, seed=2))], attrs)


def test_fused_conv_pointwise_residual():
    attrs = dict(kernel_shape=(1, 1), strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1),
                 epilogue=(("bias",), ("add",), ("relu",)))
    check_op("FusedConv", [rand(1, 5, 6, 7), const(rand(8, 5, 1, 1, seed=1)), const(rand(8, seed=2)),
                           rand(1, 8, 6, 7, seed=3)], attrs)


@pytest.mark.parametrize("epilogue,kinds", [
    ((("bias",), ("relu",)), ["bias"]),
    ((("bias",), ("add",), ("sigmoid",)), ["bias", "add"]),
    ((("prelu",), ("clip", -0.1, 0.2)), ["prelu"]),
])
@pytest.mark.parametrize("transB", [0, 1])
def test_fused_gemm(epilogue, kinds, transB):
    m, k, n = 3, 17, 11
    b = rand(n, k, seed=1) if transB else rand(k, n, seed=1)
    extras = []
    for kind in kinds:
        extras.append(rand(m, n, seed=4) if kind == "add" else const(rand(n, seed=5)))
    check_op("FusedGemm", [rand(m, k), const(b)] + extras, {"alpha": 0.5, "transB": transB, "epilogue": epilogue})


def test_fused_depthwise_plane():
    attrs = dict(kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1), group=4,
                 epilogue=(("bias",), ("clip", 0.0, 6.0)))
    check_op("FusedConv", [rand(1, 4, 7, 6), const(rand(4, 1, 3, 3, seed=1)), const(rand(4, seed=2))], attrs)
