import shutil

import pytest

from cnncc import viz
from cnncc.errors import UsageError
from cnncc.passes.manager import optimize
from passes_helpers import Builder


def _graph():
    b = Builder()
    x = b.input(1, 3, 8, 8)
    y = b.op("MaxPool", b.op("Relu", b.conv(x, 4)), kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0], dilations=[1, 1])
    return optimize(b.graph(b.op("Sigmoid", y)), 2)


def test_dot_text_labels_fused_nodes():
    text = viz.graph_to_dot(_graph())
    assert text.startswith('digraph "test" {') and text.rstrip().endswith("}")
    assert "FusedConv 3x3/1x1\\nbias+relu+max_pool(2x2/2x2)" in text
    assert "in0 -> n0" in text and "n1 -> out0" in text and "n0 -> n1" in text


def test_render_dot(tmp_path):
    path = viz.render(_graph(), tmp_path / "g.dot")
    assert path.read_text().startswith("digraph")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_render_with_graphviz(tmp_path, fmt):
    path = viz.render(_graph(), tmp_path / f"g.{fmt}")
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in data


def test_missing_graphviz_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    with pytest.raises(UsageError, match="install graphviz"):
        viz.render(_graph(), tmp_path / "g.svg")
    with pytest.raises(UsageError, match=".dot"):
        viz.render(_graph(), tmp_path / "g.jpg")
