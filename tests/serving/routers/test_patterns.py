"""serving/routers/patterns.py over HTTP: the catalogue, detection, stored detections, the heatmap,
per-pattern performance, history and confidence (against a plain loop over TA-Lib), validation,
explanation and the one-pattern backtest."""

import pytest

from market.files import bundled
from market.universe import Series

from tests.serving.client import as_body, call

pytestmark = pytest.mark.e2e


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
