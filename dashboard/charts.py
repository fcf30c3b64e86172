"""Charts: pure functions DataFrame → Plotly Figure, one look for app and pack."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboard.settings import SETTINGS

INK = "#1f2933"
ACCENT = "#1d4e89"
ACCENT_LIGHT = "#7fa7d9"
MUTED = "#9aa5b1"
WARN = "#c2410c"
FONT = "Inter, 'Segoe UI', Helvetica, Arial, sans-serif"


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 18, "color": INK}},
        font={"family": FONT, "size": 14, "color": INK},
        template="plotly_white",
        height=height,
        margin={"l": 10, "r": 20, "t": 60, "b": 40},
        hoverlabel={"font_size": 14},
    )
    return fig


def top_referrers(frame: pd.DataFrame, limit: int = 10, currency: str | None = None) -> go.Figure:
    """Horizontal bars of the largest referred fees (frame: referred_fees query)."""
    label = currency or SETTINGS.currency
    top = frame.head(limit).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=top["referred_fees"],
            y=top["name"],
            orientation="h",
            marker_color=[ACCENT if r <= 3 else ACCENT_LIGHT for r in top["rank"]],
            text=[f"{label} {v:,.0f}" for v in top["referred_fees"]],
            textposition="auto",
            hovertemplate="%{y}<br>" + label + " %{x:,.0f}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text=f"Referred fees ({label})", tickformat=",.0f")
    fig.update_yaxes(automargin=True)
    return _layout(fig, f"Top {min(limit, len(frame))} referrers by referred fees ({label})",
                   height=max(320, 36 * len(top) + 120))


def lorenz(frame: pd.DataFrame) -> go.Figure:
    """Lorenz curve of referred fees across referrers (frame: referred_fees query).

    x: cumulative share of referrers, smallest first; y: their cumulative share of fees.
    """
    ascending = frame.sort_values("rank", ascending=False)
    n = len(ascending)
    x = [0.0] + [(i + 1) / n for i in range(n)] if n else [0.0, 1.0]
    cumulative = ascending["share"].cumsum().tolist() if n else [0.0]
    y = [0.0] + cumulative if n else [0.0, 0.0]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="Perfect equality",
                             line={"color": MUTED, "dash": "dash"}))
    fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name="Referrers", fill="tonexty",
                             line={"color": ACCENT, "width": 3},
                             hovertemplate="%{x:.0%} of referrers give %{y:.0%} of fees<extra></extra>"))
    fig.update_xaxes(title_text="Cumulative share of referrers (%), smallest first", tickformat=".0%",
                     range=[0, 1])
    fig.update_yaxes(title_text="Cumulative share of referred fees (%)", tickformat=".0%", range=[0, 1])
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return _layout(fig, "Concentration of referred fees: Lorenz curve (%)")


def funnel(frame: pd.DataFrame) -> go.Figure:
    """Referral funnel counts (frame: funnel query)."""
    fig = go.Figure(
        go.Funnel(
            y=[s.capitalize() for s in frame["step"]],
            x=frame["referrals"],
            textinfo="value+percent initial",
            marker={"color": [ACCENT, ACCENT, ACCENT, ACCENT_LIGHT][: len(frame)]},
        )
    )
    return _layout(fig, "Inbound referral funnel (number of referrals)", height=360)


def completeness(frame: pd.DataFrame) -> go.Figure:
    """Share recorded per completeness measure (frame: completeness query, without the score row)."""
    parts = frame[frame["total"].notna()]
    fig = go.Figure(
        go.Bar(
            x=parts["share"],
            y=parts["measure"],
            orientation="h",
            marker_color=[WARN if (s or 0) < 0.8 else ACCENT for s in parts["share"].fillna(0)],
            text=[f"{s:.0%}" if pd.notna(s) else "—" for s in parts["share"]],
            textposition="auto",
        )
    )
    fig.update_xaxes(title_text="Share recorded (%)", tickformat=".0%", range=[0, 1])
    fig.update_yaxes(automargin=True, autorange="reversed")
    return _layout(fig, "Data completeness: share of records with the detail filled in (%)", height=320)
