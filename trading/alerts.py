"""When a fused prediction becomes an alert, and what the alert carries as evidence."""

from dataclasses import asdict
from datetime import datetime, timedelta

from store.alerts import data_partition, raise_alert
from store.types import iso
from training.scoring import Score

SOURCE = "fused"


def alert_of(symbol: str, timeframe: str, score: Score, threshold: float, source: str = SOURCE) -> dict | None:
    """An alert for a scored bar whose confidence reaches `threshold` with a direction; else None.
    The evidence is what made it: each layer's output and contribution, the patterns at
    the bar, the explanation and the bar itself."""
    if score.confidence < threshold or score.direction == "neutral":
        return None
    return {"symbol": symbol, "timeframe": timeframe, "direction": score.direction, "confidence": score.confidence,
            "source": source, "model_version": score.model_version, "data_partition": data_partition(symbol, timeframe, score.as_of),
            "evidence": {"probability": score.probability, "layers": {name: asdict(out) for name, out in score.layers.items()},
                         "patterns": [asdict(p) for p in score.patterns[:5]], "explanation": score.explanation,
                         "as_of": iso(score.as_of)}}


def record(engine, symbol: str, timeframe: str, score: Score, threshold: float, window_minutes: float,
           model_name: str, now: datetime | None = None) -> tuple[int | None, dict | None]:
    """(alert id or None when de-duplicated, the alert) for one scored bar of `model_name`;
    (None, None) below the threshold. At most one alert per bar, direction and model version
    (store/alerts.py), and none within `window_minutes` of the last for the symbol and direction."""
    alert = alert_of(symbol, timeframe, score, threshold)
    if alert is None:
        return None, None
    if now is not None:
        alert["created_at"] = now
    return raise_alert(engine, alert, timedelta(minutes=window_minutes), score.prediction_row(symbol, model_name)), alert
