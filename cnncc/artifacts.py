"""Loading compiled artifacts: ``meta.json`` names the target, whose backend loads the rest."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cnncc.errors import ModelLoadError, UsageError


def read_meta(directory: str | Path) -> dict:
    path = Path(directory) / "meta.json"
    if not path.exists():
        raise ModelLoadError(f"{directory} is not a cnncc artifact (no meta.json); build one with: cnncc compile MODEL -o {directory}")
    try:
        meta = json.loads(read_regular_file(path))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path} is corrupt: {exc}; recompile the artifact") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("target"), str):
        raise ModelLoadError(f"{path} is corrupt: not a JSON object with a \"target\"; recompile the artifact")
    return meta


def read_regular_file(path: Path) -> bytes:
    """The bytes of ``path``, refusing anything but a regular file: opening a FIFO for reading
    would block until a writer comes, a device could be endless."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ModelLoadError(f"cannot read {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ModelLoadError(f"{path} is not a regular file")
        return f.read()


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

    check_signature(meta, "meta.json")
    return Graph([value(s) for s in meta["inputs"]], [value(s) for s in meta["outputs"]], [], name=str(meta.get("model", "artifact")))


def check_signature(meta: dict, where: str) -> None:
    """ModelLoadError unless ``meta`` has "inputs" and "outputs" lists of {name, shape, dtype}."""
    for key in ("inputs", "outputs"):
        specs = meta.get(key)
        if not isinstance(specs, list):
            raise ModelLoadError(f"{where}: \"{key}\" is missing or not a list; recompile the artifact")
        for spec in specs:
            ok = (isinstance(spec, dict) and isinstance(spec.get("name"), str) and isinstance(spec.get("dtype"), str)
                  and isinstance(spec.get("shape"), list)
                  and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in spec["shape"]))
            if not ok:
                raise ModelLoadError(f"{where}: malformed entry in \"{key}\": {spec!r:.120}; recompile the artifact")


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


# -- writing artifact folders --------------------------------------------------------------
def is_artifact(directory: Path) -> bool:
    """Whether ``directory`` holds a cnncc artifact (so recompiling may replace it)."""
    try:
        meta = json.loads(read_regular_file(directory / "meta.json"))
    except (ModelLoadError, ValueError):
        return False
    return isinstance(meta, dict) and "target" in meta and "inputs" in meta


def output_dir(directory: str | Path, force: bool = False) -> Path:
    """The absolute folder an export may write, or a UsageError that says why not: it names a
    file, cannot be written, or is a non-empty folder that is not a cnncc artifact (replaced,
    with all it holds, only with ``force``)."""
    if not isinstance(directory, (str, os.PathLike)) or not str(directory):
        raise UsageError(f"the artifact folder must be a path, got {directory!r}")
    path = Path(os.path.abspath(directory))
    if path.is_symlink() and path.is_dir():
        path = path.resolve()  # replace the folder it names, not the link
    if path.exists() and not path.is_dir():
        raise UsageError(f"{directory} exists and is not a folder; name a folder for the artifact")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {path.parent}: {exc.strerror}") from exc
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write the artifact {directory}: {path.parent} is not writable")
    if path.is_dir() and any(path.iterdir()) and not is_artifact(path) and not force:
        raise UsageError(f"{directory} is a non-empty folder that holds no cnncc artifact; name a new or empty "
                         f"folder, or pass --force (Python: force=True) to replace it and everything in it")
    return path


def checkpoint(step: str) -> None:
    """A point of an export where an interruption must still leave a whole artifact (the old
    one or the new one). Tests replace this function to stop an export there."""


@contextmanager
def staged_dir(dest: Path) -> Iterator[Path]:
    """A new folder beside ``dest`` to build an artifact in, swapped in for ``dest`` when the
    block succeeds: an interrupted export never leaves a mix of two builds in ``dest``, and
    files that a running process has mapped are unlinked, never truncated."""
    _remove_stale_stages(dest)
    stage = dest.with_name(f".{dest.name}.cnncc-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        stage.mkdir()
    except OSError as exc:
        raise UsageError(f"cannot write the artifact {dest}: {exc.strerror}") from exc
    try:
        yield stage
        checkpoint("staged")
        _swap_in(stage, dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)  # after a swap it holds the old artifact


_RENAME_EXCHANGE = 2


def _swap_in(stage: Path, dest: Path) -> None:
    if not dest.exists():
        os.rename(stage, dest)
        return
    if _exchange(stage, dest):
        checkpoint("swapped")
        return
    # no atomic exchange on this system or file system: two renames, the old folder moved
    # aside first (an interruption between them leaves it there, under the stage's name)
    old = stage.with_name(stage.name + "-old")
    os.rename(dest, old)
    try:
        os.rename(stage, dest)
    except BaseException:
        os.rename(old, dest)
        raise
    try:
        checkpoint("swapped")
    finally:
        shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    import ctypes
    import errno

    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _remove_stale_stages(dest: Path) -> None:
    """Stages that an export killed before it could clean up left beside ``dest``."""
    if not dest.parent.is_dir():
        return
    for stale in dest.parent.glob(f".{dest.name}.cnncc-*"):
        pid = stale.name[len(dest.name) + 8:].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
