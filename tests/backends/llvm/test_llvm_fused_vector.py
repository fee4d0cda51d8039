"""The channel-vector conv kernel's in-register epilogues (add, relu, prelu, scale, shift)
against the reference."""

import pytest

from llvm_helpers import check_op, const, rand


@pytest.mark.parametrize("m", [32, 20, 48])   # whole 16-lane tiles, a padded tile, 3 vectors
@pytest.mark.parametrize("epilogue,kinds", [
    ((("bias",), ("add",), ("relu",)), ["bias", "add"]),
    ((("relu",),), []),
    ((("add",), ("relu",), ("add",)), ["add", "add"]),
    ((("bias",), ("add",), ("leaky_relu", 0.1)), ["bias", "add"]),   # not all in registers: row pass
    ((("bias",), ("scale",), ("relu",), ("shift",)), ["bias", "scale", "shift"]),
    ((("prelu",), ("add",)), ["prelu", "add"]),
])
@pytest.mark.parametrize("kernel,pads", [((3, 3), (1, 0, 1, 1)), ((1, 1), (0, 0, 0, 0))])
def test_fused_conv_channel_vector_epilogues(m, epilogue, kinds, kernel, pads):
    """The channel-vector kernel applies add/relu epilogues in registers before its stores."""
    c, h, w = 40, 7, 37
    oh, ow = h + pads[0] + pads[2] - kernel[0] + 1, w + pads[1] + pads[3] - kernel[1] + 1
    extras = []
    for i, kind in enumerate(kinds):
        extras.append(rand(1, m, oh, ow, seed=10 + i) if kind == "add" else const(rand(m, seed=5)))
    attrs = dict(kernel_shape=kernel, strides=(1, 1), pads=pads, dilations=(1, 1), epilogue=epilogue)
    for params, cpu in (({}, None), ({"conv_algorithm": "direct", "conv_ow_tile": 5, "conv_unroll_ow": 0}, None),
                        ({"conv_algorithm": "direct"}, "x86-64-v3")):
        check_op("FusedConv", [rand(1, c, h, w), const(rand(m, c, *kernel, seed=1))] + extras, attrs,
                 params=params, cpu=cpu)
