"""One error shape for every failure: `{"error": {"code": ..., "message": ...}}`, never a traceback."""

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

log = logging.getLogger("tx.serving")
CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
         409: "conflict", 422: "invalid_request", 429: "rate_limited", 501: "not_implemented", 503: "unavailable"}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code or CODES.get(status, "error"), headers


def body(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


def _where(loc: tuple) -> str:
    return ".".join(str(part) for part in loc if part not in ("body", "query", "path"))


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(body(exc.code, exc.message), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{_where(e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:5]]
        return JSONResponse(body("invalid_request", "; ".join(problems)), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(body(CODES.get(exc.status_code, "error"), str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(body("internal", "internal error: the service log has the details"), status_code=500)
