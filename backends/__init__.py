"""Backends consume an optimized Graph and produce something runnable.

Each backend is a module exposing ``build(graph, **options) -> Executable`` and
``passes(opt_level) -> list[str]``, the passes it adds to the pipeline (``base.Backend``).
Modules are imported lazily so that, say, the reference backend works without llvmlite.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

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


def backend_passes(target: str | None, opt_level: int) -> list[str]:
    """The passes ``target``'s backend adds after the generic pipeline of -O ``opt_level``
    (registered by importing the backend); ``target`` None: none."""
    if target is None:
        return []
    backend, _ = get_backend(target)
    return list(backend.passes(opt_level))


def register_passes_named(names: Iterable[str]) -> None:
    """Make every pass in ``names`` known to the pass manager if a backend has it. Backends
    register their passes when imported, so a name not registered yet (``--disable-pass
    backend-layout`` with ``--target cuda``, or with no target) imports the available
    backends until it is. Names no backend has are left for the pass manager to report."""
    from cnncc.passes.manager import PASSES

    wanted = set(names) - {"all"}
    for module in dict.fromkeys(module for module, _ in TARGETS.values()):
        if wanted <= set(PASSES):
            return
        if importlib.util.find_spec(module) is not None:
            try:
                importlib.import_module(module)
            except ImportError:  # a backend that cannot load here has no passes to offer
                continue
