"""Exporting an llvm artifact (issue 16, items 3 and 9): built beside the folder and swapped
in whole, so an export killed at any point leaves the old artifact or the new one; a
running process keeps its files; a reload in the same process sees the new library; bad
-o paths are one error line."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import cnncc
from cnncc.backends import llvm
from cnncc.cli import main
from cnncc.errors import UsageError

from artifact_helpers import export_tiny, tiny_graph, tiny_input

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

# an export of tiny_graph(seed=1) over ARGV[1] that stops at checkpoint ARGV[2] and waits there
STOPPED_EXPORT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {here!r})
    from cnncc import artifacts
    from cnncc.backends import llvm
    from artifact_helpers import tiny_graph

    def stop(step):
        if step == sys.argv[2]:
            print("stopped", step, flush=True)
            time.sleep(120)

    artifacts.checkpoint = stop
    llvm.build(tiny_graph(seed=1), lazy=True).export(sys.argv[1])
    print("done", flush=True)
""").format(here=str(HERE))

STEPS = ["weights", "library", "meta", "staged", "swapped"]


@pytest.fixture(scope="module")
def expected():
    x = tiny_input()
    return x, {seed: llvm.build(tiny_graph(seed=seed))(x) for seed in (0, 1)}


def run_artifact(directory: Path, x: np.ndarray) -> np.ndarray:
    """Outputs of the artifact, loaded in a fresh process (the files on disk, nothing cached)."""
    code = ("import sys, numpy as np, cnncc; m = cnncc.load(sys.argv[1]); "
            "np.save(sys.argv[3], m(np.load(sys.argv[2])))")
    np.save(directory.parent / "x.npy", x)
    subprocess.run([sys.executable, "-c", code, str(directory), str(directory.parent / "x.npy"),
                    str(directory.parent / "y.npy")], check=True, cwd=REPO, timeout=120)
    return np.load(directory.parent / "y.npy")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
@pytest.mark.parametrize("step", STEPS)
def test_interrupted_export_leaves_a_whole_artifact(tmp_path, expected, step, sig):
    x, want = expected
    out = tmp_path / "art"
    export_tiny(out, seed=0)
    proc = subprocess.Popen([sys.executable, "-c", STOPPED_EXPORT, str(out), step], stdout=subprocess.PIPE,
                            text=True, cwd=REPO)
    try:
        line = proc.stdout.readline()
        assert line.strip() == f"stopped {step}"
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    got = run_artifact(out, x)
    new = step == "swapped"  # the swap is the one step that commits the new build
    np.testing.assert_array_equal(got, want[1] if new else want[0])
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".art.")]
    if sig == signal.SIGINT:
        assert not leftovers  # cleaned up on the way out
    export_tiny(out, seed=1)  # the next export removes what a killed one left
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".art.")]
    np.testing.assert_array_equal(run_artifact(out, x), want[1])


def test_reload_in_the_same_process_sees_the_new_build(tmp_path, expected):
    x, want = expected
    out = tmp_path / "art"
    export_tiny(out, seed=0)
    old = cnncc.load(out)
    np.testing.assert_array_equal(old(x), want[0])
    export_tiny(out, seed=1)
    np.testing.assert_array_equal(cnncc.load(out)(x), want[1])  # the dynamic loader cached the old path
    np.testing.assert_array_equal(old(x), want[0])  # the old model keeps its own files
    export_tiny(out, seed=0)
    np.testing.assert_array_equal(cnncc.load(out)(x), want[0])


# a C user of the artifact: maps the folder's own libmodel.so and weights.bin, runs once per
# line on stdin and prints the first output value
C_USER = textwrap.dedent("""
    import ctypes, sys
    import numpy as np
    lib = ctypes.CDLL(sys.argv[1] + "/libmodel.so")
    lib.cnncc_model_create.restype = ctypes.c_void_p
    lib.cnncc_model_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    m = lib.cnncc_model_create(None)
    x = np.load(sys.argv[2]); y = np.zeros((1, 4), np.float32)
    ins = (ctypes.c_void_p * 1)(x.ctypes.data); outs = (ctypes.c_void_p * 1)(y.ctypes.data)
    for line in sys.stdin:
        assert lib.cnncc_model_run(ctypes.c_void_p(m), ins, outs) == 0
        print(repr(float(y[0, 0])), flush=True)
""")


