"""The predictor over HTTP, on a real `bentoml serve` process on a free port: scoring (stored
and given candles), layer views, models, promotion through the gate, auth, rate limits,
bad input (4xx with one error shape, never a 5xx) and a champion swap under load."""

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from features import BaseRates, build_features, triple_barrier
from market.files import bundled
from market.universe import Series
from serving.app import create_app
from serving.champion import Champion
from store.api_keys import create_key
from store.db import make_engine
from store.predictions import log_predictions
from sklearn.metrics import roc_auc_score
from training.fit import TrainConfig
from training.pipeline import train_and_promote
from training.windows import windows
from tx.settings import load_settings
from cli.stores import setup_app_database, setup_mlflow
from tests.serving.conftest import environment

pytestmark = pytest.mark.e2e


def call(svc, method: str, path: str, key: str | None = "read", headers: dict | None = None, **kwargs) -> httpx.Response:
    headers = ({"X-API-Key": svc["keys"][key]} if key else {}) | (headers or {})
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
    assert httpx.get(svc["url"] + "/health/detailed", timeout=30).status_code == 401  # a read key, like every other report
    health = call(svc, "GET", "/health/detailed").json()
    assert health["status"] == "ok" and health["stores"]["app_database"]["status"] == "ok" and health["stores"]["mlflow"]["status"] == "ok"
    assert health["model"]["version"] in ("1", "2") and health["model"]["poll_s"] == 1
    batch = call(svc, "POST", "/api/ml/score/batch", json={"items": [{"symbol": "SYNA"}, {"symbol": "NOPE"}]}).json()
    assert batch["results"][0]["model_version"] == "1" and batch["results"][1]["error"]["code"] == "not_found"
    assert call(svc, "POST", "/api/ml/rl-action", json={}).status_code == 422  # typed: the symbol is required
    gone = call(svc, "POST", "/api/ml/rl-action", json={"symbol": "SYNA"})
    assert gone.status_code == 501 and "not part of this release" in gone.json()["error"]["message"]


