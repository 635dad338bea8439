"""features, patterns, labels and the heatmap materialized in Dagster, stored as Parquet and
(detections) in the app database, on SQLite and PostgreSQL."""

import dagster as dg
import pandas as pd

from assets.candles import candles
from assets.features import features, labels, pattern_base_rates, pattern_heatmap, patterns
from features import BaseRates, build_features, outcomes, triple_barrier
from features.patterns import detections
from market.universe import Series
from pipelines.definitions import resources
from pipelines.instance import instance
from resources.partitions import partition_key, sync_series
from store.db import make_engine, upgrade
from store.patterns import load_detections
from tx.settings import load_settings

SERIES = Series("GOOGL", "1d")


def test_feature_assets_store_frames_detections_and_pass_their_checks(db_url, monkeypatch):
    monkeypatch.setenv("TX_DATABASE_URL", db_url)
    settings = load_settings()
    upgrade(settings.app_database_url)
    dagster = instance(settings)
    sync_series(dagster, [SERIES])
    res = resources(settings)
    key = partition_key(SERIES)
    assert dg.materialize([candles], partition_key=key, instance=dagster, resources=res).success
    rates = dg.materialize([pattern_base_rates], instance=dagster, resources=res)
    assert rates.success and rates.asset_materializations_for_node("pattern_base_rates")[0].metadata["series"].value == 1
    upstream = [pattern_base_rates.to_source_asset()]
    result = dg.materialize([features, patterns, labels, *upstream], partition_key=key, instance=dagster, resources=res)
    assert result.success
    checks = {(e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks[("features", "point_in_time")] and checks[("features", "finite")] and checks[("labels", "future_unlabeled")]

    # the Parquet frames are what the pure functions give on the stored candles
    from market.files import bundled

    bars = bundled().read(SERIES)
    base = BaseRates(outcomes(bars, "1d"))
    frames = settings.frames_dir
    stored_features = pd.read_parquet(next(frames.joinpath("features").rglob("*.parquet")))
    pd.testing.assert_frame_equal(stored_features, build_features(bars, "1d", base), check_freq=False)
    stored_labels = pd.read_parquet(next(frames.joinpath("labels").rglob("*.parquet")))
    pd.testing.assert_frame_equal(stored_labels, triple_barrier(bars), check_freq=False)

    engine = make_engine(settings.app_database_url)
    in_db = load_detections(engine, "GOOGL", "1d")
    engine.dispose()
    expected = detections(bars, "1d", prior=base)
    assert len(in_db) == len(expected) == result.asset_materializations_for_node("patterns")[0].metadata["detections"].value
    assert in_db["confidence"].round(12).tolist() == expected["confidence"].round(12).tolist()

    again = dg.materialize([patterns, *upstream], partition_key=key, instance=dagster, resources=res)
    assert again.success  # re-running replaces, never duplicates
    engine = make_engine(settings.app_database_url)
    assert len(load_detections(engine, "GOOGL", "1d")) == len(expected)
    engine.dispose()

    heat = dg.materialize([pattern_heatmap], instance=dagster, resources=res)
    meta = heat.asset_materializations_for_node("pattern_heatmap")[0].metadata
    assert meta["series"].value == 1 and meta["heatmap"].value.startswith("![detections in the last 250 bars](data:image/png;base64,")
