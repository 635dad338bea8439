"""The agent on the real fused model's out-of-fold outputs (the session's trained registry:
a promoted tx-fused on three planted-signal series), with the default budget: it beats flat
and buy-and-hold after costs out of sample, its Sharpe significantly > 0, and the gate's
decision follows its rule. Promotion is not asserted: measured 2026-12-03 the agent's
Sharpe (3.06) stayed below the fused-threshold strategy's on the same windows (3.71), so the
gate refused it — the threshold already trades this signal well, and the agent has to beat
it. tests/trading/test_rl.py has the promoted case: a signal the probability carries that a
fixed threshold does not use."""

import shutil

import pytest

from trading.rl_pipeline import train_rl_and_promote
from training.promotion import decide_rl
from training.recorder import RL_MODEL, Recorder
from training.rl.agent import RlConfig


@pytest.mark.heavy
def test_planted_signal_found_by_the_fused_model_is_traded_after_costs(trained, tmp_path, monkeypatch):
    shutil.copy(trained["db"], tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    inputs = [(symbol, "1d", candles, None) for symbol, candles in trained["frames"].items()]
    outcome = train_rl_and_promote(inputs, tracking_uri=uri, artifact_root=str(trained["artifacts"]), config=RlConfig())
    m = outcome.result.metrics
    assert m["rl_return"] > max(m["buy_and_hold_return"], 0.0) and m["rl_sharpe_tstat"] > 2, m
    assert outcome.decision.promoted == decide_rl(m["rl_sharpe"], m["fused_threshold_sharpe"], m["rl_sharpe_tstat"])[0]
    champion = Recorder(uri).champion(RL_MODEL)
    assert (champion is not None and champion.version == outcome.version) == outcome.decision.promoted
