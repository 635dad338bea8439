"""data_coverage: symbol x timeframe spans, gaps and providers of the stored candles."""

import dagster as dg
import pandas as pd

from assets.candles import candles
from market.quality import missing_bars
from resources.stores import AppDatabase
from store.candles import coverage, load_candles, providers_by_series


@dg.asset(
    deps=[candles],
    group_name="market",
    kinds={"pandas", "parquet"},
    io_manager_key="frames",
    description="Per stored series: bars, first/last bar, gap count, longest gap and providers.",
)
def data_coverage(context: dg.AssetExecutionContext, app_db: AppDatabase) -> dg.Output[pd.DataFrame]:
    engine = app_db.engine
    spans = coverage(engine)
    gaps, longest = [], []
    for row in spans.itertuples():
        runs = missing_bars(load_candles(engine, row.symbol, row.timeframe).index, row.timeframe)
        gaps.append(len(runs))
        longest.append(int(runs.max()) if len(runs) else 0)
    spans["gaps"], spans["longest_gap_bars"] = gaps, longest
    providers = providers_by_series(engine)
    if not providers.empty:
        named = providers.sort_values("bars", ascending=False).groupby(["symbol", "timeframe"])["provider"].agg(", ".join)
        spans = spans.merge(named.rename("providers").reset_index(), on=["symbol", "timeframe"], how="left")
    else:
        spans["providers"] = pd.Series(dtype=str)
    shown = spans.assign(first=spans["first"].dt.strftime("%Y-%m-%d %H:%M"), last=spans["last"].dt.strftime("%Y-%m-%d %H:%M"))
    return dg.Output(
        spans,
        metadata={
            "series": dg.MetadataValue.int(len(spans)),
            "bars": dg.MetadataValue.int(int(spans["bars"].sum()) if len(spans) else 0),
            "coverage": dg.MetadataValue.md(shown.to_markdown(index=False) if len(spans) else "no candles stored"),
        },
    )
