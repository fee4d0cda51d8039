"""Fused ops: a convolution or matrix product followed by an epilogue, computed as one kernel.

The fusion pass (``passes/fuse_conv.py``, ``passes/fuse_gemm.py``) creates them; backends
lower them. Their NumPy reference is the composition of the existing references (every step
runs the op-table reference of the op it replaced), so a backend's fused kernel is always
checked against the unfused semantics.

Encoding (backends lower from exactly this)
-------------------------------------------

``FusedConv(X, W, *extras)``, attributes ``kernel_shape, strides, pads, dilations, group``
(as ``Conv``, all explicit) plus ``epilogue``: a tuple of steps applied in order to the
bias-free convolution result ``Y = Conv(X, W)``. Each step is a tuple whose first item is its
kind; the remaining items are its parameters (Python floats/ints, tuples for windows):

=================================================================  ===========================
step                                                               meaning (reference op)
=================================================================  ===========================
``("bias",)``                   + 1 extra, shape ``(C,)``          ``Y + b[None, :, None, ...]`` (Add)
``("add",)``                    + 1 extra, shape of ``Y``          ``Y + R``, residual (Add)
``("prelu",)``                  + 1 extra, shape ``(C,)``          ``Y < 0 ? Y * s[c] : Y`` (PRelu)
``("scale",)``                  + 1 extra, shape ``(C,)``          ``Y * s[None, :, None, ...]`` (Mul)
``("shift",)``                  + 1 extra, shape ``(C,)``          ``Y + t[None, :, None, ...]`` (Add)
``("relu",)``                                                      ``max(Y, 0)`` (Relu)
``("leaky_relu", alpha)``                                          LeakyRelu
``("clip", lo, hi)``            lo/hi a float or None (unbounded)  Clip (Relu6 = ``("clip", 0.0, 6.0)``)
``("sigmoid",)``                                                   Sigmoid
``("silu",)``                                                      ``Y * sigmoid(Y)`` (Sigmoid, Mul)
``("hard_sigmoid", alpha, beta)``                                  HardSigmoid
``("hard_swish",)``                                                HardSwish
``("elu", alpha)``                                                 Elu
``("selu", alpha, gamma)``                                         Selu
``("tanh",)``                                                      Tanh
``("max_pool", kernel, strides, pads, ceil_mode)``                 MaxPool, dilations 1
``("avg_pool", kernel, strides, pads, ceil_mode, count_include_pad)``  AveragePool
``("global_avg_pool",)``                                           GlobalAveragePool
=================================================================  ===========================

``kernel``/``strides`` are tuples of one int per spatial axis, ``pads`` all begins then all
ends (ONNX order), ``ceil_mode``/``count_include_pad`` 0 or 1. ``C`` is the number of output
channels (axis 1). Rules checked by the shape function:

- the extras follow ``X, W`` in the order of the steps that take them (``bias``, ``add``,
  ``prelu``, ``scale``, ``shift``; one extra each);
- ``bias`` appears at most once and only as the first step;
- at most one pooling step, and only as the last step: every other step works on the
  convolution's output shape, so an ``add`` residual has exactly the shape of ``Conv(X, W)``.

Storage (not semantics): ``x_block`` and ``y_block`` (default 0) say that X, and Y with
its ``add`` residual, are stored blocked, NCHW[b]c: channel ``c`` of pixel ``p`` at
``((c // b) * H * W + p) * b + c % b`` (for each image), b channels per block. The llvm
backend's -O3 ``backend-layout`` pass (backends/llvm/layout_pass.py, which only the llvm
pipeline runs) sets them, to the channel count (b = C: NHWC), between 1x1 convolutions (no
transposes in its register tiles), where the backend's predicate (backends/llvm/layout.py)
allows; every value it blocks is read and written only by FusedConv nodes that agree on its
storage, and graph inputs and outputs stay NCHW, so
the reference and the TVM lowering, which ignore the two attributes, compute the same
graph outputs.

``FusedGemm(A, B, *extras)``, attributes ``alpha, transA, transB`` (as ``Gemm``, beta folded
away) plus ``epilogue`` over ``Y = alpha * op(A) @ op(B)`` of shape ``(M, N)``, with the same
step kinds except the pooling ones: ``("bias",)`` takes a ``(N,)`` vector (axis 1 again),
``("add",)`` an ``(M, N)`` tensor, ``("prelu",)`` an ``(N,)`` slope, ``("scale",)`` and
``("shift",)`` ``(N,)`` vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cnncc.errors import ShapeError
from cnncc.ir import TensorType
from cnncc.ops.nn import CONV_ATTRS, _conv_macs, _conv_types, _gemm_macs, _gemm_types, _pool_types
from cnncc.ops.registry import REQUIRED, defop, evaluate, get_op

# kind -> (number of extra inputs it takes, how its extra is shaped: "channel" or "output")
STEP_EXTRAS: dict[str, tuple[int, str | None]] = {
    "bias": (1, "channel"),
    "add": (1, "output"),
    "prelu": (1, "channel"),
    "scale": (1, "channel"),
    "shift": (1, "channel"),
    "relu": (0, None),
    "leaky_relu": (0, None),
    "clip": (0, None),
    "sigmoid": (0, None),
    "silu": (0, None),
    "hard_sigmoid": (0, None),
    "hard_swish": (0, None),
    "elu": (0, None),
    "selu": (0, None),
    "tanh": (0, None),
    "max_pool": (0, None),
    "avg_pool": (0, None),
    "global_avg_pool": (0, None),
}
# the steps that are one unary op-table op: kind -> (op, its attributes in step-parameter order)
UNARY_STEPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "relu": ("Relu", ()),
    "leaky_relu": ("LeakyRelu", ("alpha",)),
    "clip": ("Clip", ("min", "max")),
    "sigmoid": ("Sigmoid", ()),
    "hard_sigmoid": ("HardSigmoid", ("alpha", "beta")),
    "hard_swish": ("HardSwish", ()),
    "elu": ("Elu", ("alpha",)),
    "selu": ("Selu", ("alpha", "gamma")),
    "tanh": ("Tanh", ()),
    "global_avg_pool": ("GlobalAveragePool", ()),
}
# parameters after the kind, per step kind
STEP_ARITY = {kind: len(names) for kind, (_, names) in UNARY_STEPS.items()} | {"max_pool": 4, "avg_pool": 5}
POOL_STEPS = ("max_pool", "avg_pool", "global_avg_pool")


def _op(name: str, arrays: Sequence[np.ndarray], **attrs: Any) -> np.ndarray:
    """Run one op-table reference with its attributes completed from the defaults."""
    return evaluate(name, list(arrays), get_op(name).normalize_attrs(attrs))[0]


def _channel(v: np.ndarray, rank: int) -> np.ndarray:
    return v.reshape((1, -1) + (1,) * (rank - 2))


def _pool_attrs(step: tuple, sp: int) -> dict:
    attrs = {"kernel_shape": step[1], "strides": step[2], "pads": step[3], "dilations": (1,) * sp, "ceil_mode": step[4]}
    if step[0] == "avg_pool":
        attrs["count_include_pad"] = step[5]
    return attrs


def apply_step(step: tuple, y: np.ndarray, extra: np.ndarray | None) -> np.ndarray:
    """One epilogue step, as the op-table reference of the op it stands for."""
    kind, r = step[0], y.ndim
    if kind == "bias":
        return _op("Add", [y, _channel(extra, r)])
    if kind == "add":
        return _op("Add", [y, extra])
    if kind == "prelu":
        return _op("PRelu", [y, _channel(extra, r)])
    if kind == "scale":
        return _op("Mul", [y, _channel(extra, r)])
    if kind == "shift":
        return _op("Add", [y, _channel(extra, r)])
    if kind == "silu":
        return _op("Mul", [y, _op("Sigmoid", [y])])
    if kind in ("max_pool", "avg_pool"):
        return _op("MaxPool" if kind == "max_pool" else "AveragePool", [y], **_pool_attrs(step, r - 2))
    op, names = UNARY_STEPS[kind]
    return _op(op, [y], **dict(zip(names, step[1:])))


def split_extras(epilogue: Sequence[tuple], extras: Sequence[Any]) -> list[Any | None]:
    """The extra input (or None) belonging to each step, in step order."""
    out, i = [], 0
    for step in epilogue:
        n = STEP_EXTRAS[step[0]][0]
        out.append(extras[i] if n else None)
        i += n
    return out


def check_epilogue(op: str, epilogue: Sequence[tuple], pools_allowed: bool) -> int:
    """Validate the encoding; returns the number of extra inputs it takes."""
    n_extra = 0
    for i, step in enumerate(epilogue):
        if not isinstance(step, tuple) or not step or step[0] not in STEP_EXTRAS:
            raise ShapeError(f"{op}: unknown epilogue step {step!r}")
        kind = step[0]
        if len(step) != 1 + STEP_ARITY.get(kind, 0):
            raise ShapeError(f"{op}: epilogue step {step!r} needs {STEP_ARITY.get(kind, 0)} parameter(s)")
        if kind == "bias" and i != 0:
            raise ShapeError(f"{op}: 'bias' must be the first epilogue step, got {list(epilogue)}")
        if kind in POOL_STEPS and (not pools_allowed or i != len(epilogue) - 1):
            raise ShapeError(f"{op}: pooling step {kind} is only allowed last (and only in FusedConv)")
        n_extra += STEP_EXTRAS[kind][0]
    return n_extra


def _check_extras(op: str, epilogue, extras: Sequence[TensorType], y: TensorType) -> None:
    for step, t in zip(epilogue, split_extras(epilogue, extras)):
        kind = STEP_EXTRAS[step[0]][1]
        want = (y.shape[1],) if kind == "channel" else y.shape if kind == "output" else None
        if want is not None and (t.shape != want or t.dtype != y.dtype):
            raise ShapeError(f"{op}: extra input of step {step[0]} is {t}, expected {y.dtype}[{'x'.join(map(str, want))}]")


def _fused_conv_types(types, a):
    n_extra = check_epilogue("FusedConv", a.epilogue, pools_allowed=True)
    if len(types) != 2 + n_extra:
        raise ShapeError(f"FusedConv: epilogue {list(a.epilogue)} takes {n_extra} extra input(s), got {len(types) - 2}")
    (y,) = _conv_types(types[:2], a)
    _check_extras("FusedConv", a.epilogue, types[2:], y)
    if a.epilogue and a.epilogue[-1][0] in ("max_pool", "avg_pool"):
        step = a.epilogue[-1]
        from cnncc.ir import Attrs

        (y,) = _pool_types("FusedConv pool")([y], Attrs(_pool_attrs(step, y.rank - 2)))
    elif a.epilogue and a.epilogue[-1][0] == "global_avg_pool":
        y = TensorType(y.shape[:2] + (1,) * (y.rank - 2), y.dtype)
    return [y]


def _fused_conv_macs(ins, outs, a):
    (y,) = _conv_types(ins[:2], a)
    return _conv_macs(ins, [y], a)


@defop(
    "FusedConv",
    _fused_conv_types,
    attrs={**CONV_ATTRS, "epilogue": REQUIRED, "x_block": 0, "y_block": 0},
    inputs=(2, None),
    macs=_fused_conv_macs,
)
def fused_conv(a, x, w, *extras):
    """Conv then the epilogue steps, each by the reference of the op it replaced."""
    conv_attrs = {k: a[k] for k in CONV_ATTRS}
    y = _op("Conv", [x, w], **conv_attrs)
    for step, extra in zip(a.epilogue, split_extras(a.epilogue, extras)):
        y = apply_step(step, y, extra)
    return y


def _fused_gemm_types(types, a):
    n_extra = check_epilogue("FusedGemm", a.epilogue, pools_allowed=False)
    if len(types) != 2 + n_extra:
        raise ShapeError(f"FusedGemm: epilogue {list(a.epilogue)} takes {n_extra} extra input(s), got {len(types) - 2}")
    (y,) = _gemm_types(types[:2], a)
    _check_extras("FusedGemm", a.epilogue, types[2:], y)
    return [y]


@defop(
    "FusedGemm",
    _fused_gemm_types,
    attrs={"alpha": 1.0, "transA": 0, "transB": 0, "epilogue": REQUIRED},
    inputs=(2, None),
    macs=lambda ins, outs, a: _gemm_macs(ins, outs, a),
)
def fused_gemm(a, A, B, *extras):
    """Gemm (beta unused: a bias is an epilogue step) then the epilogue steps."""
    y = _op("Gemm", [A, B], alpha=a.alpha, transA=a.transA, transB=a.transB)
    for step, extra in zip(a.epilogue, split_extras(a.epilogue, extras)):
        y = apply_step(step, y, extra)
    return y


def is_map_mean(step: tuple, conv_shape: Sequence[int]) -> bool:
    """Is pooling step ``step`` on a conv result of ``conv_shape`` the mean of each channel's
    whole map (a global average pool, or an average pool whose one window is the map)?"""
    if step[0] == "global_avg_pool":
        return True
    return (step[0] == "avg_pool" and tuple(step[1]) == tuple(conv_shape[2:]) and not any(step[3])
            and step[4] == 0)


def describe_epilogue(epilogue: Sequence[tuple]) -> str:
    """Short human text, e.g. ``bias+add+relu+max_pool(3x3/2)``, for dumps and pictures."""
    parts = []
    for step in epilogue:
        kind = step[0]
        if kind in ("max_pool", "avg_pool"):
            parts.append(f"{kind}({'x'.join(map(str, step[1]))}/{'x'.join(map(str, step[2]))})")
        elif len(step) > 1:
            parts.append(f"{kind}({', '.join(f'{p:g}' if isinstance(p, float) else str(p) for p in step[1:])})")
        else:
            parts.append(kind)
    return "+".join(parts) or "(none)"
