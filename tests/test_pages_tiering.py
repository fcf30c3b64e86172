"""The Programme levels and Prioritisation matrix pages in Streamlit's AppTest: edits saved through the
store, kept until saved, refused on conflict, and still there in a fresh session (a restart).

AppTest does not draw the entry script's sidebar on a page other than the default one, so these tests
put the "Editing as" name into session state, as the sidebar box does.
"""

from __future__ import annotations

import json
import re

from streamlit.testing.v1 import AppTest

from dashboard.data import PROJECT_ROOT
from dashboard.store import open_store

APP = str(PROJECT_ROOT / "dashboard" / "app.py")
TIERING = "views/tiering.py"
MATRIX = "views/matrix.py"


def open_page(page, name=None):
    app = AppTest.from_file(APP, default_timeout=60)
    if name:
        app.session_state["editor_name"] = name
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def metrics(app):
    return {m.label: m.value for m in app.metric}


def edit_row(app, position, label):
    """What the data editor records when a person picks a level in the Assigned column."""
    editor = app.data_editor[0]
    app.session_state[editor.key] = {"edited_rows": {position: {"Assigned": label}}, "added_rows": [],
                                     "deleted_rows": []}
    app.run()
    assert not app.exception, app.exception


def history_table(app):
    return next(d.value for d in app.dataframe if "By" in d.value.columns)


def test_tiering_page_shows_every_referrer_with_its_levels(env):
    app = open_page(TIERING)
    assert app.title[0].value == "Programme levels"
    assert list(metrics(app)) == ["Referrers", "Level assigned", "Assigned ≠ suggested", "Unsaved changes",
                                  "Under-served Level 4", "Over-served Level 1"]
    assert metrics(app)["Referrers"] == "6"
    table = app.data_editor[0].value
    # largest referred fees first (default window 2024-02-01 .. 2026-01-31: R1 5200, R2 2400, ...)
    assert table.index.tolist()[:2] == ["R1", "R2"]
    assert table.loc["R1", "Suggested"] == "Level 4 · Platinum" and table.loc["R1", "Assigned"] == "Unassigned"
    assert table.loc["R1", "To reach the next level"] == "Top level"
    # R2 (2400 of 7600 positive fees, R3's credit note aside): above it only R1's 5200;
    # 5200 / (5200 + x) < 0.5 ⇔ x > 5200 → GBP 2,800 more
    assert table.loc["R2", "To reach the next level"] == "GBP 2,800 more referred fees → Level 4 · Platinum"
    assert table.loc["R5", "To reach the next level"].startswith("A referral, relationship or activity")
    assert any(s.value.startswith("Service-level check") for s in app.subheader)
    # the lists that ask for a decision keep to the columns that fit at 1280 px, with the same
    # figures as the full service table
    attention = next(d.value for d in app.dataframe if "Level from" in d.value.columns)
    assert list(attention.columns) == ["Referrer", "Level from", "Hours used", "Money used", "Hours",
                                       "Expenses", "Off-menu spend"]
    assert not [d for d in app.dataframe if "Check" in d.value.columns]  # its expander is closed: not built
    app.session_state["tiering_every_levelled_open"] = True  # a person opens it
    app.run()
    full = next(d.value for d in app.dataframe if "Check" in d.value.columns).set_index("Referrer")
    for _, row in attention.iterrows():
        assert full.loc[row["Referrer"], "Check"] in ("under-served", "over-served")
        assert full.loc[row["Referrer"], "Level"].endswith(f"({row['Level from']})")
        for column in ("Hours used", "Money used", "Hours", "Expenses", "Off-menu spend"):
            assert row[column] == full.loc[row["Referrer"], column]


def test_edit_a_level_save_and_find_it_after_a_restart(env, state):
    app = open_page(TIERING, name="Ann Archer")
    edit_row(app, 1, "Level 2 · Silver")  # R2, the second row
    assert metrics(app)["Unsaved changes"] == "1"
    assert app.session_state["tiering_pending"] == {"R2": {"level": 2, "version": 0}}
    app.text_input(key="tiering_reason_input").set_value("cooling relationship").run()
    app.button(key="tiering_save").click().run()
    assert not app.exception
    assert app.success[0].value == "Saved 1 change(s) as Ann Archer."
    assert metrics(app)["Unsaved changes"] == "0"

    fresh = open_page(TIERING)  # a new session on the same state file: as after a restart
    assert fresh.data_editor[0].value.loc["R2", "Assigned"] == "Level 2 · Silver"
    assert fresh.data_editor[0].value.loc["R2", "Last change"].startswith("Ann Archer, ")
    assert metrics(fresh)["Level assigned"] == "1" and metrics(fresh)["Assigned ≠ suggested"] == "1"
    history = history_table(fresh)
    assert history[["Referrer", "From", "To", "By", "Reason"]].values.tolist() == [
        ["Beta Bank (R2)", "Unassigned", "Level 2 · Silver", "Ann Archer", "cooling relationship"]]
    assert open_store(f"sqlite:///{state}").current()["assigned_level"].tolist() == [2]


def test_unsaved_changes_survive_a_page_change_and_need_a_name_and_reason(env, state):
    app = open_page(TIERING)
    edit_row(app, 0, "Level 3 · Gold")  # R1
    app.button(key="tiering_save").click().run()
    assert "Editing as" in app.error[0].value
    app.switch_page("views/overview.py").run()
    app.switch_page(TIERING).run()
    assert app.session_state["tiering_pending"] == {"R1": {"level": 3, "version": 0}}
    assert app.data_editor[0].value.loc["R1", "Assigned"] == "Level 3 · Gold"
    assert app.data_editor[0].value.loc["R1", "Unsaved"] == "✎ unsaved"
    app.session_state["editor_name"] = "Ann"
    app.button(key="tiering_save").click().run()
    assert app.error[0].value.startswith("Give a reason")
    assert not open_store(f"sqlite:///{state}").history().size


