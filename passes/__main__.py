"""``python -m cnncc.passes [MODEL...] [-O N]``: node counts before and after a pipeline.

MODEL is a light model-zoo name (default: all nine) or an ONNX path; light models get
seeded random weights (``zoo.with_random_weights``) as in the tests. Only the generic passes
run (passes/ imports no backend); ``cnncc inspect -O3 --target llvm`` adds a backend's own.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    import onnx

    from cnncc import zoo
    from cnncc.frontends.onnx import import_onnx
    from cnncc.passes.manager import optimize

    parser = argparse.ArgumentParser(prog="python -m cnncc.passes", description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(zoo.LIGHT_MODELS))
    parser.add_argument("-O", dest="level", type=int, default=2)
    args = parser.parse_args(argv)
    print(f"{'model':<16} {'-O0':>6} {'-O' + str(args.level):>6}  ops after")
    for name in args.models:
        path = Path(name) if Path(name).exists() else zoo.light_model_path(name)
        model = onnx.load(str(path))
        if name in zoo.LIGHT_MODELS:
            model = zoo.with_random_weights(model, seed=0)
        graph = import_onnx(model)
        out = optimize(graph, args.level)
        hist = ", ".join(f"{op} {n}" for op, n in out.op_histogram().items())
        print(f"{name:<16} {len(graph.nodes):>6} {len(out.nodes):>6}  {hist}")


if __name__ == "__main__":
    main()
