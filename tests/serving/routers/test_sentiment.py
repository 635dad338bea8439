"""serving/routers/sentiment.py over HTTP: ingest once, point-in-time reads, bad items refused."""

import numpy as np
import pandas as pd
import pytest

from tests.serving.client import call

pytestmark = pytest.mark.e2e


def test_sentiment_ingest_and_point_in_time_reads(svc):
    """Items are scored and stored once however often they come; a read as of t uses only
    what was published before t; bad items are refused whole with the reason."""
    from features.sentiment import aggregate_at, score

    sym = f"SENT{svc['backend'][:2].upper()}"
    items = [{"symbol": sym, "published_at": "2026-03-02T14:00:00Z", "text": "Shares rally as earnings beat estimates", "source": "wire"},
             {"symbols": [sym, "OTHER"], "published_at": "2026-03-04T09:30:00Z", "text": "Analyst downgrades the stock; shares plunge"},
             {"symbol": sym.lower(), "published_at": "2026-03-02T14:00:00Z", "text": "  Shares rally as earnings beat estimates ", "source": "wire"}]
    assert call(svc, "POST", "/api/sentiment/ingest", json={"items": items}).status_code == 403  # writing needs a trade key
    first = call(svc, "POST", "/api/sentiment/ingest", key="trade", json={"items": items}).json()
    assert (first["received"], first["stored"], first["duplicates"]) == (3, 2, 1)  # the third is the first again
    assert [i["score"] for i in first["items"]] == pytest.approx(list(score([i["text"] for i in items])), abs=1e-4)
    again = call(svc, "POST", "/api/sentiment/ingest", key="trade", json={"items": items[:2]}).json()
    assert again["stored"] == 0 and again["duplicates"] == 2

    now = call(svc, "GET", f"/api/sentiment/{sym}", params={"at": "2026-03-06T00:00:00Z"}).json()
    assert [np.sign(i["score"]) for i in now["items"]] == [-1, 1] and now["aggregate"]["items_7d"] == 2  # newest first
    news = pd.DataFrame({"published_at": pd.to_datetime(["2026-03-02T14:00:00Z", "2026-03-04T09:30:00Z"]),
                         "score": [first["items"][0]["score"], first["items"][1]["score"]]})
    expected = aggregate_at(news, pd.Timestamp("2026-03-06T00:00:00Z"))
    assert now["aggregate"]["score"] == pytest.approx(expected["sent_score"], abs=1e-3)
    before = call(svc, "GET", f"/api/sentiment/{sym}", params={"at": "2026-03-04T09:30:00Z"}).json()  # the downgrade is not out yet
    assert before["aggregate"]["score"] == pytest.approx(first["items"][0]["score"], abs=1e-4) and before["aggregate"]["items_7d"] == 1
    assert call(svc, "GET", "/api/sentiment/NOBODY").json()["aggregate"]["score"] is None
    listed = {r["symbol"]: r for r in call(svc, "GET", "/api/sentiment/aggregate", params={"at": "2026-03-06T00:00:00Z"}).json()["symbols"]}
    assert listed[sym]["score"] == now["aggregate"]["score"] and "OTHER" in listed

    good = items[0] | {"text": "fresh text"}
    for item, message in [({k: v for k, v in good.items() if k != "symbol"}, "symbol"),
                          ({k: v for k, v in good.items() if k != "published_at"}, "published_at"),
                          (good | {"published_at": "2099-01-01T00:00:00Z"}, "in the future"),
                          (good | {"published_at": "2026-03-02T14:00:00"}, "timezone"),
                          (good | {"text": "   "}, "blank"),
                          (good | {"text": "x" * 10_001}, "10000 characters"),
                          (good | {"symbol": "!!"}, "symbol")]:
        answer = call(svc, "POST", "/api/sentiment/ingest", key="trade", json={"items": [good | {"text": "another"}, item]})
        assert answer.status_code == 422 and message in answer.json()["error"]["message"], (item, answer.text)
    assert len(call(svc, "GET", f"/api/sentiment/{sym}").json()["items"]) == 2  # refused batches stored nothing
    social = call(svc, "GET", "/api/sentiment/twitter-health").json()["providers"]
    assert [p["provider"] for p in social] == ["x", "reddit"] and not any(p["configured"] for p in social)  # no keys in this test
