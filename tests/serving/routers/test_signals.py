"""serving/routers/signals.py over HTTP: entry and exit signals, risk of a book, position sizing."""

import pytest

from tests.serving.client import call

pytestmark = pytest.mark.e2e


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
