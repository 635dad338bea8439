"""Shared fixtures: isolated settings per test, and real PostgreSQL databases.

PostgreSQL tests use the server at TX_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test). Each test gets fresh databases that
are dropped afterwards. Locally an unreachable server skips them; with CI=true
they fail, so CI never passes without having run them.
"""

import gzip
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy.engine import make_url

from store.db import DatabaseError, check_connection, drop_database
from tx.settings import ROOT

TEST_PG = os.environ.get("TX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
TEST_REDIS = os.environ.get("TX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ENV_VARS = [
    "TX_HOME", "TX_POSTGRES_URL", "TX_DATABASE_URL", "TX_DAGSTER_POSTGRES_URL", "MLFLOW_TRACKING_URI",
    "TX_MLFLOW_TRACKING_URI", "TX_MLFLOW_ARTIFACTS", "DAGSTER_HOME", "TX_DAGSTER_HOME", "TX_DATA_DIR", "TX_UNIVERSE",
    "TX_TRAIN_TIMEFRAMES", "TX_PROMOTION_THRESHOLD", "TX_TRAIN_TUNE_TRIALS", "TX_TRAIN_DEEP_TRIALS", "TX_TRAIN_DEEP_EPOCHS",
    "TX_TRAIN_TUNE_SECONDS", "TX_OPTUNA_STORAGE", "TX_BACKTEST_RETUNE", "TX_RL_ALGORITHM", "TX_RL_TIMESTEPS", "TX_RL_SPLITS", "TX_RL_EPISODE_BARS", "TX_RL_SEED",
    # operations, and the seed deployment's names: a developer's Sentry or CORS setting never leaks into a test
    "TX_SENTRY_DSN", "SENTRY_DSN", "TX_ENV", "TX_SENTRY_TRACES_SAMPLE_RATE", "TX_LOG_FORMAT", "TX_LOG_LEVEL",
    "TX_CORS_ORIGINS", "CORS_ORIGINS", "DATABASE_URL", "SECRET_KEY",
    # serving at scale: no developer's Redis or worker count reaches a test
    "TX_REDIS_URL", "TX_REDIS_PREFIX", "TX_SERVE_WORKERS", "TX_RATE_LIMIT_PER_MINUTE", "BENTOML_CONFIG_OVERRIDES",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The default tier leaves the `heavy` cases to CI=true: `make test` stays under 20 minutes here."""
    if IN_CI:
        return
    skip = pytest.mark.skip(reason="heavy: runs under CI=true")
    for item in items:
        if "heavy" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def tx_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Every test starts with embedded stores of its own under tmp_path and no .env file."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    env = {
        "TX_ENV_FILE": str(tmp_path / "no.env"),
        "TX_HOME": str(tmp_path / "tx"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}",
        "TX_MLFLOW_ARTIFACTS": str(tmp_path / "mlflow" / "artifacts"),
        # the pipeline's training (and the walk-forward's) with a small budget: tests check that
        # it runs, the honesty and training tests what it finds and that tuning works
        "TX_TRAIN_TUNE_TRIALS": "0",
        "TX_TRAIN_DEEP_TRIALS": "0",
        "TX_TRAIN_DEEP_EPOCHS": "1",
        "TX_RL_TIMESTEPS": "500",  # the RL agent: a token budget (tests/trading/test_rl.py checks what a real one learns)
        "TX_RL_SPLITS": "2",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture(scope="session")
def postgres_server() -> str:
    try:
        check_connection(TEST_PG)
    except DatabaseError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI and unreachable: {exc}")
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    return TEST_PG


@pytest.fixture(scope="session")
def redis_server() -> str:
    """The Redis at TX_TEST_REDIS_URL (default redis://127.0.0.1:6379/0): skipped when
    unreachable locally, failed with CI=true, as PostgreSQL is."""
    import redis

    try:
        redis.Redis.from_url(TEST_REDIS, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if IN_CI:
            pytest.fail(f"Redis is required in CI and unreachable: {exc}")
        pytest.skip(f"Redis unreachable: {exc}")
    return TEST_REDIS


@pytest.fixture
def redis_prefix(redis_server: str) -> Iterator[str]:
    """A key prefix of this test's own on the shared Redis; its keys are deleted afterwards."""
    import redis

    prefix = f"tx-test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    client = redis.Redis.from_url(redis_server)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


def _fresh_name() -> str:
    return f"tx_test_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (created by the code under test)."""
    url = make_url(postgres_server).set(database=_fresh_name()).render_as_string(hide_password=False)
    yield url
    drop_database(url)


@pytest.fixture
def pg_platform(postgres_server: str) -> Iterator[str]:
    """A TX_POSTGRES_URL whose three databases (app, _mlflow, _dagster) are dropped afterwards."""
    base = make_url(postgres_server).set(database=_fresh_name())
    yield base.render_as_string(hide_password=False)
    for suffix in ("", "_mlflow", "_dagster"):
        drop_database(base.set(database=f"{base.database}{suffix}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The app database on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return request.getfixturevalue("pg_url")


class SentryReceiver:
    """A Sentry stand-in: pytest-httpserver takes the SDK's envelopes at the DSN's project
    endpoint; they are decoded the SDK's own way (gzip, then the envelope format)."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        server.expect_request("/api/1/envelope/", method="POST").respond_with_json({})

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.server.port}/1"

    def bodies(self) -> list[bytes]:
        """Every envelope received, decompressed."""
        out = []
        for request, _ in self.server.log:
            body = request.get_data()
            out.append(gzip.decompress(body) if request.headers.get("Content-Encoding") == "gzip" else body)
        return out

    def events(self) -> list[dict]:
        """The error events (not sessions or client reports), after the SDK flushed."""
        import sentry_sdk
        from sentry_sdk.envelope import Envelope

        sentry_sdk.flush(timeout=5)
        return [json.loads(item.get_bytes()) for body in self.bodies() for item in Envelope.deserialize(body).items
                if item.type == "event"]

    def raw(self) -> str:
        return b"\n".join(self.bodies()).decode("utf-8", "replace")

    @staticmethod
    def reset_sdk() -> None:
        import sentry_sdk

        sentry_sdk.get_client().close(timeout=2)
        sentry_sdk.get_global_scope().set_client(None)


@pytest.fixture
def sentry(httpserver, monkeypatch: pytest.MonkeyPatch) -> Iterator[SentryReceiver]:
    """A local Sentry: TX_SENTRY_DSN points at it; the SDK's global client is closed and
    unset afterwards, so no other test reports anywhere."""
    receiver = SentryReceiver(httpserver)
    monkeypatch.setenv("TX_SENTRY_DSN", receiver.dsn)
    yield receiver
    receiver.reset_sdk()


# MLflow's own defaults in a process's working folder: `sqlite:///mlflow.db` (MLflow 3) or
# `./mlruns` (older ones, and artifacts of an experiment without a location). A process that
# reaches MLflow without the configured store creates one wherever it runs; TX's processes run
# in folders that hold a dagster.yaml: the checkout (`tx`, pytest, BentoML's workers), a
# DAGSTER_HOME (Dagster's webserver, daemon, code server and run workers), a Bento's `src/`.
MLFLOW_DEFAULTS = ("mlflow.db", "mlruns")
CONFIGURED_DEFAULT = ROOT / "mlflow" / "mlflow.db"  # the settings' default store (tx/settings.py)


def mlflow_defaults(top: Path) -> set[Path]:
    """Every `mlflow.db` and `mlruns` under `top` (.git and .venv left out)."""
    found: set[Path] = set()
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in (".git", ".venv")]
        found |= {Path(folder, name) for name in (*dirs, *files) if name in MLFLOW_DEFAULTS}
    return found


def stray_mlflow_stores(top: Path) -> list[Path]:
    """MLflow defaults under a temp folder that no test configured: every `mlruns` (no test
    keeps a file store), and an `mlflow.db` in a working folder of TX's processes (a folder
    holding a dagster.yaml). Tests keep their stores beside their TX_HOME, never in it."""
    return sorted(p for p in mlflow_defaults(top) if p.name == "mlruns" or (p.parent / "dagster.yaml").exists())


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_DEFAULTS_BEFORE] = mlflow_defaults(ROOT)  # a developer's own, if any, are not this session's


@pytest.fixture(scope="session", autouse=True)
def no_stray_mlflow_store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail the session, naming the path, when a stray MLflow store appeared: anywhere in the
    checkout but the configured default `mlflow/mlflow.db`, or in a working folder of this
    session's processes under its temp folders."""
    yield
    before = request.config.stash.get(_DEFAULTS_BEFORE, set())
    stray = sorted(mlflow_defaults(ROOT) - before - {CONFIGURED_DEFAULT}) + stray_mlflow_stores(tmp_path_factory.getbasetemp())
    assert not stray, ("stray MLflow store(s), made by a process that fell back to MLflow's default in its working folder "
                       "instead of the configured tracking URI: " + ", ".join(map(str, stray)))


_DEFAULTS_BEFORE = pytest.StashKey[set[Path]]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_EXIT] = int(exitstatus)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave without the interpreter's finalization once pytest has reported: background
    threads the tests leave behind (model pollers of in-process apps, SDK transports) can be
    inside C extensions then, and once a run that had passed every test ended with SIGSEGV
    there. The exit status is pytest's own."""
    if _EXIT in config.stash and not os.environ.get("TX_TEST_FULL_FINALIZE"):
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(config.stash[_EXIT])


_EXIT = pytest.StashKey[int]()


@contextmanager
def environment(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A promoted champion on three planted-signal series, trained once for the session (the
    service's tests serve copies of it; the scan's asset tests score with it)."""
    from cli.stores import setup_mlflow
    from features import LabelSpec, triple_barrier
    from market.synthetic import generate_many
    from training.fit import TrainConfig
    from training.pipeline import SeriesData, train_and_promote
    from tx.settings import load_settings

    home = tmp_path_factory.mktemp("trained")
    env = {"TX_ENV_FILE": str(home / "no.env"), "TX_HOME": str(home / "tx"), "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
           "TX_MLFLOW_ARTIFACTS": str(home / "artifacts")}
    with environment(env):
        settings = load_settings()
        setup_mlflow(settings)
        frames = generate_many(["SYNA", "SYNB", "SYNC"], "1d", 1500, seed=9, signal=0.5)
        series = [SeriesData(s, "1d", c, triple_barrier(c, LabelSpec(horizon=2))) for s, c in frames.items()]
        first = train_and_promote(series, tracking_uri=settings.tracking_uri, artifact_root=settings.mlflow_artifacts,
                                  label_config={"horizon": 2}, config=TrainConfig(n_splits=3, tune_trials=1, deep_trials=0, deep_epochs=1))
        assert first.decision.promoted
    return {"db": home / "mlflow.db", "artifacts": home / "artifacts", "frames": frames, "series": series}


