"""Whole graphs on the llvm backend: memory plan, threads, errors, targets, export to a
shared library and the C example, the ONNX path through cnncc.compile."""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cnncc.backends import llvm
from cnncc.backends.llvm.codegen import generate
from cnncc.backends.llvm.compile import optimize_module
from cnncc.backends.llvm.lowering import LOWERINGS
from cnncc.backends.llvm.target import host_target, resolve_target
from cnncc.backends.reference import interpret
from cnncc.errors import ShapeError, UnsupportedOpError
from cnncc.ir import Graph, Node, TensorType, Value
from cnncc.builder import GraphBuilder
from cnncc.ops import all_ops

from llvm_helpers import ATOL, RTOL, rand

REPO = Path(__file__).resolve().parents[3]


class Builder:
    """GraphBuilder's nodes over inputs made outside it: b.add("Conv", [x, w], kernel_shape=...)
    -> its first output."""

    def __init__(self):
        self.b, self.n = GraphBuilder(), 0

    @property
    def nodes(self) -> list[Node]:
        return self.b.nodes

    def const(self, array):
        self.n += 1
        return self.b.const(np.ascontiguousarray(array, dtype=np.float32), f"w{self.n}")

    def add(self, op, inputs, **attrs):
        self.n += 1
        return self.b.op(op, inputs, attrs, name=f"n{self.n}_{op}", outputs=[f"{op.lower()}{self.n}"])


def small_cnn(channels=8, size=16, classes=10):
    b = Builder()
    x = Value("image", TensorType((1, 3, size, size)))
    conv = dict(kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1))
    h = b.add("Conv", [x, b.const(rand(channels, 3, 3, 3, seed=1) * 0.5), b.const(rand(channels, seed=2))], **conv)
    h = b.add("Relu", [h])
    h = b.add("MaxPool", [h], kernel_shape=(2, 2), strides=(2, 2), pads=(0, 0, 0, 0), dilations=(1, 1))
    r = h
    h = b.add("Conv", [h, b.const(rand(channels, channels, 3, 3, seed=3) * 0.3)], **conv)
    h = b.add("BatchNormalization", [h] + [b.const(p) for p in (rand(channels, seed=4), rand(channels, seed=5),
                                                                 rand(channels, seed=6), rand(channels, seed=7) + 2)])
    h = b.add("Add", [h, r])
    h = b.add("Relu", [h])
    h = b.add("GlobalAveragePool", [h])
    h = b.add("Flatten", [h])
    h = b.add("Gemm", [h, b.const(rand(classes, channels, seed=8)), b.const(rand(classes, seed=9))], transB=1)
    y = b.add("Softmax", [h], axis=1)
    g = Graph([x], [y], b.nodes, name="small_cnn")
    g.validate()
    return g, {"image": rand(1, 3, size, size, seed=10)}


def assert_close(got, want):
    for name, ref in want.items():
        np.testing.assert_allclose(got[name], ref, rtol=RTOL, atol=ATOL, err_msg=name)


@pytest.fixture(scope="module")
def cnn():
    g, feeds = small_cnn()
    return g, feeds, llvm.build(g), interpret(g, feeds)


def test_every_op_in_the_table_is_lowered():
    missing = sorted(set(all_ops()) - set(llvm.supported_ops()))
    assert not missing, f"ops without an llvm lowering: {missing}"


def test_small_cnn_matches_reference(cnn):
    g, feeds, exe, want = cnn
    assert_close(exe.run(feeds), want)


def test_lazy_build_exports_without_jit_and_runs_on_first_use(cnn, tmp_path):
    g, feeds, _, want = cnn
    exe = llvm.build(g, lazy=True)
    exe.export(tmp_path / "out")
    assert exe._ee is None  # exporting compiled its own copy, not the JIT's
    assert_close(exe.run(feeds), want)
    assert exe._ee is not None


@pytest.mark.parametrize("threads", ["1", "2"])
def test_thread_counts_agree(cnn, monkeypatch, threads):
    g, feeds, exe, want = cnn
    monkeypatch.setenv("CNNCC_NUM_THREADS", threads)
    assert_close(exe.run(feeds), want)


def test_parallel_kernels_on_a_bigger_conv(monkeypatch):
    g, feeds = small_cnn(channels=16, size=48)
    exe = llvm.build(g)
    assert any(k.parallel for k in exe.generated.kernels)
    want = interpret(g, feeds)
    for threads in ("1", "2", ""):
        monkeypatch.setenv("CNNCC_NUM_THREADS", threads)
        assert_close(exe.run(feeds), want)


def test_memory_plan_shares_the_arena(cnn):
    g, feeds, exe, want = cnn
    plan = exe.plan
    assert 0 < plan.arena_size < plan.naive_size
    flatten = next(n for n in g.nodes if n.op == "Flatten")
    assert id(flatten) in plan.views  # a view: no kernel, same storage
    assert plan[flatten.outputs[0]] == plan[flatten.inputs[0]]
    assert "arena" in plan.summary()


