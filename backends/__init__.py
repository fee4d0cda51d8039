"""Backends consume an optimized Graph and produce something runnable.

Each backend is a module exposing ``build(graph, **options) -> Executable`` (see base.py).
Modules are imported lazily so that, say, the reference backend works without llvmlite.
"""

from __future__ import annotations

import importlib

from cnncc.errors import UsageError

# target name -> (module, extra options passed to its build())
TARGETS: dict[str, tuple[str, dict]] = {
    "reference": ("cnncc.backends.reference", {}),
    "llvm": ("cnncc.backends.llvm", {}),
    "tvm-llvm": ("cnncc.backends.tvm", {"device": "cpu"}),
    "cuda": ("cnncc.backends.tvm", {"device": "cuda"}),
}


def available_targets() -> list[str]:
    """Targets whose backend module is present in this installation."""
    found = []
    for name, (module, _) in TARGETS.items():
        if importlib.util.find_spec(module) is not None:
            found.append(name)
    return found


def get_backend(target: str):
    """The backend module for ``target`` and the options it needs for that target."""
    if target not in TARGETS:
        raise UsageError(f"unknown target {target!r}; choose one of: {', '.join(TARGETS)}")
    module_name, options = TARGETS[target]
    if importlib.util.find_spec(module_name) is None:
        raise UsageError(
            f"target {target!r} is not available in this build of cnncc "
            f"(available: {', '.join(available_targets())})"
        )
    return importlib.import_module(module_name), dict(options)
