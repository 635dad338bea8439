"""What can go wrong when fetching candles, by what the fallback chain should do about it."""


class ProviderError(Exception):
    """A provider could not deliver; `provider` names it."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider


class NoData(ProviderError):
    """The provider does not hold this symbol, timeframe or range: try the next one.

    Not a fault of the provider, so it never counts against its circuit breaker.
    """


class NotConfigured(NoData):
    """The provider needs a setting it does not have (an API key, a folder)."""


class RateLimited(ProviderError):
    """HTTP 429: back off (at least `retry_after` seconds when the server says so)."""

    def __init__(self, provider: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(provider, message)
        self.retry_after = retry_after


class Unavailable(ProviderError):
    """5xx, timeouts, refused connections: the provider is down for now."""


class BadPayload(ProviderError):
    """The provider answered with something that is not candles."""
