"""RL benchmark: the agent's walk-forward training and its final policy on the bundled data
within the default budget (TX_RL_* defaults), and one action in process.

The agent learns from the fused model's out-of-fold probabilities: they are made here by an
evaluation-only training of the fused model (`train(..., final=False)`, no tuning, 1 deep
epoch: its time is reported apart, it is not the agent's). Then `rl_walk_forward` (each
window: train on its past, act greedily on it, backtest with the engine) and `final_policy`
are timed, env steps/s counted, and `Policy.act` on one observation timed (p50, p99).

Run:  .venv/bin/python bench/bench_rl.py [--timeframes 1d] [--timesteps 4096] [--splits 4] [--algorithm ppo] [--acts 2000]
      [--signal 0.4 [--data-seed 0] [--seed 0]]   (planted-signal series: does the agent beat the threshold?)
Targets (issue 19): training within the default budget < 5 min on this 2-core CPU; one
action in process < 5 ms p50. Prints a Markdown table for docs/BENCHMARKS.md.
"""

import argparse
import time

import numpy as np

from features import BaseRates, LabelSpec
from market.files import bundled
from market.synthetic import generate_many
from market.universe import Series
from trading.rl import final_policy, rl_walk_forward
from trading.rl_pipeline import rl_series
from training.fit import TrainConfig, train
from training.promotion import decide_rl
from training.pipeline import build_dataset
from training.rl.agent import RlConfig
from training.rl.env import observation
from training.series import training_series


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timeframes", default="1d")
    p.add_argument("--timesteps", type=int, default=RlConfig.timesteps)
    p.add_argument("--splits", type=int, default=RlConfig.n_splits)
    p.add_argument("--algorithm", default="ppo")
    p.add_argument("--acts", type=int, default=2000)
    p.add_argument("--signal", type=float, default=None,
                   help="planted-signal synthetic series instead of the bundled data (SYNA/SYNB/SYNC 1d, 2,500 bars, labels on a "
                        "2-bar horizon: the README's planted demo is 0.4)")
    p.add_argument("--data-seed", type=int, default=0, help="with --signal: the synthetic generator's seed (TX_SYNTHETIC_SEED)")
    p.add_argument("--seed", type=int, default=RlConfig.seed, help="the agent's seed (TX_RL_SEED)")
    args = p.parse_args()
    if args.signal is None:
        wanted = set(args.timeframes.split(","))
        listing = [s for s in bundled().listing() if s.timeframe in wanted]
        candles = {s: bundled().read(s) for s in bundled().listing()}
        spec = LabelSpec()
    else:
        frames = generate_many(["SYNA", "SYNB", "SYNC"], "1d", 2500, seed=args.data_seed, signal=args.signal)
        candles = {Series(symbol, "1d"): frame for symbol, frame in frames.items()}
        listing, spec = list(candles), LabelSpec(horizon=2)
    series, table = training_series(candles, listing, spec)
    started = time.perf_counter()
    data = build_dataset(series, BaseRates(table), 32)
    fused = train(data, TrainConfig(tune_trials=0, deep_trials=0, deep_epochs=1, accelerator="cpu"), base_rates_table=table, final=False)
    fused_s = time.perf_counter() - started
    inputs = [(s.symbol, s.timeframe, s.candles, None) for s in series]
    config = RlConfig(algorithm=args.algorithm, timesteps=args.timesteps, n_splits=args.splits, seed=args.seed)

    started = time.perf_counter()
    parts = rl_series(fused.oof, inputs)
    prepared = time.perf_counter() - started
    started = time.perf_counter()
    result, kept, segments, trained_on = rl_walk_forward(parts, config)
    walk = time.perf_counter() - started
    started = time.perf_counter()
    policy = final_policy(kept, segments, config, trained_on)
    final = time.perf_counter() - started

    s = kept[0]
    market = policy.market(s.symbol, s.timeframe, s.candles, s.features, s.probability)
    state = np.array([1.0, 0.02, 0.1], np.float32)
    laps = []
    for i in range(args.acts):
        t = len(market) - 1 - (i % 200)
        begun = time.perf_counter()
        policy.act(observation(market, t, state))
        laps.append(time.perf_counter() - begun)
    laps_ms = np.array(laps[50:]) * 1000
    steps = result.steps + policy.steps
    train_s = result.seconds + policy.seconds
    m = result.metrics

    def f(x):
        return "n/a" if x is None else f"{x:.2f}"

    print(f"{', '.join(map(str, listing))}: {sum(len(k.candles) for k in kept)} bars, fused wf_auc {fused.metrics['wf_auc']:.4f} "
          f"(its evaluation-only training: {fused_s:.1f} s, not counted); {config.algorithm}, {config.timesteps} steps x "
          f"({config.n_splits} windows + final)\n")
    print("| figure | value |\n|---|---:|")
    print(f"| features for the agent (one feature path) | {prepared:.1f} s |")
    print(f"| walk-forward: {len(result.windows)} windows trained, acted, backtested | {walk:.1f} s |")
    print(f"| final policy | {final:.1f} s |")
    print(f"| **agent total (within the default budget)** | **{prepared + walk + final:.1f} s** |")
    print(f"| env steps trained | {steps:,} |")
    print(f"| env steps/s while learning | {steps / train_s:,.0f} |")
    print(f"| one action in process (observation + policy), p50 / p99 | {np.percentile(laps_ms, 50):.2f} / {np.percentile(laps_ms, 99):.2f} ms |")
    print(f"| OOS Sharpe after costs: agent / fused-threshold / buy-and-hold | {f(m['rl_sharpe'])} / {f(m['fused_threshold_sharpe'])} / "
          f"{f(m['buy_and_hold_sharpe'])} |")
    print(f"| OOS return: agent / fused-threshold / buy-and-hold | {m['rl_return']:+.1%} / {m['fused_threshold_return']:+.1%} / "
          f"{m['buy_and_hold_return']:+.1%} |")
    promoted, why = decide_rl(m["rl_sharpe"], m["fused_threshold_sharpe"], m["rl_sharpe_tstat"])
    print(f"| the RL gate's decision (training/promotion.py) | {'promoted' if promoted else 'refused'}: {why} |")


if __name__ == "__main__":
    main()
