"""Health routes: `/health` answers without touching any store; `/health/detailed` checks
each; the providers' and background workers' health as the pipeline last recorded it."""

import time

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from pipelines.status import scheduler_heartbeat, worker_health
from serving.auth import require
from store.api_keys import Principal
from store.provider_status import load_provider_status
from store.types import iso
from training.tracking import TrackingError, client

STARTED = time.time()
router = APIRouter(tags=["health"])


@router.get("/health")
def liveness() -> dict:
    """Liveness: fast, no dependencies touched."""
    return {"status": "ok", "uptime_s": round(time.time() - STARTED, 3)}


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        detail = check()
        return {"status": "ok", "latency_ms": round(1000 * (time.perf_counter() - started), 2), **(detail or {})}
    except Exception as exc:  # a failing store is reported, not raised
        return {"status": "down", "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}


@router.get("/health/detailed")
def detailed(request: Request) -> JSONResponse:
    """Each store and the served model; 503 when a store is down (load balancers read the code)."""
    state = request.app.state

    def app_db() -> None:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def mlflow() -> None:
        try:
            client(state.settings.tracking_uri)
        except TrackingError as exc:
            raise RuntimeError(str(exc)) from None

    champion = state.champion
    served = champion.served
    model = {"status": "ok" if served else "none", "name": "tx-fused", "version": served.version if served else None,
             "loaded_at": served.loaded_at if served else None, "last_poll": champion.last_poll, "last_error": champion.last_error,
             "poll_s": champion.poll_s}
    stores = {"app_database": _timed(app_db), "mlflow": _timed(mlflow)}
    healthy = all(s["status"] == "ok" for s in stores.values())
    providers = _timed(lambda: {"providers": providers_of(request)}) if healthy else {"status": "unknown"}
    scheduler = _timed(lambda: {"heartbeat": scheduler_heartbeat(state.settings)})
    return JSONResponse({"status": "ok" if healthy else "degraded", "uptime_s": round(time.time() - STARTED, 3), "stores": stores,
                         "model": model, "providers": providers, "scheduler": scheduler}, status_code=200 if healthy else 503)


def providers_of(request: Request) -> list[dict]:
    """Configured providers in fallback order, with what the last fetch recorded (or `unknown`)."""
    settings = request.app.state.settings
    seen = {r["provider"]: r for r in load_provider_status(request.app.state.engine).to_dict(orient="records")}
    out = []
    for name in [*settings.provider_names, *sorted(set(seen) - set(settings.provider_names))]:
        r = seen.get(name)
        out.append({"provider": name, "configured": name in settings.provider_names,
                    "state": r["state"] if r else "unknown", "calls": r["calls"] if r else 0, "failures": r["failures"] if r else 0,
                    "last_error": r["last_error"] if r else None, "last_error_at": iso(r["last_error_at"]) if r else None,
                    "last_success_at": iso(r["last_success_at"]) if r else None,
                    "latency_ms": None if not r or pd.isna(r["last_latency_ms"]) else round(r["last_latency_ms"], 2),
                    "updated_at": iso(r["updated_at"]) if r else None})
    return out


@router.get("/api/provider-health", summary="Per provider: circuit-breaker state, last error, latency (as the last fetch saw them)")
def provider_health(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    return {"providers": providers_of(request)}


@router.get("/api/workers/health", summary="Background jobs (scans, online learning, retraining): last run, status, lag")
def workers_health(request: Request, _: Principal | None = Depends(require("read"))) -> dict:
    return worker_health(request.app.state.settings)
