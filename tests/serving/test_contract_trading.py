"""Issue 15's contract for paper trading, alerts, outcomes and sentiment: the inputs that
used to be stored and later broke reads (dates before 1677), the 500s (no alert stored,
ids of 2^63), the quantities that were coerced (true, "10") or silently dropped (1e-300),
and the Idempotency-Key rules. Every refusal is a 4xx naming the field and stores nothing."""

import pytest
from fastapi.testclient import TestClient

from market.synthetic import generate_many
from serving.app import create_app
from serving.schemas.common import MAX_ID
from serving.schemas.paper import MIN_QUANTITY
from store.api_keys import create_key
from store.candles import upsert_candles
from store.db import make_engine
from store.news import load_news
from store.outcomes import load_outcomes
from store.paper import fills_frame
from tx.settings import load_settings
from cli.stores import setup_app_database, setup_mlflow

BIG = 2**63  # one past a signed 64-bit id


@pytest.fixture
def api():
    """The app on fresh SQLite stores with 60 bars of SYNA and no champion (paper entries
    carry no model context), and a trade key."""
    settings = load_settings()
    setup_mlflow(settings)
    setup_app_database(settings)
    engine = make_engine(settings.app_database_url)
    upsert_candles(engine, "SYNA", "1d", generate_many(["SYNA"], "1d", 60, seed=3)["SYNA"], "synthetic")
    key = create_key(engine, "trade")
    with TestClient(create_app(settings)) as http:
        http.headers["X-API-Key"] = key
        yield http, engine
    engine.dispose()


def refused(answer, field: str, status: int = 422) -> dict:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["field"] == field and field.split(".")[-1] in error["message"], error
    return error


def test_dates_outside_1900_2200_are_refused_and_reads_stay_up(api):
    http, engine = api
    item = {"symbol": "SYNA", "published_at": "0209-11-20T18:36:07Z", "text": "Shares rally"}
    refused(http.post("/api/sentiment/ingest", json={"items": [item]}), "items.0.published_at")
    refused(http.post("/api/sentiment/ingest", json={"items": [item | {"published_at": "2301-01-01T00:00:00Z"}]}), "items.0.published_at")
    outcome = {"subject_type": "trade", "symbol": "SYNA", "hit": True, "resolved_at": "0209-11-20T18:36:07Z"}
    refused(http.post("/api/outcomes/log", json=outcome), "resolved_at")
    refused(http.get("/api/sentiment/SYNA", params={"at": "1485-02-05T22:27:23-15:56"}), "at")
    refused(http.get("/api/sentiment/aggregate", params={"at": "1485-02-05T22:27:23Z"}), "at")
    assert load_news(engine, "SYNA").empty and load_outcomes(engine).empty  # nothing stored
    for path in ("/api/sentiment/aggregate", "/api/sentiment/SYNA", "/api/pattern-performance/summary"):
        assert http.get(path).status_code == 200, path
    # the edges of the range are fine, and reads keep working with them stored
    assert http.post("/api/sentiment/ingest", json={"items": [item | {"published_at": "1900-01-01T00:00:00Z"}]}).status_code == 200
    assert http.post("/api/outcomes/log", json=outcome | {"resolved_at": "1900-01-01T00:00:00Z"}).status_code == 201
    assert http.get("/api/sentiment/SYNA", params={"at": "2199-12-31T00:00:00Z"}).json()["items"][0]["published_at"] == "1900-01-01T00:00:00Z"
    for path in ("/api/sentiment/aggregate", "/api/sentiment/SYNA", "/api/pattern-performance/summary"):
        assert http.get(path).status_code == 200, path


def test_cross_field_refusals_have_their_own_codes(api):
    http, engine = api
    item = {"published_at": "2024-01-02T00:00:00Z", "text": "Shares rally"}
    assert refused(http.post("/api/sentiment/ingest", json={"items": [item]}), "items.0.symbol")["code"] == "no_symbol"
    assert refused(http.post("/api/sentiment/ingest", json={"items": [item | {"symbol": "SYNA", "text": " \t"}]}),
                   "items.0.text")["code"] == "blank_text"
    refused(http.post("/api/sentiment/ingest", json={"items": [item | {"symbol": "SYNA", "text": "a\x00b"}]}), "items.0.text")
    outcome = {"subject_type": "trade", "symbol": "SYNA", "resolved_at": "2024-01-02T00:00:00Z"}
    assert refused(http.post("/api/outcomes/log", json=outcome), "hit")["code"] == "no_outcome"
    refused(http.post("/api/outcomes/log", json=outcome | {"realized_return": True}), "realized_return")
    refused(http.post("/api/outcomes/log", json=outcome | {"realized_return": "0.1"}), "realized_return")
    for field, value in (("hit", 0), ("hit", "true"), ("subject_id", True), ("subject_id", "5"), ("horizon_bars", "5")):
        refused(http.post("/api/outcomes/log", json=outcome | {"realized_return": 0.1, field: value}), field)
    assert load_news(engine, "SYNA").empty and load_outcomes(engine).empty


def test_alert_reads_answer_with_no_alert_stored(api):
    http, _ = api
    assert http.get("/api/alerts/history").json() == {"count": 0, "alerts": []}
    assert http.get("/api/alerts/history", params={"symbol": "SYNA"}).json() == {"count": 0, "alerts": []}
    assert http.get("/api/alerts/stats").json() == {"alerts": 0, "by_status": {}, "by_symbol": {}, "by_source": {}, "hit_rate": None,
                                                    "matured": 0}
    assert http.get("/api/alerts").json() == {"count": 0, "alerts": []}


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/paper-trades/{}"), ("POST", "/api/paper-trades/{}/close"),
                                              ("GET", "/api/alerts/{}"), ("POST", "/api/alerts/{}/dismiss")])
