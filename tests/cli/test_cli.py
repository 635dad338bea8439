from cli.main import main


def test_config_shows_where_each_store_lives_without_secrets(monkeypatch, capsys):
    monkeypatch.setenv("TX_POSTGRES_URL", "postgresql://tx:s3cret@db.example:5432/tx")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "postgresql://tx:***@db.example:5432/tx  (from TX_POSTGRES_URL)" in out
    assert "tx_mlflow" in out and "tx_dagster" in out
    assert "s3cret" not in out


def test_a_bad_setting_exits_2_with_one_line(monkeypatch, capsys):
    monkeypatch.setenv("TX_UNIVERSE", "SPX")
    monkeypatch.setenv("TX_DATA_DIR", "/definitely/missing")
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tx: error: TX_DATA_DIR: folder /definitely/missing does not exist")
