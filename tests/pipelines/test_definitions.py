"""Dagster: the definitions load from workspace.yaml, and assets materialize on both instance storages."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml
from sqlalchemy import create_engine, text

from market.universe import Series
from pipelines.instance import MARKER, instance, instance_config, prepare
from pipelines.definitions import build_definitions
from pipelines.run import PipelineError, materialize_pipeline
from store.candles import load_candles
from store.db import make_engine, with_driver
from training.promotion import decide_rl
from tx.settings import ROOT, load_settings
from cli.stores import setup_all

BIN = Path(sys.executable).parent


def test_definitions_load_and_validate_from_workspace_yaml(tx_env):
    done = subprocess.run(
        [str(BIN / "dagster"), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful" in done.stdout + done.stderr


def test_postgres_instance_config_uses_psycopg2_scheme_and_keeps_secrets_out(monkeypatch):
    monkeypatch.setenv("TX_POSTGRES_URL", "postgresql://tx:s3cret@db:5432/tx")
    config = instance_config(load_settings())
    db = config["storage"]["postgres"]["postgres_db"]
    assert db["scheme"] == "postgresql+psycopg2" and db["db_name"] == "tx_dagster"
    assert db["password"] == {"env": "TX_DAGSTER_PG_PASSWORD"}
    assert config["telemetry"] == {"enabled": False}  # the rest comes from the root dagster.yaml


def test_a_users_own_dagster_home_is_left_alone(monkeypatch, tmp_path):
    home = tmp_path / "my-dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    prepare(load_settings())
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: true\n"
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "fresh"))
    prepare(load_settings())
    assert (tmp_path / "fresh" / "dagster.yaml").read_text().startswith(MARKER)


@pytest.mark.heavy  # the whole pipeline in process (about 90 s); CI runs both backends
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_candles_materialize_with_runs_and_events_in_the_instance_storage(backend, monkeypatch, request):
    """The whole default pipeline on one series, on both instance storages; on SQLite also a
    forced drift that triggers a recorded retraining run."""
    if backend == "postgresql":
        monkeypatch.setenv("TX_POSTGRES_URL", request.getfixturevalue("pg_platform"))
        monkeypatch.delenv("MLFLOW_TRACKING_URI")
    settings = load_settings()
    setup_all(settings)
    dagster = instance(settings)
    series = Series("GOOGL", "1d")
    done, base, derived, universe, ingested, trained, agent, online, monitored, backtested, scanned = materialize_pipeline(
        settings, dagster, [series], progress=lambda _: None)

    assert done.assets["candles"]["stored_bars"] == 2335 and done.scope == "GOOGL:1d"
    assert all(passed for passed, _ in done.checks.values()) and len(done.checks) == 6
    assert base.assets["pattern_base_rates"]["series"] == 1
    assert set(derived.assets) == {"features", "patterns", "labels"} and len(derived.checks) == 2 + 1
    assert all(passed for passed, _ in derived.checks.values())
    assert universe.assets["data_coverage"]["series"] == 1 and universe.assets["pattern_heatmap"]["series"] == 1
    assert ingested.assets["news"]["stored"] == 0 and "not configured" in ingested.assets["news"]["sources"]  # no keys, no files
    fused = trained.assets["fused_model"]  # trained, registered in MLflow (on PostgreSQL too) and gated
    assert fused["model_version"] == "tx-fused v1" and fused["series"] == "GOOGL:1d" and fused["decision"]
    assert fused["promoted"] == (fused["wf_auc"] > fused["threshold"])
    # the agent on the fused version's out-of-fold outputs, right after training, through its own gate
    rl = agent.assets["rl_policy"]
    assert rl["model_version"] == "tx-rl v1" and rl["fused_version"] == "tx-fused v1" and "Sharpe" in rl["decision"], rl
    figures = rl["figures"]
    assert rl["promoted"] == decide_rl(figures["rl_sharpe"], figures["fused_threshold_sharpe"], figures["rl_sharpe_tstat"])[0]
    # the online step right after: every stored label was just learned, so it says so and registers nothing
    assert online.assets["online_model"] == {"skipped": "0 newly matured label(s) since the model last learned (< 20): nothing to update",
                                             "base_version": "1"}
    _check_backtests(backtested, settings)
    drift = monitored.assets["model_drift"]  # the served (or newest) model's drift report, in MLflow
    assert 0 <= drift["drift_share"] <= 1 and drift["drift_report"].endswith("/artifacts/drift_report.html")
    scan = scanned.assets["alert_scan"]  # the scanner ran last, with the champion if the gate made one
    assert scan["scanned"] == (1 if fused["promoted"] else 0)
    assert dagster.get_run_by_id(done.run_id).is_success
    record = dagster.get_latest_materialization_event(dg.AssetKey("candles"))
    assert record is not None and record.run_id == done.run_id
    engine = make_engine(settings.app_database_url)
    assert len(load_candles(engine, "GOOGL", "1d")) == 2335
    engine.dispose()
    if backend == "postgresql":  # the run really lives in PostgreSQL, not in a SQLite file
        pg = create_engine(with_driver(settings.dagster_storage_url, "psycopg"))
        with pg.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM runs WHERE run_id = :r"), {"r": done.run_id}).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM event_logs WHERE run_id = :r"), {"r": done.run_id}).scalar() > 5
        pg.dispose()
        assert yaml.safe_load((settings.dagster_home_dir / "dagster.yaml").read_text())["storage"]["postgres"]
    else:
        _retune_walk_forward(settings, dagster)
        _force_drift_and_retrain(settings, dagster, monkeypatch)


def _check_backtests(backtested, settings) -> None:
    """The three backtests ran on the trained version's out-of-sample predictions, stored a row
    each, logged MLflow runs (walk-forward: one child run per window) with equity plots, and
    show their plots in Dagster."""
    from store.backtests import latest_backtest
    from training.recorder import client

    meta = backtested.assets
    assert set(meta) == {"pattern_backtest", "strategy_backtest", "walk_forward_backtest"}
    assert "v1" in meta["strategy_backtest"]["summary"] and "buy_and_hold" in meta["strategy_backtest"]["summary"]
    for asset in meta.values():
        assert any("data:image/png;base64," in str(v) for v in asset.values()) and asset["mlflow_run"].startswith("http")
    engine = make_engine(settings.app_database_url)
    rows = {kind: latest_backtest(engine, kind, "GOOGL", "1d", with_inputs=True) for kind in ("pattern", "strategy", "walk_forward")}
    engine.dispose()
    assert rows["strategy"]["model_version"] == "1" and len(rows["strategy"]["inputs"]["probability"]) > 100
    windows = rows["walk_forward"]["result"]["windows"]
    assert len(windows) >= 2 and all(w["bars"] > 0 for w in windows)
    mlflow_client = client(settings.tracking_uri)
    experiment = mlflow_client.get_experiment_by_name("tx-backtests")
    runs = mlflow_client.search_runs([experiment.experiment_id])
    kinds = {r.data.tags.get("tx.backtest") for r in runs if "mlflow.parentRunId" not in r.data.tags}
    assert kinds == {"pattern", "strategy", "walk_forward"}
    parent = next(r for r in runs if r.info.run_id == rows["walk_forward"]["mlflow_run_id"])
    # each window refitted with the hyper-parameters tx-fused v1's tuning chose, read from its training run
    trained_run = mlflow_client.get_model_version("tx-fused", "1").run_id
    wf = meta["walk_forward_backtest"]
    assert wf["params_version"] == "tx-fused v1" and wf["params_run_id"] == trained_run and "hyper-parameters of tx-fused v1" in wf["summary"]
    assert wf["tuning_trials"] == {"multitimeframe": 0, "deep": 0}
    assert parent.data.params["params_run_id"] == trained_run and parent.data.tags["tx.params_version"] == "1"
    assert parent.data.params["tuned.multitimeframe"] == mlflow_client.get_run(trained_run).data.params["tuned.multitimeframe"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == len(windows) and all("auc_fused" in c.data.metrics for c in children)
    plots = [a.path for a in mlflow_client.list_artifacts(parent.info.run_id, "plots")]
    assert plots == ["plots/equity_drawdown_GOOGL_1d.png"]


def _retune_walk_forward(settings, dagster) -> None:
    """TX_BACKTEST_RETUNE: the walk-forward tunes its own hyper-parameters and says so."""
    from pipelines.definitions import build_definitions
    from pipelines.run_config import run_config

    config = run_config(settings, ["walk_forward_backtest"])
    config["ops"]["walk_forward_backtest"]["config"]["retune"] = True
    run = build_definitions(settings).resolve_job_def("backtest_job").execute_in_process(
        instance=dagster, run_config=config, asset_selection=[dg.AssetKey("walk_forward_backtest")])
    assert run.success
    meta = {k: v.value for k, v in run.asset_materializations_for_node("walk_forward_backtest")[0].metadata.items()}
    assert meta["params_version"] == "none: tuned here" and meta["params_run_id"] == "none"
    assert meta["params_from"].endswith("(TX_BACKTEST_RETUNE is set)") and "hyper-parameters tuned here" in meta["summary"]


def _force_drift_and_retrain(settings, dagster, monkeypatch) -> None:
    """A regime change after the training window (five times the volatility, ten times the
    volume): the drift report sees it, the sensor asks for a retraining run with the reason,
    and the run records it in Dagster and MLflow."""
    import numpy as np
    import pandas as pd

    from pipelines.definitions import build_definitions
    from resources.partitions import partition_key
    from pipelines.run import _execute
    from pipelines.run_config import run_config
    from store.candles import upsert_candles
    from training.recorder import client

    engine = make_engine(settings.app_database_url)
    stored = load_candles(engine, "GOOGL", "1d")
    rng = np.random.default_rng(1)
    index = pd.bdate_range(stored.index[-1] + pd.Timedelta(days=1), periods=150, tz="UTC")
    close = stored["close"].iloc[-1] * np.exp(np.cumsum(rng.normal(0.003, 0.06, len(index))))
    open_ = close * np.exp(rng.normal(0, 0.02, len(index)))
    shifted = pd.DataFrame({"open": open_, "high": np.maximum(open_, close) * 1.03, "low": np.minimum(open_, close) * 0.97,
                            "close": close, "volume": stored["volume"].iloc[-150:].to_numpy() * 10}, index=index)
    upsert_candles(engine, "GOOGL", "1d", shifted, "test")
    engine.dispose()
    monkeypatch.setenv("TX_DRIFT_SHARE_MAX", "0.3")
    defs = build_definitions(load_settings())  # the sensor holds the settings the definitions were built with
    retrain_on_drift = defs.get_sensor_def("retrain_on_drift")
    _execute(defs.resolve_job_def("features_job"), dagster, "GOOGL:1d", partition_key(Series("GOOGL", "1d")))
    report = _execute(defs.resolve_job_def("monitoring_job"), dagster, "universe").assets["model_drift"]
    assert report["drift_share"] >= 0.3 and report["drifted_columns"], report
    tick = retrain_on_drift.evaluate_tick(dg.build_sensor_context(instance=dagster, definitions=defs))
    (request,) = tick.run_requests
    reason = request.tags["tx/retrain_reason"]
    assert reason.startswith("feature drift: ") and "limit 30%" in reason
    run = defs.resolve_job_def("training_job").execute_in_process(
        instance=dagster, tags=request.tags, run_config=run_config(settings, ["fused_model"]))
    assert run.success and dagster.get_run_by_id(run.run_id).tags["tx/retrain_reason"] == reason
    retrained = run.asset_materializations_for_node("fused_model")[0].metadata
    assert retrained["retrain_reason"].value == reason
    mlflow_client = client(settings.tracking_uri)
    newest = max(mlflow_client.search_model_versions("name = 'tx-fused'"), key=lambda v: int(v.version))
    assert mlflow_client.get_run(newest.run_id).data.tags["tx.retrain_reason"] == reason
    again = retrain_on_drift.evaluate_tick(dg.build_sensor_context(instance=dagster, definitions=defs, cursor=tick.cursor))
    assert not again.run_requests  # one report, one retraining run


def test_a_failed_materialization_names_the_series_and_run(monkeypatch):
    settings = load_settings()
    setup_all(settings)
    with pytest.raises(PipelineError, match=r"MSFT:1d: .*no provider delivered MSFT:1d.*\(Dagster run "):
        materialize_pipeline(settings, instance(settings), [Series("MSFT", "1d")], progress=lambda _: None)
