"""`tx train` (the same training as the fused_model asset, from the stored candles) and `tx promote`."""

from cli.main import main


def test_train_needs_stored_candles(capsys):
    assert main(["train"]) == 2
    assert "tx: error: TX_DATABASE_URL: no stored candles" in capsys.readouterr().err


def test_train_logs_registers_and_gates(capsys):
    assert main(["candles", "fetch", "--quiet", "GOOGL:1d"]) == 0
    capsys.readouterr()
    assert main(["train", "--trials", "1", "--epochs", "1", "--splits", "3"]) == 0
    out = capsys.readouterr().out
    assert "wf_auc 0." in out and "layers: pattern 0." in out and "deep" in out and "sentiment 0.5000" in out
    assert "registered tx-fused v1; gate: " in out
    assert main(["train", "SPX:1d"]) == 2
    assert "tx: error: SERIES: not stored: SPX:1d; stored: GOOGL:1d" in capsys.readouterr().err
    assert main(["train", "GOOGL"]) == 2 and "SERIES: 'GOOGL' is not SYMBOL:TIMEFRAME" in capsys.readouterr().err
    assert main(["train", "--splits", "2000"]) == 2 and "SERIES: not trained: " in capsys.readouterr().err

    # by hand: the same gate refuses; an admin's override is recorded as forced
    assert main(["promote", "1"]) == 1 and "not promoted" in capsys.readouterr().out
    assert main(["promote", "1", "--force", "--actor", "alice"]) == 0
    assert "PROMOTED to champion: forced by alice" in capsys.readouterr().out
    assert main(["promote", "7"]) == 2 and "tx: error: VERSION: tx-fused v7" in capsys.readouterr().err
