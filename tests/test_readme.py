"""The README stays true: it names every supported ONNX op and every CLI command."""

from pathlib import Path

from cnncc.cli import app
from cnncc.frontends.onnx import CONVERTERS

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_readme_lists_every_supported_onnx_op():
    section = README[README.index("## Supported ONNX ops") : README.index("## Conformance")]
    missing = [op for op in CONVERTERS if f" {op}," not in section and f" {op} |" not in section]
    assert not missing, f"README's op table lacks {missing}"


def test_readme_shows_every_command():
    commands = [c.name or c.callback.__name__ for c in app.registered_commands]
    missing = [c for c in commands if f"cnncc {c}" not in README]
    assert not missing, f"README shows no usage of {missing}"


def test_readme_names_the_test_command_that_ci_runs():
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "make test" in ci and "make test" in README
