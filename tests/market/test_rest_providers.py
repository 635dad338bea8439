"""Polygon and Finnhub against a local HTTP server replaying their recorded response shapes."""

import re
import time

import pandas as pd
import pytest
from werkzeug import Response

from market.chain import MarketConfig, ProviderChain
from market.errors import BadPayload, NoData, NotConfigured, RateLimited, Unavailable
from market.finnhub import FinnhubProvider
from market.polygon import PolygonProvider
from market.universe import Series

# Shapes as documented and returned by the APIs (values are the bundled SPX bars of 2018-12-27/28).
POLYGON_PAGE_1 = {
    "ticker": "SPY", "queryCount": 2, "resultsCount": 1, "adjusted": True, "status": "OK", "request_id": "a1",
    "results": [{"v": 3.1e9, "vw": 2470.1, "o": 2442.5, "c": 2488.83, "h": 2489.1, "l": 2397.94, "t": 1545886800000, "n": 100}],
    "next_url": "/v2/aggs/ticker/SPY/range/1/day/cursor-2",
}
POLYGON_PAGE_2 = {
    "ticker": "SPY", "queryCount": 2, "resultsCount": 1, "adjusted": True, "status": "OK", "request_id": "a2",
    "results": [{"v": 2.6e9, "vw": 2485.0, "o": 2498.77, "c": 2485.74, "h": 2520.27, "l": 2472.89, "t": 1545973200000, "n": 90}],
}
ANY_PATH = re.compile(".*")
FINNHUB_OK = {
    "c": [2488.83, 2485.74], "h": [2489.1, 2520.27], "l": [2397.94, 2472.89], "o": [2442.5, 2498.77],
    "s": "ok", "t": [1545868800, 1545955200], "v": [3.1e9, 2.6e9],
}


@pytest.fixture
def polygon(httpserver):
    return PolygonProvider("key", base_url=httpserver.url_for(""), timeout_s=0.5)


@pytest.fixture
def finnhub(httpserver):
    return FinnhubProvider("key", base_url=httpserver.url_for(""), timeout_s=0.5)


def test_polygon_pages_through_next_url_and_stamps_daily_bars_at_midnight_utc(httpserver, polygon):
    httpserver.expect_request("/v2/aggs/ticker/SPY/range/1/day/cursor-2", query_string={"apiKey": "key"}).respond_with_json(POLYGON_PAGE_2)
    httpserver.expect_request("/v2/aggs/ticker/SPY/range/1/day/0/1546300800000").respond_with_json(POLYGON_PAGE_1)
    frame = polygon.fetch("SPY", "1d", end=pd.Timestamp("2019-01-01", tz="UTC").to_pydatetime())
    assert list(frame.index) == [pd.Timestamp("2018-12-27 05:00", tz="UTC"), pd.Timestamp("2018-12-28 05:00", tz="UTC")]  # midnight New York
    chained = ProviderChain([polygon], MarketConfig(cache_ttl_s=0)).fetch(Series("SPY", "1d"), end=pd.Timestamp("2019-01-01", tz="UTC").to_pydatetime())
    assert list(chained.candles.index) == [pd.Timestamp("2018-12-27", tz="UTC"), pd.Timestamp("2018-12-28", tz="UTC")]  # TX's stamp
    assert frame.loc["2018-12-28", "close"].item() == 2485.74
    assert httpserver.log[0][0].args["adjusted"] == "true" and httpserver.log[0][0].args["sort"] == "asc"


def test_finnhub_candles(httpserver, finnhub):
    httpserver.expect_request("/api/v1/stock/candle", query_string={"symbol": "SPY", "resolution": "D", "from": "0", "to": "1546300800", "token": "key"}).respond_with_json(FINNHUB_OK)
    frame = finnhub.fetch("SPY", "1d", end=pd.Timestamp("2019-01-01", tz="UTC").to_pydatetime())
    assert len(frame) == 2 and frame["open"].tolist() == [2442.5, 2498.77]
    assert frame.index[0] == pd.Timestamp("2018-12-27", tz="UTC")


