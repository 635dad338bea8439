"""serving/routers/outcomes.py over HTTP: logged outcomes feed the pattern summary."""

import pytest

from tests.serving.client import call

pytestmark = pytest.mark.e2e


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
