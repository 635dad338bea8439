"""features, patterns and labels per (symbol, timeframe); the pattern heatmap across the universe.

Thin over `features/`: the assets read stored candles, call the pure functions and store
the frames as Parquet (IO manager `frames`); detections also go to the app database.
"""

import zlib

import dagster as dg
import numpy as np
import pandas as pd

from assets.candles import candles
from assets.plots import heatmap
from features import BaseRates, LabelSpec, build_features, triple_barrier
from features.labels import with_spec
from features.patterns import detections, pooled_outcomes
from features.pit import leaks
from assets import ranges
from assets.ranges import SeriesResult
from resources.partitions import SERIES_BACKFILL, series_in, series_partitions
from resources.stores import AppDatabase
from store.candles import coverage, load_candles
from store.patterns import load_detections, replace_detections


class FeatureConfig(dg.Config):
    pit_samples: int = 5  # cut points re-computed by the point_in_time check on each run


class LabelConfig(dg.Config):
    """features.labels.LabelSpec's fields as launch config, with its defaults (a test keeps them equal)."""

    horizon: int = 10  # bars looked ahead: TX_LABEL_HORIZON (a run gets it from pipelines/run_config.py)
    take_profit: float = 2.0
    stop_loss: float = 2.0
    mode: str = "atr"  # "atr": multiples of ATR(14); "pct": fractions of the entry price

    def spec(self) -> LabelSpec:
        return LabelSpec(horizon=self.horizon, take_profit=self.take_profit, stop_loss=self.stop_loss, mode=self.mode)


def _preview(frame: pd.DataFrame, columns: list[str]) -> dg.MetadataValue:
    return dg.MetadataValue.md(frame[columns].tail(5).round(4).to_markdown())


def _frame_metadata(frame: pd.DataFrame) -> dict:
    meta = {"rows": dg.MetadataValue.int(len(frame)), "columns": dg.MetadataValue.int(frame.shape[1]),
            "nan_share": dg.MetadataValue.float(round(float(frame.isna().to_numpy().mean()), 4) if frame.size else 0.0)}
    if len(frame):
        meta |= {"first_bar": dg.MetadataValue.timestamp(frame.index[0].to_pydatetime()),
                 "last_bar": dg.MetadataValue.timestamp(frame.index[-1].to_pydatetime())}
    return meta


@dg.asset(
    deps=[candles],
    group_name="features",
    io_manager_key="frames",
    kinds={"pandas", "parquet"},
    description="Every matured pattern detection of every stored series (pattern, when its outcome was known, hit): "
    "the patterns' global hit rates, looked up point in time by the confidences.",
)
def pattern_base_rates(app_db: AppDatabase) -> dg.Output[pd.DataFrame]:
    stored = coverage(app_db.engine)
    table = pooled_outcomes((load_candles(app_db.engine, row.symbol, row.timeframe), row.timeframe) for row in stored.itertuples())
    rates = table.groupby("pattern")["hit"].agg(["size", "mean"]).rename(columns={"size": "outcomes", "mean": "hit_rate"})
    return dg.Output(table, metadata={
        "outcomes": dg.MetadataValue.int(len(table)),
        "series": dg.MetadataValue.int(len(stored)),
        "rates_now": dg.MetadataValue.md(rates.sort_values("outcomes", ascending=False).head(15).round(3).to_markdown() if len(rates) else "none"),
    })


# What the per-series frames share: partitions, the candles they read, where they are stored.
# A step computes one series, or each series of a range (a single-run backfill; assets/ranges.py).
PER_SERIES = {"partitions_def": series_partitions, "backfill_policy": SERIES_BACKFILL, "deps": [candles], "group_name": "features",
              "io_manager_key": "frames"}


@dg.asset(
    **PER_SERIES,
    kinds={"pandas", "parquet"},
    check_specs=[
        dg.AssetCheckSpec("point_in_time", asset="features", blocking=True,
                          description="recomputed on candles cut at sampled bars t, the row at t is unchanged"),
        dg.AssetCheckSpec("finite", asset="features", blocking=True, description="no infinite value"),
    ],
    description="Indicators, 61 candlestick patterns with point-in-time confidences and higher-timeframe features.",
)
def features(context: dg.AssetExecutionContext, config: FeatureConfig, app_db: AppDatabase, pattern_base_rates: pd.DataFrame):
    rates = BaseRates(pattern_base_rates)
    results = [_features(series, config, app_db, rates) for series in series_in(context)]
    yield dg.Output(ranges.output_value(results), metadata=ranges.metadata(results))
    yield from ranges.checks(results)


def _features(series, config: FeatureConfig, app_db: AppDatabase, rates: BaseRates) -> SeriesResult:
    bars = load_candles(app_db.engine, series.symbol, series.timeframe)

    def build(candles: pd.DataFrame, timeframe: str) -> pd.DataFrame:
        return build_features(candles, timeframe, rates)

    frame = build(bars, series.timeframe)
    rng = np.random.default_rng(zlib.crc32(str(series).encode()))  # the same cut points on every run
    cuts = rng.choice(np.arange(len(bars)), size=min(config.pit_samples, len(bars)), replace=False) if len(bars) else []
    leaked = leaks(bars, series.timeframe, cuts, build=build, full=frame)
    infinite = int(np.isinf(frame.to_numpy()).sum())
    return SeriesResult(series, frame, _frame_metadata(frame) | {
        "preview": _preview(frame, ["ret_1", "rsi_14", "natr_14", "ema_dist_50", "cdl_count", "cdl_net_conf"]),
    }, [
        dg.AssetCheckResult(
            check_name="point_in_time", passed=not leaked,
            description=f"{len(cuts)} cut point(s) re-computed; " + ("no leak" if not leaked else f"leaking: {sorted({c for c, _ in leaked})}"),
            metadata={"cut_points": [str(bars.index[i]) for i in sorted(cuts)]},
        ),
        dg.AssetCheckResult(check_name="finite", passed=infinite == 0, description=f"{infinite} infinite value(s)"),
    ])


