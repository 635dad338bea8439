"""Answers of the health routes (serving/routers/health.py). The detailed report names no
host, port, database or driver message: a check says ok or down, how long it took, and a
short generic reason."""

from typing import Literal

from pydantic import BaseModel, Field

from serving.schemas.common import Answer

Status = Literal["ok", "down", "unknown"]


class Liveness(Answer):
    status: Literal["ok"]
    uptime_s: float


class Check(BaseModel):
    status: Status
    latency_ms: float | None = Field(None, description="how long the check took (null when it did not finish)")
    reason: str | None = Field(None, description="why it is down: unreachable, timed out, failed")


class Provider(BaseModel):
    provider: str
    configured: bool
    state: str = Field(description="circuit breaker: closed, open, half_open; unknown before the first fetch")
    calls: int
    failures: int
    last_error: str | None
    last_error_at: str | None
    last_success_at: str | None
    latency_ms: float | None
    updated_at: str | None


class ProvidersCheck(Check):
    providers: list[Provider] | None = None


class Heartbeat(BaseModel):
    last_heartbeat: str | None
    age_s: float


class SchedulerCheck(Check):
    heartbeat: Heartbeat | None = Field(None, description="the Dagster scheduler daemon's last heartbeat (null: none recorded)")


class ModelState(BaseModel):
    status: Literal["ok", "none"]
    name: str
    version: str | None
    loaded_at: str | None
    last_poll: str | None
    last_error: str | None = Field(description="why no model is served, in a few words")
    poll_s: float


class Stores(BaseModel):
    app_database: Check
    mlflow: Check


class HealthReport(Answer):
    status: Literal["ok", "degraded"] = Field(description="degraded (answered 503) when a store is down")
    uptime_s: float
    stores: Stores
    model: ModelState
    providers: ProvidersCheck
    scheduler: SchedulerCheck


class Providers(Answer):
    providers: list[Provider]


class LastRun(BaseModel):
    run_id: str
    status: str
    started_at: str | None
    ended_at: str | None


class WorkerState(BaseModel):
    name: str
    job: str
    trigger: str
    expected_every_s: float
    scheduled_runs: int
    last_run: LastRun | None
    last_success_at: str | None
    lag_s: float | None
    state: Literal["ok", "late", "failing", "never ran"]


class Daemon(BaseModel):
    last_heartbeat: str | None
    age_s: float
    errors: list[str]


class WorkersHealth(Answer):
    instance: str = Field(description="the Dagster instance read")
    workers: list[WorkerState]
    daemons: dict[str, Daemon]
