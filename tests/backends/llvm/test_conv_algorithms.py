"""The conv kernel layer's extension point (backends/llvm/kernels/conv.py): an algorithm is
an object with ``applies`` and ``emit`` in the ordered ALGORITHMS list. A toy naive scalar
convolution, registered first, must be chosen where it says it applies, and compute what the
NumPy reference does, epilogue included. The README's "How to add a conv algorithm" follows
this file."""

import pytest
from llvm_helpers import check, const, op_graph, rand  # noqa: F401

from cnncc.backends.llvm.emit import F32, FAST
from cnncc.backends.llvm.kernels import conv
from cnncc.backends.llvm.kernels.conv_direct import conv_input
from cnncc.backends.llvm.kernels.conv_kernel import ConvJob, ConvKernel
from cnncc.errors import LoweringNotApplicable

TOY = "toy naive direct"


class NaiveDirect(ConvKernel):
    """One output row per work item; every output a scalar sum over its taps, which are
    checked at run time. Slow and simple: the shape of an algorithm, nothing more."""

    name = TOY

    def applies(self, geom, schedule, target) -> bool:
        # only nodes that ask for it (a name marker), and only 1-D/2-D NCHW convs
        return geom.node.name.startswith("toy") and geom.D == 1 and not geom.blocked

    def emit(self, k, job: ConvJob) -> bool:
        em, b = k.em, k.em.b
        g, bias = job.geom, job.epilogue.bias
        k.algorithm = TOY
        x, w = conv_input(k, g), k.inp(1)
        plane = g.OH * g.OW
        with k.parallel_loop(g.N * g.M * g.OH, g.Cg * g.KH * g.KW * g.OW) as t:
            n, m, oh = em.unravel(t, [g.N, g.M, g.OH])
            grp = em.div(m, g.Mg)
            row0 = em.add(em.mul(em.add(em.mul(n, g.M), m), plane), em.mul(oh, g.OW))
            with em.loop(0, g.OW, name="ow") as ow:
                acc = em.local(F32, name="acc")
                b.store(em.load(bias, m, F32) if bias is not None else em.fconst(0.0), acc)
                with em.loop(0, g.Cg, name="ic") as ic:
                    c = em.add(em.mul(grp, g.Cg), ic)
                    for kh in range(g.KH):
                        ih = em.sub(em.add(em.mul(oh, g.sh), kh * g.dh), g.ph)
                        for kw in range(g.KW):
                            iw = em.sub(em.add(em.mul(ow, g.sw), kw * g.dw), g.pw)
                            with em.if_(b.and_(em.in_range(ih, 0, g.H), em.in_range(iw, 0, g.W))):
                                xv = em.load(x, em.lin([(n, g.C * g.H * g.W), (c, g.H * g.W), (ih, g.W)], iw), F32)
                                wv = em.load(w, em.lin([(m, g.Cg * g.KH * g.KW), (ic, g.KH * g.KW)], kh * g.KW + kw), F32)
                                b.store(b.fadd(b.load(acc), b.fmul(xv, wv, flags=FAST), flags=FAST), acc)
                em.store(b.load(acc), job.y, em.add(row0, ow), F32)
            job.epilogue.after_rows(row0, plane, m, 1, g.OW)
        return False


@pytest.fixture
def toy():
    algorithm = conv.register_algorithm(NaiveDirect())  # first in the list
    try:
        yield algorithm
    finally:
        conv.unregister_algorithm(TOY)
    assert TOY not in [a.name for a in conv.ALGORITHMS]


def _conv(x_shape, w_shape, attrs, op="Conv", bias=True, name="toy0"):
    inputs = [rand(*x_shape), const(rand(*w_shape, seed=1))] + ([const(rand(w_shape[0], seed=2))] if bias else [])
    g, feeds = op_graph(op, inputs, attrs)
    g.nodes[0].name = name
    return g, feeds


def attrs(k, s=(1, 1), p=(0, 0, 0, 0), d=(1, 1), group=1):
    return dict(kernel_shape=k, strides=s, pads=p, dilations=d, group=group)


@pytest.mark.parametrize("x_shape,w_shape,a", [
    ((1, 3, 9, 11), (5, 3, 3, 3), attrs((3, 3), p=(1, 1, 1, 1))),
    ((2, 6, 9, 11), (4, 3, 3, 2), attrs((3, 2), (2, 3), (0, 1, 2, 1), (2, 1), 2)),   # grouped, strided, dilated
    ((1, 16, 8, 8), (16, 16, 3, 3), attrs((3, 3), p=(1, 1, 1, 1))),                  # Winograd's shape
])
def test_toy_algorithm_is_chosen_and_matches_the_reference(toy, x_shape, w_shape, a):
    g, feeds = _conv(x_shape, w_shape, a)
    exe = check(g, feeds)
    assert exe.generated.kernels[0].algorithm == TOY


def test_toy_algorithm_runs_a_fused_epilogue(toy):
    a = dict(attrs((3, 3), p=(1, 1, 1, 1)), epilogue=(("bias",), ("relu",)))
    g, feeds = op_graph("FusedConv", [rand(1, 4, 7, 9), const(rand(8, 4, 3, 3, seed=1)), const(rand(8, seed=2))], a)
    g.nodes[0].name = "toy_fused"
    exe = check(g, feeds)
    assert exe.generated.kernels[0].algorithm == TOY


def test_other_nodes_keep_the_builtin_algorithms(toy):
    g, feeds = _conv((1, 3, 9, 11), (5, 3, 3, 3), attrs((3, 3)), name="conv0")
    exe = check(g, feeds)
    assert exe.generated.kernels[0].algorithm != TOY


def test_an_algorithm_that_finds_no_kernel_hands_on_to_the_next(toy, monkeypatch):
    def decline(k, job):
        raise LoweringNotApplicable("no kernel for this variant")

    monkeypatch.setattr(toy, "emit", decline)
    g, feeds = _conv((1, 3, 9, 11), (5, 3, 3, 3), attrs((3, 3)))
    exe = check(g, feeds)
    assert exe.generated.kernels[0].algorithm not in ("", TOY)


def test_registering_a_name_twice_is_refused(toy):
    with pytest.raises(ValueError, match="already registered"):
        conv.register_algorithm(NaiveDirect())
