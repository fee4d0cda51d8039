"""bf16 conv kernels (kernels/conv_bf16.py: vdpbf16ps on input-channel pairs) against a float64
product of the same bf16-rounded operands.

The runs need a cpu with AVX512-BF16 and skip elsewhere with the reason; what the code
generator chooses (which kernels are bf16, the instruction in the IR) is checked on every host
by generating for a named cpu (znver4) without running it.

Tolerance: the kernel rounds x and w to bf16 (round to nearest even) and accumulates in fp32,
so against float64 over the rounded operands the error is fp32 accumulation error only:
1e-5 of the output's largest magnitude (measured: below 5e-7 on every case here)."""

from __future__ import annotations

import numpy as np
import pytest
from llvm_helpers import const, from_blocked, op_graph, to_blocked

from cnncc.backends import llvm
from cnncc.backends.llvm.codegen import generate
from cnncc.backends.llvm.kernels.conv_bf16 import bf16_to_float, round_to_bf16
from cnncc.backends.llvm.target import host_target, resolve_target
from cnncc.backends.reference import interpret

HOST = host_target()
needs_bf16 = pytest.mark.skipif(not HOST.has_feature("avx512bf16"),
                                reason=f"this host ({HOST.cpu}) has no AVX512-BF16: the bf16 kernels cannot run here")
TOL = 1e-5


def bf16(a: np.ndarray) -> np.ndarray:
    """``a`` rounded to bf16, as float64."""
    return bf16_to_float(round_to_bf16(a)).astype(np.float64)


