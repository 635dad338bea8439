"""`tx backfill`: the per-series assets of many series, as few Dagster runs as the partitions allow.

The series are the `series` dynamic partitions; the per-series assets have the single-run
backfill policy, so a backfill is one run of `series_backfill` per contiguous range of the
wanted series in the partitions' order (`resources.partitions.key_ranges`): the whole universe
is one run, whatever its size. The run's asset selection is the wanted assets, plus the
patterns' base rates between candles and features/patterns when both are wanted, as the
default pipeline orders them.

Who runs what: `tx backfill` starts, per range, a run process (`python -m pipelines.backfill`,
in DAGSTER_HOME, as Dagster's run workers run) that executes the run with `dagster.execute_job`
on the instance, so the run is an ordinary one in the Dagster UI. Its steps run where
TX_EXECUTOR says: in that process (in_process), a process each (multiprocess) or on the Celery
workers (`tx worker`). `tx backfill` then follows the runs in the instance (`--wait`): it prints
each step and each run as it ends, and marks a run failed, stopping its process, when it has
not ended after TX_RUN_TIMEOUT_S (a step whose worker died with no other worker to take it up
would otherwise keep it STARTED).
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import dagster as dg

from market.universe import Series
from pipelines.instance import child_env
from resources.partitions import partition_key, series_partitions, split_ranges, sync_series
from resources.tags import BACKFILL, LAUNCHED_BY
from tx.errors import TxError
from tx.settings import ROOT, Settings

JOB = "series_backfill"
PER_SERIES = ("candles", "features", "patterns", "labels")  # what `--assets` may name
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
STEP_ENDS = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.STEP_SKIPPED}
POLL_S = 1.0


class BackfillError(TxError):
    """A backfill that cannot start (unknown assets, no series)."""


def selection(assets: list[str]) -> list[str]:
    """The run's assets in the order they run: the base rates join when candles and a
    consumer of theirs are both backfilled (features read the base rates of the new candles)."""
    unknown = [a for a in assets if a not in PER_SERIES]
    if unknown or not assets:
        raise BackfillError(f"--assets: unknown {', '.join(unknown) or '(none given)'}; expected some of {', '.join(PER_SERIES)}")
    wanted = [a for a in PER_SERIES if a in assets]
    if "candles" in wanted and ({"features", "patterns"} & set(wanted)):
        wanted.insert(1, "pattern_base_rates")
    return wanted


@dataclass(frozen=True)
class Plan:
    backfill_id: str
    assets: list[str]
    ranges: list[tuple[str, str]]  # (first, last) partition keys, one run each (per stage)
    stages: tuple[tuple[str, ...], ...] = ()  # asset selections run one after the other, each over every range

    def __post_init__(self) -> None:
        if not self.stages:
            object.__setattr__(self, "stages", stages(self.assets, len(self.ranges)))

    @property
    def runs(self) -> list[tuple[int, tuple[str, ...], tuple[str, str]]]:
        """(stage, assets, range) of each run, in launch order; a run's index is its position here."""
        return [(i, assets, r) for i, assets in enumerate(self.stages) for r in self.ranges]


def stages(assets: list[str], n_ranges: int) -> tuple[tuple[str, ...], ...]:
    """One run per range holds the whole selection, unless several ranges' runs would each
    compute the base rates while the others' candles are still being written: then the candles
    of every range first, then per range the base rates (over all the stored candles, the same
    in every run) and the rest."""
    if n_ranges > 1 and "pattern_base_rates" in assets:
        return (("candles",), tuple(a for a in assets if a != "candles"))
    return (tuple(assets),)


def plan(instance: dg.DagsterInstance, series: list[Series], assets: list[str], runs: int = 1) -> Plan:
    """`runs`: cut the wanted series into that many near-equal parts, one run each (per stage)
    and per contiguous range (`split_ranges`), so that several runs' steps can go to several
    workers at once; 1 (default): one run per contiguous range."""
    if not series:
        raise BackfillError("no series to backfill")
    if runs < 1:
        raise BackfillError("--runs: expected 1 or more")
    sync_series(instance, series)
    keys = instance.get_dynamic_partitions(series_partitions.name)
    return Plan(uuid.uuid4().hex[:8], selection(assets), split_ranges(keys, {partition_key(s) for s in series}, runs))


