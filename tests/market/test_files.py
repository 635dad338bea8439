import gzip

import numpy as np
import pandas as pd
import pytest

from market.files import DataFolderError, FileProvider, bundled
from market.frames import OHLCV, CandleFormatError, normalize
from market.sources import Sources
from market.universe import Series, UniverseError, parse_universe, resolve_universe

GOOD = "timestamp,open,high,low,close,volume\n2020-01-02T00:00:00Z,10,11,9,10.5,100\n2020-01-03T00:00:00Z,10.5,12,10,11,0\n"


def test_bundled_sample_is_the_shared_real_data():
    provider = bundled()
    assert provider.available() == [Series("EURUSD", "1h"), Series("GOOGL", "1d"), Series("IXIC", "1d"), Series("SPX", "1d")]
    spx = provider.fetch(Series("SPX", "1d"))
    assert len(spx) == 5031
    assert list(spx.columns) == OHLCV and (spx.dtypes == "float64").all()
    assert str(spx.index.tz) == "UTC" and spx.index.is_unique and spx.index.is_monotonic_increasing
    assert spx.index[0] == pd.Timestamp("1999-01-04", tz="UTC")
    ixic = provider.fetch(Series("IXIC", "1d"))  # two real zero-volume bars are data, not errors
    assert (ixic["volume"] == 0).sum() == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timestamp,open,high,low,close\n2020-01-02T00:00:00Z,1,1,1,1\n", "missing column"),
        ("timestamp,open,high,low,close,volume\n", "no rows"),
        (GOOD + "2020-01-03T00:00:00Z,10,11,9,10,5\n", "duplicate timestamp"),
        (GOOD + "not-a-date,10,11,9,10,5\n", "unparseable timestamp"),
        (GOOD + "2020-01-06T00:00:00Z,10,abc,9,10,5\n", "non-numeric"),
        (GOOD + "2020-01-06T00:00:00Z,10,,9,10,5\n", "missing or infinite"),
        (GOOD + "2020-01-06T00:00:00Z,10,9,8,10,5\n", "violate low"),
        (GOOD + "2020-01-06T00:00:00Z,10,11,9,10,-5\n", "negative volume"),
    ],
)
def test_malformed_candles_are_refused_with_the_reason(tmp_path, text, message):
    (tmp_path / "ABC_1d.csv").write_text(text)
    with pytest.raises(CandleFormatError, match=message) as info:
        FileProvider(tmp_path, "local").fetch(Series("ABC", "1d"))
    assert "ABC_1d.csv" in str(info.value)


def test_local_folder_reads_csv_gzip_and_parquet_alike(tmp_path):
    frame = normalize(pd.read_csv(pd.io.common.StringIO(GOOD)))
    (tmp_path / "AAA_1d.csv").write_text(GOOD)
    with gzip.open(tmp_path / "BBB_1h.csv.gz", "wt") as fh:
        fh.write(GOOD)
    frame.to_parquet(tmp_path / "CCC_1w.parquet")
    (tmp_path / "README.md").write_text("not data")
    provider = FileProvider(tmp_path, "local")
    assert provider.available() == [Series("AAA", "1d"), Series("BBB", "1h"), Series("CCC", "1w")]
    for series in provider.available():
        pd.testing.assert_frame_equal(provider.fetch(series), frame)


def test_unsorted_rows_are_put_in_time_order():
    raw = pd.read_csv(pd.io.common.StringIO(GOOD)).iloc[::-1]
    assert normalize(raw).index.is_monotonic_increasing


def test_bad_file_names_and_missing_folders_are_named(tmp_path):
    with pytest.raises(DataFolderError, match="does not exist"):
        FileProvider(tmp_path / "nope", "local")
    (tmp_path / "spx-daily.csv").write_text(GOOD)
    with pytest.raises(DataFolderError, match="SYMBOL_TIMEFRAME"):
        FileProvider(tmp_path, "local")


def test_local_files_take_precedence_over_the_bundled_sample(tmp_path):
    (tmp_path / "SPX_1d.csv").write_text(GOOD)
    sources = Sources.offline(tmp_path)
    fetched = sources.fetch(Series("SPX", "1d"))
    assert fetched.provider == "local" and len(fetched.candles) == 2
    assert Series("GOOGL", "1d") in sources.available()


def test_non_finite_values_are_refused():
    raw = pd.read_csv(pd.io.common.StringIO(GOOD))
    raw.loc[1, "close"] = np.inf
    with pytest.raises(CandleFormatError, match="infinite"):
        normalize(raw)


def test_universe_parsing():
    assert parse_universe(" spx:1d, EURUSD:1h ,SPX:1d,") == [Series("SPX", "1d"), Series("EURUSD", "1h")]
    for bad, message in [("SPX", "SYMBOL:TIMEFRAME"), ("SPX:2d", "unknown timeframe"), ("S P X:1d", "characters"), (" , ", "empty")]:
        with pytest.raises(UniverseError, match=message):
            parse_universe(bad)
    available = [Series("SPX", "1d")]
    assert resolve_universe(None, available) == available
    with pytest.raises(UniverseError, match=r"no data for MSFT:1d; available: SPX:1d"):
        resolve_universe("MSFT:1d", available)
