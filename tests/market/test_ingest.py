"""Ingest one series into the app database: incremental with an overlap, re-adjusted
histories fetched again in full, corrupt batches refused whole, the chain's health recorded."""

import logging

import pandas as pd
import pytest

from market.chain import AllProvidersFailed, MarketConfig, ProviderChain
from market.errors import Unavailable
from market.ingest import CorruptBatch, history_rescaled, ingest
from market.providers import between
from market.synthetic import generate
from market.universe import Series
from store.candles import load_candles
from store.db import make_engine, upgrade
from store.provider_status import load_provider_status

ACME = Series("ACME", "1d")
LIMITS = {"overlap_bars": 3, "max_gap_bars": 3, "stale_bars": 3}


class Served:
    """A provider serving whatever frame the test put there (None: down)."""

    name, live = "served", False

    def __init__(self) -> None:
        self.frame: pd.DataFrame | None = None
        self.starts: list = []

    def supports(self, timeframe):
        return True

    def listing(self):
        return [ACME]

    def fetch(self, symbol, timeframe, start=None, end=None):
        self.starts.append(start)
        if self.frame is None:
            raise Unavailable(self.name, "down")
        return between(self.frame, start, end)


@pytest.fixture
def setup(tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    upgrade(url)
    engine = make_engine(url)
    provider = Served()
    yield engine, provider, ProviderChain([provider], MarketConfig(retries=1, backoff_s=0.01, backoff_max_s=0.05, cache_ttl_s=0))
    engine.dispose()


def test_the_first_ingest_takes_the_whole_history_then_resumes_with_an_overlap(setup):
    engine, provider, chain = setup
    full = generate("ACME", "1d", 300, seed=2)
    provider.frame = full.iloc[:250]
    first = ingest(engine, chain, ACME, **LIMITS)
    assert first.resumed_from is None and not first.rescaled and first.fetched_bars == first.written == len(first.stored) == 250
    assert first.fetched.provider == "served" and [c.name for c in first.checks] == [
        "bars_consistent", "timestamps_unique_ascending", "no_missing_values", "no_gaps", "fresh", "volume_present"]
    assert all(c.passed for c in first.checks)

    revised = full.iloc[:260].copy()
    revised.iloc[248, revised.columns.get_loc("close")] = revised.iloc[248]["open"]  # a revision inside the overlap
    provider.frame = revised
    second = ingest(engine, chain, ACME, **LIMITS)
    assert second.resumed_from == full.index[246] and provider.starts[-1] == full.index[246]
    assert second.fetched_bars == 3 + 1 + 10 and len(second.stored) == 260 and not second.rescaled
    assert load_candles(engine, "ACME", "1d")["close"].iloc[248] == revised["close"].iloc[248]


def test_a_re_adjusted_history_is_fetched_again_in_full(setup, caplog):
    engine, provider, chain = setup
    full = generate("ACME", "1d", 300, seed=2)
    provider.frame = full.iloc[:250]
    ingest(engine, chain, ACME, **LIMITS)
    split = full.iloc[:260].copy()
    split[["open", "high", "low", "close"]] *= 0.25  # a 4:1 split, back-adjusted by the provider
    provider.frame = split
    with caplog.at_level(logging.WARNING, logger="market.ingest"):
        report = ingest(engine, chain, ACME, **LIMITS)
    assert report.rescaled and report.resumed_from is None and report.fetched_bars == 260 and provider.starts[-1] is None
    assert "re-fetching the full history" in caplog.text
    assert (report.stored["close"] / split["close"] - 1).abs().max() < 1e-12


def test_history_rescaled_tells_a_split_from_a_revision():
    stored = generate("ACME", "1d", 10, seed=1)
    revised = stored.copy()
    revised.iloc[5, revised.columns.get_loc("close")] *= 1.01
    assert not history_rescaled(revised, stored)  # one moved bar: a revision
    assert history_rescaled(stored * 0.5, stored)
    assert not history_rescaled(stored.iloc[-1:] * 0.5, stored)  # only the newest bar in common: it may move
    assert not history_rescaled(stored.iloc[:0], stored)


def test_a_corrupt_batch_is_refused_whole(setup):
    engine, provider, chain = setup
    full = generate("ACME", "1d", 300, seed=2)
    provider.frame = full.iloc[:250]
    ingest(engine, chain, ACME, **LIMITS)
    before = load_candles(engine, "ACME", "1d")
    bad = full.copy()
    bad.iloc[248, bad.columns.get_loc("close")] = 1e6  # overlapping bar: high no longer bounds close
    bad.iloc[270, bad.columns.get_loc("high")] = 0.5
    provider.frame = bad
    with pytest.raises(CorruptBatch, match="ACME:1d: corrupt batch from served, nothing written: 2 bar") as refused:
        ingest(engine, chain, ACME, **LIMITS)
    assert {c.name: c.passed for c in refused.value.checks} == {
        "bars_consistent": False, "timestamps_unique_ascending": True, "no_missing_values": True}
    assert len(refused.value.fetched.candles) == 300 - 246  # from the overlap on
    assert load_candles(engine, "ACME", "1d").equals(before)


def test_gaps_and_zero_volume_are_warnings_on_the_stored_series(setup):
    engine, provider, chain = setup
    frame = generate("ACME", "1d", 120, seed=3)
    frame = frame.drop(frame.index[50:56])
    frame.iloc[20, frame.columns.get_loc("volume")] = 0.0
    provider.frame = frame
    report = ingest(engine, chain, ACME, **LIMITS)
    assert {c.name: c.passed for c in report.checks if not c.blocking} == {"no_gaps": False, "fresh": True, "volume_present": False}
    assert report.written == len(report.stored) == 114


def test_the_chains_health_is_recorded_even_when_every_provider_fails(setup):
    engine, provider, chain = setup
    with pytest.raises(AllProvidersFailed):
        ingest(engine, chain, ACME, **LIMITS)
    status = load_provider_status(engine)
    assert list(status["provider"]) == ["served"] and status["failures"].iloc[0] >= 1
