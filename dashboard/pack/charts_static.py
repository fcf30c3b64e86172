"""Static charts for the board pack: DataFrame → PNG bytes (matplotlib, offline).

Drawn to be read in black and white: black, greys and hatching instead of
colour alone, values written on the bars and lines, every axis titled with
its unit. Only matplotlib's object API is used (no pyplot, no backend switch), and
one chart is drawn at a time under the pack's style (rcParams are global),
so a Streamlit server can draw them from any thread. Same data, same bytes.
"""

from __future__ import annotations

import functools
import io
import math
import threading
from collections.abc import Callable

import matplotlib
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from dashboard.formatting import money_short

INK = "#111111"
DARK = "#404040"
MID = "#8c8c8c"
LIGHT = "#d9d9d9"
# One look per series: a fill and a hatch, told apart without colour.
HATCHES = ("", "///", "", "...", "", "\\\\\\", "", "xx", "", "--")
FILLS = ("#222222", "#ffffff", "#a6a6a6", "#ffffff", "#e6e6e6", "#ffffff", "#5f5f5f", "#ffffff",
         "#cccccc", "#ffffff")
DPI = 150
FULL = (11.0, 4.2)  # inches; a full-width chart on A4 landscape
HALF = (5.6, 4.2)

_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.edgecolor": DARK,
    "axes.labelcolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "hatch.linewidth": 0.8,
    "svg.hashsalt": "refport",
}


_LOCK = threading.Lock()


def _chart(draw: Callable[..., bytes]) -> Callable[..., bytes]:
    """Draw one chart at a time, under the pack's style."""

    @functools.wraps(draw)
    def drawn(*args, **kwargs) -> bytes:
        with _LOCK, matplotlib.rc_context(_RC):
            return draw(*args, **kwargs)

    return drawn


def _figure(size: tuple[float, float]) -> tuple[Figure, object]:
    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _png(fig: Figure) -> bytes:
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None}, facecolor="white")
    return buffer.getvalue()


def _compact(value: float) -> str:
    """Axis ticks: 2.5m, 400k, 900 (the axis title names the currency)."""
    size = abs(value)
    sign = "−" if value < 0 else ""
    if size >= 1e6:
        return f"{sign}{size / 1e6:,.{0 if size % 1e6 == 0 else 1}f}m"
    if size >= 1e3:
        return f"{sign}{size / 1e3:,.0f}k"
    return f"{sign}{size:,.0f}"


def _money_axis(currency: str) -> FuncFormatter:
    return FuncFormatter(lambda v, _pos: _compact(v))


@_chart
def lorenz(fees: pd.DataFrame) -> bytes:
    """Lorenz curve of referred fees (frame: referred_fees query), as the app's chart."""
    ascending = fees.sort_values("rank", ascending=False)
    n = len(ascending)
    x = [0.0] + [(i + 1) / n for i in range(n)]
    y = [0.0] + ascending["share"].astype("float64").cumsum().tolist()
    fig, ax = _figure(HALF)
    ax.plot([0, 1], [0, 1], color=MID, linestyle="--", linewidth=1.2)
    ax.fill_between(x, y, x, facecolor="white", edgecolor=MID, hatch="///", linewidth=0)
    ax.plot(x, y, color=INK, linewidth=2.2)
    ax.text(0.52, 0.58, "perfect equality", rotation=38, color=DARK, fontsize=9, ha="center",
            transform=ax.transData, rotation_mode="anchor")
    ax.text(0.78, 0.18, "referrers", color=INK, fontsize=9, fontweight="bold")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("Cumulative share of referrers, smallest first (%)")
    ax.set_ylabel("Cumulative share of referred fees (%)")
    return _png(fig)


@_chart
def top_referrers(fees: pd.DataFrame, limit: int, currency: str) -> bytes:
    """Horizontal bars of the largest referred fees (frame: referred_fees query)."""
    top = fees.head(limit).iloc[::-1]
    fig, ax = _figure(HALF)
    values = top["referred_fees"].astype("float64").tolist()
    colours = [INK if r <= 3 else "white" for r in top["rank"]]
    hatches = ["" if r <= 3 else "///" for r in top["rank"]]
    bars = ax.barh([_short(n, 28) for n in top["name"]], values, color=colours, edgecolor=INK,
                   linewidth=0.8)
    for bar, hatch in zip(bars, hatches, strict=True):
        bar.set_hatch(hatch)
    peak = max(values) if values else 1
    for bar, value in zip(bars, values, strict=True):
        ax.text(bar.get_width() + peak * 0.01, bar.get_y() + bar.get_height() / 2,
                money_short(value, currency), va="center", fontsize=8, color=INK)
    ax.set_xlim(0, peak * 1.25)
    ax.xaxis.set_major_locator(MaxNLocator(4))
    ax.xaxis.set_major_formatter(_money_axis(currency))
    ax.set_xlabel(f"Referred fees ({currency})")
    ax.tick_params(axis="y", labelsize=8)
    return _png(fig)


