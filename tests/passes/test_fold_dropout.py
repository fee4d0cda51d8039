import numpy as np

from cnncc.backends.reference import interpret
from cnncc.ir import Graph
from passes_helpers import Builder, assert_same_outputs, check_pass, ops, random_feeds


def test_dropout_becomes_identity():
    b = Builder()
    x = b.input(1, 4, 5, 5)
    y = b.op("Relu", b.op("Dropout", x, ratio=0.3))
    g = b.graph(y)
    out, rec = check_pass("fold-dropout", g)
    assert "Dropout" not in ops(out)
    assert ops(out) == {"Relu": 1}
    assert any("removed 1 Dropout" in n for n in rec.notes)


def test_dropout_as_graph_output_keeps_the_output_name():
    b = Builder()
    x = b.input(1, 4)
    r = b.op("Relu", x)
    y = b.op("Dropout", r)
    g = b.graph(y)
    out, _ = check_pass("fold-dropout", g)
    assert "Dropout" not in ops(out)
    assert [v.name for v in out.outputs] == [y.name]


def test_dropout_of_a_graph_input_that_is_an_output():
    b = Builder()
    x = b.input(2, 3)
    y = b.op("Dropout", x)
    out, _ = check_pass("fold-dropout", b.graph(y))
    assert ops(out) == {"Identity": 1}  # the output's name must stay; x cannot take it


def test_consumed_mask_becomes_all_true():
    b = Builder()
    x = b.input(1, 3, 4)
    y, mask = b.op("Dropout", x, outputs=2)
    m = b.op("Cast", mask, to="float32")
    z = b.op("Mul", y, m)
    g = b.graph(z, mask)
    out, _ = check_pass("fold-dropout", g)
    assert "Dropout" not in ops(out)
    res = interpret(out, {x.name: np.ones((1, 3, 4), np.float32)})
    assert res[mask.name].dtype == bool and res[mask.name].all()


def test_every_opset_form_from_onnx():
    import onnx
    from onnx import TensorProto, helper

    from cnncc.frontends.onnx import import_onnx

    for opset, extra_inputs, with_mask in [(7, [], False), (10, [], True), (12, ["ratio"], True), (13, ["ratio", "tm"], False), (22, ["ratio", "tm"], True)]:
        inits = []
        if "ratio" in extra_inputs:
            inits.append(helper.make_tensor("ratio", TensorProto.FLOAT, [], [0.25]))
        if "tm" in extra_inputs:
            inits.append(helper.make_tensor("tm", TensorProto.BOOL, [], [False]))
        outs = ["y", "mask"] if with_mask else ["y"]
        node = helper.make_node("Dropout", ["x", *extra_inputs], outs)
        relu = helper.make_node("Relu", ["y"], ["z"])
        graph_outputs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, 3])]
        if with_mask:
            graph_outputs.append(helper.make_tensor_value_info("mask", TensorProto.BOOL, [2, 3]))
        model = helper.make_model(
            helper.make_graph([node, relu], "d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])], graph_outputs, inits),
            opset_imports=[helper.make_opsetid("", opset)],
        )
        model.ir_version = 7
        g = import_onnx(model)
        out, _ = check_pass("fold-dropout", g)
        assert "Dropout" not in ops(out), opset
        assert isinstance(out, Graph)
        assert_same_outputs(g, out, random_feeds(g))