@pytest.mark.parametrize(("body", "status", "message"), [
    ({}, 422, "give `symbol` (stored candles) or `candles`: neither was given"),
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
        assert int(answer.headers["Retry-After"]) >= 1
        malformed = http.post("/api/ml/score", json={"symbol": 123}, headers={"X-API-Key": key})
        assert malformed.status_code == 422 and malformed.json()["error"]["field"] == "symbol"  # validation before availability
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
    monkeypatch.setenv("TX_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/tx_down")
    monkeypatch.setenv("TX_API_OPEN_READS", "true")  # no key can be checked while the app database is down
    with TestClient(create_app(load_settings())) as http:
        answer = http.get("/health/detailed")
        assert answer.status_code == 503 and answer.json()["status"] == "degraded" and int(answer.headers["Retry-After"]) >= 1
        assert answer.json()["stores"]["app_database"]["status"] == "down" and answer.json()["model"]["status"] == "none"
        assert answer.json()["stores"]["app_database"]["reason"] == "unreachable"
        assert "127.0.0.1" not in answer.text and "tx_down" not in answer.text  # no connection details
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


def test_docs_openapi_and_metrics(svc):
    spec = httpx.get(svc["url"] + "/swagger.json", timeout=30).json()
    assert {"/api/ml/score", "/api/market-scan", "/api/stats/system"} <= set(spec["paths"])
    assert spec == httpx.get(svc["url"] + "/docs.json", timeout=30).json()  # one spec, two names
    assert httpx.get(svc["url"] + "/healthz", timeout=30).status_code == 200  # BentoML's probes answer beside the contract
    docs = httpx.get(svc["url"] + "/docs", timeout=30, follow_redirects=True)
    assert docs.status_code == 200 and "swagger" in docs.text.lower() and "TX Predictive Intelligence" in docs.text
    assert call(svc, "POST", "/api/ml/score", json={"symbol": "SYNA"}).status_code == 200
    metrics = httpx.get(svc["url"] + "/metrics", timeout=30).text
    assert 'tx_predictions_total{endpoint="score",model_version=' in metrics
    assert re.search(r'tx_model_version\{line="champion",pid="\d+"\} [12]\.0', metrics) and "tx_prediction_seconds_bucket" in metrics
    assert "bentoml_service_request" in metrics  # BentoML's own request metrics beside ours


def test_stats(svc):
    system = call(svc, "GET", "/api/stats/system").json()
    assert system["database"] == svc["backend"] and system["series"] == 4 and system["rows"]["candles"] == 2335 + 3 * 1500
    patterns = call(svc, "GET", "/api/stats/patterns").json()
    assert patterns["detections"] == patterns["bullish"] + patterns["bearish"] > 100 and patterns["series"] == 1
    assert patterns["top_patterns"][0]["count"] >= patterns["top_patterns"][-1]["count"]
    ml = call(svc, "GET", "/api/stats/ml").json()
    assert ml["versions"] >= 1 and ml["champion_version"] in ("1", "2") and ml["champion_wf_auc"] > 0.6
    assert call(svc, "GET", "/api/stats/trading").json() == {"trades": 0, "open": 0, "closed": 0, "wins": 0, "losses": 0, "win_rate": None,
                                                             "realized_pnl": 0.0, "fees": 0.0, "avg_win": None, "avg_loss": None,
                                                             "by_symbol": {}, "alerts": {}}


def reference_pattern_figures(candles, name: str, horizon: int) -> tuple[int, int, float, float]:
    """(count, matured, win rate, mean signed return) by a plain loop over TA-Lib's output."""
    import talib
    raw = getattr(talib, name)(*(candles[k].to_numpy() for k in ("open", "high", "low", "close")))
    close, returns, count = candles["close"].to_numpy(), [], 0
    for t, v in enumerate(raw):
        if v:
            count += 1
            if t + horizon < len(close):
                returns.append((1 if v > 0 else -1) * (close[t + horizon] / close[t] - 1))
    return count, len(returns), sum(r > 0 for r in returns) / len(returns), sum(returns) / len(returns)


def test_pattern_performance_history_confidence(svc):
    googl = bundled().read(Series("GOOGL", "1d"))
    table = call(svc, "GET", "/api/pattern-performance", params={"symbol": "GOOGL", "horizon": 5}).json()
    engulfing = next(r for r in table["patterns"] if r["pattern"] == "CDLENGULFING")
    count, matured, win, mean = reference_pattern_figures(googl, "CDLENGULFING", 5)
    assert (engulfing["count"], engulfing["matured"]) == (count, matured) and engulfing["timeframe"] == "1d"
    assert engulfing["win_rate"] == pytest.approx(win, abs=1e-6) and engulfing["mean_return"] == pytest.approx(mean, abs=1e-6)
    everything = call(svc, "GET", "/api/pattern-performance", params={"timeframe": "1d"}).json()
    assert len(everything["series"]) == 4
    history = call(svc, "GET", "/api/patterns/history/GOOGL", params={"pattern": "engulfing", "limit": 500}).json()["detections"]
    assert len(history) == count and {"timestamp", "direction", "return", "outcome"} <= set(history[0])
    assert all(h["outcome"] == ("hit" if h["return"] > 0 else "miss") for h in history if h["return"] is not None)
    conf = {c["pattern"]: c for c in call(svc, "GET", "/api/patterns/confidence/GOOGL").json()["patterns"]}
    assert conf["CDLENGULFING"]["matured"] == matured and 0 < conf["CDLENGULFING"]["confidence"] < 1
    assert conf["CDLENGULFING"]["own_hit_rate"] == pytest.approx(win, abs=1e-4)
    assert call(svc, "GET", "/api/patterns/history/GOOGL", params={"pattern": "nonsense"}).status_code == 422
    assert call(svc, "GET", "/api/pattern-performance", params={"symbol": "NOPE"}).status_code == 404


def test_pattern_validate_explain_backtest(svc):
    googl = bundled().read(Series("GOOGL", "1d"))
    stored = call(svc, "GET", "/api/patterns/GOOGL", params={"limit": 5000}).json()["detections"]
    hit = next(d for d in stored if d["pattern"] == "CDLENGULFING")
    valid = call(svc, "POST", "/api/patterns/validate", json={"symbol": "GOOGL", "pattern": "CDLENGULFING", "timestamp": hit["timestamp"]}).json()
    assert valid["valid"] and valid["direction"] == hit["direction"]
    quiet = next(t for t in googl.index[100:] if not any(d["timestamp"] == t.isoformat().replace("+00:00", "Z") and d["pattern"] == "CDLENGULFING" for d in stored))
    assert not call(svc, "POST", "/api/patterns/validate", json={"symbol": "GOOGL", "pattern": "engulfing", "timestamp": quiet.isoformat()}).json()["valid"]
    explained = call(svc, "POST", "/api/patterns/explain", json={"symbol": "GOOGL", "pattern": "engulfing", "timestamp": hit["timestamp"]}).json()
    assert explained["timestamp"] == hit["timestamp"] and "Engulfing Pattern" in explained["explanation"]
    assert explained["earlier_matured"] == 0 and explained["confidence"] == pytest.approx(hit["confidence"], abs=1e-4)  # the stored detection's
    count, matured, win, _ = reference_pattern_figures(googl, "CDLHAMMER", 10)
    bt = call(svc, "POST", "/api/patterns/backtest", json={"symbol": "GOOGL", "pattern": "hammer", "horizon": 10}).json()
    assert (bt["count"], bt["matured"], len(bt["trades"])) == (count, matured, matured) and bt["win_rate"] == pytest.approx(win, abs=1e-6)
    for body, status, message in [
        ({"symbol": "GOOGL", "pattern": "engulfing", "timestamp": "1999-01-01T00:00:00Z"}, 422, "no bar at 1999-01-01"),
        ({"symbol": "GOOGL", "pattern": "CDLNOPE", "timestamp": hit["timestamp"]}, 422, "unknown pattern"),
        ({"symbol": "GOOGL", "pattern": "engulfing"}, 422, "timestamp"),
    ]:
        answer = call(svc, "POST", "/api/patterns/validate", json=body)
        assert answer.status_code == status and message in answer.json()["error"]["message"], answer.text
    assert call(svc, "POST", "/api/patterns/backtest", json={"symbol": "GOOGL", "pattern": "hammer", "horizon": 501}).status_code == 422
    assert call(svc, "POST", "/api/patterns/explain", json={"symbol": "GOOGL", "pattern": "engulfing", "timestamp": quiet.isoformat()}).status_code == 404


def test_outcomes_feed_the_pattern_summary(svc):
    before = call(svc, "GET", "/api/pattern-performance/summary").json()["outcomes"]
    for ret in (0.02, -0.01):
        logged = call(svc, "POST", "/api/outcomes/log", key="trade", json={
            "subject_type": "detection", "symbol": "GOOGL", "timeframe": "1d", "pattern": "morning_star", "realized_return": ret,
            "horizon_bars": 5, "resolved_at": "2018-08-29T00:00:00Z"})
        assert logged.status_code == 201 and logged.json()["pattern"] == "CDLMORNINGSTAR" and logged.json()["hit"] == (ret > 0)
    summary = call(svc, "GET", "/api/pattern-performance/summary").json()
    star = next(p for p in summary["patterns"] if p["pattern"] == "CDLMORNINGSTAR")
    assert summary["outcomes"] == before + 2 and star["win_rate"] == 0.5 and star["mean_return"] == pytest.approx(0.005)
    assert call(svc, "POST", "/api/outcomes/log", json={"subject_type": "trade", "symbol": "X", "hit": True,
                                                          "resolved_at": "2018-08-29T00:00:00Z"}).status_code == 403  # read key
    for body, message in [({"subject_type": "trade", "symbol": "X", "resolved_at": "2018-08-29T00:00:00Z"}, "give `hit`"),
                          ({"subject_type": "vibes", "symbol": "X", "hit": True, "resolved_at": "2018-08-29T00:00:00Z"}, "subject_type"),
                          ({"subject_type": "trade", "symbol": "X", "hit": True, "resolved_at": "2018-08-29"}, "resolved_at")]:
        answer = call(svc, "POST", "/api/outcomes/log", key="trade", json=body)
        assert answer.status_code == 422 and message in answer.json()["error"]["message"], answer.text


def test_detect_enhanced_and_market_scan(svc):
    enhanced = call(svc, "POST", "/api/detect-enhanced", json={"symbol": "SYNA", "last_bars": 50}).json()
    plain = call(svc, "POST", "/api/detect", json={"symbol": "SYNA", "last_bars": 50}).json()
    assert [d["pattern"] for d in enhanced["detections"]] == [d["pattern"] for d in plain["detections"]]
    for d in enhanced["detections"]:
        p = d["model_probability_up"]
        assert d["enhanced_confidence"] == pytest.approx(p if d["direction"] == "bullish" else 1 - p, abs=1e-4)
    last = enhanced["detections"][-1]
    scored = call(svc, "POST", "/api/ml/score", json={"symbol": "SYNA"}).json()
    if last["timestamp"] == scored["as_of"]:
        assert last["model_probability_up"] == pytest.approx(scored["probability"], abs=1e-4)
    scan = call(svc, "GET", "/api/market-scan").json()
    assert {r["symbol"] for r in scan["results"]} == {"GOOGL", "SYNA", "SYNB", "SYNC"} and scan["skipped"] == []
    assert [r["confidence"] for r in scan["results"]] == sorted((r["confidence"] for r in scan["results"]), reverse=True)
    syna = next(r for r in scan["results"] if r["symbol"] == "SYNA")
    assert scan["model_version"] == scored["model_version"] and syna["probability"] == pytest.approx(scored["probability"])
    assert call(svc, "GET", "/api/market-scan", params={"min_confidence": 1.0}).json()["results"] == []
    assert call(svc, "GET", "/api/market-scan", params={"timeframe": "1x"}).status_code == 422


def test_live_performance_judges_served_predictions(svc):
    """Predictions served at past bars (logged as the service logs them) against the labels that matured."""
    frame = svc["frames"]["SYNC"]
    labels = triple_barrier(frame, horizon=2)
    bars = frame.index[1000:1200]
    rng = np.random.default_rng(3)
    y = (labels["label"].loc[bars] == 1).to_numpy()
    p = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.2, len(bars)), 0.01, 0.99)  # informative but noisy
    engine = make_engine(svc["settings"].app_database_url)
    log_predictions(engine, [{"symbol": "SYNC", "timeframe": "1d", "ts": t.to_pydatetime(), "model_name": "tx-fused", "model_version": "1",
                              "probability": float(q), "direction": "up" if q >= 0.55 else "down" if q <= 0.45 else "neutral",
                              "confidence": float(max(q, 1 - q))} for t, q in zip(bars, p, strict=True)])
    again = log_predictions(engine, [{"symbol": "SYNC", "timeframe": "1d", "ts": bars[0].to_pydatetime(), "model_name": "tx-fused",
                                      "model_version": "1", "probability": 0.9, "direction": "up", "confidence": 0.9}])
    engine.dispose()
    assert again == 0  # one prediction per bar and version
    perf = call(svc, "GET", "/api/ml/performance", params={"timeframe": "1d"}).json()
    assert perf["by_version"]["1"]["matured"] == 200 and perf["label_config"] == {"horizon": 2}
    assert perf["by_version"]["1"]["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-4)
    assert perf["pending"] >= 0 and sum(b["count"] for b in perf["calibration"]) == perf["matured"]
    assert call(svc, "GET", "/api/ml/performance", params={"period": "Y"}).status_code == 422


def test_online_line_and_launching_runs(svc):
    newest = max(int(m["version"]) for m in call(svc, "GET", "/api/ml/models").json()["models"])
    status = call(svc, "GET", "/api/ml/online-status").json()
    assert int(status["version"]) <= newest and status["samples_seen"] >= 0 and "trained_through" in status
    online = call(svc, "POST", "/api/ml/online-predict", json={"symbol": "SYNA"}).json()
    assert online["line"] == "online" and online["model_version"] == status["version"] and 0 <= online["probability"] <= 1
    assert call(svc, "POST", "/api/ml/train", json={}).status_code == 403  # read key
    assert call(svc, "POST", "/api/ml/online-update").status_code == 403
    for path, key in (("/api/ml/train", "admin"), ("/api/ml/online-update", "trade")):
        answer = call(svc, "POST", path, key=key, json={})
        assert answer.status_code == 503 and answer.json()["error"]["code"] == "orchestrator_unavailable"  # no webserver in this test
        assert "Dagster webserver" in answer.json()["error"]["message"] and int(answer.headers["Retry-After"]) >= 1
        assert "mutation" not in answer.text and len(answer.json()["error"]["message"]) < 200  # not Dagster's GraphQL text


LATER: tuple[str, ...] = ()  # groups of the contract still to be built (none)


def contract() -> list[tuple[str, str, str]]:
    """(group, method, path) of every row of docs/API.md, the contract existing clients call."""
    rows, group = [], ""
    for line in (Path(__file__).parents[2] / "docs" / "API.md").read_text().splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 4 or not re.match(r"(GET|POST|WebSocket) ", cells[2]):
            continue
        group = cells[1] or group
        method = cells[2].split()[0]
        rows += [(group, method, p) for p in re.findall(r"`([^`]+)`", cells[2])]
    return rows


def test_every_contract_path_is_served(svc):
    spec = httpx.get(svc["url"] + "/swagger.json", timeout=30).json()["paths"]
    def shape(path: str) -> str:  # parameter names are ours to choose: /api/alerts/{id} == /api/alerts/{alert_id}
        return re.sub(r"\{[^}]+\}", "{}", path)

    served = {(m.upper(), shape(p)) for p, ops in spec.items() for m in ops}
    paths = contract()
    assert len(paths) > 70
    missing = [(g, m, p) for g, m, p in paths if g not in (*LATER, "docs", "live") and (m, shape(p)) not in served]
    assert missing == []
    for _, _, path in (row for row in paths if row[0] == "docs"):  # the docs themselves stay out of the spec
        assert httpx.get(svc["url"] + path, timeout=30, follow_redirects=True).status_code == 200


EXPECTED_5XX = {"/api/ml/rl-action": 501, "/api/ml/train": 503, "/api/ml/online-update": 503}  # not built / no Dagster webserver here


def test_bad_input_on_every_contract_path_is_a_4xx(svc):
    """Junk query parameters, junk bodies and malformed JSON on every served path: never a 5xx."""
    junk_query = {"limit": "-1", "timeframe": "zz", "start": "yesterday", "horizon": "0", "symbol": "!!", "days": "x", "period": "?"}
    seen = 0
    for group, method, path in contract():
        if group in (*LATER, "docs", "live") or path == "/metrics":
            continue
        url = svc["url"] + path.replace("{symbol}", "N0PE").replace("{id}", "999999")
        headers = {"X-API-Key": svc["keys"]["admin"]}
        tries = ([httpx.get(url, params=junk_query, headers=headers, timeout=60)] if method == "GET" else
                 [httpx.post(url, json={"junk": [1, 2]}, headers=headers, timeout=60),
                  httpx.post(url, json={"symbol": "SYNA", "timeframe": "1d", "candles": [{"open": "x"}]}, headers=headers, timeout=60),
                  httpx.post(url, content=b"{nope", headers={**headers, "Content-Type": "application/json"}, timeout=60)])
        for answer in tries:
            seen += 1
            assert answer.status_code < 500 or answer.status_code == EXPECTED_5XX.get(path), (method, path, answer.status_code, answer.text)
            assert "Traceback" not in answer.text and "error" in answer.json() or answer.status_code < 300, (path, answer.text)
    assert seen > 60


def test_backtests_over_http(svc):
    """Pattern backtests on the spot; strategy backtests re-run on the out-of-fold probabilities
    the strategy_backtest asset stored (materialized here against the service's stores); given
    signals through the engine; clear 4xx on bad input."""
    import dagster as dg

    from assets.backtests import strategy_backtest
    from resources.stores import AppDatabase, MlflowTracking
    from trading.backtest import run_backtest

    assert call(svc, "POST", "/api/backtest/strategy", json={"symbol": "SYNA"}).status_code == 404  # nothing stored yet
    settings = svc["settings"]
    with environment(svc["env"]):
        done = dg.materialize([strategy_backtest], resources={
            "app_db": AppDatabase(url=settings.app_database_url),
            "mlflow_tracking": MlflowTracking(tracking_uri=settings.tracking_uri, artifact_root=settings.mlflow_artifacts)})
    assert done.success
    metadata = done.asset_materializations_for_node("strategy_backtest")[0].metadata
    stored, version = metadata["summary"].value, metadata["model_version"].value  # the champion (earlier tests may promote others)
    answer = call(svc, "POST", "/api/backtest/strategy", json={"symbol": "SYNA", "points": 50})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["source"] == f"out-of-fold probabilities of v{version}" and set(body["runs"]) == {"strategy", "buy_and_hold", "sma_crossover"}
    assert f"SYNA:1d strategy {body['runs']['strategy']['metrics']['total_return']:+.1%}" in stored  # the asset's figures, re-run
    assert len(body["runs"]["strategy"]["equity"]) == 50 and body["predictions"] > 100
    nulls = call(svc, "POST", "/api/backtest/strategy", json={"symbol": "SYNA", "points": 50, "allow_short": None, "stop_loss": None})
    assert nulls.status_code == 200 and nulls.json()["params"] == body["params"]  # null keeps the stored value (found by the fuzz: a 500)
    stricter = call(svc, "POST", "/api/backtest/strategy", json={"symbol": "SYNA", "buy_threshold": 0.7, "sell_threshold": 0.3}).json()
    assert stricter["params"]["buy_threshold"] == 0.7 and stricter["runs"]["strategy"]["metrics"]["exposure"] < body["runs"]["strategy"]["metrics"]["exposure"]

    signals = [1.0, None, -0.5, 0.0] * 50
    given = call(svc, "POST", "/api/backtest/strategy", json={"symbol": "SYNB", "signals": signals, "fee": 0.002}).json()
    local = run_backtest(svc["frames"]["SYNB"].iloc[-200:], [np.nan if x is None else x for x in signals], fee=0.002, slippage=0.0005)
    assert given["metrics"]["total_return"] == pytest.approx(local.total_return, rel=1e-9) and len(given["trades"]) == len(local.trades)

    pattern = call(svc, "POST", "/api/backtest/pattern", json={"symbol": "GOOGL", "horizon": 5, "patterns": ["engulfing", "CDLHAMMER"]})
    assert pattern.status_code == 200, pattern.text
    rows = pattern.json()["patterns"]
    assert {r["pattern"] for r in rows} == {"CDLENGULFING", "CDLHAMMER"} and all(r["matured"] <= r["count"] for r in rows)
    assert pattern.json()["all_detections"]["metrics"]["trades"] > 0

    for path, request, status, message in [
        ("/api/backtest/strategy", {"symbol": "SYNA", "signals": [1.5, 0]}, 422, "[-1, 1]"),
        ("/api/backtest/strategy", {"symbol": "SYNA", "signals": [None, None, None]}, 422, "all NaN"),
        ("/api/backtest/strategy", {"symbol": "SYNA", "signals": [1.0] * 2000}, 422, "only 1500 stored bars"),
        ("/api/backtest/strategy", {"symbol": "SYNA", "buy_threshold": 0.4, "sell_threshold": 0.6}, 422, "sell_threshold"),
        ("/api/backtest/strategy", {"symbol": "SYNA", "fee": 0.9}, 422, "fee"),
        ("/api/backtest/walk-forward", {"symbol": "SYNA"}, 404, "materialize walk_forward_backtest"),
        ("/api/backtest/pattern", {"symbol": "GOOGL", "horizon": 501}, 422, "horizon"),
        ("/api/backtest/pattern", {"symbol": "GOOGL", "patterns": ["nope"]}, 422, "unknown pattern"),
        ("/api/backtest/pattern", {"candles": as_body(svc["frames"]["SYNA"].iloc[:40]), "horizon": 40}, 422, "horizon 40 leaves no outcome"),
    ]:
        answer = call(svc, "POST", path, json=request)
        assert answer.status_code == status and message in answer.json()["error"]["message"], (request, answer.text)


def test_sentiment_ingest_and_point_in_time_reads(svc):
    """Items are scored and stored once however often they come; a read as of t uses only
    what was published before t; bad items are refused whole with the reason."""
    from features.sentiment import aggregate_at, score

    sym = f"SENT{svc['backend'][:2].upper()}"
    items = [{"symbol": sym, "published_at": "2026-03-02T14:00:00Z", "text": "Shares rally as earnings beat estimates", "source": "wire"},
             {"symbols": [sym, "OTHER"], "published_at": "2026-03-04T09:30:00Z", "text": "Analyst downgrades the stock; shares plunge"},
             {"symbol": sym.lower(), "published_at": "2026-03-02T14:00:00Z", "text": "  Shares rally as earnings beat estimates ", "source": "wire"}]
    assert call(svc, "POST", "/api/sentiment/ingest", json={"items": items}).status_code == 403  # writing needs a trade key
    first = call(svc, "POST", "/api/sentiment/ingest", key="trade", json={"items": items}).json()
    assert (first["received"], first["stored"], first["duplicates"]) == (3, 2, 1)  # the third is the first again
    assert [i["score"] for i in first["items"]] == pytest.approx(list(score([i["text"] for i in items])), abs=1e-4)
    again = call(svc, "POST", "/api/sentiment/ingest", key="trade", json={"items": items[:2]}).json()
    assert again["stored"] == 0 and again["duplicates"] == 2

    now = call(svc, "GET", f"/api/sentiment/{sym}", params={"at": "2026-03-06T00:00:00Z"}).json()
    assert [np.sign(i["score"]) for i in now["items"]] == [-1, 1] and now["aggregate"]["items_7d"] == 2  # newest first
    news = pd.DataFrame({"published_at": pd.to_datetime(["2026-03-02T14:00:00Z", "2026-03-04T09:30:00Z"]),
                         "score": [first["items"][0]["score"], first["items"][1]["score"]]})
    expected = aggregate_at(news, pd.Timestamp("2026-03-06T00:00:00Z"))
    assert now["aggregate"]["score"] == pytest.approx(expected["sent_score"], abs=1e-3)
    before = call(svc, "GET", f"/api/sentiment/{sym}", params={"at": "2026-03-04T09:30:00Z"}).json()  # the downgrade is not out yet
    assert before["aggregate"]["score"] == pytest.approx(first["items"][0]["score"], abs=1e-4) and before["aggregate"]["items_7d"] == 1
    assert call(svc, "GET", "/api/sentiment/NOBODY").json()["aggregate"]["score"] is None
    listed = {r["symbol"]: r for r in call(svc, "GET", "/api/sentiment/aggregate", params={"at": "2026-03-06T00:00:00Z"}).json()["symbols"]}
    assert listed[sym]["score"] == now["aggregate"]["score"] and "OTHER" in listed

    good = items[0] | {"text": "fresh text"}
    for item, message in [({k: v for k, v in good.items() if k != "symbol"}, "symbol"),
                          ({k: v for k, v in good.items() if k != "published_at"}, "published_at"),
                          (good | {"published_at": "2099-01-01T00:00:00Z"}, "in the future"),
                          (good | {"published_at": "2026-03-02T14:00:00"}, "timezone"),
                          (good | {"text": "   "}, "blank"),
                          (good | {"text": "x" * 10_001}, "10000 characters"),
                          (good | {"symbol": "!!"}, "symbol")]:
        answer = call(svc, "POST", "/api/sentiment/ingest", key="trade", json={"items": [good | {"text": "another"}, item]})
        assert answer.status_code == 422 and message in answer.json()["error"]["message"], (item, answer.text)
    assert len(call(svc, "GET", f"/api/sentiment/{sym}").json()["items"]) == 2  # refused batches stored nothing
    social = call(svc, "GET", "/api/sentiment/twitter-health").json()["providers"]
    assert [p["provider"] for p in social] == ["x", "reddit"] and not any(p["configured"] for p in social)  # no keys in this test


def execute(svc, key: str, body: dict, who: str = "trade") -> httpx.Response:
    return call(svc, "POST", "/api/paper-trade/execute", key=who, json=body, headers={"Idempotency-Key": key})


def test_paper_trading_over_http(svc):
    first = execute(svc, f"{svc['backend']}-1", {"symbol": "SYNA", "side": "buy", "quantity": 10})
    assert first.status_code == 200, first.text
    trade = first.json()
    assert trade["status"] == "filled" and trade["fill_price"] > 0 and trade["fees"] > 0 and trade["trades"][0]["model_version"]
    assert set(trade["trades"][0]["layer_contributions"]) == {"pattern", "deep", "multitimeframe", "sentiment"}
    again = execute(svc, f"{svc['backend']}-1", {"symbol": "SYNA", "side": "buy", "quantity": 10}).json()
    assert again["replayed"] and again["id"] == trade["id"]
    portfolio = call(svc, "GET", "/api/paper-trade/portfolio").json()
    syna = next(p for p in portfolio["positions"] if p["symbol"] == "SYNA")
    assert syna["quantity"] == 10 and portfolio["equity"] == pytest.approx(portfolio["cash"] + sum(p["market_value"] for p in portfolio["positions"]))
    one = call(svc, "GET", f"/api/paper-trades/{trade['id']}").json()
    assert one["status"] == "open" and one["symbol"] == "SYNA"
    closed = call(svc, "POST", f"/api/paper-trades/{trade['id']}/close", key="trade").json()
    assert closed["status"] == "closed" and closed["realized_pnl"] < 0  # same price, paid slippage and fees twice
    attribution = call(svc, "GET", "/api/paper-trades/attribution").json()
    shares = next(t for t in attribution["trades"] if t["id"] == trade["id"])["layers"]
    assert set(shares) == {"pattern", "deep", "multitimeframe", "sentiment"} and sum(abs(v) for v in shares.values()) == pytest.approx(abs(closed["realized_pnl"]), abs=1e-5)
    stats = call(svc, "GET", "/api/paper-trades/stats").json()
    assert stats["closed"] >= 1 and stats["losses"] >= 1
    perf = call(svc, "GET", "/api/paper-trades/performance").json()
    assert perf["equity_curve"][0]["equity"] == perf["initial_cash"] and perf["closed_trades"] >= 1 and perf["max_drawdown"] >= 0
    listed = call(svc, "GET", "/api/paper-trades", params={"status": "closed"}).json()
    assert trade["id"] in [t["id"] for t in listed["trades"]]
    for body, key, who, status, message in [
        ({"symbol": "SYNA", "side": "buy", "quantity": 0}, "q0", "trade", 422, "quantity"),
        ({"symbol": "SYNA", "side": "buy", "quantity": -3}, "q-", "trade", 422, "quantity"),
        ({"symbol": "NOPE", "side": "buy", "quantity": 1}, "nope", "trade", 404, "no stored candles for NOPE"),
        ({"symbol": "SYNA", "side": "hold", "quantity": 1}, "hold", "trade", 422, "side"),
        ({"symbol": "SYNA", "side": "buy", "quantity": 1, "type": "limit"}, "lim", "trade", 422, "limit_price"),
        ({"symbol": "SYNA", "side": "buy", "quantity": 1e8}, "huge", "trade", 422, "insufficient margin"),
        ({"symbol": "SYNA", "side": "buy", "quantity": 11}, f"{svc['backend']}-1", "trade", 409, "was used for another order"),
        ({"symbol": "SYNA", "side": "buy", "quantity": 1}, "read", "read", 403, "trade scope"),
    ]:
        answer = execute(svc, key, body, who)
        assert answer.status_code == status and message in answer.json()["error"]["message"], (body, answer.text)
    no_key = call(svc, "POST", "/api/paper-trade/execute", key="trade", json={"symbol": "SYNA", "side": "buy", "quantity": 1})
    assert no_key.status_code == 422 and no_key.json()["error"]["field"] == "Idempotency-Key"  # the spec declares it required
    assert call(svc, "POST", f"/api/paper-trades/{trade['id']}/close", key="trade").status_code == 409
    assert call(svc, "GET", "/api/paper-trades/999999").status_code == 404


def test_parallel_executes_against_the_service(svc):
    """16 concurrent clients, some retrying: every key filled once, the books add up."""
    from store.paper import account_state, fills_frame

    orders = [(f"{svc['backend']}-par-{i}", {"symbol": "SYNB" if i % 2 else "SYNC", "side": "buy" if i % 3 else "sell", "quantity": 1 + i % 4})
              for i in range(48)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda o: execute(svc, *o), orders + orders[::3]))
    assert {a.status_code for a in answers} == {200}, {a.text for a in answers if a.status_code != 200}
    assert len({a.json()["order_id"] for a in answers}) == len(orders)
    engine = make_engine(svc["settings"].app_database_url)
    try:
        fills = fills_frame(engine, "paper")
        cash, initial, held = account_state(engine, "paper")
    finally:
        engine.dispose()
    assert cash == pytest.approx(initial + (-fills["side"] * fills["quantity"] * fills["price"] - fills["fee"]).sum(), abs=1e-6)
    for symbol in ("SYNB", "SYNC"):
        rows = fills[fills["symbol"] == symbol]
        assert held.get(symbol, (0.0, 0.0))[0] == pytest.approx((rows["side"] * rows["quantity"]).sum())


