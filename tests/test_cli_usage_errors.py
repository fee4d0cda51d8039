"""Usage errors (a bad option value, an unknown command, a missing argument) keep the promise
of every other bad input: one `error:` line and exit 2, not typer's multi-line panel; and a
message holding newlines or control characters (a model's names may) is still one line."""

import pytest

from cnncc.cli import main, one_line


@pytest.mark.parametrize("argv, needle", [
    (["run", "--opt-level", "9", "m.onnx"], "--opt-level"),
    (["bogus"], "No such command"),
    (["run"], "Missing argument"),
    (["compile", "m.onnx", "--no-such-option"], "--no-such-option"),
])
def test_usage_errors_are_one_line(argv, needle, capsys):
    assert main(argv) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0]
    assert "--help" in lines[0]


def test_one_line_escapes_control_characters():
    assert one_line("input 'a\nb' bad\x01") == "input 'a | b' bad\\x01"
    assert "\n" not in one_line("first\nsecond\n")


def test_help_still_exits_zero(capsys):
    assert main(["run", "--help"]) == 0
    assert "Usage" in capsys.readouterr().out
