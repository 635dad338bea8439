"""serving/routers/stats.py over HTTP: the system, patterns, model and trading summaries (before
any paper trade: tests/serving/conftest.py runs this module before test_paper.py)."""

import pytest

from tests.serving.client import call

pytestmark = pytest.mark.e2e


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
