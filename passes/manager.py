"""Passes by name, pipelines per optimization level, and the debugging instruments.

The pipeline of an -O level is the generic list below, then the passes the chosen backend
contributes for that level (its ``passes(opt_level)``, cnncc.backends.backend_passes), which
the caller hands to ``optimize``: this package imports no backend, and a backend registers
its own passes here when it is imported.

A pass is a function ``Graph -> Graph`` registered with ``@register_pass("name")``. It is pure:
it works on ``graph.copy()`` and leaves its argument unchanged. While it runs it may call
``note("folded 3 BatchNormalization into Conv")``; the manager collects those notes, the node
counts and the op-histogram change of every pass into ``PassRecord``s (``--pass-stats``).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from cnncc.errors import CnnccError, InternalError, UsageError
from cnncc.ir import Graph, GraphError

PassFn = Callable[[Graph], Graph]
PASSES: dict[str, PassFn] = {}

# The clean-ups and foldings of -O1, in order. Folding runs first so that the weight-only
# subgraphs are constants before the rewrites that need constant operands look at them.
CLEANUP = [
    "fold-constants",
    "fold-dropout",
    "canonicalize",
    "eliminate-noops",
    "cse",
    "fold-batch-norm",
    "fold-pad",
    "fold-constants",
    "dce",
]
FUSION = ["fuse-conv", "fuse-gemm", "dce"]

# The generic pipelines, level by level; each level runs everything the one below it runs.
# -O3 is -O2 plus projection shortcuts joined to the conv they are added to; a backend adds
# its own -O3 passes after these (the llvm backend: NHWC storage between 1x1 convs).
PIPELINES: dict[int, list[str]] = {
    0: [],
    1: CLEANUP,
    2: CLEANUP + FUSION,
    3: CLEANUP + FUSION + ["fuse-projection"],
}


def register_pass(name: str):
    def wrap(fn: PassFn) -> PassFn:
        if name in PASSES and PASSES[name] is not fn:
            raise ValueError(f"pass {name} registered twice")
        PASSES[name] = fn
        return fn

    return wrap


_NOTES: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("cnncc_pass_notes", default=None)


def note(text: str) -> None:
    """Record what the running pass rewrote (shown by ``--pass-stats``); a no-op outside one."""
    notes = _NOTES.get()
    if notes is not None:
        notes.append(text)


@dataclass
class PassRecord:
    name: str
    nodes_before: int
    nodes_after: int
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.notes) or self.nodes_before != self.nodes_after

    def __str__(self) -> str:
        head = f"{self.name}: {self.nodes_before} -> {self.nodes_after} nodes ({self.seconds * 1000:.0f} ms)"
        return head + "".join(f"\n    {n}" for n in self.notes)


def histogram_change(before: dict[str, int], after: dict[str, int]) -> list[str]:
    """Op counts that a pass changed, e.g. ``removed 2 Dropout``, ``added 5 FusedConv``."""
    lines = []
    for op in sorted(set(before) | set(after)):
        delta = after.get(op, 0) - before.get(op, 0)
        if delta:
            lines.append(f"{'added' if delta > 0 else 'removed'} {abs(delta)} {op}")
    return lines


def pipeline_for(opt_level: int, backend_passes: Sequence[str] = ()) -> list[str]:
    """The generic passes of ``opt_level``, then ``backend_passes`` (the backend's own)."""
    if opt_level not in PIPELINES:
        raise UsageError(f"--opt-level must be one of {sorted(PIPELINES)}, got {opt_level}")
    return list(PIPELINES[opt_level]) + list(backend_passes)


def run_pass(name: str, graph: Graph, record: PassRecord | None = None) -> Graph:
    """Run one registered pass, check the result, and fill ``record`` (if given)."""
    if name not in PASSES:
        raise UsageError(f"unknown pass {name}; known: {', '.join(sorted(PASSES))}")
    notes: list[str] = []
    token = _NOTES.set(notes)
    hist = graph.op_histogram()
    start = time.perf_counter()
    try:
        result = PASSES[name](graph)
    except (CnnccError, InternalError, MemoryError):
        raise  # a user's error (a shape a fold found wrong, ...) keeps its class
    except Exception as exc:  # noqa: BLE001 - anything else is a bug in the pass
        raise InternalError(f"pass {name}", exc) from exc
    finally:
        _NOTES.reset(token)
    elapsed = time.perf_counter() - start
    if not isinstance(result, Graph):
        raise GraphError(f"pass {name} returned {type(result).__name__}, not a Graph")
    try:
        result.validate()
    except GraphError as exc:
        raise GraphError(f"pass {name} broke the graph: {exc}") from exc
    if record is not None:
        record.nodes_after = len(result.nodes)
        record.seconds = elapsed
        record.notes = notes + histogram_change(hist, result.op_histogram())
    return result


def optimize(
    graph: Graph,
    opt_level: int = 2,
    disable: Iterable[str] = (),
    print_after: Iterable[str] = (),
    records: list[PassRecord] | None = None,
    echo: Callable[[str], None] = print,
    backend_passes: Sequence[str] = (),
) -> Graph:
    """Run the pipeline of ``opt_level`` on a copy of ``graph`` (the argument is left as is):
    the generic passes, then ``backend_passes``, the passes the target's backend contributes
    (cnncc.compiler.optimize_for asks the backend). ``disable`` and ``print_after`` name
    registered passes; those not in this pipeline are ignored."""
    disable, print_after = set(disable), set(print_after)
    unknown = (disable | (print_after - {"all"})) - set(PASSES)
    if unknown:
        raise UsageError(f"unknown pass(es) {', '.join(sorted(unknown))}; known: {', '.join(sorted(PASSES))}")
    graph = graph.copy()
    for name in pipeline_for(opt_level, backend_passes):
        if name in disable:
            continue
        record = PassRecord(name, len(graph.nodes), len(graph.nodes))
        graph = run_pass(name, graph, record)
        if records is not None:
            records.append(record)
        if name in print_after or "all" in print_after:
            echo(f"// after {name}\n{graph}")
    return graph


def format_records(records: Iterable[PassRecord]) -> str:
    """The ``--pass-stats`` table: one block per pass that ran."""
    return "\n".join(str(r) for r in records)
