"""The tvm backend tests share tvm_graphs.py and tvm_cases.py (pytest runs with
--import-mode=importlib, which does not put test folders on sys.path)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs an NVIDIA GPU (runs the cuda builds against the reference)")