def test_weights_stay_out_of_the_ir():
    b = Builder()
    x = Value("x", TensorType((1, 256)))
    y = b.add("Gemm", [x, b.const(rand(256, 512, seed=1))])
    g = Graph([x], [y], b.nodes)
    gen = generate(g, host_target())
    assert gen.blob.size >= 256 * 512 * 4
    assert len(gen.llvm_ir) < 20_000


def test_unsupported_op_is_a_compile_error(monkeypatch):
    g, feeds = small_cnn()
    monkeypatch.delitem(LOWERINGS, "Relu")
    with pytest.raises(UnsupportedOpError, match=r"Relu.*llvm|llvm.*Relu") as info:
        llvm.build(g)
    assert "n4_Relu" in str(info.value)


def test_wrong_input_shape_raises(cnn):
    g, feeds, exe, want = cnn
    with pytest.raises(ShapeError):
        exe.run({"image": np.zeros((1, 3, 8, 8), np.float32)})


def test_graph_output_that_is_an_input_or_repeated():
    b = Builder()
    x = Value("x", TensorType((2, 3)))
    y = b.add("Relu", [x])
    z = b.add("Reshape", [y], shape=(3, 2))
    g = Graph([x], [y, z, x, y], b.nodes)
    feeds = {"x": rand(2, 3)}
    got = llvm.build(g).run(feeds)
    want = interpret(g, feeds)
    assert_close(got, want)


def test_cpu_option_targets_avx2():
    g, feeds = small_cnn()
    exe = llvm.build(g, cpu="x86-64-v3")
    assert exe.generated.target.vector_bits == 256
    assert_close(exe.run(feeds), interpret(g, feeds))


def test_host_code_uses_vector_fma():
    g, feeds = small_cnn()
    target = resolve_target(None)
    gen = generate(g, target)
    tm = target.target_machine()
    asm = tm.emit_assembly(optimize_module(gen, tm))
    reg = {512: "zmm", 256: "ymm", 128: "xmm"}[target.vector_bits]
    assert any("vfmadd" in line and reg in line for line in asm.splitlines())


@pytest.fixture(scope="module")
def exported(cnn, tmp_path_factory):
    g, feeds, exe, want = cnn
    out = tmp_path_factory.mktemp("llvm_export") / "model"
    exe.export(out)
    return out


def test_export_layout_and_load(cnn, exported):
    g, feeds, exe, want = cnn
    for name in ("libmodel.so", "model.h", "weights.bin", "meta.json"):
        assert (exported / name).is_file()
    m = llvm.load(exported)
    assert_close(m.run(feeds), want)
    assert m.meta["target"] == "llvm" and m.meta["memory"]["arena_bytes"] == exe.plan.arena_size


def test_cnncc_load_of_an_export(cnn, exported):
    import cnncc

    g, feeds, exe, want = cnn
    m = cnncc.load(exported)
    assert_close(m.run(feeds), want)


@pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc")) is None, reason="no C compiler")
def test_c_example_runs_without_python(cnn, exported, tmp_path):
    g, feeds, exe, want = cnn
    binary = tmp_path / "run_model"
    subprocess.run([os.environ.get("CC", "cc"), "-O2", "-Wall", "-Werror", str(REPO / "examples/c/run_model.c"),
                    "-I", str(exported), "-L", str(exported), "-lmodel", f"-Wl,-rpath,{exported}",
                    "-o", str(binary)], check=True)
    image = tmp_path / "image.bin"
    feeds["image"].tofile(image)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["CNNCC_NUM_THREADS"] = "2"
    res = subprocess.run([str(binary), "-o", str(tmp_path), str(image)], capture_output=True, text=True,
                         env=env, check=True, cwd=tmp_path)
    out = np.fromfile(tmp_path / "0.bin", dtype=np.float32).reshape(g.outputs[0].shape)
    assert_close({"y": out}, {"y": want[g.outputs[0].name]})
    top1 = int(np.argmax(want[g.outputs[0].name]))
    assert f"top1 {top1} " in res.stdout


