"""Inputs that used to kill, hang or exhaust the process (issue 16, items 6-8): bad cpu
names, oversized thread counts, absurd pads, huge maps and memory-bomb models, special files
as models. Every probe that could abort, hang or allocate terabytes on a regression runs in
a child process with a timeout (and an address-space limit where memory is the risk)."""

import json
import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

import cnncc
from cnncc import limits
from cnncc.errors import ShapeError, UsageError
from cnncc.ir import TensorType

vi = helper.make_tensor_value_info
AS_LIMIT = 6 << 30  # address space of a child that must not allocate what a model asks for


def save(path, nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "m", inputs, outputs, list(inits))
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def child(code, env=None, timeout=120):
    """Run Python ``code`` in a child: (exit code, stdout, stderr); a hang fails the test."""
    try:
        proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        pytest.fail(f"child did not finish within {timeout} s:\n{code}")
    return proc.returncode, proc.stdout, proc.stderr


def cli(*args, env=None, timeout=120, as_limit=None):
    """`cnncc ARGS` in a child, optionally under an address-space limit."""
    pre = f"import resource; resource.setrlimit(resource.RLIMIT_AS, ({as_limit}, {as_limit}))\n" if as_limit else ""
    return child(pre + f"import sys; from cnncc.cli import main; sys.exit(main({list(args)!r}))",
                 env=env, timeout=timeout)


def one_error(code, stderr, exit_code, *words):
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
    assert code == exit_code and len(lines) == 1, (code, stderr)
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


@pytest.fixture
def relu(tmp_path):
    return save(tmp_path / "relu.onnx", [helper.make_node("Relu", ["x"], ["y"], name="r")],
                [vi("x", TP.FLOAT, [1, 3, "H", "W"])], [vi("y", TP.FLOAT, [1, 3, "H", "W"])])


# -- 6: errors that killed the process -------------------------------------------------------
@pytest.mark.parametrize("cpu, words", [("pentium42", ("unknown cpu 'pentium42'", "x86-64-v3")),
                                        ("i686", ("cpu 'i686' cannot generate code", "x86-64-v3"))])
def test_bad_cpu_is_an_error_not_an_abort(relu, cpu, words):
    # LLVM ends the process (report_fatal_error) for both when it generates code
    code, out, err = child(f"""
        import cnncc
        from cnncc.errors import UsageError
        try:
            cnncc.compile({relu!r}, target="llvm", input_shapes={{"x": (1, 3, 8, 8)}}, cpu={cpu!r})
        except UsageError as exc:
            print("refused:", exc)
        """)
    assert code == 0 and out.startswith("refused:"), (code, out, err)
    for w in words:
        assert w in out
    code, _, err = cli("compile", relu, "--target", "llvm", "--input-shape", "x=1,3,8,8", "--cpu", cpu, "-o",
                       os.path.join(os.path.dirname(relu), "out"))
    one_error(code, err, 2, *words)


def test_valid_cpu_names_still_build(relu):
    from cnncc.backends.llvm.target import resolve_target

    t = resolve_target("x86-64-v3")
    assert (t.cpu, t.vector_bits, t.is_host) == ("x86-64-v3", 256, False)
    m = cnncc.compile(relu, target="llvm", input_shapes={"x": (1, 3, 4, 4)}, cpu="x86-64-v3")
    x = np.linspace(-1, 1, 48, dtype=np.float32).reshape(1, 3, 4, 4)
    np.testing.assert_array_equal(m(x), np.maximum(x, 0))


def test_thread_counts_are_validated_and_clamped():
    from cnncc.backends.llvm.runtime import max_threads, num_threads

    cap = max_threads()
    assert 1 <= cap <= 256 and cap <= 4 * (os.cpu_count() or 1)
    assert num_threads(100000) == cap and num_threads(2**31) == cap and num_threads(0) == 0 and num_threads(1) == 1
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(UsageError):
            num_threads(bad)
    env = os.environ.get("CNNCC_NUM_THREADS")
    try:
        for text, want in (("100000", cap), (str(2**31), cap), (" 1 ", 1), ("", 0)):
            os.environ["CNNCC_NUM_THREADS"] = text
            assert num_threads() == want
        for text in ("-3", "lots", "1e3"):
            os.environ["CNNCC_NUM_THREADS"] = text
            with pytest.raises(UsageError, match="CNNCC_NUM_THREADS"):
                num_threads()
    finally:
        if env is None:
            os.environ.pop("CNNCC_NUM_THREADS", None)
        else:
            os.environ["CNNCC_NUM_THREADS"] = env
    with pytest.raises(UsageError):
        cnncc.compile(onnx_relu(), target="llvm", input_shapes={"x": (1, 3, 4, 4)}, num_threads=-2)


