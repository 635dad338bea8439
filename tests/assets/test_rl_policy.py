"""The rl_policy asset in process: it skips with a reason before any fused out-of-fold outputs,
trains, registers and gates tx-rl once they exist (decision, figures, equity plot, MLflow
links as metadata), and skips again while the fused version it learned from is unchanged."""

import dagster as dg

from assets.training import rl_policy
from cli.stores import setup_app_database, setup_mlflow
from pipelines.definitions import resources
from pipelines.instance import instance
from pipelines.run_config import run_config
from store.candles import upsert_candles
from store.db import make_engine
from tests.training.rl.planted import register_fused, series
from training.recorder import Recorder
from tx.settings import load_settings


def materialize(settings, dagster) -> dict:
    result = dg.materialize([rl_policy], instance=dagster, resources=resources(settings), run_config=run_config(settings, ["rl_policy"]))
    return {k: getattr(v, "value", v) for k, v in result.asset_materializations_for_node("rl_policy")[0].metadata.items()}


def test_rl_policy_trains_once_per_fused_version():
    settings = load_settings()
    setup_mlflow(settings)
    setup_app_database(settings)
    dagster = instance(settings)
    assert "train the fused model first" in materialize(settings, dagster)["skipped"]

    parts = series(0.5, bars=700)
    engine = make_engine(settings.app_database_url)
    for s in parts:
        upsert_candles(engine, s.symbol, "1d", s.candles, "synthetic")
    fused = register_fused(Recorder(settings.tracking_uri, settings.mlflow_artifacts), parts)
    meta = materialize(settings, dagster)
    assert meta["model_version"] == "tx-rl v1" and meta["fused_version"] == f"tx-fused v{fused}" and "Sharpe" in meta["rule"]
    assert meta["equity"].startswith("![RL equity and drawdown](data:image/png;base64,") and "window" in meta["windows"].splitlines()[0]
    assert meta["mlflow_model"].endswith("/#/models/tx-rl/versions/1") and meta["env_steps"] >= 2 * 500  # TX_RL_TIMESTEPS=500 per window, in whole rollouts
    assert "already learned from tx-fused v" in materialize(settings, dagster)["skipped"]
    engine.dispose()
