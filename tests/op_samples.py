"""The op sample database: sample inputs for every op of the op table, declared once.

tests/test_op_samples.py runs each sample as a one-node graph on every backend and compares
the outputs with the op's NumPy reference (STYLE.md items 7 and 12; PyTorch Inductor's
``op_db``). Shapes are chosen to break things: odd sizes, channel counts that are not a
multiple of the vector width (8 or 16 float lanes), strides, dilations, asymmetric pads,
groups, broadcasting, negative axes, ranks 1 to 5 where the op allows them, integer and
bool dtypes, constant (weights folded into the artifact) and runtime operands.

Adding an op: add its samples here (``test_every_op_has_samples`` fails until you do), or,
if a sample cannot be built, an entry in ``NOT_SAMPLED`` that says why. Backend-specific
tests (schedules x CPUs, tuning, threads) stay next to their backend.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Input:
    """One operand: ``const`` ones become graph constants, the others graph inputs (feeds)."""

    array: np.ndarray
    const: bool = False


@dataclass(frozen=True)
class OpSample:
    op: str
    inputs: tuple[Input, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    name: str = "default"
    n_outputs: int | None = None  # keep only the first n outputs (Dropout without its mask, ...)

    @property
    def id(self) -> str:
        return f"{self.op}-{self.name}"


# ops of the op table without a sample here, and why (the coverage test checks this set)
NOT_SAMPLED: dict[str, str] = {}


# -- inputs ---------------------------------------------------------------------------------

def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def rand(*shape, key="", scale=1.0) -> np.ndarray:
    """Standard normals (times ``scale``), seeded by shape and ``key``: the same every run."""
    return (_rng(shape, key).standard_normal(shape) * scale).astype(np.float32)


def pos(*shape, key="", lo=0.1, hi=2.0) -> np.ndarray:
    """Positive floats, for Sqrt, Log, divisors and variances."""
    return _rng(shape, key, "pos").uniform(lo, hi, shape).astype(np.float32)


def ints(*shape, lo=-5, hi=6, dtype="int64", key="") -> np.ndarray:
    return _rng(shape, key, "int").integers(lo, hi, shape).astype(dtype)


def bools(*shape, key="") -> np.ndarray:
    return _rng(shape, key, "bool").random(shape) > 0.5


def c(array) -> Input:
    """A constant operand."""
    return Input(np.ascontiguousarray(array), const=True)


def r(array) -> Input:
    """A runtime operand (a graph input)."""
    return Input(np.asarray(array), const=False)


SAMPLES: list[OpSample] = []


def sample(op: str, name: str, *inputs, n_outputs: int | None = None, **attrs) -> None:
    """Declare a sample; bare arrays are runtime operands."""
    ins = tuple(x if isinstance(x, Input) else r(x) for x in inputs)
    SAMPLES.append(OpSample(op, ins, attrs, name, n_outputs))


# -- elementwise, unary ----------------------------------------------------------------------

# odd sizes, a rank-1 vector longer than any vector width, 33 and 65 (a lane past 32 and 64),
# rank 5
UNARY_SHAPES = {"4d": (2, 3, 5, 7), "1d": (37,), "lanes": (1, 33, 1, 65), "5d": (2, 1, 3, 4, 5)}
UNARY = ["Relu", "Sigmoid", "Tanh", "Exp", "Abs", "Neg", "Floor", "Ceil", "Erf", "HardSwish", "Softplus",
         "Mish", "Softsign", "Sign", "Round", "LeakyRelu", "Elu", "Selu", "Celu", "ThresholdedRelu", "Gelu",
         "HardSigmoid", "Identity"]
for _op in UNARY:
    for _name, _shape in UNARY_SHAPES.items():
        sample(_op, _name, rand(*_shape, key=_op, scale=3.0))

sample("LeakyRelu", "alpha", rand(3, 17), alpha=0.2)
sample("Elu", "alpha", rand(3, 17, scale=2.0), alpha=0.7)
sample("Selu", "alpha-gamma", rand(3, 17, scale=2.0), alpha=1.5, gamma=1.1)
sample("Celu", "alpha", rand(3, 9, scale=2.0), alpha=0.6)
sample("ThresholdedRelu", "alpha", rand(3, 9), alpha=0.3)
sample("HardSigmoid", "alpha-beta", rand(3, 17, scale=3.0), alpha=0.3, beta=0.4)
sample("Gelu", "tanh", rand(3, 9, scale=3.0), approximate="tanh")
sample("Gelu", "tanh-4d", rand(2, 3, 5, 7, scale=3.0), approximate="tanh")
# ONNX rounds halves to even
sample("Round", "halves", np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4999, -0.4999, 0.0], np.float32))
sample("Floor", "integers", np.array([-2.0, -1.0, 0.0, 1.0, 2.0, -0.5, 0.5, -1e-7, 1e7 + 0.5], np.float32))
sample("Ceil", "integers", np.array([-2.0, -1.0, 0.0, 1.0, 2.0, -0.5, 0.5, -1e-7, 1e7 + 0.5], np.float32))

# transcendentals over wide ranges: saturation, underflow to 0, tiny arguments
_WIDE = np.concatenate([np.linspace(-100, 100, 401), np.linspace(-1, 1, 201), np.logspace(-8, -1, 50),
                        -np.logspace(-8, -1, 50), [0.0, 88.5, -87.0, 89.0]]).astype(np.float32)
for _op in ["Sigmoid", "Tanh", "Softplus", "Mish", "Gelu", "Elu", "Erf", "Softsign", "Selu", "Celu"]:
    sample(_op, "wide", _WIDE)
sample("Exp", "wide", _WIDE[_WIDE < 88.7])  # float32 overflow to inf is not compared here

for _op in ["Relu", "Abs", "Neg", "Sign"]:
    sample(_op, "int64", ints(2, 3, 5))
sample("Neg", "int32", ints(3, 7, dtype="int32"))
sample("Identity", "int64", ints(2, 9))
sample("Identity", "bool", bools(3, 5))

# positive domains (the reference is undefined, NaN or inf, elsewhere)
for _op in ["Sqrt", "Log", "Reciprocal"]:
    sample(_op, "2d", pos(4, 9, key=_op))
    sample(_op, "lanes", pos(1, 33, 1, 65, key=_op, lo=0.5, hi=4.0))
    sample(_op, "5d", pos(2, 1, 3, 4, 5, key=_op))
sample("Sqrt", "wide", np.geomspace(1e-30, 1e30, 301).astype(np.float32))
sample("Log", "wide", np.geomspace(1e-30, 1e30, 301).astype(np.float32))

sample("Clip", "both", rand(2, 3, 5), min=-0.5, max=0.5)
sample("Clip", "min-only", rand(3, 7), min=0.0)
sample("Clip", "max-only", rand(1, 33, 1, 65), max=0.2)
sample("Clip", "unbounded", rand(17), min=None, max=None)
sample("Clip", "int64", ints(3, 9), min=-2, max=3)

sample("Dropout", "identity", rand(2, 3, 5), n_outputs=1)
sample("Dropout", "with-mask", rand(2, 3, 5, 7))
sample("Dropout", "ratio", rand(37), ratio=0.3)

# -- casts --------------------------------------------------------------------------------------

_CASTS = [("float32", "int64"), ("float32", "int32"), ("float32", "bool"), ("int64", "float32"),
          ("bool", "float32"), ("int32", "int64"), ("int64", "int32"), ("bool", "int64"), ("int64", "bool")]
for _src, _to in _CASTS:
    if _src == "float32":
        _x = rand(3, 5, scale=10.0)
        _x[0, :3] = (0.0, -0.0, 0.5)  # zeros to bool; truncation toward zero
    elif _src == "bool":
        _x = bools(3, 5)
    else:
        _x = ints(3, 5, lo=-100, hi=100, dtype=_src)
    sample("Cast", f"{_src}-to-{_to}", _x, to=_to)
sample("Cast", "float32-to-float32", rand(2, 7), to="float32")

# -- elementwise, binary (broadcasting) ---------------------------------------------------------

BROADCASTS = {
    "bcast-trailing": ((2, 3, 4, 5), (4, 1)),
    "same": ((2, 3, 4, 5), (2, 3, 4, 5)),
    "bcast-both": ((1, 3, 1, 5), (2, 1, 4, 1)),
    "scalar": ((7,), ()),
    "bcast-lanes": ((3, 1), (1, 65)),
    "bcast-5d": ((2, 1, 3, 1, 5), (4, 3, 1, 1)),
    "bcast-left": ((3, 1, 5), (2, 3, 4, 5)),
}
for _op in ["Add", "Sub", "Mul", "Div", "Pow"]:
    for _name, (_sa, _sb) in BROADCASTS.items():
        _a = pos(*_sa, key=_op) if _op == "Pow" else rand(*_sa, key=_op)
        _b = rand(*_sb, key=_op + "b") if _op != "Div" else pos(*_sb, key=_op + "b", lo=0.5) * np.float32(
            _rng(_sb).choice([-1, 1]))
        sample(_op, _name, _a, np.asarray(_b, np.float32))
    sample(_op, "const-b", rand(2, 3, 4, key=_op) if _op != "Pow" else pos(2, 3, 4), c(pos(1, 4, key=_op)))
sample("Pow", "square", rand(3, 4), c(np.full((3, 4), 2.0, np.float32)))
sample("Pow", "integer-exponents", rand(3, 4), c(np.array([0.0, 1.0, 2.0, 3.0], np.float32)))
sample("Add", "const-scalar", rand(2, 3, 4), c(np.float32(0.5)))

for _op in ["Add", "Sub", "Mul"]:
    sample(_op, "int64", ints(3, 4), ints(4, key="b"))
sample("Add", "int32-bcast", ints(2, 3, 1, dtype="int32"), ints(1, 5, dtype="int32", key="b"))
# integer division truncates toward zero (ONNX, C), unlike NumPy's floor division
sample("Div", "int64", np.array([7, -7, 9, 100, -9, 0], np.int64), np.array([2, 2, -4, 3, 4, -3], np.int64))
sample("Div", "int64-const", ints(3, 4, lo=-20, hi=20), c(np.array([[1, -2, 3, -4]] * 3, dtype=np.int64)))

for _name, (_sa, _sb) in BROADCASTS.items():
    sample("PRelu", _name, rand(*_sa, key="PRelu"), np.asarray(rand(*_sb, key="PReluS"), np.float32))
sample("PRelu", "channel", rand(2, 3, 4, 4), c(rand(3, 1, 1, key="s")))
sample("PRelu", "lanes", rand(1, 33, 2, 3), c(rand(33, 1, 1, key="s")))

for _op in ["Sum", "Mean", "Max", "Min"]:
    sample(_op, "three-bcast", rand(2, 3, 4, 5), rand(5, key="b"), rand(3, 1, 1, key="c"))
    sample(_op, "one", rand(6, 5))
    sample(_op, "two", rand(2, 3), rand(2, 3, key="b"))
sample("Sum", "lanes", rand(1, 33), rand(65, 1, key="b"))
sample("Max", "int64", ints(2, 3, 4), ints(4, key="b"))
sample("Min", "int64-bcast", ints(2, 3, 4), ints(3, 1, key="b"))

# -- comparison, logic, Where -------------------------------------------------------------------

for _op in ["Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual"]:
    for _dt in ["float32", "int64", "bool"]:  # values from {0, 1, 2}: many equal pairs
        sample(_op, _dt, ints(2, 3, 4, lo=0, hi=3, key=_op).astype(_dt), ints(3, 1, lo=0, hi=3, key=_op + "b").astype(_dt))
    sample(_op, "float-scalar", rand(17), c(np.float32(0.0)))
for _op in ["And", "Or", "Xor"]:
    sample(_op, "bcast", bools(3, 4), bools(4, key="b"))
    sample(_op, "same", bools(2, 3, 5), bools(2, 3, 5, key="b"))
sample("Not", "2d", bools(2, 5))
sample("Not", "lanes", bools(1, 33, 65))
sample("Where", "bcast", bools(2, 1, 4), rand(3, 4), rand(2, 3, 1))
sample("Where", "int64", bools(2, 1, 5), np.arange(5, dtype=np.int64), np.array(-1, np.int64))
sample("Where", "same", bools(3, 17), rand(3, 17), rand(3, 17, key="b"))
sample("Where", "const-cond", c(bools(4, 1)), rand(4, 9), rand(9))

# -- convolution ----------------------------------------------------------------------------------


def conv(name, x, w, *, strides=None, pads=None, dilations=None, group=1, bias=True, const_w=True):
    sp = len(x) - 2
    ws = rand(*w, key=name, scale=0.3)
    ins = [rand(*x, key=name), c(ws) if const_w else ws]
    if bias:
        ins.append(c(rand(w[0], key=name + "b")))
    sample("Conv", name, *ins, kernel_shape=tuple(w[2:]), strides=strides or (1,) * sp, pads=pads or (0,) * (2 * sp),
           dilations=dilations or (1,) * sp, group=group)


conv("3x3-pad", (1, 3, 9, 11), (5, 3, 3, 3), pads=(1, 1, 1, 1))
conv("stride-dil-asym", (2, 4, 13, 10), (6, 4, 3, 2), strides=(2, 1), dilations=(2, 1), pads=(1, 0, 2, 1))
conv("grouped", (1, 6, 8, 8), (9, 2, 3, 3), group=3, pads=(1, 1, 1, 1), bias=False)
conv("grouped-stride-dil", (2, 6, 9, 11), (4, 3, 3, 2), strides=(2, 3), pads=(0, 1, 2, 1), dilations=(2, 1), group=2,
     bias=False)
conv("depthwise-stride", (1, 5, 7, 7), (5, 1, 3, 3), group=5, strides=(2, 2), pads=(1, 1, 1, 1))
conv("depthwise-stride1", (2, 6, 9, 11), (6, 1, 3, 3), group=6, pads=(1, 1, 1, 1))
conv("depthwise-multiplier", (1, 8, 7, 7), (16, 1, 5, 5), group=8, pads=(2, 2, 2, 2))
conv("depthwise-asym-dil", (1, 5, 7, 8), (5, 1, 5, 3), group=5, pads=(2, 0, 1, 2), dilations=(1, 2), bias=False,
     const_w=False)
conv("pointwise", (1, 5, 6, 7), (9, 5, 1, 1))
conv("pointwise-stride", (1, 5, 6, 7), (9, 5, 1, 1), strides=(2, 2), bias=False)
conv("pointwise-lanes", (1, 17, 5, 41), (24, 17, 1, 1))
conv("pointwise-grouped-stride", (2, 8, 9, 11), (32, 4, 1, 1), strides=(2, 3), group=2)
conv("stem-7x7", (1, 3, 17, 19), (7, 3, 7, 7), strides=(2, 2), pads=(3, 3, 3, 3))
conv("dilated", (1, 4, 12, 13), (6, 4, 3, 3), pads=(2, 2, 2, 2), dilations=(2, 2))
conv("runtime-weights", (1, 4, 8, 8), (6, 4, 3, 3), pads=(0, 2, 1, 0), const_w=False)
conv("oc16", (1, 5, 9, 11), (16, 5, 3, 3), pads=(1, 1, 1, 1))
conv("oc32-5x5-asym", (1, 3, 20, 45), (32, 3, 5, 5), strides=(2, 2), pads=(2, 1, 2, 3))
conv("oc24-grouped-dil", (2, 6, 8, 70), (24, 3, 3, 3), pads=(1, 2, 0, 1), dilations=(1, 2), group=2, bias=False)
conv("oc33", (1, 7, 6, 6), (33, 7, 3, 3), pads=(1, 1, 1, 1))
conv("long-kernel-row", (1, 2, 5, 40), (3, 2, 1, 20), pads=(0, 3, 0, 3))
conv("1d", (1, 3, 17), (4, 3, 5), pads=(2, 1))
conv("1d-stride", (2, 5, 13), (7, 5, 3), strides=(2,), pads=(1, 0))
conv("1d-grouped-dil", (1, 4, 20), (4, 2, 5), pads=(4, 4), dilations=(2,), group=2, bias=False, const_w=False)
conv("3d", (1, 2, 5, 6, 4), (3, 2, 2, 3, 2), bias=False)
conv("3d-grouped-stride", (1, 4, 6, 5, 9), (6, 2, 2, 3, 1), strides=(2, 1, 2), pads=(1, 0, 0, 0, 2, 1),
     dilations=(2, 1, 1), group=2, const_w=False)


def conv_t(name, x, w, *, strides=None, pads=None, dilations=None, output_padding=None, group=1, bias=True):
    sp = len(x) - 2
    ins = [rand(*x, key=name), c(rand(*w, key=name, scale=0.3))]
    if bias:
        ins.append(c(rand(w[1] * group, key=name + "b")))
    sample("ConvTranspose", name, *ins, kernel_shape=tuple(w[2:]), strides=strides or (1,) * sp,
           pads=pads or (0,) * (2 * sp), dilations=dilations or (1,) * sp, output_padding=output_padding or (0,) * sp,
           group=group)


conv_t("stride-pad-outpad", (1, 4, 5, 6), (4, 3, 3, 3), strides=(2, 2), pads=(1, 1, 1, 1), output_padding=(1, 1))
conv_t("grouped-dil-asym", (1, 4, 4, 5), (4, 2, 2, 3), group=2, dilations=(2, 1), pads=(0, 1, 1, 0), bias=False)
conv_t("grouped-stride3", (2, 4, 5, 6), (4, 2, 3, 2), strides=(3, 2), pads=(0, 1, 2, 0), dilations=(2, 1),
       output_padding=(0, 1), group=2, bias=False)
conv_t("kernel-eq-stride", (1, 24, 10, 12), (24, 24, 2, 2), strides=(2, 2))
conv_t("kernel-eq-stride-depthwise", (2, 40, 5, 7), (40, 1, 2, 2), strides=(2, 2), group=40)
conv_t("kernel-eq-stride-3x2", (1, 16, 6, 5), (16, 20, 3, 2), strides=(3, 2), bias=False)
conv_t("stride1", (1, 3, 5, 4), (3, 2, 3, 3))
conv_t("1d", (1, 4, 7), (4, 3, 4), strides=(2,), pads=(1, 2))
conv_t("3d", (1, 2, 3, 4, 3), (2, 3, 3, 2, 3), strides=(2, 1, 3), pads=(1, 0, 1, 0, 1, 1), dilations=(1, 2, 1),
       output_padding=(1, 0, 0))

# -- pooling ------------------------------------------------------------------------------------


def pool(op, name, x, k, s=None, pads=None, d=None, dtype="float32", **attrs):
    sp = len(x) - 2
    xs = rand(*x, key=name, scale=3.0) if dtype == "float32" else ints(*x, lo=-50, hi=50, dtype=dtype)
    sample(op, name, xs, kernel_shape=k, strides=s or (1,) * sp, pads=pads or (0,) * (2 * sp), dilations=d or (1,) * sp,
           **attrs)


for _op, _extra in [("MaxPool", [{}]), ("AveragePool", [{"count_include_pad": 0}, {"count_include_pad": 1}])]:
    for _e in _extra:
        _sfx = "-incl" if _e.get("count_include_pad") else ""
        pool(_op, "3x3-s2-pad" + _sfx, (1, 3, 9, 9), (3, 3), (2, 2), (1, 1, 1, 1), **_e)
        pool(_op, "ceil-asym" + _sfx, (2, 3, 9, 11), (3, 3), (2, 2), (1, 0, 1, 1), ceil_mode=1, **_e)
        pool(_op, "2x2-s2" + _sfx, (1, 5, 8, 8), (2, 2), (2, 2), **_e)
        pool(_op, "1d-ceil" + _sfx, (2, 3, 12), (3,), (2,), (1, 1), ceil_mode=1, **_e)
        pool(_op, "1d-asym" + _sfx, (1, 2, 11), (4,), (3,), (1, 2), **_e)
        pool(_op, "3d-ceil" + _sfx, (1, 2, 5, 6, 7), (2, 3, 2), (2, 1, 2), (1, 1, 0, 0, 1, 1), ceil_mode=1, **_e)
        pool(_op, "wide-rows" + _sfx, (1, 4, 23, 111), (3, 3), (2, 2), **_e)
        pool(_op, "stride5" + _sfx, (1, 2, 8, 21), (2, 2), (5, 5), **_e)
        pool(_op, "5x5-s4-ceil" + _sfx, (1, 2, 8, 21), (5, 5), (4, 4), (2, 2, 2, 2), ceil_mode=1, **_e)
        pool(_op, "13x13-ceil" + _sfx, (1, 2, 13, 13), (3, 3), (2, 2), ceil_mode=1, **_e)
        pool(_op, "5x2-s1-asym" + _sfx, (1, 3, 9, 40), (5, 2), (1, 1), (2, 1, 2, 0), **_e)
        pool(_op, "dilated" + _sfx, (1, 3, 10, 9), (3, 2), (1, 2), (0, 1, 2, 0), d=(2, 1), **_e)
        pool(_op, "dilated-ceil" + _sfx, (1, 2, 17, 70), (3, 5), (3, 4), (1, 2, 2, 3), d=(2, 2), ceil_mode=1, **_e)
        pool(_op, "3d-dilated" + _sfx, (1, 2, 5, 6, 7), (2, 3, 2), (2, 1, 2), (1, 1, 0, 0, 1, 1), d=(1, 2, 1),
             ceil_mode=1, **_e)
pool("MaxPool", "ceil-dil-asym", (2, 2, 10, 11), (2, 3), (2, 2), (0, 1, 1, 0), (2, 1), ceil_mode=1)
pool("AveragePool", "incl-ceil-asym", (1, 2, 10, 7), (3, 2), (2, 2), (1, 0, 1, 1), ceil_mode=1, count_include_pad=1)
pool("MaxPool", "int64", (1, 3, 7, 8), (3, 3), (2, 2), (1, 1, 1, 1), dtype="int64")
_nan = rand(1, 2, 9, 37, scale=3.0)
_nan[0, 1, 4, 20] = np.nan
sample("MaxPool", "nan", _nan, kernel_shape=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), dilations=(1, 1))

for _op in ["GlobalAveragePool", "GlobalMaxPool"]:
    sample(_op, "2d", rand(2, 5, 6, 7))
    sample(_op, "2d-narrow", rand(2, 5, 7, 3))
    sample(_op, "1d", rand(1, 3, 11))
    sample(_op, "lanes", rand(1, 33, 3, 5))
    sample(_op, "3d", rand(1, 3, 2, 3, 4))

# -- normalization ----------------------------------------------------------------------------

sample("BatchNormalization", "const", rand(2, 4, 3, 5), c(pos(4)), c(rand(4)), c(rand(4, key="m")), c(pos(4, key="v")),
       epsilon=1e-3)
sample("BatchNormalization", "runtime", rand(2, 3, 5, 4), pos(3), rand(3), rand(3, key="m"), pos(3, key="v"))
sample("BatchNormalization", "1d-lanes", rand(2, 17, 9), c(pos(17)), c(rand(17)), c(rand(17, key="m")),
       c(pos(17, key="v")))
sample("BatchNormalization", "2d", rand(5, 7), c(pos(7)), c(rand(7)), c(rand(7, key="m")), c(pos(7, key="v")))
sample("InstanceNormalization", "2d", rand(2, 3, 4, 5), c(pos(3)), c(rand(3)))
sample("InstanceNormalization", "1d-runtime", rand(1, 5, 17), pos(5), rand(5))
sample("InstanceNormalization", "3d-lanes", rand(1, 17, 2, 3, 4), c(pos(17)), c(rand(17)), epsilon=1e-3)
sample("LRN", "size3", rand(1, 7, 4, 5), size=3, alpha=0.01, beta=0.75, bias=1.0)
sample("LRN", "even", rand(1, 6, 3, 3), size=4)
for _size in (1, 3, 4, 5):
    sample("LRN", f"size{_size}-bias2", rand(2, 7, 5, 4), size=_size, alpha=0.01, beta=0.75, bias=2.0)
sample("LRN", "size5-lanes", rand(1, 17, 3, 5), size=5, alpha=0.02, beta=0.6, bias=1.5)
sample("LayerNormalization", "last-axis", rand(2, 3, 8), c(pos(8)), c(rand(8)), n_outputs=1)
sample("LayerNormalization", "stats", rand(2, 3, 4, 5), c(pos(4, 5)), axis=2, epsilon=1e-3)
sample("LayerNormalization", "axis1-runtime", rand(2, 3, 4, 5), pos(3, 4, 5), rand(3, 4, 5), axis=1, n_outputs=1)
sample("LayerNormalization", "neg-axis-bcast-scale", rand(4, 6, 5), c(pos(1, 5)), axis=-2, n_outputs=1)
sample("LayerNormalization", "lanes", rand(3, 33), c(pos(33)), c(rand(33)), n_outputs=1)

for _op in ["Softmax", "LogSoftmax"]:
    sample(_op, "axis1", rand(3, 10, scale=5.0), axis=1)
    sample(_op, "axis0", rand(4, 3, 5, scale=5.0), axis=0)
    sample(_op, "middle", rand(2, 3, 5, scale=5.0), axis=1)
    sample(_op, "neg-axis", rand(2, 3, 5, scale=5.0), axis=-1)
    sample(_op, "wide", rand(3, 1000, scale=5.0), axis=1)
    sample(_op, "1d", rand(37, scale=5.0), axis=0)
    sample(_op, "2d-axis0", rand(4, 7, scale=5.0), axis=0)
    sample(_op, "5d", rand(2, 1, 3, 4, 5, scale=5.0), axis=-3)

# -- reductions ---------------------------------------------------------------------------------

_REDUCE = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
           "ReduceSumSquare", "ReduceLogSumExp", "ReduceLogSum"]
_AXES = {"inner-keep": ((1, 3), 1), "first": ((0,), 0), "all": ((0, 1, 2, 3), 0), "last-keep": ((3,), 1),
         "neg": ((-2,), 1)}
for _op in _REDUCE:
    for _name, (_axes, _keep) in _AXES.items():
        if _op == "ReduceProd":
            _x = pos(2, 7, 5, 4, lo=0.8, hi=1.2)
        elif _op == "ReduceLogSum":
            _x = pos(2, 7, 5, 4)
        else:
            _x = rand(2, 7, 5, 4, scale=1.5)
        sample(_op, _name, _x, axes=_axes, keepdims=_keep)
    sample(_op, "1d-lanes", pos(65) if _op == "ReduceLogSum" else rand(65, scale=0.5), axes=(0,), keepdims=0)
    sample(_op, "5d", pos(2, 3, 2, 3, 5) if _op == "ReduceLogSum" else rand(2, 3, 2, 3, 5, scale=0.7), axes=(1, 4))
for _op in ["ReduceSum", "ReduceMax", "ReduceMin"]:
    sample(_op, "int64", np.arange(24, dtype=np.int64).reshape(2, 3, 4) - 7, axes=(1,))

for _op in ["ArgMax", "ArgMin"]:
    # values rounded: ties, so which index wins (first, or last with select_last_index) matters
    _t = np.round(rand(3, 6, 5, scale=2.0))
    sample(_op, "ties-axis1", _t, axis=1)
    sample(_op, "ties-last-nokeep", _t, axis=-1, keepdims=0, select_last_index=1)
    sample(_op, "ties-axis0-last", _t, axis=0, select_last_index=1)
    sample(_op, "1d", rand(37), axis=0, keepdims=0)
    sample(_op, "int64", ints(4, 9), axis=1)
    sample(_op, "5d", rand(2, 3, 2, 3, 4), axis=-2)

# -- dense ----------------------------------------------------------------------------------------

sample("Gemm", "bias", rand(3, 5), c(rand(5, 4)), c(rand(4)))
sample("Gemm", "trans-alpha-beta", rand(5, 3), c(rand(4, 5)), c(rand(3, 4)), transA=1, transB=1, alpha=0.5, beta=2.0)
sample("Gemm", "transB-bias", rand(3, 7), c(rand(5, 7)), c(rand(5)), transB=1, alpha=0.5, beta=2.0)
sample("Gemm", "transA-runtime-col-bias", rand(7, 3), rand(7, 5), c(rand(3, 1)), transA=1)
sample("Gemm", "wide", rand(1, 300), c(rand(300, 1000, scale=0.1)), c(rand(1000)))
sample("Gemm", "beta0", rand(5, 9), c(rand(9, 17)), c(rand(5, 17)), beta=0.0)
sample("Gemm", "no-c", rand(3, 5), rand(5, 2))
sample("Gemm", "no-c-2x4x3", rand(2, 4), rand(4, 3))
sample("Gemm", "tiles-tail", rand(8, 33), c(rand(33, 37)), c(rand(37)), alpha=0.5)
sample("Gemm", "runtime-b-full-c", rand(12, 5), rand(5, 70), c(rand(12, 70)), beta=1.5)
sample("MatMul", "batched-2d", rand(2, 3, 4), rand(4, 5))
sample("MatMul", "bcast", rand(2, 1, 3, 4), rand(3, 4, 2))
sample("MatMul", "bcast-4d", rand(2, 3, 4, 6), rand(3, 6, 5))
sample("MatMul", "vec-mat", rand(4), rand(2, 4, 3))
sample("MatMul", "vec-batched", rand(6), rand(2, 6, 5))
sample("MatMul", "mat-vec-2d", rand(4, 6), rand(6))
sample("MatMul", "mat-vec", rand(2, 3, 4), rand(4))
sample("MatMul", "vec-vec", rand(6), rand(6))
sample("MatMul", "2d", rand(1, 9), rand(9, 13))
sample("MatMul", "bcast-5d", rand(5, 1, 2, 3), rand(4, 3, 7))
sample("MatMul", "const-b-lanes", rand(3, 8), c(rand(8, 33)))
sample("MatMul", "batched-runtime", rand(3, 8, 33), rand(3, 33, 37))

# -- fused ----------------------------------------------------------------------------------------


def fused_conv(name, x, w, epilogue, extras, *, strides=None, pads=None, dilations=None, group=1):
    """``extras``: "c" a constant per-channel vector, a tuple a runtime tensor of that shape."""
    sp = len(x) - 2
    ins = [rand(*x, key=name), c(rand(*w, key=name, scale=0.3))]
    for i, e in enumerate(extras):
        ins.append(rand(*e, key=f"{name}{i}") if isinstance(e, tuple) else c(rand(w[0], key=f"{name}{i}")))
    sample("FusedConv", name, *ins, kernel_shape=tuple(w[2:]), strides=strides or (1,) * sp,
           pads=pads or (0,) * (2 * sp), dilations=dilations or (1,) * sp, group=group, epilogue=epilogue)


_P1 = (1, 1, 1, 1)
fused_conv("bias-relu", (1, 3, 8, 9), (4, 3, 3, 3), (("bias",), ("relu",)), ["c"], pads=_P1)
fused_conv("bias-add-relu", (1, 4, 9, 10), (6, 4, 3, 3), (("bias",), ("add",), ("relu",)), ["c", (1, 6, 9, 10)], pads=_P1)
fused_conv("prelu", (1, 4, 9, 10), (6, 4, 3, 3), (("prelu",),), ["c"], pads=_P1)
fused_conv("bias-relu-6ch", (1, 4, 9, 10), (6, 4, 3, 3), (("bias",), ("relu",)), ["c"], pads=_P1)
fused_conv("scale-shift-relu-no-bias", (1, 4, 9, 10), (6, 4, 3, 3), (("scale",), ("shift",), ("relu",)), ["c", "c"],
           pads=_P1)
fused_conv("selu-tanh", (1, 4, 9, 10), (6, 4, 3, 3), (("selu", 1.6, 1.05), ("tanh",)), [], pads=_P1)
fused_conv("relu-gap", (1, 4, 9, 10), (6, 4, 3, 3), (("relu",), ("global_avg_pool",)), [], pads=_P1)
fused_conv("pointwise-residual", (1, 5, 6, 7), (8, 5, 1, 1), (("bias",), ("add",), ("relu",)), ["c", (1, 8, 6, 7)])
fused_conv("depthwise-plane-clip6", (1, 4, 7, 6), (4, 1, 3, 3), (("bias",), ("clip", 0.0, 6.0)), ["c"], pads=_P1, group=4)
fused_conv("scale-shift-relu", (1, 3, 8, 9), (4, 3, 3, 3), (("bias",), ("scale",), ("relu",), ("shift",)), ["c", "c", "c"],
           pads=_P1)
fused_conv("leaky-clip6", (1, 4, 9, 10), (6, 4, 3, 3), (("leaky_relu", 0.2), ("clip", 0.0, 6.0)), [], pads=_P1)
fused_conv("clip-max-sigmoid", (1, 4, 9, 10), (6, 4, 3, 3), (("clip", None, 0.5), ("sigmoid",)), [], pads=_P1)
fused_conv("silu-hard-sigmoid", (1, 4, 9, 10), (6, 4, 3, 3), (("silu",), ("hard_sigmoid", 0.3, 0.4)), [], pads=_P1)
fused_conv("hard-swish-elu", (1, 4, 9, 10), (6, 4, 3, 3), (("hard_swish",), ("elu", 0.7)), [], pads=_P1)
fused_conv("sigmoids-stride", (1, 2, 6, 6), (3, 2, 3, 3),
           (("sigmoid",), ("hard_sigmoid", 0.2, 0.5), ("selu", 1.6, 1.05), ("tanh",)), [], strides=(2, 2))
fused_conv("res-clip-maxpool", (1, 3, 8, 8), (4, 3, 3, 3),
           (("bias",), ("add",), ("clip", 0.0, 6.0), ("max_pool", (2, 2), (2, 2), (0, 0, 0, 0), 0)), ["c", (1, 4, 8, 8)],
           pads=_P1)
fused_conv("maxpool-pad", (1, 4, 9, 10), (6, 4, 3, 3), (("bias",), ("relu",), ("max_pool", (3, 3), (2, 2), _P1, 0)), ["c"],
           pads=_P1)
fused_conv("avgpool-incl", (1, 4, 9, 10), (6, 4, 3, 3), (("bias",), ("avg_pool", (2, 2), (2, 2), (0, 0, 1, 1), 1, 0)),
           ["c"], pads=_P1)
fused_conv("grouped-prelu-avgpool", (1, 4, 9, 9), (6, 2, 3, 3),
           (("prelu",), ("avg_pool", (3, 3), (2, 2), _P1, 1, 0)), ["c"], group=2)
fused_conv("grouped-stride-maxpool-ceil", (1, 4, 11, 12), (6, 2, 3, 3),
           (("bias",), ("relu",), ("max_pool", (2, 2), (2, 2), (0, 0, 0, 0), 1)), ["c"], strides=(2, 2),
           pads=(0, 1, 1, 0), group=2)
fused_conv("pointwise-acts-gap", (1, 3, 7, 7), (5, 3, 1, 1),
           (("bias",), ("leaky_relu", 0.1), ("hard_swish",), ("silu",), ("elu", 0.5), ("global_avg_pool",)), ["c"])
fused_conv("pointwise-residual-lanes", (1, 17, 6, 7), (24, 17, 1, 1), (("bias",), ("add",), ("relu",)),
           ["c", (1, 24, 6, 7)])
fused_conv("depthwise-stride-residual", (1, 8, 14, 14), (8, 1, 3, 3), (("bias",), ("add",), ("relu",)),
           ["c", (1, 8, 7, 7)], strides=(2, 2), pads=_P1, group=8)
fused_conv("oc50-pointwise-maxpool", (1, 16, 6, 6), (50, 16, 1, 1),
           (("bias",), ("relu",), ("max_pool", (3, 3), (2, 2), (0, 0, 0, 0), 1)), ["c"])
fused_conv("1d-bias-tanh", (2, 5, 13), (7, 5, 3), (("bias",), ("tanh",)), ["c"], strides=(2,), pads=(1, 0))
fused_conv("dilated-asym-relu", (1, 4, 12, 13), (6, 4, 3, 3), (("bias",), ("relu",)), ["c"], pads=(2, 1, 0, 2),
           dilations=(2, 2))


def fused_gemm(name, m, k, n, epilogue, extras, *, transA=0, transB=1, alpha=1.0, const_b=True):
    """``extras``: "n" a constant (N,) vector, "mn" a runtime (M, N) tensor."""
    a = rand(k, m, key=name) if transA else rand(m, k, key=name)
    b = rand(n, k, key=name + "b") if transB else rand(k, n, key=name + "b")
    ins = [a, c(b) if const_b else b]
    for i, e in enumerate(extras):
        ins.append(rand(m, n, key=f"{name}{i}") if e == "mn" else c(rand(n, key=f"{name}{i}")))
    sample("FusedGemm", name, *ins, alpha=alpha, transA=transA, transB=transB, epilogue=epilogue)


fused_gemm("bias-relu", 3, 6, 5, (("bias",), ("relu",)), ["n"])
fused_gemm("alpha-add-prelu-clip", 3, 6, 5, (("add",), ("prelu",), ("clip", None, 0.3)), ["mn", "n"], alpha=0.5)
fused_gemm("scale-shift-sigmoid", 4, 33, 17, (("bias",), ("scale",), ("shift",), ("sigmoid",)), ["n", "n", "n"],
           transB=0)
fused_gemm("transA-runtime-b-acts", 5, 7, 9, (("leaky_relu", 0.1), ("hard_swish",), ("tanh",)), [], transA=1,
           const_b=False)
fused_gemm("wide-silu-elu-selu", 1, 120, 100, (("bias",), ("silu",), ("elu", 0.5), ("selu", 1.6, 1.05)), ["n"])
fused_gemm("hard-sigmoid", 2, 8, 16, (("hard_sigmoid", 0.3, 0.4),), [])
for _tb in (0, 1):
    fused_gemm(f"alpha-bias-relu-tb{_tb}", 3, 17, 11, (("bias",), ("relu",)), ["n"], transB=_tb, alpha=0.5)
    fused_gemm(f"alpha-bias-add-sigmoid-tb{_tb}", 3, 17, 11, (("bias",), ("add",), ("sigmoid",)), ["n", "mn"],
               transB=_tb, alpha=0.5)
    fused_gemm(f"alpha-prelu-clip-tb{_tb}", 3, 17, 11, (("prelu",), ("clip", -0.1, 0.2)), ["n"], transB=_tb,
               alpha=0.5)

# -- data movement ----------------------------------------------------------------------------

sample("Concat", "axis1", rand(2, 3, 4), rand(2, 1, 4), rand(2, 2, 4), axis=1)
sample("Concat", "neg-axis", rand(2, 3), rand(2, 5), axis=-1)
sample("Concat", "axis0-const", rand(2, 3, 4, 5), c(rand(1, 3, 4, 5)), axis=0)
sample("Concat", "axis3-repeated", rand(2, 3, 4, 5), rand(2, 3, 4, 2), rand(2, 3, 4, 5, key="b"), axis=3)
sample("Concat", "neg-axis-4d", rand(2, 3, 4, 5), rand(2, 3, 2, 5), axis=-2)
for _axis in (0, 1, 3, -2):  # the middle input a different length on the axis
    _shape = [2, 3, 4, 5]
    _shape[_axis] = 2
    _a = rand(2, 3, 4, 5, key="concat")
    sample("Concat", f"4d-axis{_axis}", _a, rand(*_shape), _a, axis=_axis)
sample("Concat", "one-input", rand(3, 7), axis=0)
sample("Concat", "int64-1d", ints(3), ints(5, key="b"), axis=0)
sample("Concat", "5d-lanes", rand(1, 17, 2, 3, 1), rand(1, 16, 2, 3, 1), axis=1)
sample("Split", "uneven", rand(2, 7, 3), axis=1, split=(2, 4, 1))
sample("Split", "last-axis", rand(2, 3, 4, 5), axis=3, split=(2, 3))
sample("Split", "axis1", rand(2, 3, 4, 5), axis=1, split=(1, 2))
sample("Split", "axis0", rand(2, 3, 4, 5), axis=0, split=(1, 1))
sample("Split", "neg-axis", rand(2, 9, 4), axis=-2, split=(4, 5))
sample("Split", "1d-int64", ints(11), axis=0, split=(3, 3, 5))
sample("Slice", "neg-step", rand(5, 6, 7), starts=(1, 6), ends=(4, 0), axes=(0, 2), steps=(2, -2))
sample("Slice", "neg-step-to-start", rand(6, 4), starts=(5,), ends=(-1,), axes=(0,), steps=(-1,))
sample("Slice", "neg-ends-steps", rand(2, 3, 4, 5), starts=(1, 3), ends=(-1, 0), axes=(1, 2), steps=(-1, -2))
sample("Slice", "step2", rand(2, 3, 4, 5), starts=(0, 1), ends=(2, 5), axes=(1, 3), steps=(1, 2))
sample("Slice", "one", rand(2, 3, 4, 5), starts=(1,), ends=(2,), axes=(0,), steps=(1,))
sample("Slice", "reverse-last", rand(2, 3, 4, 5), starts=(4,), ends=(-1,), axes=(3,), steps=(-1,))
# the op table's Slice takes bounds the frontend has normalized (clamped, axes >= 0)
sample("Slice", "step3-unordered-axes", rand(3, 9, 4), starts=(2, 0), ends=(7, 3), axes=(1, 0), steps=(3, 1))
sample("Slice", "5d-int64", ints(2, 3, 4, 5, 6), starts=(1, 0), ends=(3, 6), axes=(2, 4), steps=(1, 4))
sample("Reshape", "2d", rand(2, 3, 4), shape=(6, 4))
sample("Reshape", "to-1d", rand(1, 3, 4, 5), shape=(60,))
sample("Reshape", "to-5d", rand(6, 10), shape=(1, 2, 3, 2, 5))
sample("Reshape", "4d-to-2d", rand(1, 3, 4, 5), shape=(6, 10))
sample("Reshape", "int64", ints(4, 6), shape=(2, 12))
sample("Flatten", "axis2", rand(2, 3, 4, 5), axis=2)
sample("Flatten", "axis0", rand(2, 3, 4), axis=0)
sample("Flatten", "neg-axis", rand(2, 3, 4, 5), axis=-1)
sample("Flatten", "default", rand(1, 3, 4, 5))
sample("Squeeze", "two", rand(1, 3, 1, 4), axes=(0, 2))
sample("Squeeze", "neg", rand(2, 3, 1), axes=(-1,))
sample("Squeeze", "one", rand(1, 3, 4, 5), axes=(0,))
sample("Unsqueeze", "two", rand(3, 4), axes=(0, 3))
sample("Unsqueeze", "neg", rand(3, 4), axes=(-1,))
sample("Unsqueeze", "to-5d", rand(1, 3, 4, 5), axes=(0, 3))
sample("Transpose", "nhwc", rand(2, 3, 4, 5), perm=(0, 2, 3, 1))
sample("Transpose", "reverse", rand(2, 3, 4, 5), perm=(3, 2, 1, 0))
sample("Transpose", "last-two", rand(2, 3, 4, 5), perm=(0, 1, 3, 2))
sample("Transpose", "2d-lanes", rand(33, 17), perm=(1, 0))
sample("Transpose", "5d", rand(2, 1, 3, 4, 5), perm=(4, 0, 2, 1, 3))
sample("Transpose", "int64", ints(3, 4, 5), perm=(2, 0, 1))
sample("Expand", "bcast-rank-up", rand(3, 1), shape=(2, 3, 4))
sample("Expand", "middle", rand(3, 1, 5), shape=(2, 3, 4, 5))
sample("Expand", "same", rand(3, 1), shape=(3, 1))
sample("Expand", "shape-ones", rand(2, 3), shape=(1, 1))
sample("Expand", "bool", bools(1, 5), shape=(3, 5))
sample("Tile", "2d", rand(2, 3), repeats=(2, 3))
sample("Tile", "3d", rand(3, 1, 5), repeats=(2, 3, 1))
sample("Tile", "1d-int64", ints(7), repeats=(3,))

_PAD_MODES = ["constant", "reflect", "edge", "wrap"]
for _mode in _PAD_MODES:
    sample("Pad", f"{_mode}-asym", rand(1, 2, 4, 5), pads=(0, 0, 2, 1, 0, 0, 1, 3), mode=_mode, value=1.5)
    sample("Pad", f"{_mode}-crop-mixed", rand(2, 3, 4, 5), pads=(0, 1, -1, 2, 0, 2, 1, -1), mode=_mode, value=1.5)
    sample("Pad", f"{_mode}-3d", rand(2, 6, 5), pads=(0, 1, 2, 1, 0, 3), mode=_mode)
for _mode in _PAD_MODES:
    sample("Pad", f"{_mode}-4d", rand(2, 3, 4, 5), pads=(0, 1, 2, 0, 0, 0, 1, 3), mode=_mode, value=1.5)
sample("Pad", "constant-pads-1-2-2-1", rand(1, 2, 4, 5), pads=(0, 0, 1, 2, 0, 0, 2, 1), value=1.5)
sample("Pad", "constant-crop", rand(2, 6, 5), pads=(0, -1, 2, 0, 2, -1))
sample("Pad", "constant-1d", rand(37), pads=(3, 4), value=-2.0)
sample("Pad", "constant-int64", ints(3, 4), pads=(1, 0, 0, 2), value=7)
sample("Pad", "constant-5d", rand(1, 2, 3, 2, 3), pads=(0, 0, 1, 0, 1, 0, 0, 0, 1, 1))

_X4 = rand(2, 3, 4, 5)
for _mode, _ctm in [("nearest", "half_pixel"), ("nearest", "asymmetric"), ("nearest", "align_corners"),
                    ("nearest", "pytorch_half_pixel"), ("linear", "half_pixel"), ("linear", "align_corners"),
                    ("linear", "pytorch_half_pixel"), ("linear", "asymmetric"), ("cubic", "half_pixel"),
                    ("cubic", "align_corners"), ("cubic", "asymmetric")]:
    for _tag, _sizes in [("up", (2, 3, 7, 9)), ("down", (2, 3, 3, 2))]:
        _scales = tuple(o / i for o, i in zip(_sizes, _X4.shape))
        sample("Resize", f"{_mode}-{_ctm}-{_tag}", _X4, mode=_mode, coordinate_transformation_mode=_ctm, sizes=_sizes,
               scales=_scales)
for _nm in ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]:
    sample("Resize", f"nearest-mode-{_nm}", rand(1, 2, 3, 4), sizes=(1, 2, 7, 8), scales=(1.0, 1.0, 7 / 3, 2.0),
           nearest_mode=_nm)
sample("Resize", "linear-align-corners-mixed", rand(1, 2, 4, 5), mode="linear",
       coordinate_transformation_mode="align_corners", sizes=(1, 2, 7, 3), scales=(1.0, 1.0, 1.75, 0.6))
sample("Resize", "linear-half-pixel-x2", rand(1, 1, 3, 3), mode="linear", sizes=(1, 1, 6, 6), scales=(1.0, 1.0, 2.0, 2.0))
sample("Resize", "cubic-up-down", rand(1, 2, 5, 6), mode="cubic", sizes=(1, 2, 9, 4), scales=(1.0, 1.0, 1.8, 2 / 3))
sample("Resize", "nearest-crop-out", rand(1, 1, 5, 6), coordinate_transformation_mode="tf_crop_and_resize",
       roi=(0.0, 0.0, -0.2, 0.1, 1.0, 1.0, 0.9, 1.3), sizes=(1, 1, 4, 5), scales=(1.0, 1.0, 0.8, 5 / 6))
sample("Resize", "cubic-exclude", rand(1, 1, 4, 4), mode="cubic", exclude_outside=1, cubic_coeff_a=-0.5,
       sizes=(1, 1, 7, 7), scales=(1.0, 1.0, 1.75, 1.75))
for _mode in ["nearest", "linear", "cubic"]:
    sample("Resize", f"{_mode}-crop", rand(1, 2, 5, 6), mode=_mode, coordinate_transformation_mode="tf_crop_and_resize",
           roi=(0.0, 0.0, 0.2, -0.3, 1.0, 1.0, 1.4, 0.9), extrapolation_value=7.0, sizes=(1, 2, 4, 5),
           scales=(1.0, 1.0, 0.8, 5 / 6))
sample("Resize", "linear-crop-out", rand(1, 1, 5, 6), mode="linear", coordinate_transformation_mode="tf_crop_and_resize",
       roi=(0.0, 0.0, -0.2, 0.1, 1.0, 1.0, 0.9, 1.3), extrapolation_value=-1.0, sizes=(1, 1, 4, 5),
       scales=(1.0, 1.0, 0.8, 5 / 6))
sample("Resize", "nearest-1d", rand(2, 3, 7), sizes=(2, 3, 12), scales=(1.0, 1.0, 12 / 7))
sample("Upsample", "nearest", rand(1, 2, 3, 3), scales=(1.0, 1.0, 2.0, 3.0))
sample("Upsample", "nearest-4d", _X4, mode="nearest", scales=(1, 1, 2, 3))
sample("Upsample", "linear", _X4, mode="linear", scales=(1, 1, 2, 3))

_X = rand(2, 3, 4, 5)
sample("Gather", "const-2d-neg", rand(5, 4), c(np.array([[0, -1], [3, 2]], dtype=np.int64)), axis=0)
sample("Gather", "const-axis1", rand(2, 5, 3), c(np.array([4, 0, -2], dtype=np.int64)), axis=1)
sample("Gather", "const-axis2-4d", _X, c(np.array([[2, -1], [0, 0]], np.int64)), axis=2)
sample("Gather", "runtime-neg", _X, np.array([2, -1, 0], np.int64), axis=1)
sample("Gather", "runtime-int32-last", _X, np.array([1, 0], np.int32), axis=3)
sample("Gather", "scalar-index", _X, np.array(1, np.int64), axis=0)
sample("Gather", "neg-axis", _X, c(np.array([3, 0, 1], np.int64)), axis=-1)
sample("Gather", "int64-data", ints(6, 3), np.array([5, 0, -6], np.int64), axis=0)

sample("DepthToSpace", "DCR", rand(1, 8, 2, 3), blocksize=2)
sample("DepthToSpace", "CRD", rand(2, 12, 2, 2), blocksize=2, mode="CRD")
sample("DepthToSpace", "DCR-b3", rand(1, 18, 3, 2), blocksize=3)
for _mode in ["DCR", "CRD"]:
    sample("DepthToSpace", f"{_mode}-4d", rand(2, 8, 4, 6), blocksize=2, mode=_mode)
    sample("SpaceToDepth", f"{_mode}-4d", rand(2, 3, 4, 6), blocksize=2, mode=_mode)
sample("SpaceToDepth", "b2", rand(1, 3, 4, 6), blocksize=2)
sample("SpaceToDepth", "b3", rand(2, 5, 6, 3), blocksize=3)

# -- compile-time values ---------------------------------------------------------------------------

sample("ConstantOfShape", "float", shape=(2, 3), value=0.25)
sample("ConstantOfShape", "int64", shape=(4,), value=3, dtype="int64")
sample("ConstantOfShape", "5d", shape=(1, 2, 1, 3, 2), value=-1.5)
sample("Shape", "4d", rand(2, 3, 4, 5))
sample("Shape", "range", rand(2, 3, 4, 5), start=1, end=-1)
sample("Shape", "neg-start", rand(2, 3, 4), start=-2)
sample("Shape", "int64-1d", ints(7))
sample("Size", "3d", rand(2, 3, 4))
sample("Size", "bool", bools(5, 7))
sample("Range", "int", start=2, limit=11, delta=3)
sample("Range", "int-neg-delta", start=10, limit=-3, delta=-4)
sample("Range", "float", start=0.5, limit=2.0, delta=0.25, dtype="float32")
