"""The contract of the market, pattern and backtest routes (issue 15), on the app in process
over temporary SQLite stores: every answer matches the model the spec documents (the cached
market reads too, which FastAPI does not re-validate), what JSON Schema cannot say is refused
with its own code, the static /api/patterns/... paths answer their own methods, and numbers a
computation cannot give (an infinite t-statistic) are null instead of a 500."""

import jsonschema
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from features.patterns import PATTERNS, detections
from market.files import bundled
from market.synthetic import generate_many
from market.universe import Series
from serving.app import create_app
from serving.champion import Champion
from serving.schemas.market import INTRADAY
from store.api_keys import create_key
from store.backtests import save_backtest
from store.candles import upsert_candles
from store.db import make_engine
from store.patterns import replace_detections
from tests.conftest import environment
from trading.strategy import StrategyParams, strategy_backtest, window_figures
from tx.settings import load_settings
from cli.stores import setup_app_database, setup_mlflow


def _store_backtests(engine, candles: pd.DataFrame) -> None:
    """A strategy and a walk-forward run of SYNA as the backtest assets store them (probabilities
    on its last 200 bars, three windows)."""
    rng = np.random.default_rng(5)
    probability = pd.Series(rng.uniform(0.3, 0.7, 200), index=candles.index[-200:])
    params = StrategyParams()
    report = strategy_backtest(candles, probability, params)
    inputs = {"time": probability.index, "probability": probability.to_numpy()}
    save_backtest(engine, {"kind": "strategy", "symbol": "SYNA", "timeframe": "1d", "model_version": "1", "params": params.as_dict(),
                           "metrics": report.runs["strategy"].metrics, "result": report.as_dict(), "inputs": inputs})
    edges = probability.index[[0, 70, 71, 140, 141, 199]]
    spans = [(edges[0], edges[1]), (edges[2], edges[3]), (edges[4], edges[5])]
    windows = [w | {"fold": k + 1, "auc": 0.5 + k / 100} for k, w in enumerate(window_figures(report.runs["strategy"], spans))]
    save_backtest(engine, {"kind": "walk_forward", "symbol": "SYNA", "timeframe": "1d", "model_version": "1",
                           "params": params.as_dict() | {"windows": 3, "train_bars": 500},
                           "metrics": report.runs["strategy"].metrics | {"wf_auc": 0.53}, "result": report.as_dict() | {"windows": windows},
                           "inputs": inputs})


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    home = tmp_path_factory.mktemp("contract-market")
    env = {"TX_ENV_FILE": str(home / "no.env"), "TX_HOME": str(home / "tx"), "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
           "TX_MLFLOW_ARTIFACTS": str(home / "artifacts"), "TX_DATABASE_URL": "", "TX_READ_CACHE_S": "0"}
    with environment(env):
        settings = load_settings()
        setup_mlflow(settings)
        setup_app_database(settings)
        engine = make_engine(settings.app_database_url)
        googl = bundled().read(Series("GOOGL", "1d"))
        upsert_candles(engine, "GOOGL", "1d", googl, "bundled")
        replace_detections(engine, "GOOGL", "1d", detections(googl, "1d"))
        frames = generate_many(["SYNA", "TINY"], "1d", 400, seed=4)
        upsert_candles(engine, "SYNA", "1d", frames["SYNA"], "synthetic")
        upsert_candles(engine, "TINY", "1d", frames["TINY"].iloc[:10], "synthetic")  # too short to detect on
        _store_backtests(engine, frames["SYNA"])
        key = create_key(engine, "read", "contract")
        engine.dispose()
        with TestClient(create_app(settings, Champion(settings.tracking_uri).start())) as http:  # no champion: flat priors
            spec = http.get("/docs.json").json()
            yield {"http": http, "headers": {"X-API-Key": key}, "spec": spec, "googl": googl,
                   "registry": Registry().with_resource("urn:spec", Resource.from_contents(spec, default_specification=DRAFT202012))}


