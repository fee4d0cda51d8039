import numpy as np

from passes_helpers import Builder, check_pass, ops


def test_cse_merges_equal_nodes_and_constants():
    b = Builder()
    x = b.input(1, 3, 4, 4)
    c1, c2 = b.const(np.full(3, 2.0).reshape(3, 1, 1)), b.const(np.full(3, 2.0).reshape(3, 1, 1))
    a1 = b.op("Relu", b.op("Mul", x, c1))
    a2 = b.op("Relu", b.op("Mul", x, c2))
    y = b.op("Add", a1, a2)
    out, rec = check_pass("cse", b.graph(y))
    assert ops(out) == {"Mul": 1, "Relu": 1, "Add": 1}
    assert any("duplicate constant" in n for n in rec.notes)


def test_cse_keeps_different_attrs_and_graph_outputs():
    b = Builder()
    x = b.input(2, 3)
    l1 = b.op("LeakyRelu", x, alpha=0.1)
    l2 = b.op("LeakyRelu", x, alpha=0.2)
    r1, r2 = b.op("Relu", x), b.op("Relu", x)
    g = b.graph(l1, l2, r1, r2)
    out, _ = check_pass("cse", g)
    assert len(out.nodes) == 4  # r2 is a graph output: it keeps its own node and name


def test_dce_removes_unread_nodes_only():
    b = Builder()
    x = b.input(2, 3)
    b.op("Sigmoid", b.op("Tanh", x))  # dead chain
    y, _mask = b.op("Dropout", b.op("Relu", x), outputs=2)
    out, rec = check_pass("dce", b.graph(y))
    assert ops(out) == {"Relu": 1, "Dropout": 1}
    assert rec.notes == ["removed 2 dead node(s)", "removed 1 Sigmoid", "removed 1 Tanh"]
