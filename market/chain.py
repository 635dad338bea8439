"""The fallback chain: providers in order, each behind retries, a circuit breaker and a cache.

- up to `retries` attempts per provider with exponential backoff on 429 and outages
  (tenacity), waiting at least the server's Retry-After, capped at `backoff_max_s`;
- a circuit breaker per provider (pybreaker): opens after `fail_max` failed fetches in a
  row (a "no data" answer counts as a success and resets the count), refuses calls for
  `reset_timeout_s`, then lets one through to test the water;
- a TTL cache of results (cachetools), 60 s by default;
- health per provider (state, last error, latency) for the service to expose.
"""

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pybreaker
from cachetools import TTLCache
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from market.errors import BadPayload, NoData, ProviderError, RateLimited, Unavailable
from market.files import FileProvider, bundled
from market.frames import empty, stamp_daily
from market.providers import Provider
from market.universe import Series, parse_universe, resolve_universe, timeframe_delta

OFFLINE = ("bundled", "local")
ONLINE = ("yfinance", "polygon", "finnhub")
KNOWN = (*OFFLINE, *ONLINE, "synthetic")


@dataclass(frozen=True)
class MarketConfig:
    """Everything the chain needs, so that `market` never reads settings itself."""

    providers: tuple[str, ...] = OFFLINE
    data_dir: Path | None = None
    polygon_api_key: str | None = None
    finnhub_api_key: str | None = None
    polygon_url: str = "https://api.polygon.io"
    finnhub_url: str = "https://finnhub.io"
    timeout_s: float = 10.0
    cache_ttl_s: float = 60.0
    retries: int = 3
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    fail_max: int = 5
    reset_timeout_s: float = 60.0
    synthetic_bars: int = 2500
    synthetic_seed: int = 0
    synthetic_signal: float = 0.0


@dataclass
class Attempt:
    provider: str
    outcome: str  # ok | empty | no data | rate limited | unavailable | bad payload | breaker open
    detail: str = ""
    latency_s: float = 0.0


@dataclass
class Fetched:
    series: Series
    provider: str
    candles: pd.DataFrame
    live: bool
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def fallbacks(self) -> list[Attempt]:
        """The attempts that did not deliver, in order."""
        return [a for a in self.attempts if a.outcome != "ok"]


@dataclass
class ProviderHealth:
    name: str
    state: str = "closed"  # closed | open | half-open (pybreaker's names)
    calls: int = 0
    failures: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_success_at: datetime | None = None
    last_latency_s: float | None = None


class AllProvidersFailed(ProviderError):
    def __init__(self, series: Series, attempts: list[Attempt]) -> None:
        tried = "; ".join(f"{a.provider}: {a.outcome} ({a.detail})" if a.detail else f"{a.provider}: {a.outcome}" for a in attempts)
        super().__init__("chain", f"no provider delivered {series}: {tried or 'no provider supports it'}")
        self.attempts = attempts


def build_providers(config: MarketConfig) -> list[Provider]:
    from market.finnhub import FinnhubProvider
    from market.polygon import PolygonProvider
    from market.synthetic import SyntheticProvider
    from market.yahoo import YahooProvider

    made: list[Provider] = []
    for name in config.providers:
        if name == "bundled":
            made.append(bundled())
        elif name == "local":
            if config.data_dir is not None:
                made.append(FileProvider(config.data_dir, "local"))
        elif name == "yfinance":
            made.append(YahooProvider(timeout_s=config.timeout_s))
        elif name == "polygon":
            made.append(PolygonProvider(config.polygon_api_key, config.polygon_url, config.timeout_s))
        elif name == "finnhub":
            made.append(FinnhubProvider(config.finnhub_api_key, config.finnhub_url, config.timeout_s))
        elif name == "synthetic":
            made.append(SyntheticProvider(config.synthetic_bars, config.synthetic_seed, config.synthetic_signal))
        else:
            raise ValueError(f"unknown provider {name!r}; expected some of {', '.join(KNOWN)}")
    return made


class _HealthListener(pybreaker.CircuitBreakerListener):
    def __init__(self, health: ProviderHealth) -> None:
        self.health = health

    def state_change(self, cb, old_state, new_state) -> None:
        self.health.state = new_state.name


