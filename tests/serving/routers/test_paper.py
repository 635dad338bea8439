"""serving/routers/paper.py over HTTP: idempotent executes, the portfolio, closing, attribution,
stats and performance, bad orders; concurrent clients."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from store.db import make_engine

from tests.serving.client import call, execute

pytestmark = pytest.mark.e2e


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
