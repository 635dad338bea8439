"""The failure model: a store that goes away is a 503 with Retry-After naming it, within
seconds, and the service recovers by itself when it returns; an error answer never costs
the client its keep-alive connection."""

import threading
import time

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.champion import Champion
from store.api_keys import create_key
from store.db import make_engine
from tests.serving.throwaway_pg import Cluster, bindir
from tx.processes import free_port
from tx.settings import load_settings
from cli.stores import setup_app_database, setup_mlflow

pytestmark = pytest.mark.skipif(bindir() is None, reason="PostgreSQL's initdb is not installed")


@pytest.fixture
def cluster():
    pg = Cluster()
    pg.start()
    yield pg
    try:
        pg.stop()
    except RuntimeError:  # already stopped by the test
        pass
    pg.remove()


def test_database_outage_is_a_503_with_retry_after_and_the_service_recovers(cluster, monkeypatch):
    monkeypatch.setenv("TX_DATABASE_URL", cluster.url)
    monkeypatch.setenv("TX_READ_CACHE_S", "0")  # every read goes to the database
    settings = load_settings()
    setup_mlflow(settings)
    setup_app_database(settings)
    engine = make_engine(settings.app_database_url)
    key = create_key(engine, "read", "outage")
    engine.dispose()
    headers = {"X-API-Key": key}
    with TestClient(create_app(settings, Champion(settings.tracking_uri))) as http:
        assert http.get("/api/symbols", headers=headers).status_code == 200
        cluster.stop()
        for path in ("/api/symbols", "/api/alerts", "/api/paper-trades", "/api/sentiment/aggregate"):
            started = time.monotonic()
            answer = http.get(path, headers=headers)
            took = time.monotonic() - started
            assert answer.status_code == 503, (path, answer.text)
            assert int(answer.headers["Retry-After"]) >= 1 and answer.json()["error"]["code"] == "store_unavailable"
            assert "app database" in answer.json()["error"]["message"] and str(cluster.port) not in answer.text
            assert took < 5, f"{path} took {took:.1f} s to say the database is down"
        started = time.monotonic()
        health = http.get("/health/detailed", headers=headers)
        assert health.status_code == 503 and time.monotonic() - started < 8
        assert str(cluster.port) not in health.text and "127.0.0.1" not in health.text
        assert http.get("/health").status_code == 200  # liveness touches no store
        cluster.start()
        deadline = time.monotonic() + 20
        while (answer := http.get("/api/symbols", headers=headers)).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert answer.status_code == 200, answer.text  # recovered without a restart


def test_a_connection_stays_usable_after_an_error_answer(tmp_path):
    """A route that fails unexpectedly answers 500 in the one error shape, and the same
    keep-alive connection serves the next requests (no handler re-raises)."""
    settings = load_settings()
    setup_mlflow(settings)
    setup_app_database(settings)
    app = create_app(settings, Champion(settings.tracking_uri))

    def boom() -> dict:
        raise RuntimeError("a bug")

    app.add_api_route("/boom", boom)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        peers = set()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(20):
                failed = client.get("/boom")
                assert failed.status_code == 500 and failed.json()["error"]["code"] == "internal"
                assert "a bug" not in failed.text and "Traceback" not in failed.text
                ok = client.get("/health")
                assert ok.status_code == 200
                peers.add(ok.extensions["network_stream"].get_extra_info("client_addr"))
        assert len(peers) == 1  # one connection throughout
    finally:
        server.should_exit = True
        thread.join(10)