@dg.asset(
    **PER_SERIES,
    kinds={"pandas", "parquet", "sql"},
    description="Every candlestick-pattern detection with direction, strength and point-in-time confidence; also in the pattern_detections table.",
)
def patterns(context: dg.AssetExecutionContext, app_db: AppDatabase, pattern_base_rates: pd.DataFrame) -> dg.Output:
    prior = BaseRates(pattern_base_rates)
    results = [_patterns(series, app_db, prior) for series in series_in(context)]
    return dg.Output(ranges.output_value(results), metadata=ranges.metadata(results))


def _patterns(series, app_db: AppDatabase, prior: BaseRates) -> SeriesResult:
    bars = load_candles(app_db.engine, series.symbol, series.timeframe)
    found = detections(bars, series.timeframe, prior=prior)
    stored = replace_detections(app_db.engine, series.symbol, series.timeframe, found)
    top = found.groupby("pattern").agg(count=("ts", "size"), last_confidence=("confidence", "last")).sort_values("count", ascending=False)
    return SeriesResult(series, found, {
        "detections": dg.MetadataValue.int(stored),
        "patterns_seen": dg.MetadataValue.int(found["pattern"].nunique()),
        "top_patterns": dg.MetadataValue.md(top.head(10).round(3).to_markdown()),
    })


@dg.asset(
    **PER_SERIES,
    kinds={"pandas", "parquet"},
    check_specs=[dg.AssetCheckSpec("future_unlabeled", asset="labels", blocking=True,
                                   description="the last `horizon` bars carry no label")],
    description="Triple-barrier labels (take-profit / stop-loss / horizon) and the plain horizon return. They look forward: never features.",
)
def labels(context: dg.AssetExecutionContext, config: LabelConfig, app_db: AppDatabase):
    results = [_labels(series, config, app_db) for series in series_in(context)]
    yield dg.Output(ranges.output_value(results), metadata=ranges.metadata(results))
    yield from ranges.checks(results)


def _labels(series, config: LabelConfig, app_db: AppDatabase) -> SeriesResult:
    bars = load_candles(app_db.engine, series.symbol, series.timeframe)
    spec = config.spec()
    frame = with_spec(triple_barrier(bars, spec), spec)  # the spec travels with the Parquet file to the training asset
    counts = frame["label"].value_counts(dropna=False)
    tail = frame["label"].iloc[-config.horizon :]
    return SeriesResult(series, frame, _frame_metadata(frame) | {
        "take_profit_share": dg.MetadataValue.float(round(float((frame["barrier"] == 1).mean()), 4)),
        "stop_loss_share": dg.MetadataValue.float(round(float((frame["barrier"] == -1).mean()), 4)),
        "label_counts": dg.MetadataValue.json({str(k): int(v) for k, v in counts.items()}),
        "preview": _preview(frame.dropna(), list(frame.columns)),
    }, [dg.AssetCheckResult(check_name="future_unlabeled", passed=bool(tail.isna().all()),
                            description=f"last {config.horizon} bar(s): {int(tail.notna().sum())} labeled")])


class HeatmapConfig(dg.Config):
    window_bars: int = 250  # the recent window per series


@dg.asset(
    deps=[patterns],
    group_name="features",
    io_manager_key="frames",
    kinds={"pandas", "parquet"},
    description="Symbol x timeframe x pattern: detections and mean confidence over each series' recent window.",
)
def pattern_heatmap(config: HeatmapConfig, app_db: AppDatabase) -> dg.Output[pd.DataFrame]:
    found = load_detections(app_db.engine)
    rows = []
    for (symbol, timeframe), group in found.groupby(["symbol", "timeframe"]):
        bars = load_candles(app_db.engine, symbol, timeframe)
        if bars.empty:
            continue
        recent = group[group["ts"] >= bars.index[max(0, len(bars) - config.window_bars)]]
        stats = recent.groupby("pattern").agg(detections=("ts", "size"), mean_confidence=("confidence", "mean"), net_direction=("direction", "mean"))
        rows.append(stats.reset_index().assign(series=f"{symbol}:{timeframe}"))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["series", "pattern", "detections", "mean_confidence", "net_direction"])
    table = table[["series", "pattern", "detections", "mean_confidence", "net_direction"]]
    matrix = table.pivot_table(index="series", columns="pattern", values="detections", fill_value=0) if len(table) else pd.DataFrame()
    meta = {"series": dg.MetadataValue.int(int(table["series"].nunique()) if len(table) else 0),
            "patterns": dg.MetadataValue.int(int(table["pattern"].nunique()) if len(table) else 0)}
    if not matrix.empty:
        meta["heatmap"] = dg.MetadataValue.md(heatmap(matrix, f"detections in the last {config.window_bars} bars"))
    return dg.Output(table, metadata=meta)
