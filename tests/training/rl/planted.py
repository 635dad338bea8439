"""Series for the agent's tests: synthetic candles (market/synthetic.py, momentum of strength
`signal`) with a stand-in for the fused model's out-of-fold probability, and a tx-fused
version in MLflow that logged it (what the real training logs, without training five layers)."""

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from features import build_features
from market.synthetic import generate_many
from trading.rl import RlSeries
from training.recorder import FUSED_MODEL, OOF_DIR, OOF_FILE, Recorder

WARMUP = 300  # bars before the first out-of-fold probability (the fused model's first fold)


def probability(candles: pd.DataFrame, amplitude: float) -> pd.Series:
    """What a fused model that found the planted momentum says at each close: up after an up
    bar. Compressed (amplitude < 0.05) it never crosses the strategy's 0.55 / 0.45 thresholds:
    the signal is in the probability, a fixed threshold does not use it."""
    p = pd.Series(0.5 + amplitude * np.sign(np.log(candles["close"] / candles["open"])), index=candles.index, name="probability")
    p.iloc[:WARMUP] = np.nan
    return p


def series(signal: float, n: int = 2, bars: int = 900, seed: int = 1, amplitude: float = 0.04) -> list[RlSeries]:
    frames = generate_many([f"S{i}" for i in range(n)], "1d", bars, seed=seed, signal=signal)
    return [RlSeries(symbol, "1d", c, build_features(c, "1d"), probability(c, amplitude)) for symbol, c in frames.items()]


def register_fused(recorder: Recorder, parts: list[RlSeries]) -> str:
    """A tx-fused version whose run logged these out-of-fold probabilities; returns the version."""
    rows = []
    for s in parts:
        p = s.probability.dropna()
        rows.append(pd.DataFrame({"time": p.index, "symbol": s.symbol, "timeframe": s.timeframe, "y": (p > 0.5).astype(int),
                                  "fold": 1, "fused": p.to_numpy()}))
    with recorder.run("tx-training", "fused-stand-in", {}) as run:
        with run.artifacts(OOF_DIR) as folder:
            pd.concat(rows).to_parquet(folder / OOF_FILE)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "README").write_text("stand-in")
            return run.register_files(Path(tmp), FUSED_MODEL, "model")
