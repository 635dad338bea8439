"""Partitions: candles and everything derived from them are per series, a (symbol, timeframe)
of the universe.

The partition space is the universe's series, no more: one dynamic partitions definition,
`series`, whose keys are "SYMBOL|TIMEFRAME" strings (the form Dagster's MultiPartitionKey
had, so stored materializations keep their keys). A symbol x timeframe pair outside the
universe is no partition, so the catalog counts only real series and an input loaded whole
(`ALL_PARTITIONS`) does not try, and warn about, series that were never meant to exist.

The one place partition keys are made and read: as a Dagster key (`partition_key`, the same
string as `str_key`), from an asset's context (`series_of`), and back from the keys of an
input loaded whole (`series_from_key`). `sync_series` registers the universe's series.
"""

import warnings

import dagster as dg

from market.universe import Series

series_partitions = dg.DynamicPartitionsDefinition(name="series")
ALL_PARTITIONS = dg.AssetIn(metadata={"allow_missing_partitions": True})  # an input of every stored series, keyed by str_key


def str_key(series: Series) -> str:
    return f"{series.symbol}|{series.timeframe}"


def partition_key(series: Series) -> str:
    return str_key(series)


def series_from_key(key: str) -> Series:
    symbol, timeframe = key.split("|")
    return Series(symbol, timeframe)


def series_of(context: dg.AssetExecutionContext) -> Series:
    return series_from_key(context.partition_key)


def known_keys(instance: dg.DagsterInstance) -> set[str]:
    """The series registered as partitions."""
    return set(instance.get_dynamic_partitions(series_partitions.name))


def sync_series(instance: dg.DagsterInstance, universe: list[Series]) -> list[str]:
    """Register the universe's series as dynamic partitions; returns the keys newly added.

    A series that leaves the universe keeps its partition: its candles and frames stay
    stored, the universe-wide assets (training, monitoring) go on reading every stored
    series, and Dagster keeps its history. Nothing here deletes a partition."""
    new = sorted({partition_key(s) for s in universe} - known_keys(instance))
    if new:
        instance.add_dynamic_partitions(series_partitions.name, new)
    return new


# A backfill of the per-series assets over many series is one run (a partition key range),
# not one run per series: the assets handle every series of the range in one step
# (`series_in`; assets/ranges.py merges their outputs, metadata and checks).
SERIES_BACKFILL = dg.BackfillPolicy.single_run()
# `backfill_policy` is a beta parameter of @asset in Dagster 1.13: said once here, not at every import.
warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=dg.BetaWarning)


def series_in(context: dg.AssetExecutionContext) -> list[Series]:
    """The series a step materializes: one, or every series of a partition key range."""
    return [series_from_key(key) for key in context.partition_keys]


def key_ranges(keys: list[str], wanted: set[str]) -> list[tuple[str, str]]:
    """The `wanted` keys as contiguous (first, last) ranges of `keys` (the dynamic partitions'
    order): a run covers one range, so a backfill of the whole universe is one run."""
    ranges: list[tuple[str, str]] = []
    start = prev = None
    for key in keys:
        if key in wanted:
            start, prev = start or key, key
        elif start is not None:
            ranges.append((start, prev))
            start = prev = None
    if start is not None:
        ranges.append((start, prev))
    return ranges


def split_ranges(keys: list[str], wanted: set[str], runs: int = 1) -> list[tuple[str, str]]:
    """The `wanted` keys (in `keys`' order) cut into `runs` parts of near-equal size (10 keys in
    3 parts: 4, 3, 3; more parts than keys: one key each), each part then the contiguous ranges
    it covers (`key_ranges`): at least `runs` ranges, more when the wanted keys are not
    contiguous, never a range over a key that is not wanted. `runs=1` is `key_ranges`."""
    if runs < 1:
        raise ValueError("runs: expected 1 or more")
    ordered = [k for k in keys if k in wanted]
    parts = min(runs, len(ordered))
    if parts <= 1:
        return key_ranges(keys, wanted)
    size, extra = divmod(len(ordered), parts)
    out: list[tuple[str, str]] = []
    start = 0
    for i in range(parts):
        chunk = ordered[start : start + size + (1 if i < extra else 0)]
        start += len(chunk)
        out += key_ranges(keys, set(chunk))
    return out