def call(api, method: str, path: str, template: str | None = None, status: int = 200, **kwargs):
    """The answer, checked against its status and the schema the spec documents for that status."""
    answer = api["http"].request(method, path, headers=api["headers"], **kwargs)
    assert answer.status_code == status, (path, answer.text[:500])
    documented = api["spec"]["paths"][template or path][method.lower()]["responses"]
    assert str(status) in documented, f"{method} {template or path} does not document {status}"
    schema = documented[str(status)]["content"]["application/json"]["schema"]
    schema = {"$ref": "urn:spec#" + schema["$ref"][1:]} if "$ref" in schema else schema
    validator = jsonschema.Draft202012Validator(schema, registry=api["registry"], format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    problems = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(answer.json())]
    assert not problems, (path, problems[:5])
    return answer.json()


def error(api, method: str, path: str, status: int, **kwargs) -> dict:
    answer = api["http"].request(method, path, headers=api["headers"], **kwargs)
    assert answer.status_code == status, (path, answer.text[:500])
    return answer.json()["error"]


def test_market_reads_match_their_documented_models(api):
    bars = call(api, "GET", "/api/candles/GOOGL", "/api/candles/{symbol}", params={"limit": 5})
    assert bars["count"] == 5 and bars["candles"][-1]["timestamp"] == "2018-08-29T00:00:00Z"
    window = call(api, "GET", "/api/historical/GOOGL", "/api/historical/{symbol}",
                  params={"start": "2018-01-01T00:00:00Z", "end": "2018-01-31T00:00:00+01:00"})
    assert window["count"] == 20  # the end is 2018-01-30T23:00Z: January's 21 bars but the 31st
    assert call(api, "GET", "/api/candles/GOOGL", "/api/candles/{symbol}", params={"end": "1990-01-01T00:00:00Z"})["count"] == 0
    snap = call(api, "GET", "/api/market/GOOGL", "/api/market/{symbol}")
    assert snap["last_price"] == bars["candles"][-1]["close"] and snap["volatility_annualized"] > 0
    data = call(api, "GET", "/api/market-data/SYNA", "/api/market-data/{symbol}")
    assert data["indicators"] and all(v is None or np.isfinite(v) for v in data["indicators"].values())
    assert [s["symbol"] for s in call(api, "GET", "/api/symbols")["symbols"]] == ["GOOGL", "SYNA", "TINY"]
    assert {s["symbol"] for s in call(api, "GET", "/api/data-coverage")["series"]} == {"GOOGL", "SYNA", "TINY"}
    assert "no stored candles for NOPE:1d" in call(api, "GET", "/api/market/NOPE", "/api/market/{symbol}", 404)["error"]["message"]


def test_query_dates_are_instants_within_the_contract(api):
    params = api["spec"]["paths"]["/api/candles/{symbol}"]["get"]["parameters"]
    start = next(p for p in params if p["name"] == "start")["schema"]["anyOf"][0]
    assert start["format"] == "date-time" and start["pattern"] == "^(19|20|21)[0-9]{2}-"
    crossed = error(api, "GET", "/api/candles/GOOGL", 422, params={"start": "2018-02-01T00:00:00Z", "end": "2018-01-01T00:00:00Z"})
    assert crossed["code"] == "bad_window" and crossed["field"] == "start" and "start is after end" in crossed["message"]
    for bad in ("1899-12-31T00:00:00Z", "0070-08-18T21:19:10Z", "2200-01-01T00:00:00Z", "1700000000", "2018-02-01"):
        refused = error(api, "GET", "/api/historical/GOOGL", 422, params={"start": bad})
        assert refused["code"] == "invalid_request" and refused["field"] == "start", bad
    assert call(api, "GET", "/api/historical/GOOGL", "/api/historical/{symbol}", params={"end": "2199-12-31T23:59:59-12:00"})["count"] > 0


