"""Live push and paper-trading benchmark against a real `bentoml serve` (2 workers).

Run:  .venv/bin/python bench/bench_live.py [--backend postgresql|sqlite] [--bars 100] [--alerts 200] [--clients 16] [--seconds 10]
0. Score latency: this process stands in for the scan (a trained champion; the candles
   step's `market.ingest.ingest` from a data folder, then the bar_score step's
   `trading.scan.scan`), one new bar at a time; a WebSocket client's reader thread stamps
   each message as it arrives. Measured from the bar's commit (its `bar` event's time) to
   the arrival of its `score` event: the scoring itself (features and five layers on 600
   bars) and the push. A Dagster run adds its step start-up on top (not measured here).
1. Alert latency: this process (standing in for the scanner: another process than the
   service) raises alerts through `trading.alerts.record` one at a time; a WebSocket
   client measures the time from the alert's commit to its arrival. Target (issue 7):
   p99 < 100 ms.
2. Sustained paper executes: `--clients` threads each send market orders (unique
   Idempotency-Keys) as fast as the service answers, for `--seconds`.
Prints a Markdown table for docs/BENCHMARKS.md.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stores import throwaway, train_champion  # noqa: E402
PG = os.environ.get("TX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    p.add_argument("--bars", type=int, default=100)
    p.add_argument("--alerts", type=int, default=200)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=int, default=10)
    args = p.parse_args()
    from sqlalchemy.engine import make_url

    home = Path(tempfile.mkdtemp(prefix="tx-bench-live-"))
    extra = {"TX_PAPER_CASH": "1e12", "TX_PAPER_MAX_LEVERAGE": "100"}
    if args.backend == "postgresql":
        extra["TX_DATABASE_URL"] = make_url(PG).set(database=f"tx_bench_{uuid.uuid4().hex[:8]}").render_as_string(hide_password=False)
    env, settings, engine = throwaway(home, **extra)
    import httpx
    import pandas as pd
    from websockets.sync.client import connect

    from market.files import bundled
    from market.universe import Series
    from store.api_keys import create_key
    from store.candles import upsert_candles
    from store.db import drop_database
    from trading.alerts import record
    from training.scoring import LayerOutput, Score
    from tx.processes import bentoml_server, free_port, wait_ready

    upsert_candles(engine, "SPX", "1d", bundled().read(Series("SPX", "1d")), "bundled")
    frames = train_champion(engine, settings) if args.bars else {}
    key = create_key(engine, "trade", "bench")
    server = bentoml_server("127.0.0.1", free_port(), log=home / "bentoml.log", workers=2, traffic={"max_concurrency": 1000})
    server.env = {**env, **server.env}
    server.start()
    try:
        wait_ready([server], timeout_s=180)
        scores = score_latency(server.ui_url, key, engine, settings, frames["SYNA"], home, args.bars) if args.bars else np.array([])
        latencies = []
        scored = Score(probability=0.9, direction="up", confidence=0.9, model_version="1", timeframe="1d",
                       as_of=pd.Timestamp("2018-08-29", tz="UTC"), layers={"pattern": LayerOutput(0.9, 1.0)}, base=0.0, patterns=(),
                       explanation="bench", bars_used=600)
        with connect(server.ui_url.replace("http://", "ws://") + "/ws", additional_headers={"X-API-Key": key}) as ws:
            ws.recv(timeout=30)
            for i in range(args.alerts):
                symbol = f"B{i}"
                record(engine, symbol, "1d", scored, threshold=0.85, window_minutes=10, model_name="tx-fused")
                committed = time.perf_counter()
                while True:
                    message = json.loads(ws.recv(timeout=30))
                    if message.get("kind") == "alert" and message["symbol"] == symbol:
                        break
                latencies.append((time.perf_counter() - committed) * 1000)
                time.sleep(0.01 + 0.02 * (i % 3))  # alerts arrive at random moments, not in lockstep with a poll
        lat = np.array(latencies)

        sent = [0] * args.clients
        stop = time.monotonic() + args.seconds
        errors = []

        def client(n: int) -> None:
            with httpx.Client(base_url=server.ui_url, headers={"X-API-Key": key}, timeout=60) as http:
                while time.monotonic() < stop:
                    answer = http.post("/api/paper-trade/execute", json={"symbol": "SPX", "side": "buy" if sent[n] % 2 else "sell",
                                                                         "quantity": 1}, headers={"Idempotency-Key": uuid.uuid4().hex})
                    if answer.status_code != 200:
                        errors.append(answer.status_code)
                    sent[n] += 1

        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(client, range(args.clients)))
        elapsed = time.perf_counter() - started
    finally:
        server.stop()
        engine.dispose()
        if args.backend == "postgresql":
            drop_database(settings.app_database_url)
        shutil.rmtree(home, ignore_errors=True)
    print(f"{args.backend}, 2 BentoML workers, {os.cpu_count()} cores, loopback\n")
    print("| measure | value |\n|---|---:|")
    if len(scores):
        print(f"| new bars scored and pushed (bar commit -> score event at the client) | {len(scores)} |")
        print(f"| score latency p50 / p99 / max ms | {np.percentile(scores, 50):.1f} / {np.percentile(scores, 99):.1f} / {scores.max():.1f} |")
    print(f"| alerts pushed (commit -> WebSocket client) | {len(lat)} |")
    print(f"| alert latency p50 / p99 / max ms | {np.percentile(lat, 50):.1f} / {np.percentile(lat, 99):.1f} / {lat.max():.1f} |")
    print(f"| paper executes, {args.clients} concurrent clients, {args.seconds} s | {sum(sent)} ({sum(sent) / elapsed:.0f}/s), {len(errors)} non-200 |")


WARM_UP = 3


def score_latency(url: str, key: str, engine, settings, history, home: Path, bars: int) -> np.ndarray:
    """ms from each new bar's commit to its score event reaching a WebSocket client (see 0. above)."""
    import threading

    import pandas as pd
    from websockets.sync.client import connect

    from market.chain import MarketConfig, ProviderChain
    from market.ingest import ingest
    from market.universe import Series
    from trading.scan import scan
    from training.threads import one_thread
    from training.recorder import FUSED_MODEL, Recorder
    from training.scoring import ModelAt

    recorder = Recorder(settings.tracking_uri)
    version = recorder.champion().version
    champion = ModelAt(recorder.load(version), version)
    folder = home / "data"
    folder.mkdir()
    rng = np.random.default_rng(1)
    frame = history.copy()
    arrivals: list[tuple[float, dict]] = []
    with connect(url.replace("http://", "ws://") + "/ws?symbols=SYNA", additional_headers={"X-API-Key": key}) as ws:
        ws.recv(timeout=30)

        def read() -> None:
            try:
                while True:
                    message = json.loads(ws.recv())
                    arrivals.append((time.time(), message))
            except Exception:  # the socket closed: the measurement is over
                return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        measured = set()
        for i in range(WARM_UP + bars):  # the first bars warm up (numba compiles, caches fill): not counted
            close = frame["close"].iloc[-1] * float(np.exp(rng.normal(0, 0.01)))
            bar = {"open": frame["close"].iloc[-1], "high": close * 1.005, "low": close * 0.995, "close": close, "volume": 1e6}
            bar["high"], bar["low"] = max(bar["high"], bar["open"]), min(bar["low"], bar["open"])
            frame.loc[frame.index[-1] + pd.Timedelta(days=1)] = bar
            if i >= WARM_UP:
                measured.add(frame.index[-1].isoformat().replace("+00:00", "Z"))
            frame.reset_index().to_csv(folder / "SYNA_1d.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
            chain = ProviderChain.from_config(MarketConfig(providers=("local",), data_dir=folder, cache_ttl_s=0))
            ingest(engine, chain, Series("SYNA", "1d"), overlap_bars=3, max_gap_bars=10, stale_bars=10)
            with one_thread():  # as the bar_score step does
                scan(engine, champion, "SYNA", "1d", FUSED_MODEL, 0.85, 10)
            time.sleep(0.01 + 0.02 * (i % 3))
        time.sleep(1)
    committed = {m["data"]["ts"]: pd.Timestamp(m["created_at"]).timestamp() for _, m in arrivals if m.get("kind") == "bar"}
    return np.array([(at - committed[m["data"]["as_of"]]) * 1000 for at, m in arrivals
                     if m.get("kind") == "score" and m["data"]["as_of"] in measured])


if __name__ == "__main__":
    main()
