"""One settings object for the whole platform, read from the environment and from the
repository's `.env` (or the file named by TX_ENV_FILE) — the same file whatever folder a
process runs in, so `tx`, the Dagster code server and the BentoML service agree.

Variables use the `TX_` prefix, plus the standard `MLFLOW_TRACKING_URI` and
`DAGSTER_HOME`. `.env.example` documents each of them. The seed deployment's names
`SENTRY_DSN`, `CORS_ORIGINS` and `DATABASE_URL` are read too (the `TX_` name wins), so a
team moving over keeps its error reporting and CORS setting; `Settings.notices` says when
both are set and differ, and when the unused `SECRET_KEY` is set.
"""

import os
from functools import cached_property
from pathlib import Path

from typing import Literal

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, PrivateAttr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL
from upath import UPath

from market.chain import KNOWN as KNOWN_PROVIDERS
from market.chain import MarketConfig
from market.news import NewsConfig
from store.db import DatabaseError, parse_url, redact
from tx.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
# field -> the seed deployment's name for it, read beside TX_<FIELD> (which wins)
SEED_NAMES = {"database_url": "DATABASE_URL", "cors_origins": "CORS_ORIGINS", "sentry_dsn": "SENTRY_DSN"}
CELERY_SCHEMES = ("amqp", "amqps", "pyamqp", "redis", "rediss", "sqs", "rpc", "db+postgresql", "db+sqlite", "memory")
UNUSED_SECRET_KEY = ("SECRET_KEY is set, but TX has no use for it: API keys are stored as SHA-256 hashes and nothing is "
                     "signed or kept in sessions; unset it (README, Operations)")



def _is_server(uri: str) -> bool:
    """An MLflow tracking URI that names a server (not a database)."""
    return uri.startswith(("http://", "https://"))

