"""Failed Dagster runs reported to Sentry, one event per run, by a run-failure sensor.

The sensor exists only when a DSN is set (TX_SENTRY_DSN / SENTRY_DSN). It runs in the code
server, which loaded pipelines.definitions and so initialised Sentry; Dagster's own step
failure logs are breadcrumbs there, not events (tx/observability.py), so each failed run
arrives once, with its run id, job, partition and the failing steps' errors.
"""

import dagster as dg

from tx.observability import report_failure
from tx.settings import Settings


@dg.run_failure_sensor(name="sentry_run_failures", default_status=dg.DefaultSensorStatus.RUNNING, minimum_interval_seconds=30,
                       description="Reports each failed run of this code location to Sentry (run id, job, partition, errors).")
def sentry_run_failures(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition")
    steps = [(e.step_key, e.event_specific_data.error) for e in context.get_step_failure_events()]
    first = _user_error(steps[0][1]) if steps and steps[0][1] is not None else None
    tags = {"dagster.run_id": run.run_id, "dagster.job": run.job_name, "dagster.partition": partition or "(none)"}
    details = {"run_id": run.run_id, "job": run.job_name, "partition": partition, "message": context.failure_event.message,
               "steps": {step or "?": error.to_string() if error else None for step, error in steps},
               "triggered_by": run.tags.get("dagster/schedule_name") or run.tags.get("dagster/sensor_name")}
    title = f"Dagster run failed: {run.job_name}" + (f" [{partition}]" if partition else "")
    if first is not None:
        title += f": {first.cls_name}: {first.message.strip().splitlines()[0][:200] if first.message.strip() else ''}"
    step = (steps[0][0] or "") if steps else ""
    report_failure(title, tags, details, fingerprint=["dagster-run-failure", run.job_name, step, first.cls_name if first else ""])


def _user_error(error):
    """The asset's own exception under Dagster's wrapping (DagsterExecutionStepExecutionError)."""
    while error.cls_name.startswith("Dagster") and error.cause is not None:
        error = error.cause
    return error


def failure_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    """The run-failure sensor when Sentry is configured; none otherwise (nothing ticks for nothing)."""
    return [sentry_run_failures] if settings.sentry_dsn else []
