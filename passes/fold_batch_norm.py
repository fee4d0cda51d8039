"""fold-batch-norm: per-channel affine maps folded into the op that produces their input.

A BatchNormalization (inference form: ``y = (x - mean) * scale / sqrt(var + eps) + bias``),
or a Mul/Div by / Add/Sub of a per-channel constant, that reads the output of a Conv,
ConvTranspose or Gemm (with constant weights, and nothing else reading that output) becomes
new weights and bias of that op. Behind anything else (a Concat, a pool) such a Mul/Add still
folds into a preceding BatchNormalization's scale and bias (DenseNet's BN -> Mul -> Add).

The folded parameters are computed in float64 and rounded once to float32.
"""

from __future__ import annotations

import numpy as np

from cnncc.builder import make_node
from cnncc.ir import Graph, Node, Value
from cnncc.passes.manager import register_pass
from cnncc.passes.rewrite import Rewrite, Rule, Uses, apply_rules, constant, per_channel, report

F64 = np.float64
TARGETS = ("Conv", "ConvTranspose", "Gemm", "BatchNormalization")


def _channel_shape(v: np.ndarray, rank: int) -> np.ndarray:
    return v.reshape((-1,) + (1,) * (rank - 1))


def _params_constant(p: Node) -> bool:
    return all(v.is_constant for v in p.inputs[1:])


def _affine_node(graph: Graph, p: Node, s: np.ndarray, t: np.ndarray, out: Value, name: str) -> Node | None:
    """``p`` computing ``s * p(x) + t`` (s, t per output channel, float64), or None."""
    x, stem = p.inputs[0], p.name
    if p.op == "Conv":
        w = p.inputs[1].data.astype(F64)
        b = p.inputs[2].data.astype(F64) if len(p.inputs) > 2 else np.zeros(w.shape[0])
        w2 = w * _channel_shape(s, w.ndim)
        b2 = b * s + t
        inputs = [x, constant(graph, f"{stem}.w", w2), constant(graph, f"{stem}.b", b2)]
    elif p.op == "ConvTranspose":
        w = p.inputs[1].data.astype(F64)
        g = p.attrs.group
        cg, mg = w.shape[0] // g, w.shape[1]
        b = p.inputs[2].data.astype(F64) if len(p.inputs) > 2 else np.zeros(mg * g)
        w2 = (w.reshape((g, cg, mg) + w.shape[2:]) * s.reshape((g, 1, mg) + (1,) * (w.ndim - 2))).reshape(w.shape)
        inputs = [x, constant(graph, f"{stem}.w", w2), constant(graph, f"{stem}.b", b * s + t)]
    elif p.op == "Gemm":
        B = p.inputs[1].data.astype(F64)
        B2 = B * (s[:, None] if p.attrs.transB else s[None, :])
        C = p.inputs[2].data.astype(F64) * p.attrs.beta if len(p.inputs) > 2 else np.zeros(s.shape)
        C2 = C * s + t
        if C2.ndim == 2 and C2.shape[0] == 1:
            C2 = C2.reshape(-1)
        inputs = [p.inputs[0], constant(graph, f"{stem}.B", B2), constant(graph, f"{stem}.C", C2)]
        return make_node("Gemm", inputs, [out], dict(p.attrs, beta=1.0), name)
    elif p.op == "BatchNormalization":
        scale, bias, mean, var = (v.data.astype(F64) for v in p.inputs[1:])
        inputs = [x, constant(graph, f"{stem}.scale", scale * s), constant(graph, f"{stem}.bias", bias * s + t), *p.inputs[3:]]
    else:
        return None
    return make_node(p.op, inputs, [out], dict(p.attrs), name)


def _target(node: Node, uses: Uses, x: Value) -> Node | None:
    p = x.producer
    if p is None or p.op not in TARGETS or uses.sole_user(x) is not node or not _params_constant(p):
        return None
    if p.op == "BatchNormalization" and node.op == "BatchNormalization":
        return None  # two batch norms in a row: rare, and a third affine op would be needed
    return p


def _batch_norm(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
    x = node.inputs[0]
    p = _target(node, uses, x)
    if p is None or p.op == "BatchNormalization" or not _params_constant(node):
        return None
    scale, bias, mean, var = (v.data.astype(F64) for v in node.inputs[1:])
    s = scale / np.sqrt(var + node.attrs.epsilon)
    new = _affine_node(graph, p, s, bias - mean * s, node.outputs[0], p.name)
    return None if new is None else Rewrite(remove=[p, node], add=[new])


def _scale_shift(graph: Graph, node: Node, uses: Uses) -> Rewrite | None:
    out = node.outputs[0]
    for i in (0, 1) if node.op in ("Mul", "Add") else (0,):
        x, c = node.inputs[i], node.inputs[1 - i]
        if x.type != out.type or out.type.rank < 2:
            continue
        p = _target(node, uses, x)
        vec = per_channel(c, out.shape)
        if p is None or vec is None:
            continue
        vec = vec.astype(F64)
        one, zero = np.ones_like(vec), np.zeros_like(vec)
        s, t = {"Mul": (vec, zero), "Div": (1.0 / vec, zero), "Add": (one, vec), "Sub": (one, -vec)}[node.op]
        if node.op == "Div" and not np.all(vec != 0):
            return None
        new = _affine_node(graph, p, s, t, out, p.name)
        if new is not None:
            return Rewrite(remove=[p, node], add=[new])
    return None


RULES = [
    Rule("BatchNormalization folded", ("BatchNormalization",), _batch_norm),
    Rule("Mul/Div/Add/Sub by a channel constant folded", ("Mul", "Div", "Add", "Sub"), _scale_shift),
]


@register_pass("fold-batch-norm")
def fold_batch_norm(graph: Graph) -> Graph:
    graph = graph.copy()
    report(apply_rules(graph, RULES))
    return graph
