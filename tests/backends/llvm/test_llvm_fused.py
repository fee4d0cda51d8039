"""FusedConv on the llvm backend: padded channel tiles, forced vector widths and Winograd,
against the unfused references. Every epilogue step kind, and FusedGemm, are samples of the
op sample database (tests/op_samples.py), run on every backend by tests/test_op_samples.py."""

import numpy as np
import pytest

from cnncc.backends import llvm
from cnncc.backends.llvm.kernels import winograd
from cnncc.backends.llvm.kernels.conv_schedule import ConvSchedule
from cnncc.backends.llvm.target import resolve_target
from cnncc.backends.llvm.tuning import candidates
from cnncc.backends.reference import interpret
from llvm_helpers import check_op, const, op_graph, rand

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
# Winograd's rounding error scales with the whole output, not with each element (an rtol is
# meaningless near 0): |error| <= WINO_TOL[m] * max|reference|. Measured (winograd.py's
# docstring) up to C = 512: F(2,3) 1.0e-6, F(4,3) 2.0e-5, so >= 5x margin; one wrong transform
# coefficient gives errors of the order of max|reference| itself.
WINO_TOL = {2: 2e-5, 4: 1e-4}


def _check_winograd(op, inputs, attrs, tile, cpu=None):
    g, feeds = op_graph(op, inputs, attrs)
    exe = llvm.build(g, cpu=cpu, params={"conv_algorithm": "winograd", "conv_winograd_tile": tile})
    assert [k.algorithm for k in exe.generated.kernels] == ["winograd"]
    got, want = exe.run(feeds), interpret(g, feeds)
    for name, ref in want.items():
        np.testing.assert_allclose(got[name], ref, rtol=0, atol=WINO_TOL[tile] * np.abs(ref).max(), err_msg=name)
    return exe


