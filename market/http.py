"""What the REST providers share: a keyed httpx client, and JSON with status codes mapped
to the errors of market.errors."""

import time
from datetime import datetime
from typing import Any, ClassVar

import httpx
import pandas as pd

from market.errors import BadPayload, NoData, NotConfigured, RateLimited, Unavailable
from market.frames import conform
from market.providers import between
from market.universe import Series


class RestProvider:
    """Base of the keyed REST providers; subclasses name their timeframes and key variable."""

    name: ClassVar[str]
    key_setting: ClassVar[str]
    timeframes: ClassVar[dict[str, Any]]  # our timeframe -> the API's
    live = True

    def __init__(self, api_key: str | None, base_url: str, timeout_s: float = 10.0) -> None:
        self.api_key = api_key
        self.client = httpx.Client(base_url=base_url, timeout=timeout_s)

    def supports(self, timeframe: str) -> bool:
        return timeframe in self.timeframes

    def listing(self) -> list[Series]:
        return []  # any symbol

    def _api_timeframe(self, timeframe: str) -> Any:
        """The API's name for `timeframe`, once the key is known to be there."""
        if not self.api_key:
            raise NotConfigured(self.name, f"no API key (set {self.key_setting})")
        if timeframe not in self.timeframes:
            raise NoData(self.name, f"no {timeframe} bars")
        return self.timeframes[timeframe]


def bars_from(provider: str, symbol: str, rows: pd.DataFrame, unit: str, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    """API rows with fields t (epoch in `unit`), o, h, l, c, v in the normal form's shape;
    anything unparsable is the provider's BadPayload, so the chain falls back."""
    try:
        frame = rows[["t", "o", "h", "l", "c", "v"]].set_axis(["timestamp", "open", "high", "low", "close", "volume"], axis=1)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], unit=unit, utc=True)
        return between(conform(frame, f"{provider} {symbol}"), start, end)
    except (KeyError, ValueError, TypeError, OverflowError) as exc:  # CandleFormatError is a ValueError
        raise BadPayload(provider, f"malformed bars for {symbol}: {type(exc).__name__}: {exc}") from exc


def get_json(client: httpx.Client, provider: str, url: str, params: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return request_json(client, provider, "GET", url, params=params, headers=headers)


def request_json(client: httpx.Client, provider: str, method: str, url: str, **kwargs: Any) -> Any:
    """The JSON body of a request, with HTTP and transport failures mapped to market.errors
    (429 -> RateLimited with the wait the server asked for, 401/403 -> NotConfigured, 404 ->
    NoData, 5xx and timeouts -> Unavailable, other 4xx and non-JSON -> BadPayload)."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise Unavailable(provider, f"timed out ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise Unavailable(provider, f"unreachable ({type(exc).__name__}: {exc})") from exc
    status = response.status_code
    if status == 429:
        raise RateLimited(provider, "rate limited (HTTP 429)", _retry_after(response))
    if status in (401, 403):
        raise NotConfigured(provider, f"API key rejected (HTTP {status}): {_error_text(response)}")
    if status == 404:
        raise NoData(provider, f"not found (HTTP 404): {_error_text(response)}")
    if status >= 500:
        raise Unavailable(provider, f"server error (HTTP {status})")
    if status >= 400:
        raise BadPayload(provider, f"request refused (HTTP {status}): {_error_text(response)}")
    try:
        return response.json()
    except ValueError as exc:
        raise BadPayload(provider, f"malformed JSON body: {response.text[:120]!r}") from exc


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait: Retry-After, or X's x-rate-limit-reset (epoch seconds)."""
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        pass
    try:
        return max(float(response.headers["x-rate-limit-reset"]) - time.time(), 0.0)
    except (KeyError, ValueError):
        return None


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        return str(body.get("error") or body.get("message") or body)[:200]
    return str(body)[:200]
