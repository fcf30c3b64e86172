"""Strategic drift: is new referred work moving away from the work the firm wants?"""

import streamlit as st

from dashboard import charts, state
from dashboard.formatting import count, share
from dashboard.store import StoreConflict

st.title("Strategic drift")
st.caption(state.context_caption())
st.markdown(
    "Reactive referrals can pigeon-hole the firm in work it does not want. This page compares "
    "the mix of new inbound work, quarter by quarter, with the firm's target mix."
)

controls = st.columns([2, 2, 3])
basis = controls[0].radio(
    "Measure the mix by", ["count", "value"], horizontal=True, key="drift_basis",
    format_func={"count": "Number of referrals", "value": "Estimated value"}.get,
)
threshold = controls[1].number_input(
    "Off target below a target share of", min_value=0.0, max_value=1.0, value=0.05, step=0.01,
    format="%.2f", key="drift_threshold",
    help="A referral is off target when its work type's target share on the day it was "
         "referred is below this (no target counts as 0).",
)

drift = state.query("drift", {"basis": basis})
mix = state.query("drift_mix", {"basis": basis})
targets = state.query("target_mix")

measured = drift[drift["drift_tvd"].notna()]
if measured.empty:
    st.info(
        "No inbound referral in this window can be measured"
        + (" (on the value basis, every estimated value is empty)" if basis == "value" else "")
        + ". Widen the window, clear the filters in the sidebar"
        + (" or measure by number of referrals." if basis == "value" else ".")
    )
    st.stop()

latest, first = measured.iloc[-1], measured.iloc[0]
tiles = st.columns(4)
tiles[0].metric(f"Drift, {latest['quarter']}", share(latest["drift_tvd"]),
                help="the latest quarter in the window with inbound work on this basis")
tiles[1].metric(f"Drift, {first['quarter']}", share(first["drift_tvd"]),
                help="the first quarter in the window with inbound work on this basis")
tiles[2].metric(f"Inbound referrals, {latest['quarter']}", count(latest["referrals"]))
tiles[3].metric("Quarters in the window", count(len(drift)),
                help="calendar quarters overlapping the window; the edge quarters may be partial")

st.plotly_chart(charts.drift_index(drift), width="stretch")
st.caption(
    "Drift index = ½ × Σ over work types of |actual share − target share| for the quarter's "
    "inbound referrals (by number or estimated value, empty values left out), against the "
    "targets in force on the quarter's first day: 0% is exactly on target, 100% is entirely "
    "work the firm does not target. It is the share of new work that would have to change "
    "type to match the target mix."
)

st.subheader("Actual against target mix")
quarters = measured["quarter"].tolist()
quarter = st.selectbox("Quarter", quarters, index=len(quarters) - 1, key="drift_quarter")
left, right = st.columns([2, 3])
left.plotly_chart(charts.drift_mix_quarter(mix, quarter), width="stretch")
right.plotly_chart(charts.drift_gap_heatmap(mix), width="stretch")
st.caption(
    "Each work type's share of the quarter's new inbound work against its target share; the "
    "heat map shows actual − target in percentage points (orange: more than the firm wants, "
    "blue: less). A work type without a target counts as a target of 0%."
)

st.subheader("Referrers driving the drift")
referrers = state.query("drift_referrers", {"threshold": threshold})
names = state.query("scorecard")[["referrer_id", "name", "referrer_type"]]
referrers = referrers.merge(names, on="referrer_id", how="left")
referrers["name"] = referrers["name"].fillna(referrers["referrer_id"])
off_target = referrers[referrers["off_target_referrals"] > 0]
if off_target.empty:
    st.success(f"No inbound referral in this window was in a work type with a target share below "
               f"{share(threshold)}.")
else:
    st.plotly_chart(charts.off_target_referrers(off_target), width="stretch")
    st.dataframe(
        off_target[["name", "referrer_type", "referrals", "off_target_referrals", "off_target_share"]]
        .assign(profile=state.profile_links(off_target["referrer_id"])),
        hide_index=True, width="stretch", placeholder="—",
        column_config={
            "profile": state.PROFILE_COLUMN,
            "name": "Referrer", "referrer_type": "Type",
            "referrals": st.column_config.NumberColumn("Inbound referrals", format="%,d"),
            "off_target_referrals": st.column_config.NumberColumn("Off target", format="%,d"),
            "off_target_share": st.column_config.ProgressColumn(
                "Off-target share", format="percent", min_value=0.0, max_value=1.0),
        },
    )
