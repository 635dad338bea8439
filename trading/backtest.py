"""Vectorized backtests: target positions in [-1, 1] -> fills, equity, trades and metrics.

Semantics (those of vectorbt's `Portfolio.from_orders(size_type="targetpercent")`; the
tests check both agree to 1e-9):
- `signals[t]` is the wanted position as a fraction of equity, known at bar t's close. By
  default it trades at the next bar's open (`execution="next_open"`); `"close"` trades at
  bar t's own close, an explicit choice that assumes acting on the close just seen.
- An order is placed only when the target changes: a held position drifts with its price,
  it is not rebalanced every bar. Size = target x equity at the execution price / price
  - shares held. NaN signals hold the previous target (flat before the first one).
- Buys pay price x (1 + slippage), sells get price x (1 - slippage); `fee` is a fraction of
  each fill's value. A buy never spends more cash than there is: it is cut to what it buys.
- `stop_loss` / `take_profit`: fractions of the entry bar's execution price, checked on
  each bar's low and high while the position is held (from the entry bar itself when
  entering at its open). The exit fills at the level, or at the open when a bar opens
  beyond it; when a bar reaches both levels the stop-loss is assumed first. After a stop
  the book stays flat until the target changes again.
- Equity is marked at each bar's close. A trade runs from leaving flat (or flipping) to
  returning to flat (or flipping); one still open at the end is marked at the last close.

Why it is fast: every per-bar step is numpy over whole arrays; only the orders (one per
target change, or per stop) are walked in sequence, in a compiled loop, because each
order's size depends on the equity the one before left. Many series run as columns of
one call (`simulate`).
"""

import math
from dataclasses import dataclass, field

import numba
import numpy as np
import pandas as pd

from trading.risk import max_drawdown

EXECUTIONS = ("next_open", "close")
MIN_BARS = 2
YEAR = pd.Timedelta(days=365.25)
_RESET, _SIGNAL, _STOP_LOSS, _TAKE_PROFIT = 0, 1, 2, 3
EXIT_REASONS = {_SIGNAL: "signal", _STOP_LOSS: "stop_loss", _TAKE_PROFIT: "take_profit"}


class BacktestInputError(ValueError):
    """Input a backtest cannot run on; the message says which and why."""


@dataclass(frozen=True)
class Costs:
    fee: float = 0.0  # fraction of each fill's value
    slippage: float = 0.0  # fraction of the price, against the trader

    def __post_init__(self) -> None:
        for name in ("fee", "slippage"):
            value = getattr(self, name)
            if not np.isfinite(value) or not 0 <= value < 0.5:
                raise BacktestInputError(f"{name} must be a fraction in [0, 0.5), got {value}")


@dataclass(frozen=True)
class Stops:
    stop_loss: float | None = None  # e.g. 0.05: exit 5% against the entry price
    take_profit: float | None = None  # e.g. 0.10: exit 10% in favour

    def __post_init__(self) -> None:
        if self.stop_loss is not None and not 0 < self.stop_loss < 1:
            raise BacktestInputError(f"stop_loss must be a fraction in (0, 1), got {self.stop_loss}")
        if self.take_profit is not None and not (np.isfinite(self.take_profit) and self.take_profit > 0):
            raise BacktestInputError(f"take_profit must be a positive fraction, got {self.take_profit}")

    @property
    def active(self) -> bool:
        return self.stop_loss is not None or self.take_profit is not None


@dataclass
class Simulated:
    """Per bar (n_bars x n_cols): equity and position in shares; trades of every column."""

    equity: np.ndarray
    shares: np.ndarray
    trades: pd.DataFrame  # col, entry_bar, exit_bar (-1: open), direction, size, entry_price, exit_price, fees, pnl, return, exit_reason


@dataclass
class BacktestResult:
    equity: pd.Series
    exposure: pd.Series  # position value / equity at each close (-1 .. 1 unless prices moved it)
    trades: pd.DataFrame
    metrics: dict = field(default_factory=dict)

    @property
    def total_return(self) -> float:
        return self.metrics["total_return"]

    @property
    def max_drawdown(self) -> float:
        return self.metrics["max_drawdown"]

    @property
    def drawdown(self) -> pd.Series:
        return (self.equity / self.equity.cummax() - 1).rename("drawdown")


# --- the core on arrays -------------------------------------------------------------------


