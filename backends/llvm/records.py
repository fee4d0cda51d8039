"""The llvm backend's tuning records: one SQLite file, ``DB/llvm.sqlite``, shared by every
model and every run.

One row per (workload, cpu, features): the best schedule parameters measured for that kernel
workload on that CPU, with the time they took and the default schedule's time. ``workload``
is ``lowering.workload_key(node)`` (op, attributes, operand types), so a layer shape tuned
for one model serves every model that has it; the CPU name and LLVM feature string keep
machines apart. ``params`` is JSON: only the parameters that differ from the
default schedules (schedule.py)
(``{}``: the default schedule won).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from cnncc.errors import UsageError

from .target import TargetInfo

FILENAME = "llvm.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    workload   TEXT NOT NULL,
    cpu        TEXT NOT NULL,
    features   TEXT NOT NULL,
    op         TEXT NOT NULL,
    params     TEXT NOT NULL,
    best_us    REAL NOT NULL,
    default_us REAL NOT NULL,
    trials     INTEGER NOT NULL,
    threads    INTEGER NOT NULL,
    created    REAL NOT NULL,
    PRIMARY KEY (workload, cpu, features)
)
"""


@dataclass(frozen=True)
class Record:
    workload: str
    op: str
    params: dict
    best_us: float
    default_us: float
    trials: int
    threads: int


class RecordsDB:
    """``RecordsDB(db_dir, target)``: the records of one CPU (name + features) in ``db_dir``."""

    def __init__(self, db_dir: str | Path, target: TargetInfo, create: bool = True):
        self.path = Path(db_dir) / FILENAME
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise UsageError(f"no llvm tuning records in {db_dir} (expected {self.path}); run `cnncc tune --target llvm --db {db_dir}`")
        self.cpu, self.features = target.cpu, target.features
        self._conn = sqlite3.connect(str(self.path))
        self._conn.execute(_SCHEMA)
        self._conn.commit()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> RecordsDB:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def get(self, workload: str) -> Record | None:
        row = self._conn.execute(
            "SELECT workload, op, params, best_us, default_us, trials, threads FROM records "
            "WHERE workload = ? AND cpu = ? AND features = ?", (workload, self.cpu, self.features)).fetchone()
        if row is None:
            return None
        return Record(row[0], row[1], json.loads(row[2]), row[3], row[4], row[5], row[6])

    def all(self) -> dict[str, Record]:
        rows = self._conn.execute(
            "SELECT workload, op, params, best_us, default_us, trials, threads FROM records "
            "WHERE cpu = ? AND features = ?", (self.cpu, self.features)).fetchall()
        return {r[0]: Record(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5], r[6]) for r in rows}

    def put(self, rec: Record) -> None:
        """Store ``rec``, replacing what the workload had."""
        self._conn.execute(
            "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rec.workload, self.cpu, self.features, rec.op, json.dumps(rec.params, sort_keys=True),
             float(rec.best_us), float(rec.default_us), int(rec.trials), int(rec.threads), time.time()))
        self._conn.commit()


def schedules(db_dir: str | Path, target: TargetInfo) -> dict[str, dict]:
    """workload key -> parameters, for ``codegen.generate`` (records measured slower than the
    default are not used); ``{}`` when ``db_dir`` holds no llvm records."""
    if not (Path(db_dir) / FILENAME).exists():
        return {}
    with RecordsDB(db_dir, target, create=False) as db:
        return {w: r.params for w, r in db.all().items() if r.params and r.best_us <= r.default_us}
