"""How the paper book did: its equity curve, return figures, trade statistics, and P&L
attributed to the fused model's layers.

Attribution: a lot records each layer's contribution to the fused log-odds at entry
(positive pushes toward "up"). Signed by the trade's direction, a contribution supports
the trade (> 0) or argues against it (< 0). A closed trade's P&L is shared among the
layers in proportion to their signed support over the sum of |support|:
    pnl_k = pnl x d c_k / sum_j |d c_j|
so a layer that backed a winner earns a share of the gain, one that argued against a
winner loses a share, and the shares of layers on the winning side add up to at most
the whole P&L. Per layer we also report how often the trades it backed won.
"""

import numpy as np
import pandas as pd

from trading.risk import max_drawdown

DAYS_PER_YEAR = 252


def equity_curve(fills: pd.DataFrame, initial_cash: float, closes: dict[str, pd.Series], until: pd.Timestamp) -> pd.Series:
    """Equity after each fill and at `until`: cash plus every position at the last stored
    close known at that time, else its last fill price (fills: time, symbol, side +1/-1,
    quantity, price, fee)."""
    fills = fills.sort_values("time", kind="stable").reset_index(drop=True)
    times = pd.DatetimeIndex(fills["time"]).append(pd.DatetimeIndex([until]))
    start = pd.Series([initial_cash], index=times[:1], name="equity")  # before the first fill
    cash = initial_cash + (-fills["side"] * fills["quantity"] * fills["price"] - fills["fee"]).cumsum().to_numpy()
    cash = np.append(cash, cash[-1] if len(cash) else initial_cash)
    if fills.empty:
        return pd.Series(cash, index=times, name="equity")
    held = pd.get_dummies(fills["symbol"], dtype=float).mul(fills["side"] * fills["quantity"], axis=0).cumsum()
    held = pd.concat([held, held.iloc[[-1]]], ignore_index=True)
    value = np.zeros(len(times))
    for symbol in held.columns:
        paid = pd.Series(np.where(fills["symbol"] == symbol, fills["price"], np.nan)).ffill().to_numpy()
        marks = np.append(paid, paid[-1])
        series = closes.get(symbol)
        if series is not None and not series.empty:
            at = series.index.searchsorted(times, side="right") - 1
            marks = np.where(at >= 0, series.to_numpy()[np.clip(at, 0, None)], marks)
        value += held[symbol].to_numpy() * np.nan_to_num(marks)
    return pd.concat([start, pd.Series(cash + value, index=times, name="equity")])


def figures(curve: pd.Series, realized: pd.Series) -> dict:
    """Return, Sharpe, Sortino (daily, annualized), max drawdown; win rate and profit factor of closed trades."""
    out: dict = {"start_equity": float(curve.iloc[0]) if len(curve) else None, "equity": float(curve.iloc[-1]) if len(curve) else None}
    if len(curve):
        out["total_return"] = float(curve.iloc[-1] / curve.iloc[0] - 1) if curve.iloc[0] else None
        out["max_drawdown"] = max_drawdown(curve.to_numpy()) if (curve > 0).all() else None
    daily = curve.resample("1D").last().ffill().pct_change().dropna() if len(curve) else pd.Series(dtype=float)
    if len(daily) >= 2 and daily.std(ddof=1) > 0:
        out["sharpe"] = float(daily.mean() / daily.std(ddof=1) * np.sqrt(DAYS_PER_YEAR))
        downside = daily[daily < 0]
        out["sortino"] = float(daily.mean() / downside.std(ddof=1) * np.sqrt(DAYS_PER_YEAR)) if len(downside) >= 2 else None
    else:
        out["sharpe"] = out["sortino"] = None
        out["note"] = "Sharpe and Sortino need at least three days of equity history"
    wins, losses = realized[realized > 0], realized[realized < 0]
    out |= {"closed_trades": len(realized), "win_rate": float(len(wins) / len(realized)) if len(realized) else None,
            "profit_factor": float(wins.sum() / -losses.sum()) if len(losses) else None,
            "realized_pnl": float(realized.sum())}
    return out


def attribution(closed: pd.DataFrame) -> dict:
    """P&L of closed lots shared among the layers that backed or opposed them at entry."""
    per_layer: dict[str, dict] = {}
    trades = []
    for row in closed.itertuples():
        layers = row.layer_contributions or {}
        d = 1.0 if row.side == "long" else -1.0
        support = {k: d * float(v) for k, v in layers.items()}
        scale = sum(abs(v) for v in support.values())
        shares = {k: (row.realized_pnl * v / scale if scale > 0 else 0.0) for k, v in support.items()}
        trades.append({"id": row.id, "symbol": row.symbol, "side": row.side, "realized_pnl": row.realized_pnl,
                       "model_version": row.model_version, "layers": {k: round(v, 6) for k, v in shares.items()}})
        for k, v in support.items():
            entry = per_layer.setdefault(k, {"pnl": 0.0, "backed": 0, "backed_wins": 0, "opposed": 0})
            entry["pnl"] += shares[k]
            if v > 0:
                entry["backed"] += 1
                entry["backed_wins"] += int(row.realized_pnl > 0)
            elif v < 0:
                entry["opposed"] += 1
    for entry in per_layer.values():
        entry["win_rate_when_backed"] = entry["backed_wins"] / entry["backed"] if entry["backed"] else None
    unattributed = float(closed.loc[closed["layer_contributions"].isna(), "realized_pnl"].sum()) if len(closed) else 0.0
    return {"layers": per_layer, "trades": trades, "unattributed_pnl": unattributed,
            "method": "pnl_k = pnl x d c_k / sum_j |d c_j| (c: layer contribution to the fused log-odds at entry, d: +1 long / -1 short)"}


def trade_stats(trades: pd.DataFrame) -> dict:
    """Counts, win rate and P&L of a book's lots (open and closed)."""
    closed = trades[trades["status"] == "closed"]
    pnl = closed["realized_pnl"]
    return {"trades": len(trades), "open": int((trades["status"] == "open").sum()), "closed": len(closed),
            "wins": int((pnl > 0).sum()), "losses": int((pnl < 0).sum()),
            "win_rate": float((pnl > 0).mean()) if len(pnl) else None, "realized_pnl": float(pnl.sum()),
            "fees": float(trades["fees"].sum()), "avg_win": float(pnl[pnl > 0].mean()) if (pnl > 0).any() else None,
            "avg_loss": float(pnl[pnl < 0].mean()) if (pnl < 0).any() else None,
            "by_symbol": {s: {"trades": len(g), "realized_pnl": float(g["realized_pnl"].sum())} for s, g in closed.groupby("symbol")}}