def test_c_api_checks_tensors(exported):
    import ctypes

    lib = ctypes.CDLL(str(exported / "libmodel.so"))
    lib.cnncc_model_create.restype = ctypes.c_void_p
    lib.cnncc_model_create.argtypes = [ctypes.c_char_p]
    lib.cnncc_last_error.restype = ctypes.c_char_p
    assert lib.cnncc_model_create(b"/nonexistent/weights.bin") is None
    assert b"weights" in lib.cnncc_last_error()
    m = lib.cnncc_model_create(None)  # weights.bin beside the library
    assert m

    class Tensor(ctypes.Structure):
        _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int), ("ndim", ctypes.c_int32),
                    ("shape", ctypes.POINTER(ctypes.c_int64))]

    x = np.zeros((1, 3, 16, 16), np.float32)
    y = np.zeros((1, 10), np.float32)
    bad = (ctypes.c_int64 * 4)(1, 3, 8, 8)
    good_y = (ctypes.c_int64 * 2)(1, 10)
    ins = (Tensor * 1)(Tensor(x.ctypes.data, 1, 4, bad))
    outs = (Tensor * 1)(Tensor(y.ctypes.data, 1, 2, good_y))
    lib.cnncc_model_run_tensors.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                            ctypes.c_int]
    assert lib.cnncc_model_run_tensors(m, ins, 1, outs, 1) == 2  # CNNCC_ERR_SHAPE
    ins[0].shape = (ctypes.c_int64 * 4)(1, 3, 16, 16)
    ins[0].dtype = 7
    assert lib.cnncc_model_run_tensors(m, ins, 1, outs, 1) == 3  # CNNCC_ERR_DTYPE
    ins[0].dtype = 1
    assert lib.cnncc_model_run_tensors(m, ins, 1, outs, 1) == 0
    lib.cnncc_model_destroy.argtypes = [ctypes.c_void_p]
    lib.cnncc_model_destroy(m)


def test_onnx_model_through_cnncc_compile(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    import cnncc

    w = numpy_helper.from_array(rand(4, 3, 3, 3, seed=1), "w")
    b = numpy_helper.from_array(rand(4, seed=2), "b")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[2, 2], strides=[2, 2])]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 4])], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    x = rand(1, 3, 8, 8, seed=3)
    want = cnncc.compile(model, target="reference", opt_level=0)(x)
    for level in (0, 2):
        m = cnncc.compile(model, target="llvm", opt_level=level)
        np.testing.assert_allclose(m(x), want, rtol=RTOL, atol=ATOL)
    m.export(tmp_path / "out")
    np.testing.assert_allclose(cnncc.load(tmp_path / "out")(x), want, rtol=RTOL, atol=ATOL)
    del onnx


def test_equal_nodes_share_one_parallel_kernel(monkeypatch):
    b = Builder()
    x = Value("x", TensorType((1, 16, 40, 40)))
    conv = dict(kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1))
    h = x
    for i in range(3):
        h = b.add("Conv", [h, b.const(rand(16, 16, 3, 3, seed=i) * 0.2)], **conv)
    g = Graph([x], [h], b.nodes)
    exe = llvm.build(g)
    assert len({k.name for k in exe.generated.kernels}) == 1 and exe.generated.kernels[0].parallel
    feeds = {"x": rand(1, 16, 40, 40)}
    for threads in ("1", "2"):
        monkeypatch.setenv("CNNCC_NUM_THREADS", threads)
        assert_close(exe.run(feeds), interpret(g, feeds))


def test_profile_and_dumps():
    g, feeds = small_cnn()
    exe = llvm.build(g, params={"profile": True})
    rows = exe.profile(feeds, runs=2)
    assert len(rows) == len(exe.generated.kernels) and all(r["ms"] >= 0 for r in rows)
    assert sum(r["ms"] for r in rows) > 0
    assert "cnncc_run" in exe.optimized_ir() and "cnncc_run:" in exe.assembly()
    assert_close(exe.run(feeds), interpret(g, feeds))


def test_export_for_another_cpu(tmp_path):
    from cnncc.backends.llvm.export import export_graph

    g, feeds = small_cnn()
    out = export_graph(g, tmp_path / "v3", cpu="x86-64-v3")
    m = llvm.load(out)
    assert m.meta["cpu"]["cpu"] == "x86-64-v3"
    assert_close(m.run(feeds), interpret(g, feeds))


def test_unknown_options_are_refused():
    from cnncc.errors import UsageError

    g, feeds = small_cnn()
    with pytest.raises(UsageError, match="unknown option"):
        llvm.build(g, tile=3)
    with pytest.raises(UsageError, match="schedule parameter"):
        llvm.build(g, params={"conv_tile": 3})


def test_sources_for_emit_source(cnn):
    g, feeds, exe, want = cnn
    src = exe.sources()
    assert set(src) == {"model.ll", "model.opt.ll", "model.s"} and "define" in src["model.ll"]


