"""meta_schedule tuning of every distinct kernel workload into a JSON records database."""

from __future__ import annotations

from pathlib import Path

from .target import target_key


def database_dir(db_dir: str | Path, target) -> Path:
    """Records live in ``db_dir/tvm/<target-key>/``: keyed by workload inside, by target outside."""
    return Path(db_dir) / "tvm" / target_key(target)


def open_database(db_dir: str | Path, target):
    from tvm.s_tir import meta_schedule as ms

    path = database_dir(db_dir, target)
    if not (path / "database_workload.json").exists():
        return None
    return ms.database.JSONDatabase(work_dir=str(path), allow_missing=False)
