"""The contract under fuzzing: mutated models and command lines through the frontend, the
passes, the llvm build and a run. Every case ends in exit 0 with outputs that match the
reference, or in one ``error:`` line with exit 2-5: never a signal, a hang, an internal
error or a wrong result.

``make test`` runs a quick profile (FUZZ_EXAMPLES per shard, default 30); ``make fuzz
N=10000 SEED=1`` the long one. Each failing case is saved (model, command line, outcome) under
FUZZ_OUT (default build/fuzz) so that it can be replayed with ``python tests/fuzz/replay.py``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings

from harness import Worker, verdict
from mutations import FuzzCase, fuzz_cases

SHARDS = int(os.environ.get("FUZZ_SHARDS", "2"))
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
BASE_SEED = int(os.environ.get("FUZZ_SEED", "0"))
TIMEOUT_S = float(os.environ.get("FUZZ_TIMEOUT_S", "120"))
OUT = Path(os.environ.get("FUZZ_OUT", Path(__file__).resolve().parents[2] / "build" / "fuzz"))


def _save(case: FuzzCase, problem: tuple[str, str], index: int, shard: int) -> Path:
    folder = OUT / f"seed{BASE_SEED}-shard{shard}-case{index}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(case.model)
    (folder / "case.json").write_text(json.dumps(
        {"seed": case.seed, "mutations": case.mutations, "argv": case.argv, "env": case.env,
         "category": problem[0], "detail": problem[1]}, indent=2) + "\n")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("shard", range(SHARDS))
def test_fuzz_contract(shard):
    per_shard = max(EXAMPLES // SHARDS, 1)
    worker = Worker(TIMEOUT_S)
    failures: list[str] = []
    counts: Counter = Counter()

    @settings(max_examples=per_shard, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @seed(BASE_SEED * 1000 + shard)
    @given(fuzz_cases())
    def one(case: FuzzCase) -> None:
        outcome = worker.run(case)
        problem = verdict(outcome, case)
        counts["cases"] += 1
        counts["exit 0" if outcome.kind == "exit" and outcome.rc == 0 else "user error"] += problem is None
        if problem is not None:
            counts[problem[0]] += 1
            folder = _save(case, problem, counts["cases"], shard)
            failures.append(f"{problem[0]}: {case.describe()}\n    {problem[1][:400]}\n    saved in {folder}")

    try:
        one()
    finally:
        worker.close()
    OUT.mkdir(parents=True, exist_ok=True)
    summary = {"seed": BASE_SEED, "shard": shard, **counts}
    (OUT / f"summary-seed{BASE_SEED}-shard{shard}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"fuzz shard {shard}: {dict(counts)}")
    assert not failures, f"{len(failures)} of {counts['cases']} fuzz cases broke the contract:\n" + "\n".join(failures)
