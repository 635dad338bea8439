"""Backtest charts as matplotlib figures (Dagster shows them inline, MLflow keeps them as PNG)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def equity_drawdown(curves: dict[str, pd.Series], title: str, boundaries: list[pd.Timestamp] | None = None) -> plt.Figure:
    """Equity (each curve from 1.0) over its drawdown; dotted lines at walk-forward window starts."""
    fig, (ax, ax_dd) = plt.subplots(2, 1, figsize=(7.5, 4.2), sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})
    for i, (name, curve) in enumerate(curves.items()):
        growth = curve / curve.iloc[0]
        width = 1.5 if i == 0 else 0.9
        ax.plot(growth.index, growth.to_numpy(), linewidth=width, label=name)
        ax_dd.plot(curve.index, (curve / curve.cummax() - 1).to_numpy() * 100, linewidth=width)
    for at in boundaries or []:
        for a in (ax, ax_dd):
            a.axvline(at, color="grey", linestyle=":", linewidth=0.8)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel("growth of 1", fontsize=8)
    ax_dd.set_ylabel("drawdown %", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")
    for a in (ax, ax_dd):
        a.tick_params(labelsize=7)
        a.grid(alpha=0.3)
    return fig


def pattern_returns(table: pd.DataFrame, title: str, top: int = 20) -> plt.Figure:
    """Mean net return per detection of the most frequent patterns, labelled with its t-statistic."""
    rows = table[table["matured"] > 0].head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.26 * max(len(rows), 1)))
    colours = ["#2a7f3f" if m > 0 else "#b03a2e" for m in rows["mean_return"]]
    ax.barh([str(p).removeprefix("CDL").lower() for p in rows["pattern"]], rows["mean_return"] * 100, color=colours)
    for y, (m, t, n) in enumerate(zip(rows["mean_return"] * 100, rows["t_stat"], rows["matured"], strict=True)):
        ax.annotate(f" t={t:.1f} n={n}" if pd.notna(t) else f" n={n}", (m, y), fontsize=6, va="center")
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlabel("mean return per detection, net of costs (%)", fontsize=8)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    return fig
