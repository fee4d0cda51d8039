"""Single-op graphs and a comparison against the reference backend."""

from __future__ import annotations

import itertools

import numpy as np

from cnncc.backends import llvm
from cnncc.backends.reference import interpret
from cnncc.builder import GraphBuilder
from cnncc.ir import Graph

RTOL, ATOL = 1e-3, 1e-4


def op_graph(op: str, inputs: list, attrs: dict | None = None, n_outputs: int | None = None) -> tuple[Graph, dict]:
    """A graph with one ``op`` node. ``inputs``: numpy arrays (become constants when wrapped
    in ``const(...)``) -> (graph, feeds)."""
    b = GraphBuilder()
    vals, feeds = [], {}
    for i, x in enumerate(inputs):
        if isinstance(x, _Const):
            vals.append(b.const(x.array, f"c{i}"))
        else:
            x = np.asarray(x)
            vals.append(b.input(f"in{i}", x.shape, str(x.dtype)))
            feeds[vals[-1].name] = x
    outs = b.op(op, vals, attrs, name=f"{op.lower()}0", n_outputs=n_outputs, outputs=(f"out{i}" for i in itertools.count()))
    return b.build(*(outs if isinstance(outs, list) else [outs])), feeds


class _Const:
    def __init__(self, array):
        self.array = np.ascontiguousarray(array)


def const(array) -> _Const:
    return _Const(array)


def check(graph: Graph, feeds: dict, rtol: float = RTOL, atol: float = ATOL, **options):
    exe = llvm.build(graph, **options)
    got = exe.run(feeds)
    want = interpret(graph, feeds)
    for name, ref in want.items():
        out = got[name]
        assert out.shape == ref.shape and out.dtype == ref.dtype, (name, out.shape, ref.shape, out.dtype, ref.dtype)
        if out.dtype == np.float32:
            np.testing.assert_allclose(out, ref, rtol=rtol, atol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(out, ref, err_msg=name)
    return exe


def check_op(op: str, inputs: list, attrs: dict | None = None, **kw):
    g, feeds = op_graph(op, inputs, attrs)
    return check(g, feeds, **kw)


def rand(*shape, seed=0, lo=-1.0, hi=1.0):
    rng = np.random.default_rng(seed + 7 * len(shape) + sum(shape))
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def to_blocked(a: np.ndarray, b: int) -> np.ndarray:
    """NCHW -> NCHW[b]c, as a flat-compatible array of the same shape."""
    n, c, h, w = a.shape
    return np.ascontiguousarray(a.reshape(n, c // b, b, h, w).transpose(0, 1, 3, 4, 2)).reshape(a.shape)


def from_blocked(a: np.ndarray, b: int) -> np.ndarray:
    n, c, h, w = a.shape
    return np.ascontiguousarray(a.reshape(n, c // b, h, w, b).transpose(0, 1, 4, 2, 3)).reshape(a.shape)
