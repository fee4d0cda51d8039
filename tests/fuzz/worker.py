"""A long-lived process that runs fuzz cases through cnncc's command line, one after another,
so that each case costs a compile and not a Python start. The parent (harness.py) writes a
JSON header line and the model's bytes; the worker answers one JSON line. A case that kills
this process (a signal) or never answers is what the parent is looking for.

The protocol uses the stdout the worker was started with; the worker's own fd 1 is pointed
at /dev/null so that nothing a native library prints can corrupt it."""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import shutil
import sys
import tempfile


def _limit_memory() -> None:
    # a memory bomb should fail inside cnncc (MemoryError or a size check), not take the
    # machine: cap the address space
    gib = int(os.environ.get("FUZZ_MEMORY_GIB", "12"))
    resource.setrlimit(resource.RLIMIT_AS, (gib << 30, gib << 30))


def _cli(argv: list[str]) -> tuple[int, str, str]:
    from cnncc.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(argv)
    return rc, out.getvalue(), err.getvalue()


def run_case(header: dict, model: bytes) -> dict:
    tmp = tempfile.mkdtemp(prefix="cnncc-fuzz-")
    saved = {k: os.environ.get(k) for k in header["env"]}
    try:
        path = os.path.join(tmp, "model.onnx")
        with open(path, "wb") as f:
            f.write(model)
        artifact = os.path.join(tmp, "artifact")
        argv = [path if a == "MODEL" else artifact if a == "ARTIFACT" else a for a in header["argv"]]
        os.environ.update(header["env"])
        steps = [argv[0]]
        rc, out, err = _cli(argv)
        # an artifact built for this host is also loaded and run
        if argv[0] == "compile" and rc == 0 and "--cpu" not in argv:
            steps.append("run artifact")
            rc, out, err = _cli(["run", artifact])
        return {"rc": rc, "stderr": err, "stdout_tail": out[-2000:], "steps": steps}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False))
    _limit_memory()
    stdin = sys.stdin.buffer
    proto.write(json.dumps({"ready": True}) + "\n")
    while True:
        line = stdin.readline()
        if not line:
            return
        header = json.loads(line)
        model = stdin.read(header["size"])
        proto.write(json.dumps(run_case(header, model)) + "\n")


if __name__ == "__main__":
    main()
