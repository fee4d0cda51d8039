"""Conformance cases nobody here wrote, run through cnncc's ONNX backend interface.

Shared by the pytest files next to this one and by ``python -m tests.conformance.summary``:

- ``node``: onnx's backend node cases, built in memory by ``collect_testcases`` (the wheel
  ships no node data folder);
- ``light``: the model-zoo architectures in ``onnx/backend/test/data/light`` against their
  shipped expected outputs (input ``arange(n) / n``, as onnx's runner feeds them);
- ``light-ort``: the same models with seeded random weights against onnxruntime;
- ``pytorch-converted``, ``pytorch-operator``, ``simple``: the model folders shipped with
  onnx (``model.onnx`` + ``test_data_set_*``).

Every case ends as an ``Outcome``: passed, failed (wrong numbers, or a crash: anything other
than cnncc's UnsupportedOpError / UnsupportedDtypeError), or skipped with the reason cnncc
gave for refusing the model.

``CNNCC_CONFORMANCE_TARGET`` (default ``reference``) and ``CNNCC_CONFORMANCE_OPT_LEVEL``
(default 2) choose what compiles the cases.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnncc.errors import UnsupportedDtypeError, UnsupportedOpError

TARGET = os.environ.get("CNNCC_CONFORMANCE_TARGET", "reference")
OPT_LEVEL = int(os.environ.get("CNNCC_CONFORMANCE_OPT_LEVEL", "2"))
MODEL_FOLDERS = ("pytorch-converted", "pytorch-operator", "simple")
LIGHT_RTOL, LIGHT_ATOL = 1e-3, 1e-4  # issue 2: rtol 1e-3, atol 1e-4 (or the case's own, if tighter)
REFUSALS = (UnsupportedOpError, UnsupportedDtypeError)


@dataclass(frozen=True)
class Outcome:
    suite: str
    name: str
    op: str  # what the summary groups by: the op a node case tests, or the suite
    status: str  # "passed", "failed" or "skipped"
    reason: str = ""


def backend(target: str = TARGET, opt_level: int = OPT_LEVEL):
    from cnncc.onnx_backend import backend_for

    return backend_for(target, opt_level)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def _mismatch(exc: AssertionError) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    keep = [ln for ln in lines if ln.startswith(("Mismatched", "Max absolute", "Max relative", "Output", "Items", "x and y", "(shapes"))]
    return "mismatch: " + "; ".join(keep or lines[:2])


def _compare(expected, got, rtol: float, atol: float) -> None:
    from onnx.backend.test.runner import Runner

    Runner.assert_similar_outputs(list(expected), list(got), rtol=rtol, atol=atol)


def _run(suite: str, name: str, op: str, model, data_sets, rtol: float, atol: float, bk=None) -> Outcome:
    """Prepare ``model`` once and check every (inputs, expected outputs) pair."""
    bk = bk or backend()
    with np.errstate(all="ignore"):  # the cases feed sqrt/log/pow values outside their domain
        return _run_checked(suite, name, op, model, data_sets, rtol, atol, bk)


def _run_checked(suite, name, op, model, data_sets, rtol, atol, bk) -> Outcome:
    try:
        rep = bk.prepare(model)
        for inputs, expected in data_sets:
            got = rep.run(list(inputs))
            _compare(expected, got, rtol, atol)
    except REFUSALS as exc:
        return Outcome(suite, name, op, "skipped", _one_line(exc))
    except AssertionError as exc:
        return Outcome(suite, name, op, "failed", _mismatch(exc))
    except Exception as exc:  # noqa: BLE001 - a crash is a failure, reported by type
        return Outcome(suite, name, op, "failed", "crash: " + _one_line(exc))
    return Outcome(suite, name, op, "passed")


# -- node cases ----------------------------------------------------------------------------
@functools.cache
def node_cases() -> list:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return sorted(collect_testcases(None), key=lambda c: c.name)


@functools.cache
def _single_node_ops() -> dict[str, str]:
    return {c.name: c.model.graph.node[0].op_type for c in node_cases() if len(c.model.graph.node) == 1}


def node_case_op(case) -> str:
    """The op a node case tests; function-expanded cases count under their op, '(expanded)'."""
    nodes = case.model.graph.node
    if len(nodes) == 1:
        return nodes[0].op_type
    base = re.sub(r"_expanded(_ver\d+)?$", "", case.name)
    if base != case.name and base in _single_node_ops():
        return f"{_single_node_ops()[base]} (expanded)"
    return "(multi-node: " + ",".join(sorted({n.op_type for n in nodes})) + ")"


def _normalize(item):
    import onnx
    from onnx import numpy_helper

    return numpy_helper.to_array(item) if isinstance(item, onnx.TensorProto) else item


def run_node_case(case, bk=None) -> Outcome:
    data_sets = [([_normalize(x) for x in ins], [_normalize(y) for y in outs]) for ins, outs in case.data_sets]
    return _run("node", case.name, node_case_op(case), case.model, data_sets, case.rtol, case.atol, bk)


# -- model folders shipped with onnx -------------------------------------------------------
def data_dir() -> Path:
    from cnncc.zoo import onnx_test_data_dir

    return onnx_test_data_dir()


def model_folder_cases(folder: str) -> list[Path]:
    return sorted(p for p in (data_dir() / folder).iterdir() if (p / "model.onnx").exists())


def _load_proto(path: str, type_proto):
    import onnx
    from onnx import numpy_helper

    content = Path(path).read_bytes()
    if type_proto.HasField("sequence_type"):
        seq = onnx.SequenceProto()
        seq.ParseFromString(content)
        return numpy_helper.to_list(seq)
    if type_proto.HasField("optional_type"):
        opt = onnx.OptionalProto()
        opt.ParseFromString(content)
        return numpy_helper.to_optional(opt)
    tensor = onnx.TensorProto()
    tensor.ParseFromString(content)
    return numpy_helper.to_array(tensor)


def run_model_folder_case(case_dir: Path, bk=None) -> Outcome:
    import json

    import onnx

    suite = case_dir.parent.name
    model = onnx.load(str(case_dir / "model.onnx"))
    rtol, atol = 1e-3, 1e-7  # onnx's loader defaults, overridden by data.json
    if (case_dir / "data.json").exists():
        meta = json.loads((case_dir / "data.json").read_text())
        rtol, atol = meta.get("rtol", rtol), meta.get("atol", atol)
    inits = {t.name for t in model.graph.initializer}
    graph_inputs = [vi for vi in model.graph.input if vi.name not in inits]
    data_sets = []
    for ds in sorted(glob.glob(str(case_dir / "test_data_set_*"))):
        n_in = len(glob.glob(os.path.join(ds, "input_*.pb")))
        n_out = len(glob.glob(os.path.join(ds, "output_*.pb")))
        ins = [_load_proto(os.path.join(ds, f"input_{i}.pb"), graph_inputs[i].type) for i in range(n_in)]
        outs = [_load_proto(os.path.join(ds, f"output_{i}.pb"), model.graph.output[i].type) for i in range(n_out)]
        data_sets.append((ins, outs))
    return _run(suite, case_dir.name, suite, model, data_sets, rtol, atol, bk)


# -- the light model zoo -------------------------------------------------------------------
def run_light_case(name: str, bk=None) -> Outcome:
    import onnx

    from cnncc import zoo

    model = onnx.load(str(zoo.light_model_path(name)))
    feeds = zoo.light_input(model)
    expected = zoo.light_expected_output(name)
    rtol, atol = _real_case_tolerance(name)
    return _run("light", name, "light", model, [(list(feeds.values()), [expected])], rtol, atol, bk)


def _real_case_tolerance(name: str) -> tuple[float, float]:
    """The case's own tolerance (``data/real/test_NAME/data.json``, tighter than issue 2's
    rtol 1e-3 / atol 1e-4), as onnx's runner would apply it."""
    import json

    meta = data_dir() / "real" / f"test_{name}" / "data.json"
    if not meta.exists():
        return LIGHT_RTOL, LIGHT_ATOL
    data = json.loads(meta.read_text())
    return min(data.get("rtol", LIGHT_RTOL), LIGHT_RTOL), min(data.get("atol", LIGHT_ATOL), LIGHT_ATOL)


