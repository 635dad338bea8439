"""serving/routers/backtests.py over HTTP."""

import numpy as np
import pytest

from tests.serving.client import as_body, call
from tests.conftest import environment

pytestmark = pytest.mark.e2e


def test_backtests_over_http(svc):
    """Pattern backtests on the spot; strategy backtests re-run on the out-of-fold probabilities
    the strategy_backtest asset stored (materialized here against the service's stores); given
    signals through the engine; clear 4xx on bad input."""
    import dagster as dg

    from assets.backtests import strategy_backtest
    from resources.stores import AppDatabase, MlflowTracking
    from trading.backtest import format_return, run_backtest

    assert call(svc, "POST", "/api/backtest/strategy", json={"symbol": "SYNA"}).status_code == 404  # nothing stored yet
    settings = svc["settings"]
    with environment(svc["env"]):
        done = dg.materialize([strategy_backtest], resources={
            "app_db": AppDatabase(url=settings.app_database_url),
            "mlflow_tracking": MlflowTracking(tracking_uri=settings.tracking_uri, artifact_root=settings.mlflow_artifacts)})
    assert done.success
    metadata = done.asset_materializations_for_node("strategy_backtest")[0].metadata
    stored, version = metadata["summary"].value, metadata["model_version"].value  # the champion (earlier tests may promote others)
    answer = call(svc, "POST", "/api/backtest/strategy", json={"symbol": "SYNA", "points": 50})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["source"] == f"out-of-fold probabilities of v{version}" and set(body["runs"]) == {"strategy", "buy_and_hold", "sma_crossover"}
    figures = body["runs"]["strategy"]["metrics"]
    assert f"SYNA:1d strategy {format_return(figures['total_return'], figures['annual_return'])}" in stored  # the asset's figures, re-run
    assert len(body["runs"]["strategy"]["equity"]) == 50 and body["predictions"] > 100
    nulls = call(svc, "POST", "/api/backtest/strategy", json={"symbol": "SYNA", "points": 50, "allow_short": None, "stop_loss": None})
    assert nulls.status_code == 200 and nulls.json()["params"] == body["params"]  # null keeps the stored value (found by the fuzz: a 500)
    stricter = call(svc, "POST", "/api/backtest/strategy", json={"symbol": "SYNA", "buy_threshold": 0.7, "sell_threshold": 0.3}).json()
    assert stricter["params"]["buy_threshold"] == 0.7 and stricter["runs"]["strategy"]["metrics"]["exposure"] < body["runs"]["strategy"]["metrics"]["exposure"]

    signals = [1.0, None, -0.5, 0.0] * 50
    given = call(svc, "POST", "/api/backtest/strategy", json={"symbol": "SYNB", "signals": signals, "fee": 0.002}).json()
    local = run_backtest(svc["frames"]["SYNB"].iloc[-200:], [np.nan if x is None else x for x in signals], fee=0.002, slippage=0.0005)
    assert given["metrics"]["total_return"] == pytest.approx(local.total_return, rel=1e-9) and len(given["trades"]) == len(local.trades)

    pattern = call(svc, "POST", "/api/backtest/pattern", json={"symbol": "GOOGL", "horizon": 5, "patterns": ["engulfing", "CDLHAMMER"]})
    assert pattern.status_code == 200, pattern.text
    rows = pattern.json()["patterns"]
    assert {r["pattern"] for r in rows} == {"CDLENGULFING", "CDLHAMMER"} and all(r["matured"] <= r["count"] for r in rows)
    assert pattern.json()["all_detections"]["metrics"]["trades"] > 0

    for path, request, status, message in [
        ("/api/backtest/strategy", {"symbol": "SYNA", "signals": [1.5, 0]}, 422, "[-1, 1]"),
        ("/api/backtest/strategy", {"symbol": "SYNA", "signals": [None, None, None]}, 422, "all NaN"),
        ("/api/backtest/strategy", {"symbol": "SYNA", "signals": [1.0] * 2000}, 422, "only 1500 stored bars"),
        ("/api/backtest/strategy", {"symbol": "SYNA", "buy_threshold": 0.4, "sell_threshold": 0.6}, 422, "sell_threshold"),
        ("/api/backtest/strategy", {"symbol": "SYNA", "fee": 0.9}, 422, "fee"),
        ("/api/backtest/walk-forward", {"symbol": "SYNA"}, 404, "materialize walk_forward_backtest"),
        ("/api/backtest/pattern", {"symbol": "GOOGL", "horizon": 501}, 422, "horizon"),
        ("/api/backtest/pattern", {"symbol": "GOOGL", "patterns": ["nope"]}, 422, "unknown pattern"),
        ("/api/backtest/pattern", {"candles": as_body(svc["frames"]["SYNA"].iloc[:40]), "horizon": 40}, 422, "horizon 40 leaves no outcome"),
    ]:
        answer = call(svc, "POST", path, json=request)
        assert answer.status_code == status and message in answer.json()["error"]["message"], (request, answer.text)
