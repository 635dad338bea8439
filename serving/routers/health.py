"""Health routes: `/health` answers without touching any store; `/health/detailed` checks each."""

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

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
    return JSONResponse({"status": "ok" if healthy else "degraded", "uptime_s": round(time.time() - STARTED, 3), "stores": stores,
                         "model": model}, status_code=200 if healthy else 503)
