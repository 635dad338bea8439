"""News storage on SQLite and PostgreSQL: content de-duplication, symbols, point-in-time reads."""

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from store.news import NEWS_COLUMNS, add_news, content_hash, load_news

T0 = datetime(2024, 3, 1, 14, 30, tzinfo=UTC)


def item(text: str, hours: float = 0, symbols=("AAPL",), source: str = "wire", **extra):
    return {"source": source, "published_at": T0 + timedelta(hours=hours), "text": text, "symbols": list(symbols), **extra}


def test_hash_ignores_case_and_whitespace_but_not_the_source():
    assert content_hash("wire", "  Apple  beats\n estimates ") == content_hash("wire", "apple beats estimates")
    assert content_hash("wire", "apple beats estimates") != content_hash("rss", "apple beats estimates")


def test_duplicates_are_ignored_across_and_within_calls(engine):
    first = [item("Apple beats estimates", 0), item("apple   BEATS estimates ", 1), item("Apple misses", 2)]
    assert add_news(engine, first) == 2  # the second is the first, re-spaced and re-cased
    again = [item("Apple misses", 3), item("APPLE BEATS ESTIMATES", 4), item("Apple misses", 5, source="rss"), item("New story", 6)]
    assert add_news(engine, again) == 2  # the rss copy is another source's item
    assert add_news(engine, again) == 0
    assert add_news(engine, []) == 0
    stored = load_news(engine, "AAPL")
    assert stored["text"].tolist() == ["Apple beats estimates", "Apple misses", "Apple misses", "New story"]
    assert stored["source"].tolist() == ["wire", "wire", "rss", "wire"]


def test_symbols_are_upper_cased_and_an_item_can_name_several(engine):
    add_news(engine, [item("Chip deal", 0, symbols=["aapl", " nvda", "AAPL"]), item("Only nvidia", 1, symbols=["Nvda"]),
                      item("Nobody", 2, symbols=[])])
    assert load_news(engine, "AAPL")["text"].tolist() == ["Chip deal"]
    assert load_news(engine, "nvda")["text"].tolist() == ["Chip deal", "Only nvidia"]
    assert load_news(engine, "MSFT").empty


def test_load_is_oldest_first_in_utc_with_every_field(engine):
    ny = T0.astimezone(pd.Timestamp("2024-01-01", tz="America/New_York").tzinfo)
    add_news(engine, [item("Later", 5, title="L", sentiment=0.4, url="https://x/1", external_id="1"),
                      {**item("Earlier"), "published_at": ny - timedelta(hours=2)},
                      item("Middle", 1, sentiment=None)])
    stored = load_news(engine, "AAPL")
    assert list(stored.columns) == NEWS_COLUMNS
    assert stored["text"].tolist() == ["Earlier", "Middle", "Later"]
    assert str(stored["published_at"].dt.tz) == "UTC"
    assert stored["published_at"].iloc[0] == pd.Timestamp(T0 - timedelta(hours=2))
    assert stored["sentiment"].dtype == "float64" and stored["sentiment"].iloc[2] == 0.4
    assert pd.isna(stored["sentiment"].iloc[1]) and stored["title"].iloc[2] == "L"


def test_until_is_inclusive_and_hides_what_came_after(engine):
    add_news(engine, [item(f"story {k}", k) for k in range(5)])
    seen = load_news(engine, "AAPL", until=T0 + timedelta(hours=2))
    assert seen["text"].tolist() == ["story 0", "story 1", "story 2"]


def test_empty_read_has_the_columns(engine):
    stored = load_news(engine, "AAPL")
    assert stored.empty and list(stored.columns) == NEWS_COLUMNS
    assert str(stored["published_at"].dt.tz) == "UTC"


def test_a_naive_time_writes_nothing(engine):
    with pytest.raises(ValueError, match="naive"):
        add_news(engine, [item("fine"), {**item("naive"), "published_at": datetime(2024, 1, 1)}])
    assert load_news(engine, "AAPL").empty
