"""Data drift: do the recent features still look like the ones the model learned from?

evidently's DataDriftPreset compares each feature's recent distribution with a reference
window and picks the test by sample size and type (Kolmogorov-Smirnov p-value, or a
normed Wasserstein distance on large samples); a column drifts when its p-value falls
below the threshold or its distance reaches it. The share of drifted columns is what the
retraining trigger watches.

The reference window is the served model's own past: the last `reference_bars` bars of
each series at or before its knowledge cutoff (when the last label it learned from was
known); the current window is the last `current_bars` bars stored.
"""

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class Drift:
    share: float  # drifted columns / columns compared
    drifted: list[str]
    columns: pd.DataFrame  # column, method, statistic, threshold, drifted
    html: str  # the evidently report, for a person to look at
    reference_rows: int
    current_rows: int


def split_windows(features: pd.DataFrame, cutoff: pd.Timestamp | None, reference_bars: int, current_bars: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference, current) rows of one series' features (index: bar time)."""
    past = features[features.index <= cutoff] if cutoff is not None else features.iloc[:-current_bars]
    return past.tail(reference_bars), features.tail(current_bars)


def comparable(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """Numeric columns with values on both sides and some spread in the reference."""
    numeric = [c for c in reference.columns if c in current.columns and pd.api.types.is_numeric_dtype(reference[c])]
    return [c for c in numeric if reference[c].notna().sum() >= 10 and current[c].notna().sum() >= 10 and reference[c].nunique() > 1]


def data_drift(reference: pd.DataFrame, current: pd.DataFrame) -> Drift:
    """Per-column drift and its share between two feature frames."""
    columns = comparable(reference, current)
    if not columns:
        raise ValueError("no feature column has enough values on both sides to compare")
    ref = reference[columns].replace([np.inf, -np.inf], np.nan).reset_index(drop=True)
    cur = current[columns].replace([np.inf, -np.inf], np.nan).reset_index(drop=True)
    from evidently import Report  # about 6 s to import: only when drift is measured, not where the code location loads
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
    rows = []
    for metric in json.loads(snapshot.json())["metrics"]:
        config = metric.get("config", {})
        if not config.get("type", "").endswith("ValueDrift"):
            continue
        method, statistic, threshold = config.get("method", ""), float(metric["value"]), float(config.get("threshold", np.nan))
        drifted = statistic < threshold if "p_value" in method else statistic >= threshold
        rows.append({"column": config["column"], "method": method, "statistic": statistic, "threshold": threshold, "drifted": bool(drifted)})
    table = pd.DataFrame(rows, columns=["column", "method", "statistic", "threshold", "drifted"])
    return Drift(float(table["drifted"].mean()) if len(table) else 0.0, table.loc[table["drifted"], "column"].tolist(), table,
                 snapshot.get_html_str(as_iframe=False), len(ref), len(cur))
