"""Single-op graphs and a comparison against the reference backend."""

from __future__ import annotations

import numpy as np

from cnncc.backends import llvm
from cnncc.backends.reference import interpret
from cnncc.ir import Graph, Node, TensorType, Value
from cnncc.ops import get_op, infer_types

RTOL, ATOL = 1e-3, 1e-4


def op_graph(op: str, inputs: list, attrs: dict | None = None, n_outputs: int | None = None) -> tuple[Graph, dict]:
    """A graph with one ``op`` node. ``inputs``: numpy arrays (become constants when wrapped
    in ``const(...)``) -> (graph, feeds)."""
    attrs = get_op(op).normalize_attrs(attrs or {})
    vals, feeds = [], {}
    for i, x in enumerate(inputs):
        if isinstance(x, _Const):
            vals.append(Value.constant(f"c{i}", x.array))
        else:
            x = np.asarray(x)
            v = Value(f"in{i}", TensorType(x.shape, str(x.dtype)))
            vals.append(v)
            feeds[v.name] = x
    types = infer_types(op, [v.type for v in vals], attrs)
    if n_outputs is not None:
        types = types[:n_outputs]
    outs = [Value(f"out{i}", t) for i, t in enumerate(types)]
    g = Graph([v for v in vals if not v.is_constant], outs, [Node(op, vals, outs, attrs, name=f"{op.lower()}0")])
    g.validate()
    return g, feeds


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
