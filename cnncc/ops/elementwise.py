"""Elementwise ops: activations, arithmetic with broadcasting, casts and identities."""

from __future__ import annotations

import numpy as np

from cnncc.errors import ShapeError
from cnncc.ir import TensorType
from cnncc.ops.registry import REQUIRED, defop
from cnncc.ops.shapes import broadcast_shapes, same_as_first

F32 = np.float32


def _float_only(types, attrs):
    if types[0].dtype != "float32":
        raise ShapeError(f"expects float32, got {types[0].dtype}")
    return [types[0]]


# -- unary activations and math ------------------------------------------------------------
# name -> (attributes, reference); each computes in float32 like the backends do.
def _sigmoid(x):
    return (1.0 / (1.0 + np.exp(-x))).astype(F32)


UNARY = {
    "Relu": ({}, lambda a, x: np.maximum(x, F32(0))),
    "LeakyRelu": ({"alpha": 0.01}, lambda a, x: np.where(x >= 0, x, x * F32(a.alpha)).astype(F32)),
    "Elu": ({"alpha": 1.0}, lambda a, x: np.where(x > 0, x, F32(a.alpha) * np.expm1(x)).astype(F32)),
    "Selu": (
        {"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875},
        lambda a, x: (F32(a.gamma) * np.where(x > 0, x, F32(a.alpha) * np.expm1(x))).astype(F32),
    ),
    "Sigmoid": ({}, lambda a, x: _sigmoid(x)),
    "HardSigmoid": (
        {"alpha": 0.2, "beta": 0.5},
        lambda a, x: np.clip(F32(a.alpha) * x + F32(a.beta), 0, 1).astype(F32),
    ),
    "HardSwish": ({}, lambda a, x: (x * np.clip(x / F32(6) + F32(0.5), 0, 1)).astype(F32)),
    "Tanh": ({}, lambda a, x: np.tanh(x)),
    "Softplus": ({}, lambda a, x: np.logaddexp(F32(0), x).astype(F32)),
    "Sqrt": ({}, lambda a, x: np.sqrt(x)),
    "Exp": ({}, lambda a, x: np.exp(x)),
    "Log": ({}, lambda a, x: np.log(x)),
    "Abs": ({}, lambda a, x: np.abs(x)),
    "Neg": ({}, lambda a, x: np.negative(x)),
    "Reciprocal": ({}, lambda a, x: (F32(1) / x).astype(F32)),
    "Floor": ({}, lambda a, x: np.floor(x)),
    "Ceil": ({}, lambda a, x: np.ceil(x)),
    "Erf": ({}, lambda a, x: _erf(x)),
    "Mish": ({}, lambda a, x: (x * np.tanh(np.logaddexp(F32(0), x))).astype(F32)),
    "Softsign": ({}, lambda a, x: (x / (F32(1) + np.abs(x))).astype(F32)),
    "Celu": (
        {"alpha": 1.0},
        lambda a, x: (np.maximum(x, F32(0)) + np.minimum(F32(0), F32(a.alpha) * np.expm1(x / F32(a.alpha)))).astype(F32),
    ),
    "ThresholdedRelu": ({"alpha": 1.0}, lambda a, x: np.where(x > F32(a.alpha), x, F32(0)).astype(F32)),
    "Gelu": ({"approximate": "none"}, lambda a, x: _gelu(x, a.approximate)),
    "Round": ({}, lambda a, x: np.round(x)),  # half to even, as ONNX asks
    "Sign": ({}, lambda a, x: np.sign(x)),
}

INT_OK = {"Relu", "Abs", "Neg", "Sign"}


def _gelu(x, approximate: str):
    x64 = x.astype(np.float64)
    if approximate == "tanh":
        return (0.5 * x64 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x64 + 0.044715 * x64**3)))).astype(F32)
    return (0.5 * x64 * (1 + _erf(x64 / np.sqrt(2)))).astype(F32)


def _erf(x):
    import math

    return np.vectorize(math.erf, otypes=[F32])(x)


def _declare_unary(name, attrs, fn):
    infer = same_as_first if name in INT_OK else _float_only

    @defop(name, infer, attrs=attrs)
    def ref(a, x, _fn=fn):
        return np.asarray(_fn(a, x)).astype(x.dtype, copy=False)


for _name, (_attrs, _fn) in UNARY.items():
    _declare_unary(_name, _attrs, _fn)


@defop("Clip", same_as_first, attrs={"min": None, "max": None})
def clip(a, x):
    """Clamp to [min, max]; None means unbounded (the frontend folds the input forms into attrs)."""
    lo = -np.inf if a.min is None else a.min
    hi = np.inf if a.max is None else a.max
    return np.clip(x, lo, hi).astype(x.dtype)


