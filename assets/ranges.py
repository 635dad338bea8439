"""A per-series asset over one series or over a range of them (a single-run backfill).

Each series is computed on its own (`SeriesResult`); here its results become the step's:
the output (a series' frame, or a dict of them keyed by partition key, which the frames IO
manager writes one file each), the metadata (a series' own, or a per-series table), and the
check results. Dagster 1.13 records a check result of a range step without a partition, once
per check: over a range, a check passes when it passed on every series, and says which failed.
With one series every value is exactly what the asset reported before ranges existed.
"""

from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from market.universe import Series
from resources.partitions import partition_key


@dataclass
class SeriesResult:
    series: Series
    value: Any = None  # the series' frame (None: the asset has no output)
    metadata: dict[str, Any] = field(default_factory=dict)
    checks: list[dg.AssetCheckResult] = field(default_factory=list)


def output_value(results: list[SeriesResult]) -> Any:
    values = {partition_key(r.series): r.value for r in results}
    return next(iter(values.values())) if len(values) == 1 else values


def _cell(value: Any) -> str | None:
    if isinstance(value, dg.MarkdownMetadataValue):
        return None  # tables, charts: in a single-series run's metadata only (a chart is one line of base64)
    value = getattr(value, "value", value)
    if isinstance(value, bool | int | str) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return None  # tables, charts, json: in a single-series run's metadata only


def metadata(results: list[SeriesResult]) -> dict[str, Any]:
    if len(results) == 1:
        return results[0].metadata
    columns = [k for k in results[0].metadata if _cell(results[0].metadata[k]) is not None and "\n" not in _cell(results[0].metadata[k])]
    rows = ["| series | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    rows += [f"| {r.series} | " + " | ".join(_cell(r.metadata.get(c)) or "" for c in columns) + " |" for r in results]
    return {"series": dg.MetadataValue.int(len(results)), "per_series": dg.MetadataValue.md("\n".join(rows))}


def checks(results: list[SeriesResult]) -> list[dg.AssetCheckResult]:
    """One result per check: a series' own, or over a range, passed when every series passed."""
    if len(results) == 1:
        return results[0].checks
    merged: dict[str, list[tuple[Series, dg.AssetCheckResult]]] = {}
    for r in results:
        for c in r.checks:
            merged.setdefault(c.check_name, []).append((r.series, c))
    out = []
    for name, found in merged.items():
        failing = [(s, c) for s, c in found if not c.passed]
        description = (f"passed on all {len(found)} series" if not failing else
                       f"failed on {len(failing)} of {len(found)} series: " + "; ".join(f"{s}: {c.description}" for s, c in failing))
        out.append(dg.AssetCheckResult(
            check_name=name, passed=not failing, severity=(failing or found)[0][1].severity, description=description,
            metadata={"series": dg.MetadataValue.json({str(s): {"passed": bool(c.passed), "summary": c.description or ""} for s, c in found})},
        ))
    return out
