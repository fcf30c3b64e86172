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
    fig.update_xaxes(title_text="Share of referrers (%), smallest first", tickformat=".0%",
                     range=[0, 1])
    fig.update_yaxes(title_text="Cumulative share of referred fees (%)", tickformat=".0%", range=[0, 1])
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return _layout(fig, "Lorenz curve of referred fees (%)")


def funnel(frame: pd.DataFrame) -> go.Figure:
    """Referral funnel counts (frame: funnel query)."""
    fig = go.Figure(
        go.Funnel(
            y=[s.capitalize() for s in frame["step"]],
            x=frame["referrals"],
            texttemplate="%{value:,} (%{percentInitial:.0%} of received)",
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


# --- Strategic drift, internal flows, reciprocity, who-knows-who, concentration over time ---

def drift_index(frame: pd.DataFrame) -> go.Figure:
    """Drift index per quarter (frame: drift query); gaps where a quarter had nothing."""
    fig = go.Figure(
        go.Scatter(
            x=frame["quarter"],
            y=frame["drift_tvd"],
            mode="lines+markers+text",
            line={"color": WARN, "width": 3},
            marker={"size": 9},
            text=[f"{v:.0%}" if pd.notna(v) else "" for v in frame["drift_tvd"]],
            textposition="top center",
            customdata=frame["referrals"],
            hovertemplate="%{x}: drift %{y:.1%}<br>%{customdata:,} inbound referrals<extra></extra>",
        )
    )
    top = frame["drift_tvd"].max()
    fig.update_yaxes(title_text="Drift index (%)", tickformat=".0%",
                     range=[0, max(0.1, (0 if pd.isna(top) else float(top)) * 1.25)])
    fig.update_xaxes(title_text="Calendar quarter", type="category")
    return _layout(fig, "Strategic drift index per quarter (% of new work off the target mix)",
                   height=380)


def drift_mix_quarter(frame: pd.DataFrame, quarter: str) -> go.Figure:
    """Actual against target share per work type in one quarter (frame: drift_mix query)."""
    rows = frame[frame["quarter"] == quarter].sort_values(["target_share", "work_type"],
                                                          ascending=[True, False])
    fig = go.Figure()
    fig.add_trace(go.Bar(y=rows["work_type"], x=rows["target_share"], orientation="h", name="Target",
                         marker_color=MUTED,
                         hovertemplate="%{y}: target %{x:.1%}<extra></extra>"))
    fig.add_trace(go.Bar(y=rows["work_type"], x=rows["actual_share"], orientation="h", name="Actual",
                         marker_color=[WARN if (a or 0) > t else ACCENT for a, t in
                                       zip(rows["actual_share"].fillna(0), rows["target_share"],
                                           strict=True)],
                         text=[f"{a:.0%}" if pd.notna(a) else "—" for a in rows["actual_share"]],
                         textposition="outside",
                         hovertemplate="%{y}: actual %{x:.1%}<extra></extra>"))
    fig.update_layout(barmode="group", legend={"orientation": "h", "y": -0.15})
    fig.update_xaxes(title_text="Share of new work (%)", tickformat=".0%")  # short: the chart is half a page wide
    fig.update_yaxes(automargin=True)
    return _layout(fig, f"Actual vs target mix of new work, {quarter} (%)",
                   height=max(340, 44 * len(rows) + 140))


def drift_gap_heatmap(frame: pd.DataFrame) -> go.Figure:
    """Actual − target share per work type and quarter, in percentage points (frame: drift_mix)."""
    gaps = frame.assign(gap=(frame["actual_share"] - frame["target_share"]) * 100)
    table = gaps.pivot_table(index="work_type", columns="quarter", values="gap", aggfunc="first",
                             dropna=False)
    order = (frame.groupby("work_type")["target_share"].max().sort_values().index.tolist())
    table = table.reindex(index=order, columns=sorted(frame["quarter"].unique()))
    limit = max(5.0, float(pd.Series(table.to_numpy().ravel()).abs().max(skipna=True) or 0))
    fig = go.Figure(
        go.Heatmap(
            z=table.to_numpy(),
            x=table.columns.tolist(),
            y=table.index.tolist(),
            zmin=-limit, zmax=limit, zmid=0,
            colorscale=[[0, ACCENT], [0.5, "#f5f7fa"], [1, WARN]],
            colorbar={"title": {"text": "pp"}},
            text=[[f"{round(v):+d}" if pd.notna(v) else "" for v in row] for row in table.to_numpy()],
            texttemplate="%{text}",
            hovertemplate="%{y}, %{x}: %{z:+.1f} percentage points<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="Calendar quarter", type="category")
    fig.update_yaxes(automargin=True)
    return _layout(fig, "Mix gap per work type: actual − target (percentage points)",
                   height=max(340, 34 * len(table) + 140))


def off_target_referrers(frame: pd.DataFrame, limit: int = 10) -> go.Figure:
    """Referrers with the most off-target referrals (frame: drift_referrers with a name column)."""
    top = frame[frame["off_target_referrals"] > 0].head(limit).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=top["off_target_referrals"],
            y=top["name"],
            orientation="h",
            marker_color=[WARN if s >= 0.5 else ACCENT_LIGHT for s in top["off_target_share"]],
            text=[f"{n:,} of {r:,} ({s:.0%})" for n, r, s in
                  zip(top["off_target_referrals"], top["referrals"], top["off_target_share"],
                      strict=True)],
            textposition="auto",
            hovertemplate="%{y}: %{x:,} off-target referrals<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="Off-target inbound referrals (number)")
    fig.update_yaxes(automargin=True)
    return _layout(fig, f"Referrers driving the drift: off-target referrals (number, top {len(top)})",
                   height=max(320, 36 * len(top) + 120))


def internal_sankey(frame: pd.DataFrame, measure: str = "referrals",
                    currency: str | None = None) -> go.Figure:
    """Internal referrals team → team (frame: internal_flows); measure referrals or referred_fees."""
    label = currency or SETTINGS.currency
    flows = frame[frame[measure] > 0]
    givers = sorted(flows["from_team"].unique())
    takers = sorted(flows["to_team"].unique())
    nodes = [f"{t} (gives)" for t in givers] + [f"{t} (receives)" for t in takers]
    index = {("from", t): i for i, t in enumerate(givers)}
    index.update({("to", t): len(givers) + i for i, t in enumerate(takers)})
    money_measure = measure == "referred_fees"
    unit = label if money_measure else "referrals"
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={"label": nodes, "pad": 18, "thickness": 18,
                  "color": [ACCENT] * len(givers) + [ACCENT_LIGHT] * len(takers),
                  "hovertemplate": "%{label}: %{value:,.0f} " + unit + "<extra></extra>"},
            link={
                "source": [index[("from", t)] for t in flows["from_team"]],
                "target": [index[("to", t)] for t in flows["to_team"]],
                "value": flows[measure].astype(float).tolist(),
                "color": "rgba(127,167,217,0.45)",
                "hovertemplate": "%{source.label} → %{target.label}: %{value:,.0f} " + unit
                + "<extra></extra>",
            },
        )
    )
    title = (f"Internal referrals team → team: referred fees ({label})" if money_measure
             else "Internal referrals team → team (number of referrals)")
    return _layout(fig, title, height=max(420, 40 * max(len(givers), len(takers)) + 120))


def team_balance(frame: pd.DataFrame) -> go.Figure:
    """Net internal referrals per team, givers (net < 0) highlighted (frame: team_balance)."""
    rows = frame.sort_values(["net", "team"], ascending=[False, True])
    fig = go.Figure(
        go.Bar(
            x=rows["net"],
            y=rows["team"],
            orientation="h",
            marker_color=[WARN if n < 0 else ACCENT for n in rows["net"]],
            text=[f"{n:+,}" for n in rows["net"]],
            textposition="auto",
            customdata=list(zip(rows["given"], rows["received"], strict=True)),
            hovertemplate="%{y}: net %{x:+,}<br>given %{customdata[0]:,}, received "
            "%{customdata[1]:,}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="Net internal referrals: received − given (number)", zeroline=True,
                     zerolinecolor=INK)
    fig.update_yaxes(automargin=True)
    return _layout(fig, "Net givers and takers of internal referrals (number)",
                   height=max(300, 40 * len(rows) + 120))


def reciprocity(frame: pd.DataFrame) -> go.Figure:
    """Inbound against outbound referrals per referrer (frame: reciprocity query)."""
    kinds = [
        ("Two-way", ~frame["no_return_from_them"] & ~frame["no_return_from_us"], ACCENT),
        ("We send, none back", frame["no_return_from_them"], WARN),
        ("They send, we never do", frame["no_return_from_us"], ACCENT_LIGHT),
    ]
    fig = go.Figure()
    top = float(max(frame["inbound_referrals"].max(), frame["outbound_referrals"].max(), 1))
    fig.add_trace(go.Scatter(x=[0, top], y=[0, top], mode="lines", name="Balanced",
                             line={"color": MUTED, "dash": "dash"}, hoverinfo="skip"))
    for name, mask, colour in kinds:
        rows = frame[mask.astype(bool)]
        fig.add_trace(go.Scatter(
            x=rows["inbound_referrals"], y=rows["outbound_referrals"], mode="markers", name=name,
            marker={"color": colour, "size": 11, "line": {"width": 1, "color": "white"}},
            text=rows["name"],
            hovertemplate="%{text}<br>received %{x:,}, sent %{y:,}<extra></extra>",
        ))
    # each axis to its own maximum: outbound counts are usually far smaller than inbound ones
    fig.update_xaxes(title_text="Inbound referrals they sent us (number)",
                     range=[-0.03 * float(frame["inbound_referrals"].max()) - 0.5,
                            1.05 * float(frame["inbound_referrals"].max()) + 1])
    fig.update_yaxes(title_text="Outbound referrals we sent them (number)",
                     range=[-0.05 * float(frame["outbound_referrals"].max()) - 0.5,
                            1.15 * float(frame["outbound_referrals"].max()) + 1])
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    return _layout(fig, "Reciprocity: referrals received vs sent per referrer (number)")


def relationship_network(frame: pd.DataFrame, referrer_id: str | None = None,
                         fee_earner_id: str | None = None) -> go.Figure:
    """Fee earners ↔ contacts ↔ referrers in three columns (frame: relationship_network).

    Around a referrer: every relationship with its contacts. Around a fee earner: the
    contacts they know, everyone else here who knows those contacts, and their firms.
    Line width follows the relationship's strength (1–5).
    """
    rows = frame
    if referrer_id:
        rows = frame[frame["referrer_id"] == referrer_id]
    elif fee_earner_id:
        rows = frame[frame["contact_id"].isin(frame.loc[frame["fee_earner_id"] == fee_earner_id,
                                                         "contact_id"])]
    columns = {
        "fee_earner": rows[["fee_earner_id", "fee_earner", "team"]].drop_duplicates("fee_earner_id"),
        "contact": rows[["contact_id", "contact", "job_title"]].drop_duplicates("contact_id"),
        "referrer": rows[["referrer_id", "referrer"]].drop_duplicates("referrer_id"),
    }
    position: dict[tuple[str, str], tuple[float, float]] = {}
    for x, (kind, nodes) in enumerate(columns.items()):
        names = nodes.sort_values(nodes.columns[1])
        n = len(names)
        for i, node_id in enumerate(names.iloc[:, 0]):
            position[(kind, node_id)] = (float(x), 1.0 - (i + 1) / (n + 1))
    fig = go.Figure()
    for strength in sorted(rows["strength"].dropna().unique()):
        links = rows[rows["strength"] == strength]
        xs: list[float | None] = []
        ys: list[float | None] = []
        for fe, contact in zip(links["fee_earner_id"], links["contact_id"], strict=True):
            (x0, y0), (x1, y1) = position[("fee_earner", fe)], position[("contact", contact)]
            xs += [x0, x1, None]
            ys += [y0, y1, None]
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", name=f"strength {int(strength)}", hoverinfo="skip",
            line={"width": 0.8 + 1.2 * float(strength),
                  "color": WARN if strength <= 2 else ACCENT},
            showlegend=True,
        ))
    works_at = rows[["contact_id", "referrer_id"]].drop_duplicates()
    xs, ys = [], []
    for contact, referrer in zip(works_at["contact_id"], works_at["referrer_id"], strict=True):
        (x0, y0), (x1, y1) = position[("contact", contact)], position[("referrer", referrer)]
        xs += [x0, x1, None]
        ys += [y0, y1, None]
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="works at", hoverinfo="skip",
                             line={"width": 1, "color": MUTED, "dash": "dot"}))
    styles = {
        "fee_earner": ("Our fee earners", ACCENT, "circle", "middle left"),
        "contact": ("Contacts", ACCENT_LIGHT, "diamond", "middle right"),
        "referrer": ("Referrers", INK, "square", "middle right"),
    }
    for kind, nodes in columns.items():
        label, colour, symbol, where = styles[kind]
        points = [position[(kind, node_id)] for node_id in nodes.iloc[:, 0]]
        detail = nodes.iloc[:, 2] if nodes.shape[1] > 2 else nodes.iloc[:, 1]
        fig.add_trace(go.Scatter(
            x=[p[0] for p in points], y=[p[1] for p in points], mode="markers+text", name=label,
            marker={"size": 16, "color": colour, "symbol": symbol,
                    "line": {"width": 1, "color": "white"}},
            text=nodes.iloc[:, 1].fillna(nodes.iloc[:, 0]).tolist(), textposition=where,
            customdata=detail.fillna("").tolist(),
            hovertemplate="%{text}<br>%{customdata}<extra></extra>",
        ))
    fig.update_xaxes(visible=False, range=[-0.8, 2.8])
    fig.update_yaxes(visible=False, range=[0, 1])
    fig.update_layout(legend={"orientation": "h", "y": -0.05})
    nodes_high = max((len(n) for n in columns.values()), default=1)
    return _layout(fig, "Who knows who: fee earners ↔ contacts ↔ referrers (line width = strength 1–5)",
                   height=max(380, 46 * nodes_high + 160))


