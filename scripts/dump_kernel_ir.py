"""Dump each llvm kernel's unoptimized IR, one file per compiled graph, to compare two
versions of the kernels (a refactor must leave them identical).

    python scripts/dump_kernel_ir.py models OUT [NAME ...]     zoo models at -O2 and -O3
    python scripts/dump_kernel_ir.py tests OUT TEST_FILE ...   every graph those tests build
    python scripts/dump_kernel_ir.py diff OLD NEW              which dumps differ

A dump lists, per kernel, the node, ``KernelInfo.algorithm`` and the kernel function's text,
then a digest of the packed weight blob (weight packing is part of a kernel too). In
``tests`` mode pytest runs the files with ``codegen.generate`` wrapped, so every schedule
and CPU the tests parametrize is captured, named by test id.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

MODELS = ("resnet50", "squeezenet", "shufflenet", "inception_v2", "densenet121", "ppocr-det", "ppocr-rec")


def render(gen) -> str:
    parts = []
    for info in gen.kernels:
        fn = gen.ir_module.get_global(info.name)
        parts.append(f"; node {info.node_name} ({info.op}) algorithm {info.algorithm!r} "
                     f"schedule {info.schedule}\n{fn}")
    blob = gen.blob.to_array()
    parts.append(f"; blob {blob.nbytes} bytes sha1 {hashlib.sha1(blob.tobytes()).hexdigest()}\n")
    return "\n".join(parts)


def llvm_pipeline(graph, level: int):
    """``graph`` through the -O pipeline the llvm target gets (its own passes included: the
    backend contributes them since the kernel-layer change; older trees have them built in)."""
    try:
        from cnncc.compiler import optimize_for
    except ImportError:
        from cnncc.passes.manager import optimize
        return optimize(graph, level)
    return optimize_for(graph, "llvm", level, echo=lambda *a, **k: None)


def dump_models(out: Path, names) -> None:
    from cnncc import zoo
    from cnncc.backends.llvm.codegen import generate
    from cnncc.backends.llvm.target import resolve_target
    from cnncc.compiler import import_model
    from cnncc.errors import ModelLoadError

    target = resolve_target(None)
    for name in names or MODELS:
        try:
            model, shapes = zoo.get_model(name)
        except ModelLoadError as exc:
            print(f"skip {name}: {exc}")
            continue
        source = import_model(model, shapes or None)
        for level in (2, 3):
            gen = generate(llvm_pipeline(source, level), target)
            (out / f"{name}-O{level}.ll").write_text(render(gen))
            print(f"{name} -O{level}: {len(gen.kernels)} kernels")


class _Capture:
    """pytest plugin: every module generated during a test goes to OUT/<test id>.<n>.ll."""

    def __init__(self, out: Path):
        self.out, self.test, self.count = out, "setup", 0

    def pytest_configure(self, config):
        from cnncc.backends.llvm import codegen

        real = codegen.generate

        def generate(*args, **kwargs):
            gen = real(*args, **kwargs)
            self.count += 1
            name = re.sub(r"[^A-Za-z0-9_.=-]", "_", self.test)[:180]
            (self.out / f"{name}.{self.count}.ll").write_text(render(gen))
            return gen

        for module in list(sys.modules.values()):
            if getattr(module, "generate", None) is real:
                module.generate = generate

    def pytest_runtest_setup(self, item):
        self.test, self.count = item.nodeid, 0


def dump_tests(out: Path, files) -> int:
    import pytest

    return pytest.main(["-q", "-x", "-p", "no:cacheprovider", *files], plugins=[_Capture(out)])


def diff(old: Path, new: Path) -> int:
    a = {p.name: p.read_text() for p in old.glob("*.ll")}
    b = {p.name: p.read_text() for p in new.glob("*.ll")}
    bad = sorted(n for n in a.keys() & b.keys() if a[n] != b[n])
    for n in sorted(a.keys() ^ b.keys()):
        print(f"only in {'old' if n in a else 'new'}: {n}")
    for n in bad:
        print(f"differs: {n}")
    kernels = sum(t.count("\n; node ") + t.startswith("; node ") for t in a.values())
    print(f"{len(a.keys() & b.keys())} dumps compared ({kernels} kernels), {len(bad)} differ, "
          f"{len(a.keys() ^ b.keys())} unmatched")
    return 1 if bad or a.keys() ^ b.keys() else 0


def main(argv) -> int:
    if len(argv) < 2 or argv[0] not in ("models", "tests", "diff"):
        print(__doc__)
        return 2
    if argv[0] == "diff":
        return diff(Path(argv[1]), Path(argv[2]))
    out = Path(argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if argv[0] == "models":
        dump_models(out, argv[2:])
        return 0
    return dump_tests(out, argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
