"""The service's OpenAPI document and Swagger page: the FastAPI app's own spec (OpenAPI 3.1,
valid as what it says it is), with the platform's title, version and description and the
`X-API-Key` scheme that Swagger's Authorize button sends. Served at `/docs.json` (and
`/swagger.json`); the Swagger page at `/` (and `/docs`) uses BentoML's bundled assets."""

from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute, iter_route_contexts

from serving.schemas.common import EARLIEST, LATEST, MAX_BODY_BYTES

TITLE = "TX Predictive Intelligence"
DESCRIPTION = f"""
Trading signals from a five-layer fused model (candlestick patterns, CNN/LSTM, multi-timeframe,
sentiment, a stacking ensemble), tracked in MLflow and orchestrated by Dagster; market data,
patterns, signals, paper trading, alerts and backtests over HTTP, live events over WebSocket (`/api/ws`).

**Keys.** Send `X-API-Key` (Authorize, above). Reads need a `read` key, trading a `trade` key,
training and promotion an `admin` key: `tx api-key create --scope read`. Open without a key:
`/health`, this page, `/docs.json` and `/metrics`.

**Errors.** Every failure answers `{{"error": {{"code", "message", "field"}}}}`: 4xx for bad input
(the message names the field and why), 401/403 for keys, 404 for nothing stored, 409 for a
conflict with the stored state, 413 for a body over {MAX_BODY_BYTES // 1024 // 1024} MiB, 429 with
`Retry-After` past the rate limit, 503 with `Retry-After` while a store or the model is unavailable.

**Limits.** Dates are ISO-8601 with a time zone, between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}; ids are
positive integers up to 2^53 - 1 (exact in every JSON client); numbers in bodies are finite JSON numbers (not strings, not booleans).
""".strip()


def release() -> str:
    try:
        return version("tx-platform")
    except PackageNotFoundError:  # a Bento without the package metadata
        return "0.0.0"


def spec(app: FastAPI) -> dict:
    """The OpenAPI document, built once per process."""
    if app.openapi_schema is None:
        app.openapi_schema = get_openapi(title=TITLE, version=release(), description=DESCRIPTION, routes=app.routes,
                                         tags=[{"name": t} for t in ("health", "market", "patterns", "ml", "signals", "alerts",
                                                                      "paper trading", "outcomes", "backtests", "sentiment", "stats")],
                                         license_info={"name": "Apache-2.0"})
        _document_scopes(app, app.openapi_schema)
        app.openapi_schema["paths"]["/metrics"] = METRICS  # served by BentoML itself, beside the app
    return app.openapi_schema


METRICS = {"get": {"tags": ["health"], "summary": "Prometheus exposition: BentoML's request metrics and the model's (open)",
                   "operationId": "metrics", "responses": {"200": {"description": "Prometheus text format",
                                                                   "content": {"text/plain": {"schema": {"type": "string"}}}}}}}


def _scope_of(dependant) -> str | None:
    for dep in dependant.dependencies:
        found = getattr(dep.call, "scope", None) or _scope_of(dep)
        if found:
            return found
    return None


def _document_scopes(app: FastAPI, document: dict) -> None:
    """`x-scope` and a first sentence on each keyed operation: which key scope it needs."""
    for context in iter_route_contexts(app.routes):  # included routers are nested since FastAPI 0.16x
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        scope = _scope_of(route.dependant)
        for method in route.methods or ():
            op = document["paths"].get(context.path_format, {}).get(method.lower())
            if op is not None and scope:
                op["x-scope"] = scope
                op["description"] = f"Needs an API key with the `{scope}` scope. " + (op.get("description") or "")


def install(app: FastAPI) -> None:
    app.openapi = lambda: spec(app)  # type: ignore[method-assign]

    @app.get("/docs.json", include_in_schema=False)
    @app.get("/swagger.json", include_in_schema=False)
    def openapi_document() -> dict:
        return spec(app)

    @app.get("/", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/docs.json", title=f"{TITLE} — API",
                                   swagger_js_url="/static_content/swagger-ui-bundle.js",
                                   swagger_css_url="/static_content/swagger-ui.css",
                                   swagger_favicon_url="/static_content/favicon-light-32x32.png",
                                   swagger_ui_parameters={"persistAuthorization": True})

    @app.get("/docs", include_in_schema=False)
    def docs_alias() -> RedirectResponse:
        return RedirectResponse("/", status_code=307)


def status_table(document: dict) -> str:
    """docs/API.md's table of what each operation answers, made from the spec itself."""
    lines = ["| method path | key scope | success | errors |", "|---|---|---|---|"]
    for path, operations in sorted(document["paths"].items()):
        for method, op in operations.items():
            codes = sorted(op["responses"])
            ok = [c for c in codes if c.startswith("2")]
            scope = "open" if not op.get("security") else op.get("x-scope", "key")
            lines.append(f"| {method.upper()} `{path}` | {scope} | {', '.join(ok)} | {', '.join(c for c in codes if c not in ok)} |")
    return "\n".join(lines)
