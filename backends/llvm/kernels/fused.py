"""Fused ops from the fusion passes: FusedConv and FusedGemm with their epilogues.

The pointwise steps (bias, residual add, PReLU, activations) are applied to each work item's
output rows right after they are accumulated, while they are still in cache; a bias is the
rows' initial value. A trailing pooling step (max/avg/global average) pools the convolution
result from kernel scratch after a barrier.
"""

from __future__ import annotations

from types import SimpleNamespace as NS

from llvmlite import ir

from cnncc.builder import op_types
from cnncc.ops.fused import POOL_STEPS, STEP_EXTRAS, UNARY_STEPS, is_map_mean

from ..emit import F32, FAST
from ..lowering import register
from .conv import CONV_KEYS, emit_conv
from .elementwise import UNARY, _lt0, _sigmoid
from .epilogue import Epilogue
from .gemm import Gemm, gemm_core, gemm_operands
from .norm import reduce
from .pool import Pooling, emit_pool
from .vectors import splat

# the steps apply_step also takes on a vector of one channel's consecutive outputs (the conv
# kernel applies them in registers, before its row stores)
VECTOR_STEPS = ("add", "relu", "prelu", "scale", "shift")


def apply_step(em, step, v, extra, chan, pos, channel_lanes=False):
    """One pointwise epilogue step on value ``v`` at channel ``chan`` and output index ``pos``
    (for a VECTOR_STEPS step ``v`` may be a vector of outputs pos.. of channel ``chan``, or
    with ``channel_lanes`` of channels chan.. stored at pos.., as in blocked storage)."""
    kind, b = step[0], em.b
    vector = isinstance(v.type, ir.VectorType)

    def at_pos():
        return b.load(em.gep(extra, pos, F32), typ=v.type, align=4) if vector else em.load(extra, pos, F32)

    def of_channel():
        if channel_lanes:
            return b.load(em.gep(extra, chan, F32), typ=v.type, align=4)
        s = em.load(extra, chan, F32)
        return splat(b, s, v.type.count) if vector else s

    def below_zero():  # ordered: NaN stays NaN through relu and prelu
        return b.fcmp_ordered("<", v, ir.Constant(v.type, 0.0)) if vector else _lt0(em, v)

    if kind == "add":
        return b.fadd(v, at_pos(), flags=FAST)
    if kind == "relu" and vector:
        return b.select(below_zero(), ir.Constant(v.type, 0.0), v)
    if kind == "prelu":
        return b.select(below_zero(), b.fmul(v, of_channel()), v)
    if kind == "scale":
        return b.fmul(v, of_channel(), flags=FAST)
    if kind == "shift":
        return b.fadd(v, of_channel(), flags=FAST)
    if kind == "clip":
        if step[1] is not None:
            v = em.fmax(v, em.fconst(step[1]))
        if step[2] is not None:
            v = em.fmin(v, em.fconst(step[2]))
        return v
    if kind == "silu":
        return b.fmul(v, _sigmoid(em, v, None))
    op, names = UNARY_STEPS[kind]  # the op-table op of this step, parameters as its attributes
    return UNARY[op](em, v, NS(**dict(zip(names, step[1:]))))


def _split(k, node):
    """(bias pointer or None, [(pointwise step, extra pointer)], pooling step or None,
    input indices of the residuals)."""
    steps = list(node.attrs.epilogue)
    idx, bias, point, pool, residuals = 2, None, [], None, []
    for step in steps:
        n = STEP_EXTRAS[step[0]][0]
        extra = k.inp(idx) if n else None
        if step[0] == "add":
            residuals.append(idx)
        idx += n
        if step[0] == "bias":
            bias = extra
        elif step[0] in POOL_STEPS:
            pool = step
        else:
            point.append((step, extra))
    return bias, point, pool, residuals


@register("FusedConv")
def lower_fused_conv(k, node):
    em = k.em
    bias, point, pool, residual_inputs = _split(k, node)
    conv_type = op_types("Conv", node.inputs[:2], {key: node.attrs[key] for key in CONV_KEYS})[1][0]
    # a global average pool over blocked storage is summed in registers (no Y at all)
    mean_in_registers = pool is not None and is_map_mean(pool, conv_type.shape) and node.attrs.get("y_block", 0)
    y = k.scratch(conv_type.nbytes) if pool and not mean_in_registers else k.out()
    # with a pooling step, the conv rows a thread writes (channel blocks outermost) are mostly
    # the rows it pools (channel planes outermost) when both phases split statically: the
    # conv result does not cross cores between the phases (a 7x7/2 stem + max pool ran slower
    # on 2 threads than on 1)
    k.static_loops = pool is not None

    def post(row0, plane, oc0, R, OW):
        with em.loop(0, R, name="er") as r:
            base = em.add(row0, em.mul(r, plane))
            with em.loop(0, OW, name="e") as ow:
                p = em.add(base, ow)
                v = em.load(y, p, F32)
                for step, extra in point:
                    v = apply_step(em, step, v, extra, em.add(oc0, r), p)
                em.store(v, y, p, F32)

    def tile_post(v, chan, pos, channel_lanes=False):
        for step, extra in point:
            v = apply_step(em, step, v, extra, chan, pos, channel_lanes)
        return v

    residuals = [k.inp(i) for i in residual_inputs]
    vector_ok = point and all(step[0] in VECTOR_STEPS for step, _ in point)
    epilogue = Epilogue(bias, post if point else None, residuals, tile_post if vector_ok else None,
                        k.out() if mean_in_registers else None)
    in_registers = emit_conv(k, node, y, conv_type.shape, epilogue)
    if mean_in_registers:
        return
    if pool is None:
        if in_registers and len(residual_inputs) == 1:
            k.output_may_overwrite(residual_inputs[0])
        return
    k.barrier()
    sp = len(conv_type.shape) - 2
    if pool[0] == "global_avg_pool":
        reduce(k, conv_type.shape, range(2, 2 + sp), "mean", x=y, y=k.out(), et=F32)
        return
    emit_pool(k, Pooling.of_step(pool, sp, node.name), (y, conv_type.shape), (k.out(), k.out_shape()))


@register("FusedGemm")
def lower_fused_gemm(k, node):
    em = k.em
    bias, point, _, _ = _split(k, node)
    M, N = k.out_shape()
    y = k.out()
    ops = gemm_operands(k, node, node.attrs.alpha)
    c = (lambda bidx, i, j: em.load(bias, j, F32)) if bias is not None else None

    def post(rows, i0, j0, j1):
        for r, row in enumerate(rows):
            with em.loop(j0, j1, name="e") as j:
                p = em.add(row, j)
                v = em.load(y, p, F32)
                for step, extra in point:
                    v = apply_step(em, step, v, extra, j, p)
                em.store(v, y, p, F32)

    gemm_core(k, Gemm(batch=[], M=M, N=N, y=y, c=c, post=post if point else None, **ops))

