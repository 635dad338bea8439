"""The scan's scoring steps in Dagster, with the session's trained champion: bar_score scores
a partition's newest bar once (stored, pushed as a `score` event) and alert_scan reuses the
stored score; on SQLite and PostgreSQL."""

import shutil

import dagster as dg
import pytest

from assets.alerts import alert_scan, bar_score
from market.universe import Series
from pipelines.definitions import resources
from pipelines.instance import instance
from resources.partitions import partition_key, sync_series
from store.candles import upsert_candles
from store.db import make_engine, upgrade
from store.events import events_since
from tx.settings import load_settings

SERIES = Series("SYNA", "1d")


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    return {k: getattr(v, "value", v) for k, v in result.asset_materializations_for_node(asset)[0].metadata.items()}


@pytest.mark.heavy  # the scan's core on both stores is in tests/serving/routers/test_alerts.py's push test
def test_bar_score_scores_each_new_bar_once_and_the_alert_scan_reuses_it(db_url, tmp_path, monkeypatch, trained):
    shutil.copy(trained["db"], tmp_path / "mlflow.db")  # a copy of the session's registry: its champion
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("TX_MLFLOW_ARTIFACTS", str(trained["artifacts"]))
    monkeypatch.setenv("TX_DATABASE_URL", db_url)
    settings = load_settings()
    upgrade(settings.app_database_url)
    engine = make_engine(settings.app_database_url)
    frame = trained["frames"]["SYNA"]
    upsert_candles(engine, "SYNA", "1d", frame.iloc[:-1], "synthetic")
    dagster = instance(settings)
    sync_series(dagster, [SERIES])

    def step(asset) -> dict:
        partition = partition_key(SERIES) if asset is bar_score else None
        result = dg.materialize([asset], partition_key=partition, instance=dagster, resources=resources(settings))
        return metadata(result, asset.key.path[-1])

    first, again = step(bar_score), step(bar_score)
    assert (first["scored"], first["as_of"]) == ("now", frame.index[-2].isoformat().replace("+00:00", "Z"))
    assert (again["scored"], again["p"]) == ("stored", first["p"])  # the same bar: not computed again
    upsert_candles(engine, "SYNA", "1d", frame.iloc[-1:], "synthetic")  # a new bar
    new = step(bar_score)
    assert new["scored"] == "now" and new["as_of"] == frame.index[-1].isoformat().replace("+00:00", "Z")
    sweep = step(alert_scan)
    assert sweep["scanned"] == 1 and sweep["scored_now"] == 0  # the scanner reuses the stored score
    scores = [e["data"] for e in events_since(engine, 0, {"SYNA"}) if e["kind"] == "score"]
    assert [s["as_of"] for s in scores] == [first["as_of"], new["as_of"]] and scores[1]["probability"] == new["p"]
    engine.dispose()
