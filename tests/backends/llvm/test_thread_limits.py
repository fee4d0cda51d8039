"""An oversized CNNCC_NUM_THREADS under a thread limit (issue 16, item 6). libgomp ends the
process ("libgomp: Thread creation failed", exit 1) when it cannot start a team thread; the
runtimes first probe how many threads can start and ask libgomp for no more (thread_limit.py,
c/runtime.c).

RLIMIT_NPROC counts every thread of a user and does not bind root, so each case runs in a
child that drops to a user of its own (100000 + its pid: concurrent children, under
pytest-xdist too, never share one) and limits that user to the threads it has plus EXTRA."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from artifact_helpers import export_tiny, tiny_input

from cnncc.backends.llvm import thread_limit
from cnncc.backends.llvm.runtime import max_threads
from cnncc.errors import CnnccNote

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
SIZE = 64  # big enough for the conv to run on the thread team
ASKED = 8  # CNNCC_NUM_THREADS; clamped to 4 per core (at least 4) ...
EXTRA = 2  # ... and the child may start only 2 threads: a team of 3
NOTE = f"only {EXTRA + 1} of the {min(ASKED, max_threads())} threads asked for could be started"
CANNOT_DROP = 77

needs_root = pytest.mark.skipif(
    not os.path.isdir("/proc/self/task") or not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs Linux and root: RLIMIT_NPROC counts every process of a user and does not bind root, so the "
           "children run under a user of their own")

# Defined in each child: become a user of its own, allowed `extra` threads beyond its own.
LIMIT_THREADS = f"""
import os, resource, sys
def limit_threads(extra):
    uid = 100000 + os.getpid()
    try:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    except OSError as exc:
        print("cannot become an unprivileged user:", exc, file=sys.stderr)
        sys.exit({CANNOT_DROP})
    have = len(os.listdir("/proc/self/task"))
    resource.setrlimit(resource.RLIMIT_NPROC, (have + extra, have + extra))
"""


def child(code: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "CNNCC_NUM_THREADS": "1"}  # numpy's BLAS: no threads
    proc = subprocess.run([sys.executable, "-c", LIMIT_THREADS + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=env, cwd=HERE)
    if proc.returncode == CANNOT_DROP:
        pytest.skip(proc.stderr.strip())
    return proc


def report(proc) -> str:
    return f"exit {proc.returncode}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-2000:]}"


# Runs `m` (made by MAKE) with 1 thread, then under the limit with ASKED threads, and prints
# whether the results agree and the notes the runs gave.
RUN_UNDER_LIMIT = """
import json, os, warnings
import numpy as np
import cnncc
from cnncc.errors import CnnccNote
from artifact_helpers import tiny_graph, tiny_input

m = {make}
x = tiny_input(0, size={size})
want = m(x)  # CNNCC_NUM_THREADS=1: no team thread
limit_threads({extra})
os.environ["CNNCC_NUM_THREADS"] = "{asked}"
with warnings.catch_warnings(record=True) as notes:
    warnings.simplefilter("always")
    same = [bool(np.array_equal(m(x), want)) for _ in range(3)]
