"""POST /api/ml/rl-action in process, on a copy of the session's trained registry (a fused
champion on planted-signal series) plus an RL agent trained on its out-of-fold outputs with a
small budget: the action, its probabilities and both versions; 503 with Retry-After and the
gate's reason before a tx-rl champion; clear 4xx for bad input; a broken artifact keeps the
old policy serving; nothing is stored."""

import shutil

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from serving.champion import Champion
from store.api_keys import create_key
from store.backtests import save_backtest
from store.candles import upsert_candles
from store.db import make_engine
from store.predictions import stored_score
from trading.rl import policy_signals
from trading.rl_pipeline import train_rl_and_promote
from trading.strategy import StrategyParams, strategy_backtest
from training.promotion import gate_rl
from training.inputs import model_inputs
from training.recorder import RL_MODEL, Recorder
from training.rl.agent import RlConfig
from tx.settings import load_settings
from cli.stores import setup_app_database

QUICK = RlConfig(timesteps=600, n_splits=2, n_steps=128)


@pytest.fixture
def served(trained, tmp_path, monkeypatch):
    shutil.copy(trained["db"], tmp_path / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("TX_MLFLOW_ARTIFACTS", str(trained["artifacts"]))
    settings = load_settings()
    setup_app_database(settings)
    engine = make_engine(settings.app_database_url)
    for symbol, candles in trained["frames"].items():
        upsert_candles(engine, symbol, "1d", candles, "synthetic")
    upsert_candles(engine, "SHORT", "1d", trained["frames"]["SYNA"].iloc[:10], "synthetic")
    key = create_key(engine, "read", "test read")
    app = create_app(settings, Champion(settings.tracking_uri).start())
    with TestClient(app) as http:
        yield {"http": http, "headers": {"X-API-Key": key}, "app": app, "settings": settings, "engine": engine, "trained": trained}
    engine.dispose()


def train_agent(s) -> str:
    inputs = [(sym, "1d", c, None) for sym, c in s["trained"]["frames"].items()]
    outcome = train_rl_and_promote(inputs, tracking_uri=s["settings"].tracking_uri, artifact_root=s["settings"].mlflow_artifacts,
                                   config=QUICK)
    if not outcome.decision.promoted:  # a tiny budget may lose to the threshold: the test needs a champion, forced and recorded
        gate_rl(Recorder(s["settings"].tracking_uri), RL_MODEL, outcome.version, force=True, actor="test")
    assert s["app"].state.rl.refresh()
    return outcome.version


def test_rl_action_end_to_end(served):
    http, headers = served["http"], served["headers"]
    before = http.post("/api/ml/rl-action", json={"symbol": "SYNA"}, headers=headers)
    assert before.status_code == 503 and before.headers["Retry-After"]
    assert before.json()["error"]["code"] == "no_model" and RL_MODEL in before.json()["error"]["message"]

    version = train_agent(served)
    answer = http.post("/api/ml/rl-action", json={"symbol": "SYNA"}, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["action"] in ("flat", "long", "short") and body["target_position"] in (-1.0, 0.0, 1.0)
    assert set(body["probabilities"]) == {"flat", "long", "short"} and abs(sum(body["probabilities"].values()) - 1) < 1e-4
    assert body["rl_version"] == version and body["fused_version"] == served["app"].state.champion.current().version
    assert 0 <= body["fused_probability"] <= 1 and body["position"] == {"side": "flat", "unrealized_return": 0.0, "bars_held": 0,
                                                                        "source": "paper"}
    assert body["explanation"].startswith(body["action"])
    held = http.post("/api/ml/rl-action", headers=headers, json={"symbol": "SYNA", "position": {
        "side": "long", "quantity": 5, "entry_price": 100.0, "bars_held": 4}}).json()
    assert held["position"]["side"] == "long" and held["position"]["bars_held"] == 4 and held["position"]["source"] == "request"
    assert stored_score(served["engine"], "SYNA", "1d", "tx-fused", body["fused_version"]) is None  # read only: nothing stored

    bad = {"unknown symbol": ({"symbol": "NOPE"}, 404), "too few bars": ({"symbol": "SHORT"}, 409),
           "long without quantity": ({"symbol": "SYNA", "position": {"side": "long"}}, 422),
           "flat holding bars": ({"symbol": "SYNA", "position": {"side": "flat", "bars_held": 3}}, 422),
           "negative bars": ({"symbol": "SYNA", "position": {"side": "short", "quantity": 1, "bars_held": -1}}, 422)}
    for why, (body_, status) in bad.items():
        got = http.post("/api/ml/rl-action", json=body_, headers=headers)
        assert got.status_code == status, (why, got.text)
        assert set(got.json()["error"]) == {"code", "message", "field"}

    # a new champion whose files fail to load: the old policy keeps serving, the failure is said
    recorder = Recorder(served["settings"].tracking_uri)
    newer = train_rl_and_promote([(sym, "1d", c, None) for sym, c in served["trained"]["frames"].items()],
                                 tracking_uri=served["settings"].tracking_uri, artifact_root=served["settings"].mlflow_artifacts, config=QUICK)
    gate_rl(recorder, RL_MODEL, newer.version, force=True, actor="test")
    source = recorder.client.get_run(newer.run_id).info.artifact_uri.removeprefix("file://") + "/policy/policy.zip"
    open(source, "wb").write(b"not a zip")
    assert not served["app"].state.rl.refresh()
    assert f"loading tx-rl v{newer.version} failed" in served["app"].state.rl.last_error
    still = http.post("/api/ml/rl-action", json={"symbol": "SYNA"}, headers=headers)
    assert still.status_code == 200 and still.json()["rl_version"] == version


def test_the_strategy_backtest_trades_the_rl_policy_on_stored_bars(served):
    """POST /api/backtest/strategy with policy `rl`: the champion's greedy actions on the stored
    out-of-fold probabilities, through the engine, beside the baselines; 503 before a champion."""
    http, headers, engine = served["http"], served["headers"], served["engine"]
    candles = served["trained"]["frames"]["SYNA"]
    probability = pd.Series(np.random.default_rng(3).uniform(0.3, 0.7, 300), index=candles.index[-300:])
    params = StrategyParams()
    report = strategy_backtest(candles, probability, params)
    save_backtest(engine, {"kind": "strategy", "symbol": "SYNA", "timeframe": "1d", "model_version": "1", "params": params.as_dict(),
                           "metrics": report.runs["strategy"].metrics, "result": report.as_dict(),
                           "inputs": {"time": probability.index, "probability": probability.to_numpy()}})
    ask = {"symbol": "SYNA", "policy": "rl", "points": 50}
    before = http.post("/api/backtest/strategy", json=ask, headers=headers)
    assert before.status_code == 503 and before.headers["Retry-After"] and before.json()["error"]["code"] == "no_model"
    both = http.post("/api/backtest/strategy", json=ask | {"signals": [1, 0, -1]}, headers=headers)
    assert both.status_code == 422 and both.json()["error"] == {"code": "bad_policy", "message": both.json()["error"]["message"],
                                                                 "field": "policy"}

    version = train_agent(served)
    answer = http.post("/api/backtest/strategy", json=ask, headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["source"].startswith(f"tx-rl v{version} acting on the out-of-fold probabilities of v1") and "in sample" in body["source"]
    # the same policy, rolled out here on the same bars and run through the engine, gives the same figures
    agent = served["app"].state.rl.current().model
    X, _ = model_inputs(candles, "1d")
    signals = policy_signals(agent, "SYNA", "1d", candles.iloc[-len(X):], X, probability)
    assert signals.iloc[:-300].isna().all() and signals.iloc[-300:].isin([-1.0, 0.0, 1.0]).all()
    expected = strategy_backtest(candles.iloc[-len(X):], probability, params, signals).runs["strategy"].metrics
    assert body["runs"]["strategy"]["metrics"]["trades"] == expected["trades"]
    assert body["runs"]["strategy"]["metrics"]["total_return"] == pytest.approx(expected["total_return"])
    threshold = http.post("/api/backtest/strategy", json={"symbol": "SYNA"}, headers=headers).json()
    assert threshold["runs"]["buy_and_hold"]["metrics"] == body["runs"]["buy_and_hold"]["metrics"]  # the same bars, the same baseline
