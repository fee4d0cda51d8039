import math

from passes_helpers import Builder, check_pass, ops


def test_pad_into_conv():
    b = Builder()
    x = b.input(1, 3, 6, 5)
    p = b.op("Pad", x, pads=[0, 0, 1, 2, 0, 0, 3, 0])
    y = b.conv(p, 4, k=3, pad=1)
    out, _ = check_pass("fold-pad", b.graph(y))
    assert ops(out) == {"Conv": 1}
    assert tuple(out.nodes[0].attrs.pads) == (2, 3, 4, 1)


def test_pad_into_average_pool_counts_the_pad():
    b = Builder()
    x = b.input(1, 3, 6, 6)
    p = b.op("Pad", x, pads=[0, 0, 1, 1, 0, 0, 1, 1])
    y = b.op("AveragePool", p, kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 0, 0], dilations=[1, 1])
    out, _ = check_pass("fold-pad", b.graph(y))
    assert ops(out) == {"AveragePool": 1} and out.nodes[0].attrs.count_include_pad == 1


def test_pad_into_max_pool_only_with_minus_infinity():
    b = Builder()
    x = b.input(1, 3, 6, 6)
    kw = dict(kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 0, 0], dilations=[1, 1])
    y0 = b.op("MaxPool", b.op("Pad", x, pads=[0, 0, 1, 1, 0, 0, 1, 1]), **kw)
    y1 = b.op("MaxPool", b.op("Pad", x, pads=[0, 0, 1, 1, 0, 0, 1, 1], value=-math.inf), **kw)
    out, _ = check_pass("fold-pad", b.graph(y0, y1))
    assert ops(out) == {"MaxPool": 2, "Pad": 1}


def test_pad_not_folded_when_unsafe():
    b = Builder()
    x = b.input(1, 3, 6, 6)
    chan = b.conv(b.op("Pad", x, pads=[0, 1, 0, 0, 0, 0, 0, 0]), 4)  # pads channels
    refl = b.conv(b.op("Pad", x, pads=[0, 0, 1, 1, 0, 0, 1, 1], mode="reflect"), 4)
    val = b.conv(b.op("Pad", x, pads=[0, 0, 1, 1, 0, 0, 1, 1], value=1.0), 4)
    shared = b.op("Pad", x, pads=[0, 0, 1, 1, 0, 0, 1, 1])
    s1 = b.conv(shared, 4)
    ceil = b.op("AveragePool", b.op("Pad", x, pads=[0, 0, 1, 1, 0, 0, 1, 1]), kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0], dilations=[1, 1], ceil_mode=1)
    g = b.graph(chan, refl, val, s1, shared, ceil)
    out, _ = check_pass("fold-pad", g)
    assert ops(out) == ops(g)
