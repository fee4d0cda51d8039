import pytest

from passes_helpers import Builder, check_pass, light_model, ops


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("group", [1, 2])
def test_batch_norm_into_conv(bias, group):
    b = Builder()
    x = b.input(1, 4, 7, 6)
    y = b.batch_norm(b.conv(x, 6, k=3, stride=2, bias=bias, group=group))
    out, rec = check_pass("fold-batch-norm", b.graph(b.op("Relu", y)))
    assert ops(out) == {"Conv": 1, "Relu": 1}
    assert any("removed 1 BatchNormalization" in n for n in rec.notes)


def test_scale_shift_chain_into_conv():
    b = Builder()
    x = b.input(1, 3, 5, 5)
    y = b.batch_norm(b.conv(x, 4))
    y = b.op("Mul", y, b.rand(4, 1, 1, lo=0.5, hi=2.0))
    y = b.op("Add", b.rand(1, 4, 1, 1), y)
    y = b.op("Sub", y, b.rand(4, 1, 1))
    y = b.op("Div", y, b.const(2.0))
    out, _ = check_pass("fold-batch-norm", b.graph(y))
    assert ops(out) == {"Conv": 1}


def test_batch_norm_into_conv_transpose():
    b = Builder()
    x = b.input(1, 4, 3, 3)
    w = b.rand(4, 3, 3, 3)
    y = b.op("ConvTranspose", x, w, b.rand(6), kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], dilations=[1, 1], group=2, output_padding=[1, 1])
    y = b.batch_norm(y)
    out, _ = check_pass("fold-batch-norm", b.graph(y))
    assert ops(out) == {"ConvTranspose": 1}


@pytest.mark.parametrize("transB", [0, 1])
def test_batch_norm_and_bias_into_gemm(transB):
    b = Builder()
    x = b.input(3, 8)
    w = b.rand(5, 8) if transB else b.rand(8, 5)
    y = b.op("Gemm", x, w, b.rand(1, 5), transB=transB, alpha=0.5, beta=2.0)
    y = b.op("Add", b.batch_norm(y), b.rand(5))
    out, _ = check_pass("fold-batch-norm", b.graph(y))
    assert ops(out) == {"Gemm": 1}


def test_scale_shift_into_standalone_batch_norm():
    """DenseNet: BN after a Concat stays, but the Mul/Add after it fold into it."""
    b = Builder()
    x, z = b.input(1, 2, 4, 4), b.input(1, 3, 4, 4)
    c = b.op("Concat", x, z, axis=1)
    y = b.op("Add", b.op("Mul", b.batch_norm(c), b.rand(5, 1, 1)), b.rand(5, 1, 1))
    out, _ = check_pass("fold-batch-norm", b.graph(y))
    assert ops(out) == {"Concat": 1, "BatchNormalization": 1}


def test_no_fold_when_conv_output_has_another_reader():
    b = Builder()
    x = b.input(1, 3, 5, 5)
    c = b.conv(x, 4)
    y = b.batch_norm(c)
    out, _ = check_pass("fold-batch-norm", b.graph(y, b.op("Relu", c)))
    assert ops(out)["BatchNormalization"] == 1


def test_no_fold_of_non_channel_constants_or_dynamic_weights():
    b = Builder()
    x = b.input(1, 3, 5, 5)
    w = b.input(4, 3, 3, 3)
    y1 = b.op("Mul", b.conv(x, 4), b.rand(1, 1, 5, 1))  # varies along H
    y2 = b.batch_norm(b.op("Conv", x, w, kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1]))
    y3 = b.op("Sub", b.rand(4, 1, 1), b.conv(x, 4))  # c - x is not folded
    g = b.graph(y1, y2, y3)
    out, _ = check_pass("fold-batch-norm", g)
    assert ops(out) == ops(g)


@pytest.mark.parametrize("name", ["resnet50", "shufflenet", "densenet121"])
def test_no_batch_norm_left_where_folding_is_valid(name):
    g, feeds = light_model(name)
    g1 = check_pass("canonicalize", g, feeds)[0]
    out, _ = check_pass("fold-batch-norm", g1, feeds)
    left = [n for n in out.nodes if n.op == "BatchNormalization"]
    for n in left:  # only batch norms that read something other than a Conv/Gemm stay
        assert n.inputs[0].producer is None or n.inputs[0].producer.op not in ("Conv", "Gemm", "ConvTranspose")
    if name != "densenet121":
        assert not left
    assert "Mul" not in ops(out)  # DenseNet's scale-shift Muls (and their Adds) fold too
    if name == "densenet121":
        assert "Add" not in ops(out)
