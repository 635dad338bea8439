"""Aliases clients of the old backend call: `/docs` (Swagger UI) and `/swagger.json`."""

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

router = APIRouter(tags=["docs"], include_in_schema=False)


@router.get("/docs")
def swagger_ui() -> RedirectResponse:
    return RedirectResponse("/", status_code=307)  # BentoML serves Swagger UI at the root


@router.get("/swagger.json")
def openapi(request: Request) -> dict:
    """BentoML's spec (its own routes and every mounted one); the app's own outside a server."""
    spec = getattr(request.app.state, "openapi_spec", None)
    return spec() if spec else request.app.openapi()
