"""Reinforcement learning over the fused view of the market: the environment, the agent, the
walk-forward training loop. Plain Python (gymnasium, stable-baselines3); the backtest engine
that judges the agent lives in `trading/` and is handed in (training never imports trading)."""
