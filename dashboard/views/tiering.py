"""Programme levels: the evidence per referrer, the suggested level, and the board's decision,
saved with who, when and why."""

from __future__ import annotations

import functools
import hashlib

import pandas as pd
import streamlit as st

from dashboard import state
from dashboard.formatting import count, money, share
from dashboard.levels import UNASSIGNED
from dashboard.settings import SETTINGS
from dashboard.store import StoreConflict, TierChange

PENDING = "tiering_pending"      # {referrer_id: {"level": int | None, "version": int}}: unsaved edits
GENERATION = "tiering_generation"  # bumped to give the editor a fresh state (after save, discard, bulk)
REASON = "tiering_reason"        # the reason typed, kept across page changes
FLASH = "tiering_flash"          # a message to show after a rerun
CONFLICT = "tiering_conflict"    # the last refused save's message

programme = state.programme()
currency = SETTINGS.currency
st.session_state.setdefault(PENDING, {})
st.session_state.setdefault(GENERATION, 0)
pending: dict[str, dict[str, object]] = st.session_state[PENDING]

st.title("Programme levels")
st.caption(state.context_caption())
st.markdown(
    "The **suggested level** is a rule, not a decision: referrers ranked by referred fees in the window; "
    "Level 4 holds the top referrers until half of all referred fees is reached, Level 3 the next until "
    "80%, Level 2 the rest with fees, Level 1 those with referrals, relationships or activity but no fees. "
    "The **assigned level** is the board's decision: change it in the table, give a reason and save; "
    "every change keeps who made it, when and why."
)
editable = state.can_edit("tier")  # viewers: read-only, and the store refuses their saves anyway

table = state.query("tiering")
if table.empty:
    st.info("No referrer matches the filters. Clear the filters in the sidebar, or load a data "
            "directory whose referrers.parquet has rows.")
    st.stop()

# plain lists, not pandas' Arrow-backed columns stepped through one value at a time (20,000 referrers)
all_ids = table["referrer_id"].tolist()
names = dict(zip(all_ids, table["name"].tolist(), strict=True))
stored_level = {rid: (None if pd.isna(v) else int(v))
                for rid, v in zip(all_ids, table["assigned_level"].tolist(), strict=True)}
version = dict(zip(all_ids, table["version"].astype(int).tolist(), strict=True))
suggested = dict(zip(all_ids, table["suggested_level"].tolist(), strict=True))


# Worked out once per distinct level in this run: the page's table and service lists name thousands of
# them at L. Every missing level (None, NaN, <NA>) is looked up as None.
@functools.cache
def _level_text(level: object, missing: str) -> str:
    return programme.label(level, missing=missing)


def _label(level: object) -> str:
    return _level_text(None if pd.isna(level) else level, UNASSIGNED)


def _suggested(level: object) -> str:
    return _level_text(None if pd.isna(level) else level, "No level")


def _stage(referrer_id: str, level: int | None) -> None:
    """Keep an edit until it is saved; an edit back to the saved level is no edit."""
    if referrer_id not in stored_level:
        return
    if level == stored_level[referrer_id]:
        pending.pop(referrer_id, None)
    else:
        # the version the person first edited from: a save made meanwhile is then refused
        seen = pending.get(referrer_id, {}).get("version", version[referrer_id])
        pending[referrer_id] = {"level": level, "version": seen}


def _fresh_editor() -> None:
    st.session_state[GENERATION] += 1


def _next_steps(rows: pd.DataFrame) -> list[str]:
    """What each referrer of ``rows`` needs for the next level. The missing values are found a column
    at a time: value by value they were 60,000 pd.isna calls on every rerun for 20,000 referrers."""
    no_next = rows["next_level"].isna().tolist()
    no_suggested = rows["suggested_level"].isna().tolist()
    gaps = rows["fees_to_next_level"].fillna(0.0).tolist()
    steps = []
    for top, unranked, next_level, gap in zip(no_next, no_suggested, rows["next_level"].tolist(), gaps,
                                              strict=True):
        if top:
            steps.append("Top level")
            continue
        target = _level_text(next_level, UNASSIGNED)
        if unranked:
            steps.append(f"A referral, relationship or activity in the window → {target}")
        elif gap < 0.5:
            steps.append(f"Any more referred fees → {target}")
        else:
            steps.append(f"{money(gap)} more referred fees → {target}")
    return steps


