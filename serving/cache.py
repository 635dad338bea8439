"""Short-lived per-worker caches for the hot reads: market data and a symbol's score.

Candles change once a bar (minutes to days) while clients poll many times a second, so a
worker may answer the same read from memory for `TX_READ_CACHE_S` seconds (default 1;
0 turns caching off). Answers carry their `as_of` bar and `Cache-Control: max-age`, so a
client knows how fresh they are. Writes made through the API (outcomes, promotions) are
never behind a cache: their reads are not cached.
"""

import math
import threading
from collections.abc import Callable, Hashable
from typing import Any

from cachetools import TTLCache
from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response


class ReadCache:
    def __init__(self, ttl_s: float, maxsize: int = 4096) -> None:
        self.ttl_s = ttl_s
        self._store: TTLCache | None = TTLCache(maxsize=maxsize, ttl=ttl_s) if ttl_s > 0 else None
        self._lock = threading.Lock()
        self._building: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """The cached value of `key`, or `build()` (stored for ttl_s seconds). One build per
        key at a time: when an entry expires under load, the other requests wait for that
        build instead of all computing the same answer at once."""
        if self._store is None:
            return build()
        with self._lock:
            hit = self._store.get(key)
            if hit is not None:
                return hit
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                hit = self._store.get(key)
            if hit is None:
                try:
                    hit = build()
                finally:
                    with self._lock:
                        self._building.pop(key, None)
                with self._lock:
                    self._store[key] = hit
        return hit

    def response(self, request: Request, build: Callable[[], dict]) -> Response:
        """A JSON read keyed by its path and query, encoded once per ttl_s."""
        key = (request.url.path, tuple(sorted(request.query_params.multi_items())))
        body = self.get(key, lambda: JSONResponse(jsonable_encoder(build())).body)
        headers = {"Cache-Control": f"max-age={math.ceil(self.ttl_s)}"} if self._store is not None else None
        return Response(body, media_type="application/json", headers=headers)
