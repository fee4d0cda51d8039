"""The setuptools mapping installs the top-level folders as cnncc.* and nothing else."""

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    mapping = cfg["package-dir"]
    for prefix, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            name = ".".join([prefix, *rel.parts]) if rel.parts else prefix
            assert name in listed, f"{name} ({init.parent}) is missing from [tool.setuptools] packages"


def test_mapped_packages_import_under_cnncc_only():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(name == "cnncc" or name.startswith("cnncc.") for name in cfg["packages"])
    for name in ("cnncc.frontends.onnx", "cnncc.passes.manager", "cnncc.backends.reference"):
        module = importlib.import_module(name)
        assert module.__name__ == name
