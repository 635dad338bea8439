"""serving/routers/scan.py over HTTP: the market scan agrees with scoring, and the model-enhanced
detections (serving/routers/patterns.py) with plain ones."""

import pytest

from tests.serving.client import call

pytestmark = pytest.mark.e2e


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