def _targets(signals: np.ndarray) -> np.ndarray:
    """NaN holds the previous target; flat before the first signal (per column)."""
    if not np.isnan(signals).any():
        return signals
    rows = np.arange(len(signals))[:, None]
    last = np.maximum.accumulate(np.where(np.isnan(signals), -1, rows), axis=0)  # the newest non-NaN row so far
    return np.where(last >= 0, np.take_along_axis(signals, np.maximum(last, 0), axis=0), 0.0)


def _changes(target: np.ndarray) -> np.ndarray:
    before = np.zeros_like(target)
    before[1:] = target[:-1]
    return target != before


@numba.njit(cache=True)
def fill_order(cash: float, pos: float, want: float, price: float, fee: float, slip: float) -> tuple[float, float, float, float, float]:
    """One order of `want` shares (> 0 buys, < 0 sells) at `price`, as the engine fills it:
    buys at price x (1 + slip) cut to the cash there is, sells at price x (1 - slip), a fee
    on the fill's value; a position within rounding of zero is zero. Returns (cash, shares,
    filled shares, fee paid, fill price). The RL environment (training/rl/env.py) fills
    through this same function, handed to it by trading/rl.py."""
    fill = 0.0
    paid = 0.0
    adj = price
    if want > 0:
        adj = price * (1 + slip)
        req = want * adj * (1 + fee)
        if req <= cash or abs(req - cash) <= max(1e-9 * max(abs(req), abs(cash)), 1e-12):
            fill = want
            paid = want * adj * fee
            cash -= req
        else:
            most = cash / (1 + fee)
            if most > 0:
                fill = most / adj
                paid = cash - most
                cash = 0.0
    elif want < 0:
        adj = price * (1 - slip)
        got = -want * adj
        paid = got * fee
        fill = want
        cash += got - paid
    if fill != 0.0:
        before = pos
        pos = pos + fill
        if abs(pos) <= max(1e-9 * abs(before), 1e-12):
            pos = 0.0
    return cash, pos, fill, paid, adj


@numba.njit(cache=True)
def _walk(kind, at, price, target, init_cash, fee, slip, n_bars):  # pragma: no cover - compiled
    """Fill the orders in sequence (the one step that cannot be vectorized: each size depends
    on the equity the previous fill left). Returns cash and shares after each event and one
    record per trade."""
    n = len(kind)
    cash_after = np.empty(n)
    pos_after = np.empty(n)
    t_col = np.empty(n, np.int64)
    t_entry = np.empty(n, np.int64)
    t_exit = np.empty(n, np.int64)
    t_dir = np.empty(n)
    t_size = np.empty(n)
    t_in = np.empty(n)
    t_out_size = np.empty(n)
    t_out = np.empty(n)
    t_fees = np.empty(n)
    t_reason = np.empty(n, np.int64)
    m = 0  # trades recorded
    open_ = False
    cash = init_cash
    pos = 0.0
    for k in range(n):
        if kind[k] == _RESET:
            open_ = False  # the previous column's open trade stays recorded as open
            cash = init_cash
            pos = 0.0
            cash_after[k] = cash
            pos_after[k] = pos
            continue
        p = price[k]
        if kind[k] == _SIGNAL:
            value = cash + pos * p
            want = target[k] * value / p - pos if value > 0 else 0.0
        else:
            want = -pos
        before = pos
        cash, pos, fill, paid, adj = fill_order(cash, pos, want, p, fee, slip)
        if fill != 0.0:
            size = abs(fill)
            if open_ and np.sign(fill) != t_dir[m - 1]:  # reduces, closes or flips the trade
                closing = min(size, abs(before))
                share = closing / size  # of this fill's fee, borne by the trade it closes
                t_out_size[m - 1] += closing
                t_out[m - 1] += closing * adj
                t_fees[m - 1] += paid * share
                if pos == 0.0 or np.sign(pos) != t_dir[m - 1]:
                    t_exit[m - 1] = at[k]
                    t_reason[m - 1] = kind[k]
                    open_ = False
                size -= closing
                paid *= 1 - share
            if size > 0 and pos != 0.0:
                if not open_:
                    t_col[m] = at[k] // n_bars
                    t_entry[m] = at[k]
                    t_exit[m] = -1
                    t_dir[m] = np.sign(pos)
                    t_size[m] = 0.0
                    t_in[m] = 0.0
                    t_out_size[m] = 0.0
                    t_out[m] = 0.0
                    t_fees[m] = 0.0
                    t_reason[m] = -1
                    m += 1
                    open_ = True
                t_size[m - 1] += size
                t_in[m - 1] += size * adj
                t_fees[m - 1] += paid
        cash_after[k] = cash
        pos_after[k] = pos
    return (cash_after, pos_after, t_col[:m], t_entry[:m], t_exit[:m], t_dir[:m], t_size[:m], t_in[:m],
            t_out_size[:m], t_out[:m], t_fees[:m], t_reason[:m])


