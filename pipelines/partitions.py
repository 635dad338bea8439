"""Partitions: candles and everything derived from them are per (symbol, timeframe)."""

import dagster as dg

from market.universe import TIMEFRAMES, Series

symbols = dg.DynamicPartitionsDefinition(name="symbols")
timeframes = dg.StaticPartitionsDefinition(list(TIMEFRAMES))
series_partitions = dg.MultiPartitionsDefinition({"symbol": symbols, "timeframe": timeframes})


def partition_key(series: Series) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"symbol": series.symbol, "timeframe": series.timeframe})


def series_of(context: dg.AssetExecutionContext) -> Series:
    keys = context.partition_key.keys_by_dimension
    return Series(keys["symbol"], keys["timeframe"])


def sync_symbols(instance: dg.DagsterInstance, universe: list[Series]) -> list[str]:
    """Register the universe's symbols as dynamic partitions; returns those newly added."""
    existing = set(instance.get_dynamic_partitions(symbols.name))
    new = sorted({s.symbol for s in universe} - existing)
    if new:
        instance.add_dynamic_partitions(symbols.name, new)
    return new