def conv64(x, w, b, strides, pads, dilations, group):
    """Direct float64 N-D convolution (1-D, 2-D, 3-D; NC... layout)."""
    sp = x.ndim - 2
    x = np.pad(x, [(0, 0), (0, 0)] + [(pads[i], pads[i + sp]) for i in range(sp)])
    M, Cg, *K = w.shape
    out = [(x.shape[2 + i] - (K[i] - 1) * dilations[i] - 1) // strides[i] + 1 for i in range(sp)]
    Mg = M // group
    y = np.zeros((x.shape[0], M, *out))
    for tap in np.ndindex(*K):
        sl = tuple(slice(tap[i] * dilations[i], tap[i] * dilations[i] + strides[i] * (out[i] - 1) + 1, strides[i])
                   for i in range(sp))
        for g in range(group):
            patch = x[(slice(None), slice(g * Cg, (g + 1) * Cg)) + sl]
            y[:, g * Mg:(g + 1) * Mg] += np.einsum("nc...,mc->nm...", patch, w[(slice(g * Mg, (g + 1) * Mg), slice(None)) + tap])
    return y + b.reshape((1, M) + (1,) * sp)


def data(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def conv_case(x_shape, w_shape, k, s=None, p=None, d=None, group=1, op="Conv", epilogue=None):
    sp = len(k)
    attrs = dict(kernel_shape=tuple(k), strides=tuple(s or (1,) * sp), pads=tuple(p or (0,) * 2 * sp),
                 dilations=tuple(d or (1,) * sp), group=group)
    if epilogue is not None:
        attrs["epilogue"] = epilogue
    x, w, b = data(x_shape, 1), data(w_shape, 2), data(w_shape[0], 3)
    g, feeds = op_graph(op, [x, const(w), const(b)], attrs)
    return g, feeds, (x, w, b, attrs)


CASES = {
    "1x1 pointwise": ((1, 64, 14, 14), (64, 64, 1, 1), (1, 1)),
    "1x1 stride 2 (subsampled), odd map": ((1, 32, 15, 15), (48, 32, 1, 1), (1, 1), (2, 2)),
    "1x1 stride 2, wide rows": ((1, 16, 9, 70), (32, 16, 1, 1), (1, 1), (2, 2)),
    "3x3 pad 1": ((1, 16, 9, 11), (32, 16, 3, 3), (3, 3), None, (1, 1, 1, 1)),
    "3x3 stride 2 pad 1": ((1, 32, 28, 28), (64, 32, 3, 3), (3, 3), (2, 2), (1, 1, 1, 1)),
    "7x7/2 stem, 3 channels (odd: a zero pair half)": ((1, 3, 32, 32), (64, 3, 7, 7), (7, 7), (2, 2), (3, 3, 3, 3)),
    "grouped, odd channels per group": ((1, 10, 8, 8), (32, 5, 3, 3), (3, 3), None, (1, 1, 1, 1), None, 2),
    "dilated, asymmetric pads": ((1, 8, 12, 13), (16, 8, 3, 3), (3, 3), None, (2, 0, 1, 3), (2, 2)),
    "batch 2, 20 output channels (padded tile)": ((2, 6, 10, 10), (20, 6, 3, 3), (3, 3), None, (1, 1, 1, 1)),
    "8 output channels (256-bit dot)": ((1, 12, 10, 10), (8, 12, 3, 3), (3, 3), None, (1, 1, 1, 1)),
    "1-D": ((1, 8, 40), (16, 8, 5), (5,), None, (2, 2)),
    "3-D": ((1, 4, 5, 6, 7), (16, 4, 3, 3, 3), (3, 3, 3), None, (1, 1, 1, 1, 1, 1)),
    "map narrower than a vector, 1024 channels": ((1, 1024, 3, 3), (32, 1024, 1, 1), (1, 1)),
}


def _args(case):
    x_shape, w_shape, k, *rest = case
    rest += [None] * (4 - len(rest))
    s, p, d, group = rest
    return x_shape, w_shape, k, s, p, d, group or 1


@needs_bf16
@pytest.mark.parametrize("name", list(CASES))
def test_bf16_conv_matches_float64_over_rounded_operands(name):
    x_shape, w_shape, k, s, p, d, group = _args(CASES[name])
    g, feeds, (x, w, b, a) = conv_case(x_shape, w_shape, k, s, p, d, group)
    exe = llvm.build(g, precision="bf16")
    info = exe.generated.kernels[0]
    assert info.precision == "bf16" and info.algorithm.startswith("bf16 direct"), info
    got = exe.run(feeds)["out0"]
    want = conv64(bf16(x), bf16(w), b.astype(np.float64), a["strides"], a["pads"], a["dilations"], group)
    assert got.shape == want.shape
    scale = np.abs(want).max()
    assert np.abs(got - want).max() <= TOL * scale, (name, np.abs(got - want).max() / scale)
    # and it is bf16 arithmetic, not fp32: the unrounded product differs by far more
    exact = conv64(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), a["strides"], a["pads"],
                   a["dilations"], group)
    assert np.abs(got - exact).max() > 100 * TOL * scale


@needs_bf16
@pytest.mark.parametrize("epilogue", [
    (("bias",), ("add",), ("relu",)),
    (("bias",), ("relu",), ("max_pool", (2, 2), (2, 2), (0, 0, 0, 0), 0)),
    (("bias",), ("relu",), ("global_avg_pool",)),
])
def test_bf16_fused_conv_epilogues_run_in_fp32(epilogue):
    """Operands that are bf16 already (rounding them again changes nothing): the fused
    kernel must then agree with the fp32 reference up to accumulation order."""
    # (10 wide: below the width where a 3x3 conv takes Winograd)
    x, w, b = bf16(data((1, 16, 10, 10), 1)).astype(np.float32), bf16(data((32, 16, 3, 3), 2)).astype(np.float32), data(32, 3)
    attrs = dict(kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1), group=1, epilogue=epilogue)
    inputs = [x, const(w), const(b)] + ([data((1, 32, 10, 10), 4)] if ("add",) in epilogue else [])
    g, feeds = op_graph("FusedConv", inputs, attrs)
    exe = llvm.build(g, precision="bf16")
    assert exe.generated.kernels[0].precision == "bf16"
    got, want = exe.run(feeds)["out0"], interpret(g, feeds)["out0"]
    assert np.abs(got - want).max() <= TOL * np.abs(want).max()


@needs_bf16
@pytest.mark.parametrize("n,c,m,hw,stride,xb,yb", [
    (1, 32, 64, (6, 10), 1, 32, 64),   # NHWC in and out
    (2, 48, 32, (5, 8), 1, 16, 0),     # 16c in, NCHW out, batch 2
    (1, 32, 32, (9, 10), 2, 32, 32),   # strided: the blocked subsample, then pairs
    (1, 64, 48, (7, 7), 1, 0, 16),     # NCHW in, 16c out
])
def test_bf16_blocked_pointwise_conv(n, c, m, hw, stride, xb, yb):
    """Blocked storage (-O3's NHWC between 1x1 convs): a pixel's neighbouring channels are
    the pairs. bf16-exact operands against the fp32 reference."""
    attrs = dict(kernel_shape=(1, 1), strides=(stride, stride), pads=(0,) * 4, dilations=(1, 1),
                 epilogue=(("bias",), ("relu",)), x_block=xb, y_block=yb)
    x, w = bf16(data((n, c, *hw), 1)).astype(np.float32), bf16(data((m, c, 1, 1), 2)).astype(np.float32)
    g, feeds = op_graph("FusedConv", [x, const(w), const(data(m, 3))], attrs)
    want = interpret(g, feeds)["out0"]
    exe = llvm.build(g, precision="bf16")
    assert exe.generated.kernels[0].algorithm.startswith("bf16 direct") and "NHWC" in exe.generated.kernels[0].algorithm
    got = exe.run({"in0": to_blocked(x, xb) if xb else x})["out0"]
    got = from_blocked(got, yb) if yb else got
    assert np.abs(got - want).max() <= TOL * np.abs(want).max()


