"""`make run`'s first pipeline: the default phases (`pipelines.run.phases`) launched as
ordinary queued Dagster runs through the webserver, so that the UI shows them as they go,
and followed from the instance so that the terminal can say what each run did.

A phase's runs (one per series, or one for the universe) are launched together and the
next phase only once all of them succeeded; the first failure stops the launching (the
UIs stay up). `step()` does one round of that without blocking, for `tx run`'s loop.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from market.universe import Series
from pipelines import bootstrap
from pipelines.definitions import build_definitions
from pipelines.run import Materialized, Phase, failure_reason, materialized, phases
from pipelines.status import submit
from resources.partitions import partition_key, sync_series
from resources.tags import LAUNCHED_BY
from tx.settings import Settings

FINISHED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
BEAT_S = 10.0  # how often the heartbeat that holds the automation is written
Submit = Callable[[Settings, str, dict[str, str], dict | None], str]


@dataclass(frozen=True)
class Finished:
    """One launched run, ended."""

    phase: Phase
    job: str
    result: Materialized  # scope, run id, materializations and checks
    status: str  # SUCCESS, FAILURE or CANCELED
    seconds: float | None
    reason: str = ""  # why it failed

    @property
    def ok(self) -> bool:
        return self.status == dg.DagsterRunStatus.SUCCESS.value


class Launcher:
    def __init__(self, settings: Settings, instance: dg.DagsterInstance, universe: list[Series], submit: Submit = submit) -> None:
        self.settings, self.instance, self.universe, self._submit = settings, instance, universe, submit
        self.pending: list[Phase] = phases(settings)
        self.inflight: dict[str, tuple[Phase, str, str]] = {}  # run id -> (phase, job, scope)
        self.failed: list[Finished] = []
        self._launched: set[str] = set()  # series of the phase being launched that have a run
        self.total = sum(len(universe) if p.per_series else 1 for p in self.pending)
        self.started = time.monotonic()
        self._beaten = float("-inf")
        self._defs = build_definitions(settings)
        sync_series(instance, universe)

    @property
    def done(self) -> bool:
        return not self.inflight and (bool(self.failed) or not self.pending)

    def step(self) -> list[Finished]:
        """Collect the runs that ended, launch the next phase when the current one is over;
        returns the runs that ended since the last step."""
        if time.monotonic() - self._beaten > BEAT_S:
            bootstrap.beat(self.instance)
            self._beaten = time.monotonic()
        finished = self._collect()
        self.failed += [f for f in finished if not f.ok]
        if not self.inflight and not self.failed and self.pending:
            self._launch(self.pending[0])
            self.pending.pop(0)
        if self.done:
            bootstrap.end(self.instance)
        return finished

    def _launch(self, phase: Phase) -> None:
        job_name = phase.job_now(self.settings)
        job = self._defs.resolve_job_def(job_name)
        tags = {LAUNCHED_BY: "tx run"}
        if phase.per_series:
            for series in self.universe:
                if str(series) in self._launched:  # a retry after the webserver refused one of them
                    continue
                key = partition_key(series)
                run_id = self._submit(self.settings, job_name, {**tags, "dagster/partition": key},
                                      job.get_run_config_for_partition_key(key))
                self.inflight[run_id] = (phase, job_name, str(series))
                self._launched.add(str(series))
        else:
            self.inflight[self._submit(self.settings, job_name, tags, job.run_config or {})] = (phase, job_name, "universe")
        self._launched.clear()

    def _collect(self) -> list[Finished]:
        if not self.inflight:
            return []
        out = []
        for record in self.instance.get_run_records(dg.RunsFilter(run_ids=list(self.inflight))):
            run = record.dagster_run
            if run.status not in FINISHED:
                continue
            phase, job, scope = self.inflight.pop(run.run_id)
            events = [e.dagster_event for e in self.instance.all_logs(run.run_id) if e.dagster_event is not None]
            seconds = record.end_time - record.start_time if record.end_time and record.start_time else None
            reason = "" if run.status == dg.DagsterRunStatus.SUCCESS else failure_reason(events)
            out.append(Finished(phase, job, materialized(scope, run.run_id, events), run.status.value, seconds, reason))
        # one phase is in flight at a time: by scope within it, so the terminal reads like the pipeline
        return sorted(out, key=lambda f: f.result.scope)
