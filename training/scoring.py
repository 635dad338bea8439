"""Scoring and explaining one bar with a registered version: what the service answers and
the alert scanner records.

Features come from `FusedModel.inputs` — the same functions the batch pipeline uses on
the same candles (the parity test proves it) — never from a separate serving path.
"""

from typing import Protocol

import numpy as np
import pandas as pd

from training.model import FusedModel


class Versioned(Protocol):  # serving.champion.Served, or any (model, version) pair
    model: FusedModel
    version: str


NEUTRAL_BAND = 0.05  # |p - 0.5| below this: no direction
MIN_BARS = 30  # fewer bars leave most indicators undefined
FULL_BARS = 500  # from here on the indicators match the batch pipeline's to 1e-3


def direction(p: float) -> str:
    return "up" if p >= 0.5 + NEUTRAL_BAND else "down" if p <= 0.5 - NEUTRAL_BAND else "neutral"


def patterns_at(X: pd.DataFrame) -> list[dict]:
    """Patterns detected at the last bar, strongest first, with the bar's pattern confidences."""
    row = X.iloc[-1]
    found = [(c.removeprefix("cdl_"), int(v)) for c, v in row.items()
             if c.startswith("cdl_") and c not in ("cdl_bull_conf", "cdl_bear_conf", "cdl_count", "cdl_net_conf") and v]
    out = []
    for name, signed in sorted(found, key=lambda f: -abs(f[1])):
        conf = row["cdl_bull_conf"] if signed > 0 else row["cdl_bear_conf"]
        out.append({"pattern": name, "direction": "bullish" if signed > 0 else "bearish", "strength": abs(signed),
                    "confidence": None if pd.isna(conf) else round(float(conf), 4)})
    return out


def explanation(p: float, layers: dict[str, dict], patterns: list[dict]) -> str:
    """A few plain sentences built from the contributions and the strongest patterns."""
    ranked = sorted(layers.items(), key=lambda kv: -abs(kv[1]["contribution"]))
    words = [f"The fused model gives {p:.2f} that the take-profit is hit before the stop ({direction(p)})."]
    movers = [(n, v["contribution"]) for n, v in ranked if abs(v["contribution"]) >= 0.01]
    if movers:
        words.append("; ".join(f"the {n} layer {'pushes up' if c > 0 else 'pulls down'} ({c:+.2f} log-odds)" for n, c in movers[:3]).capitalize() + ".")
    else:
        words.append("No layer moves it far from the base rate.")
    if patterns:
        top = patterns[0]
        conf = f", {top['confidence']:.0%} hit rate so far" if top["confidence"] is not None else ""
        words.append(f"Strongest pattern at this bar: {top['pattern'].replace('_', ' ')} ({top['direction']}{conf}).")
    return " ".join(words)


Inputs = tuple[pd.DataFrame, np.ndarray]  # (features, windows) from FusedModel.inputs


def score(served: Versioned, candles: pd.DataFrame, timeframe: str, news: pd.DataFrame | None = None, inputs: Inputs | None = None) -> dict:
    """The fused probability of the last bar, each layer's output and contribution, and why.
    `inputs` skips recomputing the features when the caller has them."""
    model = served.model
    X, windows = inputs or model.inputs(candles, timeframe, news)
    row = model.explain_inputs(X.iloc[-1:], windows[-1:]).iloc[0]
    p = float(row["probability"])
    layers = {name: {"probability": round(float(row[f"p_{name}"]), 6), "contribution": round(float(row[f"c_{name}"]), 6)}
              for name in model.layer_names}
    found = patterns_at(X)
    out = {"probability": round(p, 6), "direction": direction(p), "confidence": round(max(p, 1 - p), 6),
           "model_version": served.version, "timeframe": timeframe, "as_of": candles.index[-1].isoformat().replace("+00:00", "Z"),
           "layers": layers, "base": round(float(row["base"]), 6), "patterns": found, "explanation": explanation(p, layers, found),
           "bars_used": len(candles)}
    if len(candles) < FULL_BARS:
        out["warning"] = f"{len(candles)} bars: long indicators (EMA 200) need {FULL_BARS}+ to match the batch features"
    return out


def deep_layer(served: Versioned, candles: pd.DataFrame, timeframe: str) -> dict:
    X, windows = served.model.inputs(candles, timeframe)
    parts = served.model.layers["deep"].predict_parts(windows[-1:])
    nets = {kind: round(float(v[0]), 6) for kind, v in parts.items()}
    return {"probability": round(float(np.mean(list(nets.values()))), 6), "nets": nets, "window_bars": int(windows.shape[1]),
            "model_version": served.version, "as_of": candles.index[-1].isoformat().replace("+00:00", "Z")}


def multitimeframe_layer(served: Versioned, candles: pd.DataFrame, timeframe: str, top: int = 10, inputs: Inputs | None = None) -> dict:
    """The layer's probability and the features that move it most at this bar (each set to
    missing in turn: how far the probability moves)."""
    layer = served.model.layers["multitimeframe"]
    X, windows = inputs or served.model.inputs(candles, timeframe)
    last = X.iloc[-1:].reindex(columns=layer.columns_)
    p = float(layer.predict(last, windows[-1:])[0])
    n = len(layer.columns_)
    values = np.repeat(last.to_numpy(dtype="float64"), n, axis=0)
    values[np.arange(n), np.arange(n)] = np.nan
    probes = pd.DataFrame(values, columns=layer.columns_)
    moved = p - layer.predict(probes, windows[-1:].repeat(len(probes), 0))
    order = np.argsort(-np.abs(moved))[:top]
    feats = [{"feature": layer.columns_[i], "value": None if pd.isna(last.iat[0, i]) else round(float(last.iat[0, i]), 6),
              "effect": round(float(moved[i]), 6)} for i in order]
    return {"probability": round(p, 6), "features": feats, "model_version": served.version,
            "as_of": candles.index[-1].isoformat().replace("+00:00", "Z")}