WINO_CASES = [((1, 16, 14, 14), 32, (1, 1, 1, 1)), ((1, 64, 28, 30), 64, (1, 1, 1, 1)),
              ((1, 32, 13, 17), 48, (0, 1, 2, 0)),  # odd map, asymmetric pads, 48 = 3 vectors
              ((1, 64, 128, 128), 32, (1, 1, 1, 1))]  # large: phases run band by band (winograd.band_rows)


@needs_bf16
@pytest.mark.parametrize("x_shape,m,pads", WINO_CASES)
def test_bf16_winograd_is_exact_on_small_integers(x_shape, m, pads):
    """conv_bf16_winograd: F(2,3) with bf16 GEMMs. Small integer inputs and weights make every
    transformed value (sums of four inputs; weights sums over 2 and 4) exact in bf16 and every
    sum exact in fp32, so the kernel's data flow must give the reference's result exactly."""
    rng = np.random.default_rng(5)
    x = rng.integers(-3, 4, x_shape).astype(np.float32)
    w = rng.integers(-2, 3, (m, x_shape[1], 3, 3)).astype(np.float32)
    b = rng.integers(-4, 5, m).astype(np.float32)
    attrs = dict(kernel_shape=(3, 3), strides=(1, 1), pads=pads, dilations=(1, 1), group=1)
    g, feeds = op_graph("Conv", [x, const(w), const(b)], attrs)
    want = interpret(g, feeds)["out0"]
    for threads in (1, 2):
        exe = llvm.build(g, precision="bf16", params={"conv_bf16_winograd": True}, num_threads=threads)
        assert exe.generated.kernels[0].algorithm == "bf16 winograd" and exe.generated.kernels[0].precision == "bf16"
        np.testing.assert_array_equal(exe.run(feeds)["out0"], want)


def test_winograd_layers_stay_fp32_winograd_in_bf16_builds_unless_asked():
    g, _, _ = conv_case((1, 64, 14, 14), (64, 64, 3, 3), (3, 3), None, (1, 1, 1, 1))
    runs = {(): ("winograd", "fp32"), (("conv_bf16_winograd", True),): ("bf16 winograd", "bf16"),
            (("conv_algorithm", "direct"),): ("bf16 direct 32ch", "bf16")}
    for params, want in runs.items():
        gen = generate(g, resolve_target("znver4"), params=dict(params), precision="bf16")
        assert (gen.kernels[0].algorithm, gen.kernels[0].precision) == want, params


@needs_bf16
def test_bf16_winograd_error_on_random_data():
    """About twice the direct bf16 kernel's error (the transformed values are rounded), far
    above fp32's: measured 4.2e-3 against 2.3e-3 of the output's largest magnitude."""
    g, feeds, (x, w, b, a) = conv_case((1, 64, 14, 14), (64, 64, 3, 3), (3, 3), None, (1, 1, 1, 1))
    exact = conv64(x.astype(np.float64), w.astype(np.float64), b.astype(np.float64), a["strides"], a["pads"],
                   a["dilations"], 1)
    scale = np.abs(exact).max()
    wino = llvm.build(g, precision="bf16", params={"conv_bf16_winograd": True})
    direct = llvm.build(g, precision="bf16", params={"conv_algorithm": "direct"})
    assert [wino.generated.kernels[0].algorithm, direct.generated.kernels[0].algorithm] == ["bf16 winograd",
                                                                                           "bf16 direct 32ch"]
    err_wino = np.abs(wino.run(feeds)["out0"] - exact).max() / scale
    err_direct = np.abs(direct.run(feeds)["out0"] - exact).max() / scale
    assert 1e-4 < err_direct < err_wino < 1e-2


@needs_bf16
def test_bf16_threads_agree_with_one_thread():
    g, feeds, _ = conv_case((1, 64, 28, 28), (128, 64, 3, 3), (3, 3), None, (1, 1, 1, 1))
    one = llvm.build(g, precision="bf16", num_threads=1).run(feeds)["out0"]
    two = llvm.build(g, precision="bf16", num_threads=2).run(feeds)["out0"]
    np.testing.assert_array_equal(one, two)


# -- what is generated: every host (a named cpu, nothing is run) --------------------------------
def _generated(graph, cpu, precision):
    gen = generate(graph, resolve_target(cpu), precision=precision)
    return gen, gen.llvm_ir


