"""A score is a typed value; the prediction row it stores is the one the service and the
alert scanner both wrote when a score was a dict, plus the whole score, read back equal."""

import json
from datetime import UTC, datetime

import pandas as pd

from training.scoring import LayerOutput, PatternHit, Score

SCORE = Score(probability=0.712345, direction="up", confidence=0.712345, model_version="7", timeframe="1d",
              as_of=pd.Timestamp("2024-01-02T00:00:00Z"), layers={"pattern": LayerOutput(0.61, 0.25), "deep": LayerOutput(0.55, -0.05)},
              base=0.1, patterns=(PatternHit("engulfing", "bullish", 100, 0.5625),), explanation="why", bars_used=600)


def test_the_prediction_row_is_the_one_stored_before():
    row = SCORE.prediction_row("GOOGL", "tx-fused")
    assert row == {"symbol": "GOOGL", "timeframe": "1d", "ts": datetime(2024, 1, 2, tzinfo=UTC), "model_name": "tx-fused",
                   "model_version": "7", "probability": 0.712345, "direction": "up", "confidence": 0.712345,
                   "layers": {"pattern": 0.61, "deep": 0.55}, "score": SCORE.record()}
    assert list(row) == ["symbol", "timeframe", "ts", "model_name", "model_version", "probability", "direction", "confidence", "layers",
                         "score"]
    assert isinstance(row["ts"], datetime) and row["ts"].utcoffset().total_seconds() == 0


def test_a_stored_score_reads_back_equal_through_json():
    stored = json.loads(json.dumps(SCORE.record()))  # what a JSON column gives back
    assert Score.from_record(stored) == SCORE
    warned = Score(**{**SCORE.__dict__, "warning": "few bars", "patterns": ()})
    assert Score.from_record(json.loads(json.dumps(warned.record()))) == warned
