"""The candles asset: one (symbol, timeframe) series from the providers into the app database."""

import dagster as dg

from pipelines.partitions import series_of, series_partitions
from pipelines.resources import AppDatabase, MarketData
from store.candles import upsert_candles


@dg.asset(
    partitions_def=series_partitions,
    group_name="market",
    kinds={"pandas", "sql"},
    description="OHLCV bars of one series, upserted into the app database's candles table.",
)
def candles(context: dg.AssetExecutionContext, market: MarketData, app_db: AppDatabase) -> dg.MaterializeResult:
    series = series_of(context)
    sources = market.sources()
    if series not in sources.available():
        raise dg.Failure(f"no provider has {series}; available: {', '.join(map(str, sources.available()))}")
    fetched = sources.fetch(series)
    frame = fetched.candles
    written = upsert_candles(app_db.engine, series.symbol, series.timeframe, frame, fetched.provider)
    context.log.info(f"{series}: {written} bars from {fetched.provider}")
    return dg.MaterializeResult(
        metadata={
            "rows": dg.MetadataValue.int(written),
            "provider": fetched.provider,
            "first_bar": dg.MetadataValue.timestamp(frame.index[0].to_pydatetime()),
            "last_bar": dg.MetadataValue.timestamp(frame.index[-1].to_pydatetime()),
            "last_close": dg.MetadataValue.float(float(frame["close"].iloc[-1])),
            "tail": dg.MetadataValue.md(frame.tail(5).to_markdown()),
        }
    )