def concentration_trend(frame: pd.DataFrame) -> go.Figure:
    """Top-3 share and HHI at each quarter end over the rolling 12 months (frame:
    concentration_trend)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=frame["quarter"], y=frame["top3_share"], mode="lines+markers",
                             name="Top-3 share", line={"color": ACCENT, "width": 3},
                             hovertemplate="%{x}: top-3 share %{y:.1%}<extra></extra>"))
    fig.add_trace(go.Scatter(x=frame["quarter"], y=frame["hhi"], mode="lines+markers",
                             name="HHI", line={"color": WARN, "width": 3},
                             hovertemplate="%{x}: HHI %{y:.3f}<extra></extra>"))
    fig.update_xaxes(title_text="Quarter end (rolling 12 months to it)", type="category")
    fig.update_yaxes(title_text="Share of referred fees (%) · HHI (0–100%)", tickformat=".0%",
                     rangemode="tozero")
    fig.update_layout(legend={"orientation": "h", "y": -0.25})
    return _layout(fig, "Concentration over time: top-3 share and HHI, rolling 12 months (%)",
                   height=380)


def referrers_for_80pct_trend(frame: pd.DataFrame) -> go.Figure:
    """How many referrers give 80% of referred fees, per quarter end (frame: concentration_trend)."""
    fig = go.Figure(go.Bar(
        x=frame["quarter"], y=frame["referrers_for_80pct"], marker_color=ACCENT_LIGHT,
        text=frame["referrers_for_80pct"], textposition="outside",
        customdata=frame["referrers_with_fees"],
        hovertemplate="%{x}: %{y} of %{customdata} referrers give 80% of fees<extra></extra>",
    ))
    fig.update_xaxes(title_text="Quarter end (rolling 12 months to it)", type="category")
    fig.update_yaxes(title_text="Referrers (number)", rangemode="tozero")
    return _layout(fig, "Referrers giving 80% of referred fees, rolling 12 months (number)",
                   height=380)


def stress_test(frame: pd.DataFrame, currency: str | None = None) -> go.Figure:
    """Share of referred fees lost if the top N referrers stop (frame: concentration_stress)."""
    label = currency or SETTINGS.currency
    fig = go.Figure(go.Bar(
        x=[f"Lose top {n}" for n in frame["top_n"]],
        y=frame["share_lost"],
        marker_color=WARN,
        text=[f"{s:.0%}" for s in frame["share_lost"]],
        textposition="outside",
        customdata=list(zip(frame["referrers_lost"], frame["fees_lost"], strict=True)),
        hovertemplate="%{customdata[0]}<br>" + label
        + " %{customdata[1]:,.0f} lost (%{y:.1%})<extra></extra>",
    ))
    fig.update_yaxes(title_text="Referred fees lost (%)", tickformat=".0%", range=[0, 1.05])
    return _layout(fig, "Stress test: referred fees lost (%)", height=360)


# --- Attribution ---

# one colour per attribution model (ten), in the order of the model parameter
MODEL_COLOURS = ("#1d4e89", "#7fa7d9", "#2a9d8f", "#8ab17d", "#e9c46a",
                 "#f4a261", "#c2410c", "#9b5de5", "#1f2933", "#9aa5b1")


def attribution_models(frame: pd.DataFrame, measure: str = "conversions", chosen: str | None = None,
                       labels: dict[str, str] | None = None, currency: str | None = None) -> go.Figure:
    """Credit per channel under every model, bars grouped by channel (frame:
    attribution_comparison). Channels by the chosen model's credit, largest first; the
    chosen model stands out, the others are paler."""
    label = currency or SETTINGS.currency
    unit = "attributed conversions" if measure == "conversions" else label
    models = list(dict.fromkeys(frame["model"]))
    lead = frame[frame["model"] == (chosen or models[0])]
    order = lead.sort_values([measure, "channel"], ascending=[False, True])["channel"].tolist()
    order += sorted(set(frame["channel"]) - set(order))
    fig = go.Figure()
    for i, model in enumerate(models):
        rows = frame[frame["model"] == model].set_index("channel").reindex(order)
        name = (labels or {}).get(model, model)
        fig.add_trace(go.Bar(
            x=order, y=rows[measure], name=name,
            marker={"color": MODEL_COLOURS[i % len(MODEL_COLOURS)],
                    "line": {"color": INK, "width": 2 if model == chosen else 0}},
            opacity=1.0 if chosen in (None, model) else 0.55,
            hovertemplate=(f"{name}<br>%{{x}}: %{{y:,.1f}} conversions<extra></extra>"
                           if measure == "conversions"
                           else f"{name}<br>%{{x}}: {label} %{{y:,.0f}}<extra></extra>"),
        ))
    fig.update_layout(barmode="group", bargroupgap=0.05, legend={"orientation": "h", "y": -0.18})
    fig.update_xaxes(title_text="Channel")
    fig.update_yaxes(title_text=("Attributed conversions" if measure == "conversions"
                                 else f"Attributed value ({label})"), tickformat=",.0f")
    return _layout(fig, f"Credit per channel under each of the ten models ({unit})", height=520)


def attribution_referrers(frame: pd.DataFrame, model_label: str, limit: int = 15) -> go.Figure:
    """The referrers with most attributed conversions under one model, with the range of
    ranks they take across the ten models (frame: attribution_referrer_ranks)."""
    top = frame.head(limit).iloc[::-1]
    names = top["name"].fillna(top["referrer_id"])
    fig = go.Figure(go.Bar(
        x=top["conversions"], y=names, orientation="h",
        marker_color=[WARN if s >= 3 else ACCENT for s in top["rank_spread"]],
        text=[f"{c:,.1f} · rank {b}–{w}" if b != w else f"{c:,.1f} · rank {b}"
              for c, b, w in zip(top["conversions"], top["best_rank"], top["worst_rank"], strict=True)],
        textposition="auto",
        hovertemplate="%{y}: %{x:,.2f} attributed conversions<extra></extra>",
    ))
    fig.update_xaxes(title_text="Attributed conversions", tickformat=",.1f")
    fig.update_yaxes(automargin=True)
    return _layout(fig, f"Top {len(top)} referrers under {model_label} (attributed conversions)",
                   height=max(320, 34 * len(top) + 120))


def attribution_paths(frame: pd.DataFrame, limit: int = 15) -> go.Figure:
    """The most common journeys, converted and not (frame: attribution_paths)."""
    top = frame.head(limit).iloc[::-1]
    fig = go.Figure()
    fig.add_trace(go.Bar(y=top["path"], x=top["conversions"], orientation="h", name="Converted",
                         marker_color=ACCENT,
                         hovertemplate="%{y}<br>%{x:,} converted<extra></extra>"))
    fig.add_trace(go.Bar(y=top["path"], x=top["journeys"] - top["conversions"], orientation="h",
                         name="Did not convert", marker_color=MUTED,
                         text=[f"{r:.0%}" for r in top["conversion_rate"]], textposition="outside",
                         hovertemplate="%{y}<br>%{x:,} did not convert<extra></extra>"))
    fig.update_layout(barmode="stack", legend={"orientation": "h", "y": -0.15})
    fig.update_xaxes(title_text="Journeys (number; label: conversion rate)", tickformat=",d")
    fig.update_yaxes(automargin=True)
    return _layout(fig, f"Most common journeys ({len(top)} shown, number of journeys)",
                   height=max(320, 34 * len(top) + 140))


# --- Return on relationships ---

def _money_tick(value: float, label: str) -> str:
    return f"{label} {value:,.0f}"


# Above this many markers a chart is drawn with WebGL (go.Scattergl) rather than as SVG shapes: at
# 10 million referrals a scatter has one marker per referrer, 20,000, and the browser took seconds to
# lay out that many SVG elements.
WEBGL_FROM = 2_000


def marker_trace(markers: int) -> type[go.Scatter | go.Scattergl]:
    """The trace type for a scatter of this many markers."""
    return go.Scattergl if markers >= WEBGL_FROM else go.Scatter


def ror_scatter(frame: pd.DataFrame, basis: str = "direct", log_axes: bool = False,
                return_label: str | None = None, currency: str | None = None) -> go.Figure:
    """Investment against return per referrer with the break-even line y = x (frame:
    ror_referrers). ``basis``: ``direct`` (referred_fees) or ``attributed``
    (attributed_value). Referrers with neither investment nor return are left out; on log
    axes so are those with no investment or no positive return (the title says how many)."""
    label = currency or SETTINGS.currency
    column = "referred_fees" if basis == "direct" else "attributed_value"
    ror = "direct_ror" if basis == "direct" else "attributed_ror"
    what = return_label or ("Referred fees" if basis == "direct" else "Attributed value")
    x = frame["investment_cost"].astype(float)
    y = frame[column].astype(float)
    shown = (x != 0) | (y != 0)
    hidden = 0
    if log_axes:
        hidden = int((shown & ~((x > 0) & (y > 0))).sum())
        shown = (x > 0) & (y > 0)
    rows = frame[shown]
    x, y = x[shown], y[shown]
    groups = [
        ("Returns at least its cost", (x > 0) & (y >= x), ACCENT),
        ("Returns less than its cost", (x > 0) & (y < x), WARN),
        ("Not invested in", x <= 0, MUTED),
    ]
    fig = go.Figure()
    positive = pd.concat([x[x > 0], y[y > 0]])
    if len(positive):
        # across the investments drawn: the line shows where a dot would break even
        low, high = float(positive.min()), float(x.max()) if (x > 0).any() else float(positive.max())
        line = [low * 0.8, high * 1.25] if log_axes else [0.0, high * 1.05]
        fig.add_trace(go.Scatter(x=line, y=line, mode="lines", name="Break-even (return = cost)",
                                 line={"color": INK, "dash": "dash", "width": 1.5}, hoverinfo="skip"))
    for name, mask, colour in groups:
        part = rows[mask.to_numpy()]
        if part.empty:
            continue
        fig.add_trace(marker_trace(len(rows))(
            x=part["investment_cost"], y=part[column], mode="markers", name=name,
            marker={"color": colour, "size": 10, "opacity": 0.8, "line": {"width": 1, "color": "white"}},
            text=part["name"].fillna(part["referrer_id"]),
            customdata=[("—" if pd.isna(r) else f"{r:,.1f}×") for r in part[ror]],
            hovertemplate="%{text}<br>invested " + label + " %{x:,.0f}<br>" + what.lower() + " "
            + label + " %{y:,.0f}<br>ROR %{customdata}<extra></extra>",
        ))
    axis = {"type": "log"} if log_axes else {"rangemode": "tozero"}
    fig.update_xaxes(title_text=f"Investment cost ({label}): time at cost rate + expenses",
                     tickformat=",.0f", **axis)
    fig.update_yaxes(title_text=f"{what} ({label})", tickformat=",.0f", **axis)
    fig.update_layout(legend={"orientation": "h", "y": -0.2})
    note = f"; {hidden} without investment or return not shown on log axes" if hidden else ""
    return _layout(fig, f"Investment vs {what.lower()} per referrer ({label}){note}", height=520)


def ror_activity_types(frame: pd.DataFrame, currency: str | None = None) -> go.Figure:
    """ROR per activity type, most return per unit of cost on top (frame: ror_activity_types).
    Types whose activities cost nothing have no ROR and show no bar."""
    label = currency or SETTINGS.currency
    rows = frame.assign(_r=frame["ror"].astype(float)).sort_values(
        ["_r", "activity_type"], ascending=[True, False], na_position="first")
    fig = go.Figure(go.Bar(
        x=rows["_r"].fillna(0.0), y=rows["activity_type"], orientation="h",
        marker_color=[MUTED if pd.isna(r) else (ACCENT if r >= 1 else WARN) for r in rows["_r"]],
        text=[("no cost recorded" if pd.isna(r) else f"{r:,.1f}× · cost {label} {c:,.0f}")
              for r, c in zip(rows["_r"], rows["cost"], strict=True)],
        textposition="auto",
        customdata=list(zip(rows["cost"], rows["referred_fees"], rows["activities"], strict=True)),
        hovertemplate="%{y}: %{x:,.2f}× <br>cost " + label + " %{customdata[0]:,.0f}, "
        "referred fees " + label + " %{customdata[1]:,.0f}<br>%{customdata[2]:,} activities"
        "<extra></extra>",
    ))
    fig.add_vline(x=1, line={"color": INK, "dash": "dash", "width": 1})
    fig.update_xaxes(title_text=f"ROR: {label} of referred fees per {label} 1 invested (×)",
                     tickformat=",.1f", rangemode="tozero")
    fig.update_yaxes(automargin=True)
    return _layout(fig, f"Return on relationships by activity type ({label} returned per {label} 1 invested)",
                   height=max(320, 40 * len(rows) + 130))


def referrer_lifetime(frame: pd.DataFrame, limit: int = 15, currency: str | None = None) -> go.Figure:
    """Referred fees next to lifetime fees for the referrers with the largest lifetime fees
    (frame: referrer_lifetime, largest first)."""
    label = currency or SETTINGS.currency
    top = frame.head(limit).iloc[::-1]
    names = top["name"].fillna(top["referrer_id"])
    fig = go.Figure()
    fig.add_trace(go.Bar(y=names, x=top["referred_fees"], orientation="h", name="Referred matters only",
                         marker_color=ACCENT_LIGHT,
                         hovertemplate="%{y}<br>referred fees " + label + " %{x:,.0f}<extra></extra>"))
    fig.add_trace(go.Bar(y=names, x=top["lifetime_fees"], orientation="h",
                         name="All matters of the clients it brought in", marker_color=ACCENT,
                         text=[_money_tick(v, label) for v in top["lifetime_fees"]],
                         textposition="auto",
                         hovertemplate="%{y}<br>lifetime fees " + label + " %{x:,.0f}<extra></extra>"))
    fig.update_layout(barmode="group", legend={"orientation": "h", "y": -0.12})
    fig.update_xaxes(title_text=f"Fees billed in the window ({label})", tickformat=",.0f")
    fig.update_yaxes(automargin=True)
    return _layout(fig, f"Lifetime vs referred fees, top {len(top)} referrers ({label})",
                   height=max(340, 48 * len(top) + 150))


def referral_touch_conversion(frame: pd.DataFrame) -> go.Figure:
    """Conversion rate of journeys with and without a referral touchpoint (frame:
    referral_touch_conversion)."""
    rate = frame["conversion_rate"].astype(float)
    fig = go.Figure(go.Bar(
        x=["With a referral" if flag else "Without a referral" for flag in frame["referral_touch"]],
        y=rate.fillna(0.0),
        marker_color=[ACCENT if flag else MUTED for flag in frame["referral_touch"]],
        text=[("no journeys" if pd.isna(r) else f"{r:.0%} ({c:,} of {j:,})")
              for r, c, j in zip(rate, frame["conversions"], frame["journeys"], strict=True)],
        textposition="outside",
        hovertemplate="%{x}: %{y:.1%} of journeys led to a matter<extra></extra>",
    ))
    fig.update_yaxes(title_text="Journeys that led to a matter (%)", tickformat=".0%",
                     range=[0, min(1.12, float(rate.max()) * 1.3 + 0.05) if rate.notna().any() else 1.0])
    return _layout(fig, "Conversion rate of journeys, with vs without a referral (%)",
                   height=380)
