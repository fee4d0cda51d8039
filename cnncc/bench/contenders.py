"""The programs a benchmark compares: cnncc's targets and the peers (onnxruntime, OpenVINO,
TVM Relax, the reference interpreter). Each prepares a runner for one model, input set and
thread count. Peers run with the options their users run them with (the thread count aside);
``schedule.py`` keeps their threads from timing each other."""

from __future__ import annotations

import io
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnncc.bench.memory import peak_rss_mib, reset_peak
from cnncc.errors import UsageError


@dataclass
class Prepared:
    """A ready-to-time contender: ``run()`` computes the model once on the benchmark inputs."""

    name: str
    run: Callable[[], Mapping[str, np.ndarray]]
    compile_s: float
    artifact_bytes: int | None = None
    peak_rss_mib: float | None = None
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    per_layer: Callable[[], list[dict]] | None = None
    note: str | None = None


class Unavailable(Exception):
    """The contender is not installed or cannot handle the model; reported in its row."""


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _measured(name: str, prepare: Callable[[], tuple[Callable, float, int | None, Callable | None]]) -> Prepared:
    reset_peak()
    run, compile_s, artifact, per_layer = prepare()
    outputs = {k: np.asarray(v) for k, v in run().items()}
    return Prepared(name, run, compile_s, artifact, peak_rss_mib(), outputs, per_layer)


def _import_peer(module: str, install: str):
    """The peer's package, or its row saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise Unavailable(f"{module} is not installed ({install})") from exc


def _timed_peer_build(peer: str, make: Callable):
    """(what ``make()`` built, seconds it took): a peer's session or compiled model. Any
    failure is that peer's row ("PEER failed: ..."), not the bench's end."""
    t0 = time.perf_counter()
    try:
        made = make()
    except Exception as exc:  # noqa: BLE001
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise Unavailable(f"{peer} failed: {type(exc).__name__}: {first}") from exc
    return made, time.perf_counter() - t0


class CnnccContender:
    def __init__(self, target: str, opt_level: int = 2, options: dict | None = None, precision: str = "fp32"):
        self.target = target
        self.opt_level = opt_level
        self.options = dict(options or {})
        self.precision = precision
        self.name = f"cnncc-{target}" if precision == "fp32" else f"cnncc-{target}-{precision}"

    def prepare(self, model, input_shapes, feeds, threads: int) -> Prepared:
        from cnncc.bench.accuracy import PrecisionUnavailable, compile_at

        def build():
            t0 = time.perf_counter()
            try:
                compiled = compile_at(model, self.target, self.precision, input_shapes, self.opt_level, self.options)
            except PrecisionUnavailable as exc:
                raise Unavailable(str(exc)) from exc
            except Exception as exc:  # noqa: BLE001 - any failure is this contender's row
                raise Unavailable(f"{type(exc).__name__}: {exc}") from exc
            compile_s = time.perf_counter() - t0
            artifact = None
            if hasattr(compiled._executable, "export"):
                with tempfile.TemporaryDirectory() as tmp:
                    try:
                        artifact = _dir_bytes(compiled.export(Path(tmp) / "out"))
                    except Exception:  # noqa: BLE001 - size is optional
                        artifact = None
            executable = compiled._executable

            def run():
                os.environ["CNNCC_NUM_THREADS"] = str(threads)
                return compiled.run(feeds)

            return run, compile_s, artifact, lambda: self._per_layer(compiled, feeds, threads)

        return _measured(self.name, build)


    def _per_layer(self, compiled, feeds, threads: int) -> list[dict]:
        """Kernel times from a second build that times every kernel call (the benchmarked
        build carries no timers), with each kernel's MACs from its node."""
        from cnncc.backends import get_backend
        from cnncc.ops import count_macs
        from cnncc.stats import layer_shape

        backend, options = get_backend(self.target)
        if self.precision != "fp32":
            options["precision"] = self.precision
        try:
            profiled = backend.build(compiled.graph, **options, **self.options, params={"profile": True})
        except TypeError:
            raise Unavailable(f"target {self.target} cannot time its kernels") from None
        except UsageError as exc:
            if self.precision == "fp32":
                raise
            raise Unavailable(f"target {self.target} cannot time its kernels at {self.precision}: {exc}") from None
        if not hasattr(profiled, "profile"):
            raise Unavailable(f"target {self.target} cannot time its kernels")
        os.environ["CNNCC_NUM_THREADS"] = str(threads)
        nodes = {n.name: n for n in compiled.graph.nodes}
        rows = []
        for row in profiled.profile(feeds):
            node = nodes.get(row.get("node"))
            macs = count_macs(node.op, [v.type for v in node.inputs], [v.type for v in node.outputs], node.attrs) if node else 0
            layer = " ".join(t for t in (layer_shape(node) if node else "", row.get("algorithm", "")) if t)
            rows.append({"name": row.get("node") or row.get("kernel"), "kernel": row.get("kernel"), "op": row.get("op"),
                         "layer": layer, "time_s": row["ms"] / 1e3, "macs": macs})
        return rows


class OnnxruntimeContender:
    """onnxruntime's CPU provider with its default session options but the intra-op thread
    count: all graph optimizations, and the intra-op pool spinning between calls as it does
    for its users. ``spinning=False`` (``--against onnxruntime-nospin``) turns the spinning off."""

    def __init__(self, spinning: bool = True):
        self.spinning = spinning
        self.name = "onnxruntime" if spinning else "onnxruntime-nospin"

    def prepare(self, model, input_shapes, feeds, threads: int) -> Prepared:
        ort = _import_peer("onnxruntime", "pip install onnxruntime")

        def build():
            opts = ort.SessionOptions()
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            opts.intra_op_num_threads = threads
            opts.log_severity_level = 3
            if not self.spinning:
                opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            session, compile_s = _timed_peer_build("onnxruntime", lambda: ort.InferenceSession(
                model.SerializeToString(), opts, providers=["CPUExecutionProvider"]))
            names = [o.name for o in session.get_outputs()]

            def run():
                return dict(zip(names, session.run(None, dict(feeds))))

            return run, compile_s, None, None

        return _measured(self.name, build)


