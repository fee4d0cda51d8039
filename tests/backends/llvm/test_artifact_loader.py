"""Loading an exported llvm artifact: the signature comes from the library, meta.json is
cross-checked against it, and every bad file is one clear ModelLoadError (issue 16, items 2,
6 and 9): never a write past a buffer, a SIGBUS, a hang or a raw exception."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cnncc
from cnncc.errors import ModelLoadError, UsageError

from artifact_helpers import export_tiny, tiny_input

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("artifact") / "tiny"
    exe = export_tiny(out, seed=0)
    return out, exe(tiny_input())


@pytest.fixture
def copy(artifact, tmp_path):
    """A private copy of the artifact to damage."""
    src, _ = artifact
    dst = tmp_path / "art"
    dst.mkdir()
    for f in src.iterdir():
        (dst / f.name).write_bytes(f.read_bytes())
    return dst


def edit_meta(directory: Path, fn) -> None:
    meta = json.loads((directory / "meta.json").read_text())
    fn(meta)
    (directory / "meta.json").write_text(json.dumps(meta))


def cli_load(directory: Path):
    """`cnncc run DIR` in a subprocess: a crash (signal) or hang shows as such, not as a dead
    test process. Returns (exit code, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "cnncc.cli", "run", str(directory)], capture_output=True,
                          text=True, timeout=120, cwd=REPO, env={**os.environ, "COLUMNS": "200"})
    return proc.returncode, proc.stderr


def test_loads_and_reports_the_library_signature(artifact):
    out, want = artifact
    m = cnncc.load(out)
    np.testing.assert_array_equal(m(tiny_input()), want)
    meta = json.loads((out / "meta.json").read_text())
    assert len(meta["build_id"]) == 32 and meta["files"]["library_bytes"] == (out / "libmodel.so").stat().st_size


@pytest.mark.parametrize("edit, message", [
    # a stale or edited shape must not size the output buffers (the old loader wrote past them)
    (lambda m: m["outputs"][0].__setitem__("shape", [1, 1]), "does not match"),
    (lambda m: m["outputs"][0].__setitem__("shape", [1, 4000]), "does not match"),
    (lambda m: m["inputs"][0].__setitem__("shape", [1, 3, 4, 4]), "does not match"),
    (lambda m: m["outputs"][0].__setitem__("dtype", "int64"), "does not match"),
    (lambda m: m["inputs"][0].__setitem__("name", "y"), "does not match"),
    (lambda m: m.__setitem__("build_id", "0" * 32), "build id"),
    (lambda m: m["files"].__setitem__("library_sha256", "0" * 64), "does not match"),
    (lambda m: m.pop("build_id"), "no build id"),
    (lambda m: m.pop("inputs"), '"inputs" is missing'),
    (lambda m: m.__setitem__("outputs", "y"), '"outputs" is missing or not a list'),
    (lambda m: m["outputs"][0].__setitem__("shape", ["a"]), "malformed entry"),
    (lambda m: m["outputs"][0].__setitem__("shape", [-1, 4]), "malformed entry"),
    (lambda m: m["inputs"].__setitem__(0, 7), "malformed entry"),
    (lambda m: m.__setitem__("files", None), "no build id"),
    (lambda m: m.__setitem__("target", 3), "not a JSON object"),
])
def test_meta_json_is_checked_against_the_library(copy, edit, message):
    edit_meta(copy, edit)
    with pytest.raises(ModelLoadError, match=message) as info:
        cnncc.load(copy)
    assert "meta.json" in str(info.value) or "libmodel.so" in str(info.value)


@pytest.mark.parametrize("text", ["{", "[]", "null", '"x"', "\xff\xfe"])
def test_malformed_meta_json(copy, text):
    (copy / "meta.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(ModelLoadError, match="meta.json"):
        cnncc.load(copy)


def test_special_files_are_refused_without_blocking(copy):
    for name in ("meta.json", "weights.bin", "libmodel.so"):
        target = copy / name
        saved = target.read_bytes()
        target.unlink()
        os.mkfifo(target)  # opening a FIFO for reading blocks until a writer comes
        with pytest.raises(ModelLoadError, match=f"{name}.*(not a regular file|missing)"):
            cnncc.load(copy)
        target.unlink()
        target.write_bytes(saved)
    (copy / "weights.bin").unlink()
    (copy / "weights.bin").mkdir()
    with pytest.raises(ModelLoadError, match="weights.bin"):
        cnncc.load(copy)


def test_weights_of_another_build_are_refused(copy, tmp_path):
    other = tmp_path / "other"
    export_tiny(other, seed=5)  # same shapes, same blob size, another build
    (copy / "weights.bin").write_bytes((other / "weights.bin").read_bytes())
    with pytest.raises(ModelLoadError, match="another build"):
        cnncc.load(copy)
    (copy / "weights.bin").write_bytes((other / "weights.bin").read_bytes()[:-10])
    with pytest.raises(ModelLoadError, match="wrong size"):
        cnncc.load(copy)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[: len(b) // 2], "does not match"),  # the old loader died of SIGBUS
    (lambda b: b[:64], "does not match"),
    (lambda b: b"", "not an ELF"),
    (lambda b: b"not a library at all\n" * 100, "not an ELF"),
])
def test_damaged_library_is_one_error_line(copy, damage, message):
    lib = copy / "libmodel.so"
    lib.write_bytes(damage(lib.read_bytes()))
    rc, stderr = cli_load(copy)
    lines = stderr.strip().splitlines()
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], stderr


def test_run_takes_a_mapping(artifact):
    out, _ = artifact
    m = cnncc.load(out)
    with pytest.raises(UsageError, match="dict"):
        m._executable.run([tiny_input()])
