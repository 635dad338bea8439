"""When a fused prediction becomes an alert, and what the alert carries as evidence."""

from datetime import timedelta

import pandas as pd

from store.alerts import raise_alert

SOURCE = "fused"


def alert_of(symbol: str, timeframe: str, scored: dict, threshold: float, source: str = SOURCE) -> dict | None:
    """An alert for a scored bar whose confidence reaches `threshold` with a direction; else None.
    The evidence is what made it: each layer's output and contribution, the patterns at
    the bar, the explanation and the bar itself."""
    if scored["confidence"] < threshold or scored["direction"] == "neutral":
        return None
    return {"symbol": symbol, "timeframe": timeframe, "direction": scored["direction"], "confidence": scored["confidence"],
            "source": source, "model_version": scored["model_version"], "data_partition": f"{symbol}:{timeframe}@{scored['as_of']}",
            "evidence": {"probability": scored["probability"], "layers": scored["layers"], "patterns": scored["patterns"][:5],
                         "explanation": scored["explanation"], "as_of": scored["as_of"]}}


def record(engine, symbol: str, timeframe: str, scored: dict, threshold: float, window_minutes: float,
           model_name: str) -> tuple[int | None, dict | None]:
    """(alert id or None when de-duplicated, the alert) for one scored bar of `model_name`;
    (None, None) below the threshold."""
    alert = alert_of(symbol, timeframe, scored, threshold)
    if alert is None:
        return None, None
    prediction = {"symbol": symbol, "timeframe": timeframe, "ts": pd.Timestamp(scored["as_of"]).to_pydatetime(), "model_name": model_name,
                  "model_version": scored["model_version"], "probability": scored["probability"], "direction": scored["direction"],
                  "confidence": scored["confidence"], "layers": {k: v["probability"] for k, v in scored["layers"].items()}}
    return raise_alert(engine, alert, timedelta(minutes=window_minutes), prediction), alert
