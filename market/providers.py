"""The provider interface: candles for (symbol, timeframe, start, end) in the normal form.

Every provider returns `market.frames.conform`-ed frames (possibly empty) and raises
the errors of `market.errors`; the fallback chain decides what to do about them.
"""

from datetime import datetime
from typing import Protocol

import pandas as pd

from market.universe import Series


class Provider(Protocol):
    name: str
    live: bool  # serves current prices (staleness is checked), as opposed to a historical data set

    def supports(self, timeframe: str) -> bool: ...

    def listing(self) -> list[Series]:
        """The series this provider is known to hold; empty when it can serve any symbol."""
        ...

    def fetch(self, symbol: str, timeframe: str, start: datetime | None = None, end: datetime | None = None) -> pd.DataFrame: ...


def between(frame: pd.DataFrame, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    """Bars with start <= timestamp <= end (either bound may be open)."""
    mask = pd.Series(True, index=frame.index)
    if start is not None:
        mask &= frame.index >= pd.Timestamp(start)
    if end is not None:
        mask &= frame.index <= pd.Timestamp(end)
    return frame[mask.to_numpy()]
