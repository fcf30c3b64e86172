"""SMART KPIs for referrer relationships, and closing the loop with referrers."""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import charts, kpis, state
from dashboard.formatting import count, share
from dashboard.settings import SETTINGS
from dashboard.store import StoreConflict

FLASH, ERRORS = "kpis_flash", "kpis_errors"
LOOP_FLASH, LOOP_ERROR, LOOP_GENERATION = "kpis_loop_flash", "kpis_loop_error", "kpis_loop_generation"
RAG_TEXT = {"green": "🟢 Green", "amber": "🟠 Amber", "red": "🔴 Red", None: "⚪ No data"}
LOOP_DAYS = 90
NAME_FIRST = "Type your name in “Editing as” in the sidebar first: every change records who made it."

programme = state.programme()
currency = SETTINGS.currency
store = state.edit_store()
editable = state.can_edit("kpi", show=False)  # the same role changes KPIs and "told on" marks

st.title("SMART KPIs and closing the loop")
st.caption(state.context_caption() + " · KPIs are measured on their own scope; the sidebar filters do not "
                                     "apply to them")
st.markdown(
    "A KPI is **S**pecific (a measure and a scope), **M**easurable (a target), **A**ccountable (an owner) and "
    "**T**ime-bound (a deadline). It is measured over a period as long as the KPI itself, ending on the day "
    "it is read: its **baseline** when it was set, its **current** value as at the window's end. Progress "
    "is judged against the straight line from the baseline to the target; the **forecast** extends the line "
    "through the last four quarters' values to the deadline."
)
if not editable:
    state.can_edit("kpi")  # the read-only notice; the store refuses a viewer's save anyway

table = state.query("kpis")
loop = state.query("loop_closed").iloc[0]
open_kpis = table[table["status"] == "open"]
tiles = st.columns(6)
tiles[0].metric("Open KPIs", count(len(open_kpis)))
tiles[1].metric("Green", count((open_kpis["rag"] == "green").sum()), help="on or ahead of the straight line")
tiles[2].metric("Amber", count((open_kpis["rag"] == "amber").sum()),
                help="a little behind, or behind but forecast to make it")
tiles[3].metric("Red", count((open_kpis["rag"] == "red").sum()), help="behind and not forecast to make it")
tiles[4].metric("Closed KPIs", count((table["status"] == "closed").sum()))
tiles[5].metric("Loop closed", share(loop["loop_closed_share"]),
                help=f"of {count(loop['decided_referrals'])} inbound referrals decided in the window, the share "
                     "whose referrer was told what became of them")


def _values(frame: pd.DataFrame, column: str) -> list[str]:
    return [kpis.format_value(v, u) for v, u in zip(frame[column], frame["unit"], strict=True)]


def _label(row) -> str:
    return row["name"] if row["name"] else f"{row['measure']} · {row['scope']}"


# --- the list ---------------------------------------------------------------------------------------------
st.subheader("KPIs")
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH), icon=":material/check_circle:")
if table.empty:
    st.info("No KPI has been defined yet. Define the first one below, e.g. “Level 4 referrers send 40 inbound "
            "referrals in the next two quarters, owner: Head of BD”.")
