"""News and social sentiment: new items of every stored symbol from the configured sources
and your news files, scored and stored once; the fused model's sentiment layer reads them.

Each symbol is fetched from a day before its newest stored item (or `lookback_days` back),
so late-published items are caught; what was stored before is recognised and not counted
twice. A failing source is recorded (provider health) and the others go on.
"""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd

from assets.candles import candles
from features.sentiment import aggregate_at, score, scores_of
from market.news import collect, read_news_files
from resources.feeds import NewsFeeds
from resources.stores import AppDatabase
from store.candles import coverage
from store.news import add_news, latest_published, load_news
from store.provider_status import record_provider_health

OVERLAP = timedelta(days=1)


@dg.asset(
    deps=[candles],
    group_name="sentiment",
    kinds={"sql"},
    description="News and social items of the stored symbols (NewsAPI, Finnhub, Reddit, X, and <TX_DATA_DIR>/news files), "
    "scored by VADER with finance words, de-duplicated, stored; the aggregate per symbol as metadata.",
)
def news(context: dg.AssetExecutionContext, app_db: AppDatabase, news_feeds: dg.ResourceParam[NewsFeeds]) -> dg.MaterializeResult:
    engine = app_db.engine
    now = datetime.now(UTC)
    symbols = sorted(set(coverage(engine)["symbol"]))
    newest = latest_published(engine)
    since = {s: (newest[s] - OVERLAP) if s in newest else now - timedelta(days=news_feeds.lookback_days) for s in symbols}
    collected = collect(news_feeds.sources(), since, news_feeds.guard_config())
    folder = news_feeds.folder()
    from_files, refused = read_news_files(folder) if folder else ([], [])
    for line in refused:
        context.log.warning(f"news file row refused: {line}")
    items = collected.items + from_files
    scored = score(i.text for i in items)
    stored = add_news(engine, [i.as_row() | {"sentiment": float(s)} for i, s in zip(items, scored, strict=True)])
    record_provider_health(engine, collected.health)
    attempts = pd.DataFrame([{"symbol": sym, "source": a.provider, "outcome": a.outcome, "detail": a.detail} for sym, a in collected.attempts])
    by_symbol = pd.DataFrame([{"symbol": s, **aggregate_at(scores_of(load_news(engine, s)), pd.Timestamp(now))} for s in symbols])
    context.log.info(f"{len(items)} item(s) fetched, {stored} new, {len(refused)} file row(s) refused")
    return dg.MaterializeResult(metadata={
        "fetched": dg.MetadataValue.int(len(collected.items)),
        "from_files": dg.MetadataValue.int(len(from_files)),
        "stored": dg.MetadataValue.int(stored),
        "duplicates": dg.MetadataValue.int(len(items) - stored),
        "refused_rows": dg.MetadataValue.int(len(refused)),
        "refused": dg.MetadataValue.md("\n".join(f"- {r}" for r in refused[:20]) or "none"),
        "sources": dg.MetadataValue.md(attempts.to_markdown(index=False) if len(attempts) else "no source configured"),
        "sentiment_now": dg.MetadataValue.md(by_symbol.to_markdown(index=False, floatfmt=".3f") if len(by_symbol) else "no symbols"),
    })
