import pytest

from cnncc.passes.manager import optimize
from passes_helpers import Builder, assert_same_outputs, check_pass, epilogues, ops, random_feeds


@pytest.mark.parametrize("transB", [0, 1])
def test_gemm_bias_relu(transB):
    b = Builder()
    x = b.input(3, 8)
    w = b.rand(5, 8) if transB else b.rand(8, 5)
    y = b.op("Relu", b.op("Gemm", x, w, b.rand(5), transB=transB, alpha=0.5, beta=2.0))
    out, _ = check_pass("fuse-gemm", b.graph(y))
    assert ops(out) == {"FusedGemm": 1}
    assert epilogues(out, "FusedGemm") == [("bias", "relu")]


def test_gemm_full_c_and_residual():
    b = Builder()
    x, r = b.input(3, 8), b.input(3, 5)
    y = b.op("Gemm", x, b.rand(8, 5), b.rand(3, 5), beta=0.5)
    y = b.op("Sigmoid", b.op("Add", y, r))
    out, _ = check_pass("fuse-gemm", b.graph(y))
    assert epilogues(out, "FusedGemm") == [("add", "add", "sigmoid")]


def test_gemm_without_c_and_matmul_pipeline():
    b = Builder()
    x = b.input(4, 6)
    y = b.op("Tanh", b.op("Add", b.op("MatMul", x, b.rand(6, 7)), b.rand(7)))
    g = b.graph(y)
    out = optimize(g, 2)
    assert ops(out) == {"FusedGemm": 1}
    assert epilogues(out, "FusedGemm") == [("bias", "tanh")]
    assert_same_outputs(g, out, random_feeds(g))


def test_no_fusion_when_gemm_output_is_shared_or_c_is_odd():
    b = Builder()
    x = b.input(3, 8)
    g1 = b.op("Gemm", x, b.rand(8, 5))
    odd = b.op("Relu", b.op("Gemm", x, b.rand(8, 5), b.input(3, 1)))  # per-row C
    g = b.graph(b.op("Relu", g1), g1, odd)
    out, _ = check_pass("fuse-gemm", g)
    assert "FusedGemm" not in ops(out)