@dataclass
class Launched:
    index: int
    key_range: tuple[str, str]
    proc: subprocess.Popen
    started: float = field(default_factory=time.monotonic)
    run_id: str | None = None


def _spec(settings: Settings, p: Plan, index: int) -> dict:
    _, assets, (first, last) = p.runs[index]
    return {"assets": list(assets), "tags": {LAUNCHED_BY: "tx backfill", BACKFILL: p.backfill_id, f"{BACKFILL}_range": str(index),
                                         RANGE_START: first, RANGE_END: last}}


def launch(settings: Settings, p: Plan, index: int, detach: bool = False) -> Launched:
    """Start the run process of one range (logs in TX_HOME/logs)."""
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    out = open(logs / f"backfill-{p.backfill_id}-{index}.log", "ab")  # noqa: SIM115 (the child keeps its copy)
    path = os.pathsep.join(x for x in (str(ROOT), os.environ.get("PYTHONPATH", "")) if x)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "pipelines.backfill", json.dumps(_spec(settings, p, index))],
                                cwd=settings.dagster_home_dir, env={**os.environ, **child_env(settings), "PYTHONPATH": path},
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    finally:
        out.close()
    return Launched(index, p.runs[index][2], proc)


@dataclass(frozen=True)
class RunEnd:
    run_id: str
    key_range: tuple[str, str]
    status: str
    seconds: float | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status == dg.DagsterRunStatus.SUCCESS.value


def _run_of(instance: dg.DagsterInstance, p: Plan, index: int) -> dg.DagsterRun | None:
    runs = instance.get_runs(dg.RunsFilter(tags={BACKFILL: p.backfill_id, f"{BACKFILL}_range": str(index)}), limit=1)
    return runs[0] if runs else None


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the run process and any step process it started
        except ProcessLookupError:
            pass
        proc.wait()


