"""API keys and rate limits as FastAPI dependencies.

Clients send `X-API-Key`. Writes need a key with the right scope (read < trade < admin);
reads too unless `TX_API_OPEN_READS=true`. Each key (or, for open reads, each client
address) gets a sliding one-minute window of requests; past it, 429 with Retry-After.
The window lives in the worker process: with N workers a key gets at most N times its
limit across them.
"""

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable

from cachetools import TTLCache
from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from serving.errors import ApiError
from store.api_keys import Principal, verify_key
from tx.observability import REQUEST


class RateLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, who: str, per_minute: int) -> None:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(who, deque())
            while hits and hits[0] <= now - 60:
                hits.popleft()
            if len(hits) >= per_minute:
                retry = max(1, int(hits[0] + 60 - now) + 1)
                raise ApiError(429, f"rate limit of {per_minute} requests a minute reached; retry in {retry} s",
                               headers={"Retry-After": str(retry)})
            hits.append(now)


API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey",
                       description="an API key: `tx api-key create --scope read|trade|admin`")
_verified: TTLCache = TTLCache(maxsize=4096, ttl=30)  # a revoked key stops working within 30 s


def principal(state, key: str, scope: str) -> Principal:
    """The key's principal if it holds `scope` (401 unknown or revoked, 403 wrong scope),
    counted against its rate limit (429)."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    found = _verified.get(digest)
    if found is None:
        found = verify_key(state.engine, key)
        if found is None:
            raise ApiError(401, "unknown or revoked API key")
        _verified[digest] = found
    if (request := REQUEST.get()) is not None:
        request.key_id = found.key_id  # the access log and Sentry name the key by id, never by its secret
    if not found.allows(scope):
        raise ApiError(403, f"this key ({found.name}) lacks the {scope} scope")
    state.limiter.check(f"key:{found.key_id}", found.rate_limit_per_minute or state.settings.rate_limit_per_minute)
    return found


def require(scope: str) -> Callable[..., Principal | None]:
    # async: runs on the event loop, not a thread-pool hop per request (it only blocks on a
    # key not seen in the last 30 s, for one indexed lookup)
    async def dependency(request: Request, x_api_key: str | None = Security(API_KEY)) -> Principal | None:
        state = request.app.state
        if x_api_key is None:
            if scope == "read" and state.settings.api_open_reads:
                state.limiter.check(f"ip:{request.client.host if request.client else '?'}", state.settings.rate_limit_per_minute)
                return None
            raise ApiError(401, f"this endpoint needs an API key with the {scope} scope in the X-API-Key header "
                                f"(create one with `tx api-key create --scope {scope}`)")
        return principal(state, x_api_key, scope)

    dependency.scope = scope  # type: ignore[attr-defined] - the spec documents it per operation (serving/openapi.py)
    return dependency
