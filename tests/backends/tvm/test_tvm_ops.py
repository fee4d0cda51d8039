"""Every op of the op table lowers for tvm and has a case in tvm_cases.py (which the cuda
tests run). tvm-llvm against the NumPy reference: the op sample database
(tests/op_samples.py), run by tests/test_op_samples.py."""

import pytest

from cnncc.ops import all_ops
from tvm_cases import CASES

pytest.importorskip("tvm")

from cnncc.backends import tvm as tvm_backend  # noqa: E402


def test_every_op_has_a_lowering_and_a_case():
    ops = set(all_ops())
    assert ops - set(tvm_backend.supported_ops()) == set()
    covered = {CASES[c]().nodes[-1].op for c in CASES} | {n.op for c in CASES for n in CASES[c]().nodes}
    assert ops - covered == set()