service = state.query("service_levels")
tiles_area = st.container()  # filled once this run's edits are known

# --- the table -----------------------------------------------------------------------------------
st.subheader("Referrers")
left, middle, right = st.columns([3, 2, 3])
differs_only = left.toggle("Only where assigned differs from suggested", key="tiering_differs")
unsaved_only = middle.toggle("Only unsaved changes", key="tiering_unsaved")
search = right.text_input("Find a referrer", key="tiering_search", placeholder="Name or id",
                          label_visibility="collapsed")

shown = table
if differs_only:
    shown = shown[shown["differs_from_suggested"].fillna(False).astype(bool)]
if unsaved_only:
    shown = shown[shown["referrer_id"].isin(list(pending))]
if search.strip():
    needle = search.strip().lower()
    shown = shown[shown["name"].str.lower().str.contains(needle, regex=False)
                  | shown["referrer_id"].str.lower().str.contains(needle, regex=False)]

ids = shown["referrer_id"].tolist()
identity = hashlib.sha256("\0".join(ids).encode()).hexdigest()[:12]
revision = "-".join(str(v) for v in state.edit_store().revision())
editor_key = f"tiering_editor_{st.session_state[GENERATION]}_{revision}_{identity}"

# Edits made in the editor on the previous run (rows by position in this same view): keep them
# as pending changes before drawing, so the table, the tiles and the save panel agree.
for position, change in (st.session_state.get(editor_key) or {}).get("edited_rows", {}).items():
    if "Assigned" in change and int(position) < len(ids):
        _stage(ids[int(position)], programme.parse(change["Assigned"] or "none"))

# --- tiles -------------------------------------------------------------------------------------
assigned = table[table["version"] > 0]
# two rows of three: as six columns the labels were cut off on a projector at 1280 px
board, service_tiles = tiles_area.columns(3), tiles_area.columns(3)
board[0].metric("Referrers", count(len(table)))
board[1].metric("Level assigned", count(assigned["assigned_level"].notna().sum()),
                help="referrers with a level saved by the board (not unassigned)")
board[2].metric("Assigned ≠ suggested", count(table["differs_from_suggested"].sum()),
                help="the board's level differs from the rule's suggestion")
service_tiles[0].metric("Unsaved changes", count(len(pending)))
service_tiles[1].metric("Under-served Level 4", count(((service["level"] == 4)
                                                       & (service["service_level"] == "under-served")).sum()),
                        help="Level 4 referrers given less than their budget in the last 12 months")
service_tiles[2].metric("Over-served Level 1", count(((service["level"] == 1)
                                                      & (service["service_level"] == "over-served")).sum()),
                        help="Level 1 referrers given more than their budget in the last 12 months")


if shown.empty:
    st.info("No referrer matches: switch off the toggles or clear the search box.")
