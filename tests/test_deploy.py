"""deploy/: the Prometheus rules pass `promtool check rules` and their unit tests, and the rules
and the Grafana dashboard only use metrics the service exposes (serving/metrics.py and
BentoML's own, read from the installed BentoML) or that the rules record."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tx.settings import ROOT

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PROMETHEUS = ROOT / "deploy" / "prometheus"
METRIC = re.compile(r"\b(?:tx_|tx:|bentoml_)[A-Za-z0-9_:]+")
BENTOML_HTTP = ("request_duration_seconds", "request_total", "request_in_progress", "last_request_timestamp_seconds")


def _install_promtool() -> None:
    """Debian's `prometheus` package provides promtool (root only; lists refreshed if stale)."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"]
    if subprocess.run(install, capture_output=True, env=env, timeout=600).returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, env=env, timeout=600)
        subprocess.run(install, capture_output=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def promtool() -> str:
    if shutil.which("promtool") is None and shutil.which("apt-get") and os.geteuid() == 0:
        _install_promtool()
    found = shutil.which("promtool")
    if found is None:
        reason = "promtool is missing and could not be installed (`apt-get install prometheus` needs root and Debian's archive)"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    return found


def test_rules_pass_promtool(promtool):
    checked = subprocess.run([promtool, "check", "rules", "rules.yml"], cwd=PROMETHEUS, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run([promtool, "test", "rules", "rules_test.yml"], cwd=PROMETHEUS, capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    config = subprocess.run([promtool, "check", "config", "prometheus.yml"], cwd=PROMETHEUS, capture_output=True, text=True)
    assert config.returncode == 0, config.stdout + config.stderr


def exposed() -> set[str]:
    """Every series name the service's /metrics can carry."""
    ours = re.findall(r'name="(tx_[a-z_]+)"', (ROOT / "serving" / "metrics.py").read_text())
    bentoml_src = Path(importlib.util.find_spec("bentoml").origin).parent
    instruments = (bentoml_src / "_internal" / "server" / "http" / "instruments.py").read_text()
    server = (Path(importlib.util.find_spec("_bentoml_impl").origin).parent / "server" / "app.py").read_text()
    assert 'namespace="bentoml_service"' in server and all(f'name="{n}"' in instruments for n in BENTOML_HTTP)
    names = {*ours, *(f"bentoml_service_{n}" for n in BENTOML_HTTP)}
    return {f"{n}{suffix}" for n in names for suffix in ("", "_bucket", "_sum", "_count")}


def rules() -> list[dict]:
    return [rule for group in yaml.safe_load((PROMETHEUS / "rules.yml").read_text())["groups"] for rule in group["rules"]]


def test_rules_and_dashboard_use_only_exposed_or_recorded_metrics():
    known = exposed() | {r["record"] for r in rules() if "record" in r}
    in_rules = {name for r in rules() for name in METRIC.findall(r["expr"])}
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "tx-service.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    in_dashboard = {name for expr in exprs for name in METRIC.findall(expr)}
    assert in_rules - known == set() and in_dashboard - known == set()
    assert {"tx_model_version", "tx_model_registered_timestamp_seconds", "tx_worker_lag_seconds", "tx_model_drift_share",
            "bentoml_service_request_total", "bentoml_service_request_duration_seconds_bucket"} <= in_rules
    assert dashboard["uid"] == "tx-service" and len(exprs) >= 10
