"""--precision (issue 13): the flag on compile/run/bench/tune/inspect and ``precision=`` in the
API; what auto picks; bf16 refused, in one line, on cpus without bf16 arithmetic and on the TVM
and reference targets; meta.json, model.h and cnncc_precision() record it; an AMX build made
on any host (--cpu sapphirerapids); the runtime's AMX permission request (JIT and exported
library) before the first run, and its refusal as a clear error.

What a kernel reports about AMX (Kernel.requires) is set by hand (no kernel uses AMX tiles
yet); the bf16 conv kernel reports its precision itself. Every test passes on AVX2-only hosts:
cpus are chosen with --cpu, and the tests of the permission request expect a grant only where
the host has AMX."""

import ctypes
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import cnncc
from cnncc.backends.llvm.codegen import generate
from cnncc.backends.llvm.export import export_generated
from cnncc.backends.llvm.precision import bf16_pays, kernel_precisions, resolve_precision
from cnncc.backends.llvm.runtime import JitExecutable
from cnncc.backends.llvm.target import host_target, resolve_target
from cnncc.backends.reference import interpret
from cnncc.errors import BackendError, UsageError
from cnncc.frontends.onnx import import_onnx

HOST = host_target()
HOST_AUTO = "bf16" if bf16_pays(HOST) else "fp32"
HOST_HAS_AMX = HOST.has_feature("amx-tile")
# what bf16 arithmetic may cost: error against the fp32 reference, as a fraction of the
# output's largest magnitude (the bound; cli.BF16_TOLERANCE)
BF16_TOL = 2e-2