def test_intraday_timeframe_is_an_enum_of_intraday_timeframes(api):
    params = api["spec"]["paths"]["/api/intraday/{symbol}"]["get"]["parameters"]
    assert tuple(next(p for p in params if p["name"] == "timeframe")["schema"]["enum"]) == INTRADAY
    daily = error(api, "GET", "/api/intraday/GOOGL", 422, params={"timeframe": "1d"})
    assert "intraday is one of 1m, 5m" in daily["message"] and daily["field"] == "timeframe"
    assert error(api, "GET", "/api/intraday/GOOGL", 404)["message"].startswith("no stored candles for GOOGL:1h")


@pytest.mark.parametrize("name", ["backtest", "explain", "validate"])
def test_static_pattern_paths_answer_their_own_methods(api, name):
    for method in ("OPTIONS", "PUT", "DELETE"):
        answer = api["http"].request(method, f"/api/patterns/{name}", headers=api["headers"])
        assert answer.status_code == 405 and answer.headers["allow"] == "POST", (method, answer.headers)
        assert answer.json()["error"]["code"] == "method_not_allowed"
    # GET is the stored detections of a symbol that happens to be named so: none stored
    assert call(api, "GET", f"/api/patterns/{name}", "/api/patterns/{symbol}") == {"symbol": name, "timeframe": "1d", "detections": []}


def test_pattern_names_are_listed_in_the_spec_and_read_forgivingly(api):
    body = api["spec"]["components"]["schemas"]["ExplainRequest"]["properties"]["pattern"]
    assert {"CDLENGULFING", "engulfing", "morningstar"} <= set(body["enum"]) and len(body["enum"]) == 2 * len(PATTERNS)
    for spelled in ("CDLENGULFING", "engulfing", "Engulfing", " cdlengulfing "):
        rows = call(api, "GET", "/api/patterns/history/GOOGL", "/api/patterns/history/{symbol}", params={"pattern": spelled})["detections"]
        assert rows and {r["pattern"] for r in rows} == {"CDLENGULFING"}
    assert call(api, "GET", "/api/patterns/history/GOOGL", "/api/patterns/history/{symbol}", params={"pattern": "Morning_Star"})
    for path, kwargs in [("/api/patterns/history/GOOGL", {"params": {"pattern": "CDLNOPE"}}),
                         ("/api/patterns/backtest", {"json": {"symbol": "GOOGL", "pattern": "CDLNOPE"}}),
                         ("/api/backtest/pattern", {"json": {"symbol": "GOOGL", "patterns": ["engulfing", "nope"]}})]:
        refused = error(api, "POST" if "json" in kwargs else "GET", path, 422, **kwargs)
        assert "unknown pattern" in refused["message"] and refused["field"].startswith("pattern"), refused


def test_series_requests_name_exactly_one_source(api):
    schema = api["spec"]["components"]["schemas"]["DetectRequest"]
    assert schema["oneOf"] == [{"required": ["symbol"]}, {"required": ["candles"]}] and schema["examples"]
    assert "type" not in schema["properties"]["symbol"] or schema["properties"]["symbol"]["type"] == "string"  # not nullable
    candles = call(api, "GET", "/api/candles/SYNA", "/api/candles/{symbol}", params={"limit": 40})["candles"]
    for body, says in [({}, "neither was given"), ({"symbol": "SYNA", "candles": candles}, "not both"), ({"symbol": None}, "symbol"),
                       ({"candles": None}, "candles")]:
        refused = error(api, "POST", "/api/detect", 422, json=body)
        assert refused["code"] == "invalid_request" and says in refused["message"], (body, refused)
    short = error(api, "POST", "/api/detect", 409, json={"symbol": "TINY"})
    assert short["code"] == "too_few_bars"
    shuffled = error(api, "POST", "/api/detect", 422, json={"candles": candles[::-1]})
    assert shuffled["code"] == "bad_candles" and shuffled["field"] == "candles"


