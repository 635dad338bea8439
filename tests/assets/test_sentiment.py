"""The news asset: replayed providers and a news file in, scored items stored once, provider
health recorded, and the features the fused model trains on carrying that sentiment."""

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import numpy as np
import pandas as pd
from werkzeug import Response

from assets.sentiment import news
from features.sentiment import SENTIMENT_COLUMNS
from market.synthetic import generate_many
from resources.feeds import NewsFeeds
from resources.stores import AppDatabase
from store.candles import upsert_candles
from store.db import make_engine
from store.news import load_news
from store.provider_status import load_provider_status
from training.inputs import model_inputs
from tx.settings import load_settings
from cli.stores import setup_app_database


def _stamp(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_news_from_replayed_sources_and_files_is_scored_stored_once_and_feeds_the_model(httpserver, monkeypatch, tmp_path):
    url = httpserver.url_for("")
    for key, value in {"TX_NEWSAPI_KEY": "k", "TX_NEWSAPI_URL": url, "TX_X_BEARER_TOKEN": "t", "TX_X_URL": url,
                       "TX_PROVIDER_RETRIES": "1"}.items():
        monkeypatch.setenv(key, value)
    articles = [{"source": {"name": "Wire"}, "title": "SYNA beats estimates and raises its dividend", "description": "Shares surge.",
                 "url": "https://example.com/1", "publishedAt": _stamp(2)},
                {"source": {"name": "Wire"}, "title": "SYNA downgraded after the recall", "description": None,
                 "url": "https://example.com/2", "publishedAt": _stamp(1)}]
    def everything(request):  # SYNA has two articles, anything else none
        found = articles if request.args["q"] == "SYNA" else []
        return Response(json.dumps({"status": "ok", "totalResults": len(found), "articles": found}), content_type="application/json")

    httpserver.expect_request("/v2/everything").respond_with_handler(everything)
    httpserver.expect_request("/2/tweets/search/recent").respond_with_response(
        Response('{"title":"Too Many Requests","status":429}', status=429, headers={"x-rate-limit-reset": "0"}))
    folder = tmp_path / "data"
    (folder / "news").mkdir(parents=True)
    (folder / "news" / "desk.csv").write_text(
        f"symbol,published_at,text,source\nSYNB,{_stamp(3)},Bearish note: SYNB shares plunge,desk\nSYNB,{_stamp(3)},,desk\n")

    settings = load_settings()
    setup_app_database(settings)
    engine = make_engine(settings.app_database_url)
    frames = generate_many(["SYNA", "SYNB"], "1d", 400, seed=3, start=f"{datetime.now(UTC) - timedelta(days=420):%Y-%m-%d}")
    for symbol, candles in frames.items():
        upsert_candles(engine, symbol, "1d", candles, "synthetic")
    resources = {"app_db": AppDatabase(url=settings.app_database_url), "news_feeds": NewsFeeds(settings.news_config(), settings.market_config(), data_dir=folder)}

    first = dg.materialize([news], resources=resources)
    meta = {k: v.value for k, v in first.asset_materializations_for_node("news")[0].metadata.items()}
    assert (meta["fetched"], meta["from_files"], meta["stored"], meta["refused_rows"]) == (2, 1, 3, 1)
    assert "rate limited" in meta["sources"] and "not configured" in meta["sources"]  # X is rate limited (recorded), Reddit has no key
    syna = load_news(engine, "SYNA")
    assert len(syna) == 2 and (syna["sentiment"].notna()).all() and syna.sort_values("published_at")["sentiment"].tolist()[0] > 0
    status = load_provider_status(engine).set_index("provider")
    assert status.loc["x", "failures"] == 2 and "429" in status.loc["x", "last_error"]  # once per symbol and status.loc["newsapi", "failures"] == 0

    again = dg.materialize([news], resources=resources)  # the same items come back: nothing stored twice
    meta = {k: v.value for k, v in again.asset_materializations_for_node("news")[0].metadata.items()}
    assert meta["stored"] == 0 and meta["duplicates"] == 3 and len(load_news(engine, "SYNA")) == 2

    # what the fused model trains on: the stored items' sentiment, point in time
    stored = load_news(engine, "SYNB").rename(columns={"sentiment": "score"})[["published_at", "score"]]
    X, _ = model_inputs(frames["SYNB"], "1d", news=stored)
    known = X.index + pd.Timedelta("1d") > stored["published_at"].min()
    assert X.loc[~known, "sent_score"].isna().all() and (X.loc[known, "sent_score"] < 0).all()
    assert set(SENTIMENT_COLUMNS) <= set(X.columns) and np.isfinite(X.loc[known, "sent_weight"]).all()
    engine.dispose()
