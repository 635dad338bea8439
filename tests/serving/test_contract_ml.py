"""The contract of the model, signal, stats and health routes (issue 15), on the app in
process over temporary SQLite stores: validation before availability, typed answers in the
spec, finite numbers in risk and sizing, a keyed /health/detailed that names no connection
detail and answers within seconds, short 503s for a missing Dagster webserver."""

import time
from json import dumps

import pytest
from fastapi.testclient import TestClient

from market.synthetic import generate_many
from serving.app import create_app
from serving.champion import Champion
from serving.routers import health
from store.api_keys import create_key
from store.candles import upsert_candles
from store.db import make_engine
from tx.processes import free_port
from tx.settings import load_settings
from cli.stores import setup_app_database, setup_mlflow

MODEL_ROUTES = [  # (method, path, malformed input, valid input): every route that reads the served model
    ("POST", "/api/ml/score", {"json": {"symbol": 123}}, {"json": {"symbol": "SYNA"}}),
    ("POST", "/api/ml/score", {"json": {}}, {"json": {"symbol": "SYNA", "timeframe": "1d"}}),
    ("POST", "/api/ml/score/batch", {"json": {"items": []}}, {"json": {"items": [{"symbol": "SYNA"}]}}),
    ("POST", "/api/ml/deep-detect", {"json": {"symbol": "SYNA", "timeframe": "7d"}}, {"json": {"symbol": "SYNA"}}),
    ("POST", "/api/ml/multi-timeframe", {"json": {"symbol": "SYNA", "extra": 1}}, {"json": {"symbol": "SYNA"}}),
    ("POST", "/api/ml/online-predict", {"json": {"symbol": None}}, {"json": {"symbol": "SYNA"}}),
    ("GET", "/api/ml/feature-contrib", {"params": {"symbol": "!!"}}, {"params": {"symbol": "SYNA"}}),
    ("GET", "/api/ml/layer-attribution", {"params": {}}, {"params": {"symbol": "SYNA"}}),
    ("GET", "/api/ml/performance", {"params": {"period": "Y"}}, {"params": {"period": "W"}}),
    ("GET", "/api/market-scan", {"params": {"min_confidence": "inf"}}, {"params": {"min_confidence": 0.5}}),
    ("GET", "/api/entry-signals/SYNA", {"params": {"min_confidence": 2}}, {"params": {"min_confidence": 0.7}}),
    ("GET", "/api/exit-signals/SYNA", {"params": {"entry_price": "nan"}}, {"params": {"entry_price": 10}}),
]


@pytest.fixture
def app_and_keys(monkeypatch):
    monkeypatch.setenv("TX_DAGSTER_PORT", str(free_port()))  # nothing listens there: no Dagster webserver
    settings = load_settings()
    setup_mlflow(settings)
    setup_app_database(settings)
    engine = make_engine(settings.app_database_url)
    for symbol, candles in generate_many(["SYNA", "SYNB"], "1d", 120, seed=3).items():
        upsert_candles(engine, symbol, "1d", candles, "synthetic")
    keys = {scope: create_key(engine, scope, f"test {scope}") for scope in ("read", "trade", "admin")}
    engine.dispose()
    with TestClient(create_app(settings, Champion(settings.tracking_uri).start())) as http:  # no champion in this registry
        yield http, keys


def ask(http, keys, method, path, scope="read", json=None, **kwargs):
    """A request with a `scope` key; a `json` body as Python writes it (NaN and Infinity included, as a client might send)."""
    headers = {"X-API-Key": keys[scope]}
    if json is not None:
        kwargs["content"], headers["Content-Type"] = dumps(json), "application/json"
    return http.request(method, path, headers=headers, **kwargs)


def test_validation_comes_before_availability(app_and_keys):
    """No model is served: a malformed request is still a 422 (not a 503), a valid one a 503 with Retry-After."""
    http, keys = app_and_keys
    for method, path, bad, good in MODEL_ROUTES:
        refused = ask(http, keys, method, path, **bad)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_request", (method, path, bad, refused.text)
        unavailable = ask(http, keys, method, path, **good)
        assert unavailable.status_code == 503 and unavailable.json()["error"]["code"] == "no_model", (method, path, unavailable.text)
        assert int(unavailable.headers["Retry-After"]) >= 1
        assert "no version of tx-fused is" in unavailable.json()["error"]["message"]


