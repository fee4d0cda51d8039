"""Whole light model-zoo models (random weights): -O2 computes what -O0 computes, with fewer
nodes, and the rewrites the issue asks for happened. ``python -m cnncc.passes`` prints the
node counts per model."""

import functools

import pytest

from cnncc import zoo
from cnncc.backends import llvm
from cnncc.passes.manager import optimize, pipeline_for, run_pass
from passes_helpers import assert_same_outputs, check_pass, light_model, ops


@pytest.mark.parametrize("name", zoo.LIGHT_MODELS)
def test_o2_matches_o0_with_fewer_nodes(name):
    g, feeds = light_model(name)
    text = str(g)
    out = optimize(g, 2)
    assert str(g) == text
    assert len(out.nodes) < len(g.nodes)
    assert_same_outputs(g, out, feeds, rtol=1e-4)
    hist = ops(out)
    if name in ("squeezenet", "inception_v1", "vgg19", "bvlc_alexnet"):
        assert "Dropout" not in hist
    if name in ("resnet50", "shufflenet", "inception_v2"):
        assert "BatchNormalization" not in hist
    if name in ("vgg19", "bvlc_alexnet", "zfnet512", "squeezenet", "inception_v1", "inception_v2", "resnet50"):
        assert "Relu" not in hist  # every Conv followed by Relu fused
    if name == "resnet50":
        assert "Add" not in hist and "Sum" not in hist  # residual adds fused
        assert sum(1 for n in out.nodes if n.op == "FusedConv" and ("add",) in n.attrs.epilogue) == 16


def test_o2_on_original_light_weights_matches_the_shipped_output():
    import numpy as np

    g, feeds = light_model("resnet50", random_weights=False)
    out = optimize(g, 2)
    assert "ConstantOfShape" in ops(g) and "ConstantOfShape" not in ops(out)
    from cnncc.backends.reference import interpret

    (got,) = interpret(out, feeds).values()
    np.testing.assert_allclose(got, zoo.light_expected_output("resnet50"), rtol=1e-4, atol=1e-6)


PER_PASS_MODELS = ("squeezenet", "shufflenet")  # Dropout, Concat, GAP; BN, residual adds, groups
# the longest pipeline: -O3 for llvm, whose backend adds its layout pass
O3_LLVM = pipeline_for(3, llvm.passes(3))


@functools.lru_cache(maxsize=None)
def _pipeline_inputs(model: str) -> dict:
    """The graph each pass of the -O3 llvm pipeline is first handed, by pass name."""
    g, _ = light_model(model)
    seen = {}
    for name in O3_LLVM:
        seen.setdefault(name, g)
        g = run_pass(name, g)
    return seen


@pytest.mark.parametrize("model", PER_PASS_MODELS)
@pytest.mark.parametrize("pass_name", list(dict.fromkeys(O3_LLVM)))
def test_each_pass_on_whole_models(pass_name, model):
    """Each pass on a whole model as the pipeline hands it over: pure, valid, same outputs."""
    check_pass(pass_name, _pipeline_inputs(model)[pass_name], light_model(model)[1])
