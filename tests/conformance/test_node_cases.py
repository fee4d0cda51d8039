"""onnx's backend node cases, compiled and run through cnncc.onnx_backend.

Cases of ops with a converter get one test each; cases of other ops are checked together:
each must be refused with UnsupportedOpError / UnsupportedDtypeError, never a crash.
"""

import pytest

from .cases import RECORDED, REFUSALS, Outcome, backend, check, node_case_op, node_case_supported, node_cases, run_node_case

SUPPORTED = [c for c in node_cases() if node_case_supported(c)]
UNSUPPORTED = [c for c in node_cases() if not node_case_supported(c)]


@pytest.mark.parametrize("case", SUPPORTED, ids=[c.name for c in SUPPORTED])
def test_node_case(case):
    check(run_node_case(case))


def test_unsupported_node_cases_are_refused_cleanly():
    bk = backend()
    wrong = []
    for case in UNSUPPORTED:
        try:
            bk.prepare(case.model)
        except REFUSALS as exc:
            RECORDED.append(Outcome("node", case.name, node_case_op(case), "skipped", str(exc)))
            continue
        except Exception as exc:  # noqa: BLE001
            wrong.append(f"{case.name}: {type(exc).__name__}: {exc}")
            continue
        wrong.append(f"{case.name}: prepared without complaint")
    assert not wrong, "\n".join(wrong)
