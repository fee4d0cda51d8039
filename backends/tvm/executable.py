"""What ``build`` returns: a Relax VM executable plus the weights, runnable and exportable.

An exported artifact is a directory:

    model.so        the Relax VM executable with every kernel (export_library)
    weights.npz     the main function's weight parameters, in order
    kernels.cu      (cuda) the generated CUDA C of every kernel
    kernels.fatbin  (cuda, when nvcc was found at build time) compiled device code
    meta.json       target, inputs/outputs, kernel list

For cuda, ``model.so`` holds the host code and the CUDA *source*. ``kernels.fatbin`` (SASS for
the target arch + PTX) is what ``load`` hands to the TVM runtime instead of compiling that
source (see ``cuda.py``); without it the GPU host compiles the source on first load (NVRTC
with the ``cuda-bindings`` package, or nvcc).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import tvm
from tvm import relax

from cnncc.backends.base import check_feeds
from cnncc.errors import BackendError, ModelLoadError
from cnncc.ir import Graph

from .target import runtime_device


class TVMExecutable:
    def __init__(
        self,
        graph: Graph,
        target: tvm.target.Target,
        device: str,
        executable,
        weights: list[np.ndarray],
        outputs: list[str],
        kernels: list | None = None,
        timings: dict | None = None,
        io: dict | None = None,
        device_code: dict | None = None,
    ):
        self.graph = graph
        self.target = target
        self.device = device
        self.executable = executable
        self.weights = weights
        self.outputs = outputs  # names of the outputs main returns, in order
        self.kernels = kernels or []
        self.timings = timings or {}
        self.io = io or _io_of(graph)
        self.device_code = device_code or {}
        self._vm = None
        self._dev_weights = None

    # -- running ---------------------------------------------------------------------------
    def _ensure_vm(self):
        if self._vm is None:
            dev = runtime_device(self.target)
            if not dev.exist:
                raise BackendError(
                    f"tvm backend: no {self.device} device on this machine; export the artifact "
                    f"(cnncc compile -o DIR) and run it where a GPU is present"
                )
            if self.device == "cuda":
                from .cuda import install_fatbin, prefer_nvcc_jit

                prefer_nvcc_jit()
                fatbin = self.device_code.get("binaries", {}).get("fatbin")
                if fatbin:
                    install_fatbin(self.device_code["source_sha256"], fatbin)
            try:
                self._vm = relax.VirtualMachine(self.executable, dev)
            except Exception as exc:  # noqa: BLE001
                raise BackendError(f"tvm backend: loading the {self.device} module failed: {exc}") from exc
            self._dev = dev
            self._dev_weights = [tvm.runtime.tensor(w, dev) for w in self.weights]
        return self._vm

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        feeds = check_feeds(self.graph, feeds)
        vm = self._ensure_vm()
        args = [
            tvm.runtime.tensor(np.asarray(feeds[spec["name"]], order="C").reshape(spec["shape"]), self._dev)
            for spec in self.io["inputs"]
        ]
        result = vm["main"](*args, *self._dev_weights)
        values = {name: result[i].numpy() for i, name in enumerate(self.outputs)}
        out = {}
        consts = self.io.get("constant_outputs", {})
        for spec in self.io["outputs"]:
            name = spec["name"]
            if name in values:
                out[name] = values[name]
            elif name in feeds:
                out[name] = np.array(feeds[name])
            elif name in consts:
                out[name] = np.array(consts[name])
        return out

    # -- inspection ------------------------------------------------------------------------
    def _module(self):
        return getattr(self.executable, "mod", self.executable)

    def _device_modules(self):
        mods = []
        stack = [self._module()]
        while stack:
            m = stack.pop()
            for sub in m.imports:
                mods.append(sub)
                stack.append(sub)
        return mods

    def cuda_source(self) -> str:
        """The CUDA C of every kernel (what nvcc or NVRTC compiles), '' for CPU builds."""
        for m in self._device_modules():
            if m.kind == "cuda":
                return m.inspect_source()
        return ""

    def host_source(self, fmt: str = "ll") -> str:
        """The host (LLVM) code: the VM's kernels on CPU, the launch stubs for CUDA."""
        for m in [self._module(), *self._device_modules()]:
            if m.kind == "llvm":
                return m.inspect_source(fmt)
        return ""

    def sources(self) -> dict[str, str]:
        """Generated code by file name: CUDA C for cuda, the LLVM IR of the kernels for CPU."""
        if self.device == "cuda":
            return {"kernels.cu": self.cuda_source()}
        return {"kernels.ll": self.host_source("ll")}

    # -- export ----------------------------------------------------------------------------
    def export(self, directory) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        try:
            self.executable.export_library(str(directory / "model.so"))
        except Exception as exc:  # noqa: BLE001
            raise BackendError(f"tvm backend: export_library failed: {exc}") from exc
        np.savez(directory / "weights.npz", *self.weights)
        if self.device == "cuda":
            (directory / "kernels.cu").write_text(self.cuda_source())
            for ext, blob in self.device_code.get("binaries", {}).items():
                (directory / f"kernels.{ext}").write_bytes(blob)
        target = "cuda" if self.device == "cuda" else "tvm-llvm"
        meta = {
            "target": target,
            "backend": "tvm",
            "tvm_target": str(self.target.export()),
            "device": self.device,
            "inputs": self.io["inputs"],
            "outputs": self.io["outputs"],
            "returned": self.outputs,
            "constant_outputs": {k: np.asarray(v).tolist() for k, v in self.io.get("constant_outputs", {}).items()},
            "kernels": [k.__dict__ for k in self.kernels],
            "device_code": {k: v for k, v in self.device_code.items() if k != "binaries"},
            "export_seconds": round(time.perf_counter() - t0, 3),
        }
        (directory / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
        return directory


def _io_of(graph: Graph) -> dict:
    spec = lambda v: {"name": v.name, "shape": list(v.shape), "dtype": v.dtype}  # noqa: E731
    consts = {v.name: v.data for v in graph.outputs if v.is_constant}
    return {"inputs": [spec(v) for v in graph.inputs], "outputs": [spec(v) for v in graph.outputs], "constant_outputs": consts}


def load_exported(directory: Path, meta: dict) -> TVMExecutable:
    directory = Path(directory)
    try:
        lib = tvm.runtime.load_module(str(directory / "model.so"))
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(f"{directory}/model.so could not be loaded: {str(exc).strip().splitlines()[-1]}") from exc
    with np.load(directory / "weights.npz") as z:
        weights = [z[f"arr_{i}"] for i in range(len(z.files))]
    from .target import make_target

    device = meta.get("device", "cpu")
    code = meta.get("device_code", {})
    fatbin = directory / "kernels.fatbin"
    if code.get("format") == "fatbin" and fatbin.is_file():
        from .cuda import install_fatbin

        install_fatbin(code["source_sha256"], fatbin.read_bytes())
    target = make_target(device)  # only its kind matters when running
    io = {"inputs": meta["inputs"], "outputs": meta["outputs"], "constant_outputs": meta.get("constant_outputs", {})}
    exe = TVMExecutable(_interface_graph(io), target, device, lib, weights, meta["returned"], io=io, device_code=code)
    from cnncc.compiler import CompiledModel

    return CompiledModel(exe.graph, exe, meta["target"])


def _interface_graph(io: dict) -> Graph:
    """A node-less Graph with the artifact's inputs and outputs: what callers of a loaded model
    look at (names, shapes, dtypes), and what check_feeds validates against."""
    from cnncc.ir import TensorType, Value

    value = lambda s: Value(s["name"], TensorType(tuple(s["shape"]), s["dtype"]))  # noqa: E731
    return Graph([value(s) for s in io["inputs"]], [value(s) for s in io["outputs"]], [], name="artifact")
