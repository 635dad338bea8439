"""The read cache: reuse within the TTL, one build per key under concurrency, off at 0."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from serving.cache import ReadCache


def test_one_build_per_key_under_concurrency_and_expiry():
    cache, builds = ReadCache(0.3), []

    def build():
        builds.append(1)
        time.sleep(0.05)  # slow enough that all callers arrive while it runs
        return len(builds)

    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(lambda _: cache.get("k", build), range(32))) == {1}
    assert len(builds) == 1
    time.sleep(0.35)
    assert cache.get("k", build) == 2  # expired: built again


def test_a_failed_build_is_not_cached_and_does_not_block_the_next():
    cache = ReadCache(10)

    def fail():
        raise ValueError("no")

    with pytest.raises(ValueError):
        cache.get("k", fail)
    assert cache.get("k", lambda: "ok") == "ok"


def test_ttl_zero_never_caches():
    cache, n = ReadCache(0), iter(range(10))
    assert [cache.get("k", lambda: next(n)) for _ in range(3)] == [0, 1, 2]