def run_light_ort_case(name: str, bk=None, seed: int = 0) -> Outcome:
    """Seeded random weights of the same shapes, onnxruntime as the oracle."""
    try:
        import onnxruntime as ort
    except ImportError:
        return Outcome("light-ort", name, "light-ort", "skipped", "onnxruntime is not installed")
    import onnx

    from cnncc import zoo

    model = zoo.with_random_weights(onnx.load(str(zoo.light_model_path(name))), seed=seed)
    feeds = zoo.light_input(model)
    rng = np.random.default_rng(seed)
    feeds = {k: rng.uniform(-1.0, 1.0, v.shape).astype(np.float32) for k, v in feeds.items()}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3  # the light models carry unused initializers; ORT warns per tensor
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    expected = sess.run(None, feeds)
    return _run("light-ort", name, "light-ort", model, [(list(feeds.values()), expected)], LIGHT_RTOL, LIGHT_ATOL, bk)


# -- everything ----------------------------------------------------------------------------
SUITES = ("node", "light", "light-ort", *MODEL_FOLDERS)


def suite_items(suite: str) -> list[tuple[str, object]]:
    """(test id, item) pairs for ``run_item``; node cases are built on first use (~3 s)."""
    from cnncc.zoo import LIGHT_MODELS

    if suite == "node":
        return [(c.name, c) for c in node_cases()]
    if suite in ("light", "light-ort"):
        return [(n, n) for n in LIGHT_MODELS]
    return [(p.name, p) for p in model_folder_cases(suite)]


def run_item(suite: str, item, bk=None) -> Outcome:
    if suite == "node":
        return run_node_case(item, bk)
    if suite == "light":
        return run_light_case(item, bk)
    if suite == "light-ort":
        return run_light_ort_case(item, bk)
    return run_model_folder_case(item, bk)


# -- pytest glue ---------------------------------------------------------------------------
RECORDED: list[Outcome] = []  # what the pytest run saw, for the terminal summary (conftest.py)


def node_case_supported(case) -> bool:
    """Whether every op of the case has a converter (the others must be refused cleanly)."""
    from cnncc.frontends.onnx import CONVERTERS

    return all(n.domain in ("", "ai.onnx") and n.op_type in CONVERTERS for n in case.model.graph.node)


def check(outcome: Outcome) -> None:
    """Turn an outcome into a pytest result."""
    import pytest

    RECORDED.append(outcome)
    if outcome.status == "skipped":
        pytest.skip(outcome.reason)
    if outcome.status == "failed":
        pytest.fail(f"{outcome.suite}/{outcome.name}: {outcome.reason}", pytrace=False)
