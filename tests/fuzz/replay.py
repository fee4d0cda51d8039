"""Replay saved fuzz failures: ``python tests/fuzz/replay.py build/fuzz/seed1-shard0-case17 ...``
(no argument: every saved case). Prints each case's outcome now, so a fix can be checked."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from harness import Worker, verdict  # noqa: E402
from mutations import FuzzCase  # noqa: E402


def main(folders: list[str]) -> int:
    root = Path(__file__).resolve().parents[2] / "build" / "fuzz"
    paths = [Path(f) for f in folders] or sorted(p for p in root.glob("seed*-case*") if p.is_dir())
    worker = Worker(120.0)
    still = 0
    try:
        for folder in paths:
            spec = json.loads((folder / "case.json").read_text())
            case = FuzzCase(spec["seed"], spec["mutations"], (folder / "model.onnx").read_bytes(), spec["argv"], spec["env"])
            problem = verdict(worker.run(case), case)
            still += problem is not None
            print(f"{folder.name}: {'ok' if problem is None else problem[0] + ': ' + problem[1][:300]}")
    finally:
        worker.close()
    return 1 if still else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
