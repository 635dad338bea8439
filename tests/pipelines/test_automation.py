"""The universe sensor and the market-scan schedules, evaluated against a real instance."""

import time
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg

from cli.stores import setup_all
from market.universe import Series
from pipelines.definitions import build_definitions
from pipelines.instance import instance
from pipelines.run import materialize_series
from resources.partitions import series_partitions
from tx.settings import load_settings


def automation() -> dg.Definitions:
    """The definitions as a Dagster process loads them: its schedules and sensors hold the settings of now."""
    return build_definitions(load_settings())


def platform(monkeypatch, universe: str) -> tuple[dg.DagsterInstance, dg.Definitions]:
    """Stores set up for `universe`, the instance and the definitions a Dagster process would load."""
    monkeypatch.setenv("TX_UNIVERSE", universe)
    settings = load_settings()
    setup_all(settings)
    return instance(settings), build_definitions(settings)


def test_universe_sensor_registers_new_series_and_requests_those_without_candles(monkeypatch):
    dagster, defs = platform(monkeypatch, "SPX:1d,EURUSD:1h")
    universe_sensor = defs.get_sensor_def("universe_sensor")
    with dg.build_sensor_context(instance=dagster, definitions=defs) as context:
        result = universe_sensor(context)
    assert isinstance(result, dg.SensorResult)
    assert [r.partition_key for r in result.run_requests] == ["SPX|1d", "EURUSD|1h"]
    [add] = result.dynamic_partitions_requests
    assert add.partitions_def_name == series_partitions.name == "series" and add.partition_keys == ["EURUSD|1h", "SPX|1d"]

    for run in materialize_series(load_settings(), dagster, [Series("SPX", "1d"), Series("EURUSD", "1h")]):
        assert not isinstance(run, Exception)
    with dg.build_sensor_context(instance=dagster, definitions=defs) as context:
        assert isinstance(universe_sensor(context), dg.SkipReason)
    monkeypatch.setenv("TX_PROVIDERS", "bundled,synthetic")  # synthetic serves EURUSD:1d too
    monkeypatch.setenv("TX_UNIVERSE", "SPX:1d,EURUSD:1h,EURUSD:1d,GOOGL:1d")  # a new timeframe of a known symbol, and a new symbol
    defs = automation()  # the code server reloaded with the new settings
    with dg.build_sensor_context(instance=dagster, definitions=defs) as context:
        grown = defs.get_sensor_def("universe_sensor")(context)
    assert [r.partition_key for r in grown.run_requests] == ["EURUSD|1d", "GOOGL|1d"]
    assert grown.dynamic_partitions_requests[0].partition_keys == ["EURUSD|1d", "GOOGL|1d"]  # the series, not the symbols


def test_universe_sensor_registers_series_that_have_candles_but_no_partition(monkeypatch):
    """An instance from before the series partitions: candles stored, no `series` partition.
    The sensor registers them (no run: they have candles), so that the scans run them."""
    monkeypatch.setenv("TX_UNIVERSE", "SPX:1d")
    settings = load_settings()
    setup_all(settings)
    dagster = instance(settings)
    [run] = materialize_series(settings, dagster, [Series("SPX", "1d")])
    assert not isinstance(run, Exception)
    dagster.delete_dynamic_partition(series_partitions.name, "SPX|1d")
    defs = build_definitions(settings)
    with dg.build_sensor_context(instance=dagster, definitions=defs) as context:
        result = defs.get_sensor_def("universe_sensor")(context)
    assert isinstance(result, dg.SensorResult) and result.run_requests == []
    assert [add.partition_keys for add in result.dynamic_partitions_requests] == [["SPX|1d"]]