@_chart
def tier_levels(counts: list[tuple[str, int, int]]) -> bytes:
    """Grouped bars: referrers per level, suggested (hatched) and assigned (solid)."""
    fig, ax = _figure((11.0, 3.6))
    labels = [c[0] for c in counts]
    positions = list(range(len(counts)))
    width = 0.38
    suggested = ax.bar([p - width / 2 for p in positions], [c[1] for c in counts], width,
                       color="white", edgecolor=INK, hatch="///", label="Suggested (the rule)")
    assigned = ax.bar([p + width / 2 for p in positions], [c[2] for c in counts], width,
                      color=DARK, edgecolor=INK, label="Assigned (the board)")
    for bars in (suggested, assigned):
        for bar in bars:
            ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), f"{int(bar.get_height()):,}",
                    ha="center", va="bottom", fontsize=9)
    ax.set_xticks(positions, labels)
    ax.set_ylabel("Referrers (number)")
    top = max([c[1] for c in counts] + [c[2] for c in counts] + [1])
    ax.set_ylim(0, top * 1.18)
    ax.legend(frameon=False, loc="upper left")
    return _png(fig)


@_chart
def ror_scatter(invested: pd.DataFrame, currency: str, labelled: int = 3) -> bytes:
    """Investment (x) against referred fees (y) per referrer we invested in, on log scales, with
    the break-even diagonal; referrers with no fees sit on a strip at the bottom. The largest
    investments are named, their labels stacked so they never overlap."""
    fig, ax = _figure(FULL)
    x = invested["investment_cost"].astype("float64")
    fees = invested["referred_fees"].astype("float64").fillna(0.0)
    positive = fees[fees > 0]
    floor = (float(positive.min()) if len(positive) else float(x.min())) / 4
    y = fees.where(fees > 0, floor)
    above = fees >= x
    ax.scatter(x[above], y[above], s=24, color=INK, label="returned at least its cost (ROR ≥ 1×)", zorder=3)
    ax.scatter(x[~above], y[~above], s=24, facecolor="white", edgecolor=INK, linewidth=1.0,
               label="returned less than its cost", zorder=3)
    ax.set_xscale("log")
    ax.set_yscale("log")
    low = min(float(x.min()), floor) / 1.5
    high = max(float(x.max()), float(y.max())) * 1.5
    ax.plot([low, high], [low, high], color=DARK, linestyle="--", linewidth=1.2,
            label="break-even: referred fees = investment")
    ax.axhline(floor * 1.8, color=LIGHT, linewidth=0.8)
    ax.text(float(x.min()), floor * 1.25, "no referred fees", fontsize=8, color=DARK, va="bottom")
    ax.set_xlim(float(x.min()) / 1.5, float(x.max()) * 2.5)
    ax.set_ylim(floor / 1.6, float(y.max()) * 3)
    top = invested.head(labelled)
    points = sorted(((float(r.investment_cost), float(y.loc[r.Index]), _short(r.name, 30))
                     for r in top.itertuples()), key=lambda p: -p[1])
    previous = None
    for px, py, name in points:
        _, display_y = ax.transData.transform((px, py))
        target = display_y if previous is None else min(display_y, previous - 13 * DPI / 72)
        previous = target
        ax.annotate(name, (px, py), xytext=(-10, (target - display_y) * 72 / DPI - 3),
                    textcoords="offset points", ha="right", va="center", fontsize=8, color=INK,
                    arrowprops={"arrowstyle": "-", "color": MID, "linewidth": 0.6})
    ax.xaxis.set_major_formatter(_money_axis(currency))
    ax.yaxis.set_major_formatter(_money_axis(currency))
    ax.set_xlabel(f"Investment in the period ({currency}, log scale): hours at cost rate + expenses")
    ax.set_ylabel(f"Referred fees ({currency}, log scale)")
    ax.legend(frameon=False, loc="upper left", fontsize=9)
    return _png(fig)