def test_launching_runs_without_a_dagster_webserver_is_a_short_503(app_and_keys):
    http, keys = app_and_keys
    for path, scope in (("/api/ml/train", "admin"), ("/api/ml/online-update", "trade")):
        answer = ask(http, keys, "POST", path, scope=scope, json={})
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "orchestrator_unavailable", answer.text
        assert int(answer.headers["Retry-After"]) >= 1
        message = answer.json()["error"]["message"]
        assert "Dagster webserver" in message and len(message) < 200
        assert not any(word in message.lower() for word in ("mutation", "query", "{", "traceback", "variables"))
    assert ask(http, keys, "POST", "/api/ml/train", scope="admin", json={"note": 5}).status_code == 422
    assert ask(http, keys, "POST", "/api/ml/train", json={}).status_code == 403  # read key


def test_rl_action_is_typed_and_a_503_until_tx_rl_has_a_champion(app_and_keys):
    http, keys = app_and_keys
    answer = ask(http, keys, "POST", "/api/ml/rl-action", json={"symbol": "SYNA", "position": {"side": "long", "quantity": 3}})
    assert answer.status_code == 503 and answer.headers["Retry-After"] and answer.json()["error"]["code"] == "no_model"
    assert "no version of tx-rl is champion yet" in answer.json()["error"]["message"]
    assert ask(http, keys, "POST", "/api/ml/rl-action", json={}).status_code == 422
    assert ask(http, keys, "POST", "/api/ml/rl-action", json={"symbol": "SYNA", "position": {"quantity": -1}}).status_code == 422
    assert ask(http, keys, "POST", "/api/ml/rl-action", json={"symbol": "SYNA", "position": {"bars_held": -1}}).status_code == 422
    operation = http.get("/docs.json").json()["paths"]["/api/ml/rl-action"]["post"]
    assert {"404", "409", "422", "503"} <= set(operation["responses"]) and "501" not in operation["responses"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/RlRequest")
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/RlAction")


def test_promotion_of_an_unknown_version_is_a_404_and_needs_admin(app_and_keys):
    http, keys = app_and_keys
    missing = ask(http, keys, "POST", "/api/ml/promote", scope="admin", json={"version": "7"})
    assert missing.status_code == 404 and "no version 7" in missing.json()["error"]["message"]
    assert ask(http, keys, "POST", "/api/ml/promote", scope="trade", json={"version": "7"}).status_code == 403
    assert ask(http, keys, "POST", "/api/ml/promote", scope="admin", json={"version": "7", "force": "yes"}).status_code == 422
    responses = http.get("/docs.json").json()["paths"]["/api/ml/promote"]["post"]["responses"]
    assert {"200", "403", "404", "422"} <= set(responses)


def test_risk_assessment_takes_finite_quantities_only(app_and_keys):
    http, keys = app_and_keys
    book = ask(http, keys, "POST", "/api/risk-assessment", json={"positions": [{"symbol": "SYNA", "quantity": 10},
                                                                               {"symbol": "SYNB", "quantity": 5}]})
    assert book.status_code == 200 and book.json()["basis"] == "net value" and book.json()["observations"] == 119
    for quantity in (float("inf"), float("-inf"), float("nan"), 1e300, True, "10"):
        answer = ask(http, keys, "POST", "/api/risk-assessment", json={"positions": [{"symbol": "SYNA", "quantity": quantity}]})
        assert answer.status_code == 422 and answer.json()["error"]["field"] == "positions.0.quantity", (quantity, answer.text)
    for positions in ([{"symbol": "SYNA", "quantity": 10}, {"symbol": "SYNA", "quantity": -10}], [{"symbol": "SYNA", "quantity": 0}]):
        nothing = ask(http, keys, "POST", "/api/risk-assessment", json={"positions": positions})
        assert nothing.status_code == 422 and nothing.json()["error"]["code"] == "nothing_at_risk", nothing.text  # no made-up figures
    lookback = ask(http, keys, "POST", "/api/risk-assessment", json={"positions": [{"symbol": "SYNA", "quantity": 1}], "lookback": 100.0})
    assert lookback.status_code == 200 and lookback.json()["observations"] == 99  # 100.0 is a JSON integer
    assert ask(http, keys, "POST", "/api/risk-assessment", json={"positions": [{"symbol": "SYNA", "quantity": 1}],
                                                                 "lookback": "100"}).status_code == 422
    assert ask(http, keys, "POST", "/api/risk-assessment", json={"positions": [{"symbol": "NOPE", "quantity": 1}]}).status_code == 404


def test_position_sizing_takes_strict_finite_numbers(app_and_keys):
    http, keys = app_and_keys
    good = {"method": "fixed_fraction", "equity": 100000, "price": 50, "stop_price": 48}
    assert ask(http, keys, "POST", "/api/position-sizing", json=good).json()["quantity"] == 500
    for field, value in [("equity", "100000"), ("equity", True), ("equity", float("inf")), ("price", float("nan")), ("price", 1e-300),
                         ("stop_price", float("inf")), ("equity", 1e300)]:
        answer = ask(http, keys, "POST", "/api/position-sizing", json=good | {field: value})
        assert answer.status_code == 422 and answer.json()["error"]["field"] == field, (field, value, answer.text)
    same = ask(http, keys, "POST", "/api/position-sizing", json=good | {"stop_price": 50})
    assert same.status_code == 422 and same.json()["error"]["code"] == "bad_stop" and "stop_price must differ" in same.text
    kelly = ask(http, keys, "POST", "/api/position-sizing", json={"method": "kelly", "equity": 1, "price": 1})
    assert kelly.status_code == 422 and "needs win_probability, payoff_ratio" in kelly.json()["error"]["message"]
    schema = http.get("/docs.json").json()["components"]["schemas"]["SizingRequest"]
    assert {"if": {"properties": {"method": {"const": "kelly"}}, "required": ["method"]},
            "then": {"required": ["win_probability", "payoff_ratio"],
                     "properties": {"win_probability": {"type": "number"}, "payoff_ratio": {"type": "number"}}}} in schema["allOf"]


def test_every_route_here_declares_its_answer_and_errors(app_and_keys):
    http, _ = app_and_keys
    spec = http.get("/docs.json").json()
    ours = [(p, m, op) for p, ops in spec["paths"].items() for m, op in ops.items()
            if p.startswith(("/api/ml/", "/api/market-scan", "/api/entry-signals", "/api/exit-signals", "/api/risk-assessment",
                             "/api/position-sizing", "/api/stats/", "/api/provider-health", "/api/workers/health", "/health"))]
    assert len(ours) >= 28
    for path, method, op in ours:
        ok = next(code for code in op["responses"] if code.startswith("2"))
        assert "$ref" in op["responses"][ok]["content"]["application/json"]["schema"], (method, path)
        if path != "/health":
            assert {"401", "403", "422", "429", "503"} <= set(op["responses"]), (method, path)
    score = spec["paths"]["/api/ml/score"]["post"]["responses"]
    assert score["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Score") and {"404", "409", "413"} <= set(score)
    batch = spec["components"]["schemas"]["BatchScores"]["properties"]["results"]["items"]["anyOf"]
    assert {item["$ref"].rsplit("/", 1)[1] for item in batch} == {"Score", "FailedItem"}
    degraded = spec["paths"]["/health/detailed"]["get"]["responses"]["503"]
    assert "Retry-After" in degraded["headers"]
    shapes = degraded["content"]["application/json"]["schema"]["anyOf"]
    assert {s["$ref"].rsplit("/", 1)[1] for s in shapes} == {"HealthReport", "ErrorBody"}


def test_detailed_health_needs_a_key(app_and_keys):
    http, keys = app_and_keys
    assert http.get("/health/detailed").status_code == 401
    answer = ask(http, keys, "GET", "/health/detailed")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    database = report["stores"]["app_database"]
    assert report["status"] == "ok" and database["status"] == "ok" and database["latency_ms"] >= 0 and database["reason"] is None
    assert report["model"] == report["model"] | {"status": "none", "last_error": "no version of tx-fused is champion yet"}
    assert http.get("/health").status_code == 200  # liveness stays open


def test_detailed_health_with_the_database_down_names_nothing_and_is_quick(monkeypatch):
    monkeypatch.setenv("TX_DATABASE_URL", "postgresql://watcher:s3cret@127.0.0.1:1/tx_gone")
    monkeypatch.setenv("TX_API_OPEN_READS", "true")  # no key can be checked while the database is down
    settings = load_settings()
    setup_mlflow(settings)

    def hangs(_settings):  # a Dagster instance that does not answer
        time.sleep(20)

    monkeypatch.setattr(health, "scheduler_heartbeat", hangs)
    with TestClient(create_app(settings, Champion(settings.tracking_uri))) as http:
        started = time.monotonic()
        answer = http.get("/health/detailed")
        took = time.monotonic() - started
    assert took < health.CHECK_TIMEOUT_S + 2, f"took {took:.1f} s"
    assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1
    report = answer.json()
    database = report["stores"]["app_database"]
    assert report["status"] == "degraded" and set(database) == {"status", "latency_ms", "reason"}
    assert database["status"] == "down" and database["reason"] == "unreachable"
    assert report["stores"]["mlflow"]["status"] == "ok" and report["providers"]["status"] == "unknown"
    assert report["scheduler"] == {"status": "down", "latency_ms": None, "reason": "timed out"}
    for secret in ("127.0.0.1", "tx_gone", "watcher", "s3cret", "psycopg", "OperationalError", "5432", "connection"):
        assert secret not in answer.text, secret
