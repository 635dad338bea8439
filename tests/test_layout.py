"""The design's house rules, checked on the source tree."""

import ast
import subprocess
import sys

from tx.settings import ROOT

DOMAIN = ["market", "features", "training", "trading", "store"]
LAYOUT = ["pipelines", "assets", "training", "serving", "features", "market", "trading", "store", "mlflow", "tests", "bench", "docs"]
FILES = ["dagster.yaml", "workspace.yaml", "pyproject.toml", "Makefile", "README.md", ".env.example", "bentofile.yaml", ".ci/run"]


def imported_modules(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_domain_packages_never_import_the_frameworks():
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for package in DOMAIN
        for path in (ROOT / package).rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] in ("dagster", "bentoml") or module.split(".")[0] in ("assets", "pipelines", "serving")
    ]
    assert offenders == []


ALLOWED = {"market": {"store"}, "features": set(), "training": {"features"}, "trading": {"features", "store", "training"}, "store": set()}
PROJECT = {"market", "features", "training", "trading", "store", "assets", "pipelines", "serving", "tx"}


def test_domain_packages_import_only_what_the_design_allows():
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for package, allowed in ALLOWED.items()
        for path in (ROOT / package).rglob("*.py")
        for module in imported_modules(path)
        if (top := module.split(".")[0]) in PROJECT and top != package and top not in allowed
    ]
    assert offenders == []


def test_layout_of_the_design_is_there():
    assert [d for d in LAYOUT if not (ROOT / d).is_dir()] == []
    assert [f for f in FILES if not (ROOT / f).is_file()] == []


def test_mlflow_folder_never_shadows_the_mlflow_package():
    assert not (ROOT / "mlflow" / "__init__.py").exists()
    where = subprocess.run(
        [sys.executable, "-c", "import mlflow; print(mlflow.__file__)"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "site-packages" in where


MLFLOW_OWNERS = {"training/recorder.py", "training/model.py"}  # the recorder; the pyfunc must subclass mlflow's PythonModel


def test_only_the_recorder_imports_mlflow():
    offenders = [
        f"{rel} imports {module}"
        for path in ROOT.rglob("*.py")
        if (rel := path.relative_to(ROOT).as_posix()) not in MLFLOW_OWNERS
        and rel.split("/")[0] not in ("tests", "mlflow") and not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
        for module in imported_modules(path)
        if module.split(".")[0] == "mlflow"
    ]
    assert offenders == []
