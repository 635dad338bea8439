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


def train_champion(engine, settings) -> dict:
    """Three planted-signal synthetic daily series stored and a champion trained quickly on
    them (the served architecture is the default; only the tuning budget is small).
    Returns the frames by symbol."""
    from features import LabelSpec, triple_barrier
    from market.synthetic import generate_many
    from store.candles import upsert_candles
    from training.fit import TrainConfig
    from training.pipeline import SeriesData, train_and_promote

    frames = generate_many(["SYNA", "SYNB", "SYNC"], "1d", 1500, seed=9, signal=0.5)
    for symbol, candles in frames.items():
        upsert_candles(engine, symbol, "1d", candles, "synthetic")
    series = [SeriesData(s, "1d", c, triple_barrier(c, LabelSpec(horizon=2))) for s, c in frames.items()]
    train_and_promote(series, tracking_uri=settings.tracking_uri, artifact_root=settings.mlflow_artifacts, label_config={"horizon": 2},
                      config=TrainConfig(n_splits=3, tune_trials=2, deep_trials=0, deep_epochs=1))
    return frames
