"""Candles: one (symbol, timeframe) series from the provider chain into the app database.

Incremental: fetches from the last stored bar minus `overlap_bars` (to catch revisions).
Checks: a batch failing a blocking check (corrupt bars) is not written and fails the
step, so downstream assets are skipped; gaps, staleness and zero volume are warnings
evaluated on the stored series.
"""

from datetime import UTC, datetime

import dagster as dg

from assets.plots import price_chart
from market.chain import AllProvidersFailed, Fetched
from market.quality import BLOCKING, DESCRIPTIONS, WARNING, CheckOutcome, blocking_checks, check_fresh, check_gaps, check_volume
from resources.feeds import MarketData
from resources.partitions import series_of, series_partitions
from resources.stores import AppDatabase
from store.candles import load_candles, resume_from, upsert_candles
from store.provider_status import record_provider_health

CHECKS = [
    dg.AssetCheckSpec(name, asset="candles", blocking=name in BLOCKING, description=DESCRIPTIONS[name])
    for name in (*BLOCKING, *WARNING)
]


def _result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=outcome.name,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR if outcome.blocking else dg.AssetCheckSeverity.WARN,
        description=outcome.summary,
        metadata=outcome.metadata,
    )


def _history_rescaled(batch, stored, tolerance: float = 1e-6) -> bool:
    """True when *every* re-fetched bar that was already stored (but the newest) moved: the
    provider re-adjusted its history (a split, a dividend). One moved bar is a revision,
    which the overlap is there to catch."""
    common = batch.index.intersection(stored.index)[:-1]
    if len(common) == 0:
        return False
    drift = (batch.loc[common, "close"] / stored.loc[common, "close"] - 1).abs().min()
    return bool(drift > tolerance)


def _attempts_md(fetched_attempts) -> str:
    rows = "\n".join(f"| {a.provider} | {a.outcome} | {a.detail} | {a.latency_s:.3f} |" for a in fetched_attempts)
    return "| provider | outcome | detail | seconds |\n|---|---|---|---|\n" + rows


@dg.asset(
    partitions_def=series_partitions,
    check_specs=CHECKS,
    group_name="market",
    kinds={"pandas", "sql"},
    description="OHLCV bars of one series, fetched through the provider chain and upserted into the app database.",
)
def candles(context: dg.AssetExecutionContext, market: MarketData, app_db: AppDatabase):
    series = series_of(context)
    engine = app_db.engine
    start = resume_from(engine, series.symbol, series.timeframe, market.overlap_bars)
    try:
        fetched: Fetched = market.chain.fetch(series, start=start)
    except AllProvidersFailed as exc:
        raise dg.Failure(description=str(exc), metadata={"attempts": dg.MetadataValue.md(_attempts_md(exc.attempts))}) from None
    finally:
        record_provider_health(engine, market.chain.health())  # what /api/provider-health reports
    batch = fetched.candles
    rescaled = start is not None and _history_rescaled(batch, load_candles(engine, series.symbol, series.timeframe, start=start))
    if rescaled:  # e.g. a split or dividend re-adjusted the provider's whole history: take all of it again
        context.log.warning(f"{series}: stored bars before the newest differ from {fetched.provider}'s; re-fetching the full history")
        fetched = market.chain.fetch(series)
        batch = fetched.candles
    context.log.info(f"{series}: {len(batch)} bars from {fetched.provider}" + (f" after {len(fetched.fallbacks)} fallback(s)" if fetched.fallbacks else ""))

    blocking = blocking_checks(batch)
    if not all(o.passed for o in blocking):
        for outcome in blocking:
            yield _result(outcome)
        problems = "; ".join(o.summary for o in blocking if not o.passed)
        raise dg.Failure(
            description=f"{series}: corrupt batch from {fetched.provider}, nothing written: {problems}",
            metadata={"provider": fetched.provider, "rows_fetched": len(batch)},
        )

    written = upsert_candles(engine, series.symbol, series.timeframe, batch, fetched.provider)
    stored = load_candles(engine, series.symbol, series.timeframe)
    warnings = [
        check_gaps(stored, series.timeframe, market.max_gap_bars),
        check_fresh(stored, series.timeframe, fetched.live, datetime.now(UTC), market.stale_bars),
        check_volume(stored),
    ]
    metadata = {
        "rows_fetched": dg.MetadataValue.int(len(batch)),
        "rows_written": dg.MetadataValue.int(written),
        "stored_bars": dg.MetadataValue.int(len(stored)),
        "provider": fetched.provider,
        "fallbacks": dg.MetadataValue.int(len(fetched.fallbacks)),
        "attempts": dg.MetadataValue.md(_attempts_md(fetched.attempts)),
        "incremental_from": dg.MetadataValue.text(str(start) if start is not None and not rescaled else "full history"),
        "history_rescaled": dg.MetadataValue.bool(bool(rescaled)),
    }
    if not stored.empty:
        metadata |= {
            "first_bar": dg.MetadataValue.timestamp(stored.index[0].to_pydatetime()),
            "last_bar": dg.MetadataValue.timestamp(stored.index[-1].to_pydatetime()),
            "last_close": dg.MetadataValue.float(float(stored["close"].iloc[-1])),
            "chart": dg.MetadataValue.md(price_chart(stored, f"{series.symbol} {series.timeframe}")),
        }
    yield dg.MaterializeResult(metadata=metadata, check_results=[_result(o) for o in (*blocking, *warnings)])

