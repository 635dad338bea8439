"""Online learning end to end: a market that gains bars as the test advances; the daily scan
stores them (its schedule's run requests, run in-process against the instance); labels
mature; the `online_learning` schedule's run learns them on top of the newest version; the
new version is registered and gated; and the service's running model holders swap: the
online head to every new version, the champion only to the one the gate promotes.

The market drifts where the base version's data ends: its news wire, whose tone foretold the
outcome 60 % of the time, foretells it 90 % of the time from then on (the market started
listening to it). The champion keeps the weight its stacker gave the sentiment layer; the
online line, recent samples weighing more, leans on it more, and beats the champion on the
samples it scored — so the gate's promotion is earned, by a margin, not a coin toss."""

import time
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from cli.stores import setup_all
from features import LabelSpec, triple_barrier
from market.synthetic import generate_many
from market.universe import Series
from pipelines.definitions import build_definitions
from pipelines.instance import instance
from pipelines.run import materialize_series
from serving.champion import Champion, online_head
from store.candles import load_candles
from store.db import make_engine
from store.news import add_news
from training.promotion import GATE_TAG
from training.recorder import FUSED_MODEL, Recorder, client
from tx.settings import load_settings

SYMBOLS = ("SYNA", "SYNB", "SYNC")
BASE_BARS, STEP_BARS = 1000, 100  # bars the base version learns from; bars the market gains before each online step
FORETOLD = (0.6, 0.9)  # how often the news' tone matches the bar's outcome: before the drift, and from BASE_BARS on
SCAN_TIME = datetime(2026, 11, 25, 16, 30, tzinfo=ZoneInfo("America/New_York"))  # a weekday after the US close