def _stop_exits(op, hi, lo, price, target, seg_start, seg_of_bar, starts, stops: Stops, execution: str):
    """(bar, exit price, reason) of the first stop reached in each held segment, vectorized:
    a segment's levels are fixed by its entry price, so one pass over all bars finds every hit."""
    w = target[seg_start]
    entry = price[seg_start]
    side = np.sign(w)
    never_sl, never_tp = np.where(side > 0, -np.inf, np.inf), np.where(side > 0, np.inf, -np.inf)  # levels no price reaches
    sl = never_sl if stops.stop_loss is None else np.where(side > 0, entry * (1 - stops.stop_loss), entry * (1 + stops.stop_loss))
    tp = never_tp if stops.take_profit is None else np.where(side > 0, entry * (1 + stops.take_profit), entry * (1 - stops.take_profit))
    # The segment whose position is exposed during each bar's range.
    held = seg_of_bar if execution == "next_open" else np.where(starts, -1, np.roll(seg_of_bar, 1))
    ok = held >= 0
    h = np.where(ok, held, 0)
    d = side[h]
    long_, short = ok & (d > 0), ok & (d < 0)
    hit_sl = (long_ & (lo <= sl[h])) | (short & (hi >= sl[h]))
    hit_tp = (long_ & (hi >= tp[h])) | (short & (lo <= tp[h]))
    bars = np.flatnonzero(hit_sl | hit_tp)
    if not len(bars):
        return bars, np.empty(0), np.empty(0, np.int64)
    first = bars[np.r_[True, h[bars][1:] != h[bars][:-1]]]
    s, o = h[first], op[first]
    gap_sl = np.where(side[s] > 0, o <= sl[s], o >= sl[s])
    gap_tp = np.where(side[s] > 0, o >= tp[s], o <= tp[s])
    is_sl = gap_sl | (~gap_tp & hit_sl[first])
    level = np.where(is_sl, sl[s], tp[s])
    exit_price = np.where(gap_sl | gap_tp, o, level)
    return first, exit_price, np.where(is_sl, _STOP_LOSS, _TAKE_PROFIT)


def simulate(open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, signals: np.ndarray, *,
             costs: Costs = Costs(), stops: Stops = Stops(), execution: str = "next_open", init_cash: float = 1.0) -> Simulated:
    """Backtest every column of (n_bars x n_cols) arrays at once (1-D: one column)."""
    arrays = [np.asarray(a, dtype="float64") for a in (open_, high, low, close, signals)]
    if arrays[0].ndim == 1:
        arrays = [a[:, None] for a in arrays]
    n_bars, n_cols = arrays[0].shape
    target = _targets(arrays[4])
    if execution == "next_open":
        target = np.vstack([np.zeros((1, n_cols)), target[:-1]])
        price2d = arrays[0]
    elif execution == "close":
        price2d = arrays[3]
    else:
        raise BacktestInputError(f"execution must be one of {EXECUTIONS}, got {execution!r}")
    op, hi, lo, cl, tg, px = (a.ravel(order="F") for a in (*arrays[:4], target, price2d))
    starts = np.zeros(n_bars * n_cols, bool)
    starts[::n_bars] = True
    change = _changes(target).ravel(order="F")  # bar 0 of each column compares with flat
    bound = change | starts
    seg_of_bar = np.cumsum(bound) - 1
    seg_start = np.flatnonzero(bound)

    kinds = [np.full(n_cols, _RESET), np.full(int(change.sum()), _SIGNAL)]
    ats = [np.flatnonzero(starts), np.flatnonzero(change)]
    prices = [np.ones(n_cols), px[ats[1]]]
    if stops.active:
        bars, exit_price, reason = _stop_exits(op, hi, lo, px, tg, seg_start, seg_of_bar, starts, stops, execution)
        kinds.append(reason)
        ats.append(bars)
        prices.append(exit_price)
    kind, at, price = np.concatenate(kinds), np.concatenate(ats), np.concatenate(prices)
    # Same bar: the reset first; at the open a new target fills before the bar's range can
    # stop it; at the close a stop inside the bar comes before the close's order.
    rank = np.where(kind == _RESET, 0, np.where(kind == _SIGNAL, 1 if execution == "next_open" else 2, 2 if execution == "next_open" else 1))
    order = np.lexsort((rank, at))
    kind, at, price = kind[order], at[order], price[order]
    (cash, pos, t_col, t_entry, t_exit, t_dir, t_size, t_in, t_out_size, t_out, t_fees, t_reason) = _walk(
        kind, at, price, tg[at], float(init_cash), costs.fee, costs.slippage, n_bars)

    # Each bar takes the state of the last event at or before it (sorted, so the last wins).
    last = np.r_[at[1:] != at[:-1], True]
    marker = np.zeros(len(op), np.int64)
    marker[at[last]] = np.flatnonzero(last)
    np.maximum.accumulate(marker, out=marker)
    shares = pos[marker]
    equity = cash[marker] + shares * cl

    trades = _trades(t_col, t_entry, t_exit, t_dir, t_size, t_in, t_out_size, t_out, t_fees, t_reason, cl, n_bars)
    return Simulated(equity.reshape(n_cols, n_bars).T, shares.reshape(n_cols, n_bars).T, trades)


