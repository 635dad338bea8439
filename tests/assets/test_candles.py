"""The candles asset in Dagster: incremental upserts, and checks firing on crafted bad data,
with the app database on SQLite and on PostgreSQL."""

import dagster as dg
import pytest

from assets.candles import candles
from market.synthetic import generate
from market.universe import Series
from pipelines.definitions import resources
from pipelines.instance import instance
from resources.partitions import partition_key, series_partitions, sync_series
from store.candles import load_candles
from store.db import make_engine, upgrade
from trading.broker import Order, paper_broker
from tx.settings import load_settings

SERIES = Series("ACME", "1d")


@dg.asset(partitions_def=series_partitions, deps=[candles])
def downstream() -> None:
    """Stands for the features that will read candles: it must not run on corrupt data."""


@pytest.fixture
def setup(db_url, tmp_path, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("TX_DATA_DIR", str(data))
    monkeypatch.setenv("TX_DATABASE_URL", db_url)
    monkeypatch.setenv("TX_CACHE_TTL_S", "0")
    settings = load_settings()
    upgrade(settings.app_database_url)
    dagster = instance(settings)
    sync_series(dagster, [SERIES])
    engine = make_engine(settings.app_database_url)
    yield settings, dagster, data, engine
    engine.dispose()


def write(data, frame):
    frame.reset_index().to_csv(data / "ACME_1d.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ")


def run(settings, dagster, assets=(candles, downstream)):
    return dg.materialize(
        list(assets), partition_key=partition_key(SERIES), instance=dagster, resources=resources(settings), raise_on_error=False
    )


def checks(result) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_incremental_fetch_upserts_new_and_revised_bars_only(setup):
    settings, dagster, data, engine = setup
    full = generate("ACME", "1d", 300, seed=2)
    write(data, full.iloc[:250])
    first = run(settings, dagster)
    assert first.success and all(checks(first).values()) and len(checks(first)) == 6
    assert len(load_candles(engine, "ACME", "1d")) == 250

    revised = full.iloc[:260].copy()
    revised.iloc[248, revised.columns.get_loc("close")] = revised.iloc[248]["open"]  # a revision inside the overlap
    revised.iloc[10, revised.columns.get_loc("volume")] = 1.0  # a change far back: not re-fetched
    write(data, revised)
    second = run(settings, dagster)
    meta = second.asset_materializations_for_node("candles")[0].metadata
    assert meta["rows_fetched"].value == 3 + 1 + 10  # overlap, the last stored bar, the new ones
    assert meta["stored_bars"].value == 260 and "full history" not in meta["incremental_from"].value
    stored = load_candles(engine, "ACME", "1d")
    assert stored["close"].iloc[248] == revised["close"].iloc[248]
    assert stored["volume"].iloc[10] == full["volume"].iloc[10]
    assert meta["chart"].value.startswith("![ACME 1d](data:image/png;base64,")


def test_a_corrupt_batch_is_refused_whole_and_blocks_downstream(setup):
    settings, dagster, data, engine = setup
    full = generate("ACME", "1d", 300, seed=2)
    write(data, full.iloc[:250])
    assert run(settings, dagster).success
    before = load_candles(engine, "ACME", "1d")

    bad = full.copy()
    bad.iloc[248, bad.columns.get_loc("close")] = 1e6  # overlapping bar: high no longer bounds close
    bad.iloc[270, bad.columns.get_loc("high")] = 0.5
    write(data, bad)
    result = run(settings, dagster)
    assert not result.success
    assert checks(result) == {"bars_consistent": False, "timestamps_unique_ascending": True, "no_missing_values": True}
    started = {e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_START}
    materialized = {e.step_key for e in result.all_events if e.is_step_materialization}
    assert started == {"candles"} and not materialized  # downstream never ran
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "corrupt batch from local, nothing written: 2 bar(s)" in failure.step_failure_data.error.message
    after = load_candles(engine, "ACME", "1d")
    assert after.equals(before)  # nothing lost, nothing overwritten by bad data


def test_gaps_and_zero_volume_warn_but_data_is_written(setup):
    settings, dagster, data, engine = setup
    frame = generate("ACME", "1d", 120, seed=3)
    frame = frame.drop(frame.index[50:56])
    frame.iloc[20, frame.columns.get_loc("volume")] = 0.0
    write(data, frame)
    result = run(settings, dagster)
    assert result.success
    assert checks(result) == {
        "bars_consistent": True, "timestamps_unique_ascending": True, "no_missing_values": True,
        "no_gaps": False, "fresh": True, "volume_present": False,
    }
    evaluation = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluation["no_gaps"].severity == dg.AssetCheckSeverity.WARN
    assert evaluation["no_gaps"].metadata["longest_gap_bars"].value == 6
    assert len(load_candles(engine, "ACME", "1d")) == 114
    # recorded in the instance, where the Dagster UI reads them
    key = dg.AssetCheckKey(dg.AssetKey("candles"), "no_gaps")
    assert dagster.event_log_storage.get_asset_check_execution_history(key, limit=1)[0].status.value == "FAILED"


def test_a_re_adjusted_history_is_fetched_again_in_full(setup):
    settings, dagster, data, engine = setup
    full = generate("ACME", "1d", 300, seed=2)
    write(data, full.iloc[:250])
    assert run(settings, dagster).success
    split = full.iloc[:260].copy()
    split[["open", "high", "low", "close"]] *= 0.25  # a 4:1 split, back-adjusted by the provider
    write(data, split)
    result = run(settings, dagster)
    meta = result.asset_materializations_for_node("candles")[0].metadata
    assert meta["history_rescaled"].value is True and meta["rows_fetched"].value == 260
    stored = load_candles(engine, "ACME", "1d")
    assert len(stored) == 260 and (stored["close"] / split["close"] - 1).abs().max() < 1e-12  # no fake -75 % bar


def test_new_bars_fill_the_resting_limit_orders_they_reach(setup):
    """Resting paper limit orders are checked where new bars are stored, not in the alert scan."""
    settings, dagster, data, engine = setup
    full = generate("ACME", "1d", 300, seed=2)
    write(data, full.iloc[:250])
    assert run(settings, dagster, (candles,)).success
    now, later = full["close"].iloc[249], full["close"].iloc[259]  # the price moves 3.8% over the next ten bars
    side, limit = ("buy" if later < now else "sell"), (now + later) / 2  # reached only once the new bars are stored
    resting = paper_broker(engine, settings).execute(Order("ACME", side, 1, "limit", limit), "resting")
    assert resting.status == "pending"
    assert run(settings, dagster, (candles,)).asset_materializations_for_node("candles")[0].metadata["limit_orders_filled"].value == 0
    write(data, full.iloc[:260])
    filled = run(settings, dagster, (candles,)).asset_materializations_for_node("candles")[0].metadata
    assert filled["rows_written"].value > 0 and filled["limit_orders_filled"].value == 1
    assert run(settings, dagster, (candles,)).asset_materializations_for_node("candles")[0].metadata["limit_orders_filled"].value == 0
