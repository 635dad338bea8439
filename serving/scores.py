"""Scores as the API writes them (training/scoring.py computes them): plain JSON types,
times as ISO-8601 UTC with a `Z`, in the field order of the answer models
(serving/schemas/ml.py). The hot path answers these dicts as they are."""

from dataclasses import asdict
from typing import Any

from store.types import iso
from training.scoring import DeepView, MultiTimeframeView, Score


def layers_answer(score: Score) -> dict[str, dict[str, float]]:
    return {name: asdict(out) for name, out in score.layers.items()}


def score_answer(score: Score) -> dict[str, Any]:
    out = {"probability": score.probability, "direction": score.direction, "confidence": score.confidence,
           "model_version": score.model_version, "timeframe": score.timeframe, "as_of": iso(score.as_of),
           "layers": layers_answer(score), "base": score.base, "patterns": [asdict(p) for p in score.patterns],
           "explanation": score.explanation, "bars_used": score.bars_used}
    if score.warning is not None:
        out["warning"] = score.warning
    return out


def deep_answer(view: DeepView) -> dict[str, Any]:
    return {"probability": view.probability, "nets": dict(view.nets), "window_bars": view.window_bars,
            "model_version": view.model_version, "as_of": iso(view.as_of)}


def features_answer(view: MultiTimeframeView) -> list[dict[str, Any]]:
    return [asdict(f) for f in view.features]


def multitimeframe_answer(view: MultiTimeframeView) -> dict[str, Any]:
    return {"probability": view.probability, "features": features_answer(view), "model_version": view.model_version,
            "as_of": iso(view.as_of)}
