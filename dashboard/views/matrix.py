"""Prioritisation matrix: potential against value per referrer; assign a level to a selection, and the
prune list."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import charts, state
from dashboard.formatting import count, money, money_short, to_the_cent
from dashboard.settings import SETTINGS
from dashboard.store import StoreConflict, TierChange

QUADRANTS = {  # name: (colour, corner of the chart)
    "Invest": (charts.ACCENT, (0.99, 0.99, "right", "top")),
    "Develop": ("#2a9d8f", (0.99, 0.01, "right", "bottom")),
    "Maintain": ("#d4a017", (0.01, 0.99, "left", "top")),
    "Reduce or prune": (charts.WARN, (0.01, 0.01, "left", "bottom")),
}
Y_AXES = {"Referred fees": "referred_fees", "Return on relationship (ROR)": "ror"}
GENERATION = "matrix_generation"  # bumped after a save so the chart's selection starts empty
FLASH, ERROR = "matrix_flash", "matrix_error"
KEPT = "matrix_kept"  # the level and reason typed, kept across page changes

programme = state.programme()
currency = SETTINGS.currency
st.session_state.setdefault(GENERATION, 0)
st.session_state.setdefault(KEPT, {})


def _keep(widget_key: str, default: object) -> None:
    """Give a widget its value from before a page change (Streamlit forgets widgets not drawn)."""
    if widget_key not in st.session_state:
        st.session_state[widget_key] = st.session_state[KEPT].get(widget_key, default)


def _remember(*widget_keys: str) -> None:
    for key in widget_keys:
        st.session_state[KEPT][key] = st.session_state.get(key)


def _placed(frame: pd.DataFrame) -> pd.DataFrame:
    """The referrers drawn as bubbles, one trace per quadrant in QUADRANTS' order, in the frame's order."""
    return frame[frame["y_value"].notna()]


def _bubble_ids(frame: pd.DataFrame) -> list[list[str]]:
    """Per trace of the chart (curve number), the referrer id of each bubble (point index)."""
    placed = _placed(frame)
    return [placed.loc[placed["quadrant"] == quadrant, "referrer_id"].tolist() for quadrant in QUADRANTS]


# Kept, not redrawn, on a rerun that changes nothing it shows (a selection, a level saved elsewhere): one
# bubble per referrer is 20,000 of them in a pooled network, and building them took half of such a rerun.
# Streamlit copies a figure before sending it, so sessions can share one.
@st.cache_resource(max_entries=16, show_spinner=False)
def _figure(result: tuple, _frame: pd.DataFrame, y_label: str, x_cut: float, y_cut: float,
            log_y: bool) -> go.Figure:
    """Bubble chart: x potential score, y the chosen value, bubble area ∝ investment cost. ``result``:
    the key of ``_frame`` (state.result_key), which Streamlit hashes in its place."""
    frame = _frame
    placed = _placed(frame)
    biggest = float(placed["investment_cost"].max()) if len(placed) else 0.0
    fig = go.Figure()
    for quadrant, (colour, _) in QUADRANTS.items():
        part = placed[placed["quadrant"] == quadrant]
        # numbers as an array, not a list: Streamlit copies and serialises the figure on every rerun
        invested = part["investment_cost"].to_numpy(dtype=float, na_value=0.0)
        sizes = 10 + 38 * np.sqrt(np.clip(invested, 0, None) / biggest) if biggest > 0 else np.full(len(part), 12.0)
        fig.add_trace(charts.marker_trace(len(placed))(
            x=part["potential_score"], y=part["y_value"], mode="markers", name=f"{quadrant} ({count(len(part))})",
            marker={"size": sizes, "color": colour, "opacity": 0.72, "line": {"width": 1, "color": "white"}},
            # one hover text per bubble and no custom data (a selected bubble is known by its trace and
            # position, _bubble_ids): Streamlit copies and serialises every value on each rerun, 20,000
            # bubbles in a pooled network
            text=[f"<b>{name}</b> ({referrer})<br>Potential {potential:.0f}<br>Referred fees {money(fees)} · "
                  f"ROR {'—' if pd.isna(ror) else f'{ror:,.1f}×'}<br>Investment {money(cost)}<br>"
                  f"Suggested {programme.label(suggested, missing='No level')} · assigned {programme.label(assigned)}"
                  for referrer, name, potential, fees, ror, cost, suggested, assigned in zip(
                      part["referrer_id"], part["name"], part["potential_score"], part["referred_fees"],
                      part["ror"], part["investment_cost"], part["suggested_level"], part["assigned_level"],
                      strict=True)],
            hovertemplate="%{text}<extra></extra>",
        ))
    fig.add_vline(x=x_cut, line={"color": charts.INK, "dash": "dash", "width": 1.5})
    fig.add_hline(y=y_cut, line={"color": charts.INK, "dash": "dash", "width": 1.5})
    for quadrant, (colour, (x, y, xanchor, yanchor)) in QUADRANTS.items():
        fig.add_annotation(x=x, y=y, xref="paper", yref="paper", text=f"<b>{quadrant}</b>", showarrow=False,
                           xanchor=xanchor, yanchor=yanchor, font={"size": 16, "color": colour})
    unit = f"({currency})" if y_label == "Referred fees" else "(× investment)"
    fig.update_xaxes(title_text="Potential score (0–100)", range=[-2, 102])
    fig.update_yaxes(title_text=f"{y_label} {unit}", type="log" if log_y else "linear",
                     tickformat=",.0f" if y_label == "Referred fees" else ",.1f")
    fig.update_layout(dragmode="select", legend={"orientation": "h", "y": -0.18},
                      clickmode="event+select")
    return charts._layout(fig, f"Prioritisation matrix: potential score against {y_label.lower()} {unit}; "
                               f"bubble area = investment ({currency})", height=600)


st.title("Prioritisation matrix")
st.caption(state.context_caption())
st.markdown(
    "**Potential score** (0–100) = 35% relationship strength (the strongest link, out of 5) + 25% breadth "
    "(how many of our fee earners know them, 5 or more counts fully) + 25% trend (the share of the "
    "window's referrals that came in its second half) + 15% referrer type (its type's mean referred fees, "
    "against the best type's). Move the dashed lines to set the quadrants; select bubbles with the box or "
    "lasso tool to give them a programme level."
)

controls = st.columns([3, 3, 3, 2])  # room for the toggle's label at 1280 px
_keep("matrix_y", "Referred fees")
y_label = controls[0].radio("Value axis", list(Y_AXES), key="matrix_y", horizontal=True)
y = Y_AXES[y_label]
base = state.query("prioritisation", {"y": y})
if base.empty:
    st.info("No referrer matches the filters. Clear the filters in the sidebar, or load a data directory "
            "whose referrers.parquet has rows.")
    st.stop()

values = base["y_value"].dropna()
low = min(0.0, float(values.min())) if len(values) else 0.0
high = float(values.max()) if len(values) else 1.0
high = high if high > low else low + 1.0
step = 10 ** max(math.floor(math.log10((high - low) / 1000)), -2)
_keep("matrix_x_cut", 50)
x_cut = controls[1].slider("Potential line (score)", 0, 100, key="matrix_x_cut")
y_key = f"matrix_y_cut_{y}"
default_cut = min(max(float(base["y_cut"].iloc[0]), low), high)
_keep(y_key, float(round(default_cut / step) * step))  # a float, as the slider returns: one cache key
y_cut = controls[2].slider(f"Value line ({currency})" if y == "referred_fees" else "Value line (ROR, ×)",
                           low, high, step=float(step), key=y_key, format="%,.0f" if step >= 1 else "%.2f",
                           help="starts at the median of the referrers with a value above 0")
_keep("matrix_log", False)
log_y = controls[3].toggle("Log scale", key="matrix_log")
_remember("matrix_y", "matrix_x_cut", y_key, "matrix_log")

matrix_params = {"y": y, "x_cut": x_cut, "y_cut": y_cut}
frame = state.query("prioritisation", matrix_params)
quadrant_counts = frame["quadrant"].value_counts()
tiles = st.columns(5)
for tile, quadrant in zip(tiles, QUADRANTS):
    tile.metric(quadrant, count(quadrant_counts.get(quadrant, 0)))
headline = state.query("headline").iloc[0]
tiles[4].metric("Prune candidates", count(headline["prune_candidates"]),
                help="invested in during the window, no inbound referral in the 24 months to its end, "
                     "not Level 4")

chart_key = f"matrix_chart_{st.session_state[GENERATION]}"
event = st.plotly_chart(_figure(state.result_key("prioritisation", matrix_params), frame, y_label, x_cut, y_cut,
                                log_y), key=chart_key, on_select="rerun",
                        selection_mode=("points", "box", "lasso"), width="stretch")
unplaced = frame["y_value"].isna().sum()
st.caption(
    "Invest: high potential and high value; Develop: high potential, low value; Maintain: low potential, "
    "high value; Reduce or prune: low on both. On or above a line counts as high."
    + (f" {count(unplaced)} referrer(s) without investment have no ROR and are not shown." if unplaced else "")
    + (" The log scale leaves out values of 0 or less." if log_y else "")
)

# --- assign a level to the selection ----------------------------------------------------------
# whole columns to lists first: iterating pandas' Arrow-backed columns value by value is slow at 20,000 rows
ids = frame["referrer_id"].tolist()
names = dict(zip(ids, frame["name"].tolist(), strict=True))
versions = dict(zip(ids, frame["version"].astype(int).tolist(), strict=True))
points = (event.selection.points if event and event.selection else []) or []
bubbles = _bubble_ids(frame) if points else []
from_chart = [bubbles[p["curve_number"]][p["point_index"]] for p in points
              if p.get("curve_number", len(bubbles)) < len(bubbles)
              and p.get("point_index", -1) in range(len(bubbles[p["curve_number"]]))]
_keep("matrix_picked", [])
st.session_state["matrix_picked"] = [r for r in st.session_state["matrix_picked"] if r in names]
selection = list(dict.fromkeys(from_chart + st.session_state["matrix_picked"]))


def _pick_prune_candidates() -> None:
    st.session_state["matrix_picked"] = frame.loc[frame["prune_candidate"].astype(bool), "referrer_id"].tolist()
    _remember("matrix_picked")


def _assign() -> None:
    by = state.editor_name()
    reason = str(st.session_state.get("matrix_reason") or "").strip()
    if not by:
        st.session_state[ERROR] = ("Type your name in “Editing as” in the sidebar first: every change "
                                   "records who made it.")
        return
    if not reason:
        st.session_state[ERROR] = "Give a reason: it is kept with every change in the history."
        return
    level = programme.parse(st.session_state["matrix_level"])
    changes = [TierChange(rid, level, versions[rid]) for rid in selection]
    try:
        saved = state.edit_store().save_many(changes, by, reason)
    except (StoreConflict, ValueError) as error:
        st.session_state[ERROR] = str(error)
        return
    st.session_state.pop(ERROR, None)
    st.session_state[FLASH] = (f"Saved {programme.label(level)} for {len(saved)} referrer(s) as {by}"
                               + (f"; {len(changes) - len(saved)} already had it." if len(saved) < len(changes)
                                  else "."))
    st.session_state["matrix_picked"] = []
    st.session_state["matrix_reason"] = ""
    _remember("matrix_picked", "matrix_reason")
    st.session_state[GENERATION] += 1


st.subheader("Assign a level to the selection")
editable = state.can_edit("tier")  # viewers: read-only, and the store refuses their saves anyway
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH), icon=":material/check_circle:")
pick_col, prune_col = st.columns([3, 1])  # room for the button label at 1280 px
pick_col.multiselect("Referrers picked by name (added to the chart selection)", list(names), key="matrix_picked",
                     format_func=lambda r: f"{names[r]} ({r})", placeholder="Pick referrers",
                     on_change=_remember, args=("matrix_picked",))
prune_col.button("Pick the prune candidates", on_click=_pick_prune_candidates, key="matrix_pick_prune",
                 width="stretch")
if selection:
    chosen = frame.set_index("referrer_id").loc[selection]
    st.dataframe(pd.DataFrame({
        "Referrer": [f"{n} ({r})" for r, n in zip(chosen.index, chosen["name"])],
        "Quadrant": chosen["quadrant"].fillna("not placed"),
        "Potential": chosen["potential_score"].round(0),
        "Referred fees": chosen["referred_fees"],
        "Suggested": [programme.label(v, missing="No level") for v in chosen["suggested_level"]],
        "Assigned": [programme.label(v) for v in chosen["assigned_level"]],
    }), hide_index=True, width="stretch", placeholder="—",
        column_config={"Referred fees": st.column_config.NumberColumn(format=f"{currency} %,.0f")})
else:
    st.caption("Nothing selected: drag a box or lasso round bubbles in the chart, or pick referrers by name.")
level_col, reason_col, button_col = st.columns([2, 4, 2])
_keep("matrix_level", programme.labels()[0])
level_col.selectbox("Level", programme.labels(), key="matrix_level", on_change=_remember, args=("matrix_level",),
                    disabled=not editable)
_keep("matrix_reason", "")
reason_col.text_input("Reason", key="matrix_reason", placeholder="e.g. matrix review: develop these",
                      on_change=_remember, args=("matrix_reason",), disabled=not editable)
button_col.button(f"Assign to {len(selection)} selected", type="primary", on_click=_assign, key="matrix_assign",
                  disabled=not selection or not editable, width="stretch")
who = state.editor_name()
st.caption((f"Saving as **{who}**" if who else "Type your name in “Editing as” in the sidebar to save")
           + "; each referrer's change is kept with its history on the Programme levels page.")
if ERROR in st.session_state:
    st.error(st.session_state[ERROR])

# --- prune list -----------------------------------------------------------------------------------
st.subheader("Prune list")
prune = frame[frame["prune_candidate"].astype(bool)].sort_values(["investment_cost", "referrer_id"],
                                                                 ascending=[False, True], key=to_the_cent)
st.markdown(
    f"Referrers we invested in during the window that have not referred anything in the 24 months to its "
    f"end, and are not Level 4 — time that could go where it pays: **{count(headline['prune_candidates'])}** "
    f"referrers, **{money_short(headline['prune_investment_cost'])}** invested in the window (hours at cost "
    f"plus expenses)."
)
if prune.empty:
    st.success("No prune candidates in this window and these filters.", icon=":material/check_circle:")
else:
    st.dataframe(pd.DataFrame({
        "Referrer": [f"{n} ({r})" for n, r in zip(prune["name"], prune["referrer_id"])],
        "Type": prune["referrer_type"],
        "Quadrant": prune["quadrant"].fillna("not placed"),
        "Hours": prune["investment_hours"],
        "Investment": prune["investment_cost"],
        "Last referral": [("never" if pd.isna(d) else f"{d:%d %b %Y}") for d in prune["last_referral_on"]],
        "Months since": ["—" if pd.isna(m) else str(m) for m in prune["months_since_last_referral"]],
        "Suggested": [programme.label(v, missing="No level") for v in prune["suggested_level"]],
        "Assigned": [programme.label(v) for v in prune["assigned_level"]],
        "Profile": state.profile_links(prune["referrer_id"]),
    }), hide_index=True, width="stretch", placeholder="—", column_config={
        "Profile": state.PROFILE_COLUMN,
        "Hours": st.column_config.NumberColumn("Hours (window)", format="%,.1f"),
        "Investment": st.column_config.NumberColumn(f"Investment ({currency})", format="%,.0f",
                                                    help="hours × cost rate + expenses in the window"),
    })
