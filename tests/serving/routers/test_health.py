"""serving/routers/health.py: the detailed health with a store down, and the providers', workers'
and scheduler's health over HTTP."""

import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from tx.settings import load_settings

from tests.serving.client import call

pytestmark = pytest.mark.e2e


def test_detailed_health_reports_a_store_that_is_down(monkeypatch):
    monkeypatch.setenv("TX_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/tx_down")
    monkeypatch.setenv("TX_API_OPEN_READS", "true")  # no key can be checked while the app database is down
    with TestClient(create_app(load_settings())) as http:
        answer = http.get("/health/detailed")
        assert answer.status_code == 503 and answer.json()["status"] == "degraded" and int(answer.headers["Retry-After"]) >= 1
        assert answer.json()["stores"]["app_database"]["status"] == "down" and answer.json()["model"]["status"] == "none"
        assert answer.json()["stores"]["app_database"]["reason"] == "unreachable"
        assert "127.0.0.1" not in answer.text and "tx_down" not in answer.text  # no connection details
        assert http.get("/health").status_code == 200


def test_provider_worker_and_detailed_health(svc):
    providers = {p["provider"]: p for p in call(svc, "GET", "/api/provider-health").json()["providers"]}
    assert providers["bundled"]["state"] == "closed" and providers["bundled"]["latency_ms"] == pytest.approx(12.0)
    assert providers["bundled"]["last_success_at"] == "2026-11-01T00:00:00Z" and providers["bundled"]["configured"]
    assert providers["polygon"]["state"] == "open" and providers["polygon"]["last_error"] == "rate limited: 429"
    assert not providers["polygon"]["configured"] and providers["local"]["state"] == "unknown"  # configured, never called
    workers = call(svc, "GET", "/api/workers/health").json()
    assert {w["job"] for w in workers["workers"]} == {"series_pipeline", "alert_job", "online_job", "training_job", "champion_job", "backtest_job", "news_job", "monitoring_job"}
    online = next(w for w in workers["workers"] if w["job"] == "online_job")
    assert online["expected_every_s"] == 180 and online["state"] == "never ran" and online["last_run"] is None
    detailed = call(svc, "GET", "/health/detailed").json()
    assert detailed["providers"]["status"] == "ok" and len(detailed["providers"]["providers"]) == 3
    assert detailed["scheduler"]["status"] == "ok" and detailed["scheduler"]["heartbeat"] is None  # no Dagster daemon here
