"""Every op of the op table lowers for tvm-llvm and matches the NumPy reference."""

import numpy as np
import pytest

from cnncc.backends.reference import interpret
from cnncc.ops import all_ops
from tvm_cases import CASES
from tvm_graphs import random_feeds

pytest.importorskip("tvm")

from cnncc.backends import tvm as tvm_backend  # noqa: E402


def check(graph, rtol=1e-3, atol=1e-4):
    feeds = random_feeds(graph)
    want = interpret(graph, feeds)
    got = tvm_backend.build(graph, device="cpu").run(feeds)
    for name, ref in want.items():
        assert got[name].dtype == ref.dtype, name
        assert got[name].shape == ref.shape, name
        np.testing.assert_allclose(got[name], ref, rtol=rtol, atol=atol, err_msg=name)


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_matches_reference(case):
    check(CASES[case]())


def test_every_op_has_a_lowering_and_a_case():
    ops = set(all_ops())
    assert ops - set(tvm_backend.supported_ops()) == set()
    covered = {CASES[c]().nodes[-1].op for c in CASES} | {n.op for c in CASES for n in CASES[c]().nodes}
    assert ops - covered == set()
