import numpy as np
import pytest

from passes_helpers import Builder, check_pass, epilogues, ops

ACTIVATIONS = {
    "relu": lambda b, y: b.op("Relu", y),
    "leaky_relu": lambda b, y: b.op("LeakyRelu", y, alpha=0.1),
    "prelu": lambda b, y: b.op("PRelu", y, b.rand(y.shape[1], 1, 1, lo=0.1, hi=0.3)),
    "elu": lambda b, y: b.op("Elu", y, alpha=0.7),
    "selu": lambda b, y: b.op("Selu", y),
    "sigmoid": lambda b, y: b.op("Sigmoid", y),
    "silu": lambda b, y: b.op("Mul", y, b.op("Sigmoid", y)),
    "hard_sigmoid": lambda b, y: b.op("HardSigmoid", y, alpha=0.25, beta=0.4),
    "hard_swish": lambda b, y: b.op("HardSwish", y),
    "clip": lambda b, y: b.op("Clip", y, min=0.0, max=6.0),
    "tanh": lambda b, y: b.op("Tanh", y),
}
POOLS = {
    "max_pool": lambda b, y: b.op("MaxPool", y, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 1], dilations=[1, 1], ceil_mode=1),
    "avg_pool": lambda b, y: b.op("AveragePool", y, kernel_shape=[2, 3], strides=[2, 1], pads=[0, 1, 1, 1], dilations=[1, 1], count_include_pad=1),
    "global_avg_pool": lambda b, y: b.op("GlobalAveragePool", y),
}


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
def test_conv_bias_activation(act):
    b = Builder()
    x = b.input(1, 3, 7, 9)
    y = ACTIVATIONS[act](b, b.conv(x, 5, k=3, stride=2))
    out, _ = check_pass("fuse-conv", b.graph(b.op("Softmax", y, axis=1)))
    assert ops(out) == {"FusedConv": 1, "Softmax": 1}
    assert epilogues(out) == [("bias", act)]


@pytest.mark.parametrize("pool", sorted(POOLS))
def test_conv_activation_pool(pool):
    b = Builder()
    x = b.input(2, 4, 9, 8)
    y = POOLS[pool](b, b.op("Relu", b.conv(x, 6, bias=False)))
    out, _ = check_pass("fuse-conv", b.graph(y))
    assert ops(out) == {"FusedConv": 1}
    assert epilogues(out) == [("relu", pool)]


def test_nothing_after_a_pool():
    b = Builder()
    x = b.input(1, 3, 8, 8)
    y = b.op("Relu", POOLS["max_pool"](b, b.conv(x, 4)))
    out, _ = check_pass("fuse-conv", b.graph(y))
    assert ops(out) == {"FusedConv": 1, "Relu": 1}
    assert epilogues(out) == [("bias", "max_pool")]


def test_residual_block():
    """ResNet: conv-bn-relu, conv-bn, add the block input, relu; the add and relu fuse."""
    b = Builder()
    x = b.input(1, 4, 6, 6)
    h = b.op("Relu", b.conv(x, 4))
    h = b.conv(h, 4)
    y = b.op("Relu", b.op("Add", x, h))
    out, _ = check_pass("fuse-conv", b.graph(y))
    assert ops(out) == {"FusedConv": 2}
    assert sorted(epilogues(out)) == [("bias", "add", "relu"), ("bias", "relu")]
    fused = out.nodes[-1]
    assert fused.inputs[3] is out.inputs[0]  # extras in step order: bias, residual


def test_projection_shortcut_adds_two_convs():
    b = Builder()
    x = b.input(1, 4, 6, 6)
    main = b.conv(b.op("Relu", b.conv(x, 4)), 8)
    short = b.conv(x, 8, k=1, stride=1)
    y = b.op("Relu", b.op("Add", main, short))
    out, _ = check_pass("fuse-conv", b.graph(y))
    assert ops(out) == {"FusedConv": 2, "Conv": 1}