class OpenvinoContender:
    """OpenVINO's CPU plugin with the LATENCY hint and the bench's thread count. ``f32=True``
    (``--against openvino``) forces fp32 arithmetic, like cnncc's default; ``f32=False``
    (``openvino-default``) leaves the precision to the plugin, which picks bf16 on CPUs with
    AMX or AVX512-BF16, and is labelled with the precision the compiled model reports."""

    def __init__(self, f32: bool = True):
        self.f32 = f32
        self.name = "openvino" if f32 else "openvino-default"

    def prepare(self, model, input_shapes, feeds, threads: int) -> Prepared:
        ov = _import_peer("openvino", "pip install 'cnncc[bench]'")
        chosen: dict[str, str] = {}

        def build():
            config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
            if self.f32:
                config["INFERENCE_PRECISION_HINT"] = "f32"

            def compile_ov():
                core = ov.Core()
                ov_model = core.read_model(io.BytesIO(model.SerializeToString()))
                ov_model.reshape({name: list(value.shape) for name, value in feeds.items()})
                return core.compile_model(ov_model, "CPU", config)
            compiled, compile_s = _timed_peer_build("openvino", compile_ov)
            chosen["precision"] = compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
            chosen["threads"] = int(compiled.get_property("INFERENCE_NUM_THREADS"))
            request = compiled.create_infer_request()
            inputs = {name: np.ascontiguousarray(value) for name, value in feeds.items()}
            names = [o.get_any_name() for o in compiled.outputs]

            def run():
                request.infer(inputs)
                # the request owns its output buffers and reuses them: copy, as a user would keep them
                return {n: request.get_output_tensor(i).data.copy() for i, n in enumerate(names)}

            return run, compile_s, None, None

        prepared = _measured(self.name, build)
        if not self.f32:
            prepared.name = f"{self.name} ({chosen['precision']})"
        if chosen["threads"] != threads:
            prepared.note = (f"the CPU plugin runs {chosen['threads']} thread(s), not {threads} "
                             f"(it uses no more threads than the cores this process may run on)")
        return prepared


class TvmRelaxContender:
    """TVM's own ONNX importer and default Relax pipeline for llvm, untuned."""

    name = "tvm"

    def prepare(self, model, input_shapes, feeds, threads: int) -> Prepared:
        try:
            import tvm
            from tvm import relax
            from tvm.relax.frontend.onnx import from_onnx
        except ImportError as exc:
            raise Unavailable("tvm is not installed") from exc
        from cnncc.bench.peak import host_cpu

        def build():

            def compile_tvm():
                mod = from_onnx(model, shape_dict={k: list(v) for k, v in feeds_shapes(feeds).items()}, keep_params_in_input=False)
                target = tvm.target.Target({"kind": "llvm", "mcpu": host_cpu()[0]})
                return relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())
            vm, compile_s = _timed_peer_build("tvm", compile_tvm)
            config = tvm.get_global_func("runtime.config_threadpool", allow_missing=True)
            args = [tvm.runtime.tensor(np.ascontiguousarray(feeds[i.name])) for i in model.graph.input if i.name in feeds]
            out_names = [o.name for o in model.graph.output]

            def run():
                if config is not None:
                    config(1, threads)  # 1 = big-core affinity mode, then the thread count
                result = vm["main"](*args)
                values = [result] if hasattr(result, "numpy") else list(result)
                return {n: v.numpy() for n, v in zip(out_names, values)}

            return run, compile_s, None, None

        return _measured(self.name, build)


class ReferenceContender:
    name = "reference"

    def prepare(self, model, input_shapes, feeds, threads: int) -> Prepared:
        from cnncc.backends.reference import interpret
        from cnncc.frontends.onnx import import_onnx

        def build():
            t0 = time.perf_counter()
            graph = import_onnx(model, input_shapes)
            compile_s = time.perf_counter() - t0
            return (lambda: interpret(graph, feeds)), compile_s, None, None

        return _measured(self.name, build)


def feeds_shapes(feeds: Mapping[str, np.ndarray]) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in feeds.items()}


PEERS: dict[str, Callable[[], object]] = {
    "onnxruntime": OnnxruntimeContender,
    "onnxruntime-nospin": lambda: OnnxruntimeContender(spinning=False),
    "openvino": OpenvinoContender,
    "openvino-default": lambda: OpenvinoContender(f32=False),
    "tvm": TvmRelaxContender,
    "reference": ReferenceContender,
}
ALIASES = {"ort": "onnxruntime"}


def make_contenders(targets: list[str], against: list[str], opt_level: int = 2, options: dict | None = None,
                    precisions: tuple[str, ...] = ("fp32",)) -> list:
    """cnncc's targets first, each at every precision (built with ``options``, e.g. a tuning
    db_dir), then the peers."""
    out = [CnnccContender(t, opt_level, options, p) for t in targets for p in precisions]
    for name in against:
        name = ALIASES.get(name, name)
        if name not in PEERS:
            raise UsageError(f"--against {name!r}: choose from {', '.join(PEERS)}")
        out.append(PEERS[name]())
    return out
