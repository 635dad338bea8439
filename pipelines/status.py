"""The orchestrator seen from outside Dagster: background jobs' health and run submission.

The service (another process) reads the Dagster instance for each background job's last
run and lag, and launches jobs through the Dagster webserver's GraphQL API — the same
path the UI's "Materialize" button takes, so a run launched over HTTP is an ordinary
Dagster run: queued, logged and visible in the UI.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._utils.schedules import cron_string_iterator
from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

from pipelines.instance import instance
from tx.settings import Settings

LOCATION = "tx"  # workspace.yaml
REPOSITORY = "__repository__"  # the name Dagster gives a Definitions object


@dataclass(frozen=True)
class Worker:
    name: str
    job: str
    trigger: tuple[str, str]  # (tag, name): the schedule or sensor that starts it
    every_s: float  # expected interval between runs


def workers(settings: Settings) -> list[Worker]:
    return [
        Worker("market scan (intraday)", "series_pipeline", ("dagster/schedule_name", "intraday_scan"), 300),
        Worker("alert scanner", "alert_job", ("dagster/schedule_name", "alert_scanner"), _interval(settings.alert_cron)),
        Worker("nightly backtests", "backtest_job", ("dagster/schedule_name", "nightly_backtests"), _interval(settings.backtest_cron)),
        Worker("news ingestion", "news_job", ("dagster/schedule_name", "news_ingest"), _interval(settings.news_cron)),
        Worker("model monitoring", "monitoring_job", ("dagster/schedule_name", "model_monitoring"), _interval(settings.drift_cron)),
        Worker("online learning", "online_job", ("dagster/schedule_name", "online_learning"), _interval(settings.online_cron)),
        Worker("retraining", "training_job", ("dagster/schedule_name", "retraining"), _interval(settings.train_cron)),
        Worker("champion watch", "champion_job", ("dagster/sensor_name", "champion_sensor"), 60),
    ]


def _interval(cron: str) -> float:
    """Seconds between two fires of the cron (Dagster's own parser, pinned with dagster)."""
    fires = cron_string_iterator(datetime(2026, 1, 5, tzinfo=UTC).timestamp(), cron, "UTC")
    first = next(fires)
    return (next(fires) - first).total_seconds()


@lru_cache(maxsize=1)
def _instance(settings: Settings) -> DagsterInstance:
    return instance(settings)


def _stamp(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def worker_health(settings: Settings) -> dict:
    """Per background job: its last run (any trigger), status, and the lag since the last success."""
    dagster = _instance(settings)
    now = datetime.now(UTC).timestamp()
    out = []
    for w in workers(settings):
        last = dagster.get_run_records(RunsFilter(job_name=w.job), limit=1)
        ok = dagster.get_run_records(RunsFilter(job_name=w.job, statuses=[DagsterRunStatus.SUCCESS]), limit=1)
        scheduled = dagster.get_runs_count(RunsFilter(job_name=w.job, tags={w.trigger[0]: w.trigger[1]}))
        row = {"name": w.name, "job": w.job, "trigger": w.trigger[1], "expected_every_s": w.every_s, "scheduled_runs": scheduled,
               "last_run": None, "last_success_at": None, "lag_s": None, "state": "never ran"}
        if last:
            r = last[0]
            row["last_run"] = {"run_id": r.dagster_run.run_id, "status": r.dagster_run.status.value,
                               "started_at": _stamp(r.start_time), "ended_at": _stamp(r.end_time)}
            row["state"] = "failing" if r.dagster_run.status == DagsterRunStatus.FAILURE else "ok"
        if ok:
            done = ok[0].end_time or ok[0].create_timestamp.timestamp()
            row["last_success_at"], row["lag_s"] = _stamp(done), round(now - done, 1)
            if row["state"] == "ok" and now - done > 2 * w.every_s + 60:
                row["state"] = "late"
        out.append(row)
    beats = dagster.get_daemon_heartbeats()
    daemons = {kind: {"last_heartbeat": _stamp(beat.timestamp), "age_s": round(now - beat.timestamp, 1),
                      "errors": [str(e.message)[:300] for e in (beat.errors or [])]} for kind, beat in beats.items()}
    return {"instance": str(settings.dagster_home_dir), "workers": out, "daemons": daemons}


def latest_drift_share(settings: Settings) -> float | None:
    """The drifted share of the served model's features in the last model_drift report (None: none yet)."""
    event = _instance(settings).get_latest_materialization_event(AssetKey("model_drift"))
    materialization = event.asset_materialization if event else None
    value = materialization.metadata.get("drift_share") if materialization else None
    return getattr(value, "value", None)


def scheduler_heartbeat(settings: Settings) -> dict | None:
    beat = _instance(settings).get_daemon_heartbeats().get("SCHEDULER")
    return None if beat is None else {"last_heartbeat": _stamp(beat.timestamp), "age_s": round(datetime.now(UTC).timestamp() - beat.timestamp, 1)}


log = logging.getLogger("tx.pipelines")


class OrchestratorUnavailable(RuntimeError):
    """The Dagster webserver did not accept the run (not running, or the job is unknown)."""


def submit(settings: Settings, job: str, tags: dict[str, str], run_config: dict | None = None) -> str:
    """Launch `job` through the Dagster webserver; returns the run id."""
    graphql = DagsterGraphQLClient(settings.host, port_number=settings.dagster_port, timeout=30)
    try:
        return graphql.submit_job_execution(job, repository_location_name=LOCATION, repository_name=REPOSITORY,
                                            run_config=run_config or {}, tags=tags)
    except DagsterGraphQLClientError as exc:
        log.warning("the Dagster webserver refused the %s run: %s", job, exc)  # its text may quote the whole GraphQL query
        raise OrchestratorUnavailable(f"the Dagster webserver at {settings.host}:{settings.dagster_port} did not take the "
                                      f"{job} run ({type(exc).__name__}); is `make run` up?") from None
    except Exception as exc:  # connection refused, timeouts: requests/gql errors
        raise OrchestratorUnavailable(f"the Dagster webserver at {settings.host}:{settings.dagster_port} is unreachable "
                                      f"({type(exc).__name__}); `make run` starts it") from None
