"""The settings reach the runs through the jobs' run config, mapped once; the assets' Config
classes have literal defaults, the same as the settings'."""

from types import SimpleNamespace

from assets.alerts import ScanConfig
from assets.backtests import PatternBacktestConfig, StrategyConfig, WalkForwardConfig
from assets.features import LabelConfig
from assets.monitoring import DriftConfig
from assets.training import OnlineConfig, RlPolicyConfig, TrainingConfig
from pipelines.definitions import build_definitions
from pipelines.run_config import asset_config
from tx.settings import Settings, load_settings

CONFIGS = {"labels": LabelConfig, "fused_model": TrainingConfig, "online_model": OnlineConfig, "model_drift": DriftConfig,
           "pattern_backtest": PatternBacktestConfig, "strategy_backtest": StrategyConfig, "walk_forward_backtest": WalkForwardConfig,
           "alert_scan": ScanConfig, "bar_score": ScanConfig, "rl_policy": RlPolicyConfig}


def test_config_defaults_are_the_settings_defaults():
    defaults = SimpleNamespace(**{name: field.default for name, field in Settings.model_fields.items()})
    mapped = asset_config(defaults)
    assert set(mapped) == set(CONFIGS)
    for asset, values in mapped.items():
        assert {k: CONFIGS[asset].model_fields[k].default for k in values} == values, asset


def test_every_job_runs_with_the_settings_values(monkeypatch):
    monkeypatch.setenv("TX_LABEL_HORIZON", "7")
    monkeypatch.setenv("TX_TRAIN_TIMEFRAMES", "1h")
    monkeypatch.setenv("TX_ALERT_CONFIDENCE", "0.9")
    monkeypatch.setenv("TX_BACKTEST_TRAIN_BARS", "300")
    defs = build_definitions(load_settings())
    per_series = defs.resolve_job_def("series_pipeline").get_run_config_for_partition_key("SPX|1d")
    assert per_series["ops"]["labels"]["config"]["horizon"] == 7
    assert defs.resolve_job_def("training_job").run_config["ops"]["fused_model"]["config"]["timeframes"] == "1h"
    assert defs.resolve_job_def("alert_job").run_config["ops"]["alert_scan"]["config"]["confidence"] == 0.9
    walk_forward = defs.resolve_job_def("champion_job").run_config["ops"]["walk_forward_backtest"]["config"]
    assert walk_forward["train_bars"] == 300 and walk_forward["timeframes"] == "1h"
    assert defs.resolve_job_def("rl_job").run_config["ops"]["rl_policy"]["config"]["timeframes"] == "1h"
    assert defs.resolve_job_def("candles_job").run_config is None  # nothing to configure
