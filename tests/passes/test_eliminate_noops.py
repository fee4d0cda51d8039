import numpy as np
import pytest

from passes_helpers import Builder, check_pass, ops


def _noop_graphs():
    """(name, builder function returning (builder, output)) for every no-op form."""
    cases = {}

    def case(fn):
        cases[fn.__name__] = fn
        return fn

    @case
    def identity(b, x):
        return b.op("Identity", x)

    @case
    def reshape_same(b, x):
        return b.op("Reshape", x, shape=list(x.shape))

    @case
    def expand_same(b, x):
        return b.op("Expand", x, shape=[1, 1, 1])

    @case
    def cast_same(b, x):
        return b.op("Cast", x, to="float32")

    @case
    def pad_zeros(b, x):
        return b.op("Pad", x, pads=[0] * 8)

    @case
    def concat_one(b, x):
        return b.op("Concat", x, axis=1)

    @case
    def sum_one(b, x):
        return b.op("Sum", x)

    @case
    def mul_one(b, x):
        return b.op("Mul", b.const(np.ones((1, 3, 1, 1))), x)

    @case
    def div_one(b, x):
        return b.op("Div", x, b.const(1.0))

    @case
    def add_zero(b, x):
        return b.op("Add", x, b.const(np.zeros(5)))

    @case
    def sub_zero(b, x):
        return b.op("Sub", x, b.const(0.0))

    @case
    def transpose_identity(b, x):
        return b.op("Transpose", x, perm=[0, 1, 2, 3])

    @case
    def slice_all(b, x):
        return b.op("Slice", x, starts=[0], ends=[3], axes=[1], steps=[1])

    @case
    def clip_unbounded(b, x):
        return b.op("Clip", x)

    @case
    def pool_1x1(b, x):
        return b.op("MaxPool", x, kernel_shape=[1, 1], strides=[1, 1], pads=[0, 0, 0, 0], dilations=[1, 1])

    return cases


@pytest.mark.parametrize("name", sorted(_noop_graphs()))
def test_noop_removed(name):
    b = Builder()
    x = b.input(1, 3, 4, 5)
    y = _noop_graphs()[name](b, b.op("Relu", x))
    z = b.op("Sigmoid", y)
    out, rec = check_pass("eliminate-noops", b.graph(z))
    assert ops(out) == {"Relu": 1, "Sigmoid": 1}, name
    assert rec.notes


@pytest.mark.parametrize(
    "build",
    [
        lambda b, x: b.op("Mul", x, b.const(np.full((1, 3, 1, 1), 2.0))),
        lambda b, x: b.op("Add", x, b.const(np.zeros((2, 1, 3, 4, 5)))),  # broadcasting grows the shape
        lambda b, x: b.op("Div", b.const(1.0), x),
        lambda b, x: b.op("Pad", x, pads=[0, 0, 1, 0, 0, 0, 0, 0]),
        lambda b, x: b.op("Transpose", x, perm=[0, 1, 3, 2]),
    ],
)
def test_not_a_noop_is_kept(build):
    b = Builder()
    x = b.input(1, 3, 4, 5)
    y = build(b, x)
    g = b.graph(y)
    out, _ = check_pass("eliminate-noops", g)
    assert len(out.nodes) == len(g.nodes)


def test_noop_producing_the_graph_output_renames_its_producer():
    b = Builder()
    x = b.input(1, 3)
    r = b.op("Relu", x)
    y = b.op("Identity", r)
    out, _ = check_pass("eliminate-noops", b.graph(y))
    assert ops(out) == {"Relu": 1}
    assert out.outputs[0].name == y.name


def test_resize_at_scale_one_goes_unless_it_crops():
    b = Builder()
    x = b.input(1, 2, 4, 4)
    same = dict(sizes=[1, 2, 4, 4], scales=[1.0, 1.0, 1.0, 1.0], mode="linear")
    y1 = b.op("Resize", x, **same)
    y2 = b.op("Resize", x, **same, coordinate_transformation_mode="tf_crop_and_resize", roi=[0, 0, 0.25, 0.25, 1, 1, 0.75, 0.75])
    out, _ = check_pass("eliminate-noops", b.graph(b.op("Relu", y1), b.op("Relu", y2)))
    assert ops(out) == {"Resize": 1, "Relu": 2}
