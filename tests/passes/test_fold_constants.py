import numpy as np

from cnncc.passes import fold_constants as fc
from cnncc.passes.manager import PassRecord, run_pass
from passes_helpers import Builder, check_pass, light_model, ops


def test_weight_only_subgraph_folds_into_a_constant_weight():
    b = Builder()
    x = b.input(1, 3, 6, 6)
    w = b.op("ConstantOfShape", shape=[4, 3, 3, 3], value=0.5)
    w2 = b.op("Mul", w, b.rand(4, 1, 1, 1))
    y = b.op("Conv", x, w2, kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], dilations=[1, 1])
    out, rec = check_pass("fold-constants", b.graph(y))
    assert ops(out) == {"Conv": 1}
    assert out.nodes[0].inputs[1].is_constant
    assert any("folded 2" in n for n in rec.notes)


def test_shape_subgraph_folds():
    b = Builder()
    x = b.input(2, 3, 4)
    s = b.op("Shape", x)
    g0 = b.op("Gather", s, b.const(np.array([0, 2]), dtype="int64"))
    u = b.op("Unsqueeze", b.op("Gather", s, b.const(np.array(1), dtype="int64")), axes=[0])
    cat = b.op("Concat", g0, u, axis=0)
    f = b.op("Cast", cat, to="float32")
    y = b.op("Add", b.op("ReduceSum", x, axes=[1], keepdims=0), b.op("ReduceSum", f, axes=[0], keepdims=1))
    out, _ = check_pass("fold-constants", b.graph(y))
    assert set(ops(out)) == {"ReduceSum", "Add"} and ops(out)["ReduceSum"] == 1


def test_growing_subgraph_feeding_data_stays_a_node(monkeypatch):
    monkeypatch.setattr(fc, "FOLD_SMALL_ELEMENTS", 16)
    b = Builder()
    x = b.input(1, 8, 8, 8)
    big = b.op("Expand", b.const(np.float32(2.0)), shape=[1, 8, 8, 8])
    y = b.op("Mul", x, big)
    out, rec = check_pass("fold-constants", b.graph(y))
    assert ops(out) == {"Expand": 1, "Mul": 1}
    assert any("left 1" in n for n in rec.notes)


def test_growing_subgraph_feeding_a_weight_folds(monkeypatch):
    monkeypatch.setattr(fc, "FOLD_SMALL_ELEMENTS", 16)
    b = Builder()
    x = b.input(1, 8, 5, 5)
    w = b.op("Expand", b.const(np.full((1, 1, 1, 1), 0.1, np.float32)), shape=[8, 8, 3, 3])
    w = b.op("Transpose", w, perm=[1, 0, 2, 3])
    y = b.op("Conv", x, w, kernel_shape=[3, 3], strides=[1, 1], pads=[0, 0, 0, 0], dilations=[1, 1])
    out, _ = check_pass("fold-constants", b.graph(y))
    assert ops(out) == {"Conv": 1}


def test_hard_size_cap(monkeypatch):
    monkeypatch.setattr(fc, "FOLD_MAX_ELEMENTS", 100)
    b = Builder()
    x = b.input(1, 8, 5, 5)
    w = b.op("ConstantOfShape", shape=[8, 8, 3, 3], value=0.1)
    y = b.op("Conv", x, w, kernel_shape=[3, 3], strides=[1, 1], pads=[0, 0, 0, 0], dilations=[1, 1])
    out, _ = check_pass("fold-constants", b.graph(y))
    assert ops(out) == {"ConstantOfShape": 1, "Conv": 1}


def test_constant_graph_output_keeps_its_name():
    b = Builder()
    x = b.input(2, 2)
    c = b.op("Add", b.const(np.ones(3)), b.const(np.ones(3)))
    g = b.graph(b.op("Relu", x), c)
    out, _ = check_pass("fold-constants", g)
    assert [v.name for v in out.outputs] == [v.name for v in g.outputs]
    assert out.outputs[1].is_constant


def test_light_model_constant_of_shape_weights_fold():
    g, feeds = light_model("squeezenet", random_weights=False)
    assert ops(g).get("ConstantOfShape")
    out, _ = check_pass("fold-constants", g, feeds)
    assert "ConstantOfShape" not in ops(out)


def test_a_reference_that_fails_leaves_the_node():
    b = Builder()
    x = b.input(2)
    g = b.op("Gather", b.const(np.arange(3.0)), b.const(np.array([5]), dtype="int64"))  # out of range
    graph = b.graph(b.op("Add", x, b.op("Expand", g, shape=[2])))
    rec = PassRecord("fold-constants", 0, 0)
    out = run_pass("fold-constants", graph, rec)
    assert "Gather" in ops(out)
    assert any("could not fold Gather" in n for n in rec.notes)
