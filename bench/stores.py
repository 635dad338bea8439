"""Throw-away stores for the service benchmarks: settings from a temporary home, the app
database and MLflow set up, the environment a `bentoml serve` child needs."""

import os
from pathlib import Path


def throwaway(home: Path, **extra: str):
    """(env, settings, engine) for stores under `home`; `extra` adds TX_* variables."""
    env = {"TX_ENV_FILE": str(home / "no.env"), "TX_HOME": str(home / "tx"), "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
           "TX_MLFLOW_ARTIFACTS": str(home / "artifacts"), "TX_RATE_LIMIT_PER_MINUTE": "100000000", **extra}
    os.environ.update(env)
    from store.db import make_engine
    from tx.settings import load_settings
    from cli.stores import setup_app_database, setup_mlflow

    settings = load_settings()
    setup_app_database(settings)
    setup_mlflow(settings)
    return env, settings, make_engine(settings.app_database_url)
