"""`tx universe` and `tx candles ...`: look at the universe, fetch and inspect candles."""

import argparse
import sys

import pandas as pd
from tqdm import tqdm

from market.chain import AllProvidersFailed, ProviderChain
from market.quality import run_checks
from market.universe import Series, UniverseError, parse_universe
from store.candles import coverage, load_candles
from store.db import make_engine
from tx.errors import ConfigError, TxError
from tx.settings import Settings
from cli.stores import setup_app_database


def _series_args(settings: Settings, chain: ProviderChain, names: list[str]) -> list[Series]:
    try:
        return chain.universe(",".join(names)) if names else chain.universe(settings.universe)
    except UniverseError as exc:
        raise ConfigError("TX_UNIVERSE" if not names else "SERIES", str(exc)) from None


def universe(settings: Settings) -> int:
    """The configured universe, who serves each series, and what is stored of it."""
    from cli.pipeline import check_inputs

    chain, series = check_inputs(settings)
    holders = {s: [p.name for p in chain.providers if s in p.listing()] or ["any-symbol providers"] for s in series}
    setup_app_database(settings)
    engine = make_engine(settings.app_database_url)
    try:
        stored = {(r.symbol, r.timeframe): r for r in coverage(engine).itertuples()}
    finally:
        engine.dispose()
    print(f"providers (in order): {settings.providers}")
    print(f"{'series':<14} {'served by':<22} {'stored bars':>11}  span")
    for s in series:
        row = stored.get((s.symbol, s.timeframe))
        span = f"{row.first:%Y-%m-%d %H:%M} .. {row.last:%Y-%m-%d %H:%M}" if row else "-"
        print(f"{str(s):<14} {', '.join(holders[s]):<22} {row.bars if row else 0:>11}  {span}")
    return 0


def fetch(settings: Settings, args: argparse.Namespace) -> int:
    """Fetch, check and store series through Dagster (recorded as runs of `candles_job`)."""
    from cli.pipeline import check_inputs

    chain, _ = check_inputs(settings)
    wanted = _series_args(settings, chain, args.series)
    if args.dry_run:
        return _dry_run(settings, chain, wanted)

    from pipelines.instance import instance
    from pipelines.run import PipelineError, materialize_series
    from cli.stores import setup_all

    setup_all(settings)
    failed = 0
    runs = materialize_series(settings, instance(settings), wanted)
    with tqdm(runs, total=len(wanted), desc="fetching", unit="series", file=sys.stderr, disable=True if args.quiet else None) as bar:
        for series, done in zip(wanted, bar, strict=True):
            if isinstance(done, PipelineError):
                failed += 1
                tqdm.write(f"{series}: FAILED {done}", file=sys.stderr)
                continue
            meta = done.assets.get("candles", {})
            warnings = [name.split(":", 1)[1] for name, (ok, _) in done.checks.items() if not ok]
            tqdm.write(
                f"{series}: {meta.get('rows_written', 0)} bars written from {meta.get('provider')}, {meta.get('stored_bars')} stored"
                + (f"; warnings: {', '.join(warnings)}" if warnings else "")
            )
    return 1 if failed else 0


def _dry_run(settings: Settings, chain: ProviderChain, wanted: list[Series]) -> int:
    """Fetch through the chain and check, writing nothing: shows every provider attempt."""
    status = 0
    for series in wanted:
        try:
            fetched = chain.fetch(series)
        except AllProvidersFailed as exc:
            print(f"{series}: {exc}")
            status = 1
            continue
        print(f"{series}: {len(fetched.candles)} bars from {fetched.provider}")
        for attempt in fetched.attempts:
            print(f"  {attempt.provider:<10} {attempt.outcome:<13} {attempt.latency_s:7.3f}s  {attempt.detail}")
        for outcome in run_checks(fetched.candles, series.timeframe, live=fetched.live, now=pd.Timestamp.now(tz="UTC").to_pydatetime(), max_gap_bars=settings.max_gap_bars, stale_bars=settings.stale_bars):
            print(f"  check {outcome.name:<28} {'ok  ' if outcome.passed else 'FAIL' if outcome.blocking else 'warn'} {outcome.summary}")
    return status


def _one_series(text: str) -> Series:
    try:
        [series] = parse_universe(text)
    except (UniverseError, ValueError) as exc:
        raise TxError(f"expected one SYMBOL:TIMEFRAME, got {text!r} ({exc})") from None
    return series


