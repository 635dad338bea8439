from datetime import datetime

import pandas as pd
import pytest

from market.files import bundled
from market.universe import Series
from store.candles import coverage, load_candles, upsert_candles


@pytest.fixture(scope="module")
def spx():
    return bundled().read(Series("SPX", "1d"))


def test_round_trip_keeps_every_bar_exactly(engine, spx):
    assert upsert_candles(engine, "SPX", "1d", spx, "bundled") == len(spx)
    stored = load_candles(engine, "SPX", "1d")
    pd.testing.assert_frame_equal(stored, spx, check_freq=False)
    assert str(stored.index.tz) == "UTC"


def test_upsert_is_idempotent_and_takes_revisions(engine, spx):
    upsert_candles(engine, "SPX", "1d", spx, "bundled")
    upsert_candles(engine, "SPX", "1d", spx, "bundled")
    revised = spx.tail(3).copy()
    revised["close"] = revised["close"] + 0.5
    revised["high"] = revised[["high", "close"]].max(axis=1)
    upsert_candles(engine, "SPX", "1d", revised, "replay")
    stored = load_candles(engine, "SPX", "1d")
    assert len(stored) == len(spx)
    assert stored["close"].iloc[-3:].tolist() == revised["close"].tolist()
    assert stored["close"].iloc[:-3].tolist() == spx["close"].iloc[:-3].tolist()
    cov = coverage(engine)
    assert cov.to_dict("records")[0]["bars"] == len(spx)


def test_read_at_t_sees_nothing_after_t(engine, spx):
    upsert_candles(engine, "SPX", "1d", spx, "bundled")
    t = spx.index[1000]
    seen = load_candles(engine, "SPX", "1d", end=t.to_pydatetime())
    assert seen.index.max() == t
    assert len(seen) == 1001


def test_a_failed_write_leaves_nothing_behind(engine, spx):
    upsert_candles(engine, "SPX", "1d", spx.head(10), "bundled")
    batch = spx.iloc[10:2600].astype(object)  # spans several insertmanyvalues batches
    batch.iloc[-1, batch.columns.get_loc("volume")] = None  # NOT NULL violation in the last batch
    with pytest.raises(Exception, match=r"(?i)not[ -]null"):  # SQLite's IntegrityError, PostgreSQL's NotNullViolation
        upsert_candles(engine, "SPX", "1d", batch, "bundled")
    assert len(load_candles(engine, "SPX", "1d")) == 10


def test_timestamps_come_back_in_utc_whatever_zone_went_in(engine, spx):
    frame = spx.head(5).tz_convert("America/New_York")
    upsert_candles(engine, "SPX", "1d", frame, "bundled")
    stored = load_candles(engine, "SPX", "1d")
    assert list(stored.index) == list(spx.head(5).index)
    assert stored.index[0].to_pydatetime() == datetime.fromisoformat("1999-01-04T00:00:00+00:00")
