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


def _execute(
    job: dg.JobDefinition, instance: dg.DagsterInstance, scope: str, partition: str | None = None, log_level: str = "INFO",
) -> Materialized:
    # The job's own run config (the settings' values, pipelines/run_config.py) and the log level.
    own = job.get_run_config_for_partition_key(partition) if partition is not None else job.run_config or {}
    result = job.execute_in_process(
        partition_key=partition, instance=instance, tags={LAUNCHED_BY: "tx"}, run_config={**own, **_logs(log_level)}, raise_on_error=False
    )
    if not result.success:
        failure = next((e for e in result.all_events if e.is_step_failure), None)
        error = failure.step_failure_data.error if failure and failure.step_failure_data else None
        reason = error.message.strip() if error else "see the run in Dagster"
        raise PipelineError(f"{scope}: {reason} (Dagster run {result.run_id})")
    done = Materialized(scope, result.run_id)
    for event in result.all_events:
        if event.is_step_materialization:
            mat = event.materialization
            done.assets[mat.asset_key.to_user_string()] = _values(mat.metadata)
        elif event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            check = event.event_specific_data
            done.checks[f"{check.asset_key.to_user_string()}:{check.check_name}"] = (check.passed, check.description or "")
    return done


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


def materialize_pipeline(
    settings: Settings,
    instance: dg.DagsterInstance,
    universe: list[Series],
    progress: Callable[[str], None] = print,
) -> list[Materialized]:
    """The whole default pipeline: candles per series, the patterns' base rates, features per
    series, then the universe-wide assets (training, then one online step). Stops at the
    first failure."""
    defs = build_definitions(settings)
    done: list[Materialized] = []

    def per_series(job_name: str, what: str) -> None:
        for i, one in enumerate(materialize_series(settings, instance, universe, job_name, "INFO"), 1):
            if isinstance(one, PipelineError):
                raise one
            progress(f"[{i}/{len(universe)}] {what} {one.scope}")
            done.append(one)

    def universe_wide(job_name: str) -> None:
        done.append(_execute(defs.resolve_job_def(job_name), instance, "universe"))

    per_series("candles_job", "candles")
    progress("pattern base rates across the universe ...")
    universe_wide("base_rates_job")
    per_series("features_job", "features, patterns, labels")  # labels: TX_LABEL_HORIZON
    progress("universe-wide assets ...")
    universe_wide("universe_pipeline")
    progress("news and social items of the stored symbols (sources with keys, and <TX_DATA_DIR>/news files) ...")
    universe_wide("news_job")
    progress(f"training the fused model on the {settings.train_timeframes or 'stored'} series (MLflow, then the gate) ...")
    universe_wide("training_job")
    progress("online learning: labels matured since the newest version last learned (skips when too few) ...")
    universe_wide("online_job")
    progress("monitoring: feature drift of the served model (evidently) and its live performance ...")
    universe_wide("monitoring_job")
    progress("backtests: patterns, strategy (out-of-fold probabilities), walk-forward (retrained per window) ...")
    universe_wide("backtest_job")
    progress("alert scan with the champion ...")
    universe_wide("alert_job")
    return done

