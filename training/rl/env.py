"""A gymnasium environment whose reward is the backtest engine's own accounting.

State at bar t (everything known at t's close): the series' point-in-time features (the
fused model's feature path, `training/inputs.py`), the fused model's OUT-OF-FOLD probability
at t (from a model that never saw t's label), and the book: position (-1, 0, +1), unrealized
return since entry, bars held.

Actions (ACTIONS): 0 flat, 1 long, 2 short — each a target position as a fraction of equity,
like the strategies' signals. Decided on bar t's close, filled at bar t+1's open.

Reward: log(equity at t+1's close) - log(equity at t's close), with fills exactly as
`trading.backtest.run_backtest(..., execution="next_open")` makes them: an order only when
the target changes, size = target x equity at the fill price / price - shares held, buys at
open x (1 + slippage) and sells at open x (1 - slippage), a fee on each fill's value, a buy
cut to the cash there is — through the engine's own order step (`Costs.order`, which
trading/rl.py sets to `trading.backtest.fill_order`). The sum of an episode's rewards is
therefore the engine's log return for the same actions (tests/training/rl/test_env.py checks
it to 1e-9).
"""

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pandas as pd

ACTIONS = (0.0, 1.0, -1.0)  # action index -> target position (fraction of equity)
ACTION_NAMES = ("flat", "long", "short")
STATE = ("position", "unrealized_return", "bars_held")  # the book's part of the observation, after features and probability
HOLD_SCALE = 50.0  # bars held enter the observation as min(bars / HOLD_SCALE, 1)
CLIP = 5.0  # standardized features are clipped to +-CLIP


def action_of(target: float) -> int:
    """The action index of a target position (-1, 0, +1)."""
    return ACTIONS.index(float(np.sign(target)))


@dataclass(frozen=True)
class Market:
    """One series as the agent sees it: bar times, open and close prices, standardized
    features (n_bars x n_features, float32) and the fused out-of-fold probability (NaN: none)."""

    symbol: str
    timeframe: str
    times: pd.DatetimeIndex
    open: np.ndarray
    close: np.ndarray
    features: np.ndarray
    probability: np.ndarray
    spread: float = 0.5  # the probability's spread on the training bars (agent.Scaler)

    def __len__(self) -> int:
        return len(self.times)


OrderFn = Callable[[float, float, float, float, float, float], tuple[float, float, float, float, float]]


@dataclass(frozen=True)
class Costs:
    """The engine's costs (`trading.backtest.Costs`, as fractions) and its order step
    (`trading.backtest.fill_order`: (cash, shares, wanted shares, price, fee, slippage) ->
    (cash, shares, filled, fee paid, fill price)), handed in by trading/rl.py: training may
    not import trading, and the fills must be the engine's own."""

    order: OrderFn
    fee: float = 0.001
    slippage: float = 0.0005


@dataclass
class Book:
    """Cash and shares as the engine walks them (init cash 1: log returns do not depend on it)."""

    cash: float = 1.0
    shares: float = 0.0
    target: float = 0.0  # the last target asked for (the engine orders only when it changes)
    entry_equity: float = 1.0  # equity right after the fill that opened the position
    bars_held: int = 0

    def equity(self, price: float) -> float:
        return self.cash + self.shares * price

    @property
    def position(self) -> float:
        return float(np.sign(self.shares))

    def fill(self, target: float, price: float, costs: Costs) -> None:
        """Move to `target` (a fraction of equity) at `price` (an open) as the engine's walk
        does: an order only when the target changes, sized on the equity at that price."""
        if target == self.target:
            return
        self.target = target
        before = self.shares
        value = self.cash + before * price
        want = target * value / price - before if value > 0 else 0.0
        self.cash, self.shares, filled, _, _ = costs.order(self.cash, before, want, price, costs.fee, costs.slippage)
        if filled != 0.0 and np.sign(self.shares) != np.sign(before):
            self.entry_equity = self.cash + self.shares * price
            self.bars_held = 0

    def step(self, target: float, price: float, costs: Costs) -> None:
        """One decision filled at the next bar's `price` (its open), the bar then held: what the
        environment and a rollout both do per bar."""
        self.fill(target, price, costs)
        if self.shares != 0:
            self.bars_held += 1

    def state(self, price: float) -> np.ndarray:
        """(position, unrealized return since entry, bars held scaled) at `price` (a close)."""
        if self.shares == 0:
            return np.zeros(3, np.float32)
        unrealized = self.equity(price) / self.entry_equity - 1 if self.entry_equity > 0 else 0.0
        return np.array([self.position, np.clip(unrealized, -1, 1), min(self.bars_held / HOLD_SCALE, 1.0)], np.float32)


def observation(market: Market, t: int, book_state: np.ndarray) -> np.ndarray:
    """What the agent sees at bar t's close: features, the probability centred on 0.5 in units
    of its training spread (clipped to +-CLIP; 0 where there is none), the book's state."""
    p = market.probability[t]
    seen = float(np.clip((p - 0.5) / market.spread, -CLIP, CLIP)) if np.isfinite(p) else 0.0
    return np.concatenate([market.features[t], [seen], book_state]).astype(np.float32)


def observation_size(n_features: int) -> int:
    return n_features + 1 + len(STATE)


@dataclass(frozen=True)
class Segment:
    """Bars [start, end] of series `series` the environment may use, contiguous (end inclusive:
    the last decision is at end - 1, filled at end's open)."""

    series: int
    start: int
    end: int


@dataclass
class TradingEnv(gym.Env):
    """Episodes of at most `episode_bars` decisions inside the given segments (a segment picked
    in proportion to its length, a start picked uniformly), with the env's seeded generator."""

    markets: list[Market]
    segments: list[Segment]
    costs: Costs
    episode_bars: int = 256

    def __post_init__(self) -> None:
        super().__init__()
        self.segments = [s for s in self.segments if s.end - s.start >= 2]
        if not self.segments:
            raise ValueError("no segment of 3+ bars to train on")
        n = self.markets[0].features.shape[1]
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(observation_size(n),), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(len(ACTIONS))
        self._weights = np.array([s.end - s.start for s in self.segments], float)
        self._weights /= self._weights.sum()
        self.book = Book()
        self.market, self.t, self.stop = self.markets[0], 0, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = self.np_random
        if options and "segment" in options:  # a given segment from its start (tests, evaluation)
            segment, start = options["segment"], options["segment"].start
        else:
            segment = self.segments[int(rng.choice(len(self.segments), p=self._weights))]
            last_start = max(segment.start, segment.end - self.episode_bars)
            start = int(rng.integers(segment.start, last_start + 1))
        self.market, self.t = self.markets[segment.series], start
        self.stop = min(segment.end, start + self.episode_bars)
        self.book = Book()
        return observation(self.market, self.t, self.book.state(self.market.close[self.t])), {}

    def step(self, action: int):
        m, t, book = self.market, self.t, self.book
        before = book.equity(m.close[t])
        book.step(ACTIONS[int(action)], m.open[t + 1], self.costs)
        after = book.equity(m.close[t + 1])
        reward = float(np.log(after / before)) if before > 0 and after > 0 else -10.0
        self.t = t + 1
        truncated = self.t >= self.stop
        terminated = after <= 0
        obs = observation(m, self.t, book.state(m.close[self.t]))
        return obs, reward, terminated, truncated, {"equity": after}
