"""How a direct conv kernel multiplies: ``DotStep``, the part of the channel-vector kernel
(conv_direct.py) that depends on the arithmetic precision. A step says how the input is
stored for the kernel, how weights are packed into vectors, and what one multiply-add of a
weight vector by a broadcast input is. FP32_DOT is the fp32 FMA; conv_bf16.py has bf16 pairs
on vdpbf16ps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..emit import FAST


@dataclass(frozen=True)
class DotStep:
    """fp32: one input channel per step, ``acc + w * x`` (contracted to an FMA).

    ``label``: prefix of the kernel's algorithm name ("" for fp32). ``input(k, geom)``: the
    input buffer the kernel reads and the geometry it is read with. ``pack(w)``: the weights
    [g][ob][r][ic][kh][kw] as the table the kernel loads, [g][ob][ic][kh][kw][r] for fp32.
    ``mac(b, acc, w, x)``: acc + w*x for a weight vector and a broadcast input vector."""

    label: str = ""
    precision: str = "fp32"
    channels: int = 1  # input channels per multiply step

    def input(self, k, geom):
        from .conv_direct import conv_input
        return conv_input(k, geom), geom

    def pack(self, w: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(w.transpose(0, 1, 3, 4, 5, 2), dtype=np.float32)

    def mac(self, b, acc, w, x):
        return b.fadd(acc, b.fmul(w, x, flags=FAST), flags=FAST)

    def pair_planes(self, k, job: PlanePairs, static: bool, reps: int) -> None:
        """Winograd's V converted for a step of several channels (``channels`` > 1)."""
        raise NotImplementedError("a one-channel step reads V as it is")


FP32_DOT = DotStep()


@dataclass(frozen=True)
class PlanePairs:
    """``planes`` planes of ``channels`` rows of ``row`` floats each (rows ``row`` apart, planes
    ``src_plane`` apart) to be read in channel pairs: Winograd's transformed input V, which a
    step of more than one channel (``DotStep.channels``) reads as ``dst`` (pair rows ``row``
    words apart, planes ``dst_plane`` apart)."""
    src: object
    dst: object
    planes: int
    channels: int
    row: int
    src_plane: int
    dst_plane: int
