"""The llvm backend's tuning records: one SQLite file, ``DB/llvm.sqlite``, shared by every
model and every run.

One row per (workload, cpu, features): the best schedule measured for that kernel workload on
that CPU, with the time it took and the default schedule's time. ``workload`` is
``lowering.workload_key(node)`` (op, attributes, operand types), so a layer shape tuned for
one model serves every model that has it; the CPU name and LLVM feature string keep machines
apart.

The ``params`` column holds the schedule (schedule.py) as JSON:
``{"schema": 2, "family": "conv", "params": {"conv_ow_tile": 4}}``, the parameters that
differ from the family's default (``{}``: the default won). The family name and the schema
number are what let a record be judged on load: a record of schema 1 (a bare
``{param: value}`` dict, cnncc before typed schedules) is still used if its parameters are
valid now, and one whose family is gone or whose schema is newer is told apart from a
corrupt one in the note. They sit inside the JSON rather than in new columns so that the
table keeps its columns: an older cnncc sharing the file still writes to it, and it ignores
the keys it does not know (it gets the default schedule).

Records are validated when they are read (``RecordsDB.get``/``all``, ``schedules``): the
family must exist and be the op's, every parameter one of its fields with a value of the
field's kind (``schedule.check_params``), the whole a schedule the family accepts
(``check``). A record that fails is ignored, with one ``CnnccNote`` warning per read (the
CLI prints it as ``note: ignored 3 tuning records in DIR (...)``); never a crash, never a
schedule that means something else now.
"""

from __future__ import annotations

import json
import sqlite3
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from cnncc.errors import CnnccNote, UsageError

from .schedule import FAMILIES, Schedule, ScheduleError, all_param_names, check_params, family_for
from .target import TargetInfo

FILENAME = "llvm.sqlite"
SCHEMA = 2   # the params JSON: 1 a bare {param: value} dict; 2 {"schema", "family", "params"}

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
    params: dict            # the schedule's parameters that differ from its family's default
    best_us: float
    default_us: float
    trials: int
    threads: int

    @property
    def family(self) -> str:
        """The schedule family of the op's kernels ("" for an op that none schedules)."""
        cls = family_for(self.op)
        return cls.family if cls is not None else ""

    def schedule(self, target: TargetInfo) -> Schedule | None:
        """The recorded schedule on ``target``: the family's default with ``params``."""
        cls = family_for(self.op)
        return cls.for_target(target).with_params(self.params) if cls is not None else None


_COLUMNS = "workload, op, params, best_us, default_us, trials, threads"


class RecordsDB:
    """``RecordsDB(db_dir, target)``: the records of one CPU (name + features) in ``db_dir``."""

    def __init__(self, db_dir: str | Path, target: TargetInfo, create: bool = True):
        self.db_dir = db_dir
        self.path = Path(db_dir) / FILENAME
        if create:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists():
            raise UsageError(f"no llvm tuning records in {db_dir} (expected {self.path}); run `cnncc tune --target llvm --db {db_dir}`")
        self.target = target
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
        """The workload's record; None when there is none or it is not valid (with a note)."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM records WHERE workload = ? AND cpu = ? AND features = ?",
            (workload, self.cpu, self.features)).fetchone()
        return self._valid([row]).get(0) if row is not None else None

    def all(self) -> dict[str, Record]:
        """workload -> record, the valid ones (a note for the others)."""
        rows = self._conn.execute(f"SELECT {_COLUMNS} FROM records WHERE cpu = ? AND features = ?",
                                  (self.cpu, self.features)).fetchall()
        return {r.workload: r for r in self._valid(rows).values()}

    def put(self, rec: Record) -> None:
        """Store ``rec``, replacing what the workload had."""
        stored = {"schema": SCHEMA, "family": rec.family, "params": rec.params}
        self._conn.execute(
            "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rec.workload, self.cpu, self.features, rec.op, json.dumps(stored, sort_keys=True),
             float(rec.best_us), float(rec.default_us), int(rec.trials), int(rec.threads), time.time()))
        self._conn.commit()

    def _valid(self, rows) -> dict[int, Record]:
        """Row index -> Record for the rows that hold a valid schedule; one note for the rest."""
        out, ignored = {}, []
        for i, (workload, op, text, *rest) in enumerate(rows):
            params, why = _decode(op, text, self.target)
            if why is None:
                out[i] = Record(workload, op, params, *rest)
            else:
                ignored.append(why)
        if ignored:
            reasons = list(dict.fromkeys(ignored))
            shown = "; ".join(reasons[:3]) + ("; ..." if len(reasons) > 3 else "")
            n = len(ignored)
            warnings.warn(f"ignored {n} tuning record{'s' if n > 1 else ''} in {self.db_dir} ({shown})",
                          CnnccNote, stacklevel=3)
        return out


def _decode(op: str, text: str, target: TargetInfo) -> tuple[dict, str | None]:
    """(the parameters, None) of a stored schedule, or ({}, why it cannot be used)."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        return {}, "unreadable schedule"
    if not isinstance(data, dict):
        return {}, "unreadable schedule"
    if "schema" in data:
        schema, family, params = data.get("schema"), data.get("family"), data.get("params")
        if not isinstance(schema, int) or not isinstance(family, str) or not isinstance(params, dict):
            return {}, "unreadable schedule"
    else:
        schema, family, params = 1, None, data
    if schema > SCHEMA:
        return {}, f"written by a newer cnncc: record schema {schema}"
    older = "written by an older cnncc: " if schema < SCHEMA else ""
    own = family_for(op)   # (loads every family)
    reads = f"whose kernels read {own.family} schedules" if own else "which is not tuned"
    if family and family not in FAMILIES:
        return {}, f"{older}unknown schedule family {family}"
    if family is not None and family != (own.family if own else ""):
        return {}, f"{older}a {family or 'family-less'} schedule for {op}, {reads}"
    try:
        params = check_params(params, flags=False)
        names = all_param_names()
        foreign = sorted(p for p in params if names[p] is not own)
        if foreign:
            return {}, f"{older}{', '.join(foreign)} for {op}, {reads}"
        if own is not None:
            own.for_target(target).with_params(params)  # the family's check()
    except ScheduleError as exc:
        return {}, f"{older}{exc}"
    return params, None


def schedules(db_dir: str | Path, target: TargetInfo) -> dict[str, dict]:
    """workload key -> parameters, for ``codegen.generate`` (records measured slower than the
    default are not used, nor invalid ones: see the module doc); ``{}`` when ``db_dir`` holds
    no llvm records."""
    if not (Path(db_dir) / FILENAME).exists():
        return {}
    with RecordsDB(db_dir, target, create=False) as db:
        return {w: r.params for w, r in db.all().items() if r.params and r.best_us <= r.default_us}