else:
    # cells are made from plain lists: stepping through pandas' Arrow-backed columns one value at a time
    # took half a second of every rerun for 20,000 referrers
    view = pd.DataFrame({
        "ID": shown["referrer_id"],
        "Referrer": shown["name"],
        "Suggested": [_suggested(level) for level in shown["suggested_level"].tolist()],
        "Assigned": [_label(pending[r]["level"] if r in pending else stored_level[r]) for r in ids],
        "Unsaved": ["✎ unsaved" if r in pending else "" for r in ids],
        "To reach the next level": _next_steps(shown),
        "Referred fees": shown["referred_fees"],
        "Referrals": shown["referrals"],
        "ROR": shown["ror"],
        "Investment": shown["investment_cost"],
        "Type": shown["referrer_type"],
        "Last change": [
            "" if pd.isna(at) else f"{by}, {at:%d %b %Y %H:%M} UTC"
            for by, at in zip(shown["assigned_by"].tolist(), shown["assigned_at"].tolist())
        ],
    }).set_index("ID")
    st.data_editor(
        view,
        key=editor_key,
        width="stretch", placeholder="—",
        height=min(36 * len(view) + 40, 560),
        num_rows="fixed",
        disabled=[c for c in view.columns if c != "Assigned"] if editable else True,
        column_config={
            "_index": st.column_config.TextColumn("ID"),
            "Referred fees": st.column_config.NumberColumn(f"Referred fees ({currency})", format="%,.0f"),
            "Investment": st.column_config.NumberColumn(f"Investment ({currency})", format="%,.0f",
                                                        help="hours × cost rate + expenses in the window"),
            "ROR": st.column_config.NumberColumn("ROR", format="%.1f×",
                                                 help="referred fees ÷ investment; empty without investment"),
            "Assigned": st.column_config.SelectboxColumn(
                "Assigned ✎", options=programme.labels(), required=True,
                help="the board's level: pick one, then save with a reason below"),
            "To reach the next level": st.column_config.TextColumn(
                width="large",
                help="referred fees the referrer would have to exceed, others unchanged, "
                     "for the rule to suggest the next level"),
        },
    )
    st.caption(f"{count(len(view))} of {count(len(table))} referrers shown, largest referred fees first. "
               "“To reach the next level”: how much more the referrer would have to refer (fees billed in "
               "the window), others unchanged, for the suggested level to rise.")


# --- bulk change -------------------------------------------------------------------------------
def _select_all_shown() -> None:
    st.session_state["tiering_bulk_ids"] = list(ids)


def _stage_bulk() -> None:
    level = programme.parse(st.session_state["tiering_bulk_level"])
    for referrer_id in st.session_state.get("tiering_bulk_ids", []):
        _stage(referrer_id, level)
    st.session_state["tiering_bulk_ids"] = []
    _fresh_editor()


# Closed, the expanders below are not built: at 20,000 referrers the picker's options and the full
# service table were a fifth of every rerun of this page.
bulk = st.expander("Change several referrers at once", key="tiering_bulk_open", on_change="rerun")
if bulk.open:
    with bulk:
        st.multiselect("Referrers", options=table["referrer_id"].tolist(), key="tiering_bulk_ids",
                       format_func=lambda r: f"{names[r]} ({r})", placeholder="Pick referrers", disabled=not editable)
        pick_left, pick_right = st.columns([3, 2])
        pick_left.selectbox("New level", programme.labels(), key="tiering_bulk_level", disabled=not editable)
        pick_right.button(f"Select all {count(len(ids))} shown", on_click=_select_all_shown, key="tiering_bulk_all",
                          width="stretch", disabled=not editable)
        st.button("Add to unsaved changes", on_click=_stage_bulk, key="tiering_bulk_add", type="secondary",
                  disabled=not editable)
        st.caption("The change joins the unsaved changes below; nothing is saved until you press Save.")


# --- save ----------------------------------------------------------------------------------------
def _save() -> None:
    by = state.editor_name()
    reason = st.session_state.get(REASON, "").strip()
    if not by:
        st.session_state[CONFLICT] = ("Type your name in “Editing as” in the sidebar first: every change "
                                      "records who made it.")
        return
    if not reason:
        st.session_state[CONFLICT] = "Give a reason for the changes: it is kept with them in the history."
        return
    changes = [TierChange(rid, p["level"], p["version"]) for rid, p in pending.items()]
    try:
        saved = state.edit_store().save_many(changes, by, reason)
    except StoreConflict as error:
        st.session_state[CONFLICT] = str(error)
        return
    except ValueError as error:
        st.session_state[CONFLICT] = str(error)
        return
    pending.clear()
    st.session_state[REASON] = ""
    st.session_state["tiering_reason_input"] = ""
    st.session_state.pop(CONFLICT, None)
    st.session_state[FLASH] = f"Saved {len(saved)} change(s) as {by}."
    _fresh_editor()


