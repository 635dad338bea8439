from cli.main import main


def test_universe_fetch_and_show(capsys):
    assert main(["universe"]) == 0
    out = capsys.readouterr().out
    assert "SPX:1d         bundled                          0  -" in out
    assert main(["candles", "fetch", "--quiet", "GOOGL:1d"]) == 0
    out = capsys.readouterr().out
    assert "GOOGL:1d: 2335 bars written from bundled, 2335 stored" in out
    assert main(["universe"]) == 0
    assert "GOOGL:1d       bundled                       2335  2009-05-22 00:00 .. 2018-08-29 00:00" in capsys.readouterr().out
    assert main(["candles", "show", "GOOGL:1d", "--tail", "2"]) == 0
    assert "2335 bars, 2009-05-22 00:00:00+00:00 .. 2018-08-29 00:00:00+00:00" in capsys.readouterr().out


def test_dry_run_shows_every_attempt_and_writes_nothing(monkeypatch, capsys, tx_env):
    monkeypatch.setenv("TX_PROVIDERS", "finnhub,bundled")
    assert main(["candles", "fetch", "--dry-run", "SPX:1d"]) == 0
    out = capsys.readouterr().out
    assert "SPX:1d: 5031 bars from bundled" in out
    assert "finnhub    no data" in out and "no API key (set TX_FINNHUB_API_KEY)" in out
    assert "check no_gaps" in out
    assert main(["candles", "show", "SPX:1d"]) == 1
    assert "no stored bars for SPX:1d" in capsys.readouterr().err


def test_unknown_series_is_a_clear_error(capsys):
    assert main(["candles", "fetch", "NOPE:1d"]) == 2
    assert "tx: error: SERIES: no data for NOPE:1d" in capsys.readouterr().err


def test_features_command_computes_from_fetched_candles(capsys, tmp_path):
    out = tmp_path / "spx.parquet"
    assert main(["features", "SPX:1d", "--labels", "--columns", "ret_1,rsi_14,label", "--tail", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "SPX:1d: 5031 rows x 100 columns from candles from bundled (not stored)" in printed
    import pandas as pd

    assert pd.read_parquet(out).shape == (5031, 100)
    assert main(["features", "SPX:1d", "--columns", "nope"]) == 1
    assert "unknown column(s) nope" in capsys.readouterr().err
