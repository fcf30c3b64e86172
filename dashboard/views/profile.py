"""Referrer profile: one referrer's numbers and trend, levels, referral pattern, who knows whom,
activities, attribution credit, reciprocity, and its plan (editable, kept with history).

Reached from the navigation, by the search box, or by URL: ``/profile?referrer=R0001``.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from dashboard import charts, state
from dashboard.formatting import count, money, money_short, plain, ratio, share
from dashboard.settings import SETTINGS
from dashboard.store import STAGES, Plan, PlanStep, StoreConflict, stage_label

URL_KEY = "profile_referrer_url"      # ?referrer= as the entry script found it in the URL
WRITTEN = "profile_referrer_written"  # the referrer this page last put in the URL (its own echo)
PICK = "profile_referrer"             # the search box
TAB = "profile_tab"                   # the open tab's label
SEEN = "profile_plan_seen"            # {referrer_id: the plan version the person is editing from}
GENERATION = "profile_plan_generation"  # bumped to give the plan form fresh values (after save, reload)
REFERRALS_SHOWN = 2_000  # referrals drawn and listed on the Referrals tab, newest first
FLASH, ERROR = "profile_flash", "profile_error"

programme = state.programme()
currency = SETTINGS.currency
money_column = st.column_config.NumberColumn(format=f"{currency} %,.0f")

st.title("Referrer profile")
st.caption(state.context_caption())

scorecard = state.query("scorecard")
if scorecard.empty:
    st.info("No referrer matches the filters. Clear the filters in the sidebar, or load a data directory "
            "whose referrers.parquet has rows.")
    st.stop()

ids = scorecard["referrer_id"].tolist()
names = dict(zip(ids, scorecard["name"], strict=True))

# Which referrer: a new ?referrer= in the URL, else the one picked before, else the largest.
wanted = st.session_state.get(URL_KEY)
if wanted and wanted != st.session_state.get(WRITTEN):
    if wanted in names:
        st.session_state[PICK] = wanted
    else:
        st.warning(f"There is no referrer '{plain(wanted, 60)}' among the referrers the filters keep; "
                   "showing another.")
    st.session_state[WRITTEN] = wanted
if st.session_state.get(PICK) not in names:
    st.session_state[PICK] = ids[0]

referrer_id = st.selectbox(
    "Find a referrer", ids, key=PICK, format_func=lambda r: f"{names[r]} ({r})",
    help="Type part of a name or an id. Largest referred fees first. Share this view with its URL "
         "(…/profile?referrer=ID).",
)
st.query_params["referrer"] = referrer_id
st.session_state[WRITTEN] = referrer_id
row = scorecard.set_index("referrer_id").loc[referrer_id]

tiers = state.query("tier_assignments").set_index("referrer_id")
tier = tiers.loc[referrer_id] if referrer_id in tiers.index else None
assigned = None if tier is None or pd.isna(tier["assigned_level"]) else int(tier["assigned_level"])
suggested = None if pd.isna(row["suggested_level"]) else int(row["suggested_level"])
level = assigned if assigned is not None else suggested
pattern = state.query("referral_pattern", {"referrer": referrer_id}).iloc[0]
store = state.edit_store()
plan = store.plan(referrer_id)

st.subheader(f"{row['name']} ({referrer_id})")
assigned_text = (f"assigned **{programme.label(assigned)}** by {plain(tier['assigned_by'])} on "
                 f"{tier['assigned_at']:%d %b %Y}" if assigned is not None
                 else "no level assigned by the board")
st.markdown(
    f"{str(row['referrer_type']).capitalize()} · {assigned_text} · suggested "
    f"**{programme.label(suggested, missing='no level')}** · referral pattern **{pattern['pattern']}** · "
    f"stage **{stage_label(plan.stage)}**"
    + (f" · relationship partner **{plain(plan.partner)}**" if plan.partner else "")  # typed: shown as text
)

# two rows of three: six tiles in a row cut off money and labels on a 1280-pixel projector
tiles = [*st.columns(3), *st.columns(3)]
tiles[0].metric("Inbound referrals", count(row["referrals"]),
                help="inbound referrals it sent us in the window")
tiles[1].metric("Conversion rate", share(row["conversion_rate"]),
                help="won ÷ (won + lost + declined) of those referrals")
tiles[2].metric("Referred fees", money_short(row["referred_fees"]),
                help="fees billed in the window on matters it referred, whenever referred")
tiles[3].metric("Investment", money_short(row["investment_cost"]),
                help="hours × cost rate + expenses of activities with it in the window")
tiles[4].metric("Return on relationship", ratio(row["ror"]),
                help="referred fees ÷ investment; empty without investment")
tiles[5].metric("Months since last referral", count(row["months_since_last_referral"]),
                help="calendar months from its latest inbound referral to the window's end")

quarters = state.query("referrer_quarters", {"referrer": referrer_id})
if quarters.empty:
    st.info("The window holds no calendar quarter. Widen the window in the sidebar.")
else:
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(go.Bar(x=quarters["quarter"], y=quarters["referrals"], name="Inbound referrals (number)",
                            marker_color=charts.ACCENT_LIGHT,
                            hovertemplate="%{x}: %{y} inbound referral(s)<extra></extra>"))
    figure.add_trace(go.Scatter(x=quarters["quarter"], y=quarters["referred_fees"], mode="lines+markers",
                                name=f"Referred fees ({currency})", line={"color": charts.ACCENT, "width": 3},
                                hovertemplate="%{x}: " + currency + " %{y:,.0f}<extra></extra>"),
                     secondary_y=True)
    figure.update_yaxes(title_text="Inbound referrals (number)", secondary_y=False, rangemode="tozero")
    figure.update_yaxes(title_text=f"Referred fees ({currency})", secondary_y=True, tickformat=",.0f",
                        rangemode="tozero", tickmode="auto", showgrid=False)
    figure.update_layout(legend={"orientation": "h", "y": -0.2})
    st.plotly_chart(charts._layout(figure, f"Inbound referrals (number) and referred fees ({currency}) "
                                           "per quarter"), width="stretch")
    st.caption("Per calendar quarter of the window: inbound referrals by the date they were made; referred "
               "fees by the date they were billed (fees follow the work, so a matter referred earlier still "
               "counts).")

# Only the open tab runs (a tab switch reruns the page): at 10 million referrals the attribution credit
# and the referral list take seconds, and a profile opened for its plan should not wait for them.
tab_plan, tab_pattern, tab_people, tab_activities, tab_levels, tab_credit = st.tabs([
    "Plan and stage", "Referral pattern", "Who knows whom", "Activities", "Levels", "Attribution and reciprocity",
], key=TAB, on_change="rerun")


def who_knows_referrer() -> pd.DataFrame:
    """The firm's links to this referrer's people (the plan's partner choices and the Who knows whom tab)."""
    network = state.query("relationship_network")
    return network[network["referrer_id"] == referrer_id]


# --- the plan ----------------------------------------------------------------------------------------
if tab_plan.open:
    with tab_plan:
        st.markdown(
            "The relationship partner's plan for this referrer: aims, the activities chosen from its level's "
            "menu, next steps with an owner and a due date, and its stage in the strategic referral process "
            "(connection → getting to know each other → understanding the whys and why-nots → agreement → "
            "implementation). Every save is kept with who made it and when; a save made from an older version "
            "than the one now saved is refused, never overwritten."
        )
        editable = state.can_edit("plan")  # viewers: read-only, and the store refuses their saves anyway
        locked = not editable
        seen: dict[str, int] = st.session_state.setdefault(SEEN, {})
        seen.setdefault(referrer_id, plan.version)
        generation = st.session_state.setdefault(GENERATION, 0)
        key = f"plan_{referrer_id}_{generation}"

        menu: list[str] = []
        for lv in programme.levels:
            if level is None or lv.number <= level:
                menu += [item for item in lv.menu if item not in menu]
        options = menu + [a for a in plan.activities if a not in menu]
        who_knows = who_knows_referrer()
        best = who_knows.sort_values("strength", ascending=False).drop_duplicates("fee_earner")
        stage_keys = [None, *(k for k, _ in STAGES)]

        with st.form(f"{key}_form", border=True):
            left, right = st.columns(2)
            stage = left.selectbox("Stage in the strategic referral process", stage_keys, index=stage_keys.index(plan.stage),
                           format_func=stage_label, key=f"{key}_stage", disabled=locked,
                           help="From “Strategic referrals”: connection (cultural and commercial fit), getting to "
                                "know each other, understanding the whys and why-nots, agreement, implementation.")
            partner = right.text_input("Relationship partner", value=plan.partner or "", key=f"{key}_partner",
                             disabled=locked,
                             placeholder="The fee earner who owns the relationship",
                             help="Who knows them: " + (", ".join(f"{r.fee_earner} (strength {r.strength})"
                                                                   for r in best.head(5).itertuples()) or "nobody yet"))
            aims = st.text_area("Aims", value=plan.aims or "", key=f"{key}_aims", height=90, disabled=locked,
                         placeholder="What the relationship should achieve, e.g. two corporate referrals a quarter")
            chosen = st.multiselect(
                f"Activities from the menu of {programme.label(level, missing='every level')}"
                + (" and the levels below" if level and level > 1 else ""),
                options, default=list(plan.activities), key=f"{key}_activities", placeholder="Choose activities",
                disabled=locked,
            )
            st.markdown("**Next steps** (add a row for each; tick *Done* when it is done)")
            steps = pd.DataFrame({
                "Step": pd.array([s.step_no for s in plan.steps], dtype="Int64"),
                "Next step": pd.Series([s.action for s in plan.steps], dtype="string"),
                "Owner": pd.Series([s.owner for s in plan.steps], dtype="string"),
                "Due": pd.Series([s.due_on for s in plan.steps], dtype="object"),
                "Done": pd.Series([s.done for s in plan.steps], dtype="bool"),
            })
            edited_steps = st.data_editor(
                steps, key=f"{key}_steps", num_rows="fixed" if locked else "dynamic", hide_index=True, width="stretch", placeholder="—",
                disabled=True if locked else ["Step"],
                column_config={
                    "Step": st.column_config.NumberColumn("No.", width="small", help="numbered when saved"),
                    "Next step": st.column_config.TextColumn(width="large", required=True),
                    "Owner": st.column_config.TextColumn(required=True),
                    "Due": st.column_config.DateColumn(format="YYYY-MM-DD", required=True),
                    "Done": st.column_config.CheckboxColumn(default=False),
                },
            )
            notes = st.text_area("Notes", value=plan.notes or "", key=f"{key}_notes", height=90, disabled=locked)
            saved_by = state.editor_name()
            st.caption(f"Saving as **{saved_by}**." if saved_by else "Type your name in “Editing as” in the sidebar "
                                                                   "to save.")
            submitted = st.form_submit_button("Save plan", type="primary", key=f"{key}_save", disabled=locked)

        def _blank(value: object) -> bool:
            return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) \
                or str(value).strip() == ""

        if submitted:
            # rows added and left empty are dropped; the store refuses a step with an action but no owner or date
            next_steps = tuple(
                PlanStep(action=r["Next step"], owner=r["Owner"], due_on=r["Due"], done=False if pd.isna(r["Done"]) else bool(r["Done"]),
                         step_no=None if pd.isna(r["Step"]) else int(r["Step"]))
                for r in edited_steps.to_dict("records")
                if not all(_blank(r[c]) for c in ("Next step", "Owner", "Due"))
            )
            if not saved_by:
                st.session_state[ERROR] = ("Type your name in “Editing as” in the sidebar first: every change records "
                                           "who made it.")
            else:
                try:
                    result = store.save_plan(
                        Plan(referrer_id, partner=partner, aims=aims, activities=tuple(chosen), stage=stage,
                             notes=notes, steps=next_steps),
                        saved_by, expected_version=seen[referrer_id])
                except StoreConflict as error:
                    st.session_state[ERROR] = str(error)
                except ValueError as error:
                    st.session_state[ERROR] = f"Not saved: {error}."
                else:
                    st.session_state.pop(ERROR, None)
                    seen[referrer_id] = result.version if result else plan.version
                    st.session_state[FLASH] = (f"Saved version {result.version} of the plan as {saved_by}." if result
                                               else "Nothing changed, so nothing was saved.")
                    st.session_state[GENERATION] += 1
                    st.rerun()

        if FLASH in st.session_state:
            st.success(st.session_state.pop(FLASH), icon=":material/check_circle:")
        if ERROR in st.session_state:
            st.error(st.session_state[ERROR])
            if "reload" in st.session_state[ERROR]:
                def _keep_mine() -> None:
                    seen[referrer_id] = store.plan_version(referrer_id)
                    st.session_state.pop(ERROR, None)

                def _load_theirs() -> None:
                    seen[referrer_id] = store.plan_version(referrer_id)
                    st.session_state.pop(ERROR, None)
                    st.session_state[GENERATION] += 1

                keep, load, _ = st.columns([2, 2, 3])
                keep.button("I have seen their change: keep mine", on_click=_keep_mine, key=f"{key}_keep_mine",
                            help="Then press Save plan again: yours is saved on top of theirs.")
                load.button("Load their version (drop my edits)", on_click=_load_theirs, key=f"{key}_load_theirs")

        open_steps = state.query("plans")
        open_steps = open_steps[open_steps["referrer_id"] == referrer_id]
        overdue = int(open_steps["overdue"].sum()) if len(open_steps) else 0
        st.caption(f"{count(len(open_steps))} open next step(s), {count(overdue)} overdue (due before today). "
                   f"Plan version {plan.version}" + (f", last saved by {plain(plan.changed_by)} on "
                                                     f"{plan.changed_at:%d %b %Y %H:%M} UTC." if plan.version else
                                                     ": not saved yet."))
        history = store.plan_history(referrer_id)
        with st.expander(f"Plan history ({count(len(history))} version(s))"):
            if history.empty:
                st.caption("No version saved yet.")
            else:
                history = history.sort_values("version", ascending=False)
                st.dataframe(pd.DataFrame({
                    "Version": history["version"],
                    "When (UTC)": history["changed_at"].dt.strftime("%d %b %Y %H:%M:%S"),
                    "By": history["changed_by"],
                    "Stage": [stage_label(s) for s in history["stage"]],
                    "What changed": history["changes"],
                }), hide_index=True, width="stretch", placeholder="—")