def onnx_relu():
    g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "m", [vi("x", TP.FLOAT, [1, 3, "H", "W"])],
                          [vi("y", TP.FLOAT, [1, 3, "H", "W"])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


# 100000 threads of 8 MiB stacks do not fit 4 GiB of address space: libgomp's failed
# pthread_create used to end the process (SIGSEGV here) on a run with a parallel kernel.
THREAD_PROBE = """
    import resource, numpy as np, cnncc
    m = {make}
    x = np.ones((1, 3, 512, 512), np.float32)
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
    print("ok", float(m(x).sum()))
"""


@pytest.mark.parametrize("count", ["100000", str(2**31)])
def test_oversized_thread_count_under_rlimit_runs(relu, count):
    make = f'cnncc.compile({relu!r}, target="llvm", input_shapes={{"x": (1, 3, 512, 512)}})'
    code, out, err = child(THREAD_PROBE.format(make=make), env={"CNNCC_NUM_THREADS": count})
    assert code == 0 and out.split() == ["ok", str(float(3 * 512 * 512))], (code, out, err[-2000:])


def test_exported_library_clamps_threads(relu, tmp_path):
    out = tmp_path / "art"
    cnncc.compile(relu, target="llvm", input_shapes={"x": (1, 3, 512, 512)}).export(out)
    code, stdout, err = child(f"""
        import ctypes, os
        lib = ctypes.CDLL({str(out / 'libmodel.so')!r})
        lib.cnncc_model_create.restype = ctypes.c_void_p
        lib.cnncc_model_get_num_threads.argtypes = [ctypes.c_void_p]
        lib.cnncc_model_set_num_threads.argtypes = [ctypes.c_void_p, ctypes.c_int]
        m = lib.cnncc_model_create(None)
        created = lib.cnncc_model_get_num_threads(m)
        rc = lib.cnncc_model_set_num_threads(m, 256)
        print(created, rc, lib.cnncc_model_get_num_threads(m), 4 * os.cpu_count())
        """, env={"CNNCC_NUM_THREADS": "100000"})
    assert code == 0, err
    created, rc, after, cap = map(int, stdout.split())
    assert rc == 0 and 1 <= created <= min(cap, 256) and 1 <= after <= min(cap, 256)
    code, stdout, err = child(THREAD_PROBE.format(make=f"cnncc.load({str(out)!r})"), env={"CNNCC_NUM_THREADS": "100000"})
    assert code == 0 and stdout.startswith("ok"), (code, stdout, err[-2000:])


# -- 7: hangs ----------------------------------------------------------------------------------
def test_absurd_pads_are_a_shape_error(tmp_path):
    w = numpy_helper.from_array(np.ones((4, 3, 3, 3), np.float32), "w")
    # codegen looped in Python over the 2**62 padding pixels of a row
    for name, attrs, words in (("pads", {"pads": [2**62] * 4}, ("pads", "larger than the input")),
                               ("pads1", {"pads": [0, 0, 12, 12]}, ("pads", "larger than the input")),
                               ("dil", {"dilations": [2**61, 2**61], "pads": [2**62] * 4}, ("over the limit",)),
                               ("stride", {"strides": [2**62, 2**62], "pads": [2**62] * 4}, ("pads",))):
        path = save(tmp_path / f"{name}.onnx", [helper.make_node("Conv", ["x", "w"], ["y"], name="conv0", **attrs)],
                    [vi("x", TP.FLOAT, [1, 3, 8, 8])], [vi("y", TP.FLOAT, ["a", "b", "c", "d"])], [w])
        code, _, err = cli("compile", path, "--target", "llvm", "-o", str(tmp_path / name), timeout=60)
        one_error(code, err, 4, "node conv0 (Conv)", *words)


def test_pads_up_to_input_plus_window_are_accepted():
    from cnncc.ops.shapes import pooled_size

    with pytest.raises(ShapeError, match="larger than the input"):
        pooled_size(8, 3, 1, 12, 0, 1, False)
    assert pooled_size(8, 3, 1, 11, 11, 1, False) == 28  # pad = input + window: still accepted


def test_input_shape_over_the_tensor_limit(relu, tmp_path):
    code, _, err = cli("compile", relu, "--target", "llvm", "--input-shape", "x=1,3,100000,100000",
                       "-o", str(tmp_path / "o"), timeout=60, as_limit=AS_LIMIT)
    one_error(code, err, 4, "input x", "float32[1x3x100000x100000]", "112 GiB", "16 GiB", "CNNCC_MAX_TENSOR_BYTES")
    code, _, err = cli("compile", relu, "--target", "llvm", "--input-shape", "x=1,3,512,512", "-o", str(tmp_path / "o"),
                       env={"CNNCC_MAX_TENSOR_BYTES": "1M"}, timeout=60)
    one_error(code, err, 4, "input x", "3 MiB", "1 MiB")
    code, _, err = cli("compile", relu, "--target", "llvm", "--input-shape", "x=1,3,8,8", "-o", str(tmp_path / "o"),
                       env={"CNNCC_MAX_TENSOR_BYTES": "lots"}, timeout=60)
    one_error(code, err, 2, "CNNCC_MAX_TENSOR_BYTES")


def test_limits_parse_and_override(monkeypatch):
    assert limits.parse_bytes("512M", "X") == 512 << 20 and limits.parse_bytes("16GiB", "X") == 16 << 30
    assert limits.parse_bytes("4096", "X") == 4096 and limits.parse_bytes("1t", "X") == 1 << 40
    for bad in ("0", "-1", "1.5G", "9E", "lots", str(2**63)):
        with pytest.raises(UsageError):
            limits.parse_bytes(bad, "X")
    assert limits.current() == limits.Limits()
    monkeypatch.setenv("CNNCC_MAX_WORKSPACE_BYTES", "1K")
    assert limits.current().workspace_bytes == 1024


def test_workspace_and_weights_limits(monkeypatch):
    two = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["x"], ["t"], name="r0"), helper.make_node("Neg", ["t"], ["y"], name="r1")], "two",
        [vi("x", TP.FLOAT, [1, 3, 64, 64])], [vi("y", TP.FLOAT, [1, 3, 64, 64])]),
        opset_imports=[helper.make_opsetid("", 17)])
    monkeypatch.setenv("CNNCC_MAX_WORKSPACE_BYTES", "1K")
    with pytest.raises(ShapeError, match=r"workspace would take 48\.\d KiB .* over the limit of 1 KiB"):
        cnncc.compile(two, target="llvm")
    monkeypatch.delenv("CNNCC_MAX_WORKSPACE_BYTES")
    monkeypatch.setenv("CNNCC_MAX_WEIGHTS_BYTES", "100")
    w = numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "w")
    conv = helper.make_model(helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "c",
                                               [vi("x", TP.FLOAT, [1, 3, 8, 8])], [vi("y", TP.FLOAT, [1, 8, 6, 6])],
                                               [w]), opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ShapeError, match="weights would take"):
        cnncc.compile(conv, target="llvm")


