import gzip
from io import StringIO

import pandas as pd
import pytest

from market.chain import MarketConfig, ProviderChain
from market.errors import BadPayload, NoData
from market.files import DataFolderError, FileProvider, bundled
from market.frames import OHLCV, CandleFormatError, conform
from market.universe import SYMBOL, Series, UniverseError, parse_universe, resolve_universe, timeframe_delta

GOOD = "timestamp,open,high,low,close,volume\n2020-01-02T00:00:00Z,10,11,9,10.5,100\n2020-01-03T00:00:00Z,10.5,12,10,11,0\n"


def test_bundled_sample_is_the_shared_real_data():
    provider = bundled()
    assert provider.listing() == [Series("EURUSD", "1h"), Series("GOOGL", "1d"), Series("IXIC", "1d"), Series("SPX", "1d")]
    spx = provider.read(Series("SPX", "1d"))
    assert len(spx) == 5031
    assert list(spx.columns) == OHLCV and (spx.dtypes == "float64").all()
    assert str(spx.index.tz) == "UTC" and spx.index.is_unique and spx.index.is_monotonic_increasing
    assert spx.index[0] == pd.Timestamp("1999-01-04", tz="UTC")
    assert (provider.read(Series("IXIC", "1d"))["volume"] == 0).sum() == 2  # real data, kept as is
    assert (provider.fetch("SPX", "1d", start=pd.Timestamp("2018-12-27", tz="UTC")).index.day == [27, 28, 31]).all()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timestamp,open,high,low,close\n2020-01-02T00:00:00Z,1,1,1,1\n", "missing column"),
        (GOOD + "not-a-date,10,11,9,10,5\n", "unparseable timestamp"),
        (GOOD + "2020-01-06T00:00:00Z,10,abc,9,10,5\n", "non-numeric"),
    ],
)
def test_files_that_are_not_candles_are_refused_with_the_reason(tmp_path, text, message):
    (tmp_path / "ABC_1d.csv").write_text(text)
    provider = FileProvider(tmp_path, "local")
    with pytest.raises(CandleFormatError, match=message) as info:
        provider.read(Series("ABC", "1d"))
    assert "ABC_1d.csv" in str(info.value)
    with pytest.raises(BadPayload, match=message):
        provider.fetch("ABC", "1d")


def test_an_unreadable_file_is_named(tmp_path):
    (tmp_path / "ABC_1d.csv.gz").write_bytes(b"not gzip at all")
    with pytest.raises(CandleFormatError, match=r"ABC_1d\.csv\.gz: unreadable"):
        FileProvider(tmp_path, "local").read(Series("ABC", "1d"))


def test_local_folder_reads_csv_gzip_and_parquet_alike(tmp_path):
    frame = conform(pd.read_csv(StringIO(GOOD)))
    (tmp_path / "AAA_1d.csv").write_text(GOOD)
    with gzip.open(tmp_path / "BBB_1h.csv.gz", "wt") as fh:
        fh.write(GOOD)
    frame.to_parquet(tmp_path / "CCC_1w.parquet")
    (tmp_path / "README.md").write_text("not data")
    provider = FileProvider(tmp_path, "local")
    assert provider.listing() == [Series("AAA", "1d"), Series("BBB", "1h"), Series("CCC", "1w")]
    for series in provider.listing():
        pd.testing.assert_frame_equal(provider.read(series), frame)
    with pytest.raises(NoData):
        provider.fetch("ZZZ", "1d")


def test_a_changed_file_is_read_again(tmp_path):
    path = tmp_path / "AAA_1d.csv"
    path.write_text(GOOD)
    provider = FileProvider(tmp_path, "local")
    assert len(provider.read(Series("AAA", "1d"))) == 2
    path.write_text(GOOD + "2020-01-06T00:00:00Z,11,12,10,11.5,50\n")
    import os

    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert len(provider.read(Series("AAA", "1d"))) == 3


def test_bad_file_names_and_missing_folders_are_named(tmp_path):
    with pytest.raises(DataFolderError, match="does not exist"):
        FileProvider(tmp_path / "nope", "local")
    (tmp_path / "spx-daily.csv").write_text(GOOD)
    with pytest.raises(DataFolderError, match="SYMBOL_TIMEFRAME"):
        FileProvider(tmp_path, "local")


def test_provider_order_decides_who_serves_a_series_held_twice(tmp_path):
    (tmp_path / "SPX_1d.csv").write_text(GOOD)
    default = ProviderChain.from_config(MarketConfig(data_dir=tmp_path, cache_ttl_s=0))
    assert default.fetch(Series("SPX", "1d")).provider == "bundled"
    assert Series("GOOGL", "1d") in default.listing() and Series("SPX", "1d") in default.listing()
    local_first = ProviderChain.from_config(MarketConfig(providers=("local", "bundled"), data_dir=tmp_path, cache_ttl_s=0))
    fetched = local_first.fetch(Series("SPX", "1d"))
    assert fetched.provider == "local" and len(fetched.candles) == 2


def test_universe_parsing_and_timeframes():
    assert parse_universe(" spx:1d, EURUSD:1h ,SPX:1d,") == [Series("SPX", "1d"), Series("EURUSD", "1h")]
    for bad, message in [("SPX", "SYMBOL:TIMEFRAME"), ("SPX:2d", "unknown timeframe"), ("S P X:1d", "characters"), (" , ", "empty")]:
        with pytest.raises(UniverseError, match=message):
            parse_universe(bad)
    available = [Series("SPX", "1d")]
    assert resolve_universe(None, available) == available
    with pytest.raises(UniverseError, match=r"no data for MSFT:1d; available: SPX:1d"):
        resolve_universe("MSFT:1d", available)
    assert timeframe_delta("15m") == pd.Timedelta(minutes=15) and timeframe_delta("1w") == pd.Timedelta(days=7)


def test_one_symbol_pattern_for_the_universe_and_the_api():
    from serving.schemas.common import SYMBOL as API_SYMBOL

    assert API_SYMBOL is SYMBOL
    assert [s.symbol for s in parse_universe("^GSPC:1d,BRK.B:1d,EUR-USD:1h,x" + "9" * 31 + ":1d")] == ["^GSPC", "BRK.B", "EUR-USD", "X" + "9" * 31]
    for bad, message in [("EURUSD=X:1d", "characters"), ("A_B:1d", "characters"), ("X" * 33 + ":1d", "longer than 32")]:
        with pytest.raises(UniverseError, match=message):
            parse_universe(bad)