# --- referral pattern ----------------------------------------------------------------------------------
if tab_pattern.open:
    with tab_pattern:
        cells = st.columns(5)
        cells[0].metric("Inbound referrals", count(pattern["referrals"]))
        cells[1].metric("Median estimated value", money_short(pattern["median_value"]),
                        help=f"the firm's median in the window: {money(pattern['firm_median_value'])}")
        cells[2].metric("Largest estimated value", money_short(pattern["largest_value"]))
        cells[3].metric("Median gap (days)", count(pattern["median_gap_days"]),
                        help="days between one inbound referral and the next")
        cells[4].metric("Longest gap (days)", count(pattern["longest_gap_days"]))
        st.markdown(
            f"Pattern: **{pattern['pattern']}**. *Large* when its median estimated value is above the firm's median "
            "for the window, *small* otherwise; *regular* when the median gap between its referrals is at most 91 "
            "days (about a quarter), *occasional* otherwise."
        )
        referrals = state.query("referrer_referrals", {"referrer": referrer_id})
        all_referrals = len(referrals)
        # a referrer of a pooled network can have hundreds of thousands in a window: the newest are drawn and
        # listed, and the page says how many more there are
        referrals = referrals.head(REFERRALS_SHOWN)
        inbound = referrals[referrals["direction"] == "inbound"]
        if inbound.empty:
            st.info("No inbound referral from this referrer in the window. Widen the window in the sidebar.")
        else:
            dots = inbound[inbound["estimated_value"].notna()]
            # one trace per colour, dates as datetime64: per-point colours, texts and date objects are
            # validated one by one by plotly (seconds for a referrer with thousands of referrals)
            figure = go.Figure([
                go.Scatter(
                    x=pd.to_datetime(group["referred_on"]), y=group["estimated_value"].astype(float), mode="markers",
                    name=label, marker={"size": 12, "color": colour},
                    hovertemplate="%{x|%d %b %Y}: " + currency + " %{y:,.0f} (" + label + ")<extra></extra>",
                )
                for label, colour, group in (("won", charts.ACCENT, dots[dots["status"] == "won"]),
                                             ("not won", charts.MUTED, dots[dots["status"] != "won"]))
                if not group.empty
            ])
            figure.update_yaxes(title_text=f"Estimated value ({currency})", tickformat=",.0f", rangemode="tozero")
            figure.update_xaxes(title_text="Referred on")
            newest = " (the newest)" if all_referrals > REFERRALS_SHOWN else ""
            st.plotly_chart(charts._layout(figure, f"Inbound referrals{newest} by date and estimated value "
                                                   f"({currency}); dark = won", height=360), width="stretch")
        st.dataframe(
            pd.DataFrame({
                "Referred on": referrals["referred_on"], "Direction": referrals["direction"],
                "Work type": referrals["work_type"], "Status": referrals["status"],
                "Estimated value": referrals["estimated_value"], "Decided on": referrals["closed_on"],
                "Days since previous": referrals["days_since_previous"], "Contact": referrals["contact"],
                "Our fee earner": referrals["fee_earner"], "Referrer told on": referrals["told_on"],
            }),
            hide_index=True, width="stretch", placeholder="—",
            column_config={"Estimated value": money_column,
                           "Days since previous": st.column_config.NumberColumn(help="inbound referrals only")},
        )
        shown = (f"The {REFERRALS_SHOWN:,} newest of the {all_referrals:,} referrals" if all_referrals > REFERRALS_SHOWN
                 else "Every referral")
        st.caption(f"{shown} with this referrer in the window, newest first: inbound (work it sent us) and "
                   "outbound (work we sent it). “Referrer told on”: when it was told what became of the referral "
                   "(recorded on the KPIs page)." + (" Narrow the window in the sidebar to see older ones."
                                                     if all_referrals > REFERRALS_SHOWN else ""))

