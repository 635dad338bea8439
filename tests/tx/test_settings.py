import pytest

from tx.errors import ConfigError
from tx.settings import ROOT, load_settings


def test_embedded_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.delenv("TX_MLFLOW_ARTIFACTS")
    s = load_settings()
    assert s.app_database_url == f"sqlite:///{tmp_path / 'tx' / 'tx.db'}"
    assert s.tracking_uri == f"sqlite:///{ROOT / 'mlflow' / 'mlflow.db'}"
    assert s.mlflow_artifacts == str(ROOT / "mlflow" / "artifacts")
    assert s.dagster_storage_url is None
    assert s.dagster_home_dir == tmp_path / "tx" / "dagster"


def test_one_switch_puts_all_three_stores_on_postgres(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("TX_POSTGRES_URL", "postgresql://postgres:s3cret@db.local:5433/tx")
    s = load_settings()
    assert s.app_database_url == "postgresql://postgres:s3cret@db.local:5433/tx"
    assert s.tracking_uri == "postgresql+psycopg://postgres:s3cret@db.local:5433/tx_mlflow"
    assert s.dagster_storage_url == "postgresql://postgres:s3cret@db.local:5433/tx_dagster"


def test_each_store_stays_overridable(monkeypatch):
    monkeypatch.setenv("TX_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/tx")
    monkeypatch.setenv("TX_DATABASE_URL", "sqlite:////tmp/app.db")
    monkeypatch.setenv("TX_DAGSTER_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/dagster_only")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    s = load_settings()
    assert (s.app_database_url, s.app_database_setting) == ("sqlite:////tmp/app.db", "TX_DATABASE_URL")
    assert (s.tracking_uri, s.tracking_setting) == ("http://127.0.0.1:5000", "MLFLOW_TRACKING_URI")
    assert s.dagster_storage_url.endswith("/dagster_only")


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("TX_POSTGRES_URL", "mysql://root@localhost/tx", "TX_POSTGRES_URL: unsupported database 'mysql'"),
        ("TX_POSTGRES_URL", "sqlite:///x.db", "TX_POSTGRES_URL: expected postgresql://"),
        ("TX_POSTGRES_URL", "postgresql://postgres@localhost", "TX_POSTGRES_URL: .* names no database"),
        ("TX_DATABASE_URL", "::not a url::", "TX_DATABASE_URL: not a database URL"),
        ("TX_DATA_DIR", "/no/such/folder", "TX_DATA_DIR: folder /no/such/folder does not exist"),
        ("TX_DAGSTER_PORT", "three thousand", "TX_DAGSTER_PORT"),
    ],
)
def test_a_wrong_setting_is_named_with_what_was_expected(monkeypatch, var, value, message):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_dot_env_file_is_read(monkeypatch, tmp_path):
    env = tmp_path / "my.env"
    env.write_text("TX_UNIVERSE=SPX:1d\n")
    monkeypatch.setenv("TX_ENV_FILE", str(env))
    assert load_settings().universe == "SPX:1d"
