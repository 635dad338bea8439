"""Realized outcomes of signals, alerts, trades, predictions and detections, logged by clients."""

from fastapi import APIRouter, Depends, Request

from serving.auth import require
from serving.deps import pattern_name
from serving.errors import ApiError
from serving.schemas.common import AUTH, errors
from serving.schemas.outcomes import OutcomeIn, OutcomeLogged
from store.api_keys import Principal
from store.outcomes import log_outcome

router = APIRouter(prefix="/api/outcomes", tags=["outcomes"], responses=errors(*AUTH))


@router.post("/log", status_code=201, summary="Record the realized outcome of a signal, alert, trade, prediction or detection",
             response_model=OutcomeLogged)
def log(request: Request, body: OutcomeIn, _: Principal | None = Depends(require("trade"))) -> dict:
    """422 `no_outcome`: neither `hit` nor `realized_return` given; `unknown_pattern`: a pattern
    /api/patterns/list does not have."""
    if body.hit is None and body.realized_return is None:
        raise ApiError(422, "give `hit`, `realized_return` or both: an outcome without either says nothing", "no_outcome", field="hit")
    row = body.model_dump()
    if body.pattern is not None:
        row["pattern"] = pattern_name(body.pattern)
    if row["hit"] is None:
        row["hit"] = row["realized_return"] > 0
    return {"id": log_outcome(request.app.state.engine, row), **row, "resolved_at": body.resolved_at.isoformat()}
