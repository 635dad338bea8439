"""One access-log line per HTTP request, under a request id the client also sees.

The id is the client's `X-Request-ID` when it is sane (1-128 of `A-Za-z0-9._:-`), else a new
uuid4 hex; the answer echoes it in `X-Request-ID`. While the request runs the id is bound
into every log record (tx/observability.py), so the traceback serving/errors.py logs for a
500 — and the Sentry event made from it — carry the id of the answer the client saw.
"""

import logging
import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tx.observability import REQUEST, RequestInfo

log = logging.getLogger("tx.access")
SANE_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id(scope: Scope) -> str:
    given = next((value for name, value in scope["headers"] if name == b"x-request-id"), b"").decode("latin-1")
    return given if SANE_ID.fullmatch(given) else uuid.uuid4().hex


class RequestLog:
    """Outermost middleware of the app: it sees every answer, the 413s and CORS ones included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        served = getattr(getattr(getattr(scope.get("app"), "state", None), "champion", None), "served", None)
        info = RequestInfo(request_id(scope), scope["method"], scope, model_version=served.version if served else None)
        header = (b"x-request-id", info.request_id.encode())
        status = 500  # what the client gets if nothing answers (the server's own error page)

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        token = REQUEST.set(info)
        try:
            with structlog.contextvars.bound_contextvars(request_id=info.request_id):
                await self.app(scope, receive, sending)
        finally:
            REQUEST.reset(token)
            log.info("http request", extra={"tx_request_id": info.request_id, "method": info.method, "route": info.route,
                                            "status": status, "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                                            "key_id": info.key_id, "model_version": info.model_version})