def _discard() -> None:
    pending.clear()
    st.session_state.pop(CONFLICT, None)
    _fresh_editor()


def _keep_mine() -> None:
    """After a refused save: the person has seen the other change and keeps theirs."""
    for referrer_id, change in pending.items():
        change["version"] = version.get(referrer_id, change["version"])
    st.session_state.pop(CONFLICT, None)


st.subheader("Unsaved changes")
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH), icon=":material/check_circle:")
if not pending:
    st.caption("None. Change a level in the table's “Assigned” column, or several at once above."
               if editable else "None: your role cannot change levels.")
else:
    st.dataframe(
        pd.DataFrame([
            {"Referrer": f"{names.get(rid, rid)} ({rid})", "From": _label(stored_level.get(rid)),
             "To": _label(change["level"]),
             "Suggested": _suggested(suggested.get(rid))}
            for rid, change in pending.items()
        ]),
        hide_index=True, width="stretch", placeholder="—",
    )
    if "tiering_reason_input" not in st.session_state:
        st.session_state["tiering_reason_input"] = st.session_state.get(REASON, "")
    st.text_input("Reason (kept with every change in the history)", key="tiering_reason_input",
                  placeholder="e.g. board review 2026: strategic bank partner", disabled=not editable)
    st.session_state[REASON] = st.session_state["tiering_reason_input"]
    who = state.editor_name()
    st.caption(f"Saving as **{who}**." if who else "Type your name in “Editing as” in the sidebar to save.")
    save_col, discard_col, _ = st.columns([1, 1, 3])
    save_col.button(f"Save {len(pending)} change(s)", type="primary", on_click=_save, key="tiering_save",
                    width="stretch", disabled=not editable)
    discard_col.button("Discard", on_click=_discard, key="tiering_discard", width="stretch")
if CONFLICT in st.session_state:
    st.error(st.session_state[CONFLICT])
    if pending and "reload" in st.session_state[CONFLICT]:
        st.button("I have seen their change: keep mine and save again", on_click=_keep_mine,
                  key="tiering_keep_mine")


# --- history -------------------------------------------------------------------------------------
st.subheader("History")
ALL = "__all__"
chosen = st.selectbox("Whose changes", [ALL, *table["referrer_id"].tolist()], key="tiering_history_referrer",
                      format_func=lambda r: "Every referrer" if r == ALL else f"{names[r]} ({r})")
history = state.edit_store().history(None if chosen == ALL else chosen)
if history.empty:
    st.caption("No level has been saved yet for this choice.")
else:
    history = history.sort_values(["changed_at", "version"], ascending=False)
    st.dataframe(
        pd.DataFrame({
            "When (UTC)": history["changed_at"].dt.strftime("%d %b %Y %H:%M:%S"),
            "Referrer": [f"{names.get(r, r)} ({r})" for r in history["referrer_id"]],
            "From": [_label(v) for v in history["previous_level"]],
            "To": [_label(v) for v in history["level"]],
            "By": history["changed_by"],
            "Reason": history["reason"],
            "Version": history["version"],
        }),
        hide_index=True, width="stretch", placeholder="—",
    )
st.caption(f"Every saved change, newest first; nothing is ever overwritten. Kept in "
           f"`{state.edit_store().display_url}`.")


# --- service-level check -------------------------------------------------------------------------
st.subheader("Service-level check: investment against the level's budget")
if service.empty:
    st.info("No referrer has a level yet (assigned or suggested), so there is nothing to check.")
