"""FusedConv / FusedGemm: the encoding's checks and the reference as the composition."""

import numpy as np
import pytest

from cnncc.errors import ShapeError
from cnncc.ir import Attrs, TensorType
from cnncc.ops import evaluate, get_op, infer_types
from cnncc.ops.fused import describe_epilogue

CONV = dict(kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1), group=1)
rng = np.random.default_rng(0)


def _attrs(op, **kw):
    return get_op(op).normalize_attrs(kw)


def test_reference_is_the_composition():
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    res = rng.standard_normal((1, 4, 6, 6)).astype(np.float32)
    slope = rng.standard_normal(4).astype(np.float32)
    epi = (("bias",), ("add",), ("prelu",), ("clip", -1.0, None), ("max_pool", (2, 2), (2, 2), (0, 0, 0, 0), 0))
    (got,) = evaluate("FusedConv", [x, w, bias, res, slope], _attrs("FusedConv", **CONV, epilogue=epi))
    y = evaluate("Conv", [x, w, bias], _attrs("Conv", **CONV))[0]
    y = evaluate("Add", [y, res], Attrs())[0]
    y = evaluate("PRelu", [y, slope.reshape(1, 4, 1, 1)], Attrs())[0]
    y = evaluate("Clip", [y], _attrs("Clip", min=-1.0))[0]
    y = evaluate("MaxPool", [y], _attrs("MaxPool", kernel_shape=(2, 2), strides=(2, 2), pads=(0, 0, 0, 0), dilations=(1, 1)))[0]
    np.testing.assert_array_equal(got, y)
    assert infer_types("FusedConv", [TensorType(a.shape) for a in (x, w, bias, res, slope)], _attrs("FusedConv", **CONV, epilogue=epi)) == [TensorType((1, 4, 3, 3))]


def test_scale_and_shift_reference():
    x = rng.standard_normal((1, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    s, t = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    epi = (("scale",), ("relu",), ("shift",))
    (got,) = evaluate("FusedConv", [x, w, s, t], _attrs("FusedConv", **CONV, epilogue=epi))
    y = evaluate("Conv", [x, w], _attrs("Conv", **CONV))[0]
    y = np.maximum(y * s.reshape(1, 4, 1, 1), 0) + t.reshape(1, 4, 1, 1)
    np.testing.assert_allclose(got, y, rtol=1e-6, atol=1e-6)


def test_gemm_reference():
    A = rng.standard_normal((3, 5)).astype(np.float32)
    B = rng.standard_normal((4, 5)).astype(np.float32)
    bias = rng.standard_normal(4).astype(np.float32)
    (got,) = evaluate("FusedGemm", [A, B, bias], _attrs("FusedGemm", alpha=0.5, transB=1, epilogue=(("bias",), ("silu",))))
    y = evaluate("Gemm", [A, B, bias], _attrs("Gemm", alpha=0.5, transB=1))[0]
    y = y * (1 / (1 + np.exp(-y)))
    np.testing.assert_allclose(got, y, rtol=1e-6)


@pytest.mark.parametrize(
    "epilogue, n_extra, message",
    [
        ((("relu",), ("bias",)), 1, "first"),
        ((("max_pool", (2, 2), (2, 2), (0, 0, 0, 0), 0), ("relu",)), 0, "last"),
        ((("relu", 1.0),), 0, "parameter"),
        ((("gelu",),), 0, "unknown"),
        ((("add",),), 0, "extra input"),
    ],
)
def test_bad_encodings_are_rejected(epilogue, n_extra, message):
    types = [TensorType((1, 3, 6, 6)), TensorType((4, 3, 3, 3))] + [TensorType((4,))] * n_extra
    with pytest.raises(ShapeError, match=message):
        infer_types("FusedConv", types, _attrs("FusedConv", **CONV, epilogue=epilogue))


def test_extra_shapes_are_checked():
    types = [TensorType((1, 3, 6, 6)), TensorType((4, 3, 3, 3)), TensorType((1, 4, 1, 1))]
    with pytest.raises(ShapeError, match="bias"):
        infer_types("FusedConv", types, _attrs("FusedConv", **CONV, epilogue=(("bias",),)))


def test_describe():
    assert describe_epilogue((("bias",), ("leaky_relu", 0.1), ("max_pool", (3, 3), (2, 2), (1, 1, 1, 1), 0))) == "bias+leaky_relu(0.1)+max_pool(3x3/2x2)"
