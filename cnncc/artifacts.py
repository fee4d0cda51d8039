"""Loading compiled artifacts: ``meta.json`` names the target, whose backend loads the rest."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cnncc.errors import ModelLoadError


def read_meta(directory: str | Path) -> dict:
    path = Path(directory) / "meta.json"
    if not path.is_file():
        raise ModelLoadError(f"{directory} is not a cnncc artifact (no meta.json); build one with: cnncc compile MODEL -o {directory}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path} is corrupt: {exc}") from exc


def load(directory: str | Path):
    """The CompiledModel stored in ``directory`` by ``CompiledModel.export``."""
    from cnncc.backends import get_backend

    from cnncc.compiler import CompiledModel

    meta = read_meta(directory)
    backend, _ = get_backend(meta.get("target", "?"))
    if not hasattr(backend, "load"):
        raise ModelLoadError(f"target {meta.get('target')!r} cannot load artifacts")
    loaded = backend.load(Path(directory), meta)
    if isinstance(loaded, CompiledModel):
        return loaded
    return CompiledModel(signature_graph(meta), loaded, meta["target"])


def signature_graph(meta: dict):
    """A node-less Graph with an artifact's inputs and outputs (names, shapes, dtypes): all
    that callers of a loaded model see of it."""
    from cnncc.ir import Graph, TensorType, Value

    def value(spec):
        return Value(spec["name"], TensorType(tuple(spec["shape"]), spec["dtype"]))

    return Graph([value(s) for s in meta["inputs"]], [value(s) for s in meta["outputs"]], [], name=meta.get("model", "artifact"))


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary sibling of ``path`` to write into: renamed over ``path`` when the block
    succeeds, removed when it fails, so no half-written file is ever left behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # keep the suffix: np.savez and savefig pick their format from it
    tmp = path.with_name(f".{path.stem}.part{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