def maxpool_ir_chars(width, op="MaxPool"):
    attrs = {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}
    g = helper.make_graph([helper.make_node(op, ["x"], ["y"], **attrs)], "p", [vi("x", TP.FLOAT, [1, 16, 8, width])],
                          [vi("y", TP.FLOAT, ["a", "b", "c", "d"])])
    m = cnncc.compile(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), target="llvm", lazy=True)
    return len(m._executable.llvm_ir)


def conv_ir_chars(width, group):
    w = numpy_helper.from_array(np.ones((16, 16 // group, 3, 3), np.float32), "w")
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1] * 4, group=group)], "c",
                          [vi("x", TP.FLOAT, [1, 16, 8, width])], [vi("y", TP.FLOAT, ["a", "b", "c", "d"])], [w])
    m = cnncc.compile(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), target="llvm", lazy=True)
    return len(m._executable.llvm_ir)


@pytest.mark.parametrize("kind", ["MaxPool", "AveragePool", "conv", "depthwise"])
def test_generated_code_does_not_grow_with_the_map(kind):
    # the separable max pool unrolled every 16-pixel chunk: 15 MB of IR and 11 minutes of
    # LLVM for a 65536-wide map
    size = (lambda w: maxpool_ir_chars(w, kind)) if "Pool" in kind else (lambda w: conv_ir_chars(w, 16 if kind == "depthwise" else 1))
    small, large = size(512), size(65536)
    assert large < 1.5 * small, (small, large)


