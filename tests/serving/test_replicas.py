"""Replicated serving: two service instances — each the app of serving.app.create_app in a
uvicorn process of its own, on its own port — over one PostgreSQL app database, one Redis and
one MLflow registry (a copy of the session's `trained` one). A key's rate limit holds across
both, an alert reaches the WebSocket clients of both, and a champion swap reaches both."""

import json
import shutil
import sys
import time

import httpx
import pandas as pd
import pytest

from cli.stores import setup_app_database
from store.api_keys import create_key
from store.candles import upsert_candles
from store.db import make_engine
from training.recorder import CHAMPION, FUSED_MODEL, client
from tx.processes import Server, free_port, stop_all, wait_ready
from tx.settings import ROOT, load_settings

from tests.serving.routers.test_alerts import next_event

pytestmark = pytest.mark.e2e

# One instance: what a BentoML worker does with the app (serving/service.py), under uvicorn.
INSTANCE = """
import sys, uvicorn
from serving.app import create_app
app = create_app()
app.state.champion.start()
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def until(check, what: str, timeout: float = 120.0, state=None):
    """Wait for something that happens in the background (a poll, a push); fail naming it
    (and `state()`, what was seen last)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f} s" + (f"; last seen: {state()}" if state else ""))


@pytest.fixture
def replicas(trained, pg_url, redis_server, redis_prefix, tmp_path, monkeypatch):
    shutil.copy(trained["db"], tmp_path / "mlflow.db")
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db", "TX_MLFLOW_ARTIFACTS": str(trained["artifacts"]),
           "TX_DATABASE_URL": pg_url, "TX_REDIS_URL": redis_server, "TX_REDIS_PREFIX": redis_prefix, "TX_MODEL_POLL_S": "1"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    setup_app_database(settings)
    engine = make_engine(settings.app_database_url)
    for symbol, candles in trained["frames"].items():
        upsert_candles(engine, symbol, "1d", candles, "synthetic")
    keys = {"read": create_key(engine, "read", "reader", rate_limit_per_minute=1_000_000),  # the test's polls, both instances together
            "limited": create_key(engine, "read", "limited", rate_limit_per_minute=5)}
    servers = []
    for name in ("A", "B"):
        port = free_port()
        servers.append(Server(f"instance {name}", [sys.executable, "-c", INSTANCE, str(port)], health_url=f"http://127.0.0.1:{port}/health",
                              ui_url=f"http://127.0.0.1:{port}", log=tmp_path / f"instance-{name}.log", cwd=ROOT))
    try:
        for server in servers:
            server.start()
        wait_ready(servers, timeout_s=180)
        yield {"urls": [s.ui_url for s in servers], "keys": keys, "engine": engine, "settings": settings, "logs": [s.log for s in servers]}
    finally:
        stop_all(servers, grace_s=10)
        engine.dispose()


def get(url: str, key: str, path: str = "/api/ml/active-version") -> httpx.Response:
    return httpx.get(url + path, headers={"X-API-Key": key}, timeout=30)


def served_version(url: str, key: str) -> str | None:
    answer = get(url, key)
    return answer.json()["version"] if answer.status_code == 200 else None


def test_two_instances_share_rate_limits_alerts_and_the_champion(replicas):
    from websockets.sync.client import connect

    from trading.alerts import record
    from training.scoring import LayerOutput, PatternHit, Score

    a, b = replicas["urls"]
    read, limited = replicas["keys"]["read"], replicas["keys"]["limited"]
    versions = lambda: [served_version(url, read) for url in (a, b)]  # noqa: E731
    until(lambda: versions() == ["1", "1"], "both instances serve champion v1", state=versions)

    # 1. one key's limit (5 a minute) across both instances: 3 requests to A, 3 to B -> the 6th is refused
    answers = [get(a, limited) for _ in range(3)] + [get(b, limited) for _ in range(3)]
    assert [r.status_code for r in answers] == [200] * 5 + [429]
    assert 1 <= int(answers[-1].headers["Retry-After"]) <= 60 and answers[-1].json()["error"]["code"] == "rate_limited"
    assert get(a, limited).status_code == 429  # and on A too

    # 2. an alert recorded by another process (the scanner's path) reaches the WebSocket clients of both
    scored = httpx.post(a + "/api/ml/score", json={"symbol": "SYNA"}, headers={"X-API-Key": read}, timeout=60)
    assert scored.status_code == 200, scored.text
    body = scored.json()
    score = Score(**{k: v for k, v in body.items() if k not in ("symbol", "as_of", "layers", "patterns")},
                  as_of=pd.Timestamp(body["as_of"]), layers={k: LayerOutput(**v) for k, v in body["layers"].items()},
                  patterns=tuple(PatternHit(**p) for p in body["patterns"]))
    sockets = [connect(url.replace("http://", "ws://") + "/ws?symbols=SYNA", additional_headers={"X-API-Key": read}) for url in (a, b)]
    try:
        for ws in sockets:
            assert json.loads(ws.recv(timeout=30))["type"] == "hello"
        alert_id, _ = record(replicas["engine"], "SYNA", "1d", score, threshold=0.5, window_minutes=10, model_name=FUSED_MODEL)
        assert alert_id is not None
        assert [next_event(ws, "alert", timeout=30)["data"]["id"] for ws in sockets] == [alert_id, alert_id]
    finally:
        for ws in sockets:
            ws.close()

    # 3. a champion swap in the registry reaches both (each polls the alias every TX_MODEL_POLL_S)
    mlflow = client(replicas["settings"].tracking_uri)
    first = mlflow.get_model_version(FUSED_MODEL, "1")
    second = str(mlflow.create_model_version(FUSED_MODEL, first.source, run_id=first.run_id).version)  # the same model, a new version
    mlflow.set_registered_model_alias(FUSED_MODEL, CHAMPION, second)
    until(lambda: versions() == [second, second], f"both instances serve v{second}", state=versions)
    for url in (a, b):
        answer = httpx.post(url + "/api/ml/score", json={"symbol": "SYNB"}, headers={"X-API-Key": read}, timeout=60)
        assert answer.status_code == 200 and answer.json()["model_version"] == second
    for log in replicas["logs"]:
        assert "Traceback" not in log.read_text()
