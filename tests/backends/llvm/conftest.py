"""The llvm backend tests share llvm_helpers.py, and the layout pass tests the graph builder
of tests/passes (passes_helpers.py); pytest runs with --import-mode=importlib, which does not
put test folders on sys.path."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "passes"))
