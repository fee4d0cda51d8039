"""Runs fuzz cases in a worker process (worker.py) and judges each against the contract:
exit 0 with outputs that match the reference (``run --check``), or one ``error:`` line with
exit 2-5; never a signal, a hang past the time limit, an internal error (exit 70) or a
result that disagrees with the reference."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mutations import FuzzCase

WORKER = Path(__file__).with_name("worker.py")
USER_ERROR_CODES = {2, 3, 4, 5}


@dataclass
class Outcome:
    kind: str          # "exit", "signal" or "timeout"
    rc: int = 0
    stderr: str = ""
    seconds: float = 0.0


class Worker:
    """One worker process, restarted after a case that killed it or ran out of time."""

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.proc: subprocess.Popen | None = None
        self._native_err = tempfile.TemporaryFile()

    def _start(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(WORKER.parent), os.environ.get("PYTHONPATH", "")])}
        self._native_err.seek(0)
        self._native_err.truncate()
        self.proc = subprocess.Popen([sys.executable, str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._native_err, env=env)
        self._buf = b""
        if self._readline(120.0) is None:
            raise RuntimeError(f"fuzz worker did not start: {self._native_stderr()}")

    def _readline(self, timeout_s: float) -> bytes | None:
        deadline = time.monotonic() + timeout_s
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:  # the worker died: let it be reaped, so its exit status is known
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    pass
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def _native_stderr(self) -> str:
        self._native_err.seek(0)
        return self._native_err.read().decode(errors="replace")[-2000:]

    def run(self, case: FuzzCase) -> Outcome:
        if self.proc is None or self.proc.poll() is not None:
            self._start()
        header = {"argv": case.argv, "env": case.env, "size": len(case.model)}
        t0 = time.monotonic()
        try:
            self.proc.stdin.write(json.dumps(header).encode() + b"\n" + case.model)
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass
        line = self._readline(self.timeout_s)
        seconds = time.monotonic() - t0
        if line is not None:
            res = json.loads(line)
            return Outcome("exit", res["rc"], res["stderr"], seconds)
        if self.proc.poll() is None:  # still running: a hang
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            return Outcome("timeout", seconds=seconds, stderr=self._native_stderr())
        rc = self.proc.returncode
        self.proc = None
        kind = "signal" if rc < 0 else "exit"
        return Outcome(kind, -rc if rc < 0 else rc, self._native_stderr(), seconds)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._native_err.close()


def verdict(outcome: Outcome, case: FuzzCase | None = None) -> tuple[str, str] | None:
    """None when the case kept the contract, else (category, detail)."""
    if outcome.kind == "timeout":
        return "hang", f"no answer after {outcome.seconds:.0f} s"
    if outcome.kind == "signal":
        name = signal.Signals(outcome.rc).name if outcome.rc in signal.Signals._value2member_map_ else outcome.rc
        return "crash", f"killed by {name}: {outcome.stderr[-500:]}"
    lines = [ln for ln in outcome.stderr.splitlines() if ln.strip()]
    if outcome.rc == 0:
        return None
    if outcome.rc == 70:
        return "internal error", lines[-1] if lines else ""
    if "disagrees with the reference" in outcome.stderr:
        if case is not None and case.nonfinite:
            return None  # overflowing weights: the order of inf/nan propagation is undefined
        return "wrong result", outcome.stderr[-800:]
    if outcome.rc not in USER_ERROR_CODES:
        return "contract", f"exit {outcome.rc}: {outcome.stderr[-500:]}"
    errors = [ln for ln in lines if ln.startswith("error:")]
    if len(errors) != 1 or not lines or not lines[-1].startswith("error:") or "Traceback" in outcome.stderr:
        return "contract", f"exit {outcome.rc} without one error: line: {outcome.stderr[-500:]!r}"
    return None
