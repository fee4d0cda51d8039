"""Row-vectorized sliding windows (kernels/window.py): pooling and depthwise convs of any
stride, edge pixels, wide rows (runtime tile loop), fused epilogues, AVX2 and AVX-512."""

import pytest

from llvm_helpers import check_op, const, rand


def pool_attrs(k, s, pads, d=(1, 1), ceil=0, cip=None):
    a = dict(kernel_shape=k, strides=s, pads=pads, dilations=d, ceil_mode=ceil)
    if cip is not None:
        a["count_include_pad"] = cip
    return a


POOLS = [
    ((1, 3, 27, 27), pool_attrs((3, 3), (2, 2), (0, 0, 0, 0), ceil=1)),
    ((2, 4, 11, 13), pool_attrs((3, 3), (2, 2), (1, 1, 1, 1))),
    ((1, 2, 9, 40), pool_attrs((2, 3), (1, 3), (0, 2, 1, 1), d=(2, 1))),
    ((1, 2, 6, 300), pool_attrs((3, 3), (1, 1), (1, 1, 1, 1))),          # > 8 full tiles: runtime loop
    ((1, 2, 8, 21), pool_attrs((5, 5), (4, 4), (2, 2, 2, 2), ceil=1)),
    ((1, 2, 8, 21), pool_attrs((2, 2), (5, 5), (0, 0, 0, 0))),             # stride 5: the generic kernel
]


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
@pytest.mark.parametrize("x_shape,attrs", POOLS)
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
def test_pool_rows(op, x_shape, attrs, cpu):
    attrs = dict(attrs)
    if op == "AveragePool":
        attrs["count_include_pad"] = 1 if x_shape[-1] == 13 else 0
    check_op(op, [rand(*x_shape)], attrs, cpu=cpu)


DW = [
    ((1, 6, 16, 16), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),
    ((1, 5, 15, 17), (3, 3), (2, 2), (0, 1, 1, 0), (1, 1)),
    ((2, 4, 13, 29), (5, 5), (3, 3), (2, 2, 2, 2), (1, 1)),
    ((1, 3, 12, 14), (3, 3), (2, 2), (2, 2, 2, 2), (2, 2)),
    ((1, 2, 5, 400), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1)),       # wide: runtime tile loop
    ((1, 2, 70, 70), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),       # stride 1, plane too big for the plane kernel
]


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
@pytest.mark.parametrize("x_shape,k,s,pads,d", DW)
def test_depthwise_rows(x_shape, k, s, pads, d, cpu):
    c = x_shape[1]
    attrs = dict(kernel_shape=k, strides=s, pads=pads, dilations=d, group=c)
    params = {"conv_plane_max": 0}
    check_op("Conv", [rand(*x_shape), const(rand(c, 1, *k, seed=1)), const(rand(c, seed=2))], attrs, cpu=cpu,
             params=params)


def test_fused_depthwise_rows_epilogue():
    attrs = dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), dilations=(1, 1), group=8,
                 epilogue=(("bias",), ("add",), ("relu",)))
    check_op("FusedConv", [rand(1, 8, 14, 14), const(rand(8, 1, 3, 3, seed=1)), const(rand(8, seed=2)),
                           rand(1, 8, 7, 7, seed=3)], attrs)


def test_depthwise_runtime_weights():
    attrs = dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), dilations=(1, 1), group=4)
    check_op("Conv", [rand(1, 4, 9, 9), rand(4, 1, 3, 3, seed=1)], attrs)


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
@pytest.mark.parametrize("x_shape,w_shape,s,pads,group", [
    ((1, 3, 23, 23), (16, 3, 3, 3), (2, 2), (0, 0, 0, 0), 1),    # stem
    ((1, 3, 17, 40), (24, 3, 3, 3), (2, 2), (1, 1, 1, 1), 1),
    ((1, 8, 9, 11), (28, 2, 1, 1), (1, 1), (0, 0, 0, 0), 4),     # narrow grouped 1x1
    ((2, 4, 6, 300), (8, 4, 1, 3), (1, 3), (0, 1, 0, 2), 1),     # wide rows: runtime tile loop
])
def test_pixel_rows_conv(x_shape, w_shape, s, pads, group, cpu):
    """conv_algorithm="pixels": output pixels in the vector lanes, fused epilogue."""
    k = w_shape[2:]
    oh = (x_shape[2] + pads[0] + pads[2] - k[0]) // s[0] + 1
    ow = (x_shape[3] + pads[1] + pads[3] - k[1]) // s[1] + 1
    attrs = dict(kernel_shape=k, strides=s, pads=pads, dilations=(1, 1), group=group,
                 epilogue=(("bias",), ("add",), ("relu",)))
    m = w_shape[0]
    check_op("FusedConv", [rand(*x_shape), const(rand(*w_shape, seed=1)), const(rand(m, seed=2)),
                           rand(x_shape[0], m, oh, ow, seed=3)], attrs, cpu=cpu, params={"conv_algorithm": "pixels"})