def _trades(col, entry, exit_, direction, size, value_in, size_out, value_out, fees, reason, close, n_bars) -> pd.DataFrame:
    """Trade records; an open trade's remaining size is marked at its column's last close."""
    is_open = exit_ < 0
    last_close = close[(col + 1) * n_bars - 1]
    value_out = value_out + np.where(is_open, (size - size_out) * last_close, 0.0)
    entry_price = value_in / size
    exit_price = value_out / size
    pnl = direction * (value_out - value_in) - fees
    return pd.DataFrame({
        "col": col, "entry_bar": entry - col * n_bars, "exit_bar": np.where(is_open, -1, exit_ - col * n_bars),
        "direction": np.where(direction > 0, "long", "short"), "size": size, "entry_price": entry_price,
        "exit_price": exit_price, "fees": fees, "pnl": pnl, "return": pnl / value_in,
        "exit_reason": [("open" if o else EXIT_REASONS.get(int(r), "signal")) for o, r in zip(is_open, reason)],
    })


# --- figures ------------------------------------------------------------------------------


def bars_per_year(index: pd.DatetimeIndex) -> float:
    """How many bars this series has per year, measured on its own calendar (so a daily
    equity series gets about 252, a crypto one 365)."""
    span = index[-1] - index[0]
    if span <= pd.Timedelta(0):
        raise BacktestInputError("the candles must span some time to annualize")
    return (len(index) - 1) / (span / YEAR)


def metrics(equity: np.ndarray, shares: np.ndarray, trades: pd.DataFrame, per_year: float, init_cash: float) -> dict:
    """Return, risk and trade figures of one equity curve, counted from the initial cash
    (drawdowns as positive fractions)."""
    curve = np.r_[init_cash, equity]
    r = np.diff(curve) / curve[:-1]
    n = len(r)
    total = float(equity[-1] / init_cash - 1)
    annual = float((1 + total) ** (per_year / n) - 1) if n and total > -1 else None
    sd = float(r.std(ddof=1)) if n > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2))) if n else 0.0
    dd = max_drawdown(curve)
    closed = trades[trades["exit_bar"] >= 0]
    wins, losses = closed["pnl"][closed["pnl"] > 0], closed["pnl"][closed["pnl"] < 0]
    return {
        "total_return": total,
        "annual_return": annual,
        "volatility": sd * np.sqrt(per_year),
        "sharpe": float(r.mean() / sd * np.sqrt(per_year)) if sd > 0 else None,
        "sortino": float(r.mean() / downside * np.sqrt(per_year)) if downside > 0 else None,
        "max_drawdown": dd,
        "calmar": float(annual / dd) if annual is not None and dd > 0 else None,
        "trades": len(trades),
        "closed_trades": len(closed),
        "win_rate": float(len(wins) / len(closed)) if len(closed) else None,
        "profit_factor": float(wins.sum() / -losses.sum()) if len(losses) else None,
        "exposure": float(np.mean(shares != 0)),
        "fees": float(trades["fees"].sum()),
        "bars": len(equity),
        "bars_per_year": per_year,
    }


def format_return(total: float | None, annual: float | None = None) -> str:
    """A total return as summaries print it, readable however far it compounded: the total
    (in scientific notation from 10,000% on), beside it the log return and, when known, the
    CAGR (`annual_return`): '+12.0% (log 0.113, CAGR +5.1%/yr)',
    '+1.2e11% (log 20.9, CAGR +312.0%/yr)', '-100.0% (wiped out)'. None: 'n/a'."""
    if total is None or not math.isfinite(total):
        return "n/a"
    if total <= -1:
        return f"{_percent(total)} (wiped out)"
    cagr = f", CAGR {_percent(annual)}/yr" if annual is not None and math.isfinite(annual) else ""
    return f"{_percent(total)} (log {math.log1p(total):.3g}{cagr})"


