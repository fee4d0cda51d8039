"""Whole models shipped with onnx: the light model zoo (shipped outputs, and random weights
against onnxruntime) and the pytorch-converted / pytorch-operator / simple folders."""

import pytest

from .cases import MODEL_FOLDERS, check, run_item, suite_items

PARAMS = [
    pytest.param(suite, item, id=f"{suite}/{name}")
    for suite in ("light", "light-ort", *MODEL_FOLDERS)
    for name, item in suite_items(suite)
]


@pytest.mark.parametrize(("suite", "item"), PARAMS)
def test_model_case(suite, item):
    check(run_item(suite, item))
