"""Health routes: `/health` answers without touching any store."""

import time

from fastapi import APIRouter

STARTED = time.time()
router = APIRouter(tags=["health"])


@router.get("/health")
def liveness() -> dict:
    """Liveness: fast, no dependencies touched."""
    return {"status": "ok", "uptime_s": round(time.time() - STARTED, 3)}
