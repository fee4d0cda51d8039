"""FusedConv with blocked storage (x_block / y_block, cnncc/ops/fused.py): the kernel reads
and writes NCHW[b]c exactly as the encoding says, checked against the reference on the
logical tensors."""

import numpy as np
import pytest

from cnncc.backends import llvm
from cnncc.backends.reference import interpret
from cnncc.errors import InternalError

from llvm_helpers import ATOL, RTOL, const, from_blocked, op_graph, rand, to_blocked


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
@pytest.mark.parametrize("n,c,m,hw,stride,xb,yb,epilogue", [
    (1, 32, 64, (6, 10), 1, 32, 64, (("bias",), ("add",), ("relu",))),   # NHWC in and out
    (1, 32, 48, (7, 9), 1, 0, 16, (("bias",), ("add",), ("prelu",))),    # NCHW in, 16c out
    (2, 48, 32, (5, 8), 1, 16, 0, (("bias",), ("relu",))),                # 16c in, NCHW out, batch 2
    (1, 32, 32, (9, 10), 2, 32, 32, (("bias",), ("scale",), ("shift",))),  # strided: blocked subsample
    (2, 64, 32, (8, 6), 2, 16, 0, ()),
    (1, 32, 20, (6, 7), 1, 32, 0, (("bias",), ("hard_swish",))),  # NHWC in; padded tiles, row epilogue out
    (1, 32, 3, (5, 6), 1, 32, 0, (("bias",),)),   # 3 output channels: the row kernel reads NHWC
    (2, 32, 5, (6, 6), 2, 32, 0, ()),
])
def test_blocked_pointwise_conv(cpu, n, c, m, hw, stride, xb, yb, epilogue):
    attrs = dict(kernel_shape=(1, 1), strides=(stride, stride), pads=(0,) * 4, dilations=(1, 1),
                 epilogue=epilogue, x_block=xb, y_block=yb)
    oh, ow = (hw[0] - 1) // stride + 1, (hw[1] - 1) // stride + 1
    extras = []
    for step in epilogue:
        if step[0] == "add":
            extras.append(rand(n, m, oh, ow, seed=6))
        elif step[0] in ("bias", "prelu", "scale", "shift"):
            extras.append(const(rand(m, seed=len(extras) + 2)))
    g, feeds = op_graph("FusedConv", [rand(n, c, *hw), const(rand(m, c, 1, 1, seed=1))] + extras, attrs)
    want = interpret(g, feeds)
    stored = dict(feeds)
    stored["in0"] = to_blocked(feeds["in0"], xb) if xb else feeds["in0"]
    if any(s[0] == "add" for s in epilogue) and yb:  # the residual is stored like Y
        name = next(k for k in feeds if k != "in0")
        stored[name] = to_blocked(feeds[name], yb)
    exe = llvm.build(g, cpu=cpu)
    assert "NHWC" in exe.generated.kernels[0].algorithm
    assert exe.generated.kernels[0].algorithm.startswith("rows") == (m < 8)
    got = exe.run(stored)["out0"]
    got = from_blocked(got, yb) if yb else got
    np.testing.assert_allclose(got, want["out0"], rtol=RTOL, atol=ATOL)


def test_blocked_storage_on_a_conv_it_does_not_fit_is_an_internal_error():
    """Only the layout pass chooses blocked storage, and only where it fits: a node that asks
    for it anyway is a cnncc bug, not a user's BackendError."""
    attrs = dict(kernel_shape=(3, 3), strides=(1, 1), pads=(1,) * 4, dilations=(1, 1), epilogue=(), x_block=16)
    g, _ = op_graph("FusedConv", [rand(1, 16, 6, 6), const(rand(16, 16, 3, 3, seed=1))], attrs)
    with pytest.raises(InternalError, match="FusedConv.*blocked storage .* needs a 1x1"):
        llvm.build(g)


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
@pytest.mark.parametrize("pool", [("global_avg_pool",), ("avg_pool", (5, 7), (1, 1), (0, 0, 0, 0), 0, 0)])
def test_blocked_conv_with_a_map_mean_sums_in_registers(cpu, pool):
    """y_block with a last mean over the map: the NHWC residual is added per pixel and each
    channel's mean written, one value per channel (the same in either layout)."""
    n, c, m, hw = 2, 32, 48, (5, 7)
    attrs = dict(kernel_shape=(1, 1), strides=(1, 1), pads=(0,) * 4, dilations=(1, 1), x_block=c, y_block=m,
                 epilogue=(("bias",), ("add",), ("relu",), pool))
    g, feeds = op_graph("FusedConv", [rand(n, c, *hw), const(rand(m, c, 1, 1, seed=1)), const(rand(m, seed=2)),
                                      rand(n, m, *hw, seed=3)], attrs)
    want = interpret(g, feeds)["out0"]
    stored = {"in0": to_blocked(feeds["in0"], c), "in3": to_blocked(feeds["in3"], m)}
    got = llvm.build(g, cpu=cpu).run(stored)["out0"]
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
@pytest.mark.parametrize("m", [40, 100])
def test_map_mean_over_channels_that_end_in_a_part_vector(cpu, m):
    """SqueezeNet's classifier shape: output channels padded to whole vectors, the bias
    read only for the channels that exist, and only those means stored."""
    attrs = dict(kernel_shape=(1, 1), strides=(1, 1), pads=(0,) * 4, dilations=(1, 1), y_block=m,
                 epilogue=(("bias",), ("relu",), ("global_avg_pool",)))
    g, feeds = op_graph("FusedConv", [rand(2, 24, 6, 5), const(rand(m, 24, 1, 1, seed=1)), const(rand(m, seed=2))], attrs)
    exe = llvm.build(g, cpu=cpu)
    np.testing.assert_allclose(exe.run(feeds)["out0"], interpret(g, feeds)["out0"], rtol=RTOL, atol=ATOL)
