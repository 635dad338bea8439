"""Calls to the session's service (`svc` of tests/serving/conftest.py), shared by the HTTP test
modules: a request with one of its keys, candles as a request body, an idempotent paper order."""

import httpx


def call(svc, method: str, path: str, key: str | None = "read", headers: dict | None = None, **kwargs) -> httpx.Response:
    headers = ({"X-API-Key": svc["keys"][key]} if key else {}) | (headers or {})
    return httpx.request(method, svc["url"] + path, headers=headers, timeout=60, **kwargs)


def as_body(candles) -> list[dict]:
    return [{"timestamp": t.isoformat(), "open": r.open, "high": r.high, "low": r.low, "close": r.close, "volume": r.volume}
            for t, r in candles.iterrows()]


def execute(svc, key: str, body: dict, who: str = "trade") -> httpx.Response:
    return call(svc, "POST", "/api/paper-trade/execute", key=who, json=body, headers={"Idempotency-Key": key})
