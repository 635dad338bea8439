"""Health routes: `/health` answers without touching any store (open, for liveness probes);
`/health/detailed` (a read key) checks each store at once, each within CHECK_TIMEOUT_S, and
says ok or down with a generic reason — never a host, port, database name or driver message
(those go to the service log); the providers' and background workers' health as the pipeline
last recorded it."""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Late

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from pipelines.status import latest_drift_share, scheduler_heartbeat, worker_health
from serving import metrics
from serving.auth import require
from serving.deps import STARTED, providers_of
from serving.errors import RETRY_AFTER_S, unavailable
from serving.schemas.common import AUTH, RETRY_AFTER, ErrorBody, errors
from serving.schemas.health import HealthReport, Liveness, Providers, WorkersHealth
from store.api_keys import Principal
from store.db import first_line
from training.recorder import Recorder

log = logging.getLogger("tx.serving")
router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 4.0  # the longest the detailed report waits for its checks (they run at once; a cold Dagster instance takes ~2 s)
_checks = ThreadPoolExecutor(max_workers=8, thread_name_prefix="health")  # a check that hangs past its time finishes here, unawaited

DEGRADED = {"model": HealthReport | ErrorBody,
            "headers": RETRY_AFTER,
            "description": "A store is down: the same report with status `degraded` (or, when the key itself cannot be checked "
                           "because the app database is down, the error shape)"}


@router.get("/health", response_model=Liveness, summary="Liveness: fast, no store touched, no key needed")
def liveness() -> dict:
    """Liveness: fast, no dependencies touched."""
    return {"status": "ok", "uptime_s": round(time.time() - STARTED, 3)}


def _reason(exc: BaseException) -> str:
    # the same test as every route's 503 (serving/errors.py); OSError: a socket refused, reset or timed out
    return "unreachable" if unavailable(exc) is not None or isinstance(exc, OSError) else "failed"


def _run_checks(checks: dict) -> dict[str, dict]:
    """Each check at once; one that does not finish within CHECK_TIMEOUT_S is `down: timed out`."""
    started = time.perf_counter()
    futures = {name: _checks.submit(_timed, name, check) for name, check in checks.items()}
    out = {}
    for name, future in futures.items():
        try:
            out[name] = future.result(timeout=max(0.0, CHECK_TIMEOUT_S - (time.perf_counter() - started)))
        except Late:
            future.cancel()  # still queued behind hung checks: drop it rather than run it for nobody
            log.warning("health check %s did not answer within %.0f s", name, CHECK_TIMEOUT_S)
            out[name] = {"status": "down", "latency_ms": None, "reason": "timed out"}
    return out


def _timed(name: str, check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
    except Exception as exc:  # a failing store is reported, not raised; its details go to the log only
        log.warning("health check %s failed: %s", name, first_line(exc)[:300])
        return {"status": "down", "latency_ms": round(1000 * (time.perf_counter() - started), 2), "reason": _reason(exc)}
    return {"status": "ok", "latency_ms": round(1000 * (time.perf_counter() - started), 2), "reason": None, **(detail or {})}


@router.get("/health/detailed", response_model=HealthReport, summary="Each store, the served model, providers and the scheduler",
            responses={**errors(*AUTH), 503: DEGRADED})
def detailed(request: Request, _: Principal | None = Depends(require("read"))) -> JSONResponse:
    """Each store and the served model; 503 (with Retry-After) when a store is down — load balancers read the code."""
    state = request.app.state

    def app_db() -> None:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def mlflow() -> None:
        Recorder(state.settings.tracking_uri).check()

    checked = _run_checks({"app_database": app_db, "mlflow": mlflow, "providers": lambda: {"providers": providers_of(request)},
                           "scheduler": lambda: {"heartbeat": scheduler_heartbeat(state.settings)}})
    stores = {"app_database": checked["app_database"], "mlflow": checked["mlflow"]}
    healthy = all(s["status"] == "ok" for s in stores.values())
    providers = checked["providers"] if healthy else {"status": "unknown", "latency_ms": None, "reason": "the app database is down"}
    champion = state.champion
    served = champion.served
    why = champion.last_error or champion.why_not_served
    last_error = why.split(":", 1)[0] if why else None  # "MLflow unreachable", not the driver's text
    model = {"status": "ok" if served else "none", "name": "tx-fused", "version": served.version if served else None,
             "loaded_at": served.loaded_at if served else None, "last_poll": champion.last_poll, "last_error": last_error,
             "poll_s": champion.poll_s}
    report = {"status": "ok" if healthy else "degraded", "uptime_s": round(time.time() - STARTED, 3), "stores": stores,
              "model": model, "providers": providers, "scheduler": checked["scheduler"]}
    return JSONResponse(report, status_code=200 if healthy else 503, headers=None if healthy else {"Retry-After": str(RETRY_AFTER_S)})


@router.get("/api/provider-health", summary="Per provider: circuit-breaker state, last error, latency (as the last fetch saw them)",
            response_model=Providers, responses=errors(*AUTH))
def provider_health(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    return {"providers": providers_of(request)}


@router.get("/api/workers/health", summary="Background jobs (scans, online learning, retraining): last run, status, lag",
            response_model=WorkersHealth, responses=errors(*AUTH))
def workers_health(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    settings = request.app.state.settings
    report = worker_health(settings)
    metrics.workers(report, latest_drift_share(settings))  # the lag and drift gauges of deploy/prometheus/rules.yml
    return report


@router.get("/api/debug/error", include_in_schema=False)
def deliberate_error(_: Principal | None = Depends(require("admin"))) -> dict:
    """A deliberate 500 for an admin checking error reporting end to end (the log line under
    the request id, the Sentry event): not part of the contract, never in the spec."""
    raise RuntimeError("deliberate error from /api/debug/error: checking error reporting")