def test_no_data_answers_are_empty_not_errors(httpserver, polygon, finnhub):
    httpserver.expect_request("/api/v1/stock/candle").respond_with_json({"s": "no_data"})
    httpserver.expect_request("/v2/aggs/ticker/NONE/range/1/hour/0/1").respond_with_json({"ticker": "NONE", "resultsCount": 0, "status": "OK"})
    assert finnhub.fetch("NONE", "1h").empty
    assert polygon.fetch("NONE", "1h", end=pd.Timestamp(1_000_000, unit="ns", tz="UTC").to_pydatetime()).empty


@pytest.mark.parametrize("provider_name", ["polygon", "finnhub"])
@pytest.mark.parametrize(
    ("response", "error", "message"),
    [
        (Response('{"status":"ERROR","error":"You have exceeded the maximum requests per minute"}', status=429, headers={"Retry-After": "7"}), RateLimited, "429"),
        (Response("<html>502 Bad Gateway</html>", status=502), Unavailable, "HTTP 502"),
        (Response('{"status":"NOT_AUTHORIZED","error":"Unknown API Key"}', status=401), NotConfigured, "API key rejected"),
        (Response("{not json", status=200, content_type="application/json"), BadPayload, "malformed JSON"),
        (Response('["a", "list"]', status=200, content_type="application/json"), BadPayload, "unexpected body"),
        (Response("not found", status=404), NoData, "404"),
    ],
)
def test_failures_map_to_what_the_chain_should_do(httpserver, request, provider_name, response, error, message):
    provider = request.getfixturevalue(provider_name)
    httpserver.expect_request(ANY_PATH).respond_with_response(response)
    with pytest.raises(error, match=message) as info:
        provider.fetch("SPY", "1d")
    if error is RateLimited:
        assert info.value.retry_after == 7.0


def test_malformed_bars_are_bad_payloads(httpserver, polygon, finnhub):
    httpserver.expect_request("/api/v1/stock/candle").respond_with_json({**FINNHUB_OK, "c": [1.0]})
    with pytest.raises(BadPayload, match="malformed candle arrays"):
        finnhub.fetch("SPY", "1d")
    httpserver.expect_request(ANY_PATH).respond_with_json({"status": "OK", "results": [{"t": 1, "o": 1}]})
    with pytest.raises(BadPayload, match="malformed bars for SPY: KeyError"):
        polygon.fetch("SPY", "1d")


def test_timeouts_are_outages(httpserver, finnhub):
    httpserver.expect_request("/api/v1/stock/candle").respond_with_handler(lambda _req: (time.sleep(1.5), Response("{}"))[1])
    with pytest.raises(Unavailable, match="timed out"):
        finnhub.fetch("SPY", "1d")


def test_a_live_providers_forming_bar_is_not_stored_and_garbage_falls_back(httpserver, finnhub):
    now = pd.Timestamp.now(tz="UTC").floor("h")
    closed, forming = now - pd.Timedelta(hours=1), now
    body = {**FINNHUB_OK, "t": [int(closed.timestamp()), int(forming.timestamp())]}
    httpserver.expect_request("/api/v1/stock/candle").respond_with_json(body)
    fetched = ProviderChain([finnhub], MarketConfig(cache_ttl_s=0)).fetch(Series("SPY", "1h"))
    assert list(fetched.candles.index) == [closed]
    httpserver.clear()
    httpserver.expect_request("/api/v1/stock/candle").respond_with_json({**FINNHUB_OK, "t": ["x", "y"]})
    from market.synthetic import SyntheticProvider

    fallback = ProviderChain([finnhub, SyntheticProvider(n_bars=5)], MarketConfig(cache_ttl_s=0, retries=1)).fetch(Series("SPY", "1d"))
    assert fallback.provider == "synthetic" and fallback.attempts[0].outcome == "bad payload"


def test_unreachable_server_is_an_outage():
    with pytest.raises(Unavailable, match="unreachable"):
        FinnhubProvider("key", base_url="http://127.0.0.1:1", timeout_s=0.5).fetch("SPY", "1d")


def test_missing_keys_and_unsupported_timeframes_are_no_data():
    with pytest.raises(NotConfigured, match="TX_POLYGON_API_KEY"):
        PolygonProvider(None).fetch("SPY", "1d")
    with pytest.raises(NotConfigured, match="TX_FINNHUB_API_KEY"):
        FinnhubProvider("").fetch("SPY", "1d")
    assert not FinnhubProvider("k").supports("4h") and PolygonProvider("k").supports("4h")