@pytest.mark.parametrize("as_output", [False, True])
def test_concat_in_place(as_output):
    b = Builder()
    x = Value("x", TensorType((1, 3, 6, 7)))
    conv = dict(kernel_shape=(3, 3), strides=(1, 1), pads=(1, 1, 1, 1), dilations=(1, 1))
    p = b.add("Conv", [x, b.const(rand(4, 3, 3, 3, seed=1))], **conv)
    q = b.add("Relu", [x])
    inner = b.add("Concat", [p, q], axis=1)            # nested into the outer concat
    r = b.add("Conv", [x, b.const(rand(5, 3, 1, 1, seed=2))], **{**conv, "kernel_shape": (1, 1), "pads": (0,) * 4})
    cat = b.add("Concat", [r, inner], axis=1)
    outs = [cat] if as_output else [b.add("Sigmoid", [cat])]
    exe = _built_and_checked(Graph([x], outs, b.nodes), {"x": rand(1, 3, 6, 7, seed=3)})
    assert exe.plan.inplace_concats == 2
    assert not any(k.op == "Concat" for k in exe.generated.kernels)


def test_concat_not_in_place_when_an_input_is_shared():
    b = Builder()
    x = Value("x", TensorType((1, 2, 4, 4)))
    h = b.add("Relu", [x])
    cat = b.add("Concat", [h, x], axis=1)   # x is a graph input: cannot move it
    y = b.add("Add", [cat, cat])
    exe = _built_and_checked(Graph([x], [y, h], b.nodes), {"x": rand(1, 2, 4, 4)})
    assert exe.plan.inplace_concats == 0


def _built_and_checked(g, feeds, **options):
    """llvm.build(g), its outputs checked against the reference."""
    g.validate()
    exe = llvm.build(g, **options)
    assert_close(exe.run(feeds), interpret(g, feeds))
    return exe


def _residual_conv(b, x, residual, seed, kernel=1):
    """FusedConv(x) + bias + residual, relu: 32 -> 32 channels, the residual added in registers."""
    c = x.shape[1]
    pad = (kernel // 2,) * 4
    return b.add("FusedConv", [x, b.const(rand(32, c, kernel, kernel, seed=seed)), b.const(rand(32, seed=seed + 1)),
                               residual],
                 kernel_shape=(kernel, kernel), strides=(1, 1), pads=pad, dilations=(1, 1),
                 epilogue=(("bias",), ("add",), ("relu",)))


@pytest.mark.parametrize("threads", [1, 2])
def test_residual_conv_writes_over_its_residual(threads):
    """Two residual blocks: each conv's output takes its residual's storage (the residual is
    read for the last time there), the second over the first's output, which holds the
    first residual's bytes: one buffer for all three values."""
    b = Builder()
    x = Value("x", TensorType((1, 32, 9, 10)))  # under Winograd's width
    r0 = b.add("Relu", [x])
    y1 = _residual_conv(b, b.add("Sigmoid", [x]), r0, seed=1, kernel=3)
    y2 = _residual_conv(b, b.add("Tanh", [y1]), y1, seed=4)
    exe = _built_and_checked(Graph([x], [b.add("Sigmoid", [y2])], b.nodes), {"x": rand(1, 32, 9, 10, seed=3)},
                             num_threads=threads)
    assert exe.plan.inplace_outputs == 2
    assert exe.plan[y1].index == exe.plan[r0].index == exe.plan[y2].index
    assert "2 outputs over an input" in exe.plan.summary()


def test_residual_conv_keeps_a_residual_that_is_read_again():
    b = Builder()
    x = Value("x", TensorType((1, 32, 6, 16)))
    r = b.add("Relu", [x])
    y = _residual_conv(b, x, r, seed=1)          # r is read again below
    late = b.add("Add", [y, r])
    self_residual = _residual_conv(b, late, late, seed=5)  # the conv reads its residual too
    from_input = _residual_conv(b, r, x, seed=7)           # a graph input is the caller's
    exe = _built_and_checked(Graph([x], [b.add("Add", [self_residual, from_input])], b.nodes),
                             {"x": rand(1, 32, 6, 16, seed=3)})
    assert exe.plan.inplace_outputs == 0


def test_blob_consolidate_keeps_bytes_and_drops_the_packed_copies(tmp_path):
    from cnncc.backends.llvm.weights import Blob

    blob = Blob()
    packed = [np.arange(10, dtype=np.float32).reshape(2, 5), np.array([1, 2, 3], np.int64), np.zeros(0, np.float32)]
    offs = [blob.add(("t", i), a) for i, a in enumerate(packed)]
    assert blob.add(("t", 0), packed[1]) == offs[0]        # one entry per key
    want = blob.to_array().copy()
    buf = blob.consolidate()
    assert np.array_equal(buf, want)
    for (off, entry), original in zip(blob._entries, packed):
        assert entry.shape == original.shape and entry.dtype == original.dtype
        assert np.array_equal(entry, original)
        if entry.nbytes:
            assert np.shares_memory(entry, buf)             # a view, not the packed copy
    blob.write(str(tmp_path / "w.bin"))
    assert (tmp_path / "w.bin").read_bytes() == want.tobytes()
