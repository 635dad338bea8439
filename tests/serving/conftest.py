"""Fixtures of the HTTP tests: the real service on a free port over a copy of the session's
trained registry (`trained`, tests/conftest.py)."""

import os
import shutil
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from features.patterns import detections
from market.chain import ProviderHealth
from market.files import bundled
from market.universe import Series
from store.api_keys import create_key
from store.candles import upsert_candles
from store.db import drop_database, make_engine
from store.patterns import replace_detections
from store.provider_status import record_provider_health
from tx.processes import bentoml_server, free_port, wait_ready
from tx.settings import load_settings
from cli.stores import setup_app_database

from tests.conftest import environment

HERE = Path(__file__).parent
# The modules on the session's service (`svc`), in the order they run: some read what an earlier
# one stored (the trading stats expect no trade yet, the paper book a flat SYNA position before
# the alerts' test buys one), and the fuzz goes last, on everything they left.
ON_THE_SERVICE = ["routers/test_ml.py", "routers/test_market.py", "routers/test_patterns.py", "routers/test_signals.py",
                  "routers/test_health.py", "routers/test_stats.py", "routers/test_outcomes.py", "routers/test_scan.py",
                  "routers/test_ml_ops.py", "routers/test_backtests.py", "routers/test_sentiment.py", "routers/test_paper.py",
                  "routers/test_alerts.py", "test_http_app.py", "test_http_fuzz.py"]


@pytest.hookimpl(tryfirst=True)  # before pytest groups the items by `svc`'s backend, keeping this order inside each group
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Runs ON_THE_SERVICE's modules in its order, whatever the paths given; other items keep their places."""
    rank = {HERE / name: i for i, name in enumerate(ON_THE_SERVICE)}
    slots = [i for i, item in enumerate(items) if item.path in rank]
    for slot, item in zip(slots, sorted((items[i] for i in slots), key=lambda item: rank[item.path]), strict=True):
        items[slot] = item


@contextmanager
def serving(backend: str, home, trained, postgres_server: str | None = None, extra_env: dict[str, str] | None = None):
    """The real service on a free port, its app database on SQLite or PostgreSQL, serving a
    copy of the trained registry (tests promote and train more versions in it)."""
    shutil.copy(trained["db"], home / "mlflow.db")
    env = {"TX_ENV_FILE": str(home / "no.env"), "TX_HOME": str(home / "tx"), "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
           "TX_MLFLOW_ARTIFACTS": str(trained["artifacts"]), "TX_MODEL_POLL_S": "1", "TX_DATABASE_URL": "", **(extra_env or {})}
    if backend == "postgresql":
        env["TX_DATABASE_URL"] = make_url(postgres_server).set(
            database=f"tx_test_{uuid.uuid4().hex[:10]}").render_as_string(hide_password=False)
    with environment(env):
        settings = load_settings()
        setup_app_database(settings)
        engine = make_engine(settings.app_database_url)
        googl = bundled().read(Series("GOOGL", "1d"))
        upsert_candles(engine, "GOOGL", "1d", googl, "bundled")
        replace_detections(engine, "GOOGL", "1d", detections(googl, "1d"))  # what the patterns asset stores
        for symbol, candles in trained["frames"].items():
            upsert_candles(engine, symbol, "1d", candles, "synthetic")
        record_provider_health(engine, [ProviderHealth("bundled", calls=3, last_success_at=datetime(2026, 11, 1, tzinfo=UTC),
                                                       last_latency_s=0.012),
                                        ProviderHealth("polygon", state="open", calls=5, failures=5, last_error="rate limited: 429")])
        keys = {scope: create_key(engine, scope, f"test {scope}") for scope in ("read", "trade", "admin")}
        keys["limited"] = create_key(engine, "read", "limited", rate_limit_per_minute=3)
        engine.dispose()
        server = bentoml_server("127.0.0.1", free_port(), log=home / "bentoml.log")
        server.env = env
        server.start()
        try:
            wait_ready([server], timeout_s=120)
            yield {"url": server.ui_url, "keys": keys, "frames": trained["frames"], "series": trained["series"], "settings": settings,
                   "env": env, "log": home / "bentoml.log", "backend": backend, "engine_url": settings.app_database_url}
        finally:
            server.stop()
            if backend == "postgresql":
                drop_database(settings.app_database_url)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def svc(request, tmp_path_factory, trained):
    """The real service over a copy of the session's trained registry, one per backend for the
    whole session: the HTTP tests of routers/ and test_http_app.py, then the fuzz of test_http_fuzz.py
    on what they left (ON_THE_SERVICE)."""
    pg = request.getfixturevalue("postgres_server") if request.param == "postgresql" else None
    with serving(request.param, tmp_path_factory.mktemp(f"svc-{request.param}"), trained, pg,
                 {"TX_RATE_LIMIT_PER_MINUTE": "1000000"}) as service:  # the `limited` key keeps its own limit of 3
        yield service