def follow(settings: Settings, instance: dg.DagsterInstance, p: Plan, say: Callable[[str], None] = print) -> list[RunEnd]:
    """Launch the runs, TX_MAX_CONCURRENT_RUNS at a time, a stage's once the stage before has
    ended (and not at all when a run of it failed), and follow them to the end."""
    from pipelines.run import failure_reason, materialized

    pending, active, ended = list(range(len(p.runs))), [], []
    seen_steps: set[tuple[str, str, str]] = set()
    while pending or active:
        stage = p.runs[pending[0]][0] if pending else None
        if pending and stage > 0 and not any(p.runs[one.index][0] < stage for one in active):
            if any(not e.ok for e in ended):  # a stage before failed: the rest would work on missing candles
                for index in pending:
                    ended.append(RunEnd("-", p.runs[index][2], "NOT_LAUNCHED", None, "an earlier stage's run failed"))
                    say(f"run of {', '.join(p.runs[index][1])} over {p.runs[index][2][0]} .. {p.runs[index][2][1]} not launched: "
                        "an earlier stage's run failed")
                pending = []
        while pending and len(active) < settings.max_concurrent_runs and not any(p.runs[one.index][0] < p.runs[pending[0]][0] for one in active):
            active.append(launch(settings, p, pending.pop(0)))
        for one in list(active):
            run = _run_of(instance, p, one.index)
            if run is not None and one.run_id is None:
                one.run_id = run.run_id
                say(f"run {run.run_id} started: {JOB} over {one.key_range[0]} .. {one.key_range[1]} ({', '.join(p.runs[one.index][1])})")
            if run is not None:
                for record in instance.get_records_for_run(run.run_id, of_type=STEP_ENDS).records:
                    event = record.event_log_entry.dagster_event
                    mark = (run.run_id, event.step_key, event.event_type_value)
                    if mark not in seen_steps:
                        seen_steps.add(mark)
                        say(f"  step {event.step_key}: {event.event_type_value.removeprefix('STEP_').lower()}")
            elapsed = time.monotonic() - one.started
            if run is not None and run.status in FINISHED:
                one.proc.wait()
                record = instance.get_run_record_by_id(run.run_id)
                seconds = record.end_time - record.start_time if record and record.end_time and record.start_time else None
                events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event is not None]
                reason = "" if run.status == dg.DagsterRunStatus.SUCCESS else failure_reason(events)
                ended.append(RunEnd(run.run_id, one.key_range, run.status.value, seconds, reason))
                active.remove(one)
                for name, (passed, summary) in sorted(materialized("", run.run_id, events).checks.items()):
                    say(f"  check {name}: {'passed' if passed else 'FAILED'} ({summary})")
            elif one.proc.poll() is not None or elapsed > settings.run_timeout_s:
                why = (f"no end after TX_RUN_TIMEOUT_S={settings.run_timeout_s:g} s: run process stopped" if one.proc.poll() is None
                       else f"the run process exited ({one.proc.returncode}) leaving the run {run.status.value if run else 'uncreated'}")
                _stop(one.proc)
                run = _run_of(instance, p, one.index)
                if run is not None and run.status not in FINISHED:
                    instance.report_run_failed(run, message=f"tx backfill: {why}")
                ended.append(RunEnd(run.run_id if run else "-", one.key_range, dg.DagsterRunStatus.FAILURE.value, elapsed, why))
                active.remove(one)
            else:
                continue
            last = ended[-1]
            took = f" in {last.seconds:.1f} s" if last.seconds is not None else ""
            say(f"run {last.run_id} {last.status}{took}" + (f": {last.reason}" if last.reason else ""))
        if pending or active:
            time.sleep(POLL_S)
    return ended


def submit(settings: Settings, instance: dg.DagsterInstance, p: Plan, say: Callable[[str], None] = print, wait_s: float = 120.0) -> list[str]:
    """Launch every range's run and return once each exists in the instance (`tx backfill`
    without --wait): the runs go on in their own processes, all at once (TX_MAX_CONCURRENT_RUNS
    is `follow`'s); the UI follows them. A plan in stages needs `follow` (someone must wait for
    the candles before the base rates)."""
    if len(p.stages) > 1:
        raise BackfillError(f"{len(p.ranges)} runs of candles with features or patterns: the base rates need every range's "
                            "candles first, so this backfill needs --wait (or --assets candles, then the rest)")
    launched = [launch(settings, p, i) for i in range(len(p.runs))]
    ids, deadline = [], time.monotonic() + wait_s
    for one in launched:
        while (run := _run_of(instance, p, one.index)) is None:
            if one.proc.poll() is not None or time.monotonic() > deadline:
                raise TxError(f"the run process of {one.key_range[0]} .. {one.key_range[1]} did not start its run "
                              f"(log: {settings.home / 'logs' / f'backfill-{p.backfill_id}-{one.index}.log'})")
            time.sleep(0.2)
        ids.append(run.run_id)
        say(f"run {run.run_id} launched: {JOB} over {one.key_range[0]} .. {one.key_range[1]} ({', '.join(p.runs[one.index][1])})")
    return ids


def _execute(spec: dict) -> int:
    """The run process: one run of `series_backfill` over one range, on the configured executor."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from pipelines.definitions import defs
    from pipelines.instance import instance
    from tx.settings import load_settings

    settings = load_settings()
    job = ReconstructableRepository.for_module("pipelines.definitions", "defs", working_directory=str(ROOT)).get_reconstructable_job(JOB)
    with dg.execute_job(job, instance(settings), run_config=defs.resolve_job_def(JOB).run_config or {}, tags=spec["tags"],
                        asset_selection=[dg.AssetKey(a) for a in spec["assets"]]) as result:
        return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(_execute(json.loads(sys.argv[1])))
