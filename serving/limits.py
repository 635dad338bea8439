"""Request-size limit and JSON answers for paths nothing serves, as ASGI middleware."""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving.errors import body
from serving.schemas.common import MAX_BODY_BYTES


class BodyLimit:
    """413 for a body over `limit` bytes, by its Content-Length or as it streams in."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        payload = json.dumps(body("too_large", f"the request body is over the {self.limit:,}-byte limit")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})


class TooLarge(Exception):
    pass


class JsonNotFound:
    """BentoML answers paths and methods nothing serves in plain text: answer in the one
    error shape instead (wraps the whole BentoML app)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        replacing = False

        async def sending(message: Message) -> None:
            nonlocal replacing
            if message["type"] == "http.response.start" and message["status"] in (404, 405):
                headers = dict(message.get("headers") or [])
                if not headers.get(b"content-type", b"").startswith(b"application/json"):
                    replacing = True
                    status = message["status"]
                    text = (f"no route {scope.get('method')} {scope.get('path')}: /docs.json lists the API" if status == 404
                            else f"{scope.get('method')} is not allowed on {scope.get('path')}")
                    payload = json.dumps(body("not_found" if status == 404 else "method_not_allowed", text)).encode()
                    kept = [(k, v) for k, v in message.get("headers") or [] if k.lower() in (b"allow",)]
                    await send({"type": "http.response.start", "status": status,
                                "headers": [*kept, (b"content-type", b"application/json"),
                                            (b"content-length", str(len(payload)).encode())]})
                    await send({"type": "http.response.body", "body": payload})
                    return
            if replacing:
                return  # the plain-text body is dropped
            await send(message)

        await self.app(scope, receive, sending)
