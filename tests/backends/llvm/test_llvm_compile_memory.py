"""Memory one process keeps per llvm build (issue 16, item 10).

llvmlite 0.50 never deletes a ModulePassManager (its ``_dispose`` is shadowed by
``ObjectRef``'s no-op), so before backends/llvm/compile.py freed it each build kept the O3
pipeline: about 145 KiB of heap and 160-185 KiB of RSS. What is left is the
PassInstrumentationCallbacks each llvmlite PassBuilder allocates and never frees (about 2 KiB).
The measurement runs in a child process (scripts/llvm_compile_memory.py) so that what other
tests loaded does not count.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llvmlite.binding.newpassmanagers import ModulePassManager

from cnncc.backends.llvm import compile as llvm_compile
from cnncc.backends.llvm.codegen import generate
from cnncc.backends.llvm.compile import free_module_pass_manager, optimize_module
from cnncc.backends.llvm.target import host_target
from cnncc.builder import GraphBuilder

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "llvm_compile_memory.py"
# Between the figure after the fix (2-4 KiB per build) and before it (145-185 KiB), far from
# both: RSS moves in steps of whatever malloc grows its heap by, 60 builds average that out.
BOUND_KIB_PER_BUILD = 40


def _measure(*extra) -> dict:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--builds", "60", "--warmup", "30", *extra],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_builds_keep_no_pass_pipeline():
    r = _measure()
    assert r["rss_kib_per_build"] < BOUND_KIB_PER_BUILD, r
    if r["heap_kib_per_build"] is not None:  # glibc
        assert r["heap_kib_per_build"] < BOUND_KIB_PER_BUILD, r


def _relu_graph():
    b = GraphBuilder("relu")
    x = b.input("x", (1, 4, 5, 5))
    return b.build(b.op("Relu", [x], name="relu", outputs=["y"]))


def test_optimize_module_frees_its_pass_manager(monkeypatch):
    """The pipeline is freed after it ran and when running it failed; freeing twice (or an
    llvmlite whose close() frees it too) deletes it once."""
    freed = []

    def free_twice(mpm):
        free_module_pass_manager(mpm)
        free_module_pass_manager(mpm)
        freed.append(mpm.closed)

    monkeypatch.setattr(llvm_compile, "free_module_pass_manager", free_twice)
    tm = host_target().target_machine()
    optimize_module(generate(_relu_graph(), host_target()), tm).verify()
    assert freed == [True]

    def fail(self, module, pb):
        raise RuntimeError("pipeline failed")

    monkeypatch.setattr(ModulePassManager, "run", fail)
    with pytest.raises(RuntimeError, match="pipeline failed"):
        optimize_module(generate(_relu_graph(), host_target()), tm)
    assert freed == [True, True]