def test_bf16_builds_use_vdpbf16ps_where_the_cpu_has_it():
    g, _, _ = conv_case((1, 16, 9, 11), (32, 16, 3, 3), (3, 3), None, (1, 1, 1, 1))
    gen, ir_text = _generated(g, "znver4", "bf16")
    assert "llvm.x86.avx512bf16.dpbf16ps.512" in ir_text
    assert [(k.precision, k.algorithm.split()[0]) for k in gen.kernels] == [("bf16", "bf16")]
    gen, ir_text = _generated(g, "znver4", "fp32")
    assert "dpbf16ps" not in ir_text and gen.kernels[0].precision == "fp32"


def test_convs_without_a_bf16_kernel_stay_fp32():
    depthwise, _, _ = conv_case((1, 16, 9, 9), (16, 1, 3, 3), (3, 3), None, (1, 1, 1, 1), None, 16)
    runtime_w, _ = op_graph("Conv", [data((1, 8, 6, 6), 1), data((16, 8, 3, 3), 2)],
                            dict(kernel_shape=(3, 3), strides=(1, 1), pads=(0, 0, 0, 0), dilations=(1, 1), group=1))
    for g in (depthwise, runtime_w):
        gen, ir_text = _generated(g, "znver4", "bf16")
        assert gen.kernels[0].precision == "fp32" and "dpbf16ps" not in ir_text


def test_rounding_is_to_nearest_even():
    x = np.array([1.0, 1.00390625, 1.005859375, 1.001953125, 1.005859375 + 2 ** -9, -3.0e38, np.inf, np.nan],
                 dtype=np.float32)
    got = bf16_to_float(round_to_bf16(x))
    # 1 + 2^-8 is a tie between 1 and 1 + 2^-7: to even (1); 1 + 3*2^-9 likewise up to 1 + 2^-7*...
    assert got[0] == 1.0 and got[1] == 1.0 and got[2] == np.float32(1.0078125) and got[3] == 1.0
    assert got[4] == np.float32(1.0078125)
    assert np.isfinite(got[5]) and got[6] == np.inf and np.isnan(got[7])


# -- Gemm (kernels/gemm_bf16.py) -----------------------------------------------------------------
GEMM_CASES = {
    "classifier (transB)": (1, 9216, 1000, 1, 1.0),
    "odd K, alpha, B not transposed, 3 rows": (3, 77, 37, 0, 0.5),
    "2 rows, K not a multiple of 32": (2, 1000, 513, 1, 1.0),
}


@needs_bf16
@pytest.mark.parametrize("name", list(GEMM_CASES))
def test_bf16_gemm_matches_float64_over_rounded_operands(name):
    M, K, N, trans_b, alpha = GEMM_CASES[name]
    a, bm, c = data((M, K), 1), data((N, K) if trans_b else (K, N), 2), data(N, 3)
    g, feeds = op_graph("Gemm", [a, const(bm), const(c)], dict(transB=trans_b, alpha=alpha))
    exe = llvm.build(g, precision="bf16")
    info = exe.generated.kernels[0]
    assert (info.algorithm, info.precision) == ("bf16 dot rows", "bf16")
    b_scaled = ((bm.T if trans_b else bm).astype(np.float64) * alpha).astype(np.float32)  # alpha folded, then rounded
    want = bf16(a) @ bf16(b_scaled) + c
    got = exe.run(feeds)["out0"]
    assert np.abs(got - want).max() <= TOL * np.abs(want).max()
    # B is packed once, as bf16: about half the fp32 bytes
    assert exe.generated.blob.size < 0.6 * bm.nbytes


@needs_bf16
def test_bf16_fused_gemm_epilogue_runs_in_fp32():
    a, bm, c = bf16(data((1, 512), 1)).astype(np.float32), bf16(data((100, 512), 2)).astype(np.float32), data(100, 3)
    g, feeds = op_graph("FusedGemm", [a, const(bm), const(c)], dict(transB=1, alpha=1.0, epilogue=(("bias",), ("relu",))))
    exe = llvm.build(g, precision="bf16")
    assert exe.generated.kernels[0].precision == "bf16"
    got, want = exe.run(feeds)["out0"], interpret(g, feeds)["out0"]
    assert np.abs(got - want).max() <= TOL * np.abs(want).max() and (got == 0).any()


def test_gemms_without_a_bf16_kernel_stay_fp32():
    short_k, _ = op_graph("Gemm", [data((1, 25), 1), const(data((10, 25), 2))], dict(transB=1))
    runtime_b, _ = op_graph("Gemm", [data((1, 64), 1), data((64, 10), 2)], {})
    for g in (short_k, runtime_b):
        gen, ir_text = _generated(g, "znver4", "bf16")
        assert gen.kernels[0].precision == "fp32" and "dpbf16ps" not in ir_text