st.caption(
    f"Off target: an inbound referral in the window whose work type's target share on the day it "
    f"was referred is below {share(threshold, 1)}; off-target share = off-target referrals ÷ the "
    f"referrer's inbound referrals. A high share marks a referrer who sends work the firm does "
    f"not want to be known for."
)

st.subheader("Target mix")
if targets.empty:
    st.warning("No target mix is recorded (work_type_targets is empty), so every work type counts "
               "as a target of 0%. Add targets to the extract to measure drift against them.")
else:
    st.dataframe(
        targets, hide_index=True, width="stretch", placeholder="—",
        column_config={
            "effective_from": st.column_config.DateColumn("Effective from"),
            "effective_to": st.column_config.DateColumn("Until"),
            "work_type": "Work type",
            "target_share": st.column_config.NumberColumn("Target share", format="percent"),
            "in_force_at_end": st.column_config.CheckboxColumn("In force at the window's end"),
        },
    )
    st.caption("The target mix as the drift figures read it: each set applies from its date until "
               "the next one. It starts as work_type_targets.parquet; a mix saved below replaces "
               "the extract's mix of the same date.")

MIX_FLASH = "drift_mix_flash"
if MIX_FLASH in st.session_state:
    st.success(st.session_state.pop(MIX_FLASH), icon=":material/check_circle:")

with st.expander("Edit the target mix", icon=":material/edit:"):
    editable = state.can_edit("target_mix")  # viewers: read-only, and the store refuses their saves anyway
    known = sorted(targets["effective_from"].unique(), reverse=True) if not targets.empty else []
    picked = st.selectbox("Mix effective from", ["a new date", *known], key="mix_pick",
                          format_func=lambda d: d if isinstance(d, str) else f"{d:%d %b %Y}")
    day = (st.date_input("New effective-from date", key="mix_new_day", format="YYYY-MM-DD",
                         min_value=state.EARLIEST, max_value=state.LATEST)
           if isinstance(picked, str) else picked)
    # start from the mix in force on that day, so a new date begins as a copy of the current mix
    in_force = [d for d in known if d <= day]
    start_from = targets[targets["effective_from"] == in_force[0]] if in_force else targets.iloc[0:0]
    store = state.edit_store()
    version_key = f"mix_version_{day}"
    # the version this edit was made from: a save by someone else in between is refused, not overwritten
    st.session_state.setdefault(version_key, store.target_mix_version(day))
    edited = st.data_editor(
        start_from[["work_type", "target_share"]].reset_index(drop=True),
        num_rows="dynamic" if editable else "fixed", hide_index=True, width="stretch", placeholder="—", key=f"mix_editor_{day}",
        disabled=not editable,
        column_config={
            "work_type": st.column_config.TextColumn("Work type", required=True),
            "target_share": st.column_config.NumberColumn(
                "Target share (0–1)", min_value=0.0, max_value=1.0, step=0.0001, format="%.4f",
                required=True),
        },
    )
    st.caption(f"Shares entered: {edited['target_share'].fillna(0).sum():.4f} of 1.0000 "
               "(they must sum to 1 per date).")
    reason = st.text_input("Reason", key="mix_reason", placeholder="e.g. strategy day: grow insolvency work",
                           disabled=not editable)
    if st.button("Save the mix", type="primary", key="mix_save", disabled=not editable):
        who = state.editor_name()
        if not who:
            st.error("Type your name in \"Editing as\" in the sidebar first: every change records who made it.")
        else:
            try:
                saved = store.save_target_mix(
                    day, dict(zip(edited["work_type"], edited["target_share"])), who, reason,
                    st.session_state[version_key])
            except StoreConflict as error:
                st.error(str(error))
            except ValueError as error:
                st.error(f"Not saved: {error}")
            else:
                del st.session_state[version_key]
                st.session_state[MIX_FLASH] = f"Saved the mix from {day:%d %b %Y} (version {saved}) as {who}."
                st.rerun()
    history = store.target_mix_history()
    if not history.empty:
        st.markdown("**History of saved mixes** (newest first; nothing is overwritten)")
        st.dataframe(history.sort_values(["changed_at", "work_type"], ascending=[False, True]),
                     hide_index=True, width="stretch", placeholder="—")
