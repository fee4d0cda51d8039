"""The epilogue patterns shared by fuse-conv and fuse-gemm, as data.

``STEP_OF`` maps a consumer op to the epilogue step it becomes (see cnncc/ops/fused.py for the
encoding); ``grow`` is the one rule: it extends a Conv/FusedConv (Gemm/FusedGemm) by the op
that alone reads its output. Fusion never crosses a value that something else reads (another
node or a graph output); the one pattern that reads the value twice, SiLU ``y * sigmoid(y)``,
has both readers inside the pattern.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnncc.builder import make_node
from cnncc.ir import Graph, Node, Value
from cnncc.ops.fused import POOL_STEPS, UNARY_STEPS
from cnncc.passes.rewrite import Rewrite, Uses, constant, per_channel


def _param(x):
    return None if x is None else float(x)


def _unary(kind: str, names: tuple[str, ...]) -> Callable[[Node], tuple]:
    return lambda n: (kind, *(_param(n.attrs[a]) for a in names))


def _pool(kind: str) -> Callable[[Node], tuple | None]:
    def step(n: Node) -> tuple | None:
        a = n.attrs
        if any(d != 1 for d in a.dilations):
            return None
        head = (kind, tuple(a.kernel_shape), tuple(a.strides), tuple(a.pads), int(a.ceil_mode))
        return head + ((int(a.count_include_pad),) if kind == "avg_pool" else ())

    return step


# consumer op -> the step it becomes (None: not this node); activations and pools take no
# extra input. The unary ones are UNARY_STEPS read backwards (one table for both directions).
STEP_OF: dict[str, Callable[[Node], tuple | None]] = {
    **{op: _unary(kind, names) for kind, (op, names) in UNARY_STEPS.items()},
    "MaxPool": _pool("max_pool"),
    "AveragePool": _pool("avg_pool"),
}


@dataclass(frozen=True)
class Fusion:
    """How a base op becomes a fused op: ``start`` gives (inputs, attrs, epilogue) or None."""

    base: str
    fused: str
    pools: bool
    start: Callable[[Graph, Node], tuple[list[Value], dict, tuple] | None]


@dataclass
class Absorb:
    step: tuple
    extras: list[Value]
    nodes: list[Node]  # what goes, in order; the last one's outputs become the fused outputs


def _match(graph: Graph, y: Value, uses: Uses, pools: bool) -> Absorb | None:
    users = uses.users(y)
    if uses.is_output(y):
        return None
    if len(users) == 2:  # SiLU: y * sigmoid(y)
        sig = next((u for u in users if u.op == "Sigmoid"), None)
        mul = next((u for u in users if u.op == "Mul"), None)
        if sig and mul and uses.sole_user(sig.outputs[0]) is mul and {id(v) for v in mul.inputs} == {id(y), id(sig.outputs[0])}:
            return Absorb(("silu",), [], [sig, mul])
        return None
    if len(users) != 1:
        return None
    c = users[0]
    if c.op in STEP_OF:
        if c.inputs[0] is not y:
            return None
        step = STEP_OF[c.op](c)
        if step is None or (step[0] in POOL_STEPS and not pools):
            return None
        return Absorb(step, [], [c])
    if c.op in ("Mul", "Add") and len(c.inputs) == 2 and c.outputs[0].type == y.type:
        a, b = c.inputs
        r = b if a is y else a
        if r is y:
            return None
        vec = per_channel(r, y.shape)   # a constant per channel (or one scalar): scale / shift
        if vec is not None and r.dtype == y.dtype:
            kind = "scale" if c.op == "Mul" else "shift"
            return Absorb((kind,), [constant(graph, f"{c.name}.{kind}", vec, y.dtype)], [c])
        if c.op == "Add" and r.type == y.type:
            return Absorb(("add",), [r], [c])
        return None
    if c.op == "PRelu" and c.inputs[0] is y and c.outputs[0].type == y.type:
        slope = per_channel(c.inputs[1], y.shape)
        if slope is None:
            return None
        return Absorb(("prelu",), [constant(graph, f"{c.name}.slope", slope, y.dtype)], [c])
    return None


def grow(fusion: Fusion) -> Callable[[Graph, Node, Uses], Rewrite | None]:
    """The rule: absorb the sole reader of a base or fused node's output into its epilogue."""

    def rule(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
        if node.op == fusion.fused:
            inputs, attrs = list(node.inputs), dict(node.attrs)
            epilogue = tuple(attrs.pop("epilogue"))
        else:
            started = fusion.start(graph, node)
            if started is None:
                return None
            inputs, attrs, epilogue = started
        if epilogue and epilogue[-1][0] in POOL_STEPS:
            return None
        absorb = _match(graph, node.outputs[0], uses, fusion.pools)
        if absorb is None:
            return None
        attrs["epilogue"] = epilogue + (absorb.step,)
        new = make_node(fusion.fused, inputs + absorb.extras, absorb.nodes[-1].outputs, attrs, node.name)
        return Rewrite(remove=[node, *absorb.nodes], add=[new])

    return rule


def as_channel_vector(v: Value, out_shape: tuple[int, ...], beta: float = 1.0) -> np.ndarray | None:
    vec = per_channel(v, out_shape)
    return None if vec is None else (vec.astype(np.float64) * beta)
