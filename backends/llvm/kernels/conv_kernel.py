"""What a conv algorithm is: ``ConvKernel``, one entry of conv.py's ordered ALGORITHMS list,
and ``ConvJob``, what it is asked to emit."""

from __future__ import annotations

from dataclasses import dataclass

from llvmlite import ir

from .conv_geom import ConvGeom
from .epilogue import Epilogue


@dataclass(frozen=True)
class ConvJob:
    """Emit the conv of ``geom`` into ``y``, then ``epilogue``."""
    geom: ConvGeom
    y: ir.Value
    epilogue: Epilogue


class ConvKernel:
    """One conv algorithm. ``applies`` decides from the geometry, the kernel's ConvSchedule
    and the target alone, emitting nothing; ``emit`` writes the kernel and returns whether
    the epilogue ran in registers (each output element stored once, after the epilogue's
    ``reads`` elements were read: the output may then overwrite a residual). An ``emit``
    that finds, before emitting anything, that it has no kernel for the variant raises
    cnncc.errors.LoweringNotApplicable, and the selector tries the next algorithm."""

    name: str = ""

    def applies(self, geom: ConvGeom, schedule, target) -> bool:
        raise NotImplementedError

    def emit(self, k, job: ConvJob) -> bool:
        raise NotImplementedError
