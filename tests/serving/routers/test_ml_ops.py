"""serving/routers/ml_ops.py over HTTP: live performance of served predictions, the online line,
and launching runs without a Dagster webserver."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from features import LabelSpec, triple_barrier
from store.db import make_engine
from store.predictions import log_predictions

from tests.serving.client import call

pytestmark = pytest.mark.e2e


def test_live_performance_judges_served_predictions(svc):
    """Predictions served at past bars (logged as the service logs them) against the labels that matured."""
    frame = svc["frames"]["SYNC"]
    labels = triple_barrier(frame, LabelSpec(horizon=2))
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


def test_online_update_says_only_stored_labels_teach(svc):
    """A client's outcome in the body is not read (the same answer as without one), and the spec says why."""
    outcome = {"symbol": "SYNA", "timeframe": "1d", "bar": "2015-01-02T00:00:00Z", "label": 1}
    answer = call(svc, "POST", "/api/ml/online-update", key="trade", json=outcome)
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "orchestrator_unavailable"  # launched, not validated
    operation = call(svc, "GET", "/docs.json").json()["paths"]["/api/ml/online-update"]["post"]
    assert "requestBody" not in operation
    assert "Only labels computed from stored candles teach the model" in operation["description"]
    assert "look-ahead" in operation["description"] and "/api/outcomes/log" in operation["description"]
