"""Polygon.io aggregates (https://polygon.io/docs/stocks/get_v2_aggs_ticker__stocksticker__range__multiplier___timespan___from___to)."""

from datetime import UTC, datetime

import pandas as pd

from market.errors import BadPayload
from market.frames import empty
from market.http import RestProvider, bars_from, get_json

SPANS = {"1m": (1, "minute"), "5m": (5, "minute"), "15m": (15, "minute"), "30m": (30, "minute"),
         "1h": (1, "hour"), "4h": (4, "hour"), "1d": (1, "day"), "1w": (1, "week")}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PolygonProvider(RestProvider):
    name = "polygon"
    key_setting = "TX_POLYGON_API_KEY"
    timeframes = SPANS

    def __init__(self, api_key: str | None, base_url: str = "https://api.polygon.io", timeout_s: float = 10.0) -> None:
        super().__init__(api_key, base_url, timeout_s)

    def fetch(self, symbol: str, timeframe: str, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame:
        mult, span = self._api_timeframe(timeframe)
        lo = int(((start or EPOCH) - EPOCH).total_seconds() * 1000)
        hi = int(((end or datetime.now(UTC)) - EPOCH).total_seconds() * 1000)
        url: str | None = f"/v2/aggs/ticker/{symbol}/range/{mult}/{span}/{lo}/{hi}"
        params = {"adjusted": "true", "sort": "asc", "limit": 50000, "apiKey": self.api_key}
        rows: list[dict] = []
        while url:  # results are paged through next_url
            body = get_json(self.client, self.name, url, params)
            if not isinstance(body, dict) or body.get("status") not in ("OK", "DELAYED"):
                raise BadPayload(self.name, f"unexpected body for {symbol}: {str(body)[:200]}")
            page = body.get("results") or []
            if not isinstance(page, list):
                raise BadPayload(self.name, "'results' is not a list")
            rows += page
            url, params = body.get("next_url"), {"apiKey": self.api_key}
        if not rows:
            return empty()
        return bars_from(self.name, symbol, pd.DataFrame(rows), "ms", start, end)