else:
    st.dataframe(
        pd.DataFrame({
            "KPI": [_label(r) for r in table.to_dict("records")],
            "Status": [RAG_TEXT.get(r, "⚪ No data") + (" · closed" if s == "closed" else "")
                       for r, s in zip(table["rag"], table["status"], strict=True)],
            "Progress": table["progress"],
            "Baseline": _values(table, "baseline"), "Now": _values(table, "current"),
            "Expected now": _values(table, "expected"), "Target": _values(table, "target"),
            "Deadline": table["deadline"], "Forecast at deadline": _values(table, "forecast"),
            "Owner": table["owner"], "Scope": table["scope"], "Why": table["rag_reason"],
        }).set_axis(table["kpi_id"].tolist()),
        width="stretch", placeholder="—",
        column_config={
            "_index": st.column_config.TextColumn("ID"),
            "KPI": st.column_config.TextColumn(width="large"),
            "Progress": st.column_config.ProgressColumn(
                min_value=0.0, max_value=1.0, format="percent", width="small",
                help="(now − baseline) ÷ (target − baseline): 0% at the baseline, 100% at the target"),
            "Deadline": st.column_config.DateColumn(format="YYYY-MM-DD"),
            "Why": st.column_config.TextColumn(width="large"),
        },
    )
    with st.container(border=True):
        st.markdown("**How the status is set.** " + kpis.RAG_RULE)
    st.caption("Baseline: measured when the KPI was set, over a period as long as the KPI, and kept. Now: the "
               "same measure over the period ending at the window's end (today for overdue plan actions). "
               "Expected now: the straight line from baseline to target at that date. A closed KPI shows the "
               "final value it was closed with.")

    chosen = st.selectbox("Show a KPI's path", table["kpi_id"].tolist(), key="kpis_chart",
                          format_func=lambda k: f"{k} · {_label(table.set_index('kpi_id').loc[k])}")
    row = table.set_index("kpi_id").loc[chosen]
    trend = state.query("kpi_trend", {"kpi": chosen})
    unit = {"money": f"{currency}", "share": "%", "count": "number"}[row["unit"]]
    scale = 100.0 if row["unit"] == "share" else 1.0
    figure = go.Figure()
    styles = {
        "straight-line path": {"mode": "lines", "line": {"color": charts.MUTED, "dash": "dash", "width": 2}},
        "measured": {"mode": "lines+markers", "line": {"color": charts.ACCENT, "width": 3}},
        "forecast": {"mode": "lines", "line": {"color": charts.WARN, "dash": "dot", "width": 2}},
        "baseline": {"mode": "markers", "marker": {"color": charts.INK, "size": 12, "symbol": "diamond"}},
        "current": {"mode": "markers", "marker": {"color": charts.ACCENT, "size": 14}},
    }
    for series, style in styles.items():
        points = trend[trend["series"] == series]
        if len(points):
            figure.add_trace(go.Scatter(x=points["on"], y=points["value"] * scale, name=series.capitalize(),
                                        **style))
    figure.update_yaxes(title_text=f"{row['measure']} ({unit})", rangemode="tozero",
                        tickformat=",.0f" if row["unit"] != "share" else ",.1f")
    figure.update_xaxes(title_text="Date")
    figure.update_layout(legend={"orientation": "h", "y": -0.2})
    st.plotly_chart(charts._layout(figure, f"{_label(row)}: measured against the straight line to the target "
                                           f"({unit})", height=400), width="stretch")
    st.caption("Measured: the KPI's measure on the as-of day and 3, 6 and 9 months before, each over a period as "
               "long as the KPI. The forecast is the least-squares line through those values, extended to the "
               "deadline.")

    open_ids = open_kpis["kpi_id"].tolist()
    with st.expander("Close a KPI (its final value is kept)"):
        if not open_ids:
            st.caption("Every KPI is closed.")
        else:
            closing = st.selectbox("KPI", open_ids, key="kpis_close_id",
                                   format_func=lambda k: f"{k} · {_label(table.set_index('kpi_id').loc[k])}")
            final = table.set_index("kpi_id").loc[closing]
            st.text_input("Why it is closed", key="kpis_close_reason",
                          placeholder="e.g. deadline reached; target met")

            def _close(kpi_id: str, value: object, on: object, version: int) -> None:
                by = state.editor_name()
                if not by:
                    st.session_state[ERRORS] = [NAME_FIRST]
                    return
                try:
                    store.close_kpi(kpi_id, value, on, by, expected_version=version,
                                    reason=st.session_state.get("kpis_close_reason"))
                except (StoreConflict, ValueError) as error:
                    st.session_state[ERRORS] = [str(error)]
                    return
                st.session_state.pop(ERRORS, None)
                st.session_state[FLASH] = f"Closed {kpi_id} with its final value {kpis.format_value(value, final['unit'])}."

            st.button(f"Close {closing}, keeping its final value {kpis.format_value(final['current'], final['unit'])}",
                      key="kpis_close", on_click=_close, disabled=not editable,
                      args=(closing, final["current"], final["as_of"], int(final["version"])))

    with st.expander("History of every KPI change"):
        history = store.kpi_history()
        if history.empty:
            st.caption("Nothing saved yet.")
        else:
            history = history.sort_values(["changed_at", "version"], ascending=False)
            st.dataframe(pd.DataFrame({
                "When (UTC)": history["changed_at"].dt.strftime("%d %b %Y %H:%M"), "KPI": history["kpi_id"],
                "Version": history["version"], "By": history["changed_by"], "Status": history["status"],
                "Target": history["target"], "Deadline": history["deadline"], "Owner": history["owner"],
                "Reason": history["reason"],
            }), hide_index=True, width="stretch", placeholder="—")

