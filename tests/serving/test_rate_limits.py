"""Rate limits (serving/auth.py): per worker without Redis; with TX_REDIS_URL one sliding
window per key in Redis, shared by every limiter (worker, replica) on it; an unreachable
Redis answers 503 with Retry-After in the one error shape, never a 500."""

import json

import pytest
import redis
from fastapi.testclient import TestClient

from cli.stores import setup_app_database
from serving.app import create_app
from serving.auth import RateLimiter, RedisRateLimiter
from serving.champion import Champion
from serving.errors import ApiError
from store.api_keys import create_key
from store.db import make_engine
from tx.processes import RUN_WORKERS, bentoml_config, free_port
from tx.settings import load_settings


def outcomes(limiter, who: str, n: int, per_minute: int = 5) -> list[int]:
    """The status each of `n` checks would answer: 200 counted, else the ApiError's."""
    out = []
    for _ in range(n):
        try:
            limiter.check(who, per_minute)
            out.append(200)
        except ApiError as exc:
            out.append(exc.status)
            last = exc
    if out[-1] != 200:
        assert 1 <= int(last.headers["Retry-After"]) <= 60 and "rate limit of 5 requests a minute" in last.message
    return out


def test_without_redis_each_worker_counts_alone():
    a, b = RateLimiter(), RateLimiter()
    assert outcomes(a, "key:1", 3) + outcomes(b, "key:1", 3) == [200] * 6  # two workers: up to twice the limit
    assert outcomes(a, "key:1", 3) == [200, 200, 429]


def test_with_redis_every_limiter_shares_one_window_per_key(redis_server, redis_prefix):
    a, b = RedisRateLimiter(redis_server, redis_prefix), RedisRateLimiter(redis_server, redis_prefix)
    assert outcomes(a, "key:1", 3) + outcomes(b, "key:1", 3) == [200] * 5 + [429]
    assert outcomes(a, "key:1", 1) == [429]
    assert outcomes(a, "key:2", 5) == [200] * 5  # another key, its own window
    assert outcomes(RedisRateLimiter(redis_server, redis_prefix + "other:"), "key:1", 1) == [200]  # another prefix, other windows
    client = redis.Redis.from_url(redis_server)
    ttl = client.pttl(a.key("key:1"))
    assert a.key("key:1") == f"{redis_prefix}ratelimit:key:1" and 0 < ttl <= 60_000  # an idle key expires
    assert client.zcard(a.key("key:1")) == 5  # refused requests are not counted


def test_an_unreachable_redis_is_a_503_with_retry_after_never_a_500(monkeypatch):
    monkeypatch.setenv("TX_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    settings = load_settings()
    setup_app_database(settings)
    key = create_key(make_engine(settings.app_database_url), "read")
    app = create_app(settings, Champion(settings.tracking_uri))
    assert isinstance(app.state.limiter, RedisRateLimiter)
    with TestClient(app) as http:
        for _ in range(2):  # the failure, then the back-off that answers without trying
            answer = http.get("/api/ml/active-version", headers={"X-API-Key": key})
            assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1
            assert answer.json() == {"error": {"code": "store_unavailable", "field": None,
                                               "message": "the rate-limit store (Redis) is unavailable; retry shortly"}}
        assert http.get("/health").status_code == 200  # liveness needs no key, no limit, no Redis


def test_the_service_worker_count_is_set_through_bentoml_config(monkeypatch):
    from cli.platform import servers

    assert RUN_WORKERS == 2
    assert json.loads(bentoml_config(3)["BENTOML_CONFIG_OVERRIDES"]) == {"services": {"tx": {"workers": 3}}}
    monkeypatch.setenv("BENTOML_CONFIG_OVERRIDES", json.dumps({"services": {"tx": {"traffic": {"timeout": 9}}}, "x": 1}))
    merged = json.loads(bentoml_config(2, traffic={"max_concurrency": 1000})["BENTOML_CONFIG_OVERRIDES"])
    assert merged == {"services": {"tx": {"workers": 2, "traffic": {"timeout": 9, "max_concurrency": 1000}}}, "x": 1}
    monkeypatch.delenv("BENTOML_CONFIG_OVERRIDES")
    service = next(s for s in servers(load_settings()) if s.name == "BentoML service")
    assert json.loads(service.env["BENTOML_CONFIG_OVERRIDES"])["services"]["tx"]["workers"] == 2  # `tx run`: 2 by default
    monkeypatch.setenv("TX_SERVE_WORKERS", "3")
    service = next(s for s in servers(load_settings()) if s.name == "BentoML service")
    assert json.loads(service.env["BENTOML_CONFIG_OVERRIDES"])["services"]["tx"]["workers"] == 3


@pytest.mark.parametrize(("var", "value", "message"), [
    ("TX_REDIS_URL", "127.0.0.1:6379", "^TX_REDIS_URL: expected redis://"),
    ("TX_SERVE_WORKERS", "0", "^TX_SERVE_WORKERS"),
])
def test_a_wrong_scaling_setting_is_named(monkeypatch, var, value, message):
    from tx.errors import ConfigError

    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=message):
        load_settings()