def test_scans_request_the_series_of_their_timeframes(monkeypatch):
    monkeypatch.setenv("TX_UNIVERSE", "SPX:1d,EURUSD:1h,GOOGL:1d")
    dagster = dg.DagsterInstance.local_temp()
    dagster.add_dynamic_partitions(series_partitions.name, ["SPX|1d", "EURUSD|1h", "GOOGL|1d", "GOOGL|1h"])
    when = datetime(2026, 11, 25, 16, 30, tzinfo=ZoneInfo("America/New_York"))
    defs = automation()
    daily_scan, intraday_scan = defs.get_schedule_def("daily_scan"), defs.get_schedule_def("intraday_scan")
    daily = daily_scan(dg.build_schedule_context(instance=dagster, scheduled_execution_time=when))
    intraday = intraday_scan(dg.build_schedule_context(instance=dagster, scheduled_execution_time=when))
    assert sorted(r.partition_key for r in daily) == ["GOOGL|1d", "SPX|1d"]
    assert [r.partition_key for r in intraday] == ["EURUSD|1h"]  # GOOGL|1h: registered, not in the universe
    assert len({r.run_key for r in daily}) == 2  # one run per series per tick
    assert daily_scan.cron_schedule == "30 16 * * 1-5" and intraday_scan.cron_schedule == "*/5 * * * *"


def test_scan_skips_until_the_sensor_has_registered_the_series(monkeypatch):
    monkeypatch.setenv("TX_UNIVERSE", "SPX:1d,GOOGL:1d")
    dagster = dg.DagsterInstance.local_temp()
    result = automation().get_schedule_def("daily_scan")(dg.build_schedule_context(instance=dagster))
    assert isinstance(result, dg.SkipReason)
    dagster.add_dynamic_partitions(series_partitions.name, ["SPX|1w", "GOOGL|1h"])  # the symbols, other timeframes
    assert isinstance(automation().get_schedule_def("daily_scan")(dg.build_schedule_context(instance=dagster)), dg.SkipReason)


def test_universe_wide_assets_are_refreshed_after_the_daily_scan():
    by_name = {s.name: s for s in automation().schedules}
    assert by_name["base_rates_refresh"].job_name == "base_rates_job" and by_name["base_rates_refresh"].cron_schedule == "0 17 * * 1-5"
    assert by_name["universe_refresh"].job_name == "universe_pipeline"
    from pipelines.automation import training_schedules
    from pipelines.jobs import build_jobs

    ours = {s.name for s in training_schedules(load_settings(), build_jobs(load_settings()))}  # the platform's own clocks run on UTC
    assert {by_name[name].execution_timezone for name in ours} == {"UTC"}
    market = {name: s for name, s in by_name.items() if name not in ours | {"intraday_scan"}}
    assert {s.execution_timezone for s in market.values()} == {"America/New_York"}


def test_training_runs_on_schedules_from_the_settings(monkeypatch):
    monkeypatch.setenv("TX_ONLINE_CRON", "*/7 * * * *")
    monkeypatch.setenv("TX_ALERT_CRON", "*/2 * * * *")
    monkeypatch.setenv("TX_BACKTEST_CRON", "15 3 * * *")
    by_name = {s.name: s for s in build_definitions(load_settings()).schedules}
    assert by_name["nightly_backtests"].cron_schedule == "15 3 * * *" and by_name["nightly_backtests"].job_name == "backtest_job"
    assert by_name["nightly_backtests"].execution_timezone == "UTC"
    assert by_name["alert_scanner"].cron_schedule == "*/2 * * * *" and by_name["alert_scanner"].job_name == "alert_job"
    assert by_name["online_learning"].cron_schedule == "*/7 * * * *" and by_name["online_learning"].job_name == "online_job"
    assert by_name["retraining"].cron_schedule == "0 2 * * *" and by_name["retraining"].job_name == "training_job"


