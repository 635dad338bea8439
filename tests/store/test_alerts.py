"""Alert de-duplication decided in the database: across a restart and between racing scanners;
a score's alert and prediction row as stored."""

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pandas as pd

from sqlalchemy import select

from store.alerts import dismiss_alert, get_alert, load_alerts, raise_alert
from store.db import make_engine, transaction
from store.events import events_since
from store.models import Prediction
from tests.training.test_scoring import SCORE
from trading.alerts import record

WINDOW = timedelta(minutes=10)


def alert(symbol="AAA", direction="up", at=None, **more):
    out = {"symbol": symbol, "timeframe": "1d", "direction": direction, "confidence": 0.9, "source": "fused",
           "model_version": "3", "data_partition": f"{symbol}:1d@2024-01-02T00:00:00Z", "evidence": {"why": "test"}}
    return out | ({"created_at": at} if at else {}) | more


def test_deduplicated_within_the_window_even_after_a_restart(engine, db_url):
    t0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    first = raise_alert(engine, alert(at=t0), WINDOW)
    assert first is not None
    engine.dispose()
    restarted = make_engine(db_url)  # a new process: nothing in memory, only the database
    try:
        assert raise_alert(restarted, alert(at=t0 + timedelta(minutes=9)), WINDOW) is None
        assert raise_alert(restarted, alert(direction="down", at=t0 + timedelta(minutes=9)), WINDOW) is not None  # another key
        assert raise_alert(restarted, alert(at=t0 + timedelta(minutes=11)), WINDOW) is None  # the same bar: never again
        later = raise_alert(restarted, alert(at=t0 + timedelta(minutes=11), data_partition="AAA:1d@2024-01-03T00:00:00Z"), WINDOW)
        assert later is not None and later != first
        assert [a["id"] for a in load_alerts(restarted, "active", "AAA")][-1] == first
        events = events_since(restarted, 0)
        assert [e["kind"] for e in events] == ["alert"] * 3 and events[0]["data"]["id"] == first
        assert dismiss_alert(restarted, first)["status"] == "dismissed" and get_alert(restarted, first)["dismissed_at"]
        assert dismiss_alert(restarted, 10_000) is None
    finally:
        restarted.dispose()


def test_racing_scanners_raise_one_alert(engine):
    at = datetime(2026, 11, 26, 13, 0, tzinfo=UTC)
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda _: raise_alert(engine, alert(symbol="RACE", at=at), WINDOW), range(16)))
    assert len([i for i in ids if i is not None]) == 1


def test_a_confident_score_stores_its_alert_and_its_prediction_row(engine):
    """trading.alerts.record from a Score: the alert, its evidence and the prediction row as
    they were stored when a score was a dict."""
    score = SCORE  # p = 0.712345, up
    assert record(engine, "GOOGL", "1d", score, threshold=0.8, window_minutes=10, model_name="tx-fused") == (None, None)
    alert_id, alert = record(engine, "GOOGL", "1d", score, threshold=0.7, window_minutes=10, model_name="tx-fused")
    stored = get_alert(engine, alert_id)
    assert stored["data_partition"] == "GOOGL:1d@2024-01-02T00:00:00Z" and stored["confidence"] == 0.712345
    assert (stored["direction"], stored["source"], stored["model_version"]) == ("up", "fused", "7")
    assert json.dumps(stored["evidence"]) == json.dumps(alert["evidence"]) == json.dumps({
        "probability": 0.712345, "layers": {"pattern": {"probability": 0.61, "contribution": 0.25}, "deep": {"probability": 0.55, "contribution": -0.05}},
        "patterns": [{"pattern": "engulfing", "direction": "bullish", "strength": 100, "confidence": 0.5625}], "explanation": "why",
        "as_of": "2024-01-02T00:00:00Z"})
    with transaction(engine) as session:
        (row,) = session.execute(select(Prediction)).scalars()
        stored_row = {c: getattr(row, c) for c in score.prediction_row("GOOGL", "tx-fused")}
        assert stored["prediction_id"] == row.id
    assert stored_row == score.prediction_row("GOOGL", "tx-fused")


def test_the_scanner_raises_one_alert_per_bar_direction_and_model_version(engine):
    """The scan every 5 minutes over an unchanged bar raises one alert all day; a new bar
    raises one once the 10-minute window has passed (not before); so does a new champion."""
    t0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
    scan = lambda score, minutes: record(engine, "SCAN", "1d", score, 0.7, 10, "tx-fused", now=t0 + timedelta(minutes=minutes))[0]  # noqa: E731
    first = scan(SCORE, 0)
    assert first is not None
    assert [scan(SCORE, m) for m in range(5, 24 * 60, 5)] == [None] * (24 * 12 - 1)  # the same bar, all day
    new_bar = replace(SCORE, as_of=SCORE.as_of + pd.Timedelta(days=1))
    assert scan(new_bar, 24 * 60 + 1) is not None  # a new bar, past the window
    newer_bar = replace(SCORE, as_of=SCORE.as_of + pd.Timedelta(days=2))
    assert scan(newer_bar, 24 * 60 + 6) is None  # a new bar within 10 minutes of the last alert: the window holds
    assert scan(newer_bar, 24 * 60 + 12) is not None
    new_champion = replace(newer_bar, model_version="8")
    assert scan(new_champion, 24 * 60 + 15) is None  # the window holds for a new champion too
    assert scan(new_champion, 24 * 60 + 30) is not None and scan(new_champion, 24 * 60 + 60) is None
    stored = [a for a in load_alerts(engine, symbol="SCAN")]
    assert sorted((a["data_partition"], a["model_version"]) for a in stored) == [
        ("SCAN:1d@2024-01-02T00:00:00Z", "7"), ("SCAN:1d@2024-01-03T00:00:00Z", "7"), ("SCAN:1d@2024-01-04T00:00:00Z", "7"),
        ("SCAN:1d@2024-01-04T00:00:00Z", "8")]
