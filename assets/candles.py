"""Candles: one (symbol, timeframe) series from the provider chain into the app database.

Thin over `market/ingest.py` (incremental fetch, re-adjusted histories, checks, upsert):
the asset turns its report into metadata and check results. A batch failing a blocking
check (corrupt bars) is not written and fails the step, so downstream assets are skipped;
gaps, staleness and zero volume are warnings evaluated on the stored series. New bars are
where resting paper limit orders fill: the step checks them once the bars are stored.
"""

import dagster as dg

from assets.plots import price_chart
from market.chain import AllProvidersFailed
from market.ingest import CorruptBatch, ingest
from market.quality import BLOCKING, DESCRIPTIONS, WARNING, CheckOutcome
from resources.feeds import MarketData
from resources.paper import PaperAccount
from assets import ranges
from assets.ranges import SeriesResult
from resources.partitions import SERIES_BACKFILL, series_in, series_partitions
from resources.stores import AppDatabase

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


def _attempts_md(fetched_attempts) -> str:
    rows = "\n".join(f"| {a.provider} | {a.outcome} | {a.detail} | {a.latency_s:.3f} |" for a in fetched_attempts)
    return "| provider | outcome | detail | seconds |\n|---|---|---|---|\n" + rows


@dg.asset(
    partitions_def=series_partitions,
    backfill_policy=SERIES_BACKFILL,
    check_specs=CHECKS,
    group_name="market",
    kinds={"pandas", "sql"},
    description="OHLCV bars of one series, fetched through the provider chain and upserted into the app database.",
)
def candles(context: dg.AssetExecutionContext, market: dg.ResourceParam[MarketData], app_db: AppDatabase, paper: PaperAccount):
    """One series, or each series of a range (a single-run backfill) in turn. A series whose
    providers all fail, or whose batch fails a blocking check, fails the step; over a range the
    other series are ingested first, and the failure names every series that failed."""
    results, failures, wanted = [], [], series_in(context)
    for series in wanted:
        try:
            results.append(_ingest(context, series, market, app_db, paper, chart=len(wanted) == 1))
        except AllProvidersFailed as exc:
            failure = dg.Failure(description=str(exc), metadata={"attempts": dg.MetadataValue.md(_attempts_md(exc.attempts))})
            failures.append((series, failure))
        except CorruptBatch as exc:
            results.append(SeriesResult(series, checks=[_result(o) for o in exc.checks]))
            failure = dg.Failure(description=str(exc), metadata={"provider": exc.fetched.provider, "rows_fetched": len(exc.fetched.candles)})
            failures.append((series, failure))
    if failures:
        if results:
            yield from ranges.checks(results)
        if len(wanted) == 1:
            raise failures[0][1]
        raise dg.Failure(description="; ".join(f"{s}: {f.description}" for s, f in failures),
                         metadata={"failed_series": dg.MetadataValue.json([str(s) for s, _ in failures])})
    yield dg.MaterializeResult(metadata=ranges.metadata(results), check_results=ranges.checks(results))


def _ingest(context: dg.AssetExecutionContext, series, market: MarketData, app_db: AppDatabase, paper: PaperAccount,
            chart: bool = True) -> SeriesResult:
    """One series' ingest and metadata; the price chart (a PNG, about 0.35 s to draw) only when
    the step has one series: a range's metadata keeps no chart (`ranges.metadata`)."""
    report = ingest(app_db.engine, market.chain, series, overlap_bars=market.overlap_bars, max_gap_bars=market.max_gap_bars,
                    stale_bars=market.stale_bars, log=context.log)
    fetched, stored = report.fetched, report.stored
    filled = paper.broker(app_db.engine).sweep(series.symbol) if report.new_bars else []  # resting limit orders the new bars reach
    metadata = {
        "rows_fetched": dg.MetadataValue.int(report.fetched_bars),
        "rows_written": dg.MetadataValue.int(report.written),
        "new_bars": dg.MetadataValue.int(report.new_bars),
        "stored_bars": dg.MetadataValue.int(len(stored)),
        "provider": fetched.provider,
        "fallbacks": dg.MetadataValue.int(len(fetched.fallbacks)),
        "attempts": dg.MetadataValue.md(_attempts_md(fetched.attempts)),
        "incremental_from": dg.MetadataValue.text(str(report.resumed_from) if report.resumed_from is not None else "full history"),
        "history_rescaled": dg.MetadataValue.bool(report.rescaled),
        "limit_orders_filled": dg.MetadataValue.int(len(filled)),
    }
    if not stored.empty:
        metadata |= {
            "first_bar": dg.MetadataValue.timestamp(stored.index[0].to_pydatetime()),
            "last_bar": dg.MetadataValue.timestamp(stored.index[-1].to_pydatetime()),
            "last_close": dg.MetadataValue.float(float(stored["close"].iloc[-1])),
        }
        if chart:
            metadata["chart"] = dg.MetadataValue.md(price_chart(stored, f"{series.symbol} {series.timeframe}"))
    return SeriesResult(series, metadata=metadata, checks=[_result(o) for o in report.checks])
