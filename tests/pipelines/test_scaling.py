"""Beyond one machine, the cheap part: the settings of the executor, the frames and the run
queue; the per-series assets' single-run backfill policy; a backfill's ranges and selection;
a step over a range of series (frames, metadata, checks). Celery itself: test_celery.py."""

import dagster as dg
import pandas as pd
import pytest
import yaml

from assets.candles import candles
from assets.features import features, labels, patterns
from assets.ranges import SeriesResult, checks, metadata, output_value
from market.universe import Series
from pipelines.backfill import BackfillError, Plan, plan, selection, stages
from pipelines.definitions import build_definitions, resources
from pipelines.instance import instance_config
from pipelines.workers import CELERY_OPTIONS, celery_config
from resources.frames import ParquetIOManager
from resources.partitions import SERIES_BACKFILL, key_ranges, split_ranges
from tx.errors import ConfigError
from tx.settings import load_settings


def test_defaults_need_no_broker_and_keep_the_frames_in_tx_home(tmp_path):
    s = load_settings()
    assert s.executor == "in_process" and s.max_concurrent_runs == 2
    assert s.frames_location == str(tmp_path / "tx" / "frames") and s.frames_dir.joinpath("x").parent == s.frames_dir
    assert build_definitions(s).resolve_job_def("candles_job").executor_def is dg.in_process_executor
    assert resources(s)["frames"].base_path == s.frames_location


def test_celery_executor_from_the_settings(monkeypatch):
    monkeypatch.setenv("TX_EXECUTOR", "celery")
    monkeypatch.setenv("TX_CELERY_BROKER", "amqp://u:p@mq.local:5672//")
    monkeypatch.setenv("TX_CELERY_QUEUE", "series")
    monkeypatch.setenv("TX_FRAMES_URL", "s3://bucket/frames")
    s = load_settings()
    job = build_definitions(s).resolve_job_def("series_backfill")
    assert job.executor_def.name == "celery"
    config = celery_config(s)
    assert config["broker"] == "amqp://u:p@mq.local:5672//" and config["backend"] == "rpc://"
    assert config["config_source"] == {**CELERY_OPTIONS, "task_default_queue": "series"}
    assert CELERY_OPTIONS["task_acks_late"] and CELERY_OPTIONS["task_reject_on_worker_lost"]
    assert s.frames_location == "s3://bucket/frames" and resources(s)["frames"].base_path == "s3://bucket/frames"
    monkeypatch.setenv("TX_EXECUTOR", "multiprocess")
    assert build_definitions(load_settings()).resolve_job_def("candles_job").executor_def is dg.multiprocess_executor


@pytest.mark.parametrize(("var", "value", "message"), [
    ("TX_EXECUTOR", "k8s", "TX_EXECUTOR: .*'in_process', 'multiprocess' or 'celery'"),
    ("TX_CELERY_BROKER", "127.0.0.1:5672", "TX_CELERY_BROKER: expected a Celery URL"),
    ("TX_CELERY_BACKEND", "http://x", "TX_CELERY_BACKEND: expected a Celery URL"),
    ("TX_MAX_CONCURRENT_RUNS", "0", "TX_MAX_CONCURRENT_RUNS"),
    ("TX_RUN_TIMEOUT_S", "-1", "TX_RUN_TIMEOUT_S"),
])
def test_a_wrong_scaling_setting_is_named(monkeypatch, var, value, message):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_the_run_queue_takes_max_concurrent_runs_from_the_settings(monkeypatch):
    monkeypatch.setenv("TX_MAX_CONCURRENT_RUNS", "7")
    coordinator = instance_config(load_settings())["run_coordinator"]
    assert coordinator["class"] == "QueuedRunCoordinator" and coordinator["config"]["max_concurrent_runs"] == 7
    assert yaml.safe_dump(instance_config(load_settings()))  # still a valid dagster.yaml body


def test_per_series_assets_backfill_in_a_single_run():
    for asset in (candles, features, patterns, labels):
        assert asset.backfill_policy == SERIES_BACKFILL == dg.BackfillPolicy.single_run()
        assert asset.backfill_policy.max_partitions_per_run is None


def test_a_backfill_is_one_run_per_contiguous_range():
    keys = ["A|1d", "B|1d", "C|1d", "D|1d", "E|1d"]
    assert key_ranges(keys, set(keys)) == [("A|1d", "E|1d")]
    assert key_ranges(keys, {"A|1d", "B|1d", "D|1d"}) == [("A|1d", "B|1d"), ("D|1d", "D|1d")]
    assert key_ranges(keys, set()) == []
    dagster = dg.DagsterInstance.ephemeral()
    universe = [Series(s, "1d") for s in ("SYNA", "SYNB", "SYNC", "SYND")]
    p = plan(dagster, universe, ["labels", "candles"])
    assert p.ranges == [("SYNA|1d", "SYND|1d")] and p.assets == ["candles", "labels"]


def _sizes(keys, ranges):
    return [keys.index(last) - keys.index(first) + 1 for first, last in ranges]