@pytest.mark.parametrize("tile", [2, 4])
def test_winograd_transform_algebra(tile):
    """A^T [(G g G^T) * (B^T d B)] A is the m x m valid correlation of the (m+2)^2 tile d with
    g, in float64; weight_transform and the kernel's factored transforms (_plan) agree."""
    bt, gm, at = winograd.TRANSFORMS[tile]
    al = tile + 2
    assert bt.shape == (al, al) and gm.shape == (al, 3) and at.shape == (tile, al)
    rng = np.random.default_rng(tile)
    for _ in range(20):
        d, g = rng.standard_normal((al, al)), rng.standard_normal((3, 3))
        want = np.array([[np.sum(d[i:i + 3, j:j + 3] * g) for j in range(tile)] for i in range(tile)])
        got = at @ ((gm @ g @ gm.T) * (bt @ d @ bt.T)) @ at.T
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())
    w = rng.standard_normal((3, 2, 3, 3))
    u = winograd.weight_transform(w, tile)
    assert u.shape == (al * al, 3, 2)
    np.testing.assert_allclose(u[:, 2, 1].reshape(al, al), gm @ w[2, 1] @ gm.T, rtol=1e-14)
    for mat in (bt, at):
        v = rng.standard_normal(al)
        rows = [sum(c * (v[p] + (s * v[q] if q is not None else 0.0)) for c, (p, q, s) in terms)
                for terms in winograd._plan(mat)]
        np.testing.assert_allclose(rows, mat @ v, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("c,m,h,w,pads", [
    (8, 16, 8, 8, (1, 1, 1, 1)),
    (5, 6, 7, 9, (1, 1, 1, 1)),       # odd output sizes: partial tiles
    (3, 4, 11, 40, (0, 2, 1, 0)),     # asymmetric pads, several tile vectors per row
    (64, 32, 6, 6, (1, 1, 1, 1)),     # deeper reduction, channels in the vector lanes
    (20, 24, 7, 7, (1, 1, 1, 1)),     # 7x7, channels not multiples of 16
    (12, 40, 5, 3, (1, 1, 1, 1)),     # 5x3: one F(4,3) tile, mostly padding
    (7, 40, 5, 3, (0, 1, 2, 0)),      # 5x3 input, asymmetric pads: 5x2 out
    (24, 48, 13, 70, (2, 1, 0, 1)),   # 13x70 out: a partial tile row, a partial last vector of tiles
    (24, 36, 13, 70, (2, 1, 0, 1)),   # the same with tiles in the lanes: M not a multiple of 8
    (32, 64, 14, 14, (1, 1, 1, 1)),   # ResNet-like 14x14: two channel vectors per work item
    (256, 32, 7, 7, (1, 1, 1, 1)),    # long reduction: the tolerance at depth
])
def test_winograd_conv(c, m, h, w, pads, tile, cpu):
    """F(2x2,3x3) and F(4x4,3x3) with a bias + residual + relu epilogue against the reference."""
    attrs = dict(WINO, pads=pads, epilogue=(("bias",), ("add",), ("relu",)))
    oh, ow = h + pads[0] + pads[2] - 2, w + pads[1] + pads[3] - 2
    exe = _check_winograd("FusedConv", [rand(1, c, h, w), const(rand(m, c, 3, 3, seed=1)), const(rand(m, seed=2)),
                                        rand(1, m, oh, ow, seed=3)], attrs, tile, cpu=cpu)
    th, tw = -(-oh // tile), -(-ow // tile)
    transformed = (tile + 2) ** 2 * (c + m) * th * tw * 4
    padded_input = c * (tile * th + 2) * (tile * tw + 2) * 4
    slack = (tile + 2) ** 2 * 2 * 32 * 4 + 1024  # plane strides rounded to odd cache lines, counters
    assert transformed <= exe.generated.workspace_size <= transformed + padded_input + slack


@pytest.mark.parametrize("tile", [2, 4])
def test_winograd_plain_conv_and_pool_epilogue(tile):
    _check_winograd("Conv", [rand(1, 4, 9, 9), const(rand(8, 4, 3, 3, seed=1))], dict(WINO, pads=(1, 1, 1, 1), group=1),
                    tile)
    attrs = dict(WINO, pads=(1, 1, 1, 1), epilogue=(("bias",), ("relu",), ("max_pool", (2, 2), (2, 2), (0, 0, 0, 0), 0)))
    _check_winograd("FusedConv", [rand(1, 4, 10, 10), const(rand(8, 4, 3, 3, seed=1)), const(rand(8, seed=2))], attrs,
                    tile)
    attrs = dict(WINO, pads=(0, 1, 1, 0), epilogue=(("prelu",), ("avg_pool", (3, 3), (2, 2), (1, 1, 1, 1), 1, 0)))
    _check_winograd("FusedConv", [rand(1, 9, 11, 7), const(rand(24, 9, 3, 3, seed=1)), const(rand(24, seed=2))], attrs,
                    tile, cpu="x86-64-v3")


def test_winograd_tile_choice():
    """conv_winograd_tile picks F(2,3) or F(4,3); 0 takes F(4,3) but for small maps with large
    weights; the tuner tries both."""
    def node(c, m, s):
        g, _ = op_graph("Conv", [rand(1, c, s, s), const(np.zeros((m, c, 3, 3), np.float32))],
                        dict(WINO, pads=(1, 1, 1, 1), group=1))
        return g.nodes[0]

    auto = ConvSchedule()
    assert winograd.tile_size(node(512, 512, 7), auto) == 2
    assert winograd.tile_size(node(512, 512, 14), auto) == 4
    assert winograd.tile_size(node(256, 256, 7), auto) == 4
    assert winograd.tile_size(node(64, 64, 56), auto) == 4
    assert winograd.tile_size(node(512, 512, 7), auto.with_params({"conv_winograd_tile": 4})) == 4
    assert winograd.tile_size(node(64, 64, 56), auto.with_params({"conv_winograd_tile": 2})) == 2
    with pytest.raises(ValueError, match="conv_winograd_tile"):
        auto.with_params({"conv_winograd_tile": 3})
    cands = candidates(node(64, 64, 56), resolve_target(None))
    for tile in (2, 4):
        assert {"conv_algorithm": "winograd", "conv_winograd_tile": tile} in cands
    # the parameter reaches the kernel: F(4,3)'s transformed tensors are the smaller here
    g, _ = op_graph("Conv", [rand(1, 16, 14, 14), const(rand(16, 16, 3, 3, seed=1))],
                    dict(WINO, pads=(1, 1, 1, 1), group=1))
    ws = {t: llvm.build(g, params={"conv_algorithm": "winograd", "conv_winograd_tile": t}).generated.workspace_size
          for t in (2, 4)}
    assert ws[4] < ws[2]