def test_recompile_under_a_running_process(tmp_path, expected):
    """The old export truncated the mapped weights.bin in place: SIGBUS in the user."""
    x, want = expected
    out = tmp_path / "art"
    export_tiny(out, seed=0)
    np.save(tmp_path / "x.npy", x)
    user = subprocess.Popen([sys.executable, "-c", C_USER, str(out), str(tmp_path / "x.npy")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        user.stdin.write("run\n")
        user.stdin.flush()
        first = float(user.stdout.readline())
        for seed in (1, 0, 1):
            export_tiny(out, seed=seed)
            user.stdin.write("run\n")
            user.stdin.flush()
            assert float(user.stdout.readline()) == first  # still the old build, from the old files
        user.stdin.close()
        assert user.wait(timeout=60) == 0
    finally:
        user.kill()
    assert first == float(want[0][0, 0])
    np.testing.assert_array_equal(run_artifact(out, x), want[1])


def test_artifact_folder_keeps_the_users_permissions(tmp_path):
    out = tmp_path / "art"
    export_tiny(out)
    assert (out.stat().st_mode & 0o777) == (0o777 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# -- refusals --------------------------------------------------------------------------------
def test_export_refuses_files_and_foreign_folders(tmp_path):
    exe = llvm.build(tiny_graph(), lazy=True)
    afile = tmp_path / "file.txt"
    afile.write_text("mine")
    with pytest.raises(UsageError, match="not a folder"):
        exe.export(afile)
    assert afile.read_text() == "mine"
    with pytest.raises(UsageError, match="cannot"):
        exe.export(afile / "sub")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "meta.json").write_text('{"my": "own file"}')
    with pytest.raises(UsageError, match="--force"):
        exe.export(mine)
    assert (mine / "meta.json").read_text() == '{"my": "own file"}'
    exe.export(mine, force=True)
    assert json.loads((mine / "meta.json").read_text())["target"] == "llvm"
    with pytest.raises(UsageError, match="must be a path"):
        cnncc.compile(tiny_graph(), target="llvm").export(None)
    with pytest.raises(UsageError, match="not a folder"):
        cnncc.compile(tiny_graph(), target="llvm").export(afile)
    empty = tmp_path / "empty"
    empty.mkdir()
    exe.export(empty)
    assert (empty / "libmodel.so").is_file()


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    path = tmp_path_factory.mktemp("onnx") / "relu.onnx"
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _cnncc(capsys, *args):
    rc = main(list(args))
    return rc, capsys.readouterr().err


def test_compile_o_refusals_are_one_error_line(tmp_path, onnx_file, capsys):
    afile = tmp_path / "file"
    afile.write_text("x")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    cases = [(afile, "not a folder"), (afile / "sub", "cannot create"),
             (Path("/proc/1/cnncc-no-such-dir"), "cannot"), (mine, "--force")]
    for out, message in cases:
        rc, err = _cnncc(capsys, "compile", str(onnx_file), "-o", str(out))
        lines = err.strip().splitlines()
        assert rc == 2 and len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert (mine / "notes.txt").read_text() == "mine" and afile.read_text() == "x"
    rc, err = _cnncc(capsys, "compile", str(onnx_file), "-o", str(mine), "--force")
    assert rc == 0, err
    assert not (mine / "notes.txt").exists() and (mine / "libmodel.so").is_file()
    rc, err = _cnncc(capsys, "compile", str(onnx_file), "-o", str(mine), "--emit-source")
    assert rc == 0, err  # an artifact folder is replaced without --force
    assert (mine / "model.ll").is_file()