# --- who knows whom -------------------------------------------------------------------------------------
if tab_people.open:
    with tab_people:
        who_knows = who_knows_referrer()
        if who_knows.empty:
            st.info("Nobody at the firm is recorded as knowing anyone at this referrer. Add relationships to the "
                    "data (relationships.parquet) or clear the team and office filters.")
        else:
            st.dataframe(
                pd.DataFrame({
                    "Our fee earner": who_knows["fee_earner"], "Team": who_knows["team"],
                    "Their contact": who_knows["contact"], "Job title": who_knows["job_title"],
                    "Strength": who_knows["strength"], "Since": who_knows["since_on"],
                    "Last contact": who_knows["last_contact_on"],
                    "Referrals by the contact": who_knows["contact_referrals"],
                }),
                hide_index=True, width="stretch", placeholder="—",
                column_config={"Strength": st.column_config.ProgressColumn(
                    min_value=0, max_value=5, format="%d / 5", help="1 acquaintance … 5 close, trusted")},
            )
            st.caption(f"{count(row['relationship_count'])} link(s) between {count(row['fee_earners_who_know'])} of "
                       "our fee earners and the referrer's people, strongest first (as recorded now); "
                       "“Referrals by the contact”: inbound referrals that person made in the window.")

# --- activities -------------------------------------------------------------------------------------------
if tab_activities.open:
    with tab_activities:
        activities = state.query("referrer_activities", {"referrer": referrer_id})
        if activities.empty:
            st.info("No activity with this referrer in the window: nothing was invested in it. Widen the window, "
                    "or plan activities from its level's menu on the “Plan and stage” tab.")
        else:
            on_menu = [level is None or pd.isna(m) or int(m) <= level for m in activities["menu_level"]]
            biggest = max(float(activities["cost"].max()), 1.0)
            figure = go.Figure(go.Scatter(
                x=activities["occurred_on"], y=activities["activity_type"], mode="markers",
                marker={"size": [10 + 30 * math.sqrt(max(c, 0) / biggest) for c in activities["cost"]],
                        "color": [charts.ACCENT if ok else charts.WARN for ok in on_menu], "opacity": 0.75},
                text=[f"{f} · {currency} {c:,.0f}" for f, c in zip(activities["fee_earner"], activities["cost"],
                                                                      strict=True)],
                hovertemplate="%{x|%d %b %Y} %{y}<br>%{text}<extra></extra>",
            ))
            figure.update_xaxes(title_text="Date")
            figure.update_yaxes(title_text="Activity type")
            st.plotly_chart(charts._layout(figure, f"Activities over time: marker area = cost ({currency}); orange = "
                                                   "above its level's menu", height=360), width="stretch")
            st.dataframe(
                pd.DataFrame({
                    "Date": activities["occurred_on"], "Activity": activities["activity_type"],
                    "Menu level": [programme.label(m, missing="on no menu") for m in activities["menu_level"]],
                    "Fee earner": activities["fee_earner"], "Contact": activities["contact"],
                    "Hours": activities["hours"], "Expense": activities["expense"], "Cost": activities["cost"],
                }),
                hide_index=True, width="stretch", placeholder="—",
                column_config={"Hours": st.column_config.NumberColumn(format="%,.1f"), "Expense": money_column,
                               "Cost": money_column},
            )
            st.caption("Cost = hours × the fee earner's cost rate + expenses. An activity is above the menu when it "
                       "belongs to a higher level's menu than the referrer's level (assigned, else suggested).")

