"""The environment's reward is the backtest engine's accounting: summed rewards of any action
sequence equal the engine's log return for the same targets (next-open fills, fees, slippage),
and an observation at bar t depends on nothing after t."""

import numpy as np
import pandas as pd
import pytest

from market.synthetic import generate_many
from trading.backtest import fill_order, run_backtest
from training.rl.env import ACTIONS, Costs, Market, Segment, TradingEnv, observation


def market(bars: int = 300, seed: int = 3) -> tuple[pd.DataFrame, Market]:
    candles = generate_many(["E"], "1d", bars, seed=seed)["E"]
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((bars, 4)).astype(np.float32)
    p = rng.random(bars)
    return candles, Market("E", "1d", candles.index, candles["open"].to_numpy(), candles["close"].to_numpy(), features, p)


@pytest.mark.parametrize("fee, slippage", [(0.0, 0.0), (0.001, 0.0005), (0.01, 0.02)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_summed_rewards_equal_the_engines_log_return(fee, slippage, seed):
    candles, m = market(seed=seed)
    start, end = 20, 260
    env = TradingEnv([m], [Segment(0, start, end)], Costs(fill_order, fee, slippage), episode_bars=10_000)
    env.reset(seed=seed, options={"segment": Segment(0, start, end)})
    rng = np.random.default_rng(seed)
    actions = rng.choice(len(ACTIONS), size=end - start, p=[0.2, 0.4, 0.4])
    actions[50:80] = 1  # a held stretch: no orders while the target stays
    total, done = 0.0, False
    for a in actions:
        assert not done
        _, reward, terminated, done, _ = env.step(int(a))
        total += reward
    assert done and not terminated
    signals = np.r_[[ACTIONS[a] for a in actions], 0.0]  # the last bar's signal would fill after the data: never traded
    engine = run_backtest(candles.iloc[start:end + 1], signals, fee=fee, slippage=slippage)
    assert total == pytest.approx(np.log(engine.equity.iloc[-1] / 10_000.0), abs=1e-9)


def test_position_state_follows_the_book():
    _, m = market()
    env = TradingEnv([m], [Segment(0, 0, 100)], Costs(fill_order, 0.001, 0.0005))
    env.reset(seed=0, options={"segment": Segment(0, 0, 100)})
    obs, *_ = env.step(1)  # long from bar 1's open
    assert obs[-3] == 1.0 and obs[-1] > 0
    obs, *_ = env.step(2)  # flip short
    assert obs[-3] == -1.0
    obs, *_ = env.step(0)
    assert list(obs[-3:]) == [0.0, 0.0, 0.0]


def test_observation_at_t_ignores_bars_after_t():
    _, m = market()
    t = 150
    changed = Market(m.symbol, m.timeframe, m.times, m.open.copy(), m.close.copy(), m.features.copy(), m.probability.copy())
    changed.open[t + 1:] *= 3
    changed.close[t + 1:] *= 3
    changed.features[t + 1:] = 9
    changed.probability[t + 1:] = 0.99
    state = np.array([1.0, 0.1, 0.2], np.float32)
    assert np.array_equal(observation(m, t, state), observation(changed, t, state))


def test_episodes_are_seeded_and_stay_inside_their_segments():
    _, m = market()
    segments = [Segment(0, 10, 60), Segment(0, 120, 200)]
    starts = []
    for _ in range(2):
        env = TradingEnv([m], segments, Costs(fill_order), episode_bars=30)
        env.reset(seed=7)
        seen = [env.t]
        for _ in range(5):
            _, _, _, done, _ = env.step(1)
            seen.append(env.t)
            while not done:
                _, _, _, done, _ = env.step(0)
                seen.append(env.t)
            env.reset()
            seen.append(env.t)
        starts.append(seen)
        assert all(any(s.start <= t <= s.end for s in segments) for t in seen)
    assert starts[0] == starts[1]
