"""API keys and rate limits as FastAPI dependencies.

Clients send `X-API-Key`. Writes need a key with the right scope (read < trade < admin);
reads too unless `TX_API_OPEN_READS=true`. Each key (or, for open reads, each client
address) gets a sliding one-minute window of requests; past it, 429 with Retry-After.

Where the window lives (`limiter`): with `TX_REDIS_URL` set, in Redis, shared by every
worker of every replica (`RedisRateLimiter`: one sorted set per key, trimmed, counted and
added to in one Lua step on Redis's clock, expiring when idle), so a key gets its limit
across all of them; unset, in each worker process (`RateLimiter`): with N workers a key
gets at most N times its limit. When Redis cannot be reached or refuses, a keyed request
is answered 503 with Retry-After in the one error shape (serving/errors.py), never a 500
and never let through uncounted; for `REDIS_BACKOFF_S` after a failure the limiter answers
503 without trying, so a Redis that hangs does not hold up every request for its timeout.
"""

import hashlib
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable

import redis
from cachetools import TTLCache
from fastapi import Request, Security
from fastapi.security import APIKeyHeader

from serving.errors import ApiError, unavailable
from store.api_keys import Principal, verify_key
from tx.observability import REQUEST
from tx.settings import Settings

log = logging.getLogger("tx.serving")
WINDOW_S = 60
REDIS_TIMEOUT_S = 0.5  # connect and answer; past it the request is answered 503
REDIS_BACKOFF_S = 1.0  # after a Redis failure, answer 503 this long without trying


def _limited(per_minute: int, retry: int) -> ApiError:
    return ApiError(429, f"rate limit of {per_minute} requests a minute reached; retry in {retry} s", headers={"Retry-After": str(retry)})


class RateLimiter:
    """The sliding window in this worker's memory."""

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
                raise _limited(per_minute, max(1, int(hits[0] + WINDOW_S - now) + 1))
            hits.append(now)


# KEYS[1]: the window (a sorted set of request ids scored by their time in microseconds);
# ARGV: window in microseconds, limit, a unique request id. Redis's clock, so replicas' clocks
# do not matter. Returns {1} when counted, {0, oldest, now} when the limit is reached.
SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tonumber(oldest[2]), now}
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
return {1}
"""


class RedisRateLimiter:
    """The sliding window in Redis, shared by every worker and replica that uses `url` and `prefix`."""

    def __init__(self, url: str, prefix: str = "tx:") -> None:
        self.prefix = prefix
        self.client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S,
                                           health_check_interval=30)
        self._script = self.client.register_script(SLIDING_WINDOW)
        self._errors = redis.RedisError
        self._down_until = 0.0

    def key(self, who: str) -> str:
        return f"{self.prefix}ratelimit:{who}"

    def check(self, who: str, per_minute: int) -> None:
        if time.monotonic() < self._down_until:
            raise unavailable(self._errors("still backing off after a failure"))
        try:
            answer = self._script(keys=[self.key(who)], args=[WINDOW_S * 1_000_000, per_minute, uuid.uuid4().hex])
        except self._errors as exc:
            self._down_until = time.monotonic() + REDIS_BACKOFF_S
            log.warning("rate limits: Redis failed (%s); answering 503 for %.0f s", str(exc).splitlines()[0][:200] if str(exc) else
                        type(exc).__name__, REDIS_BACKOFF_S)
            raise unavailable(exc) from None
        if not answer[0]:
            oldest, now = int(answer[1]), int(answer[2])
            raise _limited(per_minute, max(1, (oldest + WINDOW_S * 1_000_000 - now) // 1_000_000 + 1))


def limiter(settings: Settings) -> RateLimiter | RedisRateLimiter:
    """Shared through Redis when TX_REDIS_URL is set, else this worker's own."""
    return RedisRateLimiter(settings.redis_url, settings.redis_prefix) if settings.redis_url else RateLimiter()


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