def test_wide_maxpool_compiles_quickly(tmp_path):
    path = save(tmp_path / "pool.onnx", [helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[3, 3], strides=[2, 2],
                                                          pads=[1, 1, 1, 1], name="p")],
                [vi("x", TP.FLOAT, [1, 16, 8, 65536])], [vi("y", TP.FLOAT, ["a", "b", "c", "d"])])
    code, _, err = cli("compile", path, "--target", "llvm", "-o", str(tmp_path / "o"), timeout=120)
    assert code == 0, err


POOLS = [
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, (1, 3, 5, 301)),  # row loop
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1]}, (1, 2, 3, 17000)),  # no row buffer
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 40, 1, 40]}, (1, 3, 5, 60)),  # pad loops
    ("MaxPool", {"kernel_shape": [3, 3], "strides": [2, 1], "pads": [1, 25, 1, 30]}, (1, 2, 5, 17000)),
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 30, 1, 31], "count_include_pad": 1}, (1, 3, 5, 40)),
    ("AveragePool", {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1]}, (1, 3, 5, 3001)),
]


@pytest.mark.parametrize("op, attrs, shape", POOLS)
def test_pools_over_wide_rows_and_pads_match_the_reference(op, attrs, shape):
    g = helper.make_graph([helper.make_node(op, ["x"], ["y"], **attrs)], "p", [vi("x", TP.FLOAT, list(shape))],
                          [vi("y", TP.FLOAT, ["a", "b", "c", "d"])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    want = cnncc.compile(m, target="reference")(x)
    np.testing.assert_allclose(cnncc.compile(m, target="llvm")(x), want, rtol=1e-5, atol=1e-5)


def test_depthwise_conv_with_wide_pads_matches_the_reference():
    w = numpy_helper.from_array(np.random.default_rng(1).standard_normal((4, 1, 3, 3)).astype(np.float32), "w")
    g = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 20, 1, 21], group=4)], "c",
                          [vi("x", TP.FLOAT, [1, 4, 6, 50])], [vi("y", TP.FLOAT, ["a", "b", "c", "d"])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = np.random.default_rng(0).standard_normal((1, 4, 6, 50)).astype(np.float32)
    np.testing.assert_allclose(cnncc.compile(m, target="llvm")(x), cnncc.compile(m, target="reference")(x),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_special_files_are_refused_without_opening(relu, tmp_path):
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)  # open() would wait for a writer forever
    code, _, err = cli("compile", str(fifo), "--target", "llvm", "-o", str(tmp_path / "o"), timeout=60)
    one_error(code, err, 2, "not a regular file")
    if os.path.exists("/dev/zero") and stat.S_ISCHR(os.stat("/dev/zero").st_mode):
        code, _, err = cli("inspect", "/dev/zero", timeout=60)  # reading it never ends
        one_error(code, err, 2, "not a regular file")
    code, _, err = cli("inspect", str(tmp_path), timeout=60)
    one_error(code, err, 2, "directory")


# -- 8: memory bombs ----------------------------------------------------------------------------
def _int64(name, values):
    return numpy_helper.from_array(np.asarray(values, np.int64), name)


BOMBS = {
    "ConstantOfShape": ([helper.make_node("ConstantOfShape", ["s"], ["c"], name="bomb"),
                         helper.make_node("Add", ["x", "c"], ["y"], name="add")],
                        [_int64("s", [1 << 20, 1 << 20])], "float32[1048576x1048576]", "4 TiB"),
    "int64 overflow": ([helper.make_node("ConstantOfShape", ["s"], ["c"], name="bomb"),
                        helper.make_node("Add", ["x", "c"], ["y"], name="add")],
                       [_int64("s", [1 << 40, 1 << 40])], "float32[1099511627776x1099511627776]", "EiB"),
    "Expand": ([helper.make_node("Expand", ["x", "s"], ["y"], name="bomb")], [_int64("s", [1 << 21, 1 << 20])],
               "float32[2097152x1048576]", "8 TiB"),
    "Tile": ([helper.make_node("Tile", ["x", "r"], ["y"], name="bomb")], [_int64("r", [1 << 21, 1 << 20])],
             "float32[2097152x1048576]", "8 TiB"),
    "Range": ([helper.make_node("Range", ["a", "b", "d"], ["r"], name="bomb"),
               helper.make_node("Cast", ["r"], ["rf"], to=TP.FLOAT, name="cast"),
               helper.make_node("Add", ["x", "rf"], ["y"], name="add")],
              [_int64("a", 0), _int64("b", 1 << 42), _int64("d", 1)], "int64[4398046511104]", "32 TiB"),
}


@pytest.mark.parametrize("name", sorted(BOMBS))
def test_memory_bombs_are_refused_before_allocating(tmp_path, name):
    nodes, inits, shape, size = BOMBS[name]
    path = save(tmp_path / "bomb.onnx", nodes, [vi("x", TP.FLOAT, [1, 1])], [vi("y", TP.FLOAT, ["a", "b"])], inits)
    code, _, err = cli("compile", path, "--target", "llvm", "-o", str(tmp_path / "o"), timeout=60, as_limit=AS_LIMIT)
    one_error(code, err, 4, "node bomb", shape, size, "CNNCC_MAX_TENSOR_BYTES")


def test_shapes_from_attributes_are_checked():
    from cnncc.ir import Attrs
    from cnncc.ops import infer_types

    with pytest.raises(ShapeError, match="delta is 0"):
        infer_types("Range", [], Attrs(start=0, limit=10, delta=0, dtype="int64"))
    with pytest.raises(ShapeError, match="finite"):
        infer_types("Range", [], Attrs(start=0.0, limit=float("inf"), delta=1.0, dtype="float32"))
    # exact where float division rounds: (2**60 + 1) / 2**58 is 4.0 in floats, the count is 5
    (t,) = infer_types("Range", [], Attrs(start=0, limit=2**60 + 1, delta=2**58, dtype="int64"))
    assert t.shape == (5,)
    with pytest.raises(ShapeError, match="negative"):
        infer_types("ConstantOfShape", [], Attrs(shape=(2, -3), value=0.0, dtype="float32"))
    with pytest.raises(ShapeError, match="negative"):
        infer_types("Tile", [TensorType((2, 2))], Attrs(repeats=(1, -1)))
    with pytest.raises(ShapeError, match="negative"):
        infer_types("Expand", [TensorType((1, 2))], Attrs(shape=(-4, 2)))


def test_numel_and_nbytes_are_exact():
    t = TensorType((1 << 40, 1 << 40))
    assert t.numel == 1 << 80 and t.nbytes == 1 << 82  # int64 wrapped this to 0
    assert TensorType(()).numel == 1 and TensorType((3, 0)).nbytes == 0


def test_compile_does_not_allocate_the_workspace(tmp_path):
    # three 3 GiB intermediates; under a 6 GiB address space an eagerly allocated workspace
    # (the arena holds two of them) made `cnncc compile` fail with no run ever asked for
    path = save(tmp_path / "big.onnx", [helper.make_node("Relu", ["x"], ["a"], name="r0"),
                                        helper.make_node("Neg", ["a"], ["b"], name="r1"),
                                        helper.make_node("Relu", ["b"], ["y"], name="r2")],
                [vi("x", TP.FLOAT, [1, 3, 16384, 16384])], [vi("y", TP.FLOAT, [1, 3, 16384, 16384])])
    code, _, err = cli("compile", path, "--target", "llvm", "-o", str(tmp_path / "o"), timeout=120, as_limit=AS_LIMIT)
    assert code == 0, err
    meta = json.loads((tmp_path / "o" / "meta.json").read_text())
    assert meta["memory"]["workspace_bytes"] > AS_LIMIT


def test_jit_allocates_weights_and_workspace_on_first_run(relu):
    m = cnncc.compile(relu, target="llvm", input_shapes={"x": (1, 3, 8, 8)})
    exe = m._executable
    assert exe._workspace_buf is None and exe._weights_buf is None
    x = np.ones((1, 3, 8, 8), np.float32)
    np.testing.assert_array_equal(m(x), x)
    assert exe._workspace_buf is not None