def wait_for(condition: Callable[[], bool], deadline_s: float = 120.0) -> bool:
    """Whether `condition` came true before the deadline (a bound for a poller, not a speed check)."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def run(defs: dg.Definitions, dagster: dg.DagsterInstance, request: dg.RunRequest, job_name: str) -> dg.ExecuteInProcessResult:
    """A schedule's run request executed as the daemon would launch it: the job's own run config
    (the settings' values) and the request's tags and partition."""
    job = defs.resolve_job_def(job_name)
    key = request.partition_key
    config = request.run_config or (job.get_run_config_for_partition_key(str(key)) if key is not None else job.run_config) or {}
    result = job.execute_in_process(instance=dagster, run_config=config, tags=request.tags, partition_key=key)
    assert result.success
    return result


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    return {k: getattr(v, "value", v) for k, v in result.asset_materializations_for_node(asset)[0].metadata.items()}


def news_wire(market: dict[str, pd.DataFrame], seed: int) -> dict[str, list[dict]]:
    """One item per symbol and bar, published four hours before the bar's close, whose tone
    (its stored sentiment score) matches how the bar's label turns out FORETOLD[0] of the time
    before the drift and FORETOLD[1] after: news that move the market, as the market's own
    data-generating process (the model only ever sees items published before a bar's close)."""
    rng = np.random.default_rng(seed)
    wire = {}
    for symbol, frame in market.items():
        label = triple_barrier(frame, LabelSpec(horizon=2))["label"].to_numpy()
        up = np.where(np.isnan(label), rng.random(len(frame)) < 0.5, label > 0)
        foretold = rng.random(len(frame)) < np.where(np.arange(len(frame)) < BASE_BARS, *FORETOLD)
        tone = np.where(up == foretold, 1.0, -1.0) * rng.uniform(0.3, 0.9, len(frame))
        wire[symbol] = [{"symbols": [symbol], "source": "wire", "published_at": t + pd.Timedelta("20h"), "sentiment": float(score),
                         "text": f"{symbol} {t:%Y-%m-%d}: {'upbeat' if score > 0 else 'downbeat'} wire"}
                        for t, score in zip(frame.index, tone, strict=True)]
    return wire


@pytest.mark.heavy
def test_the_loop_scans_learns_gates_and_swaps_the_served_model(tmp_path, monkeypatch):
    data = tmp_path / "market"
    data.mkdir()
    market = generate_many(list(SYMBOLS), "1d", BASE_BARS + 2 * STEP_BARS, seed=21, signal=0.5)  # momentum to find
    wire = news_wire(market, seed=21)

    def market_gains(bars: int) -> None:
        """The candle files grow to `bars` bars, and the news of those bars come in."""
        for symbol, frame in market.items():
            frame.iloc[:bars].reset_index().to_csv(data / f"{symbol}_1d.csv", index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        add_news(engine, [item for items in wire.values() for item in items[:bars]])

    monkeypatch.setenv("TX_DATA_DIR", str(data))
    monkeypatch.setenv("TX_UNIVERSE", ",".join(f"{s}:1d" for s in SYMBOLS))
    monkeypatch.setenv("TX_LABEL_HORIZON", "2")
    monkeypatch.setenv("TX_ONLINE_HALF_LIFE", "300")  # the settings reach the scheduled run
    settings = load_settings()
    setup_all(settings)
    dagster = instance(settings)
    defs = build_definitions(settings)
    universe = [Series(s, "1d") for s in SYMBOLS]
    engine = make_engine(settings.app_database_url)
    recorder = Recorder(settings.tracking_uri)
    market_gains(BASE_BARS)

    # the base: the series stored, their features and labels, a trained version, promoted on its planted signal
    for job in ("candles_job", "features_job"):
        if job == "features_job":
            assert defs.resolve_job_def("base_rates_job").execute_in_process(instance=dagster).success
        assert not [r for r in materialize_series(settings, dagster, universe, job) if isinstance(r, Exception)]
    training = defs.resolve_job_def("training_job")
    fused = metadata(training.execute_in_process(instance=dagster, run_config=training.run_config), "fused_model")
    assert fused["model_version"] == f"{FUSED_MODEL} v1" and fused["promoted"], fused["decision"]

    # the service's two holders, polling MLflow as each worker does
    swaps: dict[str, list[str]] = {"champion": [], "head": []}
    champion = Champion(settings.tracking_uri, poll_s=0.2, on_swap=lambda s: s and swaps["champion"].append(s.version)).start()
    head = online_head(settings.tracking_uri, poll_s=0.2)
    head.on_swap = lambda s: s and swaps["head"].append(s.version)
    head.start()
    try:
        _learn_and_swap(defs, dagster, settings, engine, recorder, champion, head, swaps, market_gains)
    finally:  # the pollers end with the test, not with the session
        champion.stop()
        head.stop()
    engine.dispose()


def _learn_and_swap(defs, dagster, settings, engine, recorder, champion, head, swaps, market_gains) -> None:
    assert champion.current().version == head.current().version == "1"

    online_learning, daily_scan = defs.get_schedule_def("online_learning"), defs.get_schedule_def("daily_scan")
    nothing = online_learning.evaluate_tick(dg.build_schedule_context(instance=dagster, scheduled_execution_time=SCAN_TIME))
    skipped = metadata(run(defs, dagster, nothing.run_requests[0], "online_job"), "online_model")
    assert skipped["skipped"].startswith("0 newly matured label(s)")  # nothing new yet: no version

    decisions = []
    for step in (1, 2):
        bars = BASE_BARS + step * STEP_BARS
        market_gains(bars)
        scans = daily_scan(dg.build_schedule_context(instance=dagster, scheduled_execution_time=SCAN_TIME))
        assert sorted(str(r.partition_key) for r in scans) == [f"{s}|1d" for s in SYMBOLS]
        for request in scans:
            stored = metadata(run(defs, dagster, request, "series_pipeline"), "candles")
            assert stored["stored_bars"] == bars
        assert all(len(load_candles(engine, s, "1d")) == bars for s in SYMBOLS)

        # the schedule's tick, as the daemon evaluates it, and its run
        tick = online_learning.evaluate_tick(dg.build_schedule_context(instance=dagster, scheduled_execution_time=SCAN_TIME))
        (request,) = tick.run_requests
        learned = metadata(run(defs, dagster, request, "online_job"), "online_model")
        version = str(step + 1)
        assert learned["model_version"] == f"{FUSED_MODEL} v{version}" and learned["base_version"] == str(step)
        # the labels that matured since the last step: the bars gained, give or take the horizon's edge
        assert all(STEP_BARS - 2 <= n <= STEP_BARS + 2 for n in learned["new_per_series"].values()), learned["new_per_series"]
        assert learned["half_life"] == 300 and learned["prequential_samples"] >= 3 * (step * STEP_BARS - 4)
        run_data = client(settings.tracking_uri).get_run(recorder.version(FUSED_MODEL, version).run_id).data
        assert run_data.params["half_life"] == "300" and run_data.tags["tx.parent_version"] == str(step)
        assert len(client(settings.tracking_uri).get_metric_history(recorder.version(FUSED_MODEL, version).run_id,
                                                                    "prequential_auc")) > 10
        gated = recorder.version(FUSED_MODEL, version).tags
        assert gated[GATE_TAG + "promoted"] == str(learned["promoted"]) and gated[GATE_TAG + "reason"] == learned["decision"]
        decisions.append(learned)

        assert wait_for(lambda: head.current().version == version)  # the online head follows every version
        if learned["promoted"]:
            assert wait_for(lambda: champion.current().version == version)
        else:
            assert champion.current().version == recorder.champion().version == "1"
        print(f"step {step}: v{version} prequential AUC {learned['prequential_auc']:.4f} over {learned['prequential_samples']}, "
              f"gate: {learned['decision']}")

    first, second = decisions
    # step 1's samples were all scored by the champion itself: the line has nothing to show against it yet
    assert not first["promoted"] and "prove itself" in first["decision"]
    # step 2 is compared with the champion on the samples version 2 scored: the line, leaning on the
    # news that now foretell more, beats it there by a margin; the gate promotes it and the running
    # holder swaps to it
    assert second["champion_version"] == "1" and "scored by other versions" in second["compared_on"]
    assert second["promoted"], second["decision"]
    compared = float(recorder.version(FUSED_MODEL, "3").tags[GATE_TAG + "compared_auc"])
    assert compared > second["champion_auc"] + 0.02, (compared, second["champion_auc"])
    weight = {v: client(settings.tracking_uri).get_run(recorder.version(FUSED_MODEL, v).run_id).data.metrics["stacker_weight_sentiment"]
              for v in ("1", "2", "3")}
    assert weight["1"] < weight["2"] < weight["3"], weight
    assert swaps == {"champion": ["1", "3"], "head": ["1", "2", "3"]}
