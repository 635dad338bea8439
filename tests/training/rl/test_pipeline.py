"""The RL line through MLflow: a run in tx-rl with its figures, curves and plot, a registered
version of tx-rl with lineage to the fused version it learned from, and the gate's decision
recorded on it; the policy loads back and acts as it did in training."""

import os

import numpy as np
import pytest

from tests.training.rl.planted import register_fused, series
from trading.rl_pipeline import NO_FUSED_OOF, summary_line, train_rl_and_promote
from training.promotion import decide_rl
from training.recorder import CHALLENGER, CHAMPION, RL_MODEL, Recorder
from training.rl.agent import Policy, RlConfig
from training.rl.env import observation
from training.splits import NotEnoughData

QUICK = RlConfig(timesteps=1000, n_splits=2)


def inputs(parts):
    return [(s.symbol, s.timeframe, s.candles, s.features) for s in parts]


@pytest.mark.parametrize(("sharpe", "baseline", "tstat", "promoted", "why"), [
    (1.2, 0.8, 2.5, True, "significantly > 0 (t 2.50) and > the fused-threshold"),
    (1.2, None, 2.0, True, "> the fused-threshold strategy's 0.0000"),
    (1.2, None, 1.9, False, "is not significantly > 0 (t-statistic 1.9000 < 2)"),
    (1.2, 0.8, None, False, "not significantly > 0"),
    (0.5, 0.8, 3.0, False, "is not > the fused-threshold"),
    (-0.1, None, -0.5, False, "is not > 0"),
    (None, 0.3, None, False, "undefined"),
])
def test_rl_rule(sharpe, baseline, tstat, promoted, why):
    ok, reason = decide_rl(sharpe, baseline, tstat)
    assert ok is promoted and why in reason


def test_no_fused_outputs_no_agent():
    with pytest.raises(NotEnoughData, match="train the fused model first"):
        train_rl_and_promote([], tracking_uri=os.environ["MLFLOW_TRACKING_URI"], artifact_root=os.environ["TX_MLFLOW_ARTIFACTS"])
    assert "out-of-fold" in NO_FUSED_OOF


def test_planted_signal_is_registered_gated_and_promoted_with_lineage(tmp_path):
    uri, root = os.environ["MLFLOW_TRACKING_URI"], os.environ["TX_MLFLOW_ARTIFACTS"]
    recorder = Recorder(uri, root)
    parts = series(0.5, bars=800)
    fused_version = register_fused(recorder, parts)
    outcome = train_rl_and_promote(inputs(parts), tracking_uri=uri, artifact_root=root, config=QUICK)
    assert outcome.decision.promoted, outcome.decision.reason
    version = recorder.version(RL_MODEL, outcome.version)
    assert set(recorder.champion(RL_MODEL).aliases) == {CHAMPION, CHALLENGER}
    assert version.tags["tx.gate.promoted"] == "True" and "Sharpe" in version.tags["tx.gate.rule"]
    assert float(version.tags["tx.gate.rl_sharpe_tstat"]) >= 2 and "t-statistic" in version.tags["tx.gate.rule"]  # the rule's figure, recorded
    assert version.tags["tx.fused_version"] == fused_version
    run = recorder.read_run(version.run_id)
    assert run.tags["tx.fused_version"] == fused_version and run.params["rl_algorithm"] == "ppo"
    assert run.metrics["rl_sharpe"] == pytest.approx(outcome.result.metrics["rl_sharpe"])
    history = recorder.client.get_metric_history(run.run_id, "window.rl.return")
    assert len(history) == 2  # one point per test window
    assert recorder.client.list_artifacts(run.run_id, "plots")[0].path == "plots/equity_drawdown.png"
    assert "promoted" in summary_line(outcome)

    policy = Policy.load(recorder.download(version, str(tmp_path)))  # what serving loads
    s = parts[0]
    market = policy.market(s.symbol, s.timeframe, s.candles, s.features, s.probability)
    obs = observation(market, len(s.candles) - 2, np.zeros(3, np.float32))
    acted = policy.act(obs)
    assert acted.action in ("flat", "long", "short") and sum(acted.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert max(acted.probabilities, key=acted.probabilities.get) == acted.action
