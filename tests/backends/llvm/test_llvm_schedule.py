"""Typed schedules (schedule.py): every registered family is a frozen dataclass of int, bool
and Literal fields whose defaults and search space it accepts; parameters are checked."""

import dataclasses
import typing

import numpy as np
import pytest

from cnncc.backends import llvm
from cnncc.backends.llvm import schedule
from cnncc.backends.llvm.schedule import FAMILIES, ScheduleError, check_params, family_for
from cnncc.backends.llvm.target import host_caches, named_caches, resolve_target
from cnncc.errors import UsageError

from llvm_helpers import const, op_graph

RNG = np.random.default_rng(3)
CONV = {"kernel_shape": (3, 3), "pads": (1, 1, 1, 1), "strides": (1, 1), "dilations": (1, 1)}


def _nodes():
    """A node for each op a tuned family schedules in these tests."""
    x = RNG.standard_normal((1, 16, 8, 8)).astype(np.float32)
    conv = op_graph("Conv", [x, const(RNG.standard_normal((20, 16, 3, 3)).astype(np.float32))], {**CONV, "group": 1})[0]
    dw = op_graph("Conv", [x, const(RNG.standard_normal((16, 1, 3, 3)).astype(np.float32))], {**CONV, "group": 16})[0]
    mm = op_graph("MatMul", [RNG.standard_normal((4, 8)).astype(np.float32),
                             const(RNG.standard_normal((8, 5)).astype(np.float32))])[0]
    return {"Conv": [conv.nodes[0], dw.nodes[0]], "MatMul": [mm.nodes[0]]}


def _nodes_for(cls, nodes):
    if not cls.ops:
        return nodes["Conv"][:1]  # a family that no op's tuning searches: any node
    found = [n for op in sorted(cls.ops) for n in nodes.get(op, [])]
    assert found, f"add a node for the {cls.family} family ({sorted(cls.ops)}) to _nodes()"
    return found


@pytest.mark.parametrize("cpu", [None, "x86-64-v3"])
def test_every_family_is_a_typed_frozen_schedule(cpu):
    schedule._load_families()
    assert {"conv", "gemm", "parallel", "map"} <= set(FAMILIES)
    target = resolve_target(cpu)
    nodes = _nodes()
    for name, cls in FAMILIES.items():
        assert cls.family == name and dataclasses.is_dataclass(cls)
        assert cls.__dataclass_params__.frozen, name
        for f, t in typing.get_type_hints(cls).items():
            if f in {x.name for x in dataclasses.fields(cls)}:
                assert t in (int, bool) or typing.get_origin(t) is typing.Literal, f"{name}.{f}: {t}"
        default = cls.for_target(target)
        default.check()
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(default, dataclasses.fields(cls)[0].name, 1)
        assert default.with_params(default.params()) == default
        for node in _nodes_for(cls, nodes):
            assert family_for(node.op) is cls or not cls.ops
            space = cls.space(node, target)
            assert space[0] == default, name
            for s in space:
                assert type(s) is cls
                s.check()
                assert default.with_params(s.params()) == s
                assert default.with_params(s.params(base=default)) == s
                assert check_params(s.params(), flags=False) == s.params()


def test_default_params_name_every_field():
    target = resolve_target(None)
    params = schedule.default_params(target)
    assert params["conv_algorithm"] == "auto" and params["gemm_row_block"] == 4
    assert "parallel_min_work" in params and "map_block" in params


def test_bad_params_are_one_line_usage_errors():
    g, _ = op_graph("Relu", [RNG.standard_normal((2, 3)).astype(np.float32)])
    for params, match in [({"conv_ow_tile": "eight"}, "conv_ow_tile='eight': expected an integer"),
                          ({"conv_algorithm": "fast"}, "conv_algorithm='fast': expected one of"),
                          ({"conv_schedule": "direct"}, "unknown schedule parameter conv_schedule"),
                          ({"conv_winograd_tile": 3}, "conv_winograd_tile=3"),
                          ({"conv_prefetch": 2}, "expected true or false")]:
        with pytest.raises(UsageError, match=match) as info:
            llvm.build(g, params=params)
        assert "\n" not in str(info.value)
    with pytest.raises(ScheduleError, match="unknown schedule parameters a_b, c_d"):
        check_params({"c_d": 1, "a_b": 2})


def test_cache_sizes(tmp_path):
    t = resolve_target(None)
    assert t.l1d_bytes >= 16 * 1024 and t.l2_bytes >= 128 * 1024
    assert resolve_target("x86-64-v3").l1d_bytes == 32 * 1024
    assert named_caches("sapphirerapids") == (48 * 1024, 2 << 20)
    # sysfs as Linux writes it; absent or unreadable entries fall back
    for i, (level, kind, size) in enumerate([("1", "Data", "48K"), ("1", "Instruction", "32K"),
                                             ("2", "Unified", "2048K"), ("3", "Unified", "300M")]):
        d = tmp_path / f"index{i}"
        d.mkdir()
        (d / "level").write_text(level + "\n")
        (d / "type").write_text(kind + "\n")
        (d / "size").write_text(size + "\n")
    assert host_caches(tmp_path) == (48 * 1024, 2 << 20)
    assert host_caches(tmp_path / "none") == (32 * 1024, 1 << 20)
    (tmp_path / "index2" / "size").write_text("?\n")
    assert host_caches(tmp_path) == (48 * 1024, 1 << 20)
