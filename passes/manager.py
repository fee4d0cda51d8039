"""Passes by name, pipelines per optimization level, and the debugging instruments.

A pass is a function ``Graph -> Graph`` registered with ``@register_pass("name")``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from cnncc.errors import UsageError
from cnncc.ir import Graph, GraphError

PassFn = Callable[[Graph], Graph]
PASSES: dict[str, PassFn] = {}

# The pipelines, level by level; each level runs everything the one below it runs.
PIPELINES: dict[int, list[str]] = {0: [], 1: [], 2: [], 3: []}


def register_pass(name: str):
    def wrap(fn: PassFn) -> PassFn:
        PASSES[name] = fn
        return fn

    return wrap


@dataclass
class PassRecord:
    name: str
    nodes_before: int
    nodes_after: int
    notes: list[str] = field(default_factory=list)


def pipeline_for(opt_level: int) -> list[str]:
    if opt_level not in PIPELINES:
        raise UsageError(f"--opt-level must be one of {sorted(PIPELINES)}, got {opt_level}")
    return list(PIPELINES[opt_level])


def optimize(
    graph: Graph,
    opt_level: int = 2,
    disable: Iterable[str] = (),
    print_after: Iterable[str] = (),
    records: list[PassRecord] | None = None,
    echo: Callable[[str], None] = print,
) -> Graph:
    """Run the pipeline of ``opt_level`` on a copy of ``graph``."""
    disable, print_after = set(disable), set(print_after)
    unknown = (disable | (print_after - {"all"})) - set(PASSES)
    if unknown:
        raise UsageError(f"unknown pass(es) {', '.join(sorted(unknown))}; known: {', '.join(sorted(PASSES))}")
    graph = graph.copy()
    for name in pipeline_for(opt_level):
        if name in disable:
            continue
        before = len(graph.nodes)
        graph = PASSES[name](graph)
        try:
            graph.validate()
        except GraphError as exc:
            raise GraphError(f"pass {name} broke the graph: {exc}") from exc
        if records is not None:
            records.append(PassRecord(name, before, len(graph.nodes)))
        if name in print_after or "all" in print_after:
            echo(f"// after {name}\n{graph}")
    return graph
