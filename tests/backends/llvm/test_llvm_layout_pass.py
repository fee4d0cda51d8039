"""backend-layout (the llvm backend's -O3 pass, backends/llvm/layout_pass.py): which values
between 1x1 convs are stored NHWC, that it marks only what the backend's predicate
(backends/llvm/layout.py) allows, and that the llvm backend computes the same outputs from
the annotated graph."""

import numpy as np
import pytest

from cnncc.backends import llvm
from cnncc.backends.llvm import layout
from cnncc.backends.reference import interpret
from cnncc.passes.manager import run_pass

from passes_helpers import Builder, check_pass, random_feeds


def _bottleneck(b, x, mid, out_ch, residual):
    h = b.op("Relu", b.conv(x, mid, k=1))
    h = b.op("Relu", b.conv(h, mid, k=3))
    return b.op("Relu", b.op("Add", b.conv(h, out_ch, k=1), residual))


def _residual_net(channels=64, q_is_output=False, p_read_by_3x3=False):
    """x -> p (1x1) -> bottleneck + p -> q -> strided 1x1 -> out."""
    b = Builder()
    x = b.input(1, 32, 6, 10)
    p = b.op("Relu", b.conv(x, channels, k=1))
    q = _bottleneck(b, p, 16, channels, p)
    s = b.op("Relu", b.conv(q, 32, k=1, stride=2, pad=0))
    outs = [s, q] if q_is_output else [s]
    if p_read_by_3x3:
        outs.append(b.conv(p, 8, k=3))
    return b.graph(*outs)


def _blocks(graph):
    """(conv's weight shape, x_block, y_block) per FusedConv, in graph order."""
    return [(n.inputs[1].shape[:2], n.attrs.x_block, n.attrs.y_block) for n in graph.nodes if n.op == "FusedConv"]


def _layout(graph):
    return check_pass("backend-layout", run_pass("fuse-conv", graph))


def test_residual_chain_between_1x1_convs_is_stored_nhwc():
    out, record = _layout(_residual_net())
    assert _blocks(out) == [
        ((64, 32), 0, 64),    # p: written NHWC, read by a 1x1 and as a residual
        ((16, 64), 64, 0),    # reads p; its output feeds a 3x3, so stays NCHW
        ((16, 16), 0, 0),     # the 3x3
        ((64, 16), 0, 64),    # q = conv + p: residual and output NHWC
        ((32, 64), 64, 0),    # strided 1x1 reading q; a graph output
    ]
    assert record.notes == ["values stored NHWC between 1x1 convs: 2, map means in registers: 0"]


@pytest.mark.parametrize("case", ["q is a graph output", "p read by a 3x3", "24 channels"])
def test_nothing_blocked_where_a_reader_or_writer_cannot(case):
    """A residual chain is blocked whole or not at all: q cannot be (graph output), so p,
    q's residual, cannot be either; a 3x3 reader of p, or channels that are not whole
    vectors, stop it the same way."""
    graph = _residual_net(channels=24 if case == "24 channels" else 64, q_is_output=case == "q is a graph output",
                          p_read_by_3x3=case == "p read by a 3x3")
    out, _ = _layout(graph)
    assert [blk for blk in _blocks(out) if blk[1] or blk[2]] == []


def test_a_last_conv_with_a_global_mean_reads_its_residual_nhwc():
    b = Builder()
    x = b.input(1, 32, 5, 6)
    p = b.op("Relu", b.conv(x, 64, k=1))
    q = _bottleneck(b, p, 16, 64, p)
    graph = b.graph(b.op("GlobalAveragePool", q))
    out, _ = _layout(graph)
    assert _blocks(out)[0] == ((64, 32), 0, 64) and _blocks(out)[-1] == ((64, 16), 0, 64)
    feeds = random_feeds(graph)
    got = llvm.build(out).run(feeds)
    for name, ref in interpret(graph, feeds).items():
        np.testing.assert_allclose(got[name], ref, rtol=1e-4, atol=1e-4)


def test_a_classifier_conv_with_a_global_mean_is_marked_without_whole_vectors():
    """SqueezeNet's last conv: 1000 channels (not whole vectors), bias + relu, global mean."""
    b = Builder()
    x = b.input(1, 32, 5, 6)
    y = b.op("GlobalAveragePool", b.op("Relu", b.conv(x, 100, k=1)))
    graph = b.graph(b.op("Flatten", y))
    out, record = _layout(graph)
    assert _blocks(out) == [((100, 32), 0, 100)]
    assert record.notes == ["values stored NHWC between 1x1 convs: 0, map means in registers: 1"]
    feeds = random_feeds(graph)
    got = llvm.build(out).run(feeds)
    for name, ref in interpret(graph, feeds).items():
        np.testing.assert_allclose(got[name], ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("threads", [1, 2])
def test_llvm_runs_the_blocked_graph(threads):
    graph = _residual_net()
    out, _ = _layout(graph)
    feeds = random_feeds(graph)
    exe = llvm.build(out, num_threads=threads)
    assert sum("NHWC" in k.algorithm for k in exe.generated.kernels) == 4
    assert exe.plan.inplace_outputs == 1  # q over its residual p
    want = interpret(graph, feeds)
    got = exe.run(feeds)
    for name, ref in want.items():
        np.testing.assert_allclose(got[name], ref, rtol=1e-4, atol=1e-4)


def test_tvm_ignores_the_storage_attributes():
    """The TVM lowering computes on logical tensors: the -O3 graph gives its -O2 outputs."""
    pytest.importorskip("tvm")
    from cnncc.backends import tvm as tvm_backend

    graph = _residual_net()
    out, _ = _layout(graph)
    feeds = random_feeds(graph)
    got = tvm_backend.build(out, device="cpu").run(feeds)
    for name, ref in interpret(graph, feeds).items():
        np.testing.assert_allclose(got[name], ref, rtol=1e-4, atol=1e-4)


def test_convs_with_computed_weights_are_not_marked():
    """The llvm kernel packs constant weights for NHWC; a weight computed at run time
    keeps the conv (and the values it would read or write) in NCHW."""
    b = Builder()
    x = b.input(1, 32, 4, 5)
    w = b.op("Relu", b.input(64, 32, 1, 1))
    p = b.op("Conv", x, w, kernel_shape=[1, 1], strides=[1, 1], pads=[0] * 4, dilations=[1, 1])
    y = b.op("Relu", b.conv(p, 32, k=1, pad=0))
    out, _ = _layout(b.graph(y))
    assert [blk for blk in _blocks(out) if blk[1] or blk[2]] == []


def test_every_mark_is_one_the_kernel_check_accepts():
    """The pass asks the predicate the kernel asserts: each marked node passes
    check_blocked_conv for every host width (whole tiles: no padded channels)."""
    out, _ = _layout(_residual_net())
    marked = [n for n in out.nodes if n.op == "FusedConv" and (n.attrs.x_block or n.attrs.y_block)]
    assert len(marked) == 4
    for node in marked:
        for lanes in (4, 8, 16):
            layout.check_blocked_conv(node, lanes, node.inputs[1].shape[0])


def test_the_pass_marks_nothing_the_predicate_refuses(monkeypatch):
    monkeypatch.setattr(layout, "blocked_storage", lambda node, channel_vector=layout.LANES: layout.NCHW_ONLY)
    out, record = _layout(_residual_net())
    assert [blk for blk in _blocks(out) if blk[1] or blk[2]] == []
    assert record.notes == []
