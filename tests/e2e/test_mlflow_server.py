"""MLflow as a server (docs/SCALING.md): `tx mlflow-server` on PostgreSQL with proxied
artifacts, and the whole pipeline logging, registering and gating through
MLFLOW_TRACKING_URI=http://..., then the service loading the champion over HTTP."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from mlflow import MlflowClient

from cli.showcase import PLANTED
from training.recorder import FUSED_MODEL, RL_EXPERIMENT
from training.report import BACKTEST_EXPERIMENT, EXPERIMENT, MONITORING_EXPERIMENT
from tx.processes import free_port
from tx.settings import ROOT

TX = str(Path(sys.executable).parent / "tx")

pytestmark = [pytest.mark.e2e, pytest.mark.heavy]


@pytest.fixture
def mlflow_server(monkeypatch, tx_env, pg_platform, tmp_path):
    """`tx mlflow-server` as the MLflow server's machine runs it: TX_POSTGRES_URL names the
    database and MLFLOW_TRACKING_URI the server itself (one environment for every machine)."""
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("TX_POSTGRES_URL", pg_platform)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    server_artifacts = tmp_path / "server-artifacts"
    log = (tmp_path / "mlflow-server.log").open("w")
    proc = subprocess.Popen([TX, "mlflow-server", "--port", url.rsplit(":", 1)[1]], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "TX_MLFLOW_ARTIFACTS": str(server_artifacts)}, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "mlflow-server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the MLflow server did not answer within 180 s"
            time.sleep(0.5)
        yield url, server_artifacts
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_the_pipeline_logs_registers_and_serves_through_an_mlflow_server(monkeypatch, mlflow_server, tmp_path):
    url, server_artifacts = mlflow_server
    client_artifacts = tmp_path / "client-artifacts"  # a client's own artifact setting: never used through a server
    for key, value in PLANTED.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TX_MLFLOW_ARTIFACTS", str(client_artifacts))
    done = subprocess.run([TX, "demo"], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(rf"store ready: mlflow +{re.escape(url)}  \(artifacts proxied by the server\)", done.stdout), done.stdout
    assert "gate: PROMOTED to champion -> tx-fused v1" in done.stdout, done.stdout

    # what the server recorded: training, the agent, backtests and monitoring each logged runs
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    experiments = {e.name: e for e in client.search_experiments()}
    for name in (EXPERIMENT, RL_EXPERIMENT, BACKTEST_EXPERIMENT, MONITORING_EXPERIMENT):
        assert client.search_runs([experiments[name].experiment_id]), f"no run in {name}"
        assert experiments[name].artifact_location.startswith("mlflow-artifacts:/"), experiments[name].artifact_location
    champion = client.get_model_version_by_alias(FUSED_MODEL, "champion")
    assert champion.version == "1"
    # the artifacts are the server's (proxied), none written where the clients' setting points
    stored = {p.name for p in server_artifacts.rglob("*") if p.is_file()}
    assert "MLmodel" in stored and "oof_predictions.parquet" in stored
    assert not client_artifacts.exists()

    # the gate moved the alias through the server; the service loads the model it names over HTTP
    from serving.app import create_app
    from tx.settings import load_settings

    app = create_app(load_settings())
    assert app.state.champion.refresh()
    assert app.state.champion.served.version == "1"
    assert app.state.champion.served.metrics["wf_auc"] > 0.6
