"""serving/routers/market.py over HTTP: candles, snapshots, the universe and its coverage; bad input."""

import pytest

from tests.serving.client import call

pytestmark = pytest.mark.e2e


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
