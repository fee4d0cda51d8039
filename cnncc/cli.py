"""The ``cnncc`` command line: inspect, run, compile, show.

Errors a user can act on (cnncc.errors) print as one line on stderr with a non-zero exit;
a bug (an InternalError naming the pass or node, or any other exception) prints one line
that says so and exits 70; ``--debug`` shows the traceback instead, with the same exit code.
"""

from __future__ import annotations

import os
import sys
import warnings
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from cnncc import __version__
from cnncc.errors import CnnccError, CnnccNote, InternalError, ShapeError, UsageError

app = typer.Typer(
    name="cnncc",
    help="cnncc compiles trained convolutional networks (ONNX) to optimized native code.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)
_state = {"debug": False}

# -- shared options ------------------------------------------------------------------------
ModelArg = Annotated[str, typer.Argument(help="An ONNX model file (or, for `run`, a compiled artifact directory).", show_default=False)]
InputShapeOpt = Annotated[
    Optional[list[str]],
    typer.Option("--input-shape", help="Shape for a dynamic input, as NAME=1,3,224,224 (repeatable).", show_default=False),
]
OptLevelOpt = Annotated[int, typer.Option("--opt-level", "-O", help="Optimization level: 0 none, 1 clean-ups and folding, 2 +fusion (default), 3 +projection shortcuts joined, and the target's own passes (llvm: NHWC storage between 1x1 convs).", min=0, max=3)]
DisablePassOpt = Annotated[Optional[list[str]], typer.Option("--disable-pass", help="Skip this pass (repeatable).", show_default=False)]
PrintAfterOpt = Annotated[Optional[list[str]], typer.Option("--print-after", help="Print the IR after this pass, or after 'all' (repeatable).", show_default=False)]
PassStatsOpt = Annotated[bool, typer.Option("--pass-stats", help="Print per-pass node counts and rewrites.")]
TargetOpt = Annotated[str, typer.Option("--target", "-t", help="Backend: reference, llvm, tvm-llvm, cuda.")]
# inspect and show compile nothing: without --target they run the generic passes only
PipelineTargetOpt = Annotated[Optional[str], typer.Option("--target", "-t", help="Also run the passes this target's backend adds (llvm: NHWC storage at -O3); default: the generic passes only.", show_default=False)]
DbOpt = Annotated[Optional[Path], typer.Option("--db", help="Tuning records folder written by `cnncc tune`; kernels without a record get the default schedule.", show_default=False)]
CpuOpt = Annotated[Optional[str], typer.Option("--cpu", help="llvm: generate code for this CPU instead of the host (e.g. x86-64-v3 for AVX2 machines).", show_default=False)]
ArchOpt = Annotated[Optional[str], typer.Option("--arch", help="cuda: GPU architecture, e.g. sm_80 or sm_90.", show_default=False)]
PRECISION_HELP = ("Arithmetic: fp32 (default); bf16 (llvm, on cpus with AVX512-BF16: bfloat16 products, "
                  "fp32 sums, ops without a bf16 kernel stay fp32; --cpu znver4 builds for such a cpu anywhere); "
                  "auto (bf16 where this cpu runs it faster than fp32, measured; else fp32). Inputs and outputs stay "
                  "float32.")
PrecisionOpt = Annotated[Optional[str], typer.Option("--precision", help=PRECISION_HELP, show_default=False)]


def backend_options(db: Path | None = None, cpu: str | None = None, arch: str | None = None,
                    precision: str | None = None) -> dict:
    """Only the options the user set: each backend rejects options it does not know."""
    options = {}
    if precision is not None:
        from cnncc.precision import check_precision

        options["precision"] = check_precision(precision)
    if db is not None:
        options["db_dir"] = db
    if cpu is not None:
        options["cpu"] = cpu
    if arch is not None:
        options["arch"] = arch
    return options


def parse_input_shapes(specs: list[str] | None) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs or []:
        name, sep, dims = spec.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            shape = tuple(int(d) for d in dims.replace("x", ",").split(",") if d.strip())
            if not shape or min(shape) <= 0:
                raise ValueError
        except ValueError:
            raise UsageError(f"--input-shape {spec!r}: expected NAME=D1,D2,... with positive integers, e.g. x=1,3,224,224") from None
        if max(shape) > 2**63 - 1:
            raise UsageError(f"--input-shape {spec!r}: dimension {max(shape)} does not fit int64")
        shapes[name] = shape
    return shapes


def load_inputs(specs: list[str] | None) -> dict[str, np.ndarray]:
    feeds = {}
    for spec in specs or []:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--input {spec!r}: expected NAME=FILE.npy (or .pb)")
        file = Path(path)
        if not file.is_file():
            raise UsageError(f"--input {name}: file not found: {file}")
        try:
            if file.suffix == ".pb":
                import onnx
                from onnx import numpy_helper

                feeds[name] = numpy_helper.to_array(onnx.load_tensor(str(file)))
            else:
                feeds[name] = np.load(file, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - numpy/protobuf raise many types
            raise UsageError(f"--input {name}: cannot read {file}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    return feeds


def random_inputs(graph, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for v in graph.inputs:
        if v.dtype == "float32":
            feeds[v.name] = rng.standard_normal(v.shape).astype(np.float32)
        elif v.dtype == "bool":
            feeds[v.name] = rng.integers(0, 2, v.shape).astype(bool)
        else:
            feeds[v.name] = rng.integers(0, 4, v.shape).astype(v.dtype)
    return feeds


def _print_pass_stats(records) -> None:
    table = Table(title="passes")
    for col in ("pass", "nodes before", "nodes after", "rewrites"):
        table.add_column(col)
    for r in records:
        notes = "; ".join(getattr(r, "notes", []) or [])
        table.add_row(r.name, str(r.nodes_before), str(r.nodes_after), notes)
    out.print(table)


def _compile(model, target, input_shape, opt_level, disable_pass, print_after, pass_stats, **options):
    import cnncc

    records: list = []
    compiled = cnncc.compile(
        model,
        target=target,
        input_shapes=parse_input_shapes(input_shape),
        opt_level=opt_level,
        disable_passes=disable_pass or (),
        print_after=print_after or (),
        pass_records=records,
        **options,
    )
    if pass_stats:
        _print_pass_stats(records)
    return compiled


# -- commands ------------------------------------------------------------------------------
def _version(value: bool) -> None:
    if value:
        out.print(f"cnncc {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    _state["debug"] = debug or bool(os.environ.get("CNNCC_DEBUG"))


@app.command()
def inspect(
    model: ModelArg,
    input_shape: InputShapeOpt = None,
    opt_level: Annotated[Optional[int], typer.Option("--opt-level", "-O", min=0, max=3, help="Inspect the graph after this optimization level (default 0: as imported; with --precision 2, as compile).", show_default=False)] = None,
    disable_pass: DisablePassOpt = None,
    print_after: PrintAfterOpt = None,
    pass_stats: PassStatsOpt = False,
    target: PipelineTargetOpt = None,
    precision: Annotated[Optional[str], typer.Option("--precision", help="Also generate llvm code at this precision (fp32, bf16, auto) and list which nodes' kernels compute in it and which stay fp32 (a reduced-precision kernel rounds its fp32 inputs as it reads them).", show_default=False)] = None,
    cpu: Annotated[Optional[str], typer.Option("--cpu", help="With --precision: the cpu to generate for (e.g. sapphirerapids); default this host.", show_default=False)] = None,
) -> None:
    """Inputs, outputs, op histogram, parameters and MACs of a model (with --precision: what each kernel computes in)."""
    import onnx

    from cnncc.compiler import optimize_for
    from cnncc.errors import UnsupportedOpError
    from cnncc.frontends.onnx import import_onnx
    from cnncc.stats import graph_stats

    if precision is not None:
        if target not in (None, "llvm"):
            raise UsageError(f"--precision: only the llvm target has reduced-precision kernels; "
                             f"inspect with --target llvm (not {target!r})")
        from cnncc.backends.llvm.precision import resolve_precision
        from cnncc.backends.llvm.target import resolve_target

        resolve_precision(precision, resolve_target(cpu))  # refused before anything is printed
        target = "llvm"
    elif cpu is not None:
        raise UsageError("--cpu: inspect generates code only with --precision")
    if opt_level is None:
        opt_level = 0 if precision is None else 2
    try:
        graph = import_onnx(model, parse_input_shapes(input_shape))
    except UnsupportedOpError:
        # still worth showing which ops the model has and which of them cnncc lacks
        _print_onnx_ops(onnx.load(model, load_external_data=False))
        raise
    records: list = []
    graph = optimize_for(graph, target, opt_level, disable=disable_pass or (), print_after=print_after or (), records=records,
                         echo=out.print)
    if pass_stats or opt_level > 0:
        _print_pass_stats(records)
    stats = graph_stats(graph)

    io = Table(title=f"{graph.name}: inputs and outputs")
    for col in ("kind", "name", "shape", "dtype"):
        io.add_column(col)
    for kind, values in (("input", graph.inputs), ("output", graph.outputs)):
        for v in values:
            io.add_row(kind, v.name, "x".join(map(str, v.shape)), v.dtype)
    out.print(io)

    ops = Table(title=f"ops after -O{opt_level}")
    for col, just in (("op", "left"), ("count", "right"), ("MMACs", "right"), ("share", "right")):
        ops.add_column(col, justify=just)
    total = max(stats.total_macs, 1)
    for op, count in graph.op_histogram().items():
        macs = stats.macs_by_op.get(op, 0)
        ops.add_row(op, str(count), f"{macs / 1e6:,.1f}", f"{100 * macs / total:.1f}%")
    out.print(ops)
    out.print(
        f"nodes: {len(graph.nodes)}   parameters: {stats.parameters:,} ({stats.parameter_bytes / 2**20:,.1f} MiB)   "
        f"MACs: {stats.total_macs / 1e9:,.3f} G"
    )
    if precision is not None:
        _print_precisions(graph, cpu, precision)


def _print_precisions(graph, cpu: str | None, precision: str) -> None:
    """inspect --precision: per llvm kernel, what it computes in and where operands convert."""
    from cnncc.backends.llvm.precision import precision_report

    gen, rows = precision_report(graph, cpu, precision)
    table = Table(title=f"kernels by precision (llvm, cpu {gen.target.cpu}, --precision {precision} -> {gen.precision})")
    for col, just in (("node", "left"), ("op", "left"), ("algorithm", "left"), ("precision", "left"),
                      ("MMACs", "right"), ("inputs it rounds", "left")):
        table.add_column(col, justify=just)
    for r in rows:
        table.add_row(r.node, r.op, r.algorithm or "-", r.precision, f"{r.macs / 1e6:,.1f}", ", ".join(r.conversions) or "-")
    out.print(table)
    total_macs = max(sum(r.macs for r in rows), 1)
    parts = []
    for p in sorted({r.precision for r in rows} | {gen.precision}):
        mine = [r for r in rows if r.precision == p]
        share = 100 * sum(r.macs for r in mine) / total_macs
        parts.append(f"{p} kernels: {len(mine)} of {len(rows)} ({share:.1f}% of MACs)")
    conversions = sum(len(r.conversions) for r in rows)
    out.print("; ".join(parts) + f"; {conversions} input(s) rounded as kernels read them (activations are stored fp32)")
    if gen.precision != "fp32" and all(r.precision == "fp32" for r in rows):
        out.print(f"no node of this model has a {gen.precision} kernel for cpu {gen.target.cpu}: it computes in fp32")


def _print_onnx_ops(model) -> None:
    from collections import Counter

    from cnncc.frontends.onnx import CONVERTERS

    hist = Counter((n.domain, n.op_type) for n in model.graph.node)
    table = Table(title="ONNX ops in the model")
    for col in ("op", "count", "supported"):
        table.add_column(col)
    for (domain, op), count in hist.most_common():
        ok = domain in ("", "ai.onnx") and op in CONVERTERS
        table.add_row(f"{domain + '.' if domain else ''}{op}", str(count), "yes" if ok else "[red]no[/red]")
    out.print(table)


@app.command()
def run(
    model: ModelArg,
    input: Annotated[Optional[list[str]], typer.Option("--input", "-i", help="Input as NAME=FILE.npy or NAME=FILE.pb (repeatable); random (seeded) when omitted.", show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write outputs to this .npz file.", show_default=False)] = None,
    target: TargetOpt = "reference",
    input_shape: InputShapeOpt = None,
    opt_level: OptLevelOpt = 2,
    disable_pass: DisablePassOpt = None,
    print_after: PrintAfterOpt = None,
    pass_stats: PassStatsOpt = False,
    seed: Annotated[int, typer.Option(help="Seed for random inputs.")] = 0,
    check: Annotated[bool, typer.Option("--check", help="Compare against the reference backend and print max abs/rel error.")] = False,
    db: DbOpt = None,
    cpu: CpuOpt = None,
    arch: ArchOpt = None,
    precision: PrecisionOpt = None,
) -> None:
    """Run a model (or a compiled artifact directory) and print its outputs."""
    if output is not None and output.is_dir():
        raise UsageError(f"--output {output} is a folder; give a file name for the outputs, e.g. {output / 'outputs.npz'}")
    options = backend_options(db, cpu, arch, precision)
    if Path(model).is_dir():
        import cnncc

        compiled = cnncc.load(model)
        if precision not in (None, "auto", compiled.precision):
            raise UsageError(f"--precision {precision}: the artifact {model} computes in {compiled.precision}; "
                             f"the precision is chosen when compiling (cnncc compile --precision)")
    else:
        compiled = _compile(model, target, input_shape, opt_level, disable_pass, print_after, pass_stats, **options)
    feeds = load_inputs(input) or random_inputs(compiled.graph, seed)
    with np.errstate(all="ignore"):  # NaN or inf outputs are the model's result, not a warning
        results = compiled.run(feeds)

    table = Table(title=f"outputs ({compiled.target}, {compiled.precision})")
    for col in ("name", "shape", "dtype", "min", "max", "mean", "first values"):
        table.add_column(col)
    for name, arr in results.items():
        a = np.asarray(arr)
        nums = a.astype(np.float64) if a.size else np.zeros(1)
        first = ", ".join(f"{v:.5g}" for v in nums.reshape(-1)[:4])
        table.add_row(name, "x".join(map(str, a.shape)), str(a.dtype), f"{nums.min():.5g}", f"{nums.max():.5g}", f"{nums.mean():.5g}", first)
    out.print(table)

    if check:
        _check_against_reference(compiled, feeds, results)
    if output is not None:
        _write_npz(output, results)
        out.print(f"wrote {output}")


def _check_against_reference(compiled, feeds, results) -> None:
    from cnncc.backends.reference import interpret

    graph = compiled.source_graph
    if graph is None:
        raise UsageError("--check needs the model: run the .onnx file with --target instead of a compiled artifact")
    with np.errstate(all="ignore"):
        expected = interpret(graph, feeds)
    worst_ok = True
    for name, ref in expected.items():
        ok, abs_err, rel_err = outputs_agree(results[name], ref)
        rule = "rtol 1e-3, atol 1e-4"
        if compiled.precision == "bf16":  # 8-bit mantissas: judged against the output's scale
            values = np.abs(np.asarray(ref, dtype=np.float64))
            scale = float(np.max(values[np.isfinite(values)], initial=0.0))
            ok = bool(abs_err <= BF16_TOLERANCE * scale)
            rule = f"bf16: abs err <= {BF16_TOLERANCE:g} x the largest |output| {scale:.3g}"
        worst_ok &= ok
        out.print(f"check {name}: max abs err {abs_err:.3g}, max rel err {rel_err:.3g} -> {'ok' if ok else 'MISMATCH'} ({rule})")
    if not worst_ok:
        from cnncc.errors import BackendError

        raise BackendError(f"target {compiled.target} disagrees with the reference backend")


# --check of a bf16 build: the largest error allowed, as a fraction of the output's largest
# magnitude (bf16 keeps 8 significant bits: a rounding is up to 2**-9 of a value, and sums of
# many rounded products stay within a few times that)
BF16_TOLERANCE = 2e-2


def outputs_agree(got, ref, rtol: float = 1e-3, atol: float = 1e-4) -> tuple[bool, float, float]:
    """(close enough, max abs error, max rel error) of an output against the reference's.
    NaNs and infinities in the same places agree (a model that computes log(-1) computes it
    on every target); a NaN against a number is an error of NaN."""
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        return False, float("nan"), float("nan")
    if not ref.size:
        return True, 0.0, 0.0
    same = (got == ref) | (np.isnan(got) & np.isnan(ref))
    with np.errstate(all="ignore"):
        diff = np.where(same, 0.0, np.abs(got - ref))
        rel = np.where(same, 0.0, diff / np.maximum(np.abs(ref), 1e-6))
    if np.isnan(diff).any():
        abs_err = rel_err = float("nan")
    else:
        abs_err, rel_err = float(diff.max()), float(rel.max())
    ok = bool(np.allclose(got, ref, rtol=rtol, atol=atol, equal_nan=True))
    return ok, abs_err, rel_err


def _write_npz(path: Path, arrays: dict) -> None:
    """An .npz of ``arrays`` at exactly ``path``: np.savez appends ".npz" to other names (and
    its keyword interface cannot take outputs named ``file`` or ``allow_pickle``), so the zip is
    written here the way np.savez writes it."""
    import zipfile

    from cnncc.artifacts import atomic_path

    try:
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
                for name, arr in arrays.items():
                    with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, np.asanyarray(arr), allow_pickle=False)
    except OSError as exc:
        raise UsageError(f"--output {path}: cannot write it ({exc.strerror or exc})") from None


@app.command(name="compile")
def compile_cmd(
    model: ModelArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Artifact directory to write.")] = Path("out"),
    target: TargetOpt = "llvm",
    input_shape: InputShapeOpt = None,
    opt_level: OptLevelOpt = 2,
    disable_pass: DisablePassOpt = None,
    print_after: PrintAfterOpt = None,
    pass_stats: PassStatsOpt = False,
    db: DbOpt = None,
    cpu: CpuOpt = None,
    arch: ArchOpt = None,
    emit_source: Annotated[bool, typer.Option("--emit-source", help="Also write the generated source next to the artifact (LLVM IR for llvm, CUDA C for cuda).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replace the -o folder even if it is not empty and holds no cnncc artifact (everything in it is deleted).")] = False,
    precision: PrecisionOpt = None,
) -> None:
    """Compile a model into a deployable artifact directory (an existing artifact there is replaced as a whole)."""
    from cnncc.artifacts import atomic_path, output_dir

    options = backend_options(db, cpu, arch, precision)
    output_dir(output, force)  # refuse a bad -o before spending the compile on it
    if target == "llvm":
        options["lazy"] = True  # the export compiles its own position-independent copy
    compiled = _compile(model, target, input_shape, opt_level, disable_pass, print_after, pass_stats, **options)
    path = compiled.export(output, force=force)
    out.print(f"wrote {path} ({compiled.target}, {compiled.precision}, {len(compiled.graph.nodes)} nodes)")
    if emit_source:
        for name, text in compiled.sources().items():
            dest = Path(path) / name
            with atomic_path(dest) as tmp:
                tmp.write_text(text)
            out.print(f"wrote {dest}")


@app.command()
def show(
    model: ModelArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="Picture to write: .svg, .png (needs Graphviz) or .dot.")] = Path("graph.svg"),
    input_shape: InputShapeOpt = None,
    opt_level: Annotated[int, typer.Option("--opt-level", "-O", min=0, max=3, help="Show the graph after this optimization level (default 0: as imported).")] = 0,
    disable_pass: DisablePassOpt = None,
    target: PipelineTargetOpt = None,
) -> None:
    """Draw the graph before or after optimization."""
    from cnncc.compiler import optimize_for
    from cnncc.frontends.onnx import import_onnx
    from cnncc.viz import render

    graph = import_onnx(model, parse_input_shapes(input_shape))
    graph = optimize_for(graph, target, opt_level, disable=disable_pass or ())
    path = render(graph, output)
    out.print(f"wrote {path} ({len(graph.nodes)} nodes, -O{opt_level})")


@app.command()
def zoo(
    name: Annotated[Optional[str], typer.Argument(help="Model to write; omit to list them.", show_default=False)] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="ONNX file to write (default NAME.onnx).", show_default=False)] = None,
    shipped_weights: Annotated[bool, typer.Option("--shipped-weights", help="Keep the light models' constant 0.02 weights instead of seeded random ones.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for the random weights.")] = 0,
) -> None:
    """Write a model of the built-in zoo: onnx's light model-zoo architectures, PP-OCR nets, the modern suite."""
    import onnx

    from cnncc import zoo as zoo_models
    from cnncc.artifacts import atomic_path

    if name is None:
        table = Table(title="zoo")
        table.add_column("name")
        table.add_column("what")
        for n in zoo_models.LIGHT_MODELS:
            table.add_row(n, "architecture shipped with onnx (seeded random weights)")
        for n, (file, shapes) in zoo_models.PPOCR_MODELS.items():
            shape = ",".join(map(str, shapes["x"]))
            table.add_row(n, f"trained PP-OCR network from {zoo_models.PPOCR_WHEEL} (--input-shape x={shape})")
        for n, spec in zoo_models.modern_models().items():
            table.add_row(n, f"modern suite, {spec.size}x{spec.size} input, seeded random weights: {spec.exercises}")
        out.print(table)
        return
    model, _ = zoo_models.get_model(name, random_weights=not shipped_weights, seed=seed)
    path = output or Path(f"{name}.onnx")
    with atomic_path(path) as tmp:
        onnx.save(model, str(tmp))
    out.print(f"wrote {path}")


@app.command()
def tune(
    model: ModelArg,
    target: Annotated[str, typer.Option("--target", "-t", help="Target to tune for: tvm-llvm, cuda (needs a GPU here), llvm.")] = "tvm-llvm",
    db: Annotated[Path, typer.Option("--db", help="Tuning records folder (created; shared between models and runs).")] = Path("tuning"),
    trials: Annotated[int, typer.Option(help="Measured candidates per kernel workload.", min=1)] = 64,
    budget_s: Annotated[Optional[float], typer.Option("--budget-s", help="llvm: stop tuning after about this many seconds (the best found so far is kept).", show_default=False)] = None,
    input_shape: InputShapeOpt = None,
    opt_level: OptLevelOpt = 2,
    arch: ArchOpt = None,
    precision: PrecisionOpt = None,
) -> None:
    """Tune every distinct kernel workload of a model and store the records for `compile --db`."""
    import dataclasses
    import importlib
    from inspect import signature as inspect_signature

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from cnncc.backends import get_backend
    from cnncc.compiler import import_model, optimize_for

    backend, options = get_backend(target)
    try:
        tuning = importlib.import_module(f"{backend.__name__}.tuning")
    except ModuleNotFoundError:
        tuning = None
    if tuning is None or not hasattr(tuning, "tune"):
        raise UsageError(f"target {target!r} has no tuner yet; tune tvm-llvm or cuda")
    if arch is not None:
        options["arch"] = arch
    if precision is not None:
        options |= _tune_precision(tuning, target, precision)
    if budget_s is not None:
        options_type = getattr(tuning, "TuneOptions", None)  # a tuner whose options are a dataclass
        known = set(inspect_signature(tuning.tune).parameters)
        if options_type is not None:
            known |= {f.name for f in dataclasses.fields(options_type)}
        if "budget_s" not in known:
            raise UsageError(f"--budget-s: the {target} tuner counts trials, not seconds; use --trials")
        options["budget_s"] = budget_s
    # the graph compile builds for this target: the workloads it tunes are the ones it runs
    graph = optimize_for(import_model(model, parse_input_shapes(input_shape)), target, opt_level)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} trials"), TimeElapsedColumn(), console=out, transient=True) as progress:
        task = progress.add_task("tuning", total=None)

        def on_progress(done: int, total: int, kernel: str) -> None:
            progress.update(task, completed=done, total=total, description=f"tuning {kernel}")

        results = tuning.tune(graph, trials=trials, db_dir=db, progress=on_progress, **options)
    rows = tuning.summary_table(results)
    table = Table(title=f"tuned for {target}: records in {db}")
    for col in ("kernel", "op", "nodes", "trials", "best us", "default us", "speed-up", "reused"):
        table.add_column(col, justify="left" if col in ("kernel", "op") else "right")
    for row in rows:
        fmt = lambda v: "-" if v is None else str(v)  # noqa: E731
        table.add_row(row["kernel"], row["op"], fmt(row["nodes"]), fmt(row["trials"]), fmt(row["best_us"]), fmt(row["default_us"]), fmt(row["speedup"]), "yes" if row["reused"] else "no")
    out.print(table)
    out.print(f"compile with the records: cnncc compile {model} --target {target} --db {db}")


def _tune_precision(tuning, target: str, precision: str) -> dict:
    """The tuner's options for ``--precision``: passed on to a tuner that measures kernels at a
    precision; for one that measures fp32 kernels only, fp32 (and auto where it means fp32)."""
    from inspect import signature as inspect_signature

    from cnncc.precision import FP32, check_precision, fp32_only

    check_precision(precision)
    if "precision" in inspect_signature(tuning.tune).parameters:
        return {"precision": precision}
    if target == "llvm":
        from cnncc.backends.llvm.precision import resolve_precision
        from cnncc.backends.llvm.target import resolve_target

        if resolve_precision(precision, resolve_target(None)) != FP32:
            raise UsageError(f"--precision {precision}: the llvm tuner measures fp32 kernels only for now "
                             f"(bf16 kernels run their default schedules); tune with --precision fp32")
        return {}
    fp32_only(precision, target)
    return {}


def _int_list(text: str, what: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
        if not values or min(values) <= 0:
            raise ValueError
        return values
    except ValueError:
        raise UsageError(f"{what} {text!r}: expected positive integers separated by commas, e.g. 1,2") from None


@app.command()
def bench(
    models: Annotated[Optional[list[str]], typer.Argument(help="Model files or zoo names (see `cnncc zoo`).", show_default=False)] = None,
    target: Annotated[str, typer.Option("--target", "-t", help="cnncc target(s) to measure, comma separated.")] = "llvm",
    against: Annotated[str, typer.Option(help="Peers, comma separated: onnxruntime, onnxruntime-nospin, openvino (fp32), openvino-default, tvm, reference (empty for none).")] = "onnxruntime",
    threads: Annotated[str, typer.Option(help="Thread counts, comma separated.")] = "1",
    batch: Annotated[str, typer.Option(help="Batch sizes, comma separated (replaces dimension 0 of every input).")] = "1",
    input_shape: InputShapeOpt = None,
    opt_level: OptLevelOpt = 2,
    warmup: Annotated[int, typer.Option(help="Untimed runs of each contender first.", min=0)] = 3,
    repeat: Annotated[int, typer.Option(help="Timed runs of each contender, in alternating blocks of 5 with a pause between turns.", min=1)] = 20,
    min_time: Annotated[Optional[float], typer.Option("--min-time", help="Instead of --repeat: run until each contender has had this many seconds (at least 5 runs).", show_default=False)] = None,
    suite: Annotated[Optional[str], typer.Option(help="Run suites instead of MODELS, comma separated: 'zoo' = the nine light model-zoo models, 'modern' = the modern architecture suite, 'ppocr' = the three trained PP-OCR nets (see `cnncc zoo`).", show_default=False)] = None,
    per_layer: Annotated[bool, typer.Option("--per-layer", help="Per-kernel times of the cnncc artifact, slowest first.")] = False,
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Write every figure plus machine info to this JSON file.", show_default=False)] = None,
    plot: Annotated[Optional[Path], typer.Option(help="Write a bar chart (PNG) of latency per contender and model.", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seed for the inputs.")] = 0,
    db: DbOpt = None,
    precision: Annotated[str, typer.Option("--precision", help="Precisions to build cnncc at, comma separated: fp32, bf16, auto. With any but fp32, an accuracy table per model follows: errors against cnncc fp32 and, for classifiers, top-1 agreement.")] = "fp32",
    accuracy_inputs: Annotated[int, typer.Option("--accuracy-inputs", help="Seeded inputs for the accuracy table (seeds SEED, SEED+1, ...).", min=1)] = 100,
) -> None:
    """Benchmark cnncc's generated code against onnxruntime / OpenVINO / TVM, in alternating blocks, with medians and ratios."""
    from cnncc.bench.report import require_plotting

    if plot is not None:
        require_plotting()  # before any model runs, not after the whole measurement
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from cnncc import zoo as zoo_models
    from cnncc.backends.reference import interpret
    from cnncc.bench import accuracy as bench_accuracy
    from cnncc.bench import contenders as bench_contenders
    from cnncc.bench import models as bench_models
    from cnncc.bench.measure import Case, Result, run_case
    from cnncc.bench.peak import machine_peak
    from cnncc.bench.report import (
        machine_info, print_accuracy, print_case, print_peer_summaries, print_thread_scaling, thread_scaling, to_json, write_json, write_plot,
    )
    from cnncc.frontends.onnx import import_onnx
    from cnncc.stats import graph_stats

    specs = zoo_models.suite_models(suite) if suite is not None else list(models or [])
    if not specs:
        raise UsageError("give at least one model (file or zoo name), or --suite zoo|modern|ppocr")
    targets = [t for t in target.split(",") if t]
    peers = [p for p in against.split(",") if p]
    precisions = bench_accuracy.parse_precisions(precision)
    # accuracy is measured against fp32, so its table always has an fp32 row
    accuracy_precisions = list(dict.fromkeys(["fp32", *precisions])) if precisions != ["fp32"] else []
    contenders = bench_contenders.make_contenders(targets, peers, opt_level, backend_options(db), tuple(precisions))
    thread_counts = _int_list(threads, "--threads")
    batches = _int_list(batch, "--batch")
    shapes_given = parse_input_shapes(input_shape)
    peak = machine_peak()
    out.print(f"peak fp32: {peak.gflops_per_core:,.0f} GFLOP/s per core on {peak.cpu} now ({peak.method}); "
              f"best seen on this CPU {peak.best_seen_gflops_per_core:,.0f}")

    cases = []
    accuracy = []
    planned = None if min_time else len(specs) * len(batches) * len(thread_counts) * repeat
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} runs"), TimeElapsedColumn())
    with Progress(*columns, console=out, transient=True) as progress:
        task = progress.add_task("loading", total=planned)

        step = lambda text: progress.update(task, description=text)  # noqa: E731
        one_run = lambda calls: progress.advance(task, calls)  # noqa: E731

        for spec in specs:
            name, model, default_shapes = bench_models.load(spec)
            for b in batches:
                step(f"{name}: batch {b}: reference outputs")
                specialized, shapes = bench_models.specialize(model, {**default_shapes, **shapes_given}, b)
                feeds = bench_models.seeded_feeds(shapes, seed)
                try:
                    graph = import_onnx(specialized)
                    macs = graph_stats(graph).total_macs
                    expected = interpret(graph, feeds)
                except CnnccError as exc:
                    # e.g. a model that reshapes to a fixed batch of 1: no contender can run it
                    for t in thread_counts:
                        failed = [Result(c.name, status=f"model does not run at batch {b}: {exc}") for c in contenders]
                        cases.append(Case(name, t, b, 0, failed, []))
                    progress.console.print(f"skipped: {name}, batch {b}: {exc}", markup=False)
                    continue
                for t in thread_counts:
                    case = run_case(
                        name, specialized, shapes, feeds, contenders, t, b, macs, expected, peak.gflops(t),
                        warmup=warmup, repeat=repeat, min_time_s=min_time, per_layer=per_layer, on_step=step, on_run=one_run,
                    )
                    cases.append(case)
                    progress.console.print(f"done: {name}, batch {b}, {t} thread(s)")
                for t in targets if accuracy_precisions else []:
                    step(f"{name}: batch {b}: accuracy on {t}, {accuracy_inputs} inputs per precision")
                    try:
                        settings = bench_accuracy.AccuracySettings(t, accuracy_inputs, seed, opt_level, backend_options(db))
                        accuracy.append(bench_accuracy.measure(name, specialized, shapes, accuracy_precisions, settings))
                    except CnnccError as exc:  # fp32 itself does not build: the timing table says why
                        progress.console.print(f"no accuracy table: {name} on {t}: {exc}", markup=False)
    for case in cases:
        print_case(out, case)
    for report in accuracy:
        print_accuracy(out, report)
    geo, by_peer = {}, {}
    n_cnncc = len(targets) * len(precisions)
    if len(cases) > 1 and targets and peers:
        by_peer = print_peer_summaries(out, cases, n_cnncc)
        # the first cnncc contender against the first peer, as before there were several peers
        geo = next(iter(next(iter(by_peer.values())).values()))
    scaling = thread_scaling(cases)
    print_thread_scaling(out, cases)
    command = "cnncc bench " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "cnncc bench"
    if json_out is not None:
        payload = to_json(cases, machine_info(peak), command)
        payload["geomean_ratio_by_threads"] = geo
        payload["geomean_ratio_by_peer"] = by_peer
        payload["thread_scaling"] = scaling
        payload["accuracy"] = [asdict(report) for report in accuracy]
        write_json(json_out, payload)
        out.print(f"wrote {json_out}")
    if plot is not None:
        info = machine_info()
        write_plot(plot, cases, f"cnncc bench on {info.get('cpu_model', '?')}, {info.get('cores')} cores, {info['date'][:10]}")
        out.print(f"wrote {plot}")


# -- entry point ---------------------------------------------------------------------------
def one_line(text: str) -> str:
    """An error message as the single line the contract promises: lines joined, and control
    characters (which a model's names may hold) shown as escapes."""
    joined = " | ".join(part.strip() for part in str(text).splitlines() if part.strip())
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in joined)


@contextmanager
def notes_on_stderr():
    """cnncc's notes (``errors.CnnccNote`` warnings: ignored tuning records, ...) as one
    ``note:`` line each on stderr; other warnings as Python shows them."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", CnnccNote)
        python_show = warnings.showwarning

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, CnnccNote):
                err.print(f"note: {one_line(message)}", soft_wrap=True, markup=False)
            else:
                python_show(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


def _click_exceptions():
    """click's exception classes: typer vendors click since 0.2x (typer._click), older
    releases use the click package."""
    try:
        from typer._click import exceptions
    except ImportError:
        import click.exceptions as exceptions
    return exceptions


def _traceback(exc: BaseException, code: int) -> int:
    """--debug: the whole traceback (with the exception it was raised from) instead of one line."""
    import traceback

    traceback.print_exception(exc, file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    import typer.exceptions

    click = _click_exceptions()
    aborts = tuple({typer.exceptions.Abort, click.Abort} if hasattr(click, "Abort") else {typer.exceptions.Abort})
    try:
        # not standalone: click's usage errors come back here, to be printed as one line
        with notes_on_stderr():
            rc = app(args=argv, prog_name="cnncc", standalone_mode=False)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except click.NoArgsIsHelpError as exc:
        err.print(exc.ctx.get_help() if exc.ctx else "", markup=False)
        return 2
    except click.UsageError as exc:
        cmd = exc.ctx.command_path if exc.ctx else "cnncc"
        err.print(f"error: {one_line(exc.format_message())} (see {cmd} --help)", soft_wrap=True, markup=False)
        return 2
    except click.ClickException as exc:
        err.print(f"error: {one_line(exc.format_message())}", soft_wrap=True, markup=False)
        return exc.exit_code if 2 <= exc.exit_code <= 5 else 2
    except (KeyboardInterrupt, *aborts):
        err.print("interrupted", markup=False)
        return 130
    except CnnccError as exc:
        if _state["debug"]:
            return _traceback(exc, exc.exit_code)
        err.print(f"error: {one_line(exc)}", soft_wrap=True, markup=False)
        return exc.exit_code
    except MemoryError as exc:
        # too big for this machine (random inputs, a reference run), not a bug
        if _state["debug"]:
            return _traceback(exc, ShapeError.exit_code)
        detail = one_line(exc) if str(exc).strip() else "an allocation failed"
        err.print(f"error: not enough memory ({detail}); use smaller inputs (--input-shape) or a machine with more memory",
                  soft_wrap=True, markup=False)
        return ShapeError.exit_code
    except Exception as exc:  # noqa: BLE001 - InternalError (a pass or lowering naming itself) or any other bug
        if _state["debug"]:
            return _traceback(exc, InternalError.exit_code)
        what = one_line(exc) if isinstance(exc, InternalError) else f"internal error: {type(exc).__name__}: {one_line(exc)}"
        err.print(f"error: {what} (this is a cnncc bug; rerun with --debug for the traceback and report it)",
                  soft_wrap=True, markup=False)
        return InternalError.exit_code
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":
    sys.exit(main())
