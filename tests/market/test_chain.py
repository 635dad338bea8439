"""The fallback chain: order, recorded fallbacks, retries with backoff, breaker, cache, health."""

import json
import re
import time

import pandas as pd
import pytest
from werkzeug import Response

from market.chain import AllProvidersFailed, MarketConfig, ProviderChain
from market.errors import NoData, Unavailable
from market.finnhub import FinnhubProvider
from market.polygon import PolygonProvider
from market.synthetic import SyntheticProvider
from market.universe import Series

SPY = Series("SPY", "1d")
ANY = re.compile(".*")
OK = {"c": [2488.83], "h": [2489.1], "l": [2397.94], "o": [2442.5], "s": "ok", "t": [1545868800], "v": [3.1e9]}


def config(**kw) -> MarketConfig:
    return MarketConfig(**{"retries": 1, "backoff_s": 0.01, "backoff_max_s": 0.05, "cache_ttl_s": 0, **kw})


class Flaky:
    """A provider that fails `failures` times, then serves synthetic bars."""

    live = False

    def __init__(self, name: str, failures: int = 0, error=Unavailable) -> None:
        self.name, self.failures, self.error, self.calls = name, failures, error, 0

    def supports(self, timeframe):
        return True

    def listing(self):
        return []

    def fetch(self, symbol, timeframe, start=None, end=None):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error(self.name, f"failure {self.calls}")
        return SyntheticProvider(n_bars=10).fetch(symbol, timeframe, start, end)


def test_fallbacks_are_taken_in_order_and_recorded(httpserver):
    httpserver.expect_request(ANY).respond_with_response(Response("down", status=503))
    polygon = PolygonProvider("key", base_url=httpserver.url_for(""), timeout_s=1)
    finnhub = FinnhubProvider(None)  # no key: skipped as "no data", not a failure
    chain = ProviderChain([polygon, finnhub, SyntheticProvider(n_bars=10)], config())
    fetched = chain.fetch(SPY)
    assert fetched.provider == "synthetic" and len(fetched.candles) == 10
    assert [(a.provider, a.outcome) for a in fetched.attempts] == [("polygon", "unavailable"), ("finnhub", "no data"), ("synthetic", "ok")]
    assert [a.provider for a in fetched.fallbacks] == ["polygon", "finnhub"]
    health = {h.name: h for h in chain.health()}
    assert health["polygon"].failures == 1 and "HTTP 503" in health["polygon"].last_error
    assert health["finnhub"].failures == 0 and health["synthetic"].last_latency_s is not None


def test_when_no_provider_delivers_the_error_lists_every_attempt():
    chain = ProviderChain([Flaky("a", failures=9), Flaky("b", failures=9, error=NoData)], config())
    with pytest.raises(AllProvidersFailed, match=r"no provider delivered SPY:1d: a: unavailable \(failure 1\); b: no data \(failure 1\)"):
        chain.fetch(SPY)


def test_rate_limits_are_retried_after_the_servers_retry_after(httpserver):
    responses = iter([
        Response('{"error":"API limit reached"}', status=429, headers={"Retry-After": "0.3"}),
        Response('{"error":"API limit reached"}', status=429, headers={"Retry-After": "0.3"}),
    ])
    httpserver.expect_request(ANY).respond_with_handler(lambda _req: next(responses, None) or Response(json.dumps(OK), content_type="application/json"))
    chain = ProviderChain([FinnhubProvider("key", base_url=httpserver.url_for(""))], config(retries=3, backoff_max_s=1))
    t0 = time.perf_counter()
    fetched = chain.fetch(SPY)
    assert fetched.provider == "finnhub" and len(fetched.candles) == 1
    assert len(httpserver.log) == 3
    assert time.perf_counter() - t0 >= 0.6  # waited at least Retry-After twice


def test_breaker_opens_after_fail_max_and_lets_a_call_through_after_cooling_down():
    flaky = Flaky("flaky", failures=3)
    chain = ProviderChain([flaky, SyntheticProvider(n_bars=10)], config(fail_max=3, reset_timeout_s=0.3))
    for _ in range(3):
        assert chain.fetch(SPY).fallbacks[0].outcome == "unavailable"
    assert {h.name: h.state for h in chain.health()}["flaky"] == "open"
    opened = chain.fetch(SPY)
    assert opened.fallbacks[0].outcome == "breaker open" and flaky.calls == 3  # not even called
    time.sleep(0.35)
    recovered = chain.fetch(SPY)
    assert recovered.provider == "flaky" and flaky.calls == 4
    assert {h.name: h.state for h in chain.health()}["flaky"] == "closed"


def test_results_are_cached_for_the_ttl():
    flaky = Flaky("src")
    chain = ProviderChain([flaky], config(cache_ttl_s=0.3))
    first = chain.fetch(SPY)
    assert chain.fetch(SPY) is first and flaky.calls == 1
    assert chain.fetch(SPY, start=pd.Timestamp("2010-01-06", tz="UTC").to_pydatetime()) is not first  # another range
    time.sleep(0.35)
    chain.fetch(SPY)
    assert flaky.calls == 3


def test_empty_answers_fall_through_but_an_all_empty_result_is_empty():
    empty_first = ProviderChain([SyntheticProvider(n_bars=10), Flaky("late")], config())
    far = pd.Timestamp("2030-01-01", tz="UTC").to_pydatetime()
    fetched = empty_first.fetch(SPY, start=far)
    assert fetched.candles.empty and fetched.provider == "synthetic"
    assert [a.outcome for a in fetched.attempts] == ["empty", "empty"]


def test_universe_accepts_any_symbol_only_with_a_provider_that_serves_any():
    from market.universe import UniverseError

    offline = ProviderChain.from_config(config())
    with pytest.raises(UniverseError, match="no data for ACME:1d"):
        offline.universe("ACME:1d")
    online = ProviderChain.from_config(config(providers=("bundled", "polygon")))
    assert online.universe("ACME:1d,SPX:1d") == [Series("ACME", "1d"), Series("SPX", "1d")]
