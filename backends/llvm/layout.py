"""Blocked storage in the llvm backend: which convolutions may read X or write Y as NCHW[b]c.

``blocked_storage(node)`` is the one statement of what the conv kernel (kernels/conv.py's
``emit_conv``, kernels/fused.py's FusedConv lowering) can do with blocked tensors. The
backend-layout pass (layout_pass.py) marks nothing it does not allow, and the kernel asserts
it with ``check_blocked_conv``: the pass once kept its own copy of the rule, and every time
the copy drifted from the kernel a graph was routed to a kernel that could not take it.

A conv node may keep a tensor blocked (``x_block``/``y_block`` = b, cnncc/ops/fused.py) when

* it is a 2-D float32 Conv or FusedConv, 1x1, ungrouped, unpadded, with constant weights:
  only the channel-vector and row kernels read and write blocked storage, and they pack the
  weights at compile time. Any stride: a strided conv reads a subsampled copy of X, made
  in the same layout (emit_conv makes it for the auto and direct schedules only; its rows
  and pixels schedules refuse a strided blocked conv, and the tuner skips them there);
* for X (``x_block``): b divides the input channels;
* for Y (``y_block``, and the residual its ``add`` step reads, stored like Y): b divides
  the output channels, the epilogue is applied in registers one channel vector at a time
  (BLOCKED_STEPS) before the tile is stored, and no pooling step follows except a last mean
  of each channel's map (then Y is never stored: each channel's mean is summed in registers,
  one value per channel, the same in both layouts);
* for Y, b is whole channel vectors of the kernel's width (and the output channels whole
  register tiles): a blocked tile is stored a vector at a time, with no scalar tail. A mean
  without a residual is the exception: nothing is stored per pixel, so its channels may end
  in a part vector, whose tail lanes are computed and dropped, with only a bias and relu
  before the mean (the per-channel vector loads of prelu, scale and shift would read past
  the end of a part vector's parameters).

The layout pass does not know the host's vector width, so it asks with ``LANES`` = 16
channels, whole vectors for every width the kernels use (4, 8 or 16 lanes).
"""

from __future__ import annotations

from dataclasses import dataclass

from cnncc.ir import Attrs, Node
from cnncc.ops import infer_types
from cnncc.ops.fused import is_map_mean, split_extras
from cnncc.ops.nn import CONV_ATTRS
from cnncc.passes.rewrite import conv_epilogue

LANES = 16  # a multiple of every channel-vector width (4, 8, 16 lanes)

# the steps the kernel applies to a tile in registers: kernels/fused.py's VECTOR_STEPS, and
# the bias, which is the accumulators' initial value
BLOCKED_STEPS = frozenset({"bias", "add", "relu", "prelu", "scale", "shift"})
# before a mean over channels that end in a part vector (no per-channel vector loads)
PART_VECTOR_STEPS = frozenset({"bias", "relu"})


@dataclass(frozen=True)
class BlockedStorage:
    """What the llvm conv kernel can keep blocked for one conv node: the largest block, in
    channels, that X and Y may each be stored in (NHWC: b = all channels; a smaller block
    must divide it); 0: NCHW only. ``mean``: Y ends in a mean over each channel's map."""

    x: int = 0
    y: int = 0
    mean: bool = False


NCHW_ONLY = BlockedStorage()


def blocked_storage(node: Node, channel_vector: int = LANES) -> BlockedStorage:
    """Which of ``node``'s tensors the conv kernel can read or write blocked, for channel
    vectors of ``channel_vector`` lanes (the kernel's width; the layout pass asks with
    LANES, whole vectors on every host). The module docstring states the rule."""
    if not _blockable_conv(node):
        return NCHW_ONLY
    channels, outputs = node.inputs[0].shape[1], node.inputs[1].shape[0]
    steps = conv_epilogue(node)
    mean = bool(steps) and is_map_mean(steps[-1], _conv_shape(node))
    pointwise = steps[:-1] if mean else steps
    if not all(step[0] in BLOCKED_STEPS for step in pointwise):
        y = 0  # a pooling step other than a last mean, or a step applied per row in NCHW
    elif outputs % channel_vector == 0:
        y = outputs
    elif mean and residual(node) is None and all(step[0] in PART_VECTOR_STEPS for step in pointwise):
        y = outputs
    else:
        y = 0
    return BlockedStorage(x=channels, y=y, mean=mean and y > 0)


class BlockedStorageError(AssertionError):
    """A conv marked for blocked storage that the kernel cannot take: a bug in whatever
    marked it (the layout pass asks ``blocked_storage``), never a user's error."""


def check_blocked_conv(node: Node, channel_vector: int, tile_channels: int) -> None:
    """For the conv kernel, before it emits a node: raise BlockedStorageError unless the
    node's ``x_block``/``y_block`` are blocks ``blocked_storage`` allows for the kernel's
    channel vectors of ``channel_vector`` lanes, and a blocked Y is stored in whole register
    tiles: ``tile_channels`` (the output channels padded to whole tiles) equals the output
    channel count, unless Y is a mean without a residual. Does nothing for NCHW nodes."""
    xb, yb = node.attrs.get("x_block", 0), node.attrs.get("y_block", 0)
    if not xb and not yb:
        return
    allowed = blocked_storage(node, channel_vector)
    outputs = node.inputs[1].shape[0]
    part_vector_mean = allowed.mean and residual(node) is None
    problems = []
    if xb and not (allowed.x and allowed.x % xb == 0):
        problems.append(f"x_block={xb} (allowed: a divisor of {allowed.x})" if allowed.x else f"x_block={xb}")
    if yb and not (allowed.y and allowed.y % yb == 0):
        problems.append(f"y_block={yb} (allowed: a divisor of {allowed.y})" if allowed.y else f"y_block={yb}")
    elif yb and not part_vector_mean and (yb % channel_vector or tile_channels != outputs):
        problems.append(f"y_block={yb} in vectors of {channel_vector} over {outputs} channels padded to {tile_channels}")
    if problems:
        raise BlockedStorageError(
            f"node {node.name!r} ({node.op}, weights {list(node.inputs[1].shape)}, epilogue "
            f"{conv_epilogue(node)}): blocked storage the llvm conv kernel cannot take: {', '.join(problems)}")


def residual(node: Node):
    """The value a FusedConv adds as its residual (or None)."""
    if node.op != "FusedConv":
        return None
    for step, extra in zip(node.attrs.epilogue, split_extras(node.attrs.epilogue, node.inputs[2:])):
        if step[0] == "add":
            return extra
    return None


def _blockable_conv(node: Node) -> bool:
    """A 2-D float32 1x1 ungrouped unpadded conv with constant weights (emit_conv's test)."""
    if node.op not in ("Conv", "FusedConv") or len(node.inputs) < 2 or node.outputs[0].type.rank != 4:
        return False
    a, w = node.attrs, node.inputs[1]
    return (w.is_constant and tuple(w.shape[2:]) == (1, 1) and a.group == 1 and not any(a.pads)
            and node.inputs[0].dtype == "float32")


def _conv_shape(node: Node) -> tuple[int, ...]:
    """The shape of the convolution before the epilogue's pooling."""
    attrs = Attrs({k: node.attrs[k] for k in CONV_ATTRS})
    return infer_types("Conv", [v.type for v in node.inputs[:2]], attrs)[0].shape
