"""The RL line end to end: the fused model's out-of-fold outputs -> walk-forward agent ->
MLflow run in `tx-rl` -> registered version of `tx-rl` -> the gate (training/promotion.py).

Called by the `rl_policy` Dagster asset and by `make demo`; everything MLflow goes through
training/recorder.py.
"""

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from trading.plots import equity_drawdown
from trading.rl import STRATEGIES, RlSeries, RlWalkForward, final_policy, rl_walk_forward
from training.fit import series_probability
from training.inputs import model_inputs
from training.promotion import RL_RULE, RlDecision, gate_rl
from training.recorder import FUSED_MODEL, RL_EXPERIMENT, RL_MODEL, Recorder, Version
from training.rl.agent import RlConfig
from training.splits import NotEnoughData

NO_FUSED_OOF = f"no version of {FUSED_MODEL} logged out-of-fold predictions yet: train the fused model first"


@dataclass
class RlOutcome:
    result: RlWalkForward
    fused: Version  # the fused version whose out-of-fold probabilities the agent learned from
    version: str
    run_id: str
    experiment_id: str
    decision: RlDecision
    seconds: float


def rl_series(found: pd.DataFrame, inputs: list[tuple[str, str, pd.DataFrame, pd.DataFrame | None]]) -> list[RlSeries]:
    """(symbol, timeframe, candles, stored features or None) -> the agent's series, each with
    the one feature path's frame and its out-of-fold fused probability (series without any left out)."""
    out = []
    for symbol, timeframe, candles, features in inputs:
        p = series_probability(found, symbol, timeframe)
        if p.empty:
            continue
        X, _ = model_inputs(candles, timeframe, features=features)
        out.append(RlSeries(symbol, timeframe, candles, X, p))
    return out


def train_rl_and_promote(inputs: list[tuple[str, str, pd.DataFrame, pd.DataFrame | None]], *, tracking_uri: str, artifact_root: str,
                         config: RlConfig = RlConfig(), thresholds: tuple[float, float] = (0.55, 0.45),
                         progress: Callable[[str], None] | None = None) -> RlOutcome:
    """Train, evaluate, log, register and gate one RL policy. NotEnoughData when the fused
    model has no out-of-fold outputs or too few bars carry them."""
    started = time.time()
    recorder = Recorder(tracking_uri, artifact_root)
    found = recorder.with_out_of_fold(FUSED_MODEL)
    if found is None:
        raise NotEnoughData(NO_FUSED_OOF)
    fused, oof, why = found
    series = rl_series(oof, inputs)
    result, kept, segments, trained_on = rl_walk_forward(series, config, thresholds, progress)
    if progress:
        progress(f"rl final policy: {config.algorithm} for {config.timesteps} steps on every usable bar")
    policy = final_policy(kept, segments, config, trained_on | {"fused_version": fused.version})
    tags = {"tx.fused_version": fused.version, "tx.fused_run_id": fused.run_id or "", "tx.fused_choice": why,
            "tx.series": ",".join(trained_on["series"]), "tx.data_start": trained_on["start"], "tx.data_end": trained_on["end"],
            "tx.gate_rule": RL_RULE}
    with recorder.run(RL_EXPERIMENT, f"rl-{config.algorithm}", tags, started=started) as run:
        run.log_params(config.params() | {"buy_threshold": thresholds[0], "sell_threshold": thresholds[1]})
        run.log_metrics({k: v for k, v in result.metrics.items() if v is not None}
                        | {"train_seconds": result.seconds, "train_steps": result.steps, "env_steps_per_s": result.steps / max(result.seconds, 1e-9),
                           "final_policy_seconds": policy.seconds, "final_policy_steps": policy.steps})
        for w, curve in enumerate([*result.curves, policy.curve]):
            key = f"episode_reward.window_{w}" if w < len(result.curves) else "episode_reward.final"
            if curve:
                run.log_steps(key, [(step, value, pd.Timestamp.now(tz="UTC")) for step, value in curve])
        for row in result.windows:  # per-window figures as step metrics (step = window)
            run.log_metrics({f"window.{name}.{fig}": value for name in STRATEGIES for fig, value in row[name].items() if value is not None},
                            step=row["window"])
        boundaries = [a for a, _ in result.spans]
        fig = equity_drawdown({name: result.portfolio[name] for name in STRATEGIES}, "RL agent out of sample vs baselines "
                              "(stitched walk-forward, after costs)", boundaries)
        run.log_figure(fig, "plots/equity_drawdown.png")
        plt.close(fig)
        with run.artifacts("evaluation") as folder:
            (folder / "windows.json").write_text(json.dumps(result.windows, default=str, indent=1))
            pd.DataFrame({name: curve for name, curve in result.portfolio.items()}).to_parquet(folder / "equity.parquet")
        with tempfile.TemporaryDirectory() as tmp:
            policy.save(Path(tmp))
            version = run.register_files(Path(tmp), RL_MODEL)
        run_id, experiment_id = run.id, run.experiment_id
    recorder.describe(RL_MODEL, version, f"RL agent ({config.algorithm}) over {FUSED_MODEL} v{fused.version}'s out-of-fold outputs")
    recorder.set_version_tags(RL_MODEL, version, {"tx.fused_version": fused.version, "tx.fused_run_id": fused.run_id or ""})
    decision = gate_rl(recorder, RL_MODEL, version)
    return RlOutcome(result, fused, version, run_id, experiment_id, decision, time.time() - started)


def summary_line(outcome: RlOutcome) -> str:
    """One line: the decision and the out-of-sample figures beside the baselines."""
    m = outcome.result.metrics

    def f(x):
        return "n/a" if x is None else f"{x:.2f}"

    return (f"{RL_MODEL} v{outcome.version} ({'promoted' if outcome.decision.promoted else 'not promoted'}): OOS Sharpe "
            f"{f(m['rl_sharpe'])} vs fused-threshold {f(m['fused_threshold_sharpe'])}, buy-and-hold {f(m['buy_and_hold_sharpe'])}; "
            f"return {m['rl_return']:+.1%} vs {m['fused_threshold_return']:+.1%} / {m['buy_and_hold_return']:+.1%}; "
            f"{outcome.result.steps} env steps at {outcome.result.steps / max(outcome.result.seconds, 1e-9):.0f}/s")
