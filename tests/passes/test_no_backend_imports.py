"""passes/ imports no backend: a backend's passes live with the backend and register
themselves when it is imported (STYLE.md item 11), so the generic passes work on any Graph
and the pass manager never picks a backend's passes by itself."""

import ast
from pathlib import Path

import pytest

import cnncc.passes

PASS_MODULES = sorted(Path(cnncc.passes.__file__).parent.glob("*.py"))


def _imported(tree: ast.AST) -> list[str]:
    """Every module name an import statement or an import_module("...") call names, each
    imported name included (``from .. import backends`` gives ``..`` and ``..backends``)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            names += [base] + [f"{base}.{alias.name}" if node.module else base + alias.name for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__"):
            names += [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
    return names


def test_the_pass_modules_are_found():
    assert {"__init__.py", "manager.py", "rewrite.py", "fuse_conv.py"} <= {p.name for p in PASS_MODULES}


@pytest.mark.parametrize("path", PASS_MODULES, ids=lambda p: p.name)
def test_no_pass_module_imports_a_backend(path):
    found = [name for name in _imported(ast.parse(path.read_text())) if "backends" in name.split(".")]
    assert found == [], f"passes/{path.name} imports {found}"


def test_the_check_sees_each_import_form():
    source = "import cnncc.backends\nfrom cnncc.backends.llvm import layout\nfrom .. import backends\nimportlib.import_module('cnncc.backends.tvm')"
    assert [n for n in _imported(ast.parse(source)) if "backends" in n.split(".")] == [
        "cnncc.backends", "cnncc.backends.llvm", "cnncc.backends.llvm.layout", "..backends", "cnncc.backends.tvm"]
