"""AOT export: a directory that runs without Python.

    out/libmodel.so   generated kernels (object file from LLVM) + the C runtime (c/runtime.c)
    out/model.h       the documented C API (c/model.h), with a line naming the build's precision
    out/weights.bin   the weight blob, mmap'ed by cnncc_model_create(), + a trailer with the build id
    out/meta.json     signature, target, precision, memory plan, kernels, timings, build id, library hash

The build id (a hash of the code and the weights) is compiled into the library, written into
weights.bin's trailer and meta.json: the C runtime refuses weights of another build, the
Python loader a meta.json or library of another build. The folder is built beside ``out``
and swapped in whole (cnncc.artifacts.staged_dir).

What the code needs from the OS before it runs (``GeneratedModule.requires``: "amx") is
compiled into the library (model_meta.h: CNNCC_REQUIRES_AMX), whose cnncc_model_create()
makes the request, and listed in meta.json ("requires"), from which the Python loader makes
it first (runtime.request_requirements) to report a refusal as the JIT does.

The shared library is linked with the system C compiler (``$CC``, default ``cc``) and libgomp
(``-fopenmp``).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from cnncc import __version__, artifacts
from cnncc.backends.base import check_feeds
from cnncc.errors import BackendError, ModelLoadError, RunError, UsageError
from cnncc.ir import Graph

from .codegen import GeneratedModule, generate
from .compile import optimize_module
from .lowering import RUN_INDEX_ERROR
from .precision import resolve_precision
from .runtime import REQUESTS, alloc_like, pointer_array, request_requirements, team_size
from .target import resolve_target

C_DIR = Path(__file__).parent / "c"
DTYPE_CODES = {"float32": 1, "int32": 6, "int64": 7, "bool": 9}
CODE_DTYPES = {v: k for k, v in DTYPE_CODES.items()}


def export(exe, directory, force: bool = False) -> Path:
    """Export a JIT-built executable (same code, compiled again as position-independent)."""
    return export_generated(exe.graph, exe.generated, directory, force)


def export_graph(graph: Graph, directory, cpu: str | None = None, params: dict | None = None,
                 force: bool = False, precision: str = "fp32") -> Path:
    """Compile ``graph`` straight to ``directory`` (``cpu``: e.g. "x86-64-v3" for another host,
    "sapphirerapids" with ``precision="bf16"`` for an AMX host; the code is never run here)."""
    target = resolve_target(cpu)
    gen = generate(graph, target, params, precision=resolve_precision(precision, target))
    return export_generated(graph, gen, directory, force)


def export_generated(graph: Graph, gen: GeneratedModule, directory, force: bool = False) -> Path:
    """Build the artifact in a sibling folder and swap it in (``artifacts.staged_dir``);
    ``force``: replace a non-empty folder that is not a cnncc artifact."""
    t0 = time.perf_counter()
    dest = artifacts.output_dir(directory, force)
    _check_names(graph)
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise BackendError(f"llvm export: C compiler {cc!r} not found (set $CC)")
    tm = gen.target.target_machine(pic=True)
    obj = tm.emit_object(optimize_module(gen, tm))
    with artifacts.staged_dir(dest) as stage:
        build_id = _write_weights(gen, obj, _meta_header(graph, gen), stage / WEIGHTS)
        artifacts.checkpoint("weights")
        _link(cc, obj, _meta_header(graph, gen, build_id), stage / LIBRARY)
        artifacts.checkpoint("library")
        (stage / "model.h").write_text(_public_header(gen))
        gen.timings["export_s"] = time.perf_counter() - t0
        meta = _meta(graph, gen) | {"build_id": build_id}
        lib = (stage / LIBRARY).read_bytes()
        meta["files"] |= {"library_bytes": len(lib), "library_sha256": hashlib.sha256(lib).hexdigest()}
        (stage / META).write_text(json.dumps(meta, indent=2) + "\n")
        artifacts.checkpoint("meta")
    return dest


LIBRARY, WEIGHTS, META = "libmodel.so", "weights.bin", "meta.json"
# weights.bin ends in a trailer (c/runtime.c checks it): magic, then the build id, NUL-padded
TRAILER_MAGIC, TRAILER_BYTES = b"CNNCCWT1", 64


def _write_weights(gen: GeneratedModule, obj: bytes, meta_header: str, path: Path) -> str:
    """Write the blob and its trailer; returns the build id: a hash of everything that goes
    into the artifact's code and data, so equal ids mean equal libraries."""
    gen.blob.write(str(path))
    h = hashlib.sha256()
    for part in (obj, meta_header.encode(), (C_DIR / "runtime.c").read_bytes(), (C_DIR / "model.h").read_bytes()):
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    build_id = h.hexdigest()[:32]
    trailer = TRAILER_MAGIC + build_id.encode()
    with open(path, "ab") as f:
        f.write(trailer + b"\0" * (TRAILER_BYTES - len(trailer)))
    return build_id


