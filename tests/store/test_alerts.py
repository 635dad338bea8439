"""Alert de-duplication decided in the database: across a restart and between racing scanners."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from store.alerts import dismiss_alert, get_alert, load_alerts, raise_alert
from store.db import make_engine
from store.events import events_since

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
        later = raise_alert(restarted, alert(at=t0 + timedelta(minutes=11)), WINDOW)
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
