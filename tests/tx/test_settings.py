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
        ("TX_RL_ALGORITHM", "sac", "TX_RL_ALGORITHM"),
        ("TX_RL_TIMESTEPS", "10", "TX_RL_TIMESTEPS"),
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


@pytest.mark.parametrize(("field", "tx_name", "seed", "value"), [
    ("database_url", "TX_DATABASE_URL", "DATABASE_URL", "sqlite:////tmp/seed.db"),
    ("cors_origins", "TX_CORS_ORIGINS", "CORS_ORIGINS", "https://app.example.com"),
    ("sentry_dsn", "TX_SENTRY_DSN", "SENTRY_DSN", "https://public@sentry.example.com/7"),
])
def test_the_seeds_names_are_read_and_the_tx_name_wins(monkeypatch, field, tx_name, seed, value):
    monkeypatch.setenv(seed, value)
    s = load_settings()
    assert getattr(s, field) == value and s.source(field) == seed and s.notices == ()
    monkeypatch.setenv(tx_name, value)
    assert load_settings().notices == ()  # both set, the same: nothing to say
    other = value.replace("seed", "ours").replace("app.", "ui.").replace("/7", "/8")
    monkeypatch.setenv(tx_name, other)
    s = load_settings()
    assert getattr(s, field) == other and s.source(field) == tx_name
    assert s.notices == (f"{tx_name} and {seed} are both set and differ; using {tx_name}",)


def test_the_seeds_database_url_is_named_as_the_apps_database_and_in_errors(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "sqlite:////tmp/seed.db")
    assert load_settings().app_database_setting == "DATABASE_URL"
    monkeypatch.setenv("DATABASE_URL", "::not a url::")
    with pytest.raises(ConfigError, match="^DATABASE_URL: not a database URL"):
        load_settings()


def test_seed_names_in_the_dot_env_file_count_too(monkeypatch, tmp_path):
    env = tmp_path / "seed.env"
    env.write_text("CORS_ORIGINS=https://a.example.com\nSECRET_KEY=changeme\n")
    monkeypatch.setenv("TX_ENV_FILE", str(env))
    monkeypatch.setenv("TX_CORS_ORIGINS", "https://b.example.com")
    s = load_settings()
    assert s.cors_origins == "https://b.example.com"
    assert s.notices[0] == "TX_CORS_ORIGINS and CORS_ORIGINS are both set and differ; using TX_CORS_ORIGINS"
    assert s.notices[1].startswith("SECRET_KEY is set, but TX has no use for it") and "changeme" not in " ".join(s.notices)


@pytest.mark.parametrize(("var", "value", "message"), [
    ("SENTRY_DSN", "sentry.example.com/7", "^SENTRY_DSN: not a Sentry DSN"),
    ("SENTRY_DSN", "https://sentry.example.com/7", "^SENTRY_DSN: not a Sentry DSN .*public key"),
    ("TX_SENTRY_DSN", "https://public@sentry.example.com/", "^TX_SENTRY_DSN: not a Sentry DSN"),
    ("TX_SENTRY_TRACES_SAMPLE_RATE", "2", "^TX_SENTRY_TRACES_SAMPLE_RATE"),
    ("TX_LOG_FORMAT", "xml", "^TX_LOG_FORMAT"),
    ("TX_LOG_LEVEL", "chatty", "^TX_LOG_LEVEL: unknown level"),
])
def test_a_wrong_operations_setting_names_its_variable(monkeypatch, var, value, message):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_operations_defaults(monkeypatch):
    s = load_settings()
    assert (s.sentry_dsn, s.env, s.sentry_traces_sample_rate, s.log_format, s.log_level) == (None, "development", 0.0, None, "INFO")
    monkeypatch.setenv("TX_LOG_LEVEL", "debug")
    monkeypatch.setenv("TX_ENV", "production")
    assert (load_settings().log_level, load_settings().env) == ("DEBUG", "production")


def test_relative_mlflow_locations_are_the_repositorys_whatever_folder_a_process_runs_in(monkeypatch, tmp_path):
    """`.env.example`'s forms (`sqlite:///mlflow/mlflow.db`, `mlflow/artifacts`) name one store
    for every process: a Dagster process runs in DAGSTER_HOME, and read against its own folder
    they would open (and create) a store there."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlflow/mlflow.db")
    monkeypatch.setenv("TX_MLFLOW_ARTIFACTS", "mlflow/artifacts")
    monkeypatch.chdir(tmp_path)
    s = load_settings()
    assert s.tracking_uri == f"sqlite:///{ROOT / 'mlflow' / 'mlflow.db'}"
    assert s.mlflow_artifacts == str(ROOT / "mlflow" / "artifacts")
    for absolute in (f"sqlite:///{tmp_path / 'm.db'}", "http://127.0.0.1:5000", "postgresql+psycopg://u@h/tx_mlflow"):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", absolute)
        assert load_settings().tracking_uri == absolute
    for location in (str(tmp_path / "a"), "s3://bucket/artifacts", "file:///srv/artifacts"):
        monkeypatch.setenv("TX_MLFLOW_ARTIFACTS", location)
        assert load_settings().mlflow_artifacts == location
