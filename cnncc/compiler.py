"""``cnncc.compile``: model in, runnable compiled model out, for every target."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnncc.errors import UsageError
from cnncc.ir import Graph


class CompiledModel:
    """A compiled model: call it like a function, or ``run`` it with inputs by name."""

    def __init__(self, graph: Graph, executable: Any, target: str, source_graph: Graph | None = None):
        self.graph = graph
        self.source_graph = source_graph
        self.target = target
        self._executable = executable

    @property
    def input_names(self) -> list[str]:
        return [v.name for v in self.graph.inputs]

    @property
    def output_names(self) -> list[str]:
        return [v.name for v in self.graph.outputs]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self._executable.run(feeds)

    def __call__(self, *args: np.ndarray):
        """Positional inputs in model order; one output comes back bare, several as a tuple."""
        if len(args) != len(self.graph.inputs):
            raise UsageError(f"the model takes {len(self.graph.inputs)} input(s) ({', '.join(self.input_names)}), got {len(args)}")
        outs = self.run(dict(zip(self.input_names, args)))
        values = [outs[n] for n in self.output_names]
        return values[0] if len(values) == 1 else tuple(values)

    def sources(self) -> dict[str, str]:
        """Generated source by file name (LLVM IR, CUDA C, ...), as far as the target keeps it."""
        sources = getattr(self._executable, "sources", None)
        if sources is not None:
            return dict(sources())
        found = {}
        for method, filename in (("llvm_ir", "model.ll"), ("cuda_source", "kernels.cu")):
            fn = getattr(self._executable, method, None)
            if fn is not None:
                found[filename] = fn()
        if not found:
            raise UsageError(f"target {self.target!r} keeps no generated source to emit")
        return found

    def export(self, directory: str | Path, force: bool = False) -> Path:
        """Write the deployable artifact to the folder ``directory``; ``force``: replace a
        non-empty folder that is not a cnncc artifact (cnncc.artifacts.output_dir)."""
        from cnncc.artifacts import output_dir

        export = getattr(self._executable, "export", None)
        if export is None:
            raise UsageError(f"target {self.target!r} produces nothing to export; use --target llvm or cuda")
        output_dir(directory, force)  # the same refusals for every target
        if force and "force" in inspect.signature(export).parameters:
            return export(Path(directory), force=True)
        return export(Path(directory))

    def __repr__(self) -> str:
        return f"<CompiledModel {self.graph.name} target={self.target} inputs={self.input_names} outputs={self.output_names}>"


def import_model(model: Any, input_shapes: Mapping[str, Sequence[int]] | None = None) -> Graph:
    """A Graph from an ONNX path or ModelProto (a Graph passes through)."""
    if isinstance(model, Graph):
        return model
    from cnncc.frontends.onnx import import_onnx

    return import_onnx(model, input_shapes)


def compile(  # noqa: A001 - the public name users expect
    model: Any,
    target: str = "reference",
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    opt_level: int = 2,
    disable_passes: Sequence[str] = (),
    print_after: Sequence[str] = (),
    pass_records: list | None = None,
    **backend_options: Any,
) -> CompiledModel:
    """Compile ``model`` (path, onnx.ModelProto or Graph) for ``target``."""
    from cnncc.backends import get_backend
    from cnncc.passes.manager import optimize

    backend, options = get_backend(target)
    source = import_model(model, input_shapes)
    graph = optimize(source, opt_level, disable=disable_passes, print_after=print_after, records=pass_records)
    executable = backend.build(graph, **options, **backend_options)
    return CompiledModel(graph, executable, target, source_graph=source)
