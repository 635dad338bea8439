"""The cost curve of the per-series pipeline: candles -> base rates -> features, patterns, labels
of N synthetic daily series, as a plain Python loop and through Dagster (issue 21).

Each (mode, N) gets stores of its own: a fresh PostgreSQL database for the app, Dagster and
MLflow (TX_POSTGRES_URL; the three are dropped after), a fresh TX_HOME and TX_FRAMES_URL.
The series are S000:1d .. S<N-1>:1d from the synthetic provider (TX_SYNTHETIC_BARS bars each).
`tx migrate` sets the stores up before the clock starts. Modes:

- `plain`: the functions the assets call (market.ingest.ingest and the paper sweep; the base
  rates' coverage + pooled_outcomes; build_features with the point-in-time check's recomputes;
  detections + replace_detections; triple_barrier + with_spec), each frame written as the
  Parquet file the IO manager writes, in one loop in one process, in the order the in-process
  run takes (every series' candles, the base rates, every series' features, patterns, labels).
  Wall: the whole process (imports included); compute: the loop.
- `in_process`: `tx backfill --wait` with the in_process executor (the default): one run.
- `celery1` / `celery2`: TX_EXECUTOR=celery, a queue of the bench's own, 1 or 2 `tx worker`
  processes started (and ready) before the clock starts and killed after, also on failure;
  `tx backfill --wait --runs R` (R = --celery-runs, the same for both).

Wall: the whole `tx backfill --wait` command (its imports, store checks, run processes, polling).
From the Dagster instance: the runs tagged with the backfill's id, their STEP_SUCCESS events;
`step sum` adds each step's STEP_START -> STEP_SUCCESS (the assets' compute, their metadata and
IO included); `busy` is the union of those intervals (time during which some step ran);
overhead = wall - busy: time no step was running (imports, run set-up, step hand-over, polling).

Run:  nice -n 10 .venv/bin/python bench/bench_scale.py [--sizes 10,50,200] [--modes plain,in_process,celery1,celery2]
      [--bars 2500] [--celery-runs 2] [--train [--train-sizes 10,50]]
Measure with nothing else running; the load is printed. Prints a Markdown table for docs/BENCHMARKS.md.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG = os.environ.get("TX_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MODES = ("plain", "in_process", "celery1", "celery2")


def universe(n: int) -> list[str]:
    return [f"S{i:03d}:1d" for i in range(n)]


def plain_loop() -> dict:
    """The `plain` mode, in a process of its own (the bench re-runs itself with --plain-child)."""
    import logging

    import numpy as np
    import pandas as pd

    from features import BaseRates, LabelSpec, build_features, triple_barrier
    from features.labels import with_spec
    from features.patterns import detections, pooled_outcomes
    from features.pit import leaks
    from market.chain import ProviderChain
    from market.ingest import ingest
    from market.universe import parse_universe
    from store.candles import coverage, load_candles
    from store.db import make_engine
    from store.patterns import replace_detections
    from trading.broker import paper_broker
    from tx.settings import load_settings
    import zlib

    settings = load_settings()
    frames = Path(settings.frames_location)
    log = logging.getLogger("bench")

    def write(asset: str, frame: pd.DataFrame, series=None) -> None:
        path = frames / asset if series is None else frames / asset / series.symbol / f"{series.timeframe}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        frame.to_parquet(partial)
        partial.rename(path)

    t0 = time.perf_counter()
    engine = make_engine(settings.app_database_url)
    chain = ProviderChain.from_config(settings.market_config())
    series = parse_universe(settings.universe)
    for s in series:  # candles
        report = ingest(engine, chain, s, overlap_bars=settings.overlap_bars, max_gap_bars=settings.max_gap_bars,
                        stale_bars=settings.stale_bars, log=log)
        if report.new_bars:
            paper_broker(engine, settings).sweep(s.symbol)
    t_candles = time.perf_counter()
    stored = coverage(engine)  # pattern_base_rates
    table = pooled_outcomes((load_candles(engine, row.symbol, row.timeframe), row.timeframe) for row in stored.itertuples())
    write("pattern_base_rates", table)  # the IO manager's path of an unpartitioned asset: frames/pattern_base_rates
    rates = BaseRates(table)
    t_rates = time.perf_counter()
    for s in series:  # features, with the point_in_time and finite checks' work
        bars = load_candles(engine, s.symbol, s.timeframe)
        build = lambda c, tf: build_features(c, tf, rates)  # noqa: E731
        frame = build(bars, s.timeframe)
        rng = np.random.default_rng(zlib.crc32(str(s).encode()))
        cuts = rng.choice(np.arange(len(bars)), size=min(5, len(bars)), replace=False)
        assert not leaks(bars, s.timeframe, cuts, build=build, full=frame)
        assert not np.isinf(frame.to_numpy()).sum()
        write("features", frame, s)
    t_features = time.perf_counter()
    for s in series:  # patterns
        found = detections(load_candles(engine, s.symbol, s.timeframe), s.timeframe, prior=rates)
        replace_detections(engine, s.symbol, s.timeframe, found)
        write("patterns", found, s)
    t_patterns = time.perf_counter()
    spec = LabelSpec(horizon=settings.label_horizon)
    for s in series:  # labels
        frame = with_spec(triple_barrier(load_candles(engine, s.symbol, s.timeframe), spec), spec)
        assert frame["label"].iloc[-spec.horizon:].isna().all()
        write("labels", frame, s)
    t_end = time.perf_counter()
    engine.dispose()
    return {"loop": t_end - t0, "candles": t_candles - t0, "pattern_base_rates": t_rates - t_candles,
            "features": t_features - t_rates, "patterns": t_patterns - t_features, "labels": t_end - t_patterns}


class Case:
    """The stores of one (mode, N): a fresh database name, TX_HOME and frames; cleaned up on close."""

    def __init__(self, n: int, bars: int, extra: dict[str, str]) -> None:
        from sqlalchemy.engine import make_url

        self.tmp = Path(tempfile.mkdtemp(prefix="tx-bench-scale-"))
        self.base = make_url(PG).set(database=f"tx_bench_{uuid.uuid4().hex[:10]}")
        self.url = self.base.render_as_string(hide_password=False)
        keep = {k: v for k, v in os.environ.items() if not k.startswith(("TX_", "DAGSTER_", "MLFLOW_"))}
        self.env = keep | {
            "PYTHONPATH": str(ROOT), "TX_ENV_FILE": str(self.tmp / "no.env"), "TX_HOME": str(self.tmp / "launcher" / "tx"),
            "TX_POSTGRES_URL": self.url, "TX_FRAMES_URL": str(self.tmp / "frames"), "TX_PROVIDERS": "synthetic",
            "TX_SYNTHETIC_BARS": str(bars), "TX_UNIVERSE": ",".join(universe(n)), "TX_LOG_FORMAT": "text",
            "TX_LOG_LEVEL": "WARNING", "TX_MLFLOW_ARTIFACTS": str(self.tmp / "artifacts"),
        } | extra
        self.workers: list[subprocess.Popen] = []
        (self.tmp / "launcher").mkdir(parents=True)
        self.tx("migrate", check=True)

    def tx(self, *args: str, check: bool = False, timeout: float = 7200, **env: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=self.tmp / "launcher", env=self.env | env,
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"tx {' '.join(args)[:80]} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done

    def start_workers(self, count: int, timeout: float = 300) -> float:
        t0 = time.perf_counter()
        logs = []
        for i in range(count):
            folder = self.tmp / f"w{i + 1}"
            folder.mkdir(parents=True, exist_ok=True)
            log = folder / "worker.log"
            with open(log, "wb") as out:
                self.workers.append(subprocess.Popen(
                    [sys.executable, "-m", "cli.main", "worker", "--name", f"w{i + 1}-{uuid.uuid4().hex[:4]}"], cwd=folder,
                    env=self.env | {"TX_HOME": str(folder / "tx"), "TX_LOG_LEVEL": "INFO"}, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True))
            logs.append(log)
        deadline = time.monotonic() + timeout
        for proc, log in zip(self.workers, logs):
            while b" ready." not in log.read_bytes():
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker not ready: {log.read_text(errors='replace')[-3000:]}")
                time.sleep(0.2)
        return time.perf_counter() - t0

    def kill_workers(self) -> None:
        for proc in self.workers:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the worker and its pool process
            except ProcessLookupError:
                pass
            proc.wait(timeout=30)
        self.workers = []

    def close(self) -> None:
        from store.db import drop_database

        self.kill_workers()
        for suffix in ("", "_mlflow", "_dagster"):
            try:
                drop_database(self.base.set(database=f"{self.base.database}{suffix}"))
            except Exception as exc:  # noqa: BLE001 (report, go on cleaning)
                print(f"note: could not drop {self.base.database}{suffix}: {exc}", file=sys.stderr)
        shutil.rmtree(self.tmp, ignore_errors=True)


def dagster_figures(env: dict[str, str], backfill_id: str) -> dict:
    """Runs, steps and step times of one backfill, from its Dagster instance."""
    import dagster as dg

    from resources.tags import BACKFILL

    saved = dict(os.environ)
    os.environ.update({k: v for k, v in env.items() if k.startswith("TX_")})
    try:
        from pipelines.instance import instance
        from tx.settings import load_settings

        dagster = instance(load_settings())
        runs = dagster.get_runs(dg.RunsFilter(tags={BACKFILL: backfill_id}))
        intervals, per_step = [], {}
        for run in runs:
            starts = {}
            for entry in dagster.all_logs(run.run_id, of_type={dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS}):
                key = entry.dagster_event.step_key
                if entry.dagster_event.event_type == dg.DagsterEventType.STEP_START:
                    starts[key] = entry.timestamp  # the last start of a step counts (a retried one)
                else:
                    intervals.append((starts[key], entry.timestamp))
                    per_step[key] = per_step.get(key, 0.0) + entry.timestamp - starts[key]
        records = [dagster.get_run_record_by_id(r.run_id) for r in runs]
        statuses = sorted({r.status.value for r in runs})
        dagster.dispose()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    busy, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b > end:
            busy += b - max(a, end)
            end = b
    run_span = sum(r.end_time - r.start_time for r in records if r.end_time and r.start_time)
    return {"runs": len(runs), "statuses": statuses, "steps": len(intervals), "step_sum": sum(b - a for a, b in intervals),
            "busy": busy, "run_span": run_span, "per_step": per_step}


def measure(mode: str, n: int, args: argparse.Namespace) -> dict:
    workers = {"celery1": 1, "celery2": 2}.get(mode, 0)
    extra = {"TX_EXECUTOR": "celery", "TX_CELERY_QUEUE": f"tx-bench-{uuid.uuid4().hex[:8]}"} if workers else {}
    extra |= {"TX_RUN_TIMEOUT_S": str(args.run_timeout)} | dict(kv.split("=", 1) for kv in args.env)
    case = Case(n, args.bars, extra)
    try:
        row = {"mode": mode, "n": n}
        if mode == "plain":
            t0 = time.perf_counter()
            done = subprocess.run([sys.executable, __file__, "--plain-child"], cwd=case.tmp / "launcher", env=case.env,
                                  capture_output=True, text=True)
            row["wall"] = time.perf_counter() - t0
            if done.returncode != 0:
                raise RuntimeError(f"plain loop failed:\n{done.stderr[-3000:]}")
            phases = json.loads(done.stdout.strip().splitlines()[-1])
            row |= {"runs": 0, "steps": 0, "compute": phases["loop"], "per_step": phases}
        else:
            if workers:
                row["worker_start"] = case.start_workers(workers)
            runs = args.celery_runs if workers else 1
            t0 = time.perf_counter()
            done = case.tx("backfill", "--wait", "--runs", str(runs))
            row["wall"] = time.perf_counter() - t0
            if done.returncode != 0:
                raise RuntimeError(f"tx backfill failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
            backfill_id = next(line.split()[1].rstrip(":") for line in done.stdout.splitlines() if line.startswith("backfill "))
            figures = dagster_figures(case.env, backfill_id)
            row |= {"runs": figures["runs"], "steps": figures["steps"], "compute": figures["busy"], "step_sum": figures["step_sum"],
                    "run_span": figures["run_span"], "per_step": figures["per_step"], "statuses": figures["statuses"]}
        if args.train and n == max(args.sizes) and mode == args.modes[0]:
            row["train"] = {}
            for k in args.train_sizes:
                t0 = time.perf_counter()
                try:
                    done = case.tx("train", *universe(k), check=True, timeout=args.train_timeout, TX_TRAIN_TUNE_TRIALS="0",
                                   TX_TRAIN_DEEP_TRIALS="0", TX_TRAIN_DEEP_EPOCHS="1")
                except subprocess.TimeoutExpired:
                    row["train"][k] = (time.perf_counter() - t0, f"stopped after --train-timeout {args.train_timeout:g} s")
                    break  # a larger pool takes longer still
                row["train"][k] = (time.perf_counter() - t0, next((ln for ln in done.stdout.splitlines() if ln.startswith("seconds:")), ""))
        return row
    finally:
        case.close()


def main() -> None:
    if "--plain-child" in sys.argv:
        print(json.dumps(plain_loop()))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10,50,200", help="series counts (default 10,50,200)")
    p.add_argument("--modes", default=",".join(MODES), help=f"among {','.join(MODES)} (default: all)")
    p.add_argument("--bars", type=int, default=2500, help="bars per series (TX_SYNTHETIC_BARS; default 2500)")
    p.add_argument("--celery-runs", type=int, default=2, help="`tx backfill --runs` of celery1 and celery2 (default 2)")
    p.add_argument("--train", action="store_true", help="also time `tx train` (the tests' small budget) after the largest size's first mode")
    p.add_argument("--train-sizes", default="10,50", help="series `tx train` pools (default 10,50)")
    p.add_argument("--train-timeout", type=float, default=900, help="seconds before a training counts as too long (default 900)")
    p.add_argument("--run-timeout", type=float, default=900, help="TX_RUN_TIMEOUT_S of the Dagster modes (default 900)")
    p.add_argument("--env", nargs="*", default=[], metavar="KEY=VALUE", help="settings to add to every Dagster mode")
    args = p.parse_args()
    args.sizes = [int(x) for x in args.sizes.split(",")]
    args.train_sizes = [int(x) for x in args.train_sizes.split(",")]
    args.modes = [m.strip() for m in args.modes.split(",")]
    if unknown := set(args.modes) - set(MODES):
        p.error(f"--modes: unknown {', '.join(sorted(unknown))}")
    load0 = os.getloadavg()
    rows = []
    for n in args.sizes:
        for mode in args.modes:
            try:
                row = measure(mode, n, args)
            except RuntimeError as exc:  # a failed case is reported and the others still run
                print(f"# {mode} n={n}: FAILED: {str(exc)[-1500:]}", file=sys.stderr, flush=True)
                rows.append({"mode": mode, "n": n, "failed": str(exc).splitlines()[0]})
                continue
            rows.append(row)
            print(f"# {mode} n={n}: wall {row['wall']:.1f} s, runs {row['runs']}, steps {row['steps']}, compute {row['compute']:.1f} s, "
                  f"per step {json.dumps({k: round(v, 1) for k, v in row['per_step'].items()})}"
                  + (f", workers ready in {row['worker_start']:.1f} s" if "worker_start" in row else "")
                  + (f", statuses {row['statuses']}" if "statuses" in row else ""), file=sys.stderr, flush=True)
    load = os.getloadavg()
    print(f"{len(rows)} cases, {args.bars} bars per series, --celery-runs {args.celery_runs}; load average before "
          f"{load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, after {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print("| mode | series | wall s | s/series | runs | steps | step compute s | overhead s | wall / plain |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    plain = {r["n"]: r["wall"] for r in rows if r["mode"] == "plain" and "failed" not in r}
    for r in rows:
        if "failed" in r:
            print(f"| {r['mode']} | {r['n']} | failed: {r['failed'][:100]} | | | | | | |")
            continue
        ratio = f"{r['wall'] / plain[r['n']]:.2f}x" if r["n"] in plain else ""
        compute = f"{r['compute']:.1f}" + (f" (sum {r['step_sum']:.1f})" if "step_sum" in r else "")
        print(f"| {r['mode']} | {r['n']} | {r['wall']:.1f} | {r['wall'] / r['n']:.2f} | {r['runs']} | {r['steps']} | {compute} | "
              f"{r['wall'] - r['compute']:.1f} | {ratio} |")
    for r in rows:
        for k, (seconds, line) in r.get("train", {}).items():
            print(f"\n`tx train` on {k} series x {args.bars} bars (tune 0, deep 0, 1 epoch): {seconds:.1f} s wall; {line}")


if __name__ == "__main__":
    main()