def _stored(settings: Settings, series: Series, start=None, end=None) -> pd.DataFrame:
    setup_app_database(settings)
    engine = make_engine(settings.app_database_url)
    try:
        return load_candles(engine, series.symbol, series.timeframe, start=start, end=end)
    finally:
        engine.dispose()


def show(settings: Settings, args: argparse.Namespace) -> int:
    """Stored bars of one series."""
    series = _one_series(args.series)
    frame = _stored(settings, series, args.start, args.end)
    if frame.empty:
        raise TxError(f"no stored bars for {series}; run `tx candles fetch {series}` first")
    with pd.option_context("display.width", 120, "display.max_columns", 10):
        print(frame.tail(args.tail) if args.tail else frame)
    print(f"{len(frame)} bars, {frame.index[0]} .. {frame.index[-1]}")
    return 0


def add_parsers(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("universe", help="list the universe: series, who serves them, what is stored")
    candles = sub.add_parser("candles", help="fetch or inspect candles").add_subparsers(dest="candles_command", required=True, metavar="ACTION")
    f = candles.add_parser("fetch", help="fetch, check and store series (default: the whole universe)")
    f.add_argument("series", nargs="*", metavar="SYMBOL:TIMEFRAME")
    f.add_argument("--dry-run", action="store_true", help="fetch and check only; show every provider attempt; write nothing")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    s = candles.add_parser("show", help="print stored bars of one series")
    s.add_argument("series", metavar="SYMBOL:TIMEFRAME")
    s.add_argument("--tail", type=int, default=10, help="last N bars (0: all)")
    s.add_argument("--start", type=lambda v: pd.Timestamp(v, tz="UTC"), default=None)
    s.add_argument("--end", type=lambda v: pd.Timestamp(v, tz="UTC"), default=None)
    feats = sub.add_parser("features", help="compute and show the features (and labels) of one series")
    feats.add_argument("series", metavar="SYMBOL:TIMEFRAME")
    feats.add_argument("--tail", type=int, default=5)
    feats.add_argument("--labels", action="store_true", help="join the triple-barrier labels")
    feats.add_argument("--horizon", type=int, default=None, help="label horizon in bars")
    feats.add_argument("--columns", default=None, help="comma-separated columns to show (default: all but the per-pattern ones)")
    feats.add_argument("--out", default=None, help="also write the whole frame to this Parquet file")


def show_features(settings: Settings, args: argparse.Namespace) -> int:
    """Features and labels of one series, computed from its candles (stored, else fetched)."""
    from features import BaseRates, LabelSpec, build_features, triple_barrier

    series = _one_series(args.series)
    bars = _stored(settings, series)
    source = "stored candles"
    if bars.empty:
        try:
            fetched = ProviderChain.from_config(settings.market_config()).fetch(series)
        except AllProvidersFailed as exc:
            raise TxError(str(exc)) from None
        bars, source = fetched.candles, f"candles from {fetched.provider} (not stored)"
    rates_file = settings.frames_dir / "pattern_base_rates.parquet"
    rates = None
    if rates_file.exists():
        with rates_file.open("rb") as fh:
            rates = BaseRates(pd.read_parquet(fh))
    frame = build_features(bars, series.timeframe, rates)
    if args.labels:
        try:
            frame = frame.join(triple_barrier(bars, LabelSpec(horizon=settings.label_horizon if args.horizon is None else args.horizon)))
        except ValueError as exc:
            raise TxError(f"--horizon: {exc}") from None
    columns = args.columns.split(",") if args.columns else [c for c in frame.columns if not c.startswith("cdl_") or c in ("cdl_count", "cdl_bull_conf", "cdl_bear_conf", "cdl_net_conf")]
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise TxError(f"unknown column(s) {', '.join(unknown)}; available: {', '.join(frame.columns)}")
    with pd.option_context("display.width", 160, "display.max_columns", 12, "display.precision", 4):
        print(frame[columns].tail(args.tail))
    prior = "the materialized pattern_base_rates" if rates else "0.5 (pattern_base_rates not materialized yet)"
    print(f"{series}: {len(frame)} rows x {frame.shape[1]} columns from {source}; NaN share {frame.isna().to_numpy().mean():.4f}; "
          f"pattern confidences shrunk toward {prior}")
    if args.out:
        try:
            frame.to_parquet(args.out)
        except OSError as exc:
            raise TxError(f"--out: cannot write {args.out}: {exc.strerror or exc}") from None
        print(f"written to {args.out}")
    return 0
