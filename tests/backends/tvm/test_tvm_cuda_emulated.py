"""The default CUDA schedules, checked numerically without a GPU: each kernel's generated CUDA
C is compiled as C++ under a thread-per-CUDA-thread shim (cuda_emulator.py) and run on the CPU
against the reference."""

import shutil

import numpy as np
import pytest

from cnncc.backends.reference import interpret
from cuda_emulator import emulatable, kernel_params, launch_dims, run_kernel
from tvm_cases import CASES
from tvm_graphs import random_feeds

pytest.importorskip("tvm")

from cnncc.backends import tvm as tvm_backend  # noqa: E402
from cnncc.backends.tvm.module import lower_graph, schedule_kernels  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None, reason="no C++ compiler")

# one kernel each, covering dlight's Matmul (convs, gemm), Reduction and Fallback rules
EMULATED = [
    "Conv-3x3-pad",
    "Conv-stride-dil-asym",
    "Conv-grouped",
    "Conv-depthwise",
    "FusedConv-bias-relu",
    "Gemm",
    "FusedGemm-bias-relu",
    "MatMul",
    "MaxPool",
    "AveragePool",
    "BatchNormalization",
    "Relu",
    "Add-bcast",
    "Transpose",
    "Concat",
    "Pad-reflect",
    "Resize-linear-align",
    "LRN",
]


@pytest.mark.parametrize("case", EMULATED)
def test_default_cuda_schedule_is_numerically_right(case, tmp_path):
    graph = CASES[case]()
    (node,) = graph.nodes
    exe = tvm_backend.build(graph, device="cuda", device_code=False)
    src = exe.cuda_source()
    if not emulatable(src):
        pytest.skip("several kernels or warp intrinsics: not emulated")
    (kernel,) = list(lower_graph(graph))
    func, _ = schedule_kernels(lower_graph(graph), exe.target)[kernel.name]
    feeds = random_feeds(graph)
    arrays = {f"in{i}": (feeds[v.name] if not v.is_constant else np.array(v.data)) for i, v in enumerate(node.inputs)}
    arrays.update({f"table{i}": np.array(t) for i, t in enumerate(kernel.tables)})
    out = np.zeros(node.outputs[0].shape, node.outputs[0].dtype)
    (out_name,) = [n for n in kernel_params(src) if n not in arrays]
    arrays[out_name] = out
    run_kernel(src, launch_dims(func), arrays, tmp_path)
    want = interpret(graph, feeds)[node.outputs[0].name]
    np.testing.assert_allclose(out, want, rtol=1e-3, atol=1e-4)
