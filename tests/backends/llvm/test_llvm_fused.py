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


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
@pytest.mark.parametrize("c,m,group,k,lanes", [
    (8, 20, 1, 3, 0),      # 20 channels: padded to a whole vector tile
    (16, 68 * 2, 2, 1, 0),  # ShuffleNet-like grouped 1x1: 68 channels per group
    (12, 34 * 3, 3, 3, 0),  # 34 per group
    (6, 12, 1, 1, 16),      # forced 16-lane vectors on 12 channels
    (6, 24, 3, 3, 8),       # forced 8 lanes, 8 per group
])
def test_fused_conv_padded_channel_tiles(cpu, c, m, group, k, lanes):
    """Output channels per group that are not a multiple of the vector width: the tile is
    padded with zero weights and the tail lanes are never stored; bias, prelu and the
    residual add still see the right channels."""
    attrs = dict(kernel_shape=(k, k), strides=(1, 1), pads=(k // 2,) * 4, dilations=(1, 1), group=group,
                 epilogue=(("bias",), ("add",), ("prelu",)))
    params = {"conv_vector_lanes": lanes, "conv_oc_vectors": 2} if lanes else None
    if lanes == 16 and cpu == "x86-64-v3":
        params = {"conv_vector_lanes": 8}
    check_op("FusedConv", [rand(1, c, 7, 9), const(rand(m, c // group, k, k, seed=1)), const(rand(m, seed=2)),
                           rand(1, m, 7, 9, seed=3), const(rand(m, seed=4))], attrs, cpu=cpu, params=params)


@pytest.mark.parametrize("epilogue", [(("bias",), ("relu",), ("global_avg_pool",)),
                                      (("bias",), ("relu",), ("max_pool", (3, 3), (2, 2), (0, 0, 0, 0), 1))])
def test_fused_conv_padded_then_pool(epilogue):
    attrs = dict(kernel_shape=(1, 1), strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), epilogue=epilogue)
    check_op("FusedConv", [rand(1, 16, 6, 6), const(rand(50, 16, 1, 1, seed=1)), const(rand(50, seed=2))], attrs)


WINO = dict(kernel_shape=(3, 3), strides=(1, 1), dilations=(1, 1))


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
@pytest.mark.parametrize("c,m,h,w,pads", [
    (8, 16, 8, 8, (1, 1, 1, 1)),
    (5, 6, 7, 9, (1, 1, 1, 1)),       # odd output sizes: partial tiles
    (3, 4, 11, 40, (0, 2, 1, 0)),     # asymmetric pads, several tile vectors per row
    (64, 32, 6, 6, (1, 1, 1, 1)),     # deeper reduction
])
def test_winograd_conv(c, m, h, w, pads, cpu):
    """F(2x2,3x3) against the reference at the usual tolerance (rtol 1e-3, atol 1e-4)."""
    attrs = dict(WINO, pads=pads, epilogue=(("bias",), ("add",), ("relu",)))
    oh, ow = h + pads[0] + pads[2] - 2, w + pads[1] + pads[3] - 2
    exe = check_op("FusedConv", [rand(1, c, h, w), const(rand(m, c, 3, 3, seed=1)), const(rand(m, seed=2)),
                                 rand(1, m, oh, ow, seed=3)], attrs, cpu=cpu, params={"conv_schedule": "winograd"})
    tiles = ((oh + 1) // 2) * ((ow + 1) // 2)
    assert exe.generated.workspace_size >= 16 * (c + m) * tiles * 4  # the transformed tensors


def test_winograd_plain_conv_and_pool_epilogue():
    check_op("Conv", [rand(1, 4, 9, 9), const(rand(8, 4, 3, 3, seed=1))], dict(WINO, pads=(1, 1, 1, 1), group=1),
             params={"conv_schedule": "winograd"})
    attrs = dict(WINO, pads=(1, 1, 1, 1), epilogue=(("bias",), ("relu",), ("max_pool", (2, 2), (2, 2), (0, 0, 0, 0), 0)))
    check_op("FusedConv", [rand(1, 4, 10, 10), const(rand(8, 4, 3, 3, seed=1)), const(rand(8, seed=2))], attrs,
             params={"conv_schedule": "winograd"})
