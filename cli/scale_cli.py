"""`tx worker` and `tx backfill`: the platform beyond one process.

`tx worker` is dagster-celery's own worker (`celery -A dagster_celery.app worker`) configured
from the settings: the broker, result backend and queue of TX_EXECUTOR=celery's runs, the
Dagster instance of DAGSTER_HOME / TX_DAGSTER_POSTGRES_URL, the frames at TX_FRAMES_URL.
`tx backfill` materializes the per-series assets of many series in one Dagster run per range
of series (pipelines/backfill.py), on the configured executor.
"""

import argparse
import os
import sys

from tx.errors import TxError
from tx.settings import Settings


def add_parsers(sub: argparse._SubParsersAction) -> None:
    w = sub.add_parser("worker", help="a dagster-celery worker: runs the steps of TX_EXECUTOR=celery runs until stopped")
    w.add_argument("--concurrency", type=int, default=1, help="steps at once (processes; default 1)")
    w.add_argument("--queue", default=None, help="the Celery queue to take steps from (default: TX_CELERY_QUEUE)")
    w.add_argument("--name", default=None, help="worker name, shown as NAME@host in each step's event log (default: tx-<pid>)")
    b = sub.add_parser("backfill", help="candles, features, patterns, labels of many series: one Dagster run per range of series")
    b.add_argument("series", nargs="*", metavar="SYMBOL:TIMEFRAME", help="default: the whole universe (TX_UNIVERSE)")
    b.add_argument("--assets", default="candles,features,patterns,labels",
                   help="comma-separated, among candles,features,patterns,labels (default: all four)")
    b.add_argument("--wait", action="store_true", help="follow the runs to their end: exit 0 only when every run succeeded")
    b.add_argument("--runs", type=int, default=1, metavar="N",
                   help="cut the series into N near-equal ranges, a run each, so that N runs' steps can go to N workers "
                        "(TX_MAX_CONCURRENT_RUNS at once with --wait; default 1: one run per contiguous range)")


def worker(settings: Settings, args: argparse.Namespace) -> int:
    if args.concurrency < 1:
        raise TxError("--concurrency: expected 1 or more")
    from pipelines.instance import prepare
    from pipelines.workers import worker_argv

    home = prepare(settings)  # the instance the steps report to: DAGSTER_HOME/dagster.yaml, and its environment
    argv, env = worker_argv(settings, home / "celery", args.concurrency, args.queue, args.name)
    if settings.executor != "celery":
        print(f"tx worker: note: TX_EXECUTOR is {settings.executor}; runs send steps to workers only with TX_EXECUTOR=celery",
              file=sys.stderr)
    print(f"tx worker: queue {args.queue or settings.celery_queue} on {settings.celery_broker.split('@')[-1]}, "
          f"{args.concurrency} process(es)", file=sys.stderr, flush=True)
    os.execve(argv[0], argv, {**os.environ, **env})  # the worker replaces this process: signals reach it directly


def backfill(settings: Settings, args: argparse.Namespace) -> int:
    from cli.market_cli import _series_args
    from cli.pipeline import check_inputs
    from cli.stores import setup_all
    from pipelines import backfill as bf
    from pipelines.instance import instance

    chain, _ = check_inputs(settings)
    wanted = _series_args(settings, chain, args.series)
    setup_all(settings)
    dagster = instance(settings)
    p = bf.plan(dagster, wanted, [a.strip() for a in args.assets.split(",") if a.strip()], runs=args.runs)
    staged = f" in {len(p.stages)} stages ({'; then '.join(', '.join(s) for s in p.stages)})" if len(p.stages) > 1 else ""
    print(f"backfill {p.backfill_id}: {len(wanted)} series, {len(p.runs)} run(s) over {len(p.ranges)} range(s){staged}, "
          f"assets {', '.join(p.assets)}, executor {settings.executor}", flush=True)
    say = lambda line: print(line, flush=True)  # noqa: E731
    if not args.wait:
        bf.submit(settings, dagster, p, say)
        return 0
    ended = bf.follow(settings, dagster, p, say)
    failed = [e for e in ended if not e.ok]
    if failed:
        print(f"tx: error: {len(failed)} of {len(ended)} run(s) failed: " + ", ".join(f"{e.run_id} ({e.status})" for e in failed),
              file=sys.stderr)
        return 1
    print(f"backfill {p.backfill_id}: {len(ended)} run(s) succeeded")
    return 0
