"""Small charts for Dagster metadata, as Markdown with an inline PNG."""

import base64
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def png_markdown(fig: plt.Figure, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=72, bbox_inches="tight")
    plt.close(fig)
    return f"![{alt}](data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()})"


def price_chart(candles: pd.DataFrame, title: str, last_n: int = 750) -> str:
    """Close and volume of the last `last_n` bars."""
    recent = candles.tail(last_n)
    fig, (ax_price, ax_vol) = plt.subplots(2, 1, figsize=(7, 2.8), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax_price.plot(recent.index, recent["close"], linewidth=0.9, color="#1f5aa6")
    ax_price.set_title(title, fontsize=9)
    ax_price.tick_params(labelsize=7)
    # one line per bar in a single collection: 750 bar patches took 2-3 s to draw, and at
    # this size a bar is under a pixel wide anyway
    ax_vol.vlines(recent.index, 0, recent["volume"], linewidth=0.6, color="#999999")
    ax_vol.set_ylim(bottom=0)
    ax_vol.tick_params(labelsize=7)
    return png_markdown(fig, title)


def heatmap(matrix: pd.DataFrame, title: str) -> str:
    """Rows x columns of counts as a colour grid."""
    fig, ax = plt.subplots(figsize=(min(2 + 0.22 * matrix.shape[1], 16), 1 + 0.35 * matrix.shape[0]))
    image = ax.imshow(matrix.to_numpy(), aspect="auto", cmap="viridis")
    ax.set_xticks(range(matrix.shape[1]), [str(c).removeprefix("CDL").lower() for c in matrix.columns], rotation=90, fontsize=6)
    ax.set_yticks(range(matrix.shape[0]), matrix.index, fontsize=7)
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.02)
    return png_markdown(fig, title)