def test_ids_past_the_documented_maximum_are_422_and_the_largest_is_404(api, method, path):
    http, _ = api
    for too_big in (BIG, MAX_ID + 1, 10**30):
        refused(http.request(method, path.format(too_big)), "trade_id" if "paper" in path else "alert_id")
    assert http.request(method, path.format(MAX_ID)).status_code == 404


def execute(http, key: str | None, **order):
    body = {"symbol": "SYNA", "side": "buy", "quantity": 1} | order
    return http.post("/api/paper-trade/execute", json=body, headers={"Idempotency-Key": key} if key else {})


@pytest.mark.parametrize(("change", "field"), [
    ({"quantity": True}, "quantity"), ({"quantity": "10"}, "quantity"), ({"quantity": 1e-300}, "quantity"),
    ({"quantity": MIN_QUANTITY / 2}, "quantity"), ({"quantity": 1e10}, "quantity"),
    ({"type": "limit", "limit_price": "Infinity"}, "limit_price"), ({"type": "limit", "limit_price": True}, "limit_price"),
    ({"type": "limit", "limit_price": 0}, "limit_price"), ({"leverage": 2}, "leverage"),
])
def test_paper_execute_refuses_coerced_or_vanishing_orders(api, change, field):
    http, engine = api
    refused(execute(http, "k1", **change), field)
    # a body with a literal Infinity (Python's json writes one) is refused the same way
    if change.get("limit_price") == "Infinity":
        raw = '{"symbol": "SYNA", "side": "buy", "quantity": 1, "type": "limit", "limit_price": Infinity}'
        refused(http.post("/api/paper-trade/execute", content=raw, headers={"Idempotency-Key": "k1", "Content-Type": "application/json"}),
                "limit_price")
    assert fills_frame(engine, "paper").empty and http.get("/api/paper-trades").json()["count"] == 0


def test_paper_idempotency_key_is_required_and_never_fills_twice(api):
    http, engine = api
    missing = execute(http, None)
    refused(missing, "Idempotency-Key")
    assert missing.json()["error"]["code"] == "invalid_request"
    assert refused(execute(http, "k1", type="market", limit_price=10.0), "limit_price")["code"] == "bad_order"
    assert refused(execute(http, "k1", type="limit"), "limit_price")["code"] == "bad_order"
    assert fills_frame(engine, "paper").empty

    smallest = execute(http, "k1", quantity=MIN_QUANTITY)
    assert smallest.status_code == 200 and smallest.json()["status"] == "filled", smallest.text
    trade = smallest.json()["trades"][0]
    assert trade["quantity"] == MIN_QUANTITY and trade["status"] == "open"  # the smallest order opens a lot
    again = execute(http, "k1", quantity=MIN_QUANTITY).json()
    assert again["replayed"] and again["order_id"] == smallest.json()["order_id"]
    refused(execute(http, "k1", quantity=2), "Idempotency-Key", 409)
    assert len(fills_frame(engine, "paper")) == 1

    # the link the spec declares: execute -> trade -> close
    assert http.get(f"/api/paper-trades/{smallest.json()['id']}").json() == trade
    closed = http.post(f"/api/paper-trades/{trade['id']}/close", headers={"Idempotency-Key": "c1"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert http.post(f"/api/paper-trades/{trade['id']}/close", headers={"Idempotency-Key": "c1"}).json() == closed.json()  # a retry
    assert http.post(f"/api/paper-trades/{trade['id']}/close").status_code == 409  # already closed
    refused(http.post(f"/api/paper-trades/{trade['id']}/close", headers={"Idempotency-Key": "k1"}), "Idempotency-Key", 409)
    assert len(fills_frame(engine, "paper")) == 2


def test_closing_without_a_key_when_its_default_key_is_taken_is_409(api):
    http, engine = api
    opened = execute(http, "open-1").json()
    taken = execute(http, f"close-{opened['id']}")  # another order took the key a keyless close would use
    assert taken.status_code == 200
    answer = http.post(f"/api/paper-trades/{opened['id']}/close")
    assert answer.status_code == 409 and "send an Idempotency-Key" in answer.json()["error"]["message"], answer.text
    assert http.post(f"/api/paper-trades/{opened['id']}/close", headers={"Idempotency-Key": "c-1"}).json()["status"] == "closed"
    assert len(fills_frame(engine, "paper")) == 3


def test_spec_documents_the_contract_of_these_routes(api):
    http, _ = api
    spec = http.get("/docs.json").json()
    execute_op = spec["paths"]["/api/paper-trade/execute"]["post"]
    header = next(p for p in execute_op["parameters"] if p["name"] == "Idempotency-Key")
    assert header["required"] and header["in"] == "header"
    assert set(execute_op["responses"]) >= {"200", "401", "403", "404", "409", "422", "429", "503"}
    assert set(execute_op["responses"]["200"]["links"]) == {"GetTrade", "CloseTrade"}
    order = spec["components"]["schemas"]["OrderIn"]
    assert order["properties"]["quantity"]["minimum"] == MIN_QUANTITY and order["additionalProperties"] is False
    for path, method in [("/api/paper-trades/{trade_id}", "get"), ("/api/alerts/{alert_id}/dismiss", "post")]:
        operation = spec["paths"][path][method]
        ident = next(p for p in operation["parameters"] if p["in"] == "path")
        assert ident["schema"]["maximum"] == MAX_ID < BIG and "404" in operation["responses"]
    for path in ("/api/alerts/history", "/api/alerts/stats", "/api/sentiment/{symbol}", "/api/paper-trades/performance"):
        assert "$ref" in spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"], path
