"""Finnhub stock candles (https://finnhub.io/docs/api/stock-candles)."""

from datetime import UTC, datetime

import pandas as pd

from market.errors import BadPayload
from market.frames import empty
from market.http import RestProvider, bars_from, get_json

RESOLUTIONS = {"1m": "1", "5m": "5", "15m": "15", "30m": "30", "1h": "60", "1d": "D", "1w": "W"}


class FinnhubProvider(RestProvider):
    name = "finnhub"
    key_setting = "TX_FINNHUB_API_KEY"
    timeframes = RESOLUTIONS

    def __init__(self, api_key: str | None, base_url: str = "https://finnhub.io", timeout_s: float = 10.0) -> None:
        super().__init__(api_key, base_url, timeout_s)

    def fetch(self, symbol: str, timeframe: str, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        params = {
            "symbol": symbol,
            "resolution": self._api_timeframe(timeframe),
            "from": int(start.timestamp()) if start else 0,
            "to": int((end or datetime.now(UTC)).timestamp()),
            "token": self.api_key,
        }
        body = get_json(self.client, self.name, "/api/v1/stock/candle", params)
        if not isinstance(body, dict) or "s" not in body:
            raise BadPayload(self.name, f"unexpected body for {symbol}: {str(body)[:200]}")
        if body["s"] == "no_data":
            return empty()
        if body["s"] != "ok":
            raise BadPayload(self.name, f"status {body['s']!r} for {symbol}")
        try:
            rows = pd.DataFrame({k: body[k] for k in ("t", "o", "h", "l", "c", "v")})
        except (KeyError, ValueError) as exc:  # a missing array, or arrays of different lengths
            raise BadPayload(self.name, f"malformed candle arrays ({type(exc).__name__}: {exc})") from exc
        return bars_from(self.name, symbol, rows, "s", start, end)
