"""Pictures of a Graph: DOT text from the networkx view, rendered by Graphviz's ``dot``.

``graph_to_dot(graph)`` needs nothing but networkx; ``render(graph, "g.svg")`` (or .png)
runs the ``dot`` binary from Graphviz (``apt-get install graphviz``); ``.dot`` is written
directly. Fused nodes are labelled with their epilogue, e.g. ``FusedConv 3x3/1 bias+relu``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from cnncc.errors import UsageError
from cnncc.ir import Graph, Node, Value

RENDERED_FORMATS = ("svg", "png", "pdf")
FILL = {"FusedConv": "#cfe8ff", "FusedGemm": "#d8f5d0", "Conv": "#e8f1fb", "Gemm": "#eaf7e6"}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def node_label(node: Node) -> str:
    """Op, its key attributes and, for fused ops, the epilogue; then the output type."""
    from cnncc.ops.fused import describe_epilogue

    head = node.op
    a = node.attrs
    if "kernel_shape" in a and "strides" in a:
        head += f" {'x'.join(map(str, a.kernel_shape))}/{'x'.join(map(str, a.strides))}"
        if a.get("group", 1) != 1:
            head += f" g{a.group}"
    lines = [head]
    if "epilogue" in a:
        lines.append(describe_epilogue(a.epilogue))
    lines.append(", ".join(str(o.type) for o in node.outputs))
    lines.append(node.name)
    return "\n".join(lines)


def graph_to_dot(graph: Graph) -> str:
    """DOT text: one box per node, ellipses for graph inputs and outputs, edges carry values."""
    nxg = graph.to_networkx()
    ids = {id(n): f"n{i}" for i, n in enumerate(nxg.nodes)}
    lines = [
        f"digraph {_quote(graph.name)} {{",
        "  rankdir=TB;",
        '  node [shape=box, style="rounded,filled", fillcolor="#f4f4f4", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8, color="#666666"];',
    ]
    for node in nxg.nodes:
        fill = FILL.get(node.op)
        style = f", fillcolor={_quote(fill)}" if fill else ""
        lines.append(f"  {ids[id(node)]} [label={_quote(node_label(node))}{style}];")
    for i, v in enumerate(graph.inputs):
        label = _quote(v.name + "\n" + str(v.type))
        lines.append(f'  in{i} [label={label}, shape=ellipse, fillcolor="#fff3c4"];')
    for i, v in enumerate(graph.outputs):
        label = _quote(v.name + "\n" + str(v.type))
        lines.append(f'  out{i} [label={label}, shape=ellipse, fillcolor="#fde0dc"];')
    for src, dst, data in nxg.edges(data=True):
        v: Value = data["value"]
        lines.append(f"  {ids[id(src)]} -> {ids[id(dst)]} [tooltip={_quote(v.name)}];")
    for i, v in enumerate(graph.inputs):
        for node in nxg.nodes:
            if any(u is v for u in node.inputs):
                lines.append(f"  in{i} -> {ids[id(node)]};")
    for i, v in enumerate(graph.outputs):
        producer = v.producer if v.producer is not None and id(v.producer) in ids else None
        if producer is not None:
            lines.append(f"  {ids[id(producer)]} -> out{i};")
        else:
            src = next((f"in{j}" for j, u in enumerate(graph.inputs) if u is v), None)
            if src:
                lines.append(f"  {src} -> out{i};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(graph: Graph, path: str | Path) -> Path:
    """Write the picture to ``path``: .dot as text, .svg/.png/.pdf through Graphviz's ``dot``."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    text = graph_to_dot(graph)
    if fmt in ("dot", "gv"):
        path.write_text(text)
        return path
    if fmt not in RENDERED_FORMATS:
        raise UsageError(f"cannot draw a graph as {path.name}: use .dot, .svg, .png or .pdf")
    dot = shutil.which("dot")
    if dot is None:
        raise UsageError(
            f"drawing {path.name} needs Graphviz's 'dot' program, which is not installed; "
            "install graphviz (e.g. apt-get install graphviz) or write a .dot file instead"
        )
    proc = subprocess.run([dot, f"-T{fmt}", "-o", str(path)], input=text.encode(), capture_output=True, timeout=300)
    if proc.returncode != 0:
        raise UsageError(f"Graphviz's dot failed to draw {path.name}: {proc.stderr.decode(errors='replace').strip()[:500]}")
    return path
