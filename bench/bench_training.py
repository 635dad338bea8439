"""Training benchmark: full training of all five layers on the bundled data, with bounded
tuning, split per layer (tuning + walk-forward fits + the final fit).

Run:  .venv/bin/python bench/bench_training.py [--timeframes 1d] [--trials 20] [--deep-trials 3]
                                               [--epochs 5] [--accelerator cpu|gpu]
Target (issue 5): under 10 minutes on this CPU. Trains in memory (no MLflow): the figure
is the training itself; `tx train` adds about 2 s of MLflow logging. Prints a Markdown
table for docs/BENCHMARKS.md.
"""

import argparse
import platform
import time

import torch

from features import BaseRates, LabelSpec
from market.files import bundled
from training.fit import TrainConfig, train
from training.pipeline import build_dataset
from training.series import training_series


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timeframes", default="1d")
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--deep-trials", type=int, default=3)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--accelerator", default="cpu")
    args = p.parse_args()
    wanted = set(args.timeframes.split(","))

    started = time.perf_counter()
    listing = [s for s in bundled().listing() if s.timeframe in wanted]
    candles = {s: bundled().read(s) for s in bundled().listing()}
    series, table = training_series(candles, listing, LabelSpec())
    data = build_dataset(series, BaseRates(table), 32)
    prepared = time.perf_counter() - started
    config = TrainConfig(tune_trials=args.trials, deep_trials=args.deep_trials, deep_epochs=args.epochs, accelerator=args.accelerator)
    started = time.perf_counter()
    trained = train(data, config, base_rates_table=table)
    total = time.perf_counter() - started

    device = torch.cuda.get_device_name(0) if args.accelerator != "cpu" and torch.cuda.is_available() else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    print(f"{len(data)} samples x {data.X.shape[1]} features from {', '.join(map(str, listing))}; "
          f"{args.trials} + {args.deep_trials} trials, {args.epochs} epochs; deep layer on {device}")
    print(f"wf_auc {trained.metrics['wf_auc']:.4f}\n")
    print("| stage | seconds |\n|---|---:|")
    print(f"| features + labels + windows | {prepared:.1f} |")
    for name, seconds in trained.seconds.items():
        print(f"| {name} layer (tuning, {len(trained.folds)} folds, final fit) | {seconds:.1f} |" if name != "stacker" else f"| stacker (walk-forward + final) | {seconds:.2f} |")
    print(f"| **training total** | **{total:.1f}** |")


if __name__ == "__main__":
    main()
