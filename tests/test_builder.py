"""cnncc.builder: nodes and graphs made through the op table (attributes completed from the
op's defaults, output types inferred, names unique)."""

import numpy as np
import pytest

from cnncc.backends.reference import interpret
from cnncc.builder import GraphBuilder, make_node, op_types
from cnncc.errors import ShapeError
from cnncc.ir import TensorType, Value
from cnncc.ops import get_op


def test_graph_builder_completes_attributes_infers_types_and_names_uniquely():
    b = GraphBuilder("net")
    x = b.input("x", (1, 3, 8, 8))
    w = b.const(np.ones((4, 3, 3, 3), np.float32))
    y = b.op("Conv", [x, w], kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1))
    z = b.op("Relu", [y], name="act")
    z2 = b.op("Relu", [z], name="act")
    g = b.build(z2)
    assert g.name == "net" and [v.name for v in g.outputs] == ["act.1"]
    conv = g.nodes[0]
    assert conv.attrs == get_op("Conv").normalize_attrs(dict(conv.attrs)) and conv.attrs.group == 1
    assert y.type == TensorType((1, 4, 8, 8)) and y.name == conv.name
    assert [n.name for n in g.nodes] == [conv.name, "act", "act.1"]
    assert len({v.name for v in g.values()}) == len(g.values())
    feeds = {"x": np.ones((1, 3, 8, 8), np.float32)}
    np.testing.assert_allclose(interpret(g, feeds)["act.1"][0, :, 4, 4], 27.0)


def test_graph_builder_outputs_and_constants():
    b = GraphBuilder()
    x = b.input("x", (6, 4))
    parts = b.op("Split", [x], axis=0, split=(2, 4))
    assert [p.shape for p in parts] == [(2, 4), (4, 4)] and parts[0].name.endswith(".0")
    first = b.op("Split", [x], axis=0, split=(2, 4), n_outputs=1, outputs=["top"])
    assert isinstance(first, Value) and first.name == "top"
    scalar = b.const(2.0, dtype="float32")
    assert scalar.shape == () and scalar.dtype == "float32"
    t = np.arange(6, dtype=np.float32).reshape(2, 3).T
    assert b.const(t).data.flags.c_contiguous
    b.output(first)
    assert [v.name for v in b.build().outputs] == ["top"]


def test_op_types_and_make_node():
    x = Value("x", TensorType((2, 3, 5, 5)))
    attrs, types = op_types("Flatten", [x])
    assert attrs.axis == 1 and types == [TensorType((2, 75))]
    node = make_node("Flatten", [x], ["flat"], {}, "flatten0")
    assert node.outputs[0].name == "flat" and node.outputs[0].type == types[0] and node.name == "flatten0"
    reused = Value("y", TensorType((2, 75)))
    node = make_node("Flatten", [x], [reused], {}, "flatten1")
    assert node.outputs[0] is reused and node.attrs == attrs
    with pytest.raises(ShapeError, match="kernel_shape"):
        op_types("MaxPool", [x], {})
    with pytest.raises(ShapeError, match="takes"):
        make_node("Add", [x], ["z"], {}, "add0")
