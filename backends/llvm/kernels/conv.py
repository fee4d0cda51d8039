"""Conv (1-D, 2-D and 3-D, NCHW; groups, depthwise, dilation, stride, asymmetric pads): the
ordered list of conv algorithms and the selector.

    node -> ConvGeom (conv_geom.py) -> ConvSchedule (conv_schedule.py, per workload)
         -> the first of ALGORITHMS whose ``applies`` holds -> its ``emit``

An algorithm is a ``ConvKernel`` (conv_kernel.py), one family per file:

* bf16 channel vectors (conv_bf16.py): builds at bf16 on cpus with AVX512-BF16, the
  channel-vector kernel on bf16 input-channel pairs (vdpbf16ps);
* Winograd F(m x m, 3x3) (winograd.py) for 3x3 stride-1 convs, chosen by ``winograd.chosen``;
* depthwise planes and depthwise rows (conv_depthwise.py);
* pixel vectors (conv_pixels.py): pixels in the vector lanes, for few taps per output;
* channel vectors (conv_direct.py): constant weights, the default; ``conv_algorithm="direct"``
  forces it (the tuner's candidates set it);
* rows (conv_direct.py): runtime weights, tiny channel counts, ``conv_algorithm="rows"``.

``register_algorithm`` adds one (tests/backends/llvm/test_conv_algorithms.py registers a toy).
FusedConv (fused.py) calls ``emit_conv`` with its ``Epilogue``; ConvTranspose is in
conv_transpose.py.
"""

from __future__ import annotations

from cnncc.errors import LoweringNotApplicable

from ..lowering import register
from .conv_bf16 import Bf16ChannelVectors, Bf16Winograd
from .conv_depthwise import DepthwisePlanes, DepthwiseRows
from .conv_direct import ChannelVectors, Rows
from .conv_geom import conv_geom
from .conv_kernel import ConvJob, ConvKernel
from .conv_pixels import PixelVectors
from .conv_schedule import ConvSchedule
from .epilogue import NONE, Epilogue
from .winograd import Winograd

CONV_KEYS = ("kernel_shape", "strides", "pads", "dilations", "group")

# the first that applies is emitted: the specialized kernels before the general ones, rows
# (which applies to every conv) last
ALGORITHMS: list[ConvKernel] = [Bf16Winograd(), Bf16ChannelVectors(), Winograd(), DepthwisePlanes(), DepthwiseRows(), PixelVectors(),
                                ChannelVectors(), Rows()]


def register_algorithm(algorithm: ConvKernel, before: str | None = None) -> ConvKernel:
    """Insert ``algorithm`` before the one named ``before`` (None: first of all)."""
    names = [a.name for a in ALGORITHMS]
    if algorithm.name in names:
        raise ValueError(f"conv algorithm {algorithm.name!r} is already registered")
    ALGORITHMS.insert(names.index(before) if before is not None else 0, algorithm)
    return algorithm


def unregister_algorithm(name: str) -> None:
    ALGORITHMS[:] = [a for a in ALGORITHMS if a.name != name]


@register("Conv")
def lower_conv(k, node):
    emit_conv(k, node, k.out(), k.out_shape(), Epilogue(bias=k.inp(2) if len(node.inputs) > 2 else None))


def emit_conv(k, node, y, o_shape, epilogue: Epilogue = NONE) -> bool:
    """Conv of inputs 0 (x) and 1 (w) of ``node`` into ``y`` (shape ``o_shape``), then
    ``epilogue``. Returns whether the epilogue ran in registers (ConvKernel.emit)."""
    geom = conv_geom(k, node, o_shape, whole_map=epilogue.mean_into is not None)
    schedule = k.schedule(ConvSchedule)
    for algorithm in ALGORITHMS:
        if not algorithm.applies(geom, schedule, k.target):
            continue
        try:
            return algorithm.emit(k, ConvJob(geom, y, epilogue))
        except LoweringNotApplicable:
            continue
    raise LoweringNotApplicable(f"no conv algorithm applies to node {node.name!r}")