def _link(cc: str, obj: bytes, meta_header: str, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="cnncc-export-") as tmp:
        (Path(tmp) / "model.o").write_bytes(obj)
        (Path(tmp) / "model_meta.h").write_text(meta_header)
        shutil.copy(C_DIR / "model.h", Path(tmp) / "model.h")
        cmd = [cc, "-shared", "-fPIC", "-O2", "-fopenmp", "-pthread", "-I", tmp, "-o", str(out),
               str(Path(tmp) / "model.o"), str(C_DIR / "runtime.c"), "-lm", "-Wl,-z,noexecstack"]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise BackendError(f"llvm export: linking libmodel.so failed:\n{' '.join(cmd)}\n{res.stderr}")


def _check_names(graph: Graph) -> None:
    for v in (*graph.inputs, *graph.outputs):
        if "\0" in v.name:
            raise UsageError(f"the name of input/output {v.name!r} contains a NUL character, which a C string "
                             f"cannot hold; rename it in the model")


def _signature(values):
    return [{"name": v.name, "shape": list(v.shape), "dtype": v.dtype} for v in values]


def _meta(graph: Graph, gen: GeneratedModule) -> dict:
    return {
        "cnncc_version": __version__,
        "target": "llvm",
        "model": graph.name,
        "inputs": _signature(graph.inputs),
        "outputs": _signature(graph.outputs),
        "cpu": {"triple": gen.target.triple, "cpu": gen.target.cpu, "features": gen.target.features,
                   "vector_bits": gen.target.vector_bits},
        "precision": gen.precision,
        "requires": sorted(gen.requires),
        "memory": {"arena_bytes": gen.plan.arena_size, "workspace_bytes": gen.workspace_size,
                   "intermediates_bytes": gen.plan.naive_size, "weights_bytes": gen.blob.size},
        "params": gen.params,
        "kernels": [{"name": k.name, "node": k.node_name, "op": k.op, "parallel": k.parallel,
                     "precision": k.precision} for k in gen.kernels],
        "timings": {k: round(v, 4) if isinstance(v, float) else v for k, v in gen.timings.items()},
        "files": {"library": "libmodel.so", "header": "model.h", "weights": "weights.bin"},
    }


def _c_string(s: str) -> str:
    """A C string literal of ``s``'s UTF-8 bytes: printable ASCII as is, every other byte (control
    characters, emoji, ...) as an octal escape, so any ONNX name makes a valid header and the
    library returns the name's exact bytes."""
    out = []
    for b in s.encode("utf-8"):
        c = chr(b)
        out.append("\\" + c if c in '"\\?' else c if 0x20 <= b < 0x7F else f"\\{b:03o}")
    return '"' + "".join(out) + '"'


def _public_header(gen: GeneratedModule) -> str:
    """c/model.h with a line that names the build's precision (the API is the same for all)."""
    text = (C_DIR / "model.h").read_text()
    note = (f"/* This library computes in {gen.precision} (cnncc --precision; cnncc_precision() says the same); "
            f"its inputs and outputs keep the declared dtypes (float32 stays float32). */\n")
    return text.replace("#ifndef CNNCC_MODEL_H", note + "#ifndef CNNCC_MODEL_H", 1)


def _requirements(gen: GeneratedModule) -> list[str]:
    """model_meta.h's CNNCC_REQUIRES_* lines: what cnncc_model_create() asks the OS for."""
    unknown = sorted(set(gen.requires) - set(REQUESTS))
    if unknown:  # a kernel's bug: the C runtime would run code it cannot prepare for
        raise ValueError(f"llvm export: kernels require {', '.join(unknown)}, which the C runtime cannot provide")
    return [f"#define CNNCC_REQUIRES_{name.upper()} {int(name in gen.requires)}" for name in sorted(REQUESTS)]