print(json.dumps({{"same": same, "notes": [str(n.message) for n in notes if n.category is CnnccNote]}}))
"""


def run_under_limit(make: str) -> dict:
    proc = child(RUN_UNDER_LIMIT.format(make=make, size=SIZE, extra=EXTRA, asked=ASKED))
    assert proc.returncode == 0, report(proc)
    return json.loads(proc.stdout.splitlines()[-1])


@needs_root
def test_jit_run_under_a_thread_limit():
    # the same graph as the artifact test's, whose conv runs on the team (checked there)
    got = run_under_limit(f'cnncc.compile(tiny_graph(0, size={SIZE}), target="llvm")')
    assert got["same"] == [True] * 3
    assert len(got["notes"]) == 1 and got["notes"][0].startswith(NOTE), got["notes"]


@needs_root
def test_loaded_artifact_run_under_a_thread_limit(tmp_path):
    exe = export_tiny(tmp_path / "art", seed=0, size=SIZE)
    assert any(k.parallel for k in exe.generated.kernels)  # else no run would ask libgomp for a team
    got = run_under_limit(f"cnncc.load({str(tmp_path / 'art')!r})")
    assert got["same"] == [True] * 3
    assert len(got["notes"]) == 1 and got["notes"][0].startswith(NOTE), got["notes"]


@pytest.fixture
def shared_dir():
    """A folder the children's unprivileged users can read (pytest's tmp_path is root's only)."""
    d = Path(tempfile.mkdtemp(prefix="cnncc-thread-limit-"))
    d.chmod(0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def export_readable(directory: Path):
    exe = export_tiny(directory, seed=0, size=SIZE)
    for p in [directory, *directory.iterdir()]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return exe


@needs_root
@pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc")) is None, reason="no C compiler")
def test_c_program_under_a_thread_limit(shared_dir, monkeypatch):
    """The C runtime alone (no Python in the process): examples/c/run_model.c."""
    art, results = shared_dir / "art", shared_dir / "results"
    exe = export_readable(art)
    monkeypatch.setenv("CNNCC_NUM_THREADS", "1")
    x = tiny_input(0, size=SIZE)
    want = exe.run({"x": x})[exe.graph.outputs[0].name]
    binary = shared_dir / "run_model"
    subprocess.run([os.environ.get("CC", "cc"), "-O2", str(REPO / "examples/c/run_model.c"), "-I", str(art),
                    "-L", str(art), "-lmodel", f"-Wl,-rpath,{art}", "-o", str(binary)], check=True)
    x.tofile(shared_dir / "x.bin")
    results.mkdir(mode=0o777)
    results.chmod(0o777)
    proc = child(f"""
        os.environ["CNNCC_NUM_THREADS"] = "{ASKED}"
        limit_threads({EXTRA})
        os.execv({str(binary)!r}, ["run_model", "-o", {str(results)!r}, {str(shared_dir / 'x.bin')!r}])
        """)
    assert proc.returncode == 0, report(proc)
    got = np.fromfile(results / "0.bin", dtype=np.float32).reshape(want.shape)
    np.testing.assert_array_equal(got, want)


@needs_root
def test_cli_notes_the_clamp_once(shared_dir):
    export_readable(shared_dir / "art")
    proc = child(f"""
        from cnncc.cli import main
        assert main(["run", {str(shared_dir / 'art')!r}]) == 0  # 1 thread; imports what the CLI needs
        os.environ["CNNCC_NUM_THREADS"] = "{ASKED}"
        limit_threads({EXTRA})
        sys.exit(main(["run", {str(shared_dir / 'art')!r}]))
        """)
    assert proc.returncode == 0, report(proc)
    notes = [ln for ln in proc.stderr.splitlines() if ln.startswith("note:")]
    assert len(notes) == 1 and notes[0].startswith(f"note: {NOTE}"), report(proc)


# -- the probe's bookkeeping, without a limit ----------------------------------------------
def in_new_thread(fn):
    """fn() in a fresh thread (the probe's memory is per thread); its result."""
    out = {}
    t = threading.Thread(target=lambda: out.update(result=fn()))
    t.start()
    t.join()
    return out["result"]


def test_probe_runs_once_per_thread_and_larger_count(monkeypatch):
    calls = []

    def fake_start(count):
        calls.append(count)
        return min(count, 4)  # as if only 4 more threads could start

    monkeypatch.setattr(thread_limit, "start_threads", fake_start)
    monkeypatch.setattr(thread_limit, "_noted", False)

    def runs():
        return [thread_limit.usable_threads(n) for n in (1, 3, 3, 2, 8, 8, 5, 6, 16, 1)]

    with pytest.warns(CnnccNote, match="only 5 of the 8 threads") as notes:
        got = in_new_thread(runs)
    assert got == [1, 3, 3, 2, 5, 5, 5, 5, 5, 1]
    assert calls == [2, 7, 15]  # 1 starts none; 3, 8 and 16 each once; none for smaller ones
    assert len(notes) == 1  # once per process, however often the clamp applies
    calls.clear()
    assert in_new_thread(lambda: thread_limit.usable_threads(3)) == 3 and calls == [2]  # another thread probes anew


def test_probe_threads_start_and_are_gone_after():
    before = threading.active_count()
    assert thread_limit.start_threads(5) == 5
    assert threading.active_count() == before


@pytest.mark.parametrize("omp, want", [("3", "3"), ("100000", "cap")])
def test_count_0_is_libgomps_default_within_the_cap(omp, want):
    # 0 used to reach libgomp as 0, which starts OMP_NUM_THREADS threads, however many
    code = ("from cnncc.backends.llvm.runtime import max_threads, team_size\n"
            "print(team_size(0), max_threads())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": omp})
    assert proc.returncode == 0, proc.stderr
    got, cap = proc.stdout.split()
    assert got == (cap if want == "cap" else want)
