"""Winograd in bands of tile rows (winograd.band_rows): phases 1-3 looped over bands, a
partial last band, on one thread and on a team of two (whose loops inside the band loop
split statically), against the float64 reference."""

import numpy as np
import pytest

from cnncc.backends import llvm
from cnncc.backends.llvm.kernels import winograd
from cnncc.backends.reference import interpret
from llvm_helpers import const, op_graph, rand

WINO = dict(kernel_shape=(3, 3), strides=(1, 1), dilations=(1, 1))
# as in test_llvm_fused.py: |error| <= tol * max|reference| (winograd.py's docstring)
WINO_TOL = {2: 2e-5, 4: 1e-4}
RESIDUAL = (("bias",), ("add",), ("relu",))


def _run(c, m, h, w, pads, tile, epilogue=RESIDUAL):
    """Build and check a FusedConv; returns (executable, tile rows TH, transformed bytes of
    the whole map)."""
    oh, ow = h + pads[0] + pads[2] - 2, w + pads[1] + pads[3] - 2
    inputs = [rand(1, c, h, w), const(rand(m, c, 3, 3, seed=1)), const(rand(m, seed=2))]
    if ("add",) in epilogue:
        inputs.append(rand(1, m, oh, ow, seed=3))
    g, feeds = op_graph("FusedConv", inputs, dict(WINO, pads=pads, epilogue=epilogue))
    # parallel_min_work 0: even these small maps run on the whole team
    exe = llvm.build(g, params={"conv_algorithm": "winograd", "conv_winograd_tile": tile, "parallel_min_work": 0})
    assert [k.algorithm for k in exe.generated.kernels] == ["winograd"]
    got, want = exe.run(feeds), interpret(g, feeds)
    for name, ref in want.items():
        np.testing.assert_allclose(got[name], ref, rtol=0, atol=WINO_TOL[tile] * np.abs(ref).max(), err_msg=name)
    th, tw = -(-oh // tile), -(-ow // tile)
    return exe, th, (tile + 2) ** 2 * (c + m) * th * tw * 4


def _force_bands(monkeypatch, c, m, th, tw, tile):
    """Bands of about a third of the map, never dividing it: the last band is partial."""
    rows = max(2, th // 3)
    rows += th % rows == 0
    monkeypatch.setattr(winograd, "BAND_MIN_TRANSFORMED_BYTES", 0)
    monkeypatch.setattr(winograd, "BAND_BYTES", rows * (tile + 2) ** 2 * (c + m) * tw * 4)
    assert winograd.band_rows(c, m, th, tw, tile) == rows and th > 2 * rows and th % rows
    return rows


@pytest.mark.parametrize("threads", ["1", "2"])
@pytest.mark.parametrize("tile", [2, 4])
@pytest.mark.parametrize("c,m,h,w,pads", [
    (8, 16, 29, 37, (1, 1, 1, 1)),   # 16 channels: channel vectors in the GEMMs (16 lanes)
    (6, 12, 30, 21, (0, 1, 2, 0)),   # tiles in the lanes, asymmetric pads
    (5, 8, 27, 70, (1, 1, 1, 1)),    # several vectors of tiles per row, a partial last one
])
def test_winograd_bands(monkeypatch, c, m, h, w, pads, tile, threads):
    monkeypatch.setenv("CNNCC_NUM_THREADS", threads)
    oh, ow = h + pads[0] + pads[2] - 2, w + pads[1] + pads[3] - 2
    rows = _force_bands(monkeypatch, c, m, -(-oh // tile), -(-ow // tile), tile)
    exe, th, whole = _run(c, m, h, w, pads, tile)
    # V and Mo sized for one band, not the whole map
    tw = -(-ow // tile)
    padded_input = c * (tile * th + 2) * (tile * tw + 2) * 4
    slack = (tile + 2) ** 2 * 2 * 32 * 4 + 1024  # plane strides rounded to odd cache lines, counters
    assert exe.generated.workspace_size <= whole // th * rows + padded_input + slack


@pytest.mark.parametrize("tile", [2, 4])
def test_winograd_bands_overlapping_pool(monkeypatch, tile):
    """A 3x3/2 max pool epilogue reads output rows of the previous band."""
    monkeypatch.setenv("CNNCC_NUM_THREADS", "2")
    c, m, h, w = 6, 16, 26, 26
    _force_bands(monkeypatch, c, m, -(-h // tile), -(-w // tile), tile)
    _run(c, m, h, w, (1, 1, 1, 1), tile,
         epilogue=(("bias",), ("relu",), ("max_pool", (3, 3), (2, 2), (1, 1, 1, 1), 0)))


@pytest.mark.parametrize("tile", [2, 4])
def test_winograd_bands_default_rule(monkeypatch, tile):
    """With the shipped constants: PP-OCR det's 96->24 at 80x80 (7 MB transformed) in bands
    of one tile row; a 14x14 map in one band."""
    monkeypatch.setenv("CNNCC_NUM_THREADS", "2")
    assert winograd.band_rows(96, 24, 80 // tile, 80 // tile, tile) == 1
    assert winograd.band_rows(256, 256, -(-14 // tile), -(-14 // tile), tile) == -(-14 // tile)
    # as F(4,3) (the automatic tile): ResNet-50's 64->64 at 56x56 (3.6 MB) stays in one band;
    # VGG-19's 512->512 at 28x28 too, for its weights (38 MB)
    assert winograd.band_rows(64, 64, 14, 14, 4) == 14
    assert winograd.band_rows(512, 512, 7, 7, 4) == 7
    exe, th, whole = _run(96, 24, 80, 80, (1, 1, 1, 1), tile)
    padded_input = 96 * 82 * 82 * 4
    assert exe.generated.workspace_size <= whole // th + padded_input + (tile + 2) ** 2 * 2 * 32 * 4 + 1024
