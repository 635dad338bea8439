"""`make demo`'s summary prints the RL agent's line and its gate's decision after the fused model's."""

from cli.demo import asset_lines
from pipelines.run import Materialized


def test_the_rl_policy_line_and_its_gate():
    meta = {"summary": "tx-rl v1 (not promoted): OOS Sharpe -0.91 vs fused-threshold 0.62", "promoted": False,
            "model_version": "tx-rl v1", "decision": "out-of-sample Sharpe after costs -0.9100 is not > 0"}
    lines = asset_lines(Materialized("universe", "r1", {"rl_policy": meta}))
    assert "tx-rl v1 (not promoted): OOS Sharpe -0.91" in lines[0]
    assert lines[1].strip() == "gate: not promoted -> tx-rl v1: out-of-sample Sharpe after costs -0.9100 is not > 0"
    skipped = asset_lines(Materialized("universe", "r2", {"rl_policy": {"skipped": "tx-rl v1 already learned from tx-fused v1"}}))
    assert skipped == ["  rl_policy          universe   tx-rl v1 already learned from tx-fused v1"]