def cli(*args, cwd=None):
    """`cnncc ARGS` in a subprocess: exit code, stdout, stderr."""
    proc = subprocess.run([sys.executable, "-m", "cnncc.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "COLUMNS": "200"})
    return proc.returncode, proc.stdout, proc.stderr


def conv_model(path):
    """x[1,3,8,8] -> Conv(4, 3x3) -> Relu -> GlobalAveragePool -> Flatten -> y[1,4]."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["y"], name="flat")]
    graph = helper.make_graph(nodes, "convnet", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def chain_graph():
    """x -> Conv -> Sigmoid -> Conv -> y, unfused (-O0): three kernels in a row."""
    rng = np.random.default_rng(1)
    inits = [numpy_helper.from_array(rng.standard_normal((4, 3, 1, 1)).astype(np.float32), "w1"),
             numpy_helper.from_array(rng.standard_normal((2, 4, 1, 1)).astype(np.float32), "w2")]
    nodes = [helper.make_node("Conv", ["x", "w1"], ["a"], name="conv1"),
             helper.make_node("Sigmoid", ["a"], ["s"], name="sig"),
             helper.make_node("Conv", ["s", "w2"], ["y"], name="conv2")]
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 4, 4])], inits)
    return import_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))


def feed(shape=(1, 3, 8, 8)):
    return np.random.default_rng(7).standard_normal(shape).astype(np.float32)


def within_bf16(got, want):
    return float(np.max(np.abs(got - want))) <= BF16_TOL * float(np.max(np.abs(want)))


# -- what each precision resolves to ------------------------------------------------------------
def test_auto_picks_bf16_only_where_the_cpu_multiplies_bf16():
    assert resolve_precision("auto", resolve_target("x86-64-v3")) == "fp32"
    # no AMX kernel yet, and its vdpbf16ps issues at half the FMA's rate: no faster than fp32
    assert resolve_precision("auto", resolve_target("sapphirerapids")) == "fp32"
    assert resolve_precision("auto", resolve_target("znver4")) == "bf16"  # vdpbf16ps at the FMA's rate
    assert resolve_precision("auto", HOST) == HOST_AUTO
    assert resolve_precision("fp32", resolve_target("sapphirerapids")) == "fp32"
    with pytest.raises(UsageError, match=r"needs a cpu with amx-bf16 or avx512bf16; cpu x86-64-v3 has neither"):
        resolve_precision("bf16", resolve_target("x86-64-v3"))
    with pytest.raises(UsageError, match="not one of fp32, bf16, auto"):
        resolve_precision("fp16", HOST)


def test_api_precision_on_this_host(tmp_path):
    model = conv_model(tmp_path / "m.onnx")
    x = feed()
    want = interpret(import_onnx(str(model)), {"x": x})["y"]
    for precision, expected in (("fp32", "fp32"), ("auto", HOST_AUTO)):
        compiled = cnncc.compile(str(model), target="llvm", precision=precision)
        assert compiled.precision == expected
        got = compiled(x)
        if expected == "fp32":
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
        else:
            assert within_bf16(got, want)
    with pytest.raises(UsageError, match="precision 'half' is not one of fp32, bf16, auto"):
        cnncc.compile(str(model), target="llvm", precision="half")
    if HOST_AUTO == "fp32":
        with pytest.raises(UsageError, match=r"this host \(.*\) has neither"):
            cnncc.compile(str(model), target="llvm", precision="bf16")


# -- the command line ---------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["compile", "run", "bench", "tune", "inspect"])
def test_every_command_has_the_flag(command):
    code, stdout, _ = cli(command, "--help")
    assert code == 0 and "--precision" in stdout


def test_compile_auto_for_an_avx2_cpu_is_fp32_and_bf16_is_one_line_error(tmp_path):
    model = conv_model(tmp_path / "m.onnx")
    code, stdout, stderr = cli("compile", model, "-o", tmp_path / "v3", "--cpu", "x86-64-v3", "--precision", "auto")
    assert code == 0, stderr
    assert "(llvm, fp32," in stdout
    assert json.loads((tmp_path / "v3" / "meta.json").read_text())["precision"] == "fp32"

    code, stdout, stderr = cli("compile", model, "-o", tmp_path / "no", "--cpu", "x86-64-v3", "--precision", "bf16")
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith("error: --precision bf16 needs a cpu with amx-bf16 or "
                                                          "avx512bf16; cpu x86-64-v3 has neither")
    assert not (tmp_path / "no").exists()

    code, _, stderr = cli("compile", model, "-o", tmp_path / "bad", "--precision", "fp8")
    assert code == 2 and "precision 'fp8' is not one of fp32, bf16, auto" in stderr


def test_sapphirerapids_bf16_artifact_builds_on_any_host(tmp_path):
    """Build only: the library is loaded to ask it, never run (this host may lack AMX)."""
    model = conv_model(tmp_path / "m.onnx")
    art = tmp_path / "spr"
    code, stdout, stderr = cli("compile", model, "-o", art, "--cpu", "sapphirerapids", "--precision", "bf16")
    assert code == 0, stderr
    assert "(llvm, bf16," in stdout
    meta = json.loads((art / "meta.json").read_text())
    assert meta["precision"] == "bf16" and meta["cpu"]["cpu"] == "sapphirerapids"
    assert all(k["precision"] in ("fp32", "bf16") for k in meta["kernels"])
    assert "This library computes in bf16" in (art / "model.h").read_text()
    assert "const char *cnncc_precision(void);" in (art / "model.h").read_text()
    lib = ctypes.CDLL(str(art / "libmodel.so"))
    lib.cnncc_precision.restype = ctypes.c_char_p
    assert lib.cnncc_precision() == b"bf16"


@pytest.mark.skipif(not HOST.has_feature("avx512bf16"), reason=f"this host ({HOST.cpu}) has no AVX512-BF16")
def test_a_bf16_artifact_runs_like_the_jit(tmp_path):
    """The exported library's bf16 kernels (loaded and run through the C runtime) compute
    what the JIT build computes, bit for bit, with its bf16 conv kernel in meta.json."""
    model = conv_model(tmp_path / "m.onnx")
    art = tmp_path / "bf16"
    code, _, stderr = cli("compile", model, "-o", art, "--precision", "bf16")
    assert code == 0, stderr
    meta = json.loads((art / "meta.json").read_text())
    assert any(k["precision"] == "bf16" for k in meta["kernels"])
    x = feed()
    np.save(tmp_path / "x.npy", x)
    code, _, stderr = cli("run", art, "-i", f"x={tmp_path / 'x.npy'}", "-o", tmp_path / "out.npz")
    assert code == 0, stderr
    got = np.load(tmp_path / "out.npz")["y"]
    jit = cnncc.compile(str(model), target="llvm", precision="bf16")(x)
    np.testing.assert_array_equal(got, jit)
    assert within_bf16(got, interpret(import_onnx(str(model)), {"x": x})["y"])


def test_run_checks_at_the_precision_and_artifacts_keep_theirs(tmp_path):
    model = conv_model(tmp_path / "m.onnx")
    code, stdout, stderr = cli("run", model, "-t", "llvm", "--precision", "auto", "--check")
    assert code == 0, stderr
    assert f"outputs (llvm, {HOST_AUTO})" in stdout and "-> ok" in stdout

    art = tmp_path / "fp32"
    assert cli("compile", model, "-o", art, "--precision", "fp32")[0] == 0
    code, stdout, stderr = cli("run", art, "--precision", "fp32")
    assert code == 0 and "outputs (llvm, fp32)" in stdout, stderr
    code, _, stderr = cli("run", art, "--precision", "bf16")
    assert code == 2 and "computes in fp32; the precision is chosen when compiling" in stderr


def test_tune_and_bench_refuse_what_they_cannot_measure(tmp_path):
    model = conv_model(tmp_path / "m.onnx")
    code, _, stderr = cli("tune", model, "-t", "tvm-llvm", "--precision", "bf16", "--db", tmp_path / "db")
    assert code == 2 and "target 'tvm-llvm' computes in fp32 only for now" in stderr
    code, _, stderr = cli("tune", model, "-t", "llvm", "--precision", "fp16", "--db", tmp_path / "db")
    assert code == 2 and "not one of fp32, bf16, auto" in stderr
    code, _, stderr = cli("tune", model, "-t", "llvm", "--precision", "bf16", "--db", tmp_path / "db")
    assert code == 2 and ("the llvm tuner measures fp32 kernels only" in stderr if HOST_AUTO == "bf16"
                          else "has neither" in stderr), stderr
    assert not (tmp_path / "db").exists()
    code, _, stderr = cli("bench", model, "--precision", "fp32,bf17", "--against", "")
    assert code == 2 and "precision 'bf17' is not one of fp32, bf16, auto" in stderr


def test_tvm_and_reference_targets_compute_in_fp32_only(tmp_path):
    from cnncc.backends import reference, tvm

    graph = chain_graph()
    for target in ("tvm-llvm", "cuda"):
        with pytest.raises(UsageError, match=f"target '{target}' computes in fp32 only for now"):
            tvm.build(graph, device="cuda" if target == "cuda" else "cpu", precision="bf16")
    with pytest.raises(UsageError, match="target 'reference' computes in fp32 only"):
        reference.build(graph, precision="bf16")
    assert cnncc.compile(graph, target="reference", precision="auto").precision == "fp32"
    x = feed((1, 3, 4, 4))
    compiled = cnncc.compile(graph, target="tvm-llvm", precision="auto")  # auto: fp32, the only one it has
    assert compiled.precision == "fp32"
    np.testing.assert_allclose(compiled(x), interpret(graph, {"x": x})["y"], rtol=1e-4, atol=1e-5)
    code, _, stderr = cli("compile", conv_model(tmp_path / "m.onnx"), "-t", "cuda", "--precision", "bf16",
                          "-o", tmp_path / "c")
    assert code == 2 and stderr.count("\n") == 1 and "target 'cuda' computes in fp32 only for now" in stderr


# -- inspect --precision ------------------------------------------------------------------------
def test_inspect_lists_each_kernels_precision(tmp_path):
    model = conv_model(tmp_path / "m.onnx")
    code, stdout, stderr = cli("inspect", model, "--precision", "bf16", "--cpu", "sapphirerapids")
    assert code == 0, stderr
    assert "kernels by precision (llvm, cpu sapphirerapids, --precision bf16 -> bf16)" in stdout
    assert "conv" in stdout and "FusedConv" in stdout
    assert "input(s) rounded as kernels read them" in stdout
    code, _, stderr = cli("inspect", model, "--precision", "bf16", "--cpu", "x86-64-v3")
    assert code == 2 and "cpu x86-64-v3 has neither" in stderr
    code, _, stderr = cli("inspect", model, "--precision", "bf16", "-t", "tvm-llvm")
    assert code == 2 and "only the llvm target has reduced-precision kernels" in stderr


def test_kernel_precisions_name_the_inputs_each_kernel_rounds():
    graph = chain_graph()
    gen = generate(graph, resolve_target("sapphirerapids"), precision="fp32")
    assert [r.precision for r in kernel_precisions(graph, gen)] == ["fp32"] * 3
    gen = generate(graph, resolve_target("sapphirerapids"), precision="bf16")
    rows = kernel_precisions(graph, gen)
    # conv2 has 2 output channels: no channel-vector tile, so no bf16 kernel
    assert [(r.node, r.precision) for r in rows] == [("conv1", "bf16"), ("sig", "fp32"), ("conv2", "fp32")]
    assert [r.conversions for r in rows] == [("x: fp32->bf16",), (), ()]
    assert rows[0].macs == 4 * 3 * 16


def test_inspect_reports_what_the_lowering_used(capsys, tmp_path):
    """The bf16 conv kernel (conv_bf16.py) reports itself; the rest of the model stays fp32."""
    from cnncc.cli import main

    model = conv_model(tmp_path / "m.onnx")
    assert main(["inspect", str(model), "--precision", "bf16", "--cpu", "sapphirerapids"]) == 0
    text = capsys.readouterr().out
    assert "bf16 kernels: 1 of 2 (100.0% of MACs)" in text
    assert "x: fp32->bf16" in text


# -- the AMX permission request -----------------------------------------------------------------
# A thread whose signal stack cannot hold the AMX tile state makes Linux refuse the request
# (ENOSPC) on any host; on a host without AMX it is refused anyway.
SMALL_SIGNAL_STACK = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
class Stack(ctypes.Structure):
    _fields_ = [("sp", ctypes.c_void_p), ("flags", ctypes.c_int), ("size", ctypes.c_size_t)]
_buf = ctypes.create_string_buffer(2048)
assert libc.sigaltstack(ctypes.byref(Stack(ctypes.addressof(_buf), 0, 2048)), None) == 0
"""


def python(script: str):
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def as_is_and_small_stack(script: str) -> tuple[str, str]:
    """``script``'s output run as is, and with a signal stack too small for the AMX state
    (there the request is refused on any host); both must exit 0."""
    outs = []
    for prefix in ("", SMALL_SIGNAL_STACK):
        code, stdout, stderr = python(prefix + textwrap.dedent(script))
        assert code == 0, stderr
        outs.append(stdout)
    return outs[0], outs[1]


def amx_generated(graph):
    """The module of ``graph`` as if a kernel used AMX tiles (its code uses none)."""
    gen = generate(graph, HOST)
    gen.requires = frozenset({"amx"})
    return gen


def test_jit_requests_amx_before_the_first_run(monkeypatch):
    from cnncc.backends.llvm import runtime

    graph = chain_graph()
    calls = []
    monkeypatch.setitem(runtime.REQUESTS, "amx", lambda: calls.append("amx"))
    gen = amx_generated(graph)
    exe = JitExecutable(graph, gen, None, gen.target.target_machine())
    assert calls == []  # nothing asked at build time
    x = feed((1, 3, 4, 4))
    np.testing.assert_allclose(exe.run({"x": x})["y"], interpret(graph, {"x": x})["y"], rtol=1e-4, atol=1e-5)
    assert calls and set(calls) == {"amx"}

    def refuse():
        raise BackendError("llvm: the kernel refused this process the AMX tile state (test)")
    monkeypatch.setitem(runtime.REQUESTS, "amx", refuse)
    exe = JitExecutable(graph, amx_generated(graph), None, gen.target.target_machine())
    with pytest.raises(BackendError, match="refused this process the AMX tile state"):
        exe.run({"x": x})
    gen.requires = frozenset({"gpu"})
    with pytest.raises(ValueError, match="requires 'gpu', which the runtime cannot provide"):
        JitExecutable(graph, gen, None, gen.target.target_machine()).run({"x": x})


def test_jit_real_request_is_granted_with_amx_and_refused_otherwise():
    setup = """
    import numpy as np
    from cnncc.backends.llvm.codegen import generate
    from cnncc.backends.llvm.runtime import JitExecutable
    from cnncc.backends.llvm.target import host_target
    from cnncc.builder import GraphBuilder
    from cnncc.errors import BackendError
    b = GraphBuilder("g")
    x = b.input("x", (2, 3))
    graph = b.build(b.op("Relu", [x], {}, name="r", outputs=["y"]))
    gen = generate(graph, host_target())
    gen.requires = frozenset({"amx"})
    exe = JitExecutable(graph, gen, None, host_target().target_machine())
    try:
        y = exe.run({"x": -np.ones((2, 3), np.float32)})["y"]
        print("granted", float(y.sum()))
    except BackendError as exc:
        print("refused:", exc)
    """
    plain, small = as_is_and_small_stack(setup)
    assert plain.startswith("granted 0.0" if HOST_HAS_AMX else "refused: llvm: the kernel refused"), plain
    assert small.startswith("refused: llvm: the kernel refused this process the AMX tile state"), small


def test_exported_library_requests_amx_at_model_create(tmp_path):
    graph = chain_graph()
    art = export_generated(graph, amx_generated(graph), tmp_path / "amx")
    meta = json.loads((art / "meta.json").read_text())
    assert meta["requires"] == ["amx"] and meta["precision"] == "fp32"
    create = f"""
    import ctypes
    lib = ctypes.CDLL({str(art / 'libmodel.so')!r})
    lib.cnncc_model_create.restype = ctypes.c_void_p
    lib.cnncc_last_error.restype = ctypes.c_char_p
    m = lib.cnncc_model_create(None)
    print("created" if m else "refused: " + lib.cnncc_last_error().decode())
    """
    plain, small = as_is_and_small_stack(create)
    assert plain.startswith("created" if HOST_HAS_AMX else "refused: the kernel refused this process the AMX"), plain
    assert small.startswith("refused: the kernel refused this process the AMX tile state (arch_prctl"), small
    assert "--precision fp32" in small

    # the Python loader asks first and reports a refusal as the JIT does
    load = f"""
    import numpy as np, cnncc
    from cnncc.errors import BackendError
    try:
        m = cnncc.load({str(art)!r})
        print("loaded", m.precision, m(np.ones((1, 3, 4, 4), np.float32)).shape)
    except BackendError as exc:
        print("refused:", exc)
    """
    code, stdout, stderr = python(load)
    assert code == 0, stderr
    assert stdout.startswith("loaded fp32 (1, 2, 4, 4)" if HOST_HAS_AMX else "refused: llvm: the kernel refused"), stdout


def test_an_artifact_without_requirements_asks_for_nothing(tmp_path):
    graph = chain_graph()
    art = export_generated(graph, generate(graph, HOST), tmp_path / "plain")
    meta = json.loads((art / "meta.json").read_text())
    assert meta["requires"] == [] and meta["precision"] == "fp32"
    assert "This library computes in fp32" in (art / "model.h").read_text()
    code, stdout, stderr = python(SMALL_SIGNAL_STACK + textwrap.dedent(f"""
    import numpy as np, cnncc
    m = cnncc.load({str(art)!r})
    print(m.precision, m(np.ones((1, 3, 4, 4), np.float32)).shape)
    """))
    assert code == 0 and stdout.startswith("fp32 (1, 2, 4, 4)"), stdout + stderr
    gen = generate(graph, HOST)
    gen.requires = frozenset({"gpu"})
    with pytest.raises(ValueError, match="kernels require gpu, which the C runtime cannot provide"):
        export_generated(graph, gen, tmp_path / "gpu")


def test_bench_makes_one_contender_per_precision(tmp_path, capsys):
    from cnncc.cli import main

    model = conv_model(tmp_path / "m.onnx")
    out_json = tmp_path / "bench.json"
    code = main(["bench", str(model), "--target", "llvm", "--against", "reference", "--precision", "fp32,auto",
                 "--repeat", "2", "--warmup", "0", "--json", str(out_json)])
    printed = " ".join(capsys.readouterr().out.split())
    assert code == 0, printed
    (case,) = json.loads(out_json.read_text())["cases"]
    fp32, auto, ref = case["results"]
    assert [fp32["name"], auto["name"], ref["name"]] == ["cnncc-llvm", "cnncc-llvm-auto", "reference"]
    assert fp32["status"] == auto["status"] == "ok"
    assert fp32["max_abs_err"] < 1e-4
    assert auto["max_abs_err"] < (1e-4 if HOST_AUTO == "fp32" else 0.1)  # outputs are O(1)
    assert "cnncc-llvm / reference: median ratio" in printed
