"""Ingest benchmark: N synthetic symbols x M daily bars through `store.candles.upsert_candles`
(the path the candles asset uses), into PostgreSQL and SQLite.

Run:  .venv/bin/python bench/bench_ingest.py [--symbols 500] [--bars 2500] [--pg URL]
Target (issue 3): 500 x 2,500 into PostgreSQL in under 30 s on the 2-core machine.
Generation is timed apart from ingestion. Prints a Markdown table for docs/BENCHMARKS.md.
"""

import argparse
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy.engine import make_url

from market.synthetic import generate_many
from store.candles import coverage, upsert_candles
from store.db import drop_database, make_engine, upgrade


def ingest(url: str, frames: dict) -> tuple[float, int]:
    upgrade(url)
    engine = make_engine(url)
    try:
        t0 = time.perf_counter()
        for symbol, frame in frames.items():
            upsert_candles(engine, symbol, "1d", frame, "synthetic")
        elapsed = time.perf_counter() - t0
        stored = int(coverage(engine)["bars"].sum())
    finally:
        engine.dispose()
    return elapsed, stored


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--bars", type=int, default=2500)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    t0 = time.perf_counter()
    frames = generate_many([f"SYN{i:04d}" for i in range(args.symbols)], "1d", args.bars, seed=42)
    generated = time.perf_counter() - t0
    total = args.symbols * args.bars
    rows = []
    pg = make_url(args.pg).set(database=f"tx_bench_{uuid.uuid4().hex[:8]}")
    try:
        rows.append(("PostgreSQL", *ingest(pg.render_as_string(hide_password=False), frames)))
    finally:
        drop_database(pg)
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(("SQLite (WAL)", *ingest(f"sqlite:///{Path(tmp) / 'bench.db'}", frames)))
    print(f"generated {args.symbols} x {args.bars} synthetic bars in {generated:.1f} s")
    print("| store | symbols x bars | ingest s | bars/s | stored |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds, stored in rows:
        assert stored == total, f"{name}: stored {stored} of {total}"
        print(f"| {name} | {args.symbols} x {args.bars:,} | {seconds:.1f} | {total / seconds:,.0f} | {stored:,} |")


if __name__ == "__main__":
    main()