def ws_url(svc, query: str = "") -> str:
    return svc["url"].replace("http://", "ws://") + "/ws" + query


def next_event(ws, kind: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message.get("type") == "event" and message["kind"] == kind:
            return message
    raise AssertionError(f"no {kind} event within {timeout} s")


def test_alerts_from_another_process_reach_websocket_subscribers(svc):
    """The scanner's path (trading.alerts.record, here in the test process, not the service)
    -> events -> every worker's hub (NOTIFY on PostgreSQL, polling on SQLite) -> the socket."""
    from websockets.sync.client import connect

    from trading.alerts import record

    scored = call(svc, "POST", "/api/ml/score", json={"symbol": "SYNA"}).json()
    engine = make_engine(svc["settings"].app_database_url)
    with connect(ws_url(svc, "?symbols=SYNA"), additional_headers={"X-API-Key": svc["keys"]["read"]}) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "hello" and hello["symbols"] == ["SYNA"]
        started = time.monotonic()
        alert_id, alert = record(engine, "SYNA", "1d", scored, threshold=0.5, window_minutes=10, model_name="tx-fused")
        assert alert_id is not None and record(engine, "SYNA", "1d", scored, 0.5, 10, "tx-fused")[0] is None  # de-duplicated
        event = next_event(ws, "alert")
        latency = time.monotonic() - started
        assert event["data"]["id"] == alert_id and event["data"]["model_version"] == scored["model_version"]
        assert event["data"]["evidence"]["layers"] and latency < 5
        fill = execute(svc, f"{svc['backend']}-ws", {"symbol": "SYNA", "side": "buy", "quantity": 1}).json()
        assert next_event(ws, "fill")["data"]["order_id"] == fill["order_id"]
    engine.dispose()
    # a client that was away replays from its cursor
    with connect(ws_url(svc, f"?symbols=SYNA&since={event['cursor'] - 1}"), additional_headers={"X-API-Key": svc["keys"]["read"]}) as ws:
        json.loads(ws.recv(timeout=10))
        assert next_event(ws, "alert")["cursor"] == event["cursor"]
    listed = call(svc, "GET", "/api/alerts", params={"symbol": "SYNA"}).json()["alerts"]
    assert alert_id in [a["id"] for a in listed]
    assert call(svc, "GET", "/api/alerts/active", params={"min_confidence": 0.5}).json()["count"] >= 1
    one = call(svc, "GET", f"/api/alerts/{alert_id}").json()
    assert one["status"] == "active" and one["data_partition"].startswith("SYNA:1d@") and one["evidence"]["explanation"]
    assert call(svc, "POST", f"/api/alerts/{alert_id}/dismiss").status_code == 403  # read key
    assert call(svc, "POST", f"/api/alerts/{alert_id}/dismiss", key="trade").json()["status"] == "dismissed"
    history = call(svc, "GET", "/api/alerts/history").json()["alerts"]
    assert next(a for a in history if a["id"] == alert_id)["outcome"] == "pending"  # its bar is the latest: no label yet
    stats = call(svc, "GET", "/api/alerts/stats").json()
    assert stats["alerts"] >= 1 and stats["by_status"]["dismissed"] >= 1
    assert call(svc, "GET", "/api/alerts/999999").status_code == 404
    assert call(svc, "POST", "/api/alerts/999999/dismiss", key="trade").status_code == 404


@pytest.mark.parametrize(("path", "headers", "code"), [("/ws", {}, 4401), ("/api/ws", {"X-API-Key": "tx_dead_beef"}, 4401),
                                                      ("/api/ws?since=yesterday", None, 4422)])
def test_websocket_refuses_bad_clients_with_a_reason(svc, path, headers, code):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = svc["url"].replace("http://", "ws://") + path
    with connect(url, additional_headers=headers if headers is not None else {"X-API-Key": svc["keys"]["read"]}) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == code and closed.value.rcvd.reason