def _meta_header(graph: Graph, gen: GeneratedModule, build_id: str = "") -> str:
    lines = ["/* generated by cnncc: the model's signature */", "#include <stdint.h>", '#include "model.h"',
             f'#define CNNCC_BUILD_ID "{build_id}"', f'#define CNNCC_PRECISION "{gen.precision}"',
             *_requirements(gen)]
    for kind, vals in (("input", graph.inputs), ("output", graph.outputs)):
        n = len(vals)
        lines.append(f"#define CNNCC_NUM_{kind.upper()}S {n}")
        for i, v in enumerate(vals):
            dims = ", ".join(str(d) for d in v.shape) or "0"
            lines.append(f"static const int64_t cnncc_{kind}_shape_{i}[] = {{{dims}}};")
        pad = [] if n else ["0"]
        lines.append(f"static const char *const cnncc_{kind}_names[] = {{"
                     + ", ".join([_c_string(v.name) for v in vals] or ['""']) + "};")
        lines.append(f"static const cnncc_dtype cnncc_{kind}_dtypes[] = {{"
                     + ", ".join([str(DTYPE_CODES[v.dtype]) for v in vals] + pad) + "};")
        lines.append(f"static const int cnncc_{kind}_ndims[] = {{"
                     + ", ".join([str(len(v.shape)) for v in vals] + pad) + "};")
        lines.append(f"static const int64_t *const cnncc_{kind}_shapes[] = {{"
                     + ", ".join([f"cnncc_{kind}_shape_{i}" for i in range(n)] or ["0"]) + "};")
    # node names of the kernels, for run-time error messages (cnncc_run's status)
    lines.append(f"#define CNNCC_NUM_KERNELS {len(gen.kernels)}")
    lines.append("static const char *const cnncc_kernel_nodes[] = {"
                 + ", ".join([_c_string(k.node_name) for k in gen.kernels] or ['""']) + "};")
    lines.append(f"#define CNNCC_WORKSPACE_BYTES {gen.workspace_size}LL")
    lines.append(f"#define CNNCC_WEIGHTS_BYTES {gen.blob.size}LL")
    return "\n".join(lines) + "\n"


