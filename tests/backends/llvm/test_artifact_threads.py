"""Concurrent runs on one model object (issue 16, item 4): a loaded artifact and a JIT model
called from 4 Python threads give exactly the results of serial runs."""

import threading

import numpy as np
import pytest

import cnncc
from cnncc.backends import llvm

from artifact_helpers import export_tiny, tiny_graph, tiny_input

THREADS = 4


def hammer(model, inputs, want, calls):
    """``calls`` runs per thread, each thread cycling through all inputs from its own offset
    (so concurrent runs have different inputs); the mismatches found."""
    bad = []

    def work(t):
        for i in range(calls):
            k = (t + i) % len(inputs)
            if not np.array_equal(model(inputs[k]), want[k]):
                bad.append((t, i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return bad


@pytest.fixture
def one_thread(monkeypatch):
    # one OpenMP thread per run: bit-identical to the serial runs and no oversubscription
    monkeypatch.setenv("CNNCC_NUM_THREADS", "1")


def test_loaded_artifact_from_four_threads(tmp_path, one_thread):
    export_tiny(tmp_path / "art", seed=0, size=16)
    m = cnncc.load(tmp_path / "art")
    inputs = [tiny_input(seed, size=16) for seed in range(8)]
    want = [m(x) for x in inputs]
    assert len({w.tobytes() for w in want}) == len(want)
    assert hammer(m, inputs, want, calls=1000) == []


def test_jit_model_from_four_threads(one_thread):
    m = cnncc.compile(tiny_graph(seed=0, size=16), target="llvm")
    inputs = [tiny_input(seed, size=16) for seed in range(8)]
    want = [m(x) for x in inputs]
    assert hammer(m, inputs, want, calls=1000) == []


def test_loaded_squeezenet_from_four_threads(tmp_path, one_thread):
    """The probe's case: 192 of 200 results were wrong with one shared workspace."""
    from cnncc import zoo

    model, shapes = zoo.get_model("squeezenet")
    compiled = cnncc.compile(model, target="llvm", input_shapes=shapes or None)
    compiled.export(tmp_path / "sq")
    m = cnncc.load(tmp_path / "sq")
    rng = np.random.default_rng(0)
    shape = m.graph.inputs[0].shape
    inputs = [rng.standard_normal(shape).astype(np.float32) for _ in range(4)]
    want = [m(x) for x in inputs]
    assert hammer(m, inputs, want, calls=12) == []