class Guard:
    """One provider's retries, circuit breaker and health, around any call of it (candles
    here, news items in market/news.py)."""

    def __init__(self, name: str, config: MarketConfig) -> None:
        self.name, self.config = name, config
        self.health = ProviderHealth(name)
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=config.fail_max,
            reset_timeout=config.reset_timeout_s,
            exclude=[NoData],  # "not here" is an answer, not a failure
            listeners=[_HealthListener(self.health)],
            name=name,
            throw_new_error_on_trip=False,
        )

    def run(self, fn, *args) -> tuple[Attempt, Any]:
        """(attempt, value): value is None unless the attempt's outcome is "ok"."""
        health = self.health
        t0 = time.perf_counter()
        health.calls += 1
        try:
            value = self.breaker.call(self._with_retries, fn, *args)
        except pybreaker.CircuitBreakerError:
            health.state = self.breaker.current_state
            return Attempt(self.name, "breaker open", f"cooling down after {self.config.fail_max} failures"), None
        except NoData as exc:
            return Attempt(self.name, "no data", _detail(exc), time.perf_counter() - t0), None
        except ProviderError as exc:
            health.failures += 1
            health.last_error, health.last_error_at = _detail(exc), datetime.now(UTC)
            health.state = self.breaker.current_state
            return Attempt(self.name, _outcome(exc), _detail(exc), time.perf_counter() - t0), None
        latency = time.perf_counter() - t0
        health.last_latency_s, health.last_success_at = latency, datetime.now(UTC)
        return Attempt(self.name, "ok", "", latency), value

    def current(self) -> ProviderHealth:
        self.health.state = self.breaker.current_state
        return self.health

    def _with_retries(self, fn, *args):
        retrying = Retrying(
            retry=retry_if_exception_type((RateLimited, Unavailable)),
            stop=stop_after_attempt(self.config.retries),
            wait=self._wait,
            reraise=True,
        )
        return retrying(fn, *args)

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter, never shorter than the server's Retry-After."""
        backoff = wait_exponential_jitter(initial=self.config.backoff_s, max=self.config.backoff_max_s)(state)
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None) or 0.0
        return min(max(backoff, retry_after), self.config.backoff_max_s)


class ProviderChain:
    def __init__(self, providers: list[Provider], config: MarketConfig | None = None) -> None:
        self.config = config or MarketConfig()
        self.providers = providers
        self._guards = {p.name: Guard(p.name, self.config) for p in providers}
        self._cache: TTLCache = TTLCache(maxsize=256, ttl=self.config.cache_ttl_s)
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: MarketConfig) -> "ProviderChain":
        return cls(build_providers(config), config)

    # -- what is there ------------------------------------------------------------

    def listing(self) -> list[Series]:
        """Series the file-like providers are known to hold."""
        return sorted({s for p in self.providers for s in p.listing()})

    def serves_any_symbol(self, timeframe: str) -> bool:
        return any(not p.listing() and p.supports(timeframe) for p in self.providers)

    def universe(self, text: str | None) -> list[Series]:
        """The configured universe; a series no listed provider holds needs one that serves any symbol."""
        known = self.listing()
        if not text:
            return known
        wanted = parse_universe(text)
        return resolve_universe(text, known + [s for s in wanted if self.serves_any_symbol(s.timeframe)])

    def health(self) -> list[ProviderHealth]:
        return [guard.current() for guard in self._guards.values()]

    # -- fetching -------------------------------------------------------------------

    def fetch(self, series: Series, start: datetime | None = None, end: datetime | None = None) -> Fetched:
        """Bars of `series` in [start, end] from the first provider that has them.

        Empty answers fall through to the next provider; if every provider answers
        empty, the result is empty. Raises AllProvidersFailed when none answered.
        """
        key = (series, start, end)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        attempts: list[Attempt] = []
        first_empty: tuple[Provider, Attempt] | None = None
        for provider in self.providers:
            if not provider.supports(series.timeframe):
                continue
            attempt, frame = self._try(provider, series, start, end)
            attempts.append(attempt)
            if attempt.outcome == "ok":
                result = Fetched(series, provider.name, frame, provider.live, attempts)
                break
            if attempt.outcome == "empty" and first_empty is None:
                first_empty = (provider, attempt)
        else:
            if first_empty is None:
                raise AllProvidersFailed(series, attempts)
            result = Fetched(series, first_empty[0].name, empty(), first_empty[0].live, attempts)
        with self._lock:
            self._cache[key] = result
        return result

    def _try(self, provider: Provider, series: Series, start, end) -> tuple[Attempt, pd.DataFrame | None]:
        attempt, frame = self._guards[provider.name].run(provider.fetch, series.symbol, series.timeframe, start, end)
        if frame is None:
            return attempt, None
        frame = stamp_daily(frame, series.timeframe)  # one stamping convention, whoever served
        if provider.live:  # a live provider also serves the bar still forming: it is not a bar yet
            frame = frame[frame.index + timeframe_delta(series.timeframe) <= datetime.now(UTC)]
        if frame.empty:
            return Attempt(provider.name, "empty", "no bars in range", attempt.latency_s), frame
        return Attempt(provider.name, "ok", f"{len(frame)} bars", attempt.latency_s), frame


def _outcome(exc: ProviderError) -> str:
    if isinstance(exc, RateLimited):
        return "rate limited"
    if isinstance(exc, BadPayload):
        return "bad payload"
    return "unavailable"


def _detail(exc: ProviderError) -> str:
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text