class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TX_", env_file=ROOT / ".env", extra="ignore", frozen=True)

    home: Path = Field(ROOT / ".tx", description="Embedded stores and local files (git-ignored).")
    postgres_url: str | None = Field(None, description="Puts all three stores on this PostgreSQL server.")
    database_url: str | None = Field(None, validation_alias=AliasChoices("TX_DATABASE_URL", "DATABASE_URL"),
                                     description="App database; overrides TX_POSTGRES_URL for it.")
    dagster_postgres_url: str | None = Field(None, description="Dagster instance storage on PostgreSQL.")
    mlflow_tracking_uri: str | None = Field(
        None, validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "TX_MLFLOW_TRACKING_URI")
    )
    mlflow_artifacts: str = Field(str(ROOT / "mlflow" / "artifacts"), description="MLflow artifact root.")
    dagster_home: Path | None = Field(None, validation_alias=AliasChoices("DAGSTER_HOME", "TX_DAGSTER_HOME"))
    data_dir: Path | None = Field(None, description="The user's own candle files.")
    universe: str | None = Field(None, description="SYMBOL:TIMEFRAME,... (default: every available series).")
    providers: str = Field("bundled,local", description="Candle providers in fallback order.")
    polygon_api_key: str | None = Field(None, validation_alias=AliasChoices("TX_POLYGON_API_KEY", "POLYGON_API_KEY"))
    finnhub_api_key: str | None = Field(None, validation_alias=AliasChoices("TX_FINNHUB_API_KEY", "FINNHUB_API_KEY"))
    polygon_url: str = "https://api.polygon.io"
    finnhub_url: str = "https://finnhub.io"
    newsapi_key: str | None = Field(None, validation_alias=AliasChoices("TX_NEWSAPI_KEY", "NEWSAPI_KEY"))
    newsapi_url: str = "https://newsapi.org"
    reddit_client_id: str | None = Field(None, validation_alias=AliasChoices("TX_REDDIT_CLIENT_ID", "REDDIT_CLIENT_ID"))
    reddit_client_secret: str | None = Field(None, validation_alias=AliasChoices("TX_REDDIT_CLIENT_SECRET", "REDDIT_CLIENT_SECRET"))
    reddit_url: str = "https://oauth.reddit.com"
    reddit_auth_url: str = "https://www.reddit.com"
    x_bearer_token: str | None = Field(None, validation_alias=AliasChoices("TX_X_BEARER_TOKEN", "X_BEARER_TOKEN"))
    x_url: str = "https://api.twitter.com"
    news_cron: str = Field("*/30 * * * *", description="News and social ingestion schedule (cron, UTC).")
    news_lookback_days: float = Field(7.0, gt=0, description="How far back a symbol without stored news is fetched.")
    provider_timeout_s: float = Field(10.0, gt=0)
    provider_retries: int = Field(3, ge=1)
    cache_ttl_s: float = Field(60.0, ge=0)
    breaker_fail_max: int = Field(5, ge=1)
    breaker_reset_s: float = Field(60.0, gt=0)
    synthetic_bars: int = Field(2500, ge=2)
    synthetic_seed: int = 0
    synthetic_signal: float = 0.0
    overlap_bars: int = Field(3, ge=0, description="Bars re-fetched before the last stored one, to catch revisions.")
    max_gap_bars: int = Field(3, ge=0)
    stale_bars: int = Field(3, ge=1)
    label_horizon: int = Field(10, ge=1, description="Bars the triple-barrier labels look ahead.")
    promotion_threshold: float = Field(0.6, gt=0, lt=1, description="wf_auc a model must exceed to become champion.")
    train_timeframes: str = Field("1d", description="Timeframes the fused model trains on (comma-separated; empty: all).")
    train_tune_trials: int = Field(6, ge=0, description="Optuna trials of the multi-timeframe layer per training (a first-hour "
                                   "budget: raise it for production; docs/BENCHMARKS.md).")
    train_deep_trials: int = Field(0, ge=0, description="Optuna trials of the deep layer per training (0: its defaults).")
    train_deep_epochs: int = Field(3, ge=1, description="Epochs of each deep-layer net per fit.")
    train_tune_seconds: float = Field(0.0, ge=0, description="Time bound of each layer's Optuna study, beside its trials "
                                      "(0: trials only). When it binds, the trial count depends on the machine; it is recorded.")
    optuna_storage: str | None = Field(None, description="Optuna RDB URL (e.g. postgresql://user@host/optuna): each layer's tuning "
                                       "study lives there, so several processes or workers started on the same training share its "
                                       "trials (unset: in memory, one process).")
    train_cron: str = Field("0 2 * * *", description="Retraining schedule (cron, UTC).")
    online_cron: str = Field("*/3 * * * *", description="Online-learning schedule (cron, UTC): every 180 s by default.")
    online_min_new: int = Field(20, ge=1, description="Newly matured labels needed for an online step.")
    online_half_life: int = Field(500, ge=0, description="Samples back at which a sample weighs half in an online step (0: all alike).")
    model_poll_s: float = Field(30.0, gt=0, description="How often each service worker checks the champion alias.")
    read_cache_s: float = Field(1.0, ge=0, description="Seconds a service worker may reuse a market-data read or a symbol's score (0: off).")
    api_open_reads: bool = Field(False, description="Serve GET/read endpoints without an API key.")
    rate_limit_per_minute: int = Field(600, ge=1, description="Requests a minute per API key, unless the key sets its own: across every "
                                       "worker and replica with TX_REDIS_URL, else per worker.")
    redis_url: str | None = Field(None, description="Redis (redis://host:6379/0) holding the rate-limit windows, shared by every "
                                  "service worker and replica (unset: each worker counts alone). Unreachable: keyed requests get 503.")
    redis_prefix: str = Field("tx:", description="Prefix of TX's keys in that Redis (replicas that share limits use the same one).")
    serve_workers: int | None = Field(None, ge=1, le=64, description="BentoML worker processes of the service (unset: 2 under "
                                      "`tx run`/`make run`, 1 under `tx serve` or a bare `bentoml serve`).")
    cors_origins: str = Field("", validation_alias=AliasChoices("TX_CORS_ORIGINS", "CORS_ORIGINS"),
                              description="Comma-separated browser origins allowed (default: localhost on any port).")
    sentry_dsn: str | None = Field(None, validation_alias=AliasChoices("TX_SENTRY_DSN", "SENTRY_DSN"),
                                   description="Sentry DSN: the service, the CLI and Dagster runs report errors there (unset: off).")
    env: str = Field("development", min_length=1, description="Deployment environment, as Sentry reports it.")
    sentry_traces_sample_rate: float = Field(0.0, ge=0, le=1, description="Share of requests traced to Sentry (0: errors only).")
    log_format: Literal["json", "text"] | None = Field(None, description="json or text (default: json unless stderr is a terminal).")
    log_level: str = Field("INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL.")
    paper_cash: float = Field(100_000.0, gt=0, description="Starting cash of the paper account.")
    paper_commission_bps: float = Field(1.0, ge=0, description="Paper commission, basis points of notional.")
    paper_min_fee: float = Field(0.0, ge=0, description="Paper commission floor per fill.")
    paper_slippage_bps: float = Field(2.0, ge=0, description="Paper fills are this much worse than the last close.")
    paper_max_leverage: float = Field(1.0, gt=0, description="A fill may not take gross exposure past this times equity (reducing one always passes).")
    paper_allow_short: bool = Field(True, description="Allow paper short sales.")
    alert_confidence: float = Field(0.85, gt=0.5, le=1, description="Fused confidence at which the scanner raises an alert.")
    alert_dedup_minutes: float = Field(10.0, ge=0, description="No second alert per (symbol, direction, source) within this window.")
    alert_cron: str = Field("*/5 * * * *", description="Alert scanner schedule (cron, UTC).")
    drift_cron: str = Field("0 3 * * *", description="Model monitoring (drift report, live performance) schedule (cron, UTC).")
    drift_share_max: float = Field(0.5, gt=0, le=1, description="Share of drifted features at which retraining is triggered.")
    live_auc_min: float = Field(0.5, ge=0, le=1, description="Live AUC below which retraining is triggered (decay).")
    live_min_matured: int = Field(100, ge=1, description="Matured served predictions needed before live AUC can trigger retraining.")
    drift_reference_bars: int = Field(500, ge=20, description="Bars per series the model learned from, compared for drift.")
    drift_current_bars: int = Field(120, ge=20, description="Most recent bars per series compared with them.")
    backtest_cron: str = Field("30 2 * * *", description="Nightly pattern, strategy and walk-forward backtests (cron, UTC).")
    backtest_fee: float = Field(0.001, ge=0, lt=0.5, description="Backtest fee, fraction of each fill's value.")
    backtest_slippage: float = Field(0.0005, ge=0, lt=0.5, description="Backtest slippage, fraction of the price against the trade.")
    backtest_buy_threshold: float = Field(0.55, ge=0, le=1, description="Fused probability at or above which the strategy backtest is long.")
    backtest_sell_threshold: float = Field(0.45, ge=0, le=1, description="At or below which it is short (flat in between).")
    backtest_train_bars: int = Field(750, ge=0, description="Walk-forward analysis: rolling training window in bars (0: expanding).")
    backtest_retune: bool = Field(False, description="Walk-forward analysis: tune the layers' hyper-parameters anew instead of "
                                  "reusing those the fused model's tuning chose (recorded in its MLflow run).")
    rl_algorithm: Literal["ppo", "a2c", "dqn"] = Field("ppo", description="The RL agent's stable-baselines3 algorithm.")
    rl_timesteps: int = Field(4_096, ge=100, le=10_000_000, description="RL environment steps per walk-forward window (and for the "
                              "final policy): the training budget; the default keeps `make demo` within minutes on 2 CPU cores.")
    rl_splits: int = Field(4, ge=1, le=20, description="RL walk-forward test windows.")
    rl_episode_bars: int = Field(256, ge=2, description="Bars per RL training episode.")
    rl_seed: int = Field(0, ge=0, description="Seed of the RL agent (same seed, same data: same figures).")
    rl_cron: str = Field("0 4 * * *", description="RL agent schedule (cron, UTC): after the nightly retraining (TX_TRAIN_CRON).")
    executor: Literal["in_process", "multiprocess", "celery"] = Field(
        "in_process", description="How a Dagster run executes its steps: in its own process (in_process), a process per step "
        "(multiprocess), or on Celery workers (celery: `tx worker`, through TX_CELERY_BROKER).")
    celery_broker: str = Field("amqp://guest:guest@127.0.0.1:5672//", description="Celery broker of TX_EXECUTOR=celery and `tx worker`.")
    celery_backend: str = Field("rpc://", description="Celery result backend: rpc:// sends each step's events back to the run "
                                "over the broker (the run that submitted the step is the one waiting for it).")
    celery_queue: str = Field("dagster", min_length=1, description="Celery queue the steps are sent to and `tx worker` listens on.")
    frames_url: str | None = Field(None, description="Where the analytical frames live: a folder or any fsspec/UPath URL "
                                   "(s3://bucket/frames); workers on other machines need a shared one (default: TX_HOME/frames).")
    max_concurrent_runs: int = Field(2, ge=1, description="Dagster runs the run queue lets run at once (dagster.yaml's "
                                     "QueuedRunCoordinator).")
    run_timeout_s: float = Field(3600.0, gt=0, description="`tx backfill --wait` marks a run failed (and stops its process) "
                                 "when it has not ended after this long.")
    host: str = "127.0.0.1"
    dagster_port: int = 3000
    mlflow_port: int = 5000
    serving_port: int = 3001
    _sources: dict[str, str] = PrivateAttr(default_factory=dict)
    _notices: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("postgres_url", "database_url", "dagster_postgres_url", "mlflow_tracking_uri", "universe", "sentry_dsn",
                     "log_format", "frames_url", "optuna_storage", "redis_url", "serve_workers", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("mlflow_tracking_uri")
    @classmethod
    def _tracking_uri(cls, value: str | None) -> str | None:
        """A relative SQLite path (`sqlite:///mlflow/mlflow.db`) is read against the repository
        root, not the current folder: a Dagster process runs in DAGSTER_HOME and would open
        (and create) a store of its own there."""
        if value is not None and value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
            path = value.removeprefix("sqlite:///")
            if path and not path.startswith(":memory:"):
                return f"sqlite:///{ROOT / path}"
        return value

    @field_validator("mlflow_artifacts")
    @classmethod
    def _artifacts(cls, value: str) -> str:
        """A relative folder is read against the repository root, as the tracking URI is."""
        if "://" not in value and not value.startswith("file:") and not Path(value).is_absolute():
            return str(ROOT / value)
        return value

    @field_validator("sentry_dsn")
    @classmethod
    def _sentry_dsn(cls, value: str | None) -> str | None:
        if value is not None:
            from sentry_sdk.utils import BadDsn, Dsn  # only paid for when a DSN is set

            try:
                Dsn(value)
            except BadDsn as exc:
                raise ValueError(f"not a Sentry DSN ({exc}); expected https://<public key>@<host>/<project id>") from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: str) -> str:
        level = str(value).strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError(f"unknown level {value!r}; expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("postgres_url", "dagster_postgres_url")
    @classmethod
    def _postgres(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                url = parse_url(value)
            except DatabaseError as exc:
                raise ValueError(str(exc)) from None
            if url.get_backend_name() != "postgresql":
                raise ValueError(f"expected postgresql://user@host:port/database, got {redact(url)}")
        return value

    @field_validator("database_url", "optuna_storage")
    @classmethod
    def _database(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_url(value)
            except DatabaseError as exc:
                raise ValueError(str(exc)) from None
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if value is not None and value.split("://", 1)[0] not in ("redis", "rediss", "unix"):
            raise ValueError("expected redis://[user:password@]host:port/db (or rediss://, unix://)")
        return value

    @field_validator("providers")
    @classmethod
    def _providers(cls, value: str) -> str:
        names = [n.strip().lower() for n in value.split(",") if n.strip()]
        unknown = [n for n in names if n not in KNOWN_PROVIDERS]
        if unknown or not names:
            raise ValueError(f"unknown provider(s) {', '.join(unknown) or '(none given)'}; expected a comma-separated order of {', '.join(KNOWN_PROVIDERS)}")
        return ",".join(names)

    @field_validator("celery_broker", "celery_backend")
    @classmethod
    def _celery_url(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in CELERY_SCHEMES:
            raise ValueError(f"expected a Celery URL ({', '.join(s + '://' for s in CELERY_SCHEMES)}), got {value.split('@')[-1]!r}")
        return value

    @field_validator("data_dir")
    @classmethod
    def _data_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"folder {value} does not exist; expected a folder of SYMBOL_TIMEFRAME.csv[.gz] or .parquet files")
        return value

    # -- derived locations: one place decides where each store lives ---------------

    def _postgres_database(self, suffix: str) -> URL | None:
        if not self.postgres_url:
            return None
        base = parse_url(self.postgres_url)
        return base.set(database=f"{base.database}{suffix}")

    @cached_property
    def app_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        pg = self._postgres_database("")
        if pg is not None:
            return pg.render_as_string(hide_password=False)
        return f"sqlite:///{self.home / 'tx.db'}"

    @property
    def app_database_setting(self) -> str:
        return self.source("database_url") if self.database_url else "TX_POSTGRES_URL" if self.postgres_url else "TX_HOME"

    def source(self, field: str) -> str:
        """The variable a field was read from: `TX_<FIELD>`, or the seed's name when only that is set."""
        return self._sources.get(field, f"TX_{field.upper()}")

    @property
    def notices(self) -> tuple[str, ...]:
        """Warnings about the configuration to log once at start (no values: they may be secrets)."""
        return self._notices

    @cached_property
    def tracking_uri(self) -> str:
        """Where every process logs and reads MLflow: MLFLOW_TRACKING_URI (an `http://` MLflow
        server, or a database), else the store itself (`mlflow_store_uri`)."""
        return self.mlflow_tracking_uri or self.mlflow_store_uri

    @property
    def tracking_is_server(self) -> bool:
        """MLflow is reached through a tracking server (artifacts proxied by it)."""
        return _is_server(self.tracking_uri)

    @cached_property
    def mlflow_store_uri(self) -> str:
        """The database behind MLflow: what `tx mlflow-server` serves. MLFLOW_TRACKING_URI when it
        names a database; else TX_POSTGRES_URL's `_mlflow` database; else the embedded SQLite
        file. So one environment serves both sides: the server's machine sets TX_POSTGRES_URL,
        and every machine sets MLFLOW_TRACKING_URI=http://<server>."""
        if self.mlflow_tracking_uri and not _is_server(self.mlflow_tracking_uri):
            return self.mlflow_tracking_uri
        pg = self._postgres_database("_mlflow")
        if pg is not None:
            return pg.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return f"sqlite:///{ROOT / 'mlflow' / 'mlflow.db'}"

    @property
    def tracking_setting(self) -> str:
        return "MLFLOW_TRACKING_URI" if self.mlflow_tracking_uri else "TX_POSTGRES_URL" if self.postgres_url else "default"

    @property
    def mlflow_store_setting(self) -> str:
        """The variable that chose `mlflow_store_uri`."""
        if self.mlflow_tracking_uri and not _is_server(self.mlflow_tracking_uri):
            return "MLFLOW_TRACKING_URI"
        return "TX_POSTGRES_URL" if self.postgres_url else "default"

    @cached_property
    def dagster_storage_url(self) -> str | None:
        """PostgreSQL URL of Dagster's run/event/schedule storage; None means SQLite."""
        if self.dagster_postgres_url:
            return self.dagster_postgres_url
        pg = self._postgres_database("_dagster")
        return pg.render_as_string(hide_password=False) if pg is not None else None

    @property
    def dagster_setting(self) -> str:
        return "TX_DAGSTER_POSTGRES_URL" if self.dagster_postgres_url else "TX_POSTGRES_URL" if self.postgres_url else "DAGSTER_HOME"

    @cached_property
    def dagster_home_dir(self) -> Path:
        return self.dagster_home or self.home / "dagster"

    @property
    def provider_names(self) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.providers.split(",") if p.strip())

    def market_config(self) -> MarketConfig:
        return MarketConfig(
            providers=self.provider_names,
            data_dir=self.data_dir,
            polygon_api_key=self.polygon_api_key,
            finnhub_api_key=self.finnhub_api_key,
            polygon_url=self.polygon_url,
            finnhub_url=self.finnhub_url,
            timeout_s=self.provider_timeout_s,
            cache_ttl_s=self.cache_ttl_s,
            retries=self.provider_retries,
            fail_max=self.breaker_fail_max,
            reset_timeout_s=self.breaker_reset_s,
            synthetic_bars=self.synthetic_bars,
            synthetic_seed=self.synthetic_seed,
            synthetic_signal=self.synthetic_signal,
        )

    def news_config(self) -> NewsConfig:
        return NewsConfig(newsapi_key=self.newsapi_key, newsapi_url=self.newsapi_url, finnhub_key=self.finnhub_api_key,
                          finnhub_url=self.finnhub_url, reddit_client_id=self.reddit_client_id,
                          reddit_client_secret=self.reddit_client_secret, reddit_url=self.reddit_url,
                          reddit_auth_url=self.reddit_auth_url, x_bearer_token=self.x_bearer_token, x_url=self.x_url,
                          timeout_s=self.provider_timeout_s)

    @property
    def frames_location(self) -> str:
        """Where the Parquet analytical frames (features, labels, backtests) live: TX_FRAMES_URL,
        else TX_HOME/frames. Every process of a run (the run itself and each Celery worker)
        must see the same one."""
        return self.frames_url or str(self.home / "frames")

    @property
    def frames_dir(self) -> UPath:
        """The frames' location as a path (a local folder or any fsspec URL)."""
        return UPath(self.frames_location)


def _variables(env_file: str) -> dict[str, str]:
    """What pydantic-settings reads, merged the same way: the environment over the .env file."""
    from_file = dotenv_values(env_file) if Path(env_file).is_file() else {}
    return {**{k: v for k, v in from_file.items() if v is not None}, **os.environ}


def _seed_sources(variables: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    sources, notices = {}, []
    for field, seed in SEED_NAMES.items():
        ours, theirs = variables.get(f"TX_{field.upper()}"), variables.get(seed)
        if ours is None and theirs is not None:
            sources[field] = seed
        if ours is not None and theirs is not None and ours != theirs:
            notices.append(f"TX_{field.upper()} and {seed} are both set and differ; using TX_{field.upper()}")
    if variables.get("SECRET_KEY"):
        notices.append(UNUSED_SECRET_KEY)
    return sources, notices


def load_settings() -> Settings:
    """Settings from the environment, with one clear message per wrong variable."""
    env_file = os.environ.get("TX_ENV_FILE", str(ROOT / ".env"))
    sources, notices = _seed_sources(_variables(env_file))
    try:
        settings = Settings(_env_file=env_file)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        field = name.removeprefix("TX_").lower()
        setting = sources.get(field, f"TX_{field.upper()}") if field in SEED_NAMES else name if name.isupper() else f"TX_{name.upper()}"
        raise ConfigError(setting, first["msg"].removeprefix("Value error, ")) from None
    settings._sources, settings._notices = sources, tuple(notices)
    return settings
