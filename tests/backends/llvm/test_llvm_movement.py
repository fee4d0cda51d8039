"""Concat, Split, Slice, Transpose, Expand, Tile, Pad, Resize, Gather, views and
compile-time values on the llvm backend."""

import numpy as np
import pytest

from llvm_helpers import check, check_op, const, op_graph, rand

X = rand(2, 3, 4, 5)


@pytest.mark.parametrize("axis", [0, 1, 3, -2])
def test_concat(axis):
    a = rand(2, 3, 4, 5)
    shape = list(a.shape)
    shape[axis] = 2
    check_op("Concat", [a, rand(*shape, seed=1), a], {"axis": axis})


@pytest.mark.parametrize("axis,split", [(1, (1, 2)), (3, (2, 3)), (0, (1, 1))])
def test_split(axis, split):
    g, feeds = op_graph("Split", [X], {"axis": axis, "split": split})
    check(g, feeds)


@pytest.mark.parametrize("starts,ends,axes,steps", [
    ((1, 3), (-1, 0), (1, 2), (-1, -2)),
    ((0, 1), (2, 5), (1, 3), (1, 2)),
    ((1,), (2,), (0,), (1,)),
    ((4,), (-1,), (3,), (-1,)),
])
def test_slice(starts, ends, axes, steps):
    check_op("Slice", [X], dict(starts=starts, ends=ends, axes=axes, steps=steps))


@pytest.mark.parametrize("perm", [(0, 2, 3, 1), (3, 2, 1, 0), (0, 1, 3, 2)])
def test_transpose(perm):
    check_op("Transpose", [X], {"perm": perm})


def test_expand_and_tile():
    check_op("Expand", [rand(3, 1, 5)], {"shape": (2, 3, 4, 5)})
    check_op("Expand", [rand(3, 1)], {"shape": (3, 1)})
    check_op("Tile", [rand(3, 1, 5)], {"repeats": (2, 3, 1)})


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
@pytest.mark.parametrize("pads", [(0, 1, 2, 0, 0, 0, 1, 3), (0, 1, -1, 2, 0, 2, 1, -1)])
def test_pad(mode, pads):
    check_op("Pad", [X], dict(pads=pads, mode=mode, value=1.5))


@pytest.mark.parametrize("mode,ctm", [("nearest", "half_pixel"), ("nearest", "asymmetric"), ("linear", "half_pixel"),
                                      ("linear", "align_corners"), ("linear", "pytorch_half_pixel")])
@pytest.mark.parametrize("sizes", [(2, 3, 7, 9), (2, 3, 3, 2)])
def test_resize(mode, ctm, sizes):
    scales = tuple(o / i for o, i in zip(sizes, X.shape))
    check_op("Resize", [X], dict(mode=mode, coordinate_transformation_mode=ctm, sizes=sizes, scales=scales))


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_upsample(mode):
    check_op("Upsample", [X], {"mode": mode, "scales": (1, 1, 2, 3)})


def test_gather():
    check_op("Gather", [X, const(np.array([[2, -1], [0, 0]], np.int64))], {"axis": 2})
    check_op("Gather", [X, np.array([2, -1, 0], np.int64)], {"axis": 1})
    check_op("Gather", [X, np.array([1, 0], np.int32)], {"axis": 3})
    check_op("Gather", [X, np.array(1, np.int64)], {"axis": 0})


@pytest.mark.parametrize("op,attrs", [("Reshape", {"shape": (6, 10)}), ("Flatten", {"axis": 2}),
                                      ("Squeeze", {"axes": (0,)}), ("Unsqueeze", {"axes": (0, 3)}),
                                      ("Identity", {})])
def test_views_as_graph_outputs(op, attrs):
    x = rand(1, 3, 4, 5)
    check_op(op, [x], attrs)


def test_dropout_with_mask():
    g, feeds = op_graph("Dropout", [X])
    check(g, feeds)


@pytest.mark.parametrize("op,inputs,attrs", [
    ("Shape", [X], {}),
    ("Shape", [X], {"start": 1, "end": -1}),
    ("Size", [X], {}),
    ("ConstantOfShape", [], {"shape": (2, 3), "value": 2.0}),
    ("ConstantOfShape", [], {"shape": (4,), "value": 3, "dtype": "int64"}),
    ("Range", [], {"start": 1, "limit": 10, "delta": 3}),
])
def test_compile_time_values(op, inputs, attrs):
    check_op(op, inputs, attrs)


@pytest.mark.parametrize("op", ["DepthToSpace", "SpaceToDepth"])
@pytest.mark.parametrize("mode", ["DCR", "CRD"])
def test_depth_space(op, mode):
    x = rand(2, 8, 4, 6) if op == "DepthToSpace" else rand(2, 3, 4, 6)
    check_op(op, [x], {"blocksize": 2, "mode": mode})


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
def test_resize_crop_and_cubic(mode):
    x = rand(1, 2, 5, 6)
    check_op("Resize", [x], dict(mode=mode, coordinate_transformation_mode="tf_crop_and_resize",
                                 roi=(0, 0, 0.2, -0.3, 1, 1, 1.4, 0.9), extrapolation_value=7.0,
                                 sizes=(1, 2, 4, 5), scales=(1, 1, 0.8, 5 / 6)))
    if mode == "cubic":
        check_op("Resize", [x], dict(mode="cubic", sizes=(1, 2, 9, 4), scales=(1, 1, 1.8, 4 / 6)))
