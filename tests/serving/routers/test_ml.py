"""serving/routers/ml.py over HTTP: scoring (stored and given candles), layer views, models,
promotion through the gate under load, bad input (4xx with one error shape, never a 5xx), and
no champion yet."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import mlflow
import pytest
from fastapi.testclient import TestClient

from features import BaseRates, build_features
from serving.app import create_app
from serving.champion import Champion
from store.api_keys import create_key
from store.db import make_engine
from training.fit import TrainConfig
from training.pipeline import train_and_promote
from training.windows import windows
from tx.settings import load_settings
from cli.stores import setup_app_database, setup_mlflow

from tests.serving.client import as_body, call
from tests.conftest import environment

pytestmark = pytest.mark.e2e


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
    no_agent = call(svc, "POST", "/api/ml/rl-action", json={"symbol": "SYNA"})  # no tx-rl champion in this registry
    assert no_agent.status_code == 503 and no_agent.headers["Retry-After"] and "tx-rl" in no_agent.json()["error"]["message"]


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


@pytest.mark.heavy  # about 50 s per backend: CI runs it; the default tier stays fast
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