def test_pattern_answers_match_their_documented_models(api):
    assert len(call(api, "GET", "/api/patterns/list")["patterns"]) == len(PATTERNS)
    found = call(api, "POST", "/api/detect", json={"symbol": "GOOGL", "last_bars": 200})
    assert found["detections"] and all(0 < d["confidence"] < 1 for d in found["detections"])
    candles = call(api, "GET", "/api/candles/SYNA", "/api/candles/{symbol}", params={"limit": 300})["candles"]
    assert call(api, "POST", "/api/detect", json={"candles": candles, "last_bars": 300.0})["symbol"] is None  # 300.0 is an integer in JSON
    stored = call(api, "GET", "/api/patterns/GOOGL", "/api/patterns/{symbol}", params={"limit": 5000})["detections"]
    assert call(api, "GET", "/api/pattern-heatmap", params={"days": 30})["cells"]
    assert call(api, "GET", "/api/pattern-performance", params={"symbol": "GOOGL", "horizon": 5})["patterns"]
    assert call(api, "GET", "/api/pattern-performance/summary")["outcomes"] == 0
    assert call(api, "GET", "/api/patterns/confidence/GOOGL", "/api/patterns/confidence/{symbol}")["patterns"]
    assert call(api, "GET", "/api/patterns/confidence/NOPE", "/api/patterns/confidence/{symbol}", 404)
    hit = next(d for d in stored if d["pattern"] == "CDLENGULFING")
    assert call(api, "POST", "/api/patterns/validate", json={"symbol": "GOOGL", "pattern": "engulfing", "timestamp": hit["timestamp"]})["valid"]
    missing = error(api, "POST", "/api/patterns/validate", 422, json={"symbol": "GOOGL", "pattern": "engulfing"})
    assert missing["field"] == "timestamp"
    nowhere = error(api, "POST", "/api/patterns/validate", 422, json={"symbol": "GOOGL", "pattern": "engulfing", "timestamp": "1999-01-01T00:00:00Z"})
    assert nowhere["code"] == "no_such_bar" and "no bar at 1999-01-01" in nowhere["message"]
    told = call(api, "POST", "/api/patterns/explain", json={"symbol": "GOOGL", "pattern": "CDLENGULFING", "timestamp": hit["timestamp"]})
    assert told["timestamp"] == hit["timestamp"]
    bt = call(api, "POST", "/api/patterns/backtest", json={"symbol": "GOOGL", "pattern": "hammer", "horizon": 10})
    assert bt["pattern"] == "CDLHAMMER" and len(bt["trades"]) == bt["matured"]
    long = error(api, "POST", "/api/patterns/backtest", 422, json={"candles": candles[:40], "pattern": "hammer", "horizon": 40})
    assert long["code"] == "short_series" and long["field"] == "horizon"


def test_identical_returns_give_a_null_t_statistic_not_a_500(api):
    """Prices doubling every bar: every doji's return is exactly the same, so the t-statistic's
    spread is 0 and the statistic infinite; JSON has no infinity: null."""
    index = pd.date_range("2020-01-01", periods=40, freq="D", tz="UTC")
    price = 2.0 ** np.arange(40)
    candles = [{"timestamp": t.isoformat(), "open": p, "high": p, "low": p, "close": p, "volume": 1.0} for t, p in zip(index, price, strict=True)]
    bt = call(api, "POST", "/api/patterns/backtest", json={"candles": candles, "pattern": "doji", "horizon": 1})
    assert bt["matured"] > 2 and bt["t_stat"] is None and bt["mean_return"] == 1.0
    table = call(api, "POST", "/api/backtest/pattern", json={"candles": candles, "patterns": ["CDLDOJI"], "horizon": 1, "fee": 0, "slippage": 0})
    assert table["patterns"][0]["t_stat"] is None