else:
    first = service.iloc[0]
    st.markdown(
        f"What each referrer received in the 12 months {first.period_start:%d %b %Y} – "
        f"{first.period_end:%d %b %Y} (fee-earner hours, and expenses in money) against the annual budget "
        f"of its level — the assigned level, else the suggested one. **Under-served**: below "
        f"{share(programme.under_served_below)} of every budget; **over-served**: above "
        f"{share(programme.over_served_above)} of any budget. **Off menu**: spend on activities from a "
        f"higher level's menu."
    )

    def _service_table(rows: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({
            "Referrer": [f"{n} ({r})" for n, r in zip(rows["name"].tolist(), rows["referrer_id"].tolist())],
            "Level": [f"{_label(lv)} ({src})" for lv, src in zip(rows["level"].tolist(), rows["level_source"].tolist())],
            "Hours": rows["hours_12m"],
            "Hours budget": rows["budget_hours"],
            "Hours used": rows["hours_used"] * 100,  # in percent, for the column's format
            "Expenses": rows["expense_12m"],
            "Money budget": rows["budget_money"],
            "Money used": rows["money_used"] * 100,
            "Off-menu spend": rows["off_menu_cost_12m"],
            "Off-menu activities": rows["off_menu_types"].fillna(""),
            "Check": rows["service_level"],
        })

    money_format = st.column_config.NumberColumn(format=f"{currency} %,.0f")
    service_config = {"Hours": st.column_config.NumberColumn(format="%,.1f"),
                      "Hours budget": st.column_config.NumberColumn(format="%,.0f"),
                      "Hours used": st.column_config.NumberColumn(format="%,.0f%%"),
                      "Money used": st.column_config.NumberColumn(format="%,.0f%%"),
                      "Expenses": money_format, "Money budget": money_format, "Off-menu spend": money_format}
    def _attention_table(rows: pd.DataFrame) -> pd.DataFrame:
        """The two lists that ask for a decision, one under the other and narrow enough to read whole
        at 1280 px (side by side with every column, the shares were off screen): _service_table's
        columns that fit, the level being in the heading and the budgets in the full table below."""
        table = _service_table(rows).assign(**{"Level from": rows["level_source"].tolist()})
        return table[["Referrer", "Level from", "Hours used", "Money used", "Hours", "Expenses",
                      "Off-menu spend"]]

    attention_config = {
        **service_config,
        "Level from": st.column_config.TextColumn(
            help="assigned: the level the board saved; suggested: the rule's level, none being saved"),
        "Hours used": st.column_config.NumberColumn(
            format="%,.0f%%", help="fee-earner hours in the 12 months, as a share of the level's annual budget"),
        "Money used": st.column_config.NumberColumn(
            format="%,.0f%%", help="expenses in the 12 months, as a share of the level's annual budget"),
    }
    under4 = service[(service["level"] == 4) & (service["service_level"] == "under-served")]
    over1 = service[(service["level"] == 1) & (service["service_level"] == "over-served")]
    for rows, heading, none in (
        (under4, "Under-served Level 4s", "None: every Level 4 referrer gets at least its share of the budget."),
        (over1, "Over-served Level 1s", "None: no Level 1 referrer gets more than its budget allows."),
    ):
        st.markdown(f"**{heading}** ({count(len(rows))})")
        if rows.empty:
            st.caption(none)
        else:
            st.dataframe(_attention_table(rows), hide_index=True, width="stretch", placeholder="—", column_config=attention_config)
    every = st.expander(f"Every levelled referrer ({count(len(service))})", key="tiering_every_levelled_open",
                        on_change="rerun")
    if every.open:
        every.dataframe(_service_table(service), hide_index=True, width="stretch", placeholder="—", column_config=service_config)

with st.expander("The programme: levels, menus and budgets"):
    for level in programme.levels:
        st.markdown(f"**{level.label}** — budget {level.budget_hours:,.0f} hours and "
                    f"{money(level.budget_money)} a year per referrer")
        st.markdown("\n".join(f"- {item}" for item in level.menu))
    st.caption(f"From `{programme.source}`; a firm sets its own file with the REFPORT_LEVELS environment "
               "variable.")
