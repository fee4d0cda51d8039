"""Shape rules of the llvm backend's code (STYLE.md, item 9): a function with more than a
few parameters takes a dataclass instead (conv geometry, epilogue, window, plan)."""

import ast
from pathlib import Path

import cnncc.backends.llvm as llvm_backend

MAX_PARAMS = 8
# functions allowed more (file:name -> why); none today
EXEMPT: dict[str, str] = {}


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    names = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    return len(names) + (a.vararg is not None) + (a.kwarg is not None)


def test_no_function_in_the_llvm_backend_takes_more_than_eight_parameters():
    root = Path(llvm_backend.__file__).parent
    too_many = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _params(node) > MAX_PARAMS:
                where = f"{path.relative_to(root).as_posix()}:{node.name}"
                if path.name + ":" + node.name not in EXEMPT:
                    too_many.append(f"{where} (line {node.lineno}): {_params(node)} parameters")
    assert not too_many, "take a dataclass instead of many parameters:\n" + "\n".join(too_many)
