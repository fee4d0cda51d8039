"""Conv, ConvTranspose and MaxPool on the llvm backend against the reference, per schedule and
CPU; the op sample database (tests/op_samples.py) runs every op's samples on every backend."""

import pytest

from llvm_helpers import check_op, const, rand


def conv_attrs(k, s, p, d, g=1):
    return dict(kernel_shape=k, strides=s, pads=p, dilations=d, group=g)


CONVS = [
    # x shape, w shape, attrs, const weights, bias
    ((1, 3, 9, 11), (5, 3, 3, 3), conv_attrs((3, 3), (1, 1), (1, 1, 1, 1), (1, 1)), True, True),
    ((2, 6, 9, 11), (4, 3, 3, 2), conv_attrs((3, 2), (2, 3), (0, 1, 2, 1), (2, 1), 2), True, False),
    ((1, 6, 10, 9), (6, 1, 3, 3), conv_attrs((3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 6), True, True),  # depthwise
    ((1, 8, 7, 7), (16, 1, 5, 5), conv_attrs((5, 5), (1, 1), (2, 2, 2, 2), (1, 1), 8), True, True),  # multiplier 2
    ((1, 5, 6, 7), (9, 5, 1, 1), conv_attrs((1, 1), (1, 1), (0, 0, 0, 0), (1, 1)), True, True),      # pointwise
    ((1, 5, 6, 7), (9, 5, 1, 1), conv_attrs((1, 1), (2, 2), (0, 0, 0, 0), (1, 1)), True, False),
    ((1, 3, 17, 19), (7, 3, 7, 7), conv_attrs((7, 7), (2, 2), (3, 3, 3, 3), (1, 1)), True, True),    # stem-like
    ((1, 4, 12, 13), (6, 4, 3, 3), conv_attrs((3, 3), (1, 1), (2, 2, 2, 2), (2, 2)), True, True),    # dilated
    ((1, 4, 8, 8), (6, 4, 3, 3), conv_attrs((3, 3), (1, 1), (0, 2, 1, 0), (1, 1)), False, True),     # runtime weights
    ((2, 5, 13), (7, 5, 3), conv_attrs((3,), (2,), (1, 0), (1,)), True, True),                       # 1-D
    ((1, 4, 20), (4, 2, 5), conv_attrs((5,), (1,), (4, 4), (2,), 2), False, False),                 # 1-D grouped
    ((1, 2, 5, 40), (3, 2, 1, 20), conv_attrs((1, 20), (1, 1), (0, 3, 0, 3), (1, 1)), True, True),  # long kernel row
    # output channels in vector lanes (multiples of 4/8/16), short and long rows
    ((1, 5, 9, 11), (16, 5, 3, 3), conv_attrs((3, 3), (1, 1), (1, 1, 1, 1), (1, 1)), True, True),
    ((1, 3, 20, 45), (32, 3, 5, 5), conv_attrs((5, 5), (2, 2), (2, 1, 2, 3), (1, 1)), True, True),
    ((2, 6, 8, 70), (24, 3, 3, 3), conv_attrs((3, 3), (1, 1), (1, 2, 0, 1), (1, 2), 2), True, False),
    ((1, 7, 6, 6), (12, 7, 1, 1), conv_attrs((1, 1), (2, 2), (0, 0, 1, 1), (1, 1)), True, True),
    ((1, 9, 5, 41), (8, 9, 1, 1), conv_attrs((1, 1), (1, 1), (0, 0, 0, 0), (1, 1)), True, True),
    # strided few-channel stems
    ((1, 3, 35, 33), (16, 3, 3, 3), conv_attrs((3, 3), (2, 2), (0, 0, 0, 0), (1, 1)), True, True),
    ((2, 3, 37, 41), (24, 3, 7, 7), conv_attrs((7, 7), (2, 2), (3, 2, 1, 3), (1, 1)), True, True),
    ((1, 2, 45, 52), (8, 2, 11, 11), conv_attrs((11, 11), (4, 3), (2, 1, 2, 0), (1, 1)), True, False),
    # strided 1x1: input subsampled into scratch, then pointwise
    ((2, 8, 9, 11), (32, 4, 1, 1), conv_attrs((1, 1), (2, 3), (0, 0, 0, 0), (1, 1), 2), True, True),
    ((1, 64, 14, 14), (48, 64, 1, 1), conv_attrs((1, 1), (2, 2), (0, 0, 0, 0), (1, 1)), True, False),
    ((1, 4, 30), (16, 4, 7), conv_attrs((7,), (1,), (3, 3), (1,)), True, True),
    # depthwise stride 1: padded-plane kernel
    ((2, 6, 9, 11), (6, 1, 3, 3), conv_attrs((3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 6), True, True),
    ((1, 5, 7, 8), (5, 1, 5, 3), conv_attrs((5, 3), (1, 1), (2, 0, 1, 2), (1, 2), 5), False, False),
    ((1, 3, 12), (3, 1, 3), conv_attrs((3,), (1,), (1, 1), (1,), 3), True, True),
    # 3-D
    ((1, 3, 5, 6, 7), (8, 3, 3, 3, 3), conv_attrs((3, 3, 3), (1, 1, 1), (1, 1, 1, 1, 1, 1), (1, 1, 1)), True, True),
    ((1, 4, 6, 5, 9), (6, 2, 2, 3, 1), conv_attrs((2, 3, 1), (2, 1, 2), (1, 0, 0, 0, 2, 1), (2, 1, 1), 2), False, True),
]


@pytest.mark.parametrize("schedule,cpu", [("auto", None), ("rows", None), ("auto", "x86-64-v3")])
@pytest.mark.parametrize("x_shape,w_shape,attrs,const_w,bias", CONVS)
def test_conv(x_shape, w_shape, attrs, const_w, bias, schedule, cpu):
    """Every schedule choice of "auto" on this host and on AVX2 (8-lane vectors: other
    channel tiles, pixel/channel-vector choices and register tiles)."""
    w = rand(*w_shape, seed=1)
    inputs = [rand(*x_shape), const(w) if const_w else w]
    if bias:
        inputs.append(const(rand(w_shape[0], seed=2)))
    check_op("Conv", inputs, attrs, params={"conv_algorithm": schedule}, cpu=cpu)


@pytest.mark.parametrize("params", [{"conv_algorithm": "rows", "conv_oc_block": 1},
                                    {"conv_algorithm": "rows", "conv_oc_block": 3},
                                    {"conv_algorithm": "rows", "conv_oc_block": 8},
                                    {"conv_ow_tile": 1}, {"conv_prefetch": False}, {"conv_ow_tile": 5, "conv_unroll_ow": 0},
                                    {"conv_ow_tile": 16, "conv_unroll_ow": 100},
                                    {"conv_oc_vectors": 1, "conv_ow_tile": 3},
                                    {"conv_oc_vectors": 4, "conv_ow_tile": 2, "conv_unroll_ow": 0}])
def test_conv_algorithm_params(params):
    check_op("Conv", [rand(1, 4, 7, 39), const(rand(16, 4, 3, 3, seed=1))],
             conv_attrs((3, 3), (1, 1), (1, 2, 1, 0), (1, 1)), params=params)


def test_conv_avx2_target():
    check_op("Conv", [rand(1, 4, 7, 39), const(rand(24, 4, 3, 3, seed=1))],
             conv_attrs((3, 3), (1, 2), (1, 2, 1, 0), (1, 1)), cpu="x86-64-v3")


CONV_T = [
    # kernel == stride: a pointwise conv, then the phases scattered
    ((1, 24, 10, 12), (24, 24, 2, 2), dict(kernel_shape=(2, 2), strides=(2, 2), pads=(0, 0, 0, 0), dilations=(1, 1),
                                           output_padding=(0, 0)), True),
    ((2, 40, 5, 7), (40, 1, 2, 2), dict(kernel_shape=(2, 2), strides=(2, 2), pads=(0, 0, 0, 0), dilations=(1, 1),
                                        output_padding=(0, 0)), True),
    ((1, 8, 3, 37), (8, 4, 2, 2), dict(kernel_shape=(2, 2), strides=(2, 2), pads=(0, 0, 0, 0), dilations=(1, 1),
                                       output_padding=(0, 0)), True),
    ((1, 16, 6, 5), (16, 20, 3, 2), dict(kernel_shape=(3, 2), strides=(3, 2), pads=(0, 0, 0, 0), dilations=(1, 1),
                                         output_padding=(0, 0)), False),
    ((1, 4, 5, 6), (4, 3, 3, 3), dict(kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), dilations=(1, 1),
                                       output_padding=(1, 1)), True),
    ((2, 4, 5, 6), (4, 2, 3, 2), dict(kernel_shape=(3, 2), strides=(3, 2), pads=(0, 1, 2, 0), dilations=(2, 1),
                                       output_padding=(0, 1), group=2), False),
    ((1, 4, 7), (4, 3, 4), dict(kernel_shape=(4,), strides=(2,), pads=(1, 2), dilations=(1,),
                                output_padding=(0,)), True),
    ((1, 2, 3, 4, 3), (2, 3, 3, 2, 3), dict(kernel_shape=(3, 2, 3), strides=(2, 1, 3), pads=(1, 0, 1, 0, 1, 1),
                                           dilations=(1, 2, 1), output_padding=(1, 0, 0)), True),
]


@pytest.mark.parametrize("x_shape,w_shape,attrs,bias", CONV_T)
@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
def test_conv_transpose(x_shape, w_shape, attrs, bias, cpu):
    inputs = [rand(*x_shape), const(rand(*w_shape, seed=1))]
    if bias:
        inputs.append(const(rand(w_shape[1] * attrs.get("group", 1), seed=2)))
    check_op("ConvTranspose", inputs, attrs, cpu=cpu)


def pool_attrs(k, s, p, d=None, ceil=0, **kw):
    return dict(kernel_shape=k, strides=s, pads=p, dilations=d or (1,) * len(k), ceil_mode=ceil, **kw)


POOLS = [
    ((2, 3, 9, 11), pool_attrs((3, 3), (2, 2), (1, 0, 1, 1), ceil=1)),
    ((1, 5, 8, 8), pool_attrs((2, 2), (2, 2), (0, 0, 0, 0))),
    ((1, 3, 10, 9), pool_attrs((3, 2), (1, 2), (0, 1, 2, 0), d=(2, 1))),
    ((2, 3, 12), pool_attrs((3,), (2,), (1, 1), ceil=1)),
    ((1, 2, 13, 13), pool_attrs((3, 3), (2, 2), (0, 0, 0, 0), ceil=1)),
    ((1, 2, 5, 6, 7), pool_attrs((2, 3, 2), (2, 1, 2), (1, 1, 0, 0, 1, 1), d=(1, 2, 1), ceil=1)),
    # 2-D max pools run as a column max then a row max: rows of several vectors plus a tail
    ((1, 4, 23, 111), pool_attrs((3, 3), (2, 2), (0, 0, 0, 0))),
    ((1, 2, 17, 70), pool_attrs((3, 5), (3, 4), (1, 2, 2, 3), d=(2, 2), ceil=1)),
    ((1, 3, 9, 40), pool_attrs((5, 2), (1, 1), (2, 1, 2, 0))),
]


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
@pytest.mark.parametrize("x_shape,attrs", POOLS)
def test_max_pool(x_shape, attrs, cpu):
    check_op("MaxPool", [rand(*x_shape)], attrs, cpu=cpu)


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
@pytest.mark.parametrize("c,k,hw", [(512, 1, (7, 7)), (520, 1, (13, 13)), (64, 3, (7, 9))])
def test_deep_conv_on_short_rows_fits_its_tile_width(cpu, c, k, hw):
    """1x1 over 512+ channels on rows of 49 and 169 pixels: the tile width is fitted to the
    row (14 or 13 pixels with AVX-512) so that no last tile is a single pixel; a 3x3 keeps
    its tiles."""
    from cnncc.backends.llvm.kernels.conv_direct import _tile_pixels

    assert _tile_pixels(49, 8, 2, 32) == 14 and _tile_pixels(169, 8, 2, 32) == 13
    assert _tile_pixels(224, 8, 2, 32) == 8  # whole tiles: unchanged
    check_op("Conv", [rand(1, c, *hw), const(rand(32, c, k, k, seed=1) / c), rand(32, seed=2)],
             conv_attrs((k, k), (1, 1), (k // 2,) * 4, (1, 1)), cpu=cpu)
