"""Materialize the whole default pipeline in-process, recorded in the Dagster instance.

`make demo`, `make run` and the end-to-end tests all go through `materialize_pipeline`,
so what they run is the same; the runs show up in the Dagster UI like any other.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from market.universe import Series
from pipelines.definitions import build_definitions
from resources.partitions import partition_key, sync_series
from resources.tags import LAUNCHED_BY
from training.recorder import Recorder
from tx.errors import TxError
from tx.settings import Settings


def _logs(level: str) -> dict:
    return {"loggers": {"console": {"config": {"log_level": level}}}}


class PipelineError(TxError):
    """A materialization failed; the message carries Dagster's reason and the run id."""


@dataclass
class Materialized:
    scope: str  # a series ("SPX:1d") or "universe"
    run_id: str
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)  # asset -> metadata values
    checks: dict[str, tuple[bool, str]] = field(default_factory=dict)  # "asset:check" -> (passed, summary)


def _values(metadata: dict[str, dg.MetadataValue]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def materialized(scope: str, run_id: str, events: Iterable[dg.DagsterEvent]) -> Materialized:
    """What a run materialized and what its checks said, from its events."""
    done = Materialized(scope, run_id)
    for event in events:
        if event.is_step_materialization:
            mat = event.materialization
            done.assets[mat.asset_key.to_user_string()] = _values(mat.metadata)
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            check = event.event_specific_data
            done.checks[f"{check.asset_key.to_user_string()}:{check.check_name}"] = (check.passed, check.description or "")
    return done


def failure_reason(events: Iterable[dg.DagsterEvent]) -> str:
    """The first failed step's error message, as Dagster recorded it."""
    failure = next((e for e in events if e.is_step_failure), None)
    error = failure.step_failure_data.error if failure and failure.step_failure_data else None
    if error is None:
        return "see the run in Dagster"
    while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":  # Dagster's wrapper: the cause says why
        error = error.cause
    return error.message.strip()


def _execute(
    job: dg.JobDefinition, instance: dg.DagsterInstance, scope: str, partition: str | None = None, log_level: str = "INFO",
) -> Materialized:
    # The job's own run config (the settings' values, pipelines/run_config.py) and the log level.
    own = job.get_run_config_for_partition_key(partition) if partition is not None else job.run_config or {}
    result = job.execute_in_process(
        partition_key=partition, instance=instance, tags={LAUNCHED_BY: "tx"}, run_config={**own, **_logs(log_level)}, raise_on_error=False
    )
    if not result.success:
        raise PipelineError(f"{scope}: {failure_reason(result.all_events)} (Dagster run {result.run_id})")
    return materialized(scope, result.run_id, result.all_events)


def materialize_series(
    settings: Settings, instance: dg.DagsterInstance, series: Iterable[Series], job_name: str = "candles_job", log_level: str = "WARNING"
) -> Iterator[Materialized | PipelineError]:
    """Run a per-series job for each series in turn, yielding each result (or failure) as it
    finishes, so that callers can show progress and go on past a failed series."""
    series = list(series)
    sync_series(instance, series)
    job = build_definitions(settings).resolve_job_def(job_name)
    for one in series:
        try:
            yield _execute(job, instance, str(one), partition_key(one), log_level)
        except PipelineError as exc:
            yield exc


@dataclass(frozen=True)
class Phase:
    """One step of the default pipeline: a job, run once per series or once for the universe."""

    job: str
    per_series: bool
    what: str  # what the terminal says it does

    def job_now(self, settings: Settings) -> str:
        """The job to launch now: the backtests run as the champion job once there is a champion,
        so that the champion sensor finds the champion recorded and does not run them again."""
        if self.job == "backtest_job" and Recorder(settings.tracking_uri).champion() is not None:
            return "champion_job"
        return self.job


def phases(settings: Settings) -> list[Phase]:
    """The default pipeline, in order: what `make demo` runs in-process and `make run` launches
    as queued Dagster runs."""
    return [
        Phase("candles_job", True, "candles"),
        Phase("base_rates_job", False, "pattern base rates across the universe"),
        Phase("features_job", True, "features, patterns, labels"),  # labels: TX_LABEL_HORIZON
        Phase("universe_pipeline", False, "universe-wide views (coverage, pattern heatmap)"),
        Phase("news_job", False, "news and social items of the stored symbols (sources with keys, and <TX_DATA_DIR>/news files)"),
        Phase("training_job", False, f"training the fused model on the {settings.train_timeframes or 'stored'} series (MLflow, then the gate)"),
        Phase("rl_job", False, "the RL agent: walk-forward over the fused model's out-of-fold outputs, then its own gate"),
        Phase("online_job", False, "online learning: labels matured since the newest version last learned (skips when too few)"),
        Phase("monitoring_job", False, "monitoring: feature drift of the served model (evidently) and its live performance"),
        Phase("backtest_job", False, "backtests: patterns, strategy (out-of-fold probabilities), walk-forward"),
        Phase("alert_job", False, "alert scan with the champion"),
    ]


def materialize_pipeline(
    settings: Settings,
    instance: dg.DagsterInstance,
    universe: list[Series],
    progress: Callable[[str], None] = print,
) -> list[Materialized]:
    """The whole default pipeline (`phases`), in-process, one phase after the other. Stops at
    the first failure."""
    defs = build_definitions(settings)
    done: list[Materialized] = []
    for phase in phases(settings):
        if phase.per_series:
            for i, one in enumerate(materialize_series(settings, instance, universe, phase.job, "INFO"), 1):
                if isinstance(one, PipelineError):
                    raise one
                progress(f"[{i}/{len(universe)}] {phase.what} {one.scope}")
                done.append(one)
        else:
            progress(f"{phase.what} ...")
            done.append(_execute(defs.resolve_job_def(phase.job_now(settings)), instance, "universe"))
    return done
