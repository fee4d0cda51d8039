"""One ONNX node as a model, run by cnncc (reference, -O0) and by onnxruntime."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

import cnncc


def node_model(
    op: str,
    feeds: Mapping[str, np.ndarray],
    attrs: Mapping | None = None,
    consts: Mapping[str, np.ndarray] | None = None,
    inputs: Sequence[str] | None = None,
    n_outputs: int = 1,
    opset: int = 17,
):
    """``inputs`` orders the node's inputs (names of feeds or consts, "" for absent ones)."""
    consts = dict(consts or {})
    inputs = list(inputs if inputs is not None else [*feeds, *consts])
    outputs = [f"y{i}" for i in range(n_outputs)]
    node = helper.make_node(op, inputs, outputs, name=f"{op.lower()}0", **dict(attrs or {}))
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in feeds.items()]
    inits = [numpy_helper.from_array(np.asarray(a), n) for n, a in consts.items()]
    graph = helper.make_graph([node], op, graph_inputs, [helper.make_empty_tensor_value_info(o) for o in outputs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 7 if opset < 15 else 8
    return onnx.shape_inference.infer_shapes(model, strict_mode=True)


def run_both(model, feeds: Mapping[str, np.ndarray]):
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = sess.run(None, dict(feeds))
    got = cnncc.compile(model, opt_level=0).run(dict(feeds))
    return [got[o.name] for o in model.graph.output], expected


def check_against_ort(op, feeds, attrs=None, consts=None, inputs=None, n_outputs=1, opset=17, rtol=1e-4, atol=1e-5):
    model = node_model(op, feeds, attrs, consts, inputs, n_outputs, opset)
    got, expected = run_both(model, feeds)
    for g, e in zip(got, expected):
        assert g.shape == e.shape, f"shape {g.shape} != onnxruntime's {e.shape}"
        np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)



def check_against_onnx_reference(op, feeds, attrs=None, consts=None, inputs=None, n_outputs=1, opset=17, rtol=1e-4, atol=1e-5):
    """Where onnxruntime departs from the ONNX spec: onnx's reference evaluator as the oracle."""
    from onnx.reference import ReferenceEvaluator

    model = node_model(op, feeds, attrs, consts, inputs, n_outputs, opset)
    expected = ReferenceEvaluator(model).run(None, dict(feeds))
    got = cnncc.compile(model, opt_level=0).run(dict(feeds))
    for o, e in zip(model.graph.output, expected):
        np.testing.assert_allclose(got[o.name], e, rtol=rtol, atol=atol)
