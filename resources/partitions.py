"""Partitions: candles and everything derived from them are per (symbol, timeframe).

The one place partition keys are made and read: as a Dagster key (`partition_key`), from an
asset's context (`series_of`), and as the "SYMBOL|TIMEFRAME" strings that key the
partitions of an input loaded whole (`series_from_key`, `str_key`, `ALL_PARTITIONS`).
"""

import dagster as dg

from market.universe import TIMEFRAMES, Series

symbols = dg.DynamicPartitionsDefinition(name="symbols")
timeframes = dg.StaticPartitionsDefinition(list(TIMEFRAMES))
series_partitions = dg.MultiPartitionsDefinition({"symbol": symbols, "timeframe": timeframes})
ALL_PARTITIONS = dg.AssetIn(metadata={"allow_missing_partitions": True})  # an input of every stored series, keyed by str_key


def partition_key(series: Series) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"symbol": series.symbol, "timeframe": series.timeframe})


def series_of(context: dg.AssetExecutionContext) -> Series:
    keys = context.partition_key.keys_by_dimension
    return Series(keys["symbol"], keys["timeframe"])


def series_from_key(key: str) -> Series:
    symbol, timeframe = key.split("|")  # MultiPartitionKey: dimensions in alphabetical order
    return Series(symbol, timeframe)


def str_key(series: Series) -> str:
    return f"{series.symbol}|{series.timeframe}"


def sync_symbols(instance: dg.DagsterInstance, universe: list[Series]) -> list[str]:
    """Register the universe's symbols as dynamic partitions; returns those newly added."""
    existing = set(instance.get_dynamic_partitions(symbols.name))
    new = sorted({s.symbol for s in universe} - existing)
    if new:
        instance.add_dynamic_partitions(symbols.name, new)
    return new