def test_runs_split_the_wanted_series_into_near_equal_ranges():
    keys = [f"S{i:03d}|1d" for i in range(10)]
    assert split_ranges(keys, set(keys), 1) == key_ranges(keys, set(keys)) == [("S000|1d", "S009|1d")]
    three = split_ranges(keys, set(keys), 3)
    assert _sizes(keys, three) == [4, 3, 3] and three[0] == ("S000|1d", "S003|1d") and three[-1] == ("S007|1d", "S009|1d")
    assert _sizes(keys, split_ranges(keys, set(keys), 2)) == [5, 5]
    assert split_ranges(keys, set(keys), 25) == [(k, k) for k in keys]  # more runs than series: one series each
    # wanted keys that are not contiguous: no range covers a key that is not wanted
    wanted = set(keys) - {"S002|1d", "S007|1d"}  # 8 keys, ranges S000-S001, S003-S006, S008-S009
    two = split_ranges(keys, wanted, 2)  # parts S000,S001,S003,S004 | S005,S006,S008,S009
    assert two == [("S000|1d", "S001|1d"), ("S003|1d", "S004|1d"), ("S005|1d", "S006|1d"), ("S008|1d", "S009|1d")]
    assert split_ranges(keys, wanted, 1) == key_ranges(keys, wanted) and len(key_ranges(keys, wanted)) == 3
    for runs in (1, 2, 3, 5, 8, 20):
        covered = [keys[i] for first, last in split_ranges(keys, wanted, runs) for i in range(keys.index(first), keys.index(last) + 1)]
        assert covered == sorted(wanted)  # each wanted key in exactly one range, in order
    assert split_ranges(keys, set(), 3) == []
    with pytest.raises(ValueError):
        split_ranges(keys, set(keys), 0)


def test_a_backfill_in_several_runs_ingests_every_range_before_the_base_rates():
    dagster = dg.DagsterInstance.ephemeral()
    universe = [Series(f"S{i:03d}", "1d") for i in range(10)]
    p = plan(dagster, universe, ["candles", "features", "patterns", "labels"], runs=3)
    assert _sizes([f"S{i:03d}|1d" for i in range(10)], p.ranges) == [4, 3, 3]
    assert p.stages == (("candles",), ("pattern_base_rates", "features", "patterns", "labels"))
    assert [(stage, r) for stage, _, r in p.runs] == [(0, r) for r in p.ranges] + [(1, r) for r in p.ranges]
    one = plan(dagster, universe, ["candles", "features", "patterns", "labels"])
    assert one.stages == (tuple(one.assets),) and len(one.runs) == 1  # one run: the base rates after its own candles
    assert stages(["features", "labels"], 3) == (("features", "labels"),)  # no candles: the stored base rates, one stage
    assert len(Plan("x", ["candles", "labels"], [("A|1d", "A|1d"), ("B|1d", "B|1d")]).runs) == 2
    with pytest.raises(BackfillError, match="--runs"):
        plan(dagster, universe, ["candles"], runs=0)


def test_selection_puts_the_base_rates_between_candles_and_features():
    assert selection(["features", "candles", "labels"]) == ["candles", "pattern_base_rates", "features", "labels"]
    assert selection(["features"]) == ["features"]
    with pytest.raises(BackfillError, match="unknown bar_score"):
        selection(["bar_score"])


def _check(name, passed, text):
    return dg.AssetCheckResult(check_name=name, passed=passed, description=text)


def test_one_series_reports_as_before_and_a_range_merges_per_check():
    a, b = Series("A", "1d"), Series("B", "1d")
    one = [SeriesResult(a, "fa", {"rows": dg.MetadataValue.int(3)}, [_check("finite", True, "0 infinite value(s)")])]
    assert output_value(one) == "fa" and metadata(one) == one[0].metadata and checks(one) == one[0].checks
    both = one + [SeriesResult(b, "fb", {"rows": dg.MetadataValue.int(4)}, [_check("finite", False, "2 infinite value(s)")])]
    assert output_value(both) == {"A|1d": "fa", "B|1d": "fb"}
    assert metadata(both)["series"].value == 2 and "| B:1d | 4 |" in metadata(both)["per_series"].value
    charted = [SeriesResult(x, "f", {"rows": dg.MetadataValue.int(1), "chart": dg.MetadataValue.md("![x](data:image/png;base64,AAAA)")})
               for x in (a, b)]
    assert "chart" not in metadata(charted)["per_series"].value and "base64" not in metadata(charted)["per_series"].value
    [merged] = checks(both)
    assert not merged.passed and merged.description == "failed on 1 of 2 series: B:1d: 2 infinite value(s)"


def test_a_range_step_writes_one_frame_per_series_and_no_partial_file(tmp_path):
    from upath import UPath

    manager = ParquetIOManager(base_path=UPath(tmp_path))
    frames = {"A|1d": pd.DataFrame({"x": [1.0]}), "B|1d": pd.DataFrame({"x": [2.0]})}
    context = dg.build_output_context(asset_key=dg.AssetKey("labels"), partition_key=None)
    # a range's output context: Dagster's own builder takes one key, so drive the writer as handle_output does
    for key, frame in frames.items():
        manager.dump_to_path(context, frame, UPath(tmp_path).joinpath("labels", *key.split("|")).with_suffix(".parquet"))
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")  if p.is_file()) == ["labels/A/1d.parquet", "labels/B/1d.parquet"]
    assert pd.read_parquet(tmp_path / "labels" / "B" / "1d.parquet")["x"].tolist() == [2.0]