def test_a_conflicting_save_is_refused_and_the_edit_kept(env, state):
    app = open_page(TIERING, name="Ann")
    edit_row(app, 1, "Level 4 · Platinum")  # Ann edits R2 from version 0 ...
    open_store(f"sqlite:///{state}").save("R2", 1, "Ben", "saved first", 0)  # ... Ben saves R2 meanwhile
    app.text_input(key="tiering_reason_input").set_value("strategic bank").run()
    app.button(key="tiering_save").click().run()
    assert "R2 was changed by Ben at " in app.error[0].value and "reload" in app.error[0].value
    assert app.session_state["tiering_pending"]["R2"]["level"] == 4  # not lost
    assert open_store(f"sqlite:///{state}").current()["assigned_level"].tolist() == [1]  # Ben's stands
    # Ann has seen Ben's change and keeps hers
    app.button(key="tiering_keep_mine").click().run()
    app.button(key="tiering_save").click().run()
    assert app.success[0].value == "Saved 1 change(s) as Ann."
    history = open_store(f"sqlite:///{state}").history("R2")
    assert history[["level", "previous_level", "changed_by"]].astype(object).values.tolist()[-1] == [4, 1, "Ann"]


def test_bulk_change_of_a_selection(env, state):
    app = open_page(TIERING, name="Ann")
    assert not [m for m in app.multiselect if m.key == "tiering_bulk_ids"]  # closed: not built
    app.session_state["tiering_bulk_open"] = True
    app.run()
    app.multiselect(key="tiering_bulk_ids").set_value(["R4", "R6"]).run()
    app.selectbox(key="tiering_bulk_level").set_value("Level 1 · Bronze").run()
    app.button(key="tiering_bulk_add").click().run()
    # R4 and R6 are suggested Level 1 and unassigned: both become unsaved changes
    assert set(app.session_state["tiering_pending"]) == {"R4", "R6"}
    app.text_input(key="tiering_reason_input").set_value("keep warm").run()
    app.button(key="tiering_save").click().run()
    current = open_store(f"sqlite:///{state}").current()
    assert current[["referrer_id", "assigned_level"]].values.tolist() == [["R4", 1], ["R6", 1]]
    assert len(set(open_store(f"sqlite:///{state}").history()["changed_at"])) == 1  # one transaction


def test_filter_where_assigned_differs_and_the_empty_state(env, state):
    edits = open_store(f"sqlite:///{state}")
    edits.save("R1", 4, "Ann", "as suggested", 0)
    edits.save("R3", 3, "Ann", "new partner", 0)
    app = open_page(TIERING)
    app.toggle(key="tiering_differs").set_value(True).run()
    assert app.data_editor[0].value.index.tolist() == ["R3"]
    app.toggle(key="tiering_differs").set_value(False).run()
    app.text_input(key="tiering_search").set_value("no such referrer").run()
    assert not app.data_editor
    assert app.info[0].value.startswith("No referrer matches")


def test_matrix_page_shows_the_chart_quadrants_and_prune_list(env):
    app = open_page(MATRIX)
    assert app.title[0].value == "Prioritisation matrix"
    assert list(metrics(app)) == ["Invest", "Develop", "Maintain", "Reduce or prune", "Prune candidates"]
    assert sum(int(v) for label, v in metrics(app).items() if label != "Prune candidates") == 6
    assert any(s.value == "Prune list" for s in app.subheader)
    # default window 2024-02-01 .. 2026-01-31: R4 invested (A2, A3), last referred 2022 → the one candidate
    prune = next(d.value for d in app.dataframe if "Months since" in d.value.columns)
    assert prune["Referrer"].tolist() == ["Delta Architects (R4)"]
    app.radio(key="matrix_y").set_value("Return on relationship (ROR)").run()
    assert not app.exception


def chart_levels(app):
    """Each bubble's assigned level, as its hover text says ("<b>name</b> (R4)<br>… · assigned Level 1")."""
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    return {re.match(r"<b>.*?</b> \((\w+)\)<br>", text).group(1): text.rsplit("assigned ", 1)[1]
            for trace in spec["data"] for text in trace.get("text") or []}


def test_matrix_assigns_a_level_to_all_selected_through_the_store(env, state):
    app = open_page(MATRIX, name="Cy")
    assert chart_levels(app)["R4"] == chart_levels(app)["R6"] == "Unassigned"
    app.button(key="matrix_pick_prune").click().run()
    app.multiselect(key="matrix_picked").set_value(["R4", "R6"]).run()
    app.selectbox(key="matrix_level").set_value("Unassigned").run()
    app.selectbox(key="matrix_level").set_value("Level 1 · Bronze").run()
    app.text_input(key="matrix_reason").set_value("matrix review").run()
    app.button(key="matrix_assign").click().run()
    assert not app.exception
    assert app.success[0].value == "Saved Level 1 · Bronze for 2 referrer(s) as Cy."
    history = open_store(f"sqlite:///{state}").history()
    assert history[["referrer_id", "level", "changed_by", "reason"]].values.tolist() == [
        ["R4", 1, "Cy", "matrix review"], ["R6", 1, "Cy", "matrix review"]]
    fresh = open_page(TIERING)
    assert fresh.data_editor[0].value.loc[["R4", "R6"], "Assigned"].tolist() == ["Level 1 · Bronze"] * 2
    # the chart kept for the page's reruns is redrawn with the new levels (its hover text)
    app.run()
    assert chart_levels(app)["R4"] == chart_levels(app)["R6"] == "Level 1 · Bronze"