# --- levels -------------------------------------------------------------------------------------------------
if tab_levels.open:
    with tab_levels:
        cells = st.columns(3)
        cells[0].metric("Assigned level", programme.label(assigned) if assigned is not None else "Unassigned",
                        help="the board's decision (Programme levels page)")
        cells[1].metric("Suggested level", programme.label(suggested, missing="No level"),
                        help="the rule: ranked by referred fees in the window (metrics.md)")
        cells[2].metric("Prune candidate", "yes" if bool(row["prune_candidate"]) else "no",
                        help="invested in during the window, no inbound referral in the 24 months to its end, not "
                             "Level 4")
        levels_history = store.history(referrer_id)
        if levels_history.empty:
            st.caption("The board has never assigned this referrer a level; change it on the Programme levels page.")
        else:
            levels_history = levels_history.sort_values("version", ascending=False)
            st.dataframe(pd.DataFrame({
                "When (UTC)": levels_history["changed_at"].dt.strftime("%d %b %Y %H:%M"),
                "From": [programme.label(v) for v in levels_history["previous_level"]],
                "To": [programme.label(v) for v in levels_history["level"]],
                "By": levels_history["changed_by"], "Reason": levels_history["reason"],
            }), hide_index=True, width="stretch", placeholder="—")
            st.caption("Every level the board saved for this referrer, newest first.")

