"""The Bento is built from the repository root with the platform's own pins, and serves."""

import json
import os
import subprocess
import time
import tomllib
from pathlib import Path

import httpx
import pytest
import yaml

from tx.processes import BIN, Server, free_port, wait_ready

ROOT = Path(__file__).parents[2]


def test_bento_python_packages_are_the_project_dependencies():
    bento = yaml.safe_load((ROOT / "bentofile.yaml").read_text())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert bento["service"] == "serving.service:TX"
    assert bento["python"]["packages"] == project["dependencies"]


PROJECT = ("serving", "pipelines", "assets", "tx", "market", "features", "training", "trading", "store")
# sitecustomize.py for the served Bento, imported at start-up (PYTHONPATH) by each of its
# interpreters, arbiter and workers: it drops the editable install's finder, which would
# otherwise import a module missing from the Bento from this repository, silently; and it
# keeps a file up to date with where the process imported the project's modules from (at exit
# would not do: a uvicorn worker ends by re-raising the SIGTERM it was stopped with).
GUARD = f"""
import json, os, sys, threading, time
sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable__")]
sys.path_hooks[:] = [h for h in sys.path_hooks if not getattr(h, "__module__", "").startswith("__editable__")]
sys.path[:] = [p for p in sys.path if not p.startswith("__editable__")]
sys.path_importer_cache.clear()

def _imported():
    seen = 0
    while True:
        if len(sys.modules) != seen:
            seen = len(sys.modules)
            files = {{m: getattr(mod, "__file__", None) for m, mod in list(sys.modules.items()) if m.split(".")[0] in {PROJECT!r}}}
            path = os.path.join(os.path.dirname(__file__), f"imported-{{os.getpid()}}.json")
            with open(path + ".new", "w") as out:
                json.dump(files, out)
            os.replace(path + ".new", path)
        time.sleep(0.5)

threading.Thread(target=_imported, daemon=True).start()
"""


@pytest.mark.e2e
@pytest.mark.heavy
def test_a_built_bento_imports_and_serves_its_own_service(tmp_path, monkeypatch):
    """`bentoml build` from the repository root, then the service served from the Bento's own
    files: cwd and PYTHONPATH its src/, the repository reachable by no import path."""
    for var in [k for k in os.environ if k.startswith("PYTHON")]:
        monkeypatch.delenv(var)  # Server.start passes our environment on, under its own
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BENTOML_", "TX_", "MLFLOW_", "DAGSTER_"))}
    env |= {"BENTOML_HOME": str(tmp_path / "bentoml"), "BENTOML_DO_NOT_TRACK": "True"}
    started = time.monotonic()
    built = subprocess.run([str(BIN / "bentoml"), "build", "-o", "tag"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    build_s = time.monotonic() - started
    name, version = built.stdout.strip().splitlines()[-1].removeprefix("__tag__:").split(":")
    bento = tmp_path / "bentoml" / "bentos" / name / version
    src = bento / "src"
    service = yaml.safe_load((bento / "bento.yaml").read_text())["service"]
    assert service == "serving.service:TX" and (src / "dagster.yaml").is_file()

    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    home = tmp_path / "home"
    env |= {"PYTHONPATH": f"{guard}{os.pathsep}{src}", "PYTHONSAFEPATH": "1", "TX_ENV_FILE": str(home / "no.env"), "TX_HOME": str(home / "tx"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db", "TX_MLFLOW_ARTIFACTS": str(home / "artifacts"),
            "TX_DAGSTER_HOME": str(home / "dagster")}
    port = free_port()
    server = Server("Bento", [str(BIN / "bentoml"), "serve", service, "--host", "127.0.0.1", "--port", str(port)],
                    health_url=f"http://127.0.0.1:{port}/health", ui_url=f"http://127.0.0.1:{port}", env=env, cwd=src,
                    log=tmp_path / "bento.log")
    server.start()
    try:
        wait_ready([server], timeout_s=180)
        spec = httpx.get(f"{server.ui_url}/docs.json", timeout=10).json()
        assert spec["info"]["title"] == "TX Predictive Intelligence"
        workers = server.record()
        assert workers and all(p.cwd() == str(src) for p in workers)
    finally:
        server.stop()
    assert not server.running() and server.descendants() == []

    # the arbiter and its worker imported the service, pipelines.status included, from src/ alone
    for pid in [server.proc.pid, *(p.pid for p in workers)]:
        dump = guard / f"imported-{pid}.json"
        assert dump.exists(), f"process {pid} left no record of its imports; see {server.log}"
        files = json.loads(dump.read_text())
        assert "serving.service" in files and "pipelines.status" in files
        assert {m: f for m, f in files.items() if f is not None and not f.startswith(f"{src}{os.sep}")} == {}
    print(f"bentoml build: {build_s:.1f} s")
