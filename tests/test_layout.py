"""The design's house rules, checked on the source tree."""

import ast
import re
import subprocess
import sys

from tx.settings import ROOT

DOMAIN = ["market", "features", "training", "trading", "store"]
LAYOUT = ["pipelines", "assets", "training", "serving", "features", "market", "trading", "store", "mlflow", "tests", "bench", "docs"]
FILES = ["dagster.yaml", "workspace.yaml", "pyproject.toml", "Makefile", "README.md", ".env.example", "bentofile.yaml", ".ci/run"]


def imported_modules(path):
    """Every module `path` imports, at the top or inside a function."""
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
        if module.split(".")[0] in ("dagster", "bentoml") or module.split(".")[0] in ("assets", "pipelines", "serving", "cli", "resources")
    ]
    assert offenders == []


ALLOWED = {"market": {"store"}, "features": set(), "training": {"features"}, "trading": {"features", "store", "training"}, "store": set()}
PROJECT = {"market", "features", "training", "trading", "store", "assets", "pipelines", "serving", "tx", "cli", "resources"}


def imports_of(packages) -> list[tuple[str, str, str]]:
    """(package, file, imported module) for every import in the given packages' files."""
    return [(package, str(path.relative_to(ROOT)), module) for package in packages
            for path in (ROOT / package).rglob("*.py") for module in imported_modules(path)]


def test_domain_packages_import_only_what_the_design_allows():
    offenders = [f"{file} imports {module}" for package, file, module in imports_of(ALLOWED)
                 if (top := module.split(".")[0]) in PROJECT and top != package and top not in ALLOWED[package]]
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


def package_graph() -> dict[str, set[str]]:
    """Top-level package -> the project's packages it imports (tests and the venv left out)."""
    graph: dict[str, set[str]] = {package: set() for package in PROJECT}
    for package in PROJECT:
        for path in (ROOT / package).rglob("*.py"):
            graph[package] |= {top for module in imported_modules(path) if (top := module.split(".")[0]) in PROJECT and top != package}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph as a path back to its start ([]: none), by depth-first search."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str]:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done:
            return []
        for target in sorted(graph[node]):
            if cycle := visit(target, [*path, node]):
                return cycle
        done.add(node)
        return []

    return next((cycle for node in sorted(graph) if (cycle := visit(node, []))), [])


def test_packages_import_each_other_without_cycles():
    cycle = find_cycle(package_graph())
    assert cycle == [], "package cycle: " + " -> ".join(cycle)


# Top to bottom: cli -> pipelines -> assets -> resources -> the domain packages and tx (the
# foundation: settings, errors, observability, processes); serving uses pipelines.status only.
NEVER = {
    "tx": {"cli", "pipelines", "assets", "serving", "resources"},
    "resources": {"assets", "pipelines", "cli", "serving"},
    "assets": {"pipelines", "cli", "serving"},
    "pipelines": {"cli", "serving"},
    "serving": {"cli", "assets", "resources"},
}


def test_packages_import_only_downwards():
    offenders = [f"{file} imports {module}" for package, file, module in imports_of(NEVER) if module.split(".")[0] in NEVER[package]]
    assert offenders == []


def test_serving_reaches_the_orchestrator_only_through_pipelines_status():
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "serving").rglob("*.py")
        for module in imported_modules(path)
        if module.split(".")[0] == "pipelines" and module != "pipelines.status"
    ]
    assert offenders == []


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


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
        *sorted(p for p in [*ROOT.glob("*/README.md"), *ROOT.glob("*/*/README.md")] if not p.relative_to(ROOT).parts[0].startswith("."))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub makes of a file's headings: lower case, punctuation dropped, spaces to hyphens."""
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in markdown.splitlines() if line.startswith("#")}


def test_relative_links_in_the_docs_resolve():
    """Every relative markdown link of README.md and docs/ (and the folders' READMEs) names a
    file or folder that exists, and an anchor a heading of it."""
    broken = []
    for doc in DOCS:
        for target in LINK.findall(doc.read_text()):
            if re.match(r"[a-z][a-z+.-]*:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            file = (doc.parent / path).resolve() if path else doc
            if not file.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no {path})")
            elif anchor and file.suffix == ".md" and anchor not in anchors(file.read_text()):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no heading #{anchor})")
    assert broken == []
    assert any(LINK.findall(doc.read_text()) for doc in DOCS)  # the pattern finds links at all


def test_the_code_location_and_the_service_load_without_the_heavy_stacks():
    """The Dagster code location and the BentoML service module load at `make run`'s start (and
    in every run worker): torch, lightning and evidently (about 6 s each here) load only when a
    run fits or scores a model or measures drift (docs/BENCHMARKS.md, the first hour)."""
    code = ("import sys, pipelines.definitions, serving.service; "
            "print(' '.join(m for m in ('torch', 'lightning', 'evidently') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "", f"loaded at import: {done.stdout.strip()}"