def test_backtest_answers_match_their_documented_models(api):
    strategy = call(api, "POST", "/api/backtest/strategy", json={"symbol": "SYNA", "points": 50})
    assert strategy["source"] == "out-of-fold probabilities of v1" and set(strategy["runs"]) >= {"strategy", "buy_and_hold"}
    assert len(strategy["runs"]["strategy"]["equity"]) == 50 and strategy["params"]["buy_threshold"] == 0.55
    stricter = call(api, "POST", "/api/backtest/strategy", json={"symbol": "SYNA", "buy_threshold": 0.6, "sell_threshold": 0.4,
                                                                  "allow_short": False, "sizing": "vol_target", "target_vol": 0.1})
    assert stricter["params"]["allow_short"] is False and stricter["params"]["sizing"] == "vol_target"
    given = call(api, "POST", "/api/backtest/strategy", json={"symbol": "SYNA", "signals": [1, None, -0.5, 0] * 25, "fee": 0.002})
    assert given["source"] == "signals given" and given["metrics"]["bars"] == 100 and given["trades"]
    wf = call(api, "POST", "/api/backtest/walk-forward", json={"symbol": "SYNA", "points": 20})
    assert [w["fold"] for w in wf["windows"]] == [1, 2, 3] and wf["wf_auc"] == 0.53 and wf["train_bars"] == 500
    table = call(api, "POST", "/api/backtest/pattern", json={"symbol": "GOOGL", "horizon": 5, "patterns": ["engulfing", "CDLENGULFING", "hammer"]})
    assert sorted(r["pattern"] for r in table["patterns"]) == ["CDLENGULFING", "CDLHAMMER"] and table["stored"] is None


@pytest.mark.parametrize(("path", "body", "status", "code", "field"), [
    ("/api/backtest/strategy", {"symbol": "SYNA", "buy_threshold": 0.4, "sell_threshold": 0.6}, 422, "bad_thresholds", "sell_threshold"),
    ("/api/backtest/walk-forward", {"symbol": "SYNA", "buy_threshold": 0.4, "sell_threshold": 0.6}, 422, "bad_thresholds", "sell_threshold"),
    ("/api/backtest/strategy", {"symbol": "SYNA", "buy_threshold": 0.3}, 422, "backtest_rejected", None),  # under the stored 0.45
    ("/api/backtest/strategy", {"symbol": "SYNA", "signals": [None, None, None]}, 422, "backtest_rejected", "signals"),
    ("/api/backtest/strategy", {"symbol": "SYNA", "signals": [1.0] * 401}, 422, "short_series", "signals"),
    ("/api/backtest/strategy", {"symbol": "NOPE", "signals": [1.0, 0.0]}, 404, "not_found", None),
    ("/api/backtest/walk-forward", {"symbol": "GOOGL"}, 404, "not_found", None),
    ("/api/backtest/strategy", {"symbol": "SYNA", "signals": [1.5, 0]}, 422, "invalid_request", "signals.0"),
    ("/api/backtest/strategy", {"symbol": "SYNA", "allow_short": 0}, 422, "invalid_request", "allow_short"),
    ("/api/backtest/strategy", {"symbol": "SYNA", "points": "50"}, 422, "invalid_request", "points"),
    ("/api/backtest/strategy", {"symbol": "SYNA", "points": True}, 422, "invalid_request", "points"),
    ("/api/backtest/walk-forward", {"symbol": "SYNA", "signals": [1, 0]}, 422, "invalid_request", "signals"),
    ("/api/backtest/pattern", {"symbol": "TINY"}, 409, "too_few_bars", None),
])
def test_backtest_refusals_carry_their_own_codes(api, path, body, status, code, field):
    refused = error(api, "POST", path, status, json=body)
    assert (refused["code"], refused["field"]) == (code, field), refused
    assert str(status) in api["spec"]["paths"][path]["post"]["responses"]