@_chart
def attribution_models(comparison: pd.DataFrame, models: list[str]) -> bytes:
    """One stacked horizontal bar per model: each channel's share of the credited conversions."""
    channels = sorted(comparison["channel"].unique())
    shares = {}
    for model in models:
        rows = comparison[comparison["model"] == model].set_index("channel")["conversions"].astype("float64")
        total = float(rows.sum())
        shares[model] = {c: (float(rows.get(c, 0.0)) / total if total else 0.0) for c in channels}
    fig, ax = _figure((11.0, 4.6))
    order = list(reversed(models))
    left = [0.0] * len(order)
    for index, channel in enumerate(channels):
        widths = [shares[m][channel] for m in order]
        bars = ax.barh([m.replace("_", " ") for m in order], widths, left=left,
                       color=FILLS[index % len(FILLS)], edgecolor=INK, linewidth=0.6,
                       hatch=HATCHES[index % len(HATCHES)], label=channel)
        for bar, width, start in zip(bars, widths, left, strict=True):
            if width >= 0.06:
                dark = FILLS[index % len(FILLS)] in ("#222222", "#5f5f5f")
                ax.text(start + width / 2, bar.get_y() + bar.get_height() / 2, f"{width:.0%}",
                        ha="center", va="center", fontsize=8, color="white" if dark else INK,
                        bbox=None if dark else {"facecolor": "white", "edgecolor": "none", "pad": 1.0})
        left = [a + b for a, b in zip(left, widths, strict=True)]
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlabel("Share of attributed conversions (%)")
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=min(len(channels), 8),
              fontsize=9)
    return _png(fig)


@_chart
def drift_index(drift: pd.DataFrame) -> bytes:
    """Drift index per quarter (frame: drift query), every point labelled."""
    fig, ax = _figure((11.0, 3.6))
    quarters = drift["quarter"].tolist()
    values = [None if pd.isna(v) else float(v) for v in drift["drift_tvd"]]
    positions = list(range(len(quarters)))
    ax.plot([p for p, v in zip(positions, values, strict=True) if v is not None],
            [v for v in values if v is not None], color=INK, linewidth=2, marker="o")
    for p, v in zip(positions, values, strict=True):
        ax.text(p, (v or 0) + 0.006, "no data" if v is None else f"{v:.0%}", ha="center", va="bottom",
                fontsize=9)
    ax.set_xticks(positions, quarters)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    top = max([v for v in values if v is not None] + [0.1])
    ax.set_ylim(0, top * 1.3)
    ax.set_ylabel("Drift index (%)")
    ax.set_xlabel("Calendar quarter")
    return _png(fig)


@_chart
def drift_mix(rows: pd.DataFrame) -> bytes:
    """Target (hatched) and actual (solid) share per work type in one quarter (frame: drift_mix)."""
    rows = rows.iloc[::-1]
    fig, ax = _figure(FULL)
    positions = list(range(len(rows)))
    height = 0.38
    target = rows["target_share"].astype("float64").fillna(0.0).tolist()
    actual = rows["actual_share"].astype("float64").fillna(0.0).tolist()
    ax.barh([p + height / 2 for p in positions], target, height, color="white", edgecolor=INK,
            hatch="///", label="Target share")
    ax.barh([p - height / 2 for p in positions], actual, height, color=DARK, edgecolor=INK,
            label="Actual share")
    for p, t, a in zip(positions, target, actual, strict=True):
        ax.text(t + 0.004, p + height / 2, f"{t:.0%}", va="center", fontsize=8)
        ax.text(a + 0.004, p - height / 2, f"{a:.0%}", va="center", fontsize=8, fontweight="bold")
    ax.set_yticks(positions, rows["work_type"].tolist())
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlim(0, max(target + actual + [0.1]) * 1.2)
    ax.set_xlabel("Share of new inbound referrals (%)")
    ax.legend(frameon=False, loc="lower right")
    return _png(fig)


@_chart
def team_net(balance: pd.DataFrame) -> bytes:
    """Net internal referrals per team (frame: team_balance): givers hatched, receivers solid."""
    rows = balance.sort_values(["net", "team"], ascending=[True, False])
    fig, ax = _figure((11.0, min(4.2, max(2.4, 0.4 * len(rows) + 1.2))))
    nets = [int(v) for v in rows["net"]]
    bars = ax.barh(rows["team"].tolist(), nets, color=[DARK if n > 0 else "white" for n in nets],
                   edgecolor=INK)
    for bar, n in zip(bars, nets, strict=True):
        bar.set_hatch("" if n > 0 else "///")
        ax.text(n + (0.5 if n >= 0 else -0.5), bar.get_y() + bar.get_height() / 2,
                f"{n:+,}".replace("-", "−"), va="center", ha="left" if n >= 0 else "right", fontsize=9)
    ax.axvline(0, color=INK, linewidth=1)
    span = max([abs(n) for n in nets] + [1])
    ax.set_xlim(-span * 1.25, span * 1.25)
    ax.set_xlabel("Internal referrals received minus given (number): left net giver, right net receiver")
    return _png(fig)


def _short(text: object, limit: int) -> str:
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _float(value: object) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    return 0.0 if math.isnan(number) else number
