"""fuse-projection (-O3): a stride-1 projection shortcut joins the conv it is added to as
one 1x1 conv over the concatenated inputs."""

import numpy as np
import pytest

from cnncc.backends import llvm
from cnncc.backends.reference import interpret
from cnncc.passes.manager import run_pass

from passes_helpers import Builder, check_pass, epilogues, ops, random_feeds


def _block(stride=1, relu_before_add=False, projection_read_twice=False, computed_bias=False):
    b = Builder()
    x = b.op("Relu", b.input(1, 16, 6, 7))  # made by a node: the concat can hold it
    a = b.op("Relu", b.conv(x, 24, k=1, stride=stride, pad=0))
    main = b.conv(a, 32, k=1, pad=0)
    if relu_before_add:
        main = b.op("Relu", main)
    proj = b.conv(x, 32, k=1, stride=stride, pad=0)
    if computed_bias:  # the projection's bias comes from a node, not a constant
        conv = b.nodes[-1]
        conv.inputs[2] = b.op("Relu", conv.inputs[2])
        b.nodes.insert(len(b.nodes) - 2, b.nodes.pop())
    y = b.op("Relu", b.op("Add", main, proj))
    outs = [y, b.op("Sigmoid", proj)] if projection_read_twice else [y]
    return b.graph(*outs)


def _fused(graph):
    return check_pass("fuse-projection", run_pass("fuse-conv", graph))


def test_projection_joins_the_conv_it_is_added_to():
    out, record = _fused(_block())
    assert ops(out) == {"Relu": 1, "FusedConv": 2, "Concat": 1}
    conv = [n for n in out.nodes if n.op == "FusedConv"][-1]
    assert conv.inputs[1].shape == (32, 24 + 16, 1, 1)
    assert epilogues(out)[-1] == ("bias", "relu")
    assert "projection shortcuts fused: 1" in record.notes


@pytest.mark.parametrize("case", ["stride 2", "relu before the add", "projection read twice", "computed bias"])
def test_left_alone(case):
    graph = _block(stride=2 if case == "stride 2" else 1, relu_before_add=case == "relu before the add",
                   projection_read_twice=case == "projection read twice", computed_bias=case == "computed bias")
    out, record = _fused(graph)
    assert "Concat" not in ops(out) and not any("projection" in n for n in record.notes)


@pytest.mark.parametrize("threads", [1, 2])
def test_llvm_at_o3_writes_both_inputs_into_the_concat(threads):
    """x is read by two convs and the concat: still placed in its slice, no copy."""
    graph = _block()
    out = run_pass("backend-layout", _fused(graph)[0])
    exe = llvm.build(out, num_threads=threads)
    assert exe.plan.inplace_concats == 1 and not any(k.op == "Concat" for k in exe.generated.kernels)
    feeds = random_feeds(graph)
    got = exe.run(feeds)
    for name, ref in interpret(graph, feeds).items():
        np.testing.assert_allclose(got[name], ref, rtol=1e-4, atol=1e-4)
