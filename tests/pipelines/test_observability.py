"""A failed Dagster run arrives in Sentry once, with its run id, job and partition."""

import dagster as dg

from pipelines.observability import failure_sensors, sentry_run_failures
from tx import observability
from tx.settings import load_settings

letters = dg.StaticPartitionsDefinition(["A", "B"])


@dg.asset(partitions_def=letters)
def fragile(context: dg.AssetExecutionContext) -> None:
    raise ValueError(f"cannot read postgresql://tx:hunter2@db.internal:5432/tx for {context.partition_key}")


def test_a_failed_run_arrives_once_with_run_id_job_and_partition(sentry):
    settings = load_settings()
    observability.init_sentry(settings, "dagster")
    assert failure_sensors(settings) == [sentry_run_failures]
    with dg.instance_for_test() as instance:
        result = dg.materialize([fragile], partition_key="B", instance=instance, raise_on_error=False)
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        context = dg.build_run_status_sensor_context(sensor_name=sentry_run_failures.name, dagster_instance=instance,
                                                     dagster_run=run, dagster_event=failure).for_run_failure()
        sentry_run_failures(context)
    events = sentry.events()
    assert len(events) == 1, events  # the step's error logs were breadcrumbs, not events
    event = events[0]
    assert event["tags"]["dagster.run_id"] == result.run_id and event["tags"]["dagster.job"] == run.job_name == "__ephemeral_asset_job__"
    assert event["tags"]["dagster.partition"] == "B" and event["level"] == "error"
    assert "ValueError" in event["message"] and event["contexts"]["failure"]["steps"]["fragile"]
    assert event["release"] == observability.release() and event["environment"] == "development"
    assert "hunter2" not in sentry.raw()  # a database password in an error message is scrubbed


def test_no_dsn_no_sensor():
    assert failure_sensors(load_settings()) == []
