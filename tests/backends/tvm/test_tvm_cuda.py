"""The cuda build (no GPU needed): every op case builds with default schedules, nvcc accepts
the generated source, and the exported artifact carries compiled device code."""

import json
import shutil
import subprocess

import pytest

from cnncc.errors import UnsupportedOpError
from cnncc.ir import Graph, Node, TensorType, Value
from tvm_cases import CASES
from tvm_graphs import small_cnn

pytest.importorskip("tvm")

from cnncc.backends import tvm as tvm_backend  # noqa: E402

NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH: cannot compile the CUDA source")


@pytest.mark.parametrize("case", sorted(CASES))
def test_op_builds_for_cuda(case):
    exe = tvm_backend.build(CASES[case](), device="cuda", device_code=False)
    assert "__global__" in exe.cuda_source()
    assert all(k.schedule in ("default", "fallback") for k in exe.kernels)


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_small_cnn_builds_for_both_archs(arch):
    exe = tvm_backend.build(small_cnn(), device="cuda", arch=arch, device_code=False)
    assert str(exe.target.arch) == arch
    assert exe.cuda_source().count("__global__") >= len(exe.kernels) - 1  # views need no kernel


@needs_nvcc
def test_nvcc_accepts_generated_source(tmp_path):
    exe = tvm_backend.build(small_cnn(), device="cuda", arch="sm_90", device_code=False)
    cu = tmp_path / "kernels.cu"
    cu.write_text(exe.cuda_source())
    r = subprocess.run(
        [NVCC, "-arch=sm_90", "-cubin", "-diag-suppress", "177,1046", "-o", str(tmp_path / "k.cubin"), str(cu)],
        capture_output=True, text=True,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "k.cubin").stat().st_size > 0


@needs_nvcc
def test_exported_cuda_artifact_carries_fatbin(tmp_path):
    exe = tvm_backend.build(small_cnn(), device="cuda")
    assert exe.device_code["format"] == "fatbin"
    out = exe.export(tmp_path / "art")
    meta = json.loads((out / "meta.json").read_text())
    assert meta["target"] == "cuda"
    assert meta["device_code"]["format"] == "fatbin"
    assert (out / "kernels.fatbin").read_bytes()[:4] == b"\x50\xed\x55\xba"  # fatbin magic
    assert "__global__" in (out / "kernels.cu").read_text()
    assert (out / "model.so").stat().st_size > 0


def test_cuda_source_only_without_device_code(tmp_path):
    exe = tvm_backend.build(small_cnn(), device="cuda", device_code=False)
    assert exe.device_code["format"] == "cuda-source"
    out = exe.export(tmp_path / "art")
    assert not (out / "kernels.fatbin").exists()


def test_unsupported_op_is_a_compile_error_naming_op_node_backend():
    x = Value("x", TensorType((2, 3)))
    y = Value("y", TensorType((2, 3)))
    g = Graph([x], [y], [Node("NoSuchOp", [x], [y], name="weird_node")])
    with pytest.raises(UnsupportedOpError) as info:
        tvm_backend.build(g, device="cuda")
    msg = str(info.value)
    assert "NoSuchOp" in msg and "weird_node" in msg and "tvm backend" in msg


@needs_nvcc
def test_fatbin_is_served_to_the_runtime_compile_hook():
    """On a GPU host TVM compiles the module's CUDA source through tvm_callback_cuda_compile;
    cnncc's hook answers with the shipped fatbin for exactly that source."""
    import tvm_ffi

    from cnncc.backends.tvm.cuda import install_fatbin, source_digest

    exe = tvm_backend.build(small_cnn(), device="cuda")
    src, fatbin = exe.cuda_source(), exe.device_code["binaries"]["fatbin"]
    install_fatbin(source_digest(src), fatbin)
    hook = tvm_ffi.get_global_func("tvm_callback_cuda_compile")
    assert bytes(hook(src)) == fatbin


def test_pooling_epilogue_is_split_off_for_cuda():
    """conv + bias + relu + max-pool: on cuda the pool becomes its own kernel so the conv keeps
    the implicit-GEMM schedule (shared-memory tiles); the semantics do not change."""
    import numpy as np

    from cnncc.backends.reference import interpret
    from cnncc.backends.tvm.prepare import prepare
    from tvm_graphs import random_feeds

    g = CASES["FusedConv-res-clip-maxpool"]()
    split = prepare(g, "cuda")
    assert [n.op for n in split.nodes] == ["FusedConv", "MaxPool"]
    assert [n.op for n in g.nodes] == ["FusedConv"] and prepare(g, "cpu") is g
    split.validate()
    feeds = random_feeds(g)
    (name,) = [v.name for v in g.outputs]
    np.testing.assert_allclose(interpret(split, feeds)[name], interpret(g, feeds)[name], rtol=1e-6)
    src = tvm_backend.build(g, device="cuda", device_code=False).cuda_source()
    assert "__shared__" in src