def test_a_new_champion_triggers_one_run_of_the_backtests_and_one_of_the_agent(tx_env):
    import mlflow
    from sklearn.linear_model import LogisticRegression

    from training.recorder import CHAMPION, FUSED_MODEL, RL_MODEL, client, ensure_experiment

    dagster = dg.DagsterInstance.local_temp()
    defs = automation()
    champion_sensor = defs.get_sensor_def("champion_sensor")
    assert isinstance(champion_sensor(dg.build_sensor_context(instance=dagster)), dg.SkipReason)  # no model at all yet
    uri = tx_env["MLFLOW_TRACKING_URI"]
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = ensure_experiment(client(uri), "t", tx_env["TX_MLFLOW_ARTIFACTS"])
    with mlflow.start_run(experiment_id=experiment.experiment_id):
        mlflow.sklearn.log_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), name="m", registered_model_name=FUSED_MODEL)
    client(uri).set_registered_model_alias(FUSED_MODEL, CHAMPION, "1")
    context = dg.build_sensor_context(instance=dagster)
    request = champion_sensor(context)
    assert isinstance(request, dg.RunRequest) and request.run_key == "champion-1" and context.cursor == "1"
    # a new champion reruns the backtests
    assert {"champion_model", "pattern_backtest", "strategy_backtest", "walk_forward_backtest"} == {
        k.to_user_string() for k in defs.resolve_job_def(champion_sensor.job_name).asset_layer.selected_asset_keys}
    assert isinstance(champion_sensor(dg.build_sensor_context(instance=dagster, cursor="1")), dg.SkipReason)
    # the pipeline of `tx run` ran champion_job for this champion already: no second run of the backtests
    dagster.report_runless_asset_event(dg.AssetMaterialization("champion_model", metadata={"version": "1"}))
    context = dg.build_sensor_context(instance=dagster)
    skipped = champion_sensor(context)
    assert isinstance(skipped, dg.SkipReason) and "already records version 1" in skipped.skip_message and context.cursor == "1"
    # the agent learns anew from the new champion, once: a tx-rl version that learned from it stops the requests
    rl_sensor = defs.get_sensor_def("rl_on_champion")
    request = rl_sensor(dg.build_sensor_context(instance=dagster))
    assert isinstance(request, dg.RunRequest) and request.run_key == "rl-on-champion-1" and rl_sensor.job_name == "rl_job"
    with mlflow.start_run(experiment_id=experiment.experiment_id):
        mlflow.sklearn.log_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), name="m", registered_model_name=RL_MODEL)
    client(uri).set_model_version_tag(RL_MODEL, "1", "tx.fused_version", "1")
    skipped = rl_sensor(dg.build_sensor_context(instance=dagster))
    assert isinstance(skipped, dg.SkipReason) and "already learned from tx-fused v1" in skipped.skip_message


def test_automation_waits_while_tx_run_launches_the_first_pipeline(monkeypatch):
    """Every schedule and sensor skips while `tx run`'s heartbeat is fresh, and only then."""
    from pipelines import bootstrap

    dagster, defs = platform(monkeypatch, "SPX:1d")
    bootstrap.beat(dagster)
    when = datetime(2026, 1, 6, 16, 30, tzinfo=ZoneInfo("America/New_York"))
    for schedule in defs.schedules:
        result = schedule.evaluate_tick(dg.build_schedule_context(instance=dagster, scheduled_execution_time=when))
        assert "first pipeline" in (result.skip_message or ""), schedule.name
    for sensor in defs.sensors:
        if sensor.name == "retrain_on_drift":
            continue  # an asset sensor: it is only called with a drift report, and checks first too
        with dg.build_sensor_context(instance=dagster, definitions=defs) as context:
            assert "first pipeline" in sensor(context).skip_message, sensor.name
    assert bootstrap.waiting(dagster, now=time.time() + bootstrap.FRESH_S + 1) is None  # a `tx run` that died stops holding it
    bootstrap.end(dagster)
    assert bootstrap.waiting(dagster) is None
    assert defs.get_schedule_def("online_learning").evaluate_tick(dg.build_schedule_context(instance=dagster)).run_requests


def test_the_rl_agent_retrains_on_its_own_schedule_after_the_nightly_retraining():
    by_name = {s.name: s for s in automation().schedules}
    assert by_name["rl_training"].job_name == "rl_job" and by_name["rl_training"].cron_schedule == load_settings().rl_cron == "0 4 * * *"
    assert by_name["retraining"].cron_schedule == "0 2 * * *"  # the agent learns from the fused version trained before it
