"""Typed schedules: how a kernel family computes (algorithm, tile sizes, vector widths), one
frozen dataclass per family, declared beside its kernels.

    s = k.schedule(ConvSchedule)        # in a lowering: defaults for the target, then overrides
    s.ow_tile, s.algorithm              # typed fields, never string keys

A field's parameter name is ``<family>_<field>`` (``conv_ow_tile``): the spelling of
``build(params=...)``, of tuning records and of profiles. A kernel's schedule is its family's
``for_target(target)`` (defaults derived from the target's vector width, registers and
caches), then the model-wide ``params``, then its workload's tuning record. The tuner only
enumerates a family's ``space(node, target)`` and measures (tuning.py); it never reaches into
kernels.

Parameters are checked when they enter: an unknown name or a value of the wrong kind is a
``ScheduleError`` (a user's ``build(params=...)``: a usage error; a stored record: ignored
with a note).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypeVar

from cnncc.ir import Node

S = TypeVar("S", bound="Schedule")


class ScheduleError(ValueError):
    """A schedule parameter that no family knows, or a value its field cannot take."""


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Base of the schedule dataclasses. Subclasses are frozen dataclasses decorated with
    ``@schedule_family("name", ops=...)``; their fields are ints, bools or ``Literal`` strings."""

    family: ClassVar[str] = ""
    ops: ClassVar[frozenset[str]] = frozenset()   # ops whose kernels read this family (tuning)

    @classmethod
    def for_target(cls: type[S], target) -> S:
        """The default schedule on ``target`` (a ``TargetInfo``). A default derived from the
        target's hardware facts (vector width, ``vector_registers``, ``l1d_bytes``,
        ``l2_bytes``) is computed here, not in a kernel, unless it needs the node's geometry
        as well (then the field's default is 0, "automatic", and the kernel derives it)."""
        return cls()

    @classmethod
    def space(cls: type[S], node: Node, target) -> list[S]:
        """Schedules worth measuring for ``node`` (the tuner measures each), the default
        (``for_target``) first; families override. Members are built from the default with
        ``dataclasses.replace`` and must pass ``check``."""
        return [cls.for_target(target)]

    def check(self) -> None:
        """Raise ScheduleError for a combination of values no kernel of the family can run
        (families override; each field's kind is checked by ``with_params``)."""

    # -- flat parameter names ---------------------------------------------------------
    @classmethod
    def param_names(cls) -> dict[str, str]:
        """parameter name -> field name."""
        return {f"{cls.family}_{f.name}": f.name for f in dataclasses.fields(cls)}

    def with_params(self: S, params: Mapping[str, Any]) -> S:
        """This schedule with the fields that ``params`` names (other families' names are
        ignored) set, each value checked against its field's type."""
        names = self.param_names()
        changes = {names[p]: _coerce(type(self), names[p], p, v) for p, v in params.items() if p in names}
        out = dataclasses.replace(self, **changes) if changes else self
        out.check()
        return out

    def params(self, base: Schedule | None = None) -> dict[str, Any]:
        """This schedule as parameters: the fields that differ from ``base`` (every field
        without one)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if base is None or getattr(base, f.name) != v:
                out[f"{self.family}_{f.name}"] = v
        return out


FAMILIES: dict[str, type[Schedule]] = {}


def schedule_family(name: str, ops: frozenset[str] | set[str] = frozenset()):
    """Class decorator: register a frozen Schedule dataclass as the family ``name``."""
    def register(cls: type[S]) -> type[S]:
        if name in FAMILIES and FAMILIES[name] is not cls:
            raise RuntimeError(f"schedule family {name!r} declared twice")
        cls.family = name
        cls.ops = frozenset(ops)
        FAMILIES[name] = cls
        return cls
    return register


def family_for(op: str) -> type[Schedule] | None:
    """The family whose kernels lower ``op`` and that the tuner searches, if any."""
    _load_families()
    return next((c for c in FAMILIES.values() if op in c.ops), None)


def _types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(cls, field: str, param: str, value):
    """``value`` as the type of ``cls.field``; ScheduleError if it is not one."""
    want = _types(cls)[field]
    if typing.get_origin(want) is Literal:
        choices = typing.get_args(want)
        if value not in choices:
            raise ScheduleError(f"schedule parameter {param}={value!r}: expected one of "
                                f"{', '.join(repr(c) for c in choices)}")
        return value
    if want is bool:
        if isinstance(value, bool) or value in (0, 1):
            return bool(value)
        raise ScheduleError(f"schedule parameter {param}={value!r}: expected true or false")
    if want is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ScheduleError(f"schedule parameter {param}={value!r}: expected an integer")
        if value < 0:
            raise ScheduleError(f"schedule parameter {param}={value!r}: expected >= 0")
        return int(value)
    raise TypeError(f"{cls.__name__}.{field}: schedule fields are int, bool or Literal strings, not {want!r}")


# -- families every kernel shares --------------------------------------------------------------

@schedule_family("parallel")
@dataclasses.dataclass(frozen=True)
class ParallelSchedule(Schedule):
    """When a kernel runs on the thread team, for every kernel (``Kernel.is_parallel`` in
    lowering.py). Parameter: ``parallel_min_work``. Not tuned (no ``ops``): one value for the
    whole model, set with ``build(params=...)``."""
    min_work: int = 1 << 15   # below this much work (loop trips x work per trip) one thread runs it


@schedule_family("map")
@dataclasses.dataclass(frozen=True)
class MapSchedule(Schedule):
    """Elementwise, broadcast and copy kernels (strided.py): the inner index space is cut
    into blocks, one work item each. Parameter: ``map_block``. Not tuned (no ``ops``)."""
    block: int = 4096         # elements per work item


# whole-module build flags that are not a kernel's schedule
BUILD_FLAGS: dict[str, bool] = {
    "profile": False,         # the entry times each kernel (runtime.JitExecutable.profile)
    "llvm_unroll": False,     # LLVM's loop unroller: ~2x compile time, no measured speedup
}


def _load_families() -> None:
    """Kernel modules declare their families; import them so every family is known."""
    from . import kernels  # noqa: F401  (kernels/__init__ imports every kernel module)


def all_param_names() -> dict[str, type[Schedule]]:
    _load_families()
    return {p: cls for cls in FAMILIES.values() for p in cls.param_names()}


def check_params(params: Mapping[str, Any] | None, *, flags: bool = True) -> dict[str, Any]:
    """``params`` checked: every name a family's parameter (or, with ``flags``, a build
    flag), every value one its field takes, and each family's values together ones its
    ``check`` accepts. Returns a copy; ScheduleError otherwise."""
    params = dict(params or {})
    names = all_param_names()
    unknown = sorted(p for p in params if p not in names and not (flags and p in BUILD_FLAGS))
    if unknown:
        raise ScheduleError(f"unknown schedule parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}")
    for p, v in params.items():
        if p in names:
            cls = names[p]
            params[p] = _coerce(cls, cls.param_names()[p], p, v)
        elif not isinstance(v, bool) and v not in (0, 1):
            raise ScheduleError(f"build flag {p}={v!r}: expected true or false")
    for cls in {names[p] for p in params if p in names}:
        cls().with_params(params)  # the family's check() of the values together
    return params


def default_params(target) -> dict[str, Any]:
    """Every family's default schedule on ``target``, as parameters."""
    _load_families()
    return {p: v for cls in FAMILIES.values() for p, v in cls.for_target(target).params().items()}
