"""serving/routers/alerts.py and the live feed (serving/live.py) over HTTP: alerts recorded by
another process reach WebSocket subscribers and the alert reads; bad clients are refused."""

import json
import time

import pandas as pd
import pytest

from store.db import make_engine

from tests.serving.client import call, execute

pytestmark = pytest.mark.e2e


def ws_url(svc, query: str = "") -> str:
    return svc["url"].replace("http://", "ws://") + "/ws" + query


def next_event(ws, kind: str, timeout: float = 15.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message.get("type") == "event" and message["kind"] == kind:
            return message
    raise AssertionError(f"no {kind} event within {timeout} s")


def test_alerts_from_another_process_reach_websocket_subscribers(svc):
    """The scanner's path (trading.alerts.record, here in the test process, not the service)
    -> events -> every worker's hub (NOTIFY on PostgreSQL, polling on SQLite) -> the socket."""
    from websockets.sync.client import connect

    from trading.alerts import record
    from training.scoring import LayerOutput, PatternHit, Score

    answer = call(svc, "POST", "/api/ml/score", json={"symbol": "SYNA"}).json()
    scored = Score(**{k: v for k, v in answer.items() if k not in ("symbol", "as_of", "layers", "patterns")},  # the service's score
                   as_of=pd.Timestamp(answer["as_of"]), layers={k: LayerOutput(**v) for k, v in answer["layers"].items()},
                   patterns=tuple(PatternHit(**p) for p in answer["patterns"]))
    engine = make_engine(svc["settings"].app_database_url)
    with connect(ws_url(svc, "?symbols=SYNA"), additional_headers={"X-API-Key": svc["keys"]["read"]}) as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "hello" and hello["symbols"] == ["SYNA"]
        started = time.monotonic()
        alert_id, alert = record(engine, "SYNA", "1d", scored, threshold=0.5, window_minutes=10, model_name="tx-fused")
        assert alert_id is not None and record(engine, "SYNA", "1d", scored, 0.5, 10, "tx-fused")[0] is None  # de-duplicated
        event = next_event(ws, "alert")
        latency = time.monotonic() - started
        assert event["data"]["id"] == alert_id and event["data"]["model_version"] == scored.model_version
        assert event["data"]["evidence"]["layers"] and latency < 5
        fill = execute(svc, f"{svc['backend']}-ws", {"symbol": "SYNA", "side": "buy", "quantity": 1}).json()
        assert next_event(ws, "fill")["data"]["order_id"] == fill["order_id"]
    engine.dispose()
    # a client that was away replays from its cursor
    with connect(ws_url(svc, f"?symbols=SYNA&since={event['cursor'] - 1}"), additional_headers={"X-API-Key": svc["keys"]["read"]}) as ws:
        json.loads(ws.recv(timeout=10))
        assert next_event(ws, "alert")["cursor"] == event["cursor"]
    listed = call(svc, "GET", "/api/alerts", params={"symbol": "SYNA"}).json()["alerts"]
    assert alert_id in [a["id"] for a in listed]
    assert call(svc, "GET", "/api/alerts/active", params={"min_confidence": 0.5}).json()["count"] >= 1
    one = call(svc, "GET", f"/api/alerts/{alert_id}").json()
    assert one["status"] == "active" and one["data_partition"].startswith("SYNA:1d@") and one["evidence"]["explanation"]
    assert call(svc, "POST", f"/api/alerts/{alert_id}/dismiss").status_code == 403  # read key
    assert call(svc, "POST", f"/api/alerts/{alert_id}/dismiss", key="trade").json()["status"] == "dismissed"
    history = call(svc, "GET", "/api/alerts/history").json()["alerts"]
    assert next(a for a in history if a["id"] == alert_id)["outcome"] == "pending"  # its bar is the latest: no label yet
    stats = call(svc, "GET", "/api/alerts/stats").json()
    assert stats["alerts"] >= 1 and stats["by_status"]["dismissed"] >= 1
    assert call(svc, "GET", "/api/alerts/999999").status_code == 404
    assert call(svc, "POST", "/api/alerts/999999/dismiss", key="trade").status_code == 404


@pytest.mark.parametrize(("path", "headers", "code"), [("/ws", {}, 4401), ("/api/ws", {"X-API-Key": "tx_dead_beef"}, 4401),
                                                      ("/api/ws?since=yesterday", None, 4422)])
def test_websocket_refuses_bad_clients_with_a_reason(svc, path, headers, code):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    url = svc["url"].replace("http://", "ws://") + path
    with connect(url, additional_headers=headers if headers is not None else {"X-API-Key": svc["keys"]["read"]}) as ws:
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd.code == code and closed.value.rcvd.reason


def test_the_scan_pushes_bars_patterns_and_scores_to_subscribers_once(svc, tmp_path):
    """The scan's steps in this process (market/ingest.py, the detections, trading/scan.py —
    what the candles, patterns and bar_score assets call) -> `bar`, `pattern` and `score`
    events on the socket; the stored score is what POST /api/ml/score answers, and a second
    pass scores nothing again."""
    from websockets.sync.client import connect

    from features.patterns import detections
    from market.chain import MarketConfig, ProviderChain
    from market.ingest import ingest
    from market.synthetic import generate
    from market.universe import Series
    from store.events import events_since
    from store.patterns import replace_detections
    from store.predictions import load_predictions
    from trading.scan import scan
    from training.recorder import FUSED_MODEL, Recorder
    from training.scoring import ModelAt

    full = generate("SYNP", "1d", 700, seed=21, signal=0.5)
    found = detections(full, "1d")
    cut = int(found["ts"].map(full.index.get_loc).loc[lambda i: i >= 600].min())  # a bar where a pattern fires
    engine = make_engine(svc["settings"].app_database_url)
    recorder = Recorder(svc["settings"].tracking_uri)
    version = recorder.champion().version
    champion = ModelAt(recorder.load(version), version)
    series = Series("SYNP", "1d")

    def store_bars(upto: int):
        full.iloc[:upto].reset_index().to_csv(tmp_path / "SYNP_1d.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        chain = ProviderChain.from_config(MarketConfig(providers=("local",), data_dir=tmp_path, cache_ttl_s=0))
        report = ingest(engine, chain, series, overlap_bars=3, max_gap_bars=10, stale_bars=5)
        replace_detections(engine, "SYNP", "1d", detections(report.stored, "1d"))
        return report, scan(engine, champion, "SYNP", "1d", FUSED_MODEL, confidence=0.99, dedup_minutes=10)

    first, _ = store_bars(cut)  # the history: announced by its last bar only
    assert first.new_bars == cut
    with connect(ws_url(svc, "?symbols=SYNP"), additional_headers={"X-API-Key": svc["keys"]["read"]}) as ws:
        cursor = json.loads(ws.recv(timeout=10))["cursor"]
        report, done = store_bars(cut + 1)
        bar, pattern, score = next_event(ws, "bar"), next_event(ws, "pattern"), next_event(ws, "score")
    new_bar = full.index[cut]
    assert report.new_bars == 1 and pd.Timestamp(bar["data"]["ts"]) == new_bar and bar["data"]["close"] == full["close"].iloc[cut]
    assert pd.Timestamp(pattern["data"]["ts"]) == new_bar and pattern["data"]["pattern"] in set(found.loc[found["ts"] == new_bar, "pattern"])
    assert done.scored_now and pd.Timestamp(score["data"]["as_of"]) == new_bar and score["data"]["model_version"] == version
    assert cursor < bar["cursor"] < score["cursor"]  # commit order: the bar, its patterns, then its score

    answer = call(svc, "POST", "/api/ml/score", json={"symbol": "SYNP"}).json()  # the stored score, not a new computation
    assert (answer["probability"], answer["as_of"], answer["model_version"]) == (score["data"]["probability"], score["data"]["as_of"], version)
    again = scan(engine, champion, "SYNP", "1d", FUSED_MODEL, confidence=0.99, dedup_minutes=10)
    assert not again.scored_now and again.score == done.score
    scores = [e for e in events_since(engine, cursor, {"SYNP"}) if e["kind"] == "score"]
    assert len(scores) == 1  # one score per bar and version, whoever asked
    logged = load_predictions(engine, FUSED_MODEL).query("symbol == 'SYNP'")
    assert list(logged["ts"]) == [full.index[cut - 1], new_bar]  # each bar scored once: by the scan, never again by a request
    engine.dispose()
