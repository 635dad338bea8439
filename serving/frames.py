"""Frames into JSON rows: missing values as null, timestamps as ISO-8601 UTC."""

import pandas as pd

from store.types import iso


def records(frame: pd.DataFrame) -> list[dict]:
    times = [c for c in frame.columns if pd.api.types.is_datetime64_any_dtype(frame[c])]
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    for row in rows:
        for c in times:
            row[c] = iso(row[c])
    return rows
