"""The lowering table: op name -> function that writes a node as a TE compute.

A lowering receives a ``KernelContext`` (TE placeholders for the node's inputs, its attrs and
output types, and a way to add compile-time tables as extra kernel arguments) and returns the
TE tensors of the node's outputs. ``lower_node`` turns them into one PrimFunc per distinct
*workload* (op, input and output types, attributes): nodes with the same workload share one
kernel, in a model and, through the tuning database, across models.

An op without an entry is a compile-time UnsupportedOpError naming the op, node and backend.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import tvm
from tvm import te

from cnncc.backends.base import LoweringTable, lowering_boundary
from cnncc.errors import BackendError
from cnncc.ir import Attrs, Node, TensorType

LowerFn = Callable[["KernelContext"], Sequence[te.Tensor]]
TABLE = LoweringTable("tvm", "cnncc.backends.tvm.kernels", "try --target reference or --target llvm")
LOWERINGS: dict[str, LowerFn] = TABLE.functions
register = TABLE.register
lowering_for = TABLE.lookup

# ops whose kernel only reinterprets its input's shape: Relax turns them into views
VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})


def supported_ops() -> list[str]:
    return sorted(TABLE.ops())


@dataclass
class KernelContext:
    """What a lowering sees: placeholders, attributes, output types, and compile-time tables."""

    op: str
    attrs: Attrs
    in_types: list[TensorType]
    out_types: list[TensorType]
    inputs: list[te.Tensor] = field(default_factory=list)
    tables: list[tuple[te.Tensor, np.ndarray]] = field(default_factory=list)
    # set by a lowering whose compute the generic GPU rules mis-schedule: "fallback" = simple
    # one-thread-per-output CUDA schedule
    schedule_hint: str | None = None

    def __post_init__(self) -> None:
        self.inputs = [
            te.placeholder(t.shape, t.dtype, name=f"in{i}") for i, t in enumerate(self.in_types)
        ]

    @property
    def x(self) -> te.Tensor:
        return self.inputs[0]

    @property
    def out(self) -> TensorType:
        return self.out_types[0]

    def table(self, data: np.ndarray) -> te.Tensor:
        """A constant array computed at compile time (index maps, weights of an interpolation),
        passed to the kernel as an extra input after the node's own inputs."""
        data = np.asarray(data, order="C")
        ph = te.placeholder(data.shape, str(data.dtype), name=f"table{len(self.tables)}")
        self.tables.append((ph, data))
        return ph


@dataclass
class Kernel:
    """One compiled unit: a PrimFunc over (inputs..., tables..., outputs...)."""

    name: str
    key: str
    op: str
    func: tvm.tirx.PrimFunc  # unscheduled, global_symbol "main" (the form the tuner records)
    tables: list[np.ndarray]
    out_types: list[TensorType]
    schedule_hint: str | None = None
    nodes: list[str] = field(default_factory=list)


def workload_key(node: Node) -> str:
    """Everything that decides a kernel's code: op, operand types, all attributes."""
    ins = ",".join(str(v.type) for v in node.inputs)
    outs = ",".join(str(v.type) for v in node.outputs)
    attrs = repr(tuple(node.attrs.items()))
    return f"{node.op}({ins})->({outs}){attrs}"


def kernel_name(node: Node, key: str) -> str:
    stem = re.sub(r"(?<!^)(?=[A-Z])", "_", node.op).lower()
    stem = re.sub(r"[^a-z0-9_]", "_", stem)
    return f"{stem}_{hashlib.sha1(key.encode()).hexdigest()[:8]}"


def lower_node(node: Node) -> Kernel:
    """The unscheduled PrimFunc of ``node`` (not yet deduplicated: see ``KernelCache``)."""
    fn = lowering_for(node)
    ctx = KernelContext(node.op, node.attrs, [v.type for v in node.inputs], [v.type for v in node.outputs])
    with lowering_boundary("tvm", node):
        outs = list(fn(ctx))
        func = te.create_prim_func(ctx.inputs + [t for t, _ in ctx.tables] + outs)
    for t, want in zip(outs, ctx.out_types):
        got = TensorType(tuple(int(d) for d in t.shape), str(t.dtype))
        if got != want:
            raise BackendError(
                f"tvm backend: lowering of node {node.name!r} ({node.op}) produced {got}, the graph says {want}"
            )
    key = workload_key(node)
    return Kernel(kernel_name(node, key), key, node.op, func, [d for _, d in ctx.tables], ctx.out_types, ctx.schedule_hint)


class KernelCache:
    """Kernels by workload key: each distinct workload is lowered (and later built) once."""

    def __init__(self) -> None:
        self.by_key: dict[str, Kernel] = {}

    def get(self, node: Node) -> Kernel:
        key = workload_key(node)
        kernel = self.by_key.get(key)
        if kernel is None:
            kernel = self.by_key[key] = lower_node(node)
        kernel.nodes.append(node.name)
        return kernel

    def __iter__(self):
        return iter(self.by_key.values())

    def __len__(self) -> int:
        return len(self.by_key)