def test_no_fusion_across_a_value_with_another_reader():
    b = Builder()
    x = b.input(1, 3, 6, 6)
    c = b.conv(x, 4)
    r = b.op("Relu", c)
    other = b.op("Sigmoid", c)
    out, _ = check_pass("fuse-conv", b.graph(r, other))
    assert "FusedConv" not in ops(out)


def test_no_fusion_into_a_graph_output():
    b = Builder()
    x = b.input(1, 3, 6, 6)
    c = b.conv(x, 4)
    r = b.op("Relu", c)
    out, _ = check_pass("fuse-conv", b.graph(r, c))
    assert "FusedConv" not in ops(out)


def test_chain_stops_at_a_shared_intermediate():
    b = Builder()
    x = b.input(1, 3, 6, 6)
    r = b.op("Relu", b.conv(x, 4))
    p = b.op("MaxPool", r, kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0], dilations=[1, 1])
    s = b.op("Sigmoid", r)
    out, _ = check_pass("fuse-conv", b.graph(p, s))
    assert epilogues(out) == [("bias", "relu")]
    assert ops(out) == {"FusedConv": 1, "MaxPool": 1, "Sigmoid": 1}


def test_no_fusion_of_broadcasting_add_or_non_channel_prelu():
    b = Builder()
    x = b.input(1, 3, 6, 6)
    a = b.op("Add", b.conv(x, 4), b.input(2, 4, 6, 6))  # the add grows the batch
    p = b.op("PRelu", b.conv(x, 4), b.rand(1, 6, 1))  # slope varies along H
    d = b.op("MaxPool", b.conv(x, 4), kernel_shape=[2, 2], strides=[1, 1], pads=[0, 0, 0, 0], dilations=[2, 2])
    g = b.graph(a, p, d)
    out, _ = check_pass("fuse-conv", g)
    assert "FusedConv" not in ops(out)


def test_scalar_and_channel_affine_fused_as_scale_and_shift():
    b = Builder()
    x = b.input(1, 3, 6, 6)
    c = b.conv(x, 4)
    y = b.op("Mul", b.const(np.float32([0.7])), c)                        # one scalar, either side
    y = b.op("Add", y, b.rand(1, 4, 1, 1))                               # one value per channel
    y = b.op("Relu", y)
    m = b.op("Mul", b.conv(x, 4), b.input(1, 4, 6, 6))                   # runtime: not a scale
    out, _ = check_pass("fuse-conv", b.graph(y, m))
    assert epilogues(out) == [("bias", "scale", "shift", "relu")]
    assert ops(out) == {"FusedConv": 1, "Conv": 1, "Mul": 1}


def test_silu_not_fused_when_sigmoid_is_shared():
    b = Builder()
    x = b.input(1, 3, 6, 6)
    c = b.conv(x, 4)
    s = b.op("Sigmoid", c)
    y = b.op("Mul", c, s)
    out, _ = check_pass("fuse-conv", b.graph(y, s))
    assert "FusedConv" not in ops(out)


def test_conv1d_and_grouped_dilated():
    b = Builder()
    x = b.input(1, 4, 11)
    y1 = b.op("Relu", b.conv(x, 6, k=3, stride=2, group=2))
    x2 = b.input(1, 4, 9, 9)
    y2 = b.op("Clip", b.conv(x2, 4, k=3, dilation=2, group=4, pad=2), min=0.0, max=6.0)
    out, _ = check_pass("fuse-conv", b.graph(y1, y2))
    assert ops(out) == {"FusedConv": 2}


def test_long_epilogue_matches_unfused():
    b = Builder()
    x = b.input(1, 3, 10, 10)
    res = b.input(1, 4, 10, 10)
    y = b.conv(x, 4)
    y = b.op("Add", res, y)
    y = b.op("PRelu", y, b.const(np.float32(0.2).reshape(1)))
    y = b.op("HardSwish", y)
    y = b.op("AveragePool", y, kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], dilations=[1, 1])
    out, _ = check_pass("fuse-conv", b.graph(y))
    assert epilogues(out) == [("bias", "add", "prelu", "hard_swish", "avg_pool")]
