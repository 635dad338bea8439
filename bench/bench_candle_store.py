"""Candle store throughput: upsert and read of real bars on SQLite and PostgreSQL.

Run:  .venv/bin/python bench/bench_candle_store.py [--pg postgresql://postgres@127.0.0.1:5432/test]
It prints a Markdown table; paste it into docs/BENCHMARKS.md with the date and machine.
The bars are the bundled SPX daily series, repeated under distinct symbols to reach N.
"""

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import make_url

from market.files import bundled
from market.universe import Series
from store.candles import load_candles, upsert_candles
from store.db import drop_database, make_engine, upgrade


def bench(url: str, frame: pd.DataFrame, copies: int) -> dict[str, float]:
    upgrade(url)
    engine = make_engine(url)
    try:
        t = time.perf_counter()
        for i in range(copies):
            upsert_candles(engine, f"S{i}", "1d", frame, "bench")
        insert_s = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(copies):
            upsert_candles(engine, f"S{i}", "1d", frame, "bench")  # every row conflicts: the update path
        update_s = time.perf_counter() - t
        t = time.perf_counter()
        for i in range(copies):
            assert len(load_candles(engine, f"S{i}", "1d")) == len(frame)
        read_s = time.perf_counter() - t
    finally:
        engine.dispose()
    bars = len(frame) * copies
    return {"bars": bars, "insert": bars / insert_s, "upsert": bars / update_s, "read": bars / read_s}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--copies", type=int, default=20)
    args = parser.parse_args()
    frame = bundled().read(Series("SPX", "1d"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("SQLite (WAL)", bench(f"sqlite:///{Path(tmp) / 'bench.db'}", frame, args.copies)))
    pg = make_url(args.pg).set(database=f"tx_bench_{uuid.uuid4().hex[:8]}")
    try:
        rows.append(("PostgreSQL", bench(pg.render_as_string(hide_password=False), frame, args.copies)))
    finally:
        drop_database(pg)
    print("| store | bars | insert bars/s | upsert (all conflicts) bars/s | read bars/s |")
    print("|---|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['bars']:,} | {r['insert']:,.0f} | {r['upsert']:,.0f} | {r['read']:,.0f} |")


if __name__ == "__main__":
    main()
