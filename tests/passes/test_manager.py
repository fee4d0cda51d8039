import pytest

from cnncc.errors import UsageError
from cnncc.ir import Graph, GraphError, Value
from cnncc.passes import manager
from cnncc.passes.manager import PASSES, PIPELINES, PassRecord, format_records, optimize, pipeline_for, register_pass
from passes_helpers import Builder, assert_same_outputs, ops, random_feeds


def _model():
    b = Builder()
    x = b.input(1, 3, 8, 8)
    y = b.op("Dropout", b.op("Relu", b.batch_norm(b.conv(x, 4))))
    y = b.op("MaxPool", y, kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0], dilations=[1, 1])
    y = b.op("Gemm", b.op("Reshape", y, shape=[1, 64]), b.rand(64, 10), b.rand(10))
    return b.graph(b.op("Softmax", b.op("Relu", y)))


def test_every_pipeline_pass_is_registered_and_levels_nest():
    for level, names in PIPELINES.items():
        assert set(names) <= set(PASSES), level
    assert PIPELINES[0] == []
    assert PIPELINES[2][: len(PIPELINES[1])] == PIPELINES[1]
    assert PIPELINES[3][: len(PIPELINES[2])] == PIPELINES[2]


@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_levels_keep_outputs_and_leave_the_input_alone(level):
    g = _model()
    text = str(g)
    out = optimize(g, level)
    assert str(g) == text
    assert_same_outputs(g, out, random_feeds(g))
    if level >= 2:
        assert ops(out) == {"FusedConv": 1, "Flatten": 1, "FusedGemm": 1, "Softmax": 1}


def test_records_and_stats():
    records: list[PassRecord] = []
    optimize(_model(), 2, records=records)
    assert [r.name for r in records] == PIPELINES[2]
    by_name = {r.name: r for r in records if r.changed}
    assert "removed 1 Dropout" in by_name["fold-dropout"].notes
    assert "removed 1 BatchNormalization" in by_name["fold-batch-norm"].notes
    text = format_records(records)
    assert "fold-dropout: 9 -> 8 nodes" in text and "removed 1 Dropout" in text


def test_disable_and_print_after():
    printed = []
    out = optimize(_model(), 2, disable=["fuse-conv"], print_after=["fold-dropout"], echo=printed.append)
    assert "FusedConv" not in ops(out) and "Conv" in ops(out)
    assert len(printed) == 1 and printed[0].startswith("// after fold-dropout") and "Dropout" not in printed[0].split("\n", 1)[1]
    printed.clear()
    optimize(_model(), 1, print_after=["all"], echo=printed.append)
    assert len(printed) == len(PIPELINES[1])


def test_backend_passes_run_after_the_generic_ones():
    """What a backend contributes (``backend_passes``) is appended to the level's list, and
    --disable-pass and --print-after reach it like any pass."""
    assert pipeline_for(1, ["dce", "cse"]) == PIPELINES[1] + ["dce", "cse"]
    records: list[PassRecord] = []
    printed = []
    optimize(_model(), 1, records=records, backend_passes=["cse"], print_after=["cse"], echo=printed.append)
    assert [r.name for r in records] == PIPELINES[1] + ["cse"]
    assert len(printed) == 2  # cse runs in -O1 and once more as the backend's
    records.clear()
    optimize(_model(), 1, records=records, backend_passes=["cse"], disable=["cse"])
    assert "cse" not in [r.name for r in records]


def test_unknown_pass_and_level():
    with pytest.raises(UsageError, match="no-such-pass"):
        optimize(_model(), 2, disable=["no-such-pass"])
    with pytest.raises(UsageError, match="opt-level"):
        optimize(_model(), 7)


def test_a_pass_that_breaks_the_graph_is_named(monkeypatch):
    @register_pass("test-breaker")
    def breaker(graph: Graph) -> Graph:
        graph = graph.copy()
        node = graph.nodes[-1]
        node.inputs = [Value("nowhere", node.inputs[0].type)] + node.inputs[1:]
        return graph

    try:
        monkeypatch.setitem(PIPELINES, 2, PIPELINES[2] + ["test-breaker"])
        with pytest.raises(GraphError, match="pass test-breaker broke the graph"):
            optimize(_model(), 2)
    finally:
        del manager.PASSES["test-breaker"]