# --- define a KPI -----------------------------------------------------------------------------------------
st.subheader("Define a KPI")
options = state.query("filter_options")
scorecard = state.query("scorecard")
referrer_names = dict(zip(scorecard["referrer_id"], scorecard["name"], strict=True))
with st.container(border=True):
    st.text_input("In words (optional)", key="kpi_name",
                  placeholder="e.g. Level 4 referrers send 40 inbound referrals in the next two quarters")
    left, right = st.columns(2)
    measure = left.selectbox("Measure", list(kpis.MEASURES), index=None, key="kpi_measure",
                             placeholder="Choose a measure", format_func=lambda m: kpis.MEASURES[m].label)
    if measure:
        left.caption(f"{kpis.MEASURES[measure].label}: {kpis.MEASURES[measure].explanation}.")
    scope = right.selectbox("Scope", kpis.SCOPES, key="kpi_scope", format_func=kpis.SCOPE_LABELS.get)
    if scope == "level":
        right.selectbox("Level", ["4", "3", "2", "1"], key="kpi_scope_level",
                                      format_func=lambda n: programme.label(int(n)),
                                      help="referrers at this level: the board's, else the suggested one")
    elif scope == "team":
        right.selectbox("Team", options.loc[options["dimension"] == "team", "value"].tolist(),
                                      index=None, key="kpi_scope_team", placeholder="Choose a team")
    elif scope == "referrer_type":
        right.selectbox(
            "Referrer type", options.loc[options["dimension"] == "referrer_type", "value"].tolist(), index=None,
            key="kpi_scope_referrer_type", placeholder="Choose a referrer type")
    elif scope == "referrer":
        right.selectbox("Referrer", list(referrer_names), index=None, key="kpi_scope_referrer",
                                      placeholder="Type a name", format_func=lambda r: f"{referrer_names[r]} ({r})")
    unit = kpis.MEASURES[measure].unit if measure else "count"
    target_label = {"share": "Target (%)", "money": f"Target ({currency})", "count": "Target (number)"}[unit]
    target_col, deadline_col, owner_col = st.columns(3)
    target_col.number_input(target_label, value=None, min_value=0.0 if unit != "money" else None,
                                     step=1.0, key="kpi_target", placeholder="e.g. 40",
                                     help="for a share, a percentage (35 for 35%)")
    deadline_col.date_input("Deadline", value=None, key="kpi_deadline", format="YYYY-MM-DD",
                                       min_value=date(2000, 1, 1))
    owner_col.text_input("Owner", key="kpi_owner", placeholder="e.g. Head of BD")

    def _create() -> None:
        """Runs before the page is drawn again: reads what the widgets hold."""
        by = state.editor_name()
        if not by:
            st.session_state[ERRORS] = [NAME_FIRST]
            return
        chosen_measure, chosen_scope = st.session_state.get("kpi_measure"), st.session_state.get("kpi_scope")
        chosen_unit = kpis.MEASURES[chosen_measure].unit if chosen_measure in kpis.MEASURES else "count"
        try:
            made = kpis.create_kpi(
                state.dataset(), store, measure=chosen_measure, scope_kind=chosen_scope,
                scope_value=st.session_state.get(f"kpi_scope_{chosen_scope}"),
                target=kpis.target_from_input(st.session_state.get("kpi_target"), chosen_unit),
                deadline=st.session_state.get("kpi_deadline"), owner=st.session_state.get("kpi_owner"),
                by=by, name=st.session_state.get("kpi_name"),
            )
        except kpis.KpiError as error:
            st.session_state[ERRORS] = error.problems
            return
        except ValueError as error:
            st.session_state[ERRORS] = [str(error)]
            return
        st.session_state.pop(ERRORS, None)
        st.session_state[FLASH] = (f"Created {made.kpi_id} with its baseline "
                                   f"{kpis.format_value(made.baseline, chosen_unit)} (measured over the period to "
                                   f"{made.baseline_on:%d %b %Y}).")
        for widget in ("kpi_name", "kpi_target", "kpi_deadline", "kpi_owner"):
            st.session_state[widget] = None if widget in ("kpi_target", "kpi_deadline") else ""

    st.button("Create KPI", type="primary", key="kpi_create", on_click=_create, disabled=not editable)
    who = state.editor_name()
    st.caption((f"Saving as **{who}**. " if who else "Type your name in “Editing as” in the sidebar to save. ")
               + "The baseline is measured when you create the KPI and kept; the form refuses a KPI without a "
                 "measure, a target, a deadline after today or an owner.")
