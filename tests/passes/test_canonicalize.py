import numpy as np

from passes_helpers import Builder, check_pass, ops


def test_sum_of_two_and_three_becomes_adds():
    b = Builder()
    x, y, z = b.input(1, 3, 4), b.input(1, 3, 4), b.input(3, 1)
    s2 = b.op("Sum", x, y)
    s3 = b.op("Sum", s2, y, z)
    out, _ = check_pass("canonicalize", b.graph(s3))
    assert ops(out) == {"Add": 3}
    assert out.outputs[0].name == s3.name


def test_upsample_becomes_resize():
    b = Builder()
    x = b.input(1, 2, 3, 4)
    y = b.op("Upsample", x, scales=[1.0, 1.0, 2.0, 3.0], mode="nearest")
    out, _ = check_pass("canonicalize", b.graph(y))
    assert ops(out) == {"Resize": 1}


def test_reshape_before_gemm_becomes_flatten():
    b = Builder()
    x = b.input(2, 4, 3, 3)
    f = b.op("Reshape", b.op("Relu", x), shape=[2, 36])
    y = b.op("Gemm", f, b.rand(5, 36), b.rand(5), transB=1)
    out, _ = check_pass("canonicalize", b.graph(y))
    flat = [n for n in out.nodes if n.op == "Flatten"]
    assert len(flat) == 1 and flat[0].attrs.axis == 1 and "Reshape" not in ops(out)


def test_reshape_chain_merges():
    b = Builder()
    x = b.input(2, 4, 3, 3)
    r = b.op("Reshape", b.op("Relu", x), shape=[8, 9])
    y = b.op("Reshape", r, shape=[2, 2, 18])
    out, _ = check_pass("canonicalize", b.graph(y))
    assert ops(out) == {"Relu": 1, "Reshape": 1}


def test_reshape_chain_with_another_reader_is_kept():
    b = Builder()
    x = b.input(2, 4, 3, 3)
    r = b.op("Reshape", x, shape=[8, 9])
    y = b.op("Reshape", r, shape=[2, 2, 18])
    out, _ = check_pass("canonicalize", b.graph(y, b.op("Relu", r)))
    assert len(out.nodes) == 3  # the first one may become a Flatten, but both stay


def test_matmul_2d_becomes_gemm_nd_stays():
    b = Builder()
    x, x3 = b.input(3, 4), b.input(2, 3, 4)
    w = b.rand(4, 5)
    y = b.op("MatMul", x, w)
    y3 = b.op("MatMul", x3, w)
    out, _ = check_pass("canonicalize", b.graph(y, y3))
    assert ops(out) == {"Gemm": 1, "MatMul": 1}
    np.testing.assert_equal([n.op for n in out.nodes], ["Gemm", "MatMul"])


def _hard_swish_spelled_out(b, x, three=3.0, hi=6.0, six=6.0, swap=False):
    gate = b.op("Clip", b.op("Add", b.const(np.float32(three)), x) if swap else b.op("Add", x, b.const(np.float32(three))),
                min=0.0, max=hi)
    prod = b.op("Mul", gate, x) if swap else b.op("Mul", x, gate)
    return b.op("Div", prod, b.const(np.float32(six)))


def test_hard_swish_spelled_out_becomes_hard_swish_and_fuses_into_the_conv():
    from cnncc.passes.manager import optimize

    for swap in (False, True):
        b = Builder()
        x = b.input(1, 3, 6, 6)
        conv = b.conv(x, 8)
        y = _hard_swish_spelled_out(b, conv, swap=swap)
        out, _ = check_pass("canonicalize", b.graph(y))
        assert ops(out) == {"Conv": 1, "HardSwish": 1}
        assert out.outputs[0].name == y.name
        fused = optimize(b.graph(y), 2, echo=lambda s: None)
        assert ops(fused) == {"FusedConv": 1}
        assert [s[0] for s in fused.nodes[0].attrs.epilogue] == ["bias", "hard_swish"]


def test_near_hard_swish_spellings_are_kept():
    for kwargs in ({"three": 2.0}, {"hi": 5.0}, {"six": 3.0}):
        b = Builder()
        x = b.input(1, 4, 5)
        y = _hard_swish_spelled_out(b, b.op("Relu", x), **kwargs)
        out, _ = check_pass("canonicalize", b.graph(y))
        assert "HardSwish" not in ops(out), kwargs
    # the gate read by something else too: the spelled-out form stays
    b = Builder()
    x = b.op("Relu", b.input(1, 4, 5))
    gate = b.op("Clip", b.op("Add", x, b.const(np.float32(3.0))), min=0.0, max=6.0)
    y = b.op("Div", b.op("Mul", x, gate), b.const(np.float32(6.0)))
    out, _ = check_pass("canonicalize", b.graph(b.op("Add", y, gate)))
    assert "HardSwish" not in ops(out)


def _layer_norm_spelled_out(b, x, axes=(-1,), eps=1e-5, c=6):
    m = b.op("ReduceMean", x, axes=list(axes), keepdims=1)
    d = b.op("Sub", x, m)
    v = b.op("ReduceMean", b.op("Pow", d, b.const(np.float32(2.0))), axes=list(axes), keepdims=1)
    n = b.op("Div", d, b.op("Sqrt", b.op("Add", v, b.const(np.float32(eps)))))
    return b.op("Add", b.op("Mul", n, b.rand(c)), b.rand(c)), d


def test_spelled_out_layer_norm_becomes_layer_normalization():
    b = Builder()
    x = b.op("Relu", b.input(2, 5, 6))
    y, _ = _layer_norm_spelled_out(b, x, eps=1e-6)
    out, _ = check_pass("canonicalize", b.graph(y))
    assert ops(out) == {"Relu": 1, "LayerNormalization": 1}
    ln = next(n for n in out.nodes if n.op == "LayerNormalization")
    assert ln.attrs.axis == -1 and ln.attrs.epsilon == np.float32(1e-6).item()
    assert out.outputs[0].name == y.name


def test_layer_norm_spellings_that_stay():
    b = Builder()
    x = b.op("Relu", b.input(2, 5, 6))
    y, d = _layer_norm_spelled_out(b, x)
    out, _ = check_pass("canonicalize", b.graph(y, b.op("Neg", d)))   # the centred x read elsewhere
    assert "LayerNormalization" not in ops(out)
    b = Builder()
    x = b.op("Relu", b.input(2, 6, 6))
    y, _ = _layer_norm_spelled_out(b, x, axes=(1,))                    # not the last axis
    out, _ = check_pass("canonicalize", b.graph(y))
    assert "LayerNormalization" not in ops(out)
