"""The graph IR: types, attrs, validation, copies, views."""

import numpy as np
import pytest

from cnncc.ir import Attrs, Graph, GraphError, Node, TensorType, Value
from cnncc.backends.reference import interpret


def small_graph():
    x = Value("x", TensorType((1, 2, 4, 4)))
    w = Value.constant("w", np.ones((3, 2, 3, 3), dtype=np.float32))
    y = Value("y", TensorType((1, 3, 2, 2)))
    z = Value("z", TensorType((1, 3, 2, 2)))
    conv = Node("Conv", [x, w], [y], {"kernel_shape": (3, 3), "strides": (1, 1), "pads": (0, 0, 0, 0), "dilations": (1, 1), "group": 1}, "conv0")
    relu = Node("Relu", [y], [z], name="relu0")
    return Graph([x], [z], [conv, relu], "small")


def test_tensor_type_normalizes_and_counts():
    t = TensorType([2, 3], np.float32)
    assert t.shape == (2, 3) and t.dtype == "float32"
    assert t.numel == 6 and t.nbytes == 24 and str(t) == "float32[2x3]"


def test_attrs_are_immutable_hashable_and_frozen():
    a = Attrs({"pads": [1, 2], "mode": "constant"})
    assert a.pads == (1, 2) and a["mode"] == "constant"
    with pytest.raises(TypeError):
        a.mode = "edge"
    assert hash(a) == hash(Attrs(mode="constant", pads=(1, 2)))
    assert a.replace(mode="edge").mode == "edge" and a.mode == "constant"


def test_validate_accepts_a_good_graph_and_runs():
    g = small_graph()
    g.validate()
    out = interpret(g, {"x": np.ones((1, 2, 4, 4), np.float32)})["z"]
    np.testing.assert_allclose(out, np.full((1, 3, 2, 2), 18.0))


def test_validate_catches_dangling_values():
    g = small_graph()
    ghost = Value("ghost", TensorType((1, 3, 2, 2)))
    g.nodes[1].inputs = [ghost]
    with pytest.raises(GraphError, match="ghost.*nothing defines"):
        g.validate()


def test_validate_catches_bad_order_and_cycles():
    g = small_graph()
    g.nodes.reverse()
    with pytest.raises(GraphError, match="before it is computed"):
        g.validate()
    g.toposort()
    g.validate()
    # a real cycle: conv reads relu's output
    g.nodes[0].inputs[0] = g.nodes[1].outputs[0]
    with pytest.raises(GraphError, match="cycle"):
        g.toposort()


def test_validate_catches_type_mismatch():
    g = small_graph()
    g.nodes[1].outputs[0].type = TensorType((1, 3, 2, 3))
    with pytest.raises(GraphError, match="relu0.*typed"):
        g.validate()


def test_copy_is_structural_and_shares_constants():
    g = small_graph()
    c = g.copy()
    assert c.nodes[0] is not g.nodes[0]
    assert c.nodes[0].inputs[1].data is g.nodes[0].inputs[1].data
    c.nodes.pop()
    assert len(g.nodes) == 2


def test_networkx_view_and_text_dump():
    g = small_graph()
    nxg = g.to_networkx()
    assert nxg.number_of_nodes() == 2 and nxg.number_of_edges() == 1
    text = str(g)
    assert "Conv(%x, %w)" in text and "return %z" in text and "# relu0" in text


def test_replace_all_uses_checks_types():
    g = small_graph()
    with pytest.raises(GraphError, match="types differ"):
        g.replace_all_uses(g.outputs[0], g.inputs[0])


def test_scalar_constants_stay_scalars():
    v = Value.constant("s", np.float32(2.5))
    assert v.shape == () and v.data.shape == () and v.data.flags["C_CONTIGUOUS"]


def test_epilogue_attribute_is_printed_whole():
    epilogue = tuple(("max_pool", (3, 3), (2, 2), (0, 0, 1, 1), 0) for _ in range(4))
    assert repr(epilogue) in repr(Attrs(epilogue=epilogue, pads=tuple(range(40))))
