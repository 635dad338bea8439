"""Operations of the API: one JSON access line per request under the client's request id,
the same id on the logged traceback and on the Sentry event, which arrives once and scrubbed;
an unreachable Sentry never fails a request."""

import io
import json
import logging

import prometheus_client
import pytest
import sentry_sdk
from fastapi import Depends
from fastapi.testclient import TestClient

from serving import metrics
from serving.app import create_app
from serving.auth import require
from serving.champion import Champion, Served
from store.api_keys import create_key, verify_key
from store.db import make_engine
from tx import observability
from tx.processes import free_port
from tx.settings import load_settings
from cli.stores import setup_app_database


@pytest.fixture
def api(monkeypatch):
    """An app made by create_app with a failing route behind a read key, serving version 7;
    its logs go to a buffer as JSON lines."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    monkeypatch.setenv("TX_ENV", "staging")
    monkeypatch.setenv("TX_LOG_FORMAT", "json")

    def make() -> dict:
        settings = load_settings()
        logs = io.StringIO()
        observability.configure_logging(settings, logs)
        observability.init_sentry(settings, "service")
        setup_app_database(settings)
        engine = make_engine(settings.app_database_url)
        key = create_key(engine, "read", "ops test")
        key_id = verify_key(engine, key).key_id
        engine.dispose()
        champion = Champion(settings.tracking_uri)
        champion._served = Served("7", None, "run", "2026-01-01T00:00:00+00:00", {}, {})  # as if version 7 were loaded
        app = create_app(settings, champion)

        def boom(item: int, payload: dict, _=Depends(require("read"))) -> dict:
            raise RuntimeError(f"a bug while handling item {item}")

        app.add_api_route("/api/boom/{item}", boom, methods=["POST"], include_in_schema=False)
        return {"http": TestClient(app), "key": key, "key_id": key_id, "logs": logs}

    yield make
    root.handlers[:] = handlers  # the root logger as it was, away from the buffer
    root.setLevel(level)


def lines(logs: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in logs.getvalue().splitlines() if line.strip()]


def test_one_access_line_per_request_under_the_clients_request_id(api):
    made = api()
    answer = made["http"].get("/health", headers={"X-Request-ID": "abc123", "X-API-Key": made["key"]})
    assert answer.status_code == 200 and answer.headers["X-Request-ID"] == "abc123"
    access = [r for r in lines(made["logs"]) if r["logger"] == "tx.access"]
    assert len(access) == 1
    line = access[0]
    assert {k: line[k] for k in ("request_id", "method", "route", "status", "model_version")} == {
        "request_id": "abc123", "method": "GET", "route": "/health", "status": 200, "model_version": "7"}
    assert line["duration_ms"] >= 0 and line["level"] == "info" and "timestamp" in line
    assert made["key"] not in made["logs"].getvalue()


def test_the_route_template_and_key_id_not_the_path_or_key(api):
    made = api()
    answer = made["http"].get("/api/market/AAPL", headers={"X-API-Key": made["key"]})
    line = [r for r in lines(made["logs"]) if r["logger"] == "tx.access"][-1]
    assert line["route"] == "/api/market/{symbol}" and line["status"] == answer.status_code
    assert line["key_id"] == made["key_id"] and made["key"] not in made["logs"].getvalue()


def test_a_request_without_a_sane_id_gets_a_new_one(api):
    made = api()
    for headers in ({}, {"X-Request-ID": "no spaces or quotes, please\""}, {"X-Request-ID": "x" * 200}):
        answer = made["http"].get("/health", headers=headers)
        generated = answer.headers["X-Request-ID"]
        assert len(generated) == 32 and int(generated, 16) >= 0
        assert lines(made["logs"])[-1]["request_id"] == generated
    unmatched = made["http"].get("/nothing/here")
    assert unmatched.status_code == 404 and lines(made["logs"])[-1]["route"] is None  # no raw path in the log


def test_a_500_logs_its_traceback_under_the_answers_request_id(api):
    made = api()
    answer = made["http"].post("/api/boom/42", json={"note": "BODY-MARKER"}, headers={"X-API-Key": made["key"], "X-Request-ID": "req-500"})
    assert answer.status_code == 500 and answer.headers["X-Request-ID"] == "req-500"
    records = lines(made["logs"])
    error = [r for r in records if r["level"] == "error"]
    assert len(error) == 1 and error[0]["request_id"] == "req-500" and "RuntimeError: a bug" in error[0]["exception"]
    access = [r for r in records if r["logger"] == "tx.access"]
    assert [(a["request_id"], a["status"], a["route"]) for a in access] == [("req-500", 500, "/api/boom/{item}")]


def test_an_error_in_a_route_arrives_in_sentry_once_with_its_request_and_without_secrets(api, sentry):
    made = api()
    answer = made["http"].post("/api/boom/42", json={"note": "BODY-MARKER"},
                               headers={"X-API-Key": made["key"], "X-Request-ID": "abc123", "Authorization": "Bearer TOKEN-MARKER"})
    assert answer.status_code == 500
    assert made["http"].get("/api/ml/active-version", headers={"X-API-Key": made["key"]}).status_code in (200, 503)  # answers are not errors
    events = sentry.events()
    assert len(events) == 1, events
    event = events[0]
    assert event["tags"]["request_id"] == "abc123" and event["tags"]["route"] == "/api/boom/{item}"
    assert event["tags"]["model_version"] == "7" and event["tags"]["key_id"] == str(made["key_id"])
    assert event["environment"] == "staging" and event["release"] == observability.release()
    assert event["release"].startswith("tx-platform@0.1.0")
    assert event["transaction"] == "/api/boom/{item}"
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    raw = sentry.raw()
    secret = made["key"].split("_", 2)[2]  # token_urlsafe: the secret itself may hold "_"
    assert made["key"] not in raw and secret not in raw
    assert "x-api-key" not in raw.lower() and "TOKEN-MARKER" not in raw and "BODY-MARKER" not in raw


def test_an_unreachable_sentry_drops_the_event_and_the_request_still_answers(api, monkeypatch):
    monkeypatch.setenv("TX_SENTRY_DSN", f"http://public@127.0.0.1:{free_port()}/1")  # nothing listens there
    try:
        made = api()
        transport = sentry_sdk.get_client().transport
        lost, record = [], transport.record_lost_event
        monkeypatch.setattr(transport, "record_lost_event", lambda reason, *a, **k: (lost.append(reason), record(reason, *a, **k)))
        failed = made["http"].post("/api/boom/1", json={}, headers={"X-API-Key": made["key"]})
        assert failed.status_code == 500 and failed.json()["error"]["code"] == "internal"
        assert made["http"].get("/health").status_code == 200
        sentry_sdk.flush(timeout=5)
        assert "network_error" in lost  # the background transport gave the event up; the request never waited for it
    finally:
        sentry_sdk.get_client().close(timeout=1)
        sentry_sdk.get_global_scope().set_client(None)


def test_without_a_dsn_nothing_is_initialised(api):
    api()
    assert not observability.sentry_active()


def test_reading_workers_health_refreshes_the_gauges_the_alerts_use(api):
    made = api()
    assert made["http"].get("/api/workers/health", headers={"X-API-Key": made["key"]}).status_code == 200
    metrics.swapped("champion")(Served("3", None, "run", "now", {}, {}, registered_at=1_700_000_000.0))
    exposition = prometheus_client.generate_latest().decode()
    assert 'tx_worker_expected_interval_seconds{job="online_job"} 180.0' in exposition
    assert 'tx_worker_failing{job="alert_job"} 0.0' in exposition and "tx_workers_checked_timestamp_seconds " in exposition
    assert 'tx_model_registered_timestamp_seconds{line="champion"} 1.7e+09' in exposition


def test_an_admin_can_fail_a_request_on_purpose_to_check_error_reporting(sentry, tmp_path):
    """GET /api/debug/error (admin, outside the contract): a deliberate 500 that reaches the
    log and Sentry, for checking a deployment's error reporting end to end."""
    from fastapi.testclient import TestClient

    from serving.app import create_app
    from store.api_keys import create_key
    from store.db import make_engine
    from tx import observability
    from tx.settings import load_settings
    from cli.stores import setup_app_database

    settings = observability.setup("service", load_settings())
    setup_app_database(settings)
    engine = make_engine(settings.app_database_url)
    admin, read = create_key(engine, "admin", "ops"), create_key(engine, "read", "reader")
    app = create_app(settings)
    assert "/api/debug/error" not in app.openapi()["paths"]
    with TestClient(app, raise_server_exceptions=False) as http:
        assert http.get("/api/debug/error", headers={"X-API-Key": read}).status_code == 403
        failed = http.get("/api/debug/error", headers={"X-API-Key": admin, "X-Request-ID": "ops-check-1"})
    assert failed.status_code == 500 and failed.headers["x-request-id"] == "ops-check-1"
    (event,) = sentry.events()
    assert event["tags"]["request_id"] == "ops-check-1" and admin not in sentry.raw()
