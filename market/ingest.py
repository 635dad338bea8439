"""Ingest one series: from the provider chain into the app database, checked.

Incremental: fetches from the last stored bar minus `overlap_bars` (to catch revisions).
When every re-fetched bar that was already stored moved, the provider re-adjusted its
history (a split, a dividend): the whole history is fetched again. A batch failing a
blocking check (corrupt bars) is not written (`CorruptBatch`); gaps, staleness and zero
volume are warnings evaluated on the stored series. Bars newer than the newest stored
before become `bar` events of the live feed (store/events.py). The Dagster `candles` asset
turns the report into metadata and check results.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from sqlalchemy.engine import Engine

from market.chain import Fetched, ProviderChain
from market.frames import OHLCV
from market.quality import CheckOutcome, blocking_checks, check_fresh, check_gaps, check_volume
from market.universe import Series
from store.candles import load_candles, newest_bar, resume_from, upsert_candles
from store.events import publish
from store.provider_status import record_provider_health
from store.types import iso

LOG = logging.getLogger(__name__)


class CorruptBatch(ValueError):
    """A fetched batch failed a blocking check: nothing of it was written."""

    def __init__(self, fetched: Fetched, checks: list[CheckOutcome]) -> None:
        self.fetched, self.checks = fetched, checks
        problems = "; ".join(o.summary for o in checks if not o.passed)
        super().__init__(f"{fetched.series}: corrupt batch from {fetched.provider}, nothing written: {problems}")


@dataclass(frozen=True, eq=False)
class IngestReport:
    fetched: Fetched  # the batch written, its provider and every attempt of the chain
    resumed_from: datetime | None  # where the incremental fetch started; None: the full history
    rescaled: bool  # the stored history was re-adjusted by the provider, so all of it was fetched again
    written: int  # rows inserted or updated
    new_bars: int  # bars after the newest one stored before (all of them on a first fetch)
    stored: pd.DataFrame  # the whole stored series after the write
    checks: tuple[CheckOutcome, ...]  # the blocking checks on the batch, then the warnings on the stored series

    @property
    def fetched_bars(self) -> int:
        return len(self.fetched.candles)


def history_rescaled(batch: pd.DataFrame, stored: pd.DataFrame, tolerance: float = 1e-6) -> bool:
    """True when *every* re-fetched bar that was already stored (but the newest) moved: the
    provider re-adjusted its history (a split, a dividend). One moved bar is a revision,
    which the overlap is there to catch."""
    common = batch.index.intersection(stored.index)[:-1]
    if len(common) == 0:
        return False
    drift = (batch.loc[common, "close"] / stored.loc[common, "close"] - 1).abs().min()
    return bool(drift > tolerance)


BAR_EVENTS_MAX = 10  # `bar` events per fetch: the newest new bars (a first full history announces only its end)


def bar_event(timeframe: str, ts: pd.Timestamp, bar: pd.Series, provider: str) -> dict:
    """The `bar` event's payload (store/events.py): the bar as stored."""
    return {"timeframe": timeframe, "ts": iso(ts), **{c: float(bar[c]) for c in OHLCV}, "provider": provider}


def ingest(engine: Engine, chain: ProviderChain, series: Series, *, overlap_bars: int, max_gap_bars: int, stale_bars: int,
           now: datetime | None = None, log: logging.Logger = LOG) -> IngestReport:
    """Fetch, check, upsert and re-check one series; the chain's health is recorded whatever
    happens. Raises AllProvidersFailed (nothing delivered) or CorruptBatch (nothing written)."""
    start = resume_from(engine, series.symbol, series.timeframe, overlap_bars)
    try:
        fetched = chain.fetch(series, start=start)
    finally:
        record_provider_health(engine, chain.health())  # what /api/provider-health reports
    rescaled = start is not None and history_rescaled(fetched.candles, load_candles(engine, series.symbol, series.timeframe, start=start))
    if rescaled:  # e.g. a split or dividend re-adjusted the provider's whole history: take all of it again
        log.warning(f"{series}: stored bars before the newest differ from {fetched.provider}'s; re-fetching the full history")
        fetched = chain.fetch(series)
    batch = fetched.candles
    log.info(f"{series}: {len(batch)} bars from {fetched.provider}" + (f" after {len(fetched.fallbacks)} fallback(s)" if fetched.fallbacks else ""))

    blocking = blocking_checks(batch)
    if not all(o.passed for o in blocking):
        raise CorruptBatch(fetched, blocking)
    previous = newest_bar(engine, series.symbol, series.timeframe)
    written = upsert_candles(engine, series.symbol, series.timeframe, batch, fetched.provider)
    stored = load_candles(engine, series.symbol, series.timeframe)
    new = stored if previous is None else stored[stored.index > previous]
    publish(engine, "bar", series.symbol, [bar_event(series.timeframe, ts, bar, fetched.provider)
                                           for ts, bar in new.tail(BAR_EVENTS_MAX).iterrows()])
    warnings = [
        check_gaps(stored, series.timeframe, max_gap_bars),
        check_fresh(stored, series.timeframe, fetched.live, now or datetime.now(UTC), stale_bars),
        check_volume(stored),
    ]
    return IngestReport(fetched, None if rescaled else start, bool(rescaled), written, len(new), stored, (*blocking, *warnings))