@defop("Identity", same_as_first)
def identity(a, x):
    return x.copy()


def _dropout_types(types, attrs):
    return [types[0], TensorType(types[0].shape, "bool")]


@defop("Dropout", _dropout_types, attrs={"ratio": 0.5}, outputs=(1, 2))
def dropout(a, x):
    """Inference semantics: the identity, with an all-true mask."""
    return x.copy(), np.ones(x.shape, dtype=bool)


def _cast_types(types, attrs):
    return [TensorType(types[0].shape, attrs.to)]


@defop("Cast", _cast_types, attrs={"to": REQUIRED})
def cast(a, x):
    return x.astype(a.to)


# -- binary and variadic arithmetic with broadcasting --------------------------------------
def _broadcast_types(types, attrs):
    dtypes = {t.dtype for t in types}
    if len(dtypes) != 1:
        raise ShapeError(f"operands have different dtypes {sorted(dtypes)}")
    return [TensorType(broadcast_shapes(*(t.shape for t in types)), types[0].dtype)]


def _int_div(x, y):
    return np.trunc(x / y).astype(x.dtype) if x.dtype.kind == "i" else x / y


BINARY = {
    "Add": np.add,
    "Sub": np.subtract,
    "Mul": np.multiply,
    "Div": _int_div,
    "PRelu": lambda x, s: np.where(x < 0, x * s, x),
}

VARIADIC = {"Sum": np.add, "Max": np.maximum, "Min": np.minimum, "Mean": np.add}


def _declare_binary(name, fn):
    @defop(name, _broadcast_types, inputs=2)
    def ref(a, x, y, _fn=fn):
        return np.asarray(_fn(x, y)).astype(x.dtype)


for _name, _fn in BINARY.items():
    _declare_binary(_name, _fn)


def _pow_types(types, attrs):
    return [TensorType(broadcast_shapes(types[0].shape, types[1].shape), types[0].dtype)]


@defop("Pow", _pow_types, inputs=2)
def pow_(a, x, y):
    return np.power(x, y.astype(x.dtype)).astype(x.dtype)


def _declare_variadic(name, fn):
    @defop(name, _broadcast_types, inputs=(1, None))
    def ref(a, *xs, _fn=fn, _mean=(name == "Mean")):
        out = xs[0]
        for x in xs[1:]:
            out = _fn(out, x)
        out = np.broadcast_to(out, broadcast_shapes(*(x.shape for x in xs)))
        if _mean:
            out = out / F32(len(xs))
        return np.array(out, dtype=xs[0].dtype)


for _name, _fn in VARIADIC.items():
    _declare_variadic(_name, _fn)


# -- comparisons, logic and selection ------------------------------------------------------
def _compare_types(types, attrs):
    (t,) = _broadcast_types(types, attrs)
    return [TensorType(t.shape, "bool")]


def _logical_types(types, attrs):
    if any(t.dtype != "bool" for t in types):
        raise ShapeError(f"expects bool operands, got {', '.join(t.dtype for t in types)}")
    return [TensorType(broadcast_shapes(*(t.shape for t in types)), "bool")]


COMPARISONS = {
    "Equal": np.equal,
    "Greater": np.greater,
    "Less": np.less,
    "GreaterOrEqual": np.greater_equal,
    "LessOrEqual": np.less_equal,
}
LOGICAL = {"And": np.logical_and, "Or": np.logical_or, "Xor": np.logical_xor}


def _declare_predicate(name, fn, infer):
    @defop(name, infer, inputs=2)
    def ref(a, x, y, _fn=fn):
        return np.asarray(_fn(x, y), dtype=bool)


for _name, _fn in COMPARISONS.items():
    _declare_predicate(_name, _fn, _compare_types)
for _name, _fn in LOGICAL.items():
    _declare_predicate(_name, _fn, _logical_types)


@defop("Not", lambda types, a: _logical_types(types, a))
def not_(a, x):
    return np.logical_not(x)


def _where_types(types, attrs):
    cond, x, y = types
    if cond.dtype != "bool":
        raise ShapeError(f"Where: condition must be bool, got {cond.dtype}")
    if x.dtype != y.dtype:
        raise ShapeError(f"Where: branches differ in dtype ({x.dtype} and {y.dtype})")
    return [TensorType(broadcast_shapes(cond.shape, x.shape, y.shape), x.dtype)]


@defop("Where", _where_types, inputs=3)
def where(a, cond, x, y):
    return np.where(cond, x, y).astype(x.dtype)
