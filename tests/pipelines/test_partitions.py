"""The partition space is the universe's series: after a small universe is materialized the
catalog reads "N of N", and an input of every stored series loads without skipping any."""

import dagster as dg
import pandas as pd

from assets.candles import candles
from assets.features import labels
from cli.stores import setup_all
from market.universe import Series
from pipelines.definitions import resources
from pipelines.instance import instance
from pipelines.run import materialize_series
from resources.partitions import ALL_PARTITIONS, partition_key, series_from_key, series_of, series_partitions, str_key, sync_series
from tx.settings import load_settings

UNIVERSE = [Series("SPX", "1d"), Series("GOOGL", "1d")]
KEYS = {"SPX|1d", "GOOGL|1d"}
SKIPPED = "Couldn't load partition"


@dg.asset(ins={"labels": ALL_PARTITIONS})
def every_label(labels: dict[str, pd.DataFrame]) -> dg.MaterializeResult:
    """Stands for training and monitoring: every stored series' frame, keyed by str_key."""
    return dg.MaterializeResult(metadata={"keys": sorted(labels)})


def skipped(dagster: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.user_message for e in dagster.all_logs(run_id) if SKIPPED in (e.user_message or "")]


def test_keys_are_the_series_strings_and_read_back():
    one = Series("BRK.B", "15m")
    assert partition_key(one) == str_key(one) == "BRK.B|15m" and series_from_key(partition_key(one)) == one
    assert isinstance(series_partitions, dg.DynamicPartitionsDefinition) and series_partitions.name == "series"
    context = dg.build_asset_context(partition_key="EURUSD|1h")
    assert series_of(context) == Series("EURUSD", "1h")


def test_sync_adds_only_new_series_and_keeps_those_that_left():
    dagster = dg.DagsterInstance.ephemeral()
    assert sync_series(dagster, UNIVERSE) == ["GOOGL|1d", "SPX|1d"]
    assert sync_series(dagster, UNIVERSE) == []
    assert sync_series(dagster, [Series("SPX", "1d"), Series("SPX", "1w")]) == ["SPX|1w"]  # GOOGL left: kept
    assert set(dagster.get_dynamic_partitions("series")) == KEYS | {"SPX|1w"}


def test_a_materialized_universe_is_n_of_n_and_loads_whole_without_skipping(monkeypatch):
    monkeypatch.setenv("TX_UNIVERSE", ",".join(map(str, UNIVERSE)))
    settings = load_settings()
    setup_all(settings)
    dagster = instance(settings)
    for run in materialize_series(settings, dagster, UNIVERSE, "candles_job"):
        assert not isinstance(run, Exception), run
    # The catalog: every partition of candles is a series of the universe, and each is materialized.
    assert set(dagster.get_dynamic_partitions("series")) == KEYS
    assert set(candles.partitions_def.get_partition_keys(dynamic_partitions_store=dagster)) == KEYS
    assert dagster.get_materialized_partitions(candles.key) == KEYS

    res = resources(settings)
    for one in UNIVERSE:
        assert dg.materialize([labels], partition_key=partition_key(one), instance=dagster, resources=res).success
    assert settings.frames_dir.joinpath("labels", "SPX", "1d.parquet").is_file()  # the layout of the multi-partitions
    assert dagster.get_materialized_partitions(labels.key) == KEYS

    whole = dg.materialize([labels, every_label], selection=[every_label], instance=dagster, resources=res)
    assert whole.success
    assert whole.asset_materializations_for_node("every_label")[0].metadata["keys"].value == sorted(KEYS)
    assert skipped(dagster, whole.run_id) == []

    # What the warning looks like, and that it is captured: a registered series never materialized.
    sync_series(dagster, [Series("IXIC", "1d")])
    partial = dg.materialize([labels, every_label], selection=[every_label], instance=dagster, resources=res)
    assert partial.success and [m.split(" and ")[0] for m in skipped(dagster, partial.run_id)] == [f"{SKIPPED} IXIC|1d"]


def test_a_one_series_universe_still_loads_whole_as_a_dict(monkeypatch):
    """Dagster hands a lone partition over bare; the frames IO manager keeps it keyed by series."""
    monkeypatch.setenv("TX_UNIVERSE", "GOOGL:1d")
    settings = load_settings()
    setup_all(settings)
    dagster = instance(settings)
    one = Series("GOOGL", "1d")
    for run in materialize_series(settings, dagster, [one], "candles_job"):
        assert not isinstance(run, Exception), run
    res = resources(settings)
    assert dg.materialize([labels], partition_key=partition_key(one), instance=dagster, resources=res).success
    whole = dg.materialize([labels, every_label], selection=[every_label], instance=dagster, resources=res)
    assert whole.success and whole.asset_materializations_for_node("every_label")[0].metadata["keys"].value == ["GOOGL|1d"]
