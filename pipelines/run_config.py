"""The run config of every job, mapped once from the settings (TX_*).

The assets' Config classes have literal defaults (tx/settings.py's); what a run gets is
mapped here. `build_jobs` gives each job its assets' values as its default run config, so
the launchpad, the schedules and sensors, the service's launches and `tx` all run with them.
"""

from collections.abc import Iterable

from tx.settings import Settings


def asset_config(settings: Settings) -> dict[str, dict]:
    """Each configurable asset's config values as the settings choose them."""
    training = {"timeframes": settings.train_timeframes, "tune_trials": settings.train_tune_trials,
                "deep_trials": settings.train_deep_trials, "deep_epochs": settings.train_deep_epochs,
                "tune_seconds": settings.train_tune_seconds}
    costs = {"fee": settings.backtest_fee, "slippage": settings.backtest_slippage}
    strategy = costs | {"buy_threshold": settings.backtest_buy_threshold, "sell_threshold": settings.backtest_sell_threshold}
    scan = {"timeframes": settings.train_timeframes, "confidence": settings.alert_confidence,
            "dedup_minutes": settings.alert_dedup_minutes}
    return {
        "labels": {"horizon": settings.label_horizon},
        "fused_model": training,
        "online_model": {"timeframes": settings.train_timeframes, "min_new": settings.online_min_new,
                         "half_life": settings.online_half_life},
        "model_drift": {"timeframes": settings.train_timeframes, "reference_bars": settings.drift_reference_bars,
                        "current_bars": settings.drift_current_bars},
        "pattern_backtest": costs,
        "strategy_backtest": strategy,
        # retrained per window, with the fused model's hyper-parameters unless TX_BACKTEST_RETUNE
        "walk_forward_backtest": strategy | training | {"train_bars": settings.backtest_train_bars, "retune": settings.backtest_retune},
        "rl_policy": {"timeframes": settings.train_timeframes, "algorithm": settings.rl_algorithm, "timesteps": settings.rl_timesteps,
                      "n_splits": settings.rl_splits, "episode_bars": settings.rl_episode_bars, "seed": settings.rl_seed} | strategy,
        "alert_scan": scan,
        "bar_score": scan,
    }


def run_config(settings: Settings, assets: Iterable[str]) -> dict:
    """The run config of a run of `assets` (their names): the settings' values of those that take any."""
    config = asset_config(settings)
    ops = {name: {"config": config[name]} for name in assets if name in config}
    return {"ops": ops} if ops else {}
