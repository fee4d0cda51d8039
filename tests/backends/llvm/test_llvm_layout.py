"""The llvm backend's blocked-storage predicate (backends/llvm/layout.py): what it allows per
conv, and the check the conv kernel runs on marked nodes."""

import pytest

from cnncc.backends.llvm.layout import (
    BLOCKED_STEPS,
    NCHW_ONLY,
    BlockedStorage,
    BlockedStorageError,
    blocked_storage,
    check_blocked_conv,
)

from llvm_helpers import const, op_graph, rand

POINTWISE = dict(kernel_shape=(1, 1), strides=(1, 1), pads=(0,) * 4, dilations=(1, 1))
MEAN = ("global_avg_pool",)


def _conv(c=32, m=64, hw=(6, 5), epilogue=(("bias",), ("relu",)), xb=0, yb=0, **attrs):
    """One FusedConv node over constant weights; its extras as the epilogue needs them."""
    attrs = {**POINTWISE, **attrs, "epilogue": epilogue, "x_block": xb, "y_block": yb}
    k = attrs["kernel_shape"]
    s = attrs["strides"][0]
    oh, ow = [(d + sum(attrs["pads"][i::2]) - k[i]) // s + 1 for i, d in enumerate(hw)]
    extras = []
    for step in epilogue:
        if step[0] == "add":
            extras.append(rand(1, m, oh, ow, seed=3))
        elif step[0] in ("bias", "prelu", "scale", "shift"):
            extras.append(const(rand(m, seed=len(extras) + 2)))
    g, _ = op_graph("FusedConv", [rand(1, c, *hw), const(rand(m, c // attrs.get("group", 1), *k, seed=1))] + extras, attrs)
    return g.nodes[0]


def test_vector_steps_of_the_kernel_are_the_blocked_steps():
    """BLOCKED_STEPS restates the steps the kernel applies in registers (kernels/fused.py)."""
    from cnncc.backends.llvm.kernels.fused import VECTOR_STEPS

    assert BLOCKED_STEPS == {"bias", *VECTOR_STEPS}


@pytest.mark.parametrize("node,want", [
    (dict(), BlockedStorage(x=32, y=64)),
    (dict(strides=(2, 2)), BlockedStorage(x=32, y=64)),                       # read through a subsampled copy
    (dict(epilogue=(("bias",), ("add",), ("prelu",))), BlockedStorage(x=32, y=64)),
    (dict(m=48, epilogue=(("bias",), ("hard_swish",))), BlockedStorage(x=32)),  # applied per row in NCHW
    (dict(m=20), BlockedStorage(x=32)),                                        # not whole vectors
    (dict(epilogue=(("bias",), ("max_pool", (2, 2), (2, 2), (0,) * 4, 0))), BlockedStorage(x=32)),
    (dict(epilogue=(("bias",), ("relu",), MEAN)), BlockedStorage(x=32, y=64, mean=True)),
    (dict(m=100, epilogue=(("bias",), ("relu",), MEAN)), BlockedStorage(x=32, y=100, mean=True)),  # part vector
    (dict(m=100, epilogue=(("bias",), ("prelu",), MEAN)), BlockedStorage(x=32)),
    (dict(m=100, epilogue=(("bias",), ("add",), ("relu",), MEAN)), BlockedStorage(x=32)),
    (dict(kernel_shape=(3, 3), pads=(1,) * 4), NCHW_ONLY),
    (dict(pads=(1,) * 4), NCHW_ONLY),
    (dict(group=2), NCHW_ONLY),
])
def test_what_a_conv_may_keep_blocked(node, want):
    assert blocked_storage(_conv(**node)) == want


def test_computed_weights_keep_nchw():
    g, _ = op_graph("FusedConv", [rand(1, 32, 4, 4), rand(64, 32, 1, 1)], {**POINTWISE, "epilogue": ()})
    assert blocked_storage(g.nodes[0]) == NCHW_ONLY


@pytest.mark.parametrize("node,lanes,tile", [
    (dict(xb=32, yb=64, epilogue=(("bias",), ("add",), ("relu",))), 16, 64),   # NHWC in and out
    (dict(m=48, yb=16, epilogue=(("bias",), ("add",), ("prelu",))), 16, 48),   # 16c out
    (dict(c=48, m=32, xb=16), 8, 32),                                          # 16c in
    (dict(m=20, xb=32, epilogue=(("bias",), ("hard_swish",))), 16, 32),        # blocked in, padded tiles out
    (dict(c=24, m=100, yb=100, epilogue=(("bias",), ("relu",), MEAN)), 16, 112),  # part-vector mean
])
def test_the_kernel_check_accepts_what_the_kernel_tests_build(node, lanes, tile):
    check_blocked_conv(_conv(**node), lanes, tile)


@pytest.mark.parametrize("node,lanes,tile,why", [
    (dict(kernel_shape=(3, 3), pads=(1,) * 4, xb=32), 16, 64, "x_block=32"),
    (dict(xb=24), 16, 64, r"x_block=24 \(allowed: a divisor of 32\)"),
    (dict(yb=64, epilogue=(("bias",), ("max_pool", (2, 2), (2, 2), (0,) * 4, 0))), 16, 64, "y_block=64"),
    (dict(yb=64, epilogue=(("bias",), ("hard_swish",))), 16, 64, "y_block=64"),
    (dict(yb=8), 16, 64, "y_block=8 in vectors of 16"),
    (dict(yb=64), 16, 80, "padded to 80"),
    (dict(m=100, yb=100, epilogue=(("bias",), ("add",), ("relu",), MEAN)), 16, 112, "y_block=100"),
])
def test_the_kernel_check_refuses_what_it_cannot_take(node, lanes, tile, why):
    with pytest.raises(BlockedStorageError, match=why):
        check_blocked_conv(_conv(**node), lanes, tile)


def test_the_check_is_an_internal_error_and_ignores_nchw_nodes():
    assert issubclass(BlockedStorageError, AssertionError)
    check_blocked_conv(_conv(kernel_shape=(3, 3), pads=(1,) * 4), 16, 64)  # nothing blocked: nothing to check
