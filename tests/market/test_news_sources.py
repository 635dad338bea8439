"""News and social sources against a local HTTP server replaying their recorded response
shapes: items out, rate limits waited out, outages and bad keys recorded, never fatal;
and news files of your own, with every refused row named."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug import Response

from market.chain import MarketConfig
from market.errors import BadPayload, NotConfigured, RateLimited, Unavailable
from market.news import FinnhubNewsSource, NewsApiSource, RedditSource, XSource, collect, read_news_files

ANY = re.compile(".*")
SINCE = datetime(2026, 11, 20, tzinfo=UTC)
FAST = MarketConfig(retries=3, backoff_s=0.01, backoff_max_s=0.05)

# Shapes as the APIs document and return them (texts shortened).
NEWSAPI = {"status": "ok", "totalResults": 2, "articles": [
    {"source": {"id": "reuters", "name": "Reuters"}, "author": "R. Staff", "title": "Apple beats estimates as iPhone sales surge",
     "description": "Quarterly revenue rose 8%.", "url": "https://example.com/a1", "urlToImage": None,
     "publishedAt": "2026-11-24T21:05:00Z", "content": "Apple Inc reported ... [+2100 chars]"},
    {"source": {"id": None, "name": "Blog"}, "author": None, "title": None, "description": None, "url": "https://example.com/a2",
     "publishedAt": "2026-11-24T22:00:00Z", "content": None}]}  # nothing to read: skipped
FINNHUB = [{"category": "company", "datetime": 1795554000, "headline": "Apple downgraded at Example Securities",
            "id": 7001, "image": "", "related": "AAPL", "source": "Yahoo", "summary": "Shares fell 2% premarket.",
            "url": "https://example.com/f1"}]
REDDIT_TOKEN = {"access_token": "tok-1", "token_type": "bearer", "expires_in": 86400, "scope": "*"}
REDDIT = {"kind": "Listing", "data": {"after": None, "children": [
    {"kind": "t3", "data": {"id": "1abc", "title": "AAPL to the moon? Bullish on the earnings beat", "selftext": "",
                            "created_utc": 1795556000.0, "permalink": "/r/stocks/comments/1abc/aapl/", "subreddit": "stocks"}}]}}
X = {"data": [{"id": "1861", "text": "$AAPL crushing it today, bullish", "created_at": "2026-11-24T20:00:00.000Z", "lang": "en",
               "edit_history_tweet_ids": ["1861"]}], "meta": {"newest_id": "1861", "oldest_id": "1861", "result_count": 1}}


@pytest.fixture
def sources(httpserver):
    url = httpserver.url_for("")
    return {"newsapi": NewsApiSource("k", url, 0.5), "finnhub": FinnhubNewsSource("k", url, 0.5),
            "reddit": RedditSource("id", "secret", url, url, 0.5), "x": XSource("t", url, 0.5)}


def test_each_source_turns_its_answer_into_items(httpserver, sources):
    httpserver.expect_request("/v2/everything", headers={"X-Api-Key": "k"}).respond_with_json(NEWSAPI)
    httpserver.expect_request("/api/v1/company-news", query_string={"symbol": "AAPL", "from": "2026-11-20",
                                                                     "to": f"{datetime.now(UTC):%Y-%m-%d}", "token": "k"}).respond_with_json(FINNHUB)
    httpserver.expect_request("/api/v1/access_token", method="POST").respond_with_json(REDDIT_TOKEN)
    httpserver.expect_request("/search", headers={"Authorization": "bearer tok-1"}).respond_with_json(REDDIT)
    httpserver.expect_request("/2/tweets/search/recent", headers={"Authorization": "Bearer t"}).respond_with_json(X)
    news = sources["newsapi"].fetch("AAPL", SINCE)
    assert len(news) == 1 and news[0].text == "Apple beats estimates as iPhone sales surge Quarterly revenue rose 8%."
    assert news[0].source == "newsapi:Reuters" and news[0].published_at == datetime(2026, 11, 24, 21, 5, tzinfo=UTC)
    company = sources["finnhub"].fetch("AAPL", SINCE)
    assert company[0].symbols == ("AAPL",) and company[0].external_id == "7001" and "downgraded" in company[0].text
    posts = sources["reddit"].fetch("AAPL", SINCE)
    assert posts[0].source == "reddit" and posts[0].url.endswith("/r/stocks/comments/1abc/aapl/")
    sources["reddit"].fetch("AAPL", SINCE)  # the token is reused, not fetched again
    assert sum(1 for req, _ in httpserver.log if req.path == "/api/v1/access_token") == 1
    tweets = sources["x"].fetch("AAPL", SINCE)
    assert tweets[0].text.startswith("$AAPL") and tweets[0].published_at.tzinfo is not None
    query = next(req for req, _ in httpserver.log if req.path == "/2/tweets/search/recent").args
    assert query["query"] == "$AAPL lang:en -is:retweet" and query["tweet.fields"] == "created_at,lang"


@pytest.mark.parametrize(("response", "error", "message"), [
    (Response('{"status":"error","code":"rateLimited","message":"You have made too many requests"}', status=429,
              headers={"Retry-After": "3"}), RateLimited, "429"),
    (Response('{"title":"Too Many Requests","status":429}', status=429, headers={"x-rate-limit-reset": "0"}), RateLimited, "429"),
    (Response("<html>503</html>", status=503), Unavailable, "HTTP 503"),
    (Response('{"status":"error","code":"apiKeyInvalid","message":"Your API key is invalid"}', status=401), NotConfigured, "rejected"),
    (Response('{"status":"error"}', status=200, content_type="application/json"), BadPayload, "unexpected body"),
    (Response("{nope", status=200, content_type="application/json"), BadPayload, "malformed JSON"),
])
def test_failures_map_to_what_the_collector_should_do(httpserver, sources, response, error, message):
    httpserver.expect_request(ANY).respond_with_response(response)
    with pytest.raises(error, match=message) as info:
        sources["newsapi"].fetch("AAPL", SINCE)
    if error is RateLimited and "Retry-After" in response.headers:
        assert info.value.retry_after == 3.0


def test_collect_waits_out_a_rate_limit_records_an_outage_and_names_what_is_not_configured(httpserver):
    url = httpserver.url_for("")
    limited = [Response('{"message":"slow down"}', status=429, headers={"Retry-After": "0.01"})]
    httpserver.expect_ordered_request("/v2/everything").respond_with_response(limited[0])
    httpserver.expect_ordered_request("/v2/everything").respond_with_json(NEWSAPI)
    httpserver.expect_request("/api/v1/company-news").respond_with_response(Response("down", status=502))
    got = collect([NewsApiSource("k", url, 0.5), FinnhubNewsSource("k", url, 0.5), XSource(None, url, 0.5)], {"AAPL": SINCE}, FAST)
    outcomes = {a.provider: a.outcome for _, a in got.attempts}
    assert outcomes == {"newsapi": "ok", "finnhub-news": "unavailable", "x": "not configured"}
    assert len(got.items) == 1 and got.items[0].source == "newsapi:Reuters"
    health = {h.name: h for h in got.health}
    assert set(health) == {"newsapi", "finnhub-news"} and health["finnhub-news"].failures == 1 and "502" in health["finnhub-news"].last_error
    assert health["newsapi"].last_success_at is not None


def test_news_files_are_read_and_every_refused_row_is_named(tmp_path):
    (tmp_path / "mine.csv").write_text(
        "symbol,published_at,text,source\n"
        "SPX,2026-11-20T10:00:00Z,Stocks rally on strong jobs data,desk\n"
        "\"SPX,IXIC\",2026-11-21T10:00:00+01:00,Tech selloff deepens,\n"
        ",2026-11-21T10:00:00Z,no symbol here,desk\n"
        "SPX,2026-11-21 10:00:00,naive time,desk\n"
        "SPX,not a time,bad time,desk\n")
    (tmp_path / "more.jsonl").write_text('{"symbol": "GOOGL", "published_at": "2026-11-22T08:00:00Z", "text": "Alphabet beats"}\n')
    (tmp_path / "wrong.csv").write_text("ticker,when,body\nSPX,2026-11-20,x\n")
    items, refused = read_news_files(tmp_path)
    assert [(i.symbols, i.source) for i in items] == [(("SPX",), "desk"), (("SPX", "IXIC"), "file"), (("GOOGL",), "file")]
    assert items[1].published_at == datetime(2026, 11, 21, 9, tzinfo=UTC)  # +01:00, in UTC
    assert len(refused) == 4 and any("mine.csv:4: no symbol" in r for r in refused) and any("no time zone" in r for r in refused)
    assert any("unreadable published_at 'not a time'" in r for r in refused) and any("wrong.csv: missing column" in r for r in refused)
    assert read_news_files(tmp_path / "none") == ([], [])


def test_x_looks_back_at_most_seven_days(httpserver, sources):
    httpserver.expect_request("/2/tweets/search/recent").respond_with_json({"meta": {"result_count": 0}})
    assert sources["x"].fetch("AAPL", datetime.now(UTC) - timedelta(days=30)) == []
    start = datetime.strptime(httpserver.log[0][0].args["start_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert datetime.now(UTC) - start < timedelta(days=7)
