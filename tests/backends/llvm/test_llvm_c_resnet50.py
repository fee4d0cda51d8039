"""The C example runs ResNet-50 (light model zoo, seeded random weights) with no Python and
prints the same top-5 classes as the Python API."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import cnncc
from cnncc import zoo

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc")) is None, reason="no C compiler")
def test_c_example_prints_the_python_top5_for_resnet50(tmp_path):
    model, _ = zoo.get_model("resnet50")
    compiled = cnncc.compile(model, target="llvm")
    out = compiled.export(tmp_path / "out")
    x = np.random.default_rng(7).standard_normal((1, 3, 224, 224)).astype(np.float32)
    x.tofile(tmp_path / "x.bin")
    expected = compiled(x).reshape(-1)
    want = [int(i) for i in np.argsort(-expected)[:5]]

    binary = tmp_path / "run_model"
    subprocess.run(
        [os.environ.get("CC", "cc"), "-O2", str(REPO / "examples/c/run_model.c"), "-I", str(out), "-L", str(out),
         "-lmodel", f"-Wl,-rpath,{out}", "-o", str(binary)],
        check=True,
    )
    res = subprocess.run([str(binary), str(tmp_path / "x.bin")], capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": ""})
    got = [int(m) for m in re.findall(r"top\d (\d+) ", res.stdout)]
    assert got == want, res.stdout