if st.session_state.get(ERRORS):
    st.error("Not saved, the KPI is not SMART yet:\n\n" + "\n".join(f"- {p}" for p in st.session_state[ERRORS]))

# --- closing the loop ---------------------------------------------------------------------------------------
st.subheader("Closing the loop")
st.markdown(
    f"Referrers keep referring when they hear what became of their referrals. These inbound referrals were "
    f"decided (won, lost or declined) in the {LOOP_DAYS} days to the window's end and their referrer has not "
    "been told yet: tick the ones whose referrer you told, check the day, and record it."
)
cells = st.columns(3)
cells[0].metric("Decided in the window", count(loop["decided_referrals"]))
cells[1].metric("Referrer told", count(loop["told_referrals"]))
cells[2].metric("Share with the loop closed", share(loop["loop_closed_share"]),
                help="told ÷ decided, for inbound referrals decided in the window")
to_close = state.query("loop_to_close", {"days": LOOP_DAYS, "limit": kpis.LOOP_ROWS_SHOWN})
if LOOP_FLASH in st.session_state:
    st.success(st.session_state.pop(LOOP_FLASH), icon=":material/check_circle:")
if to_close.empty:
    st.info(f"Nothing to close: every inbound referral decided in the {LOOP_DAYS} days to the window's end has a "
            "“told on” date.")
else:
    waiting = int(to_close["waiting"].iloc[0])
    if waiting > len(to_close):
        # a list of thousands cannot be worked through on screen (and costs seconds on every rerun)
        st.caption(f"Showing the {len(to_close):,} waiting longest of {waiting:,}; narrow the window or "
                   "the filters in the sidebar to see the others.")
    st.session_state.setdefault(LOOP_GENERATION, 0)
    editor_key = f"kpis_loop_editor_{st.session_state[LOOP_GENERATION]}"
    shown = pd.DataFrame({
        "Told": False,
        "Told on": kpis.today(),
        "Referrer": [f"{n} ({r})" for n, r in zip(to_close["referrer"], to_close["referrer_id"], strict=True)],
        "Status": to_close["status"], "Decided on": to_close["decided_on"],
        "Days waiting": to_close["days_waiting"], "Work type": to_close["work_type"],
        "Contact": to_close["contact"], "Our fee earner": to_close["fee_earner"],
        "Estimated value": to_close["estimated_value"],
    }).set_axis(to_close["referral_id"].tolist())
    edited = st.data_editor(
        shown, key=editor_key, width="stretch", placeholder="—", num_rows="fixed",
        disabled=[c for c in shown.columns if c not in ("Told", "Told on")] if editable else True,
        column_config={
            "_index": st.column_config.TextColumn("Referral"),
            "Told": st.column_config.CheckboxColumn("Told ✎", help="tick when the referrer has been told"),
            "Told on": st.column_config.DateColumn("Told on ✎", format="YYYY-MM-DD", max_value=kpis.today()),
            "Estimated value": st.column_config.NumberColumn(format=f"{currency} %,.0f"),
        },
    )
    ticked = edited[edited["Told"].astype(bool)]
    versions = dict(zip(to_close["referral_id"], to_close["mark_version"].astype(int), strict=True))

    def _record(marks: dict[str, object]) -> None:
        by = state.editor_name()
        if not by:
            st.session_state[LOOP_ERROR] = NAME_FIRST
            return
        undated = [r for r, day in marks.items() if day is None or pd.isna(day)]
        if undated:
            st.session_state[LOOP_ERROR] = f"Give the day the referrer was told for {', '.join(undated)}."
            return
        try:
            store.mark_told(marks, by, expected_versions={r: versions[r] for r in marks})
        except (StoreConflict, ValueError) as error:
            st.session_state[LOOP_ERROR] = str(error)
            return
        st.session_state.pop(LOOP_ERROR, None)
        st.session_state[LOOP_FLASH] = f"Recorded {count(len(marks))} referrer(s) told, as {by}."
        st.session_state[LOOP_GENERATION] += 1

    st.button(f"Record “told on” for {count(len(ticked))} referral(s)", key="kpis_loop_record", type="primary",
              disabled=ticked.empty or not editable, on_click=_record,
              args=({r: d for r, d in ticked["Told on"].items()},))
    st.caption(f"Longest waiting first. {count(waiting)} referral(s) still to close; the marks are kept "
               "in the edit store with who recorded them and when.")
if st.session_state.get(LOOP_ERROR):
    st.error(st.session_state[LOOP_ERROR])
