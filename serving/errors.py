"""One error shape for every failure: `{"error": {"code", "message", "field"}}`, never a traceback.

The failure model: bad input is a 4xx naming the field; a store that cannot be reached (the
app database, MLflow, the Redis of shared rate limits) is a 503 with Retry-After naming which store; anything else is a 500
that is logged with its traceback and answered in the same shape. No handler re-raises, so a
keep-alive connection stays usable after any error answer.
"""

import logging

from fastapi import FastAPI, Request
from redis import RedisError
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from store.db import first_line
from training.recorder import TrackingError

log = logging.getLogger("tx.serving")
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 413: "too_large", 422: "invalid_request", 429: "rate_limited", 501: "not_implemented",
         503: "unavailable"}
RETRY_AFTER_S = 5  # how long a client should wait after a store outage before retrying


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None,
                 field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers, self.field = status, message, code or CODES.get(status, "error"), headers, field


def body(code: str, message: str, field: str | None = None) -> dict:
    return {"error": {"code": code, "message": message, "field": field}}


def _where(loc: tuple) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path", "header"))


def unavailable(exc: BaseException) -> ApiError | None:
    """The 503 for an exception that means a store is unreachable (None when it is not one)."""
    if isinstance(exc, PoolTimeout) or (isinstance(exc, DBAPIError) and (exc.connection_invalidated or _is_connection(exc))):
        return ApiError(503, "the app database is unavailable; retry shortly", "store_unavailable",
                        headers={"Retry-After": str(RETRY_AFTER_S)})
    if isinstance(exc, TrackingError):
        return ApiError(503, "the MLflow tracking store is unavailable; retry shortly", "store_unavailable",
                        headers={"Retry-After": str(RETRY_AFTER_S)})
    if isinstance(exc, RedisError):  # refused, timed out, or refusing writes (OOM, a read-only replica): no request goes uncounted
        return ApiError(503, "the rate-limit store (Redis) is unavailable; retry shortly", "store_unavailable",
                        headers={"Retry-After": str(RETRY_AFTER_S)})
    return None


def _is_connection(exc: DBAPIError) -> bool:
    """Connection refused, reset, closed or timed out (psycopg and sqlite3 both raise
    OperationalError for these, as for a locked SQLite file)."""
    return isinstance(exc, OperationalError | InterfaceError)


def answer(exc: BaseException, request_path: str = "?") -> JSONResponse:
    """The error answer for any exception (used by the handlers and the catch-all)."""
    if isinstance(exc, ApiError):
        return JSONResponse(body(exc.code, exc.message, exc.field), status_code=exc.status, headers=exc.headers)
    store = unavailable(exc)
    if store is not None:
        log.warning("store unavailable on %s: %s", request_path, first_line(exc)[:300])
        return answer(store)
    log.error("unexpected error on %s", request_path, exc_info=exc)
    return JSONResponse(body("internal", "internal error: the service log has the details"), status_code=500)


class CatchAll:
    """Innermost safety net: an exception no handler took becomes the one error answer here,
    instead of reaching Starlette's ServerErrorMiddleware, which answers and then re-raises
    (the server then drops the keep-alive connection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:  # noqa: BLE001 - the one place that turns any failure into an answer
            if started:  # the answer is half sent: nothing sensible can follow; log it, close quietly
                log.error("error after the answer started on %s", scope.get("path"), exc_info=exc)
                return
            await answer(exc, scope.get("path", "?"))(scope, receive, send)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return answer(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = exc.errors()
        fields = [_where(e["loc"]) or "body" for e in problems]
        message = "; ".join(f"{f}: {e['msg']}" for f, e in zip(fields[:5], problems[:5], strict=False))
        return JSONResponse(body("invalid_request", message, fields[0] if fields else None), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's own: a body it could not decode (not UTF-8): invalid input like any other
            return JSONResponse(body("invalid_request", f"body: {exc.detail} (send UTF-8 JSON)", "body"), status_code=422)
        return JSONResponse(body(CODES.get(exc.status_code, "error"), str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    app.add_middleware(CatchAll)