class ExportedModel:
    """An exported directory loaded through its C API (ctypes): ``run(feeds) -> outputs``.

    The signature comes from the library itself; meta.json must agree with it and name the
    same build. Concurrent runs from several threads are safe (the C runtime gives each run
    a workspace of its own; ctypes releases the GIL during the call)."""

    def __init__(self, directory):
        d = Path(directory)
        self.meta = _read_meta(d)
        self.graph = None
        self._lib = _load_library(d / LIBRARY, self.meta)
        self.inputs = _library_signature(self._lib, "input", d / LIBRARY)
        self.outputs = _library_signature(self._lib, "output", d / LIBRARY)
        for key, got in (("inputs", self.inputs), ("outputs", self.outputs)):
            if self.meta[key] != got:
                raise ModelLoadError(f"{d / META} does not match {d / LIBRARY}: {key} {self.meta[key]} in the "
                                     f"file, {got} in the library; recompile the artifact")
        self._signature = artifacts.signature_graph(self.meta)
        request_requirements(self.meta["requires"])  # a refusal reported as the JIT does
        weights = d / WEIGHTS
        if not weights.is_file():
            raise ModelLoadError(f"{weights} is missing or not a regular file; recompile the artifact")
        self._model = self._lib.cnncc_model_create(str(weights).encode())
        if not self._model:
            raise ModelLoadError(f"{d}: {self._lib.cnncc_last_error().decode(errors='replace')}")

    @property
    def precision(self) -> str:
        """What the artifact computes in ("fp32", "bf16"; older artifacts: fp32)."""
        return self.meta.get("precision", "fp32")

    @property
    def input_names(self) -> list[str]:
        return [s["name"] for s in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [s["name"] for s in self.outputs]

    def __call__(self, *arrays: np.ndarray):
        outs = self.run(dict(zip(self.input_names, arrays)))
        values = [outs[n] for n in self.output_names]
        return values[0] if len(values) == 1 else tuple(values)

    def __repr__(self) -> str:
        return (f"<ExportedModel {self.meta.get('model')} target=llvm inputs={self.input_names} "
                f"outputs={self.output_names}>")

    def run(self, feeds) -> dict[str, np.ndarray]:
        feeds = check_feeds(self._signature, feeds)
        ins = [feeds[s["name"]] for s in self.inputs]
        outs = [alloc_like(s["shape"], s["dtype"]) for s in self.outputs]  # sized by the library
        # probed here too (the C runtime probes again, and clamps silently) so that a clamp
        # comes with the same note as the JIT's
        if self._lib.cnncc_model_set_num_threads(self._model, min(team_size(), MAX_THREADS)):
            raise UsageError(self._lib.cnncc_last_error().decode())
        in_ptrs, out_ptrs = pointer_array(ins), pointer_array(outs)
        rc = self._lib.cnncc_model_run(self._model, ctypes.addressof(in_ptrs), ctypes.addressof(out_ptrs))
        if rc:
            err = RunError if rc == RUN_INDEX_ERROR else BackendError
            raise err(self._lib.cnncc_last_error().decode(errors="replace"))
        return {s["name"]: o for s, o in zip(self.outputs, outs)}

    def __del__(self):
        if getattr(self, "_model", None):
            self._lib.cnncc_model_destroy(self._model)
            self._model = None


MAX_THREADS = 256  # model.h: CNNCC_MAX_THREADS


def _read_meta(d: Path) -> dict:
    """meta.json, checked for every key the loader reads (types included)."""
    meta = artifacts.read_meta(d)
    where = str(d / META)
    if meta["target"] != "llvm":
        raise ModelLoadError(f"{where}: target {meta['target']!r} is not an llvm artifact")
    artifacts.check_signature(meta, where)
    files = meta.get("files")
    ok = (isinstance(meta.get("build_id"), str) and isinstance(files, dict)
          and isinstance(files.get("library_sha256"), str) and isinstance(files.get("library_bytes"), int))
    if not ok:
        raise ModelLoadError(f"{where}: no build id or library hash (made by an older cnncc, or edited); "
                             f"recompile the artifact")
    requires = meta.setdefault("requires", [])  # older artifacts: none
    if not isinstance(requires, list) or not all(isinstance(r, str) and r in REQUESTS for r in requires):
        raise ModelLoadError(f"{where}: \"requires\" {requires!r} names something this cnncc's runtime does not "
                             f"provide (known: {', '.join(REQUESTS)}); recompile the artifact")
    return meta


# Libraries loaded in this process, by build id. The dynamic loader caches by path, so a
# folder recompiled in this process would give back the old library: each build is loaded
# from a private copy named for its id instead (equal ids mean equal libraries).
_LIBRARIES: dict[str, ctypes.CDLL] = {}
_LIBRARIES_LOCK = threading.Lock()


def _load_library(path: Path, meta: dict) -> ctypes.CDLL:
    """Check the file before the dynamic loader maps it (a truncated library would be a
    SIGBUS, not an error), then load that checked copy."""
    data = artifacts.read_regular_file(path)
    files, build_id = meta["files"], meta["build_id"]
    if not data.startswith(b"\x7fELF"):
        raise ModelLoadError(f"{path} is not an ELF shared library; recompile the artifact")
    if len(data) != files["library_bytes"] or hashlib.sha256(data).hexdigest() != files["library_sha256"]:
        raise ModelLoadError(f"{path} does not match {path.parent / META} (truncated, or from another build); "
                             f"recompile the artifact")
    with _LIBRARIES_LOCK:
        if build_id not in _LIBRARIES:
            _LIBRARIES[build_id] = _declare(_dlopen_copy(data, build_id, path))
        lib = _LIBRARIES[build_id]
    if lib.cnncc_build_id().decode(errors="replace") != build_id:
        raise ModelLoadError(f"{path}: the library's build id differs from {path.parent / META}; recompile the artifact")
    return lib


def _dlopen_copy(data: bytes, build_id: str, path: Path) -> ctypes.CDLL:
    with tempfile.TemporaryDirectory(prefix="cnncc-lib-") as tmp:
        copy = Path(tmp) / f"libmodel-{build_id}.so"
        copy.write_bytes(data)
        try:
            return ctypes.CDLL(str(copy))  # stays mapped after the copy is removed
        except OSError as exc:
            raise ModelLoadError(f"{path}: cannot load the library: {exc}") from exc


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    try:
        lib.cnncc_build_id.restype = ctypes.c_char_p
    except AttributeError as exc:
        raise ModelLoadError(f"{lib._name}: not a library built by this cnncc (no cnncc_build_id)") from exc
    lib.cnncc_model_create.restype = ctypes.c_void_p
    lib.cnncc_model_create.argtypes = [ctypes.c_char_p]
    lib.cnncc_model_destroy.argtypes = [ctypes.c_void_p]
    lib.cnncc_model_run.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    lib.cnncc_model_set_num_threads.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.cnncc_last_error.restype = ctypes.c_char_p
    for kind in ("input", "output"):
        getattr(lib, f"cnncc_{kind}_name").restype = ctypes.c_char_p
        getattr(lib, f"cnncc_{kind}_shape").restype = ctypes.POINTER(ctypes.c_int64)
    return lib


def _library_signature(lib: ctypes.CDLL, kind: str, path: Path) -> list[dict]:
    """[{name, shape, dtype}] of the inputs or outputs, as the library itself declares them."""
    specs = []
    for i in range(getattr(lib, f"cnncc_num_{kind}s")()):
        raw_name = getattr(lib, f"cnncc_{kind}_name")(i)
        code = getattr(lib, f"cnncc_{kind}_dtype")(i)
        ndim = getattr(lib, f"cnncc_{kind}_ndim")(i)
        if raw_name is None or code not in CODE_DTYPES or not 0 <= ndim <= 64:
            raise ModelLoadError(f"{path}: {kind} {i} has an invalid declaration (dtype code {code}, rank {ndim})")
        shape = getattr(lib, f"cnncc_{kind}_shape")(i)
        specs.append({"name": raw_name.decode("utf-8", errors="replace"), "shape": [shape[d] for d in range(ndim)],
                      "dtype": CODE_DTYPES[code]})
    return specs


def load_exported(directory) -> ExportedModel:
    return ExportedModel(directory)