def _percent(x: float) -> str:
    if abs(x) < 100:
        return f"{x:+.1%}"
    mantissa, exponent = f"{x * 100:.1e}".split("e")
    return f"{'+' if x > 0 else ''}{mantissa}e{int(exponent)}%"


# --- the notebook entry point -------------------------------------------------------------


def _check_candles(candles: pd.DataFrame) -> pd.DataFrame:
    missing = {"open", "high", "low", "close"} - set(candles.columns)
    if missing:
        raise BacktestInputError(f"candles need columns open, high, low, close; missing {sorted(missing)}")
    if len(candles) < MIN_BARS:
        raise BacktestInputError(f"need at least {MIN_BARS} candles to backtest, got {len(candles)}")
    if not isinstance(candles.index, pd.DatetimeIndex) or not candles.index.is_monotonic_increasing or not candles.index.is_unique:
        raise BacktestInputError("candles need a time index, increasing and without duplicates")
    for column in ("open", "high", "low", "close"):
        prices = candles[column].to_numpy(dtype="float64")
        if not (np.isfinite(prices).all() and (prices > 0).all()):
            raise BacktestInputError(f"candle prices must be finite and positive ({column} is not)")
    return candles


def _check_signals(signals: pd.Series | np.ndarray, index: pd.DatetimeIndex) -> np.ndarray:
    if isinstance(signals, pd.Series | pd.DataFrame):
        if isinstance(signals, pd.DataFrame):
            raise BacktestInputError("signals must be one series of target positions, not a frame")
        if not signals.index.equals(index):
            raise BacktestInputError(f"signals must be aligned to the candles: same {len(index)} timestamps, got {len(signals)} "
                                     "(reindex them to the candles first)")
    values = np.asarray(signals, dtype="float64")
    if values.shape != (len(index),):
        raise BacktestInputError(f"signals must hold one target per candle ({len(index)}), got shape {values.shape}")
    if np.isnan(values).all():
        raise BacktestInputError("signals are all NaN: nothing to trade")
    bad = np.flatnonzero(~np.isnan(values) & ((values < -1) | (values > 1) | ~np.isfinite(values)))
    if len(bad):
        raise BacktestInputError(f"target positions must lie in [-1, 1]; {len(bad)} do not, the first at "
                                 f"{index[bad[0]]}: {values[bad[0]]}")
    return values


def run_backtest(candles: pd.DataFrame, signals: pd.Series | np.ndarray, *, fee: float = 0.0, slippage: float = 0.0,
                 execution: str = "next_open", stop_loss: float | None = None, take_profit: float | None = None,
                 init_cash: float = 10_000.0, periods_per_year: float | None = None) -> BacktestResult:
    """Backtest target positions in [-1, 1] (fractions of equity, NaN: hold) on candles.

    >>> result = run_backtest(candles, signals, fee=0.001, slippage=0.0005)
    >>> result.total_return, result.max_drawdown, result.metrics["sharpe"], result.trades.head()
    """
    candles = _check_candles(candles)
    values = _check_signals(signals, candles.index)
    if execution not in EXECUTIONS:
        raise BacktestInputError(f"execution must be one of {EXECUTIONS}, got {execution!r}")
    if not (np.isfinite(init_cash) and init_cash > 0):
        raise BacktestInputError(f"init_cash must be positive, got {init_cash}")
    sim = simulate(candles["open"], candles["high"], candles["low"], candles["close"], values,
                   costs=Costs(fee, slippage), stops=Stops(stop_loss, take_profit), execution=execution, init_cash=init_cash)
    index = candles.index
    equity = pd.Series(sim.equity[:, 0], index=index, name="equity")
    exposure = pd.Series(sim.shares[:, 0] * candles["close"].to_numpy() / sim.equity[:, 0], index=index, name="exposure")
    trades = sim.trades.drop(columns="col")
    trades.insert(0, "entry_time", index[trades["entry_bar"].to_numpy()])
    trades.insert(1, "exit_time", pd.Series(index[trades["exit_bar"].to_numpy()]).where(trades["exit_bar"].to_numpy() >= 0).to_numpy())
    per_year = periods_per_year or bars_per_year(index)
    return BacktestResult(equity, exposure, trades, metrics(sim.equity[:, 0], sim.shares[:, 0], trades, per_year, init_cash))
