"""The predictor over HTTP, on a real `bentoml serve` process on a free port: scoring (stored
and given candles), layer views, models, promotion through the gate, auth, rate limits,
bad input (4xx with one error shape, never a 5xx) and a champion swap under load."""

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import mlflow
import pytest
from fastapi.testclient import TestClient

from features import BaseRates, build_features, triple_barrier
from market.files import bundled
from market.synthetic import generate_many
from market.universe import Series
from serving.app import create_app
from serving.champion import Champion
from store.api_keys import create_key
from features.patterns import detections
from store.candles import upsert_candles
from store.patterns import replace_detections
from store.db import make_engine
from training.fit import TrainConfig
from training.pipeline import SeriesData, train_and_promote
from training.windows import windows
from tx.processes import bentoml_server, free_port, wait_ready
from tx.settings import load_settings
from tx.stores import setup_app_database, setup_mlflow

QUICK = TrainConfig(n_splits=3, tune_trials=1, deep_trials=0, deep_epochs=1)
pytestmark = pytest.mark.e2e


@contextmanager
def environment(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    home = tmp_path_factory.mktemp("svc")
    env = {"TX_ENV_FILE": str(home / "no.env"), "TX_HOME": str(home / "tx"), "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
           "TX_MLFLOW_ARTIFACTS": str(home / "artifacts"), "TX_MODEL_POLL_S": "1"}
    with environment(env):
        settings = load_settings()
        setup_app_database(settings)
        setup_mlflow(settings)
        engine = make_engine(settings.app_database_url)
        googl = bundled().read(Series("GOOGL", "1d"))
        upsert_candles(engine, "GOOGL", "1d", googl, "bundled")
        replace_detections(engine, "GOOGL", "1d", detections(googl, "1d"))  # what the patterns asset stores
        frames = generate_many(["SYNA", "SYNB", "SYNC"], "1d", 1500, seed=9, signal=0.5)
        for symbol, candles in frames.items():
            upsert_candles(engine, symbol, "1d", candles, "synthetic")
        series = [SeriesData(s, "1d", c, triple_barrier(c, horizon=2)) for s, c in frames.items()]
        first = train_and_promote(series, tracking_uri=settings.tracking_uri, artifact_root=settings.mlflow_artifacts,
                                  label_config={"horizon": 2}, config=QUICK)
        assert first.decision.promoted
        keys = {scope: create_key(engine, scope, f"test {scope}") for scope in ("read", "trade", "admin")}
        keys["limited"] = create_key(engine, "read", "limited", rate_limit_per_minute=3)
        engine.dispose()
        server = bentoml_server("127.0.0.1", free_port(), log=home / "bentoml.log")
        server.env = env
        server.start()
        try:
            wait_ready([server], timeout_s=120)
            yield {"url": server.ui_url, "keys": keys, "frames": frames, "series": series, "settings": settings, "env": env, "log": home / "bentoml.log"}
        finally:
            server.stop()


def call(svc, method: str, path: str, key: str | None = "read", **kwargs) -> httpx.Response:
    headers = {"X-API-Key": svc["keys"][key]} if key else {}
    return httpx.request(method, svc["url"] + path, headers=headers, timeout=60, **kwargs)


def as_body(candles) -> list[dict]:
    return [{"timestamp": t.isoformat(), "open": r.open, "high": r.high, "low": r.low, "close": r.close, "volume": r.volume}
            for t, r in candles.iterrows()]


def test_score_a_stored_symbol(svc):
    answer = call(svc, "POST", "/api/ml/score", json={"symbol": "SYNA", "timeframe": "1d"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert 0 <= body["probability"] <= 1 and body["direction"] in ("up", "down", "neutral") and body["model_version"] == "1"
    assert set(body["layers"]) == {"pattern", "deep", "multitimeframe", "sentiment"}
    assert body["confidence"] == pytest.approx(max(body["probability"], 1 - body["probability"]))
    assert "The fused model gives" in body["explanation"] and body["bars_used"] == 600


def test_service_features_equal_the_batch_features(svc):
    """One feature path: the service scores given candles exactly as the batch features do."""
    candles = svc["frames"]["SYNB"].iloc[:700]
    answer = call(svc, "POST", "/api/ml/score", json={"candles": as_body(candles), "timeframe": "1d"})
    assert answer.status_code == 200, answer.text
    mlflow.set_registry_uri(svc["settings"].tracking_uri)
    model = mlflow.pyfunc.load_model("models:/tx-fused/1").unwrap_python_model()
    batch = build_features(candles, "1d", BaseRates(model.base_rates_table))  # what the features asset computes
    X, _ = model.inputs(candles, "1d")
    assert X[batch.columns].equals(batch)
    expected = model.explain_inputs(X.iloc[-1:], windows(candles, X, model.window)[-1:]).iloc[0]
    assert answer.json()["probability"] == pytest.approx(float(expected["probability"]), abs=1e-6)


def test_layer_views_models_and_versions(svc):
    deep = call(svc, "POST", "/api/ml/deep-detect", json={"symbol": "SYNA"}).json()
    assert set(deep["nets"]) == {"cnn", "lstm"} and deep["window_bars"] == 32
    mtf = call(svc, "POST", "/api/ml/multi-timeframe", json={"symbol": "SYNA"}).json()
    assert len(mtf["features"]) == 10 and {"feature", "value", "effect"} <= set(mtf["features"][0])
    contrib = call(svc, "GET", "/api/ml/feature-contrib", params={"symbol": "SYNA"}).json()
    assert set(contrib["layers"]) == {"pattern", "deep", "multitimeframe", "sentiment"} and contrib["multitimeframe_features"]
    attribution = call(svc, "GET", "/api/ml/layer-attribution", params={"symbol": "SYNA"}).json()
    assert attribution["layers"]["multitimeframe"]["walk_forward_auc"] > 0.5
    models = call(svc, "GET", "/api/ml/models").json()["models"]
    assert models[0]["name"] == "tx-fused" and "champion" in models[0]["aliases"] and models[0]["gate"]["promoted"] == "True"
    info = call(svc, "GET", "/api/ml/model-info").json()
    assert info["version"] == "1" and info["metrics"]["wf_auc"] > 0.6 and info["lineage"]["symbols"] == "SYNA,SYNB,SYNC"
    assert call(svc, "GET", "/api/ml/active-version").json()["version"] == "1"
    health = httpx.get(svc["url"] + "/health/detailed", timeout=30).json()
    assert health["status"] == "ok" and health["stores"]["app_database"]["status"] == "ok" and health["stores"]["mlflow"]["status"] == "ok"
    assert health["model"]["version"] in ("1", "2") and health["model"]["poll_s"] == 1
    batch = call(svc, "POST", "/api/ml/score/batch", json={"items": [{"symbol": "SYNA"}, {"symbol": "NOPE"}]}).json()
    assert batch["results"][0]["model_version"] == "1" and batch["results"][1]["error"]["code"] == "not_found"
    gone = call(svc, "POST", "/api/ml/rl-action", json={})
    assert gone.status_code == 501 and "not part of this release" in gone.json()["error"]["message"]


@pytest.mark.parametrize(("body", "status", "message"), [
    ({}, 422, "give either `symbol`"),
    ({"symbol": "SYNA", "candles": []}, 422, "candles"),
    ({"symbol": "NOPE"}, 404, "no stored candles for NOPE:1d; stored: GOOGL:1d, SYNA:1d"),
    ({"symbol": "SYNA", "timeframe": "7d"}, 422, "timeframe"),
    ({"symbol": "bad symbol!"}, 422, "symbol"),
    ({"candles": [{"timestamp": "2020-01-01T00:00:00Z", "open": 1, "high": 1, "low": 1, "close": 1, "volume": 1}] * 5}, 422, "candles"),
    ({"candles": [{"timestamp": "2020-01-01T00:00:00", "open": 1, "high": 1, "low": 1, "close": 1, "volume": 1}] * 40}, 422, "timezone"),
    ({"candles": [{"timestamp": "2020-01-01T00:00:00Z", "open": -1, "high": 1, "low": 1, "close": 1, "volume": 1}] * 40}, 422, "open"),
])
def test_bad_input_is_a_clear_4xx(svc, body, status, message):
    answer = call(svc, "POST", "/api/ml/score", json=body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]["message"] and "Traceback" not in answer.text


def test_inconsistent_candles_and_malformed_json_are_refused(svc):
    candles = as_body(svc["frames"]["SYNA"].iloc[:100])
    candles[50]["high"] = candles[50]["low"] / 2
    answer = call(svc, "POST", "/api/ml/score", json={"candles": candles})
    assert answer.status_code == 422 and "high/low" in answer.json()["error"]["message"]
    answer = httpx.post(svc["url"] + "/api/ml/score", content=b"{not json", headers={"Content-Type": "application/json"}, timeout=30)
    assert answer.status_code in (401, 422) and "error" in answer.json()  # no key and no JSON: a 4xx either way
    answer = httpx.post(svc["url"] + "/api/ml/score", content=b"{not json",
                        headers={"Content-Type": "application/json", "X-API-Key": svc["keys"]["read"]}, timeout=30)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_request"


def test_keys_scopes_and_rate_limits(svc):
    missing = call(svc, "GET", "/api/ml/models", key=None)
    assert missing.status_code == 401 and "tx api-key create --scope read" in missing.json()["error"]["message"]
    wrong = httpx.get(svc["url"] + "/api/ml/models", headers={"X-API-Key": "tx_dead_beef"}, timeout=30)
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "unknown or revoked API key"
    assert call(svc, "POST", "/api/ml/promote", json={"version": "1"}).status_code == 403  # read key
    assert call(svc, "POST", "/api/ml/promote", key="trade", json={"version": "1"}).status_code == 403
    codes = [call(svc, "GET", "/api/ml/active-version", key="limited").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = call(svc, "GET", "/api/ml/active-version", key="limited")
    assert int(limited.headers["Retry-After"]) >= 1 and "rate limit of 3" in limited.json()["error"]["message"]
    cors = httpx.options(svc["url"] + "/api/ml/models", headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "GET"})
    assert cors.headers.get("access-control-allow-origin") == "http://localhost:5173"
    evil = httpx.options(svc["url"] + "/api/ml/models", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert "access-control-allow-origin" not in evil.headers


def test_champion_swap_under_concurrent_requests(svc):
    settings = svc["settings"]
    with environment(svc["env"]):
        second = train_and_promote(svc["series"], tracking_uri=settings.tracking_uri, artifact_root=settings.mlflow_artifacts,
                                   label_config={"horizon": 2}, config=TrainConfig(n_splits=3, tune_trials=1, deep_trials=0, deep_epochs=1, seed=5))
    assert second.logged.version == "2"
    missing = call(svc, "POST", "/api/ml/promote", key="admin", json={"version": "9"})
    assert missing.status_code == 404

    def score(_: int) -> tuple[int, str]:
        answer = call(svc, "POST", "/api/ml/score", json={"symbol": "SYNC"})
        return answer.status_code, answer.json().get("model_version", "")

    with ThreadPoolExecutor(8) as pool:
        before = pool.map(score, range(24))
        promoted = call(svc, "POST", "/api/ml/promote", key="admin", json={"version": "2", "force": True})
        after = list(pool.map(score, range(24)))
    assert promoted.status_code == 200 and promoted.json()["promoted"] and promoted.json()["forced"]
    assert "forced by test admin" in promoted.json()["reason"]
    results = list(before) + after
    assert {code for code, _ in results} == {200} and {v for _, v in results} <= {"1", "2"}
    assert call(svc, "GET", "/api/ml/active-version").json()["version"] == "2"
    assert "Traceback" not in Path(svc["log"]).read_text()


def test_no_champion_answers_503_and_stays_healthy(tmp_path):
    settings = load_settings()
    setup_mlflow(settings)
    setup_app_database(settings)
    key = create_key(make_engine(settings.app_database_url), "read")
    with TestClient(create_app(settings, Champion(settings.tracking_uri).start())) as http:
        answer = http.post("/api/ml/score", json={"symbol": "SPX"}, headers={"X-API-Key": key})
        assert answer.status_code == 503 and "no version of tx-fused is champion yet" in answer.json()["error"]["message"]
        assert http.get("/health").status_code == 200


def test_market_reads(svc):
    bars = call(svc, "GET", "/api/candles/GOOGL", params={"timeframe": "1d", "limit": 5}).json()
    assert bars["count"] == 5 and bars["candles"][-1]["timestamp"] == "2018-08-29T00:00:00Z"
    last_close = bars["candles"][-1]["close"]
    window = call(svc, "GET", "/api/historical/GOOGL", params={"start": "2018-01-01T00:00:00Z", "end": "2018-01-31T00:00:00Z"}).json()
    assert window["count"] == 21 and all(c["timestamp"].startswith("2018-01") for c in window["candles"])
    snap = call(svc, "GET", "/api/market/GOOGL").json()
    assert snap["last_price"] == last_close and snap["as_of"] == "2018-08-29T00:00:00Z" and 0 < snap["volatility_annualized"] < 1
    data = call(svc, "GET", "/api/market-data/GOOGL").json()
    assert data["last_price"] == last_close and -0.5 <= data["indicators"]["rsi_14"] <= 0.5
    universe = call(svc, "GET", "/api/symbols").json()["symbols"]
    assert [s["symbol"] for s in universe] == ["GOOGL", "SYNA", "SYNB", "SYNC"]
    assert universe[0]["timeframes"][0] == {"timeframe": "1d", "bars": 2335, "first": "2009-05-22T00:00:00Z", "last": "2018-08-29T00:00:00Z"}
    covered = {(s["symbol"], s["timeframe"]): s for s in call(svc, "GET", "/api/data-coverage").json()["series"]}
    assert covered[("GOOGL", "1d")]["providers"] == {"bundled": 2335} and covered[("SYNA", "1d")]["providers"] == {"synthetic": 1500}


@pytest.mark.parametrize(("path", "params", "status", "message"), [
    ("/api/candles/NOPE", {}, 404, "no stored candles for NOPE:1d; stored: GOOGL:1d"),
    ("/api/candles/GOOGL", {"limit": 0}, 422, "limit"),
    ("/api/candles/GOOGL", {"timeframe": "2d"}, 422, "timeframe"),
    ("/api/candles/GOOGL", {"start": "2018-02-01T00:00:00Z", "end": "2018-01-01T00:00:00Z"}, 422, "start is after end"),
    ("/api/candles/GOOGL", {"start": "2018-02-01"}, 422, "start"),
    ("/api/candles/GO!GL", {}, 422, "symbol"),
    ("/api/intraday/GOOGL", {"timeframe": "1d"}, 422, "intraday is one of"),
    ("/api/intraday/GOOGL", {}, 404, "no stored candles for GOOGL:1h"),
    ("/api/market/NOPE", {}, 404, "no stored candles"),
])
def test_market_bad_input(svc, path, params, status, message):
    answer = call(svc, "GET", path, params=params)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]["message"]


def test_detailed_health_reports_a_store_that_is_down(monkeypatch):
    monkeypatch.setenv("TX_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/unreachable")
    with TestClient(create_app(load_settings())) as http:
        answer = http.get("/health/detailed")
        assert answer.status_code == 503 and answer.json()["status"] == "degraded"
        assert answer.json()["stores"]["app_database"]["status"] == "down" and answer.json()["model"]["status"] == "none"
        assert http.get("/health").status_code == 200


def test_pattern_reads(svc):
    catalogue = call(svc, "GET", "/api/patterns/list").json()["patterns"]
    assert len(catalogue) == 61
    engulfing = next(p for p in catalogue if p["pattern"] == "CDLENGULFING")
    assert engulfing["name"] == "Engulfing Pattern" and engulfing["direction_on_bundled_data"] == "both"
    found = call(svc, "POST", "/api/detect", json={"symbol": "SYNA", "last_bars": 100}).json()
    assert found["bars"] == 600 and found["detections"] and all(0 < d["confidence"] < 1 for d in found["detections"])
    given = call(svc, "POST", "/api/detect", json={"candles": as_body(svc["frames"]["SYNB"].iloc[:300]), "last_bars": 300}).json()
    assert given["symbol"] is None and len(given["detections"]) > 10
    stored = call(svc, "GET", "/api/patterns/GOOGL", params={"limit": 7}).json()["detections"]
    assert len(stored) == 7 and stored[-1]["timestamp"] <= "2018-08-29T00:00:00Z"
    cells = call(svc, "GET", "/api/pattern-heatmap", params={"days": 30}).json()["cells"]
    assert cells and {c["symbol"] for c in cells} == {"GOOGL"} and all(c["count"] >= 1 for c in cells)
    assert call(svc, "POST", "/api/detect", json={"symbol": "SYNA", "last_bars": 0}).status_code == 422
    assert call(svc, "POST", "/api/detect", json={"symbol": "NOPE"}).status_code == 404
    assert call(svc, "GET", "/api/patterns/GOOGL", params={"limit": 0}).status_code == 422


def test_signals_risk_and_sizing(svc):
    entry = call(svc, "GET", "/api/entry-signals/SYNA", params={"min_confidence": 0.55}).json()
    assert entry["signal"] in ("long", "short", "none") and entry["model_version"] in ("1", "2")
    if entry["signal"] != "none":
        assert (entry["target"] - entry["entry"]) * (entry["entry"] - entry["stop"]) > 0
    price = call(svc, "GET", "/api/market/SYNA").json()["last_price"]
    exit_ = call(svc, "GET", "/api/exit-signals/SYNA", params={"side": "long", "entry_price": price}).json()
    assert exit_["action"] in ("hold", "exit") and exit_["reason"] and exit_["unrealized_return"] == pytest.approx(0)
    book = call(svc, "POST", "/api/risk-assessment", json={"positions": [{"symbol": "SYNA", "quantity": 10}, {"symbol": "SYNB", "quantity": 5}]}).json()
    assert book["basis"] == "net value" and 0 < book["var"] <= book["cvar"] and 0 < book["max_drawdown"] < 1 and book["observations"] == 499
    hedged = call(svc, "POST", "/api/risk-assessment", json={"positions": [{"symbol": "SYNA", "quantity": 10}, {"symbol": "SYNA", "quantity": -10}]})
    assert hedged.status_code == 422  # nothing at risk: no figures rather than made-up ones
    size = call(svc, "POST", "/api/position-sizing", json={"method": "fixed_fraction", "equity": 100000, "price": 50, "stop_price": 48}).json()
    assert size["quantity"] == 500
    for body, message in [({"method": "kelly", "equity": 1, "price": 1}, "needs win_probability, payoff_ratio"),
                          ({"method": "magic", "equity": 1, "price": 1}, "method"),
                          ({"method": "fixed_fraction", "equity": 1, "price": 1, "stop_price": 1}, "stop_price must differ")]:
        answer = call(svc, "POST", "/api/position-sizing", json=body)
        assert answer.status_code == 422 and message in answer.json()["error"]["message"], answer.text
    assert call(svc, "GET", "/api/exit-signals/SYNA", params={"entry_price": -1}).status_code == 422
    assert call(svc, "POST", "/api/risk-assessment", json={"positions": [{"symbol": "NOPE", "quantity": 1}]}).status_code == 404
