"""``cnncc.compile``: model in, runnable compiled model out, for every target."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from cnncc.errors import ShapeError, UsageError
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
    def precision(self) -> str:
        """What the compiled code computes in: "fp32" or "bf16" (``precision="auto"`` resolved
        for the target's cpu)."""
        return getattr(self._executable, "precision", "fp32")

    @property
    def output_names(self) -> list[str]:
        return [v.name for v in self.graph.outputs]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs by name for inputs by name. Inputs of another dtype are converted where
        that keeps their values (float64 or uint8 to a float32 input); others are refused."""
        from cnncc.backends.base import check_feeds

        # every executable checks too; checking here also covers loaded artifacts
        feeds = check_feeds(self.graph, feeds)
        with _out_of_memory("run the model"):
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


@contextmanager
def _out_of_memory(what: str) -> Iterator[None]:
    """A MemoryError (inputs too big for this machine) as the one-line error users get for
    any input that does not fit."""
    try:
        yield
    except MemoryError as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else "an allocation failed"
        raise ShapeError(f"not enough memory to {what} ({detail}); use smaller input shapes") from None


def import_model(model: Any, input_shapes: Mapping[str, Sequence[int]] | None = None) -> Graph:
    """A Graph from an ONNX path, ModelProto or serialized ModelProto bytes (a Graph passes through)."""
    if isinstance(model, Graph):
        return model
    from cnncc.frontends.onnx import import_onnx

    return import_onnx(model, input_shapes)


def optimize_for(
    graph: Graph,
    target: str | None,
    opt_level: int = 2,
    disable: Sequence[str] = (),
    print_after: Sequence[str] = (),
    records: list | None = None,
    echo: Callable[[str], None] = print,
) -> Graph:
    """``graph`` through the -O ``opt_level`` pipeline for ``target``: the generic passes,
    then the passes ``target``'s backend contributes (the llvm backend's NHWC storage at -O3;
    the other backends none). ``target`` None: the generic passes only. ``disable`` and
    ``print_after`` may name any backend's passes (cnncc.backends.register_passes_named)."""
    from cnncc.backends import backend_passes, register_passes_named
    from cnncc.passes.manager import optimize

    extra = backend_passes(target, opt_level)
    register_passes_named([*disable, *print_after])
    return optimize(graph, opt_level, disable=disable, print_after=print_after, records=records, echo=echo,
                    backend_passes=extra)


def compile(  # noqa: A001 - the public name users expect
    model: Any,
    target: str = "reference",
    input_shapes: Mapping[str, Sequence[int]] | None = None,
    opt_level: int = 2,
    disable_passes: Sequence[str] = (),
    print_after: Sequence[str] = (),
    pass_records: list | None = None,
    precision: str = "fp32",
    **backend_options: Any,
) -> CompiledModel:
    """Compile ``model`` for ``target``: a path to an .onnx file, an onnx.ModelProto, its
    serialized bytes (``ModelProto.SerializeToString()``; external data needs the path) or a
    Graph. ``input_shapes``: {input name: shape} for inputs with dynamic dimensions.
    ``precision``: "fp32" (default), "bf16" or "auto" (cnncc.precision); inputs and outputs
    stay float32 whichever it is, and ``CompiledModel.precision`` says what was chosen."""
    from cnncc.backends import get_backend
    from cnncc.precision import check_precision

    check_precision(precision)  # before the model is imported
    backend, options = get_backend(target)
    with _out_of_memory("compile the model"):
        source = import_model(model, input_shapes)
        graph = optimize_for(source, target, opt_level, disable=disable_passes, print_after=print_after,
                             records=pass_records)
        executable = backend.build(graph, **options, precision=precision, **backend_options)
    return CompiledModel(graph, executable, target, source_graph=source)