# --- attribution and reciprocity -------------------------------------------------------------------------
if tab_credit.open:
    with tab_credit:
        left, right = st.columns(2)
        with left:
            st.markdown("**Attribution credit** (linear model)")
            credit = state.query("attribution_referrers", {"model": "linear"})
            mine = credit[credit["referrer_id"] == referrer_id]
            cells = st.columns(2)
            cells[0].metric("Conversions credited", "0" if mine.empty else f"{float(mine['conversions'].iloc[0]):,.2f}")
            cells[1].metric("Value credited", money_short(0 if mine.empty else mine["value"].iloc[0]))
            st.caption("Each instruction opened in the window shares its credit equally among the touchpoints of "
                       "the client's journey; this referrer gets the share of its own referral touchpoints (the "
                       "Attribution page compares ten models).")
        with right:
            st.markdown("**Reciprocity**")
            cells = st.columns(3)
            cells[0].metric("They sent us", count(row["referrals"]))
            cells[1].metric("We sent them", count(row["outbound_referrals"]))
            cells[2].metric("Balance", f"{int(row['reciprocity_balance']):+,}",
                            help="inbound − outbound referrals in the window: positive, they give more than they get")
            if row["outbound_referrals"] > 0 and row["referrals"] == 0:
                st.warning("One-way: we sent them work in the window and none came back.")
            elif row["referrals"] > 0 and row["outbound_referrals"] == 0:
                st.info("One-way: they sent us work in the window and we sent none back.")
