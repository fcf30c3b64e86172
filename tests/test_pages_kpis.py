"""The KPIs page in AppTest: a SMART KPI created through the form (and what is not SMART refused), its
baseline, progress and status, closing it with its final value, the loop-closing list, and all of it still
there in a fresh session (a restart)."""

from __future__ import annotations

from datetime import date, timedelta

from streamlit.testing.v1 import AppTest

from dashboard.data import PROJECT_ROOT
from dashboard.store import open_store

APP = str(PROJECT_ROOT / "dashboard" / "app.py")
KPIS = "views/kpis.py"
NAME = "Level 4 referrers send 40 inbound referrals in the next two quarters"


def open_page(name=None):
    app = AppTest.from_file(APP, default_timeout=60)
    if name:
        app.session_state["editor_name"] = name
    app.switch_page(KPIS).run()
    assert not app.exception, app.exception
    return app


def metrics(app):
    return {m.label: m.value for m in app.metric}


def kpi_table(app):
    return next(d.value for d in app.dataframe if "Forecast at deadline" in d.value.columns)


def create_level_4_kpi(app, deadline):
    app.text_input(key="kpi_name").set_value(NAME)
    app.selectbox(key="kpi_measure").set_value("inbound_referrals")
    app.selectbox(key="kpi_scope").set_value("level").run()
    app.selectbox(key="kpi_scope_level").set_value("4")
    app.number_input(key="kpi_target").set_value(40)
    app.date_input(key="kpi_deadline").set_value(deadline)
    app.text_input(key="kpi_owner").set_value("Head of BD")
    app.button(key="kpi_create").click().run()
    assert not app.exception, app.exception


def test_the_page_explains_itself_when_there_is_no_kpi(env):
    app = open_page()
    assert app.title[0].value == "SMART KPIs and closing the loop"
    assert "No KPI has been defined yet" in app.info[0].value
    assert metrics(app)["Open KPIs"] == "0"
    assert any(s.value == "Define a KPI" for s in app.subheader)


def test_create_the_level_4_kpi_and_see_baseline_progress_and_status(env, state):
    app = open_page(name="Head of BD")
    deadline = date.today() + timedelta(days=190)  # about two quarters
    create_level_4_kpi(app, deadline)
    # The data ends on 31 Jan 2026, so the baseline is measured over the 190 days to it (26 Jul 2025 –
    # 31 Jan 2026): Alpha LLP is the suggested Level 4 there (fees 500 against Beta Bank's 400) and sent
    # RF3 and RF9 → 2.
    assert app.success[0].value == "Created K0001 with its baseline 2 (measured over the period to 31 Jan 2026)."
    row = kpi_table(app).loc["K0001"]
    assert (row["KPI"], row["Scope"], row["Owner"]) == (NAME, "Level 4 · Platinum", "Head of BD")
    # as at the window's end (31 Jan 2026, the baseline day): on the straight line, progress 0
    assert (row["Baseline"], row["Now"], row["Expected now"], row["Target"]) == ("2", "2", "2", "40")
    assert (row["Progress"], row["Status"], row["Deadline"]) == (0.0, "🟢 Green", deadline)
    assert row["Why"].startswith("on or ahead of the straight line")
    assert (metrics(app)["Open KPIs"], metrics(app)["Green"]) == ("1", "1")
    assert any(m.value.startswith("**How the status is set.** **Green**") for m in app.markdown)  # the rule
    # the form is empty again for the next KPI
    assert app.text_input(key="kpi_owner").value == "" and app.number_input(key="kpi_target").value is None

    fresh = open_page()  # a new session on the same state file: as after a restart
    again = kpi_table(fresh).loc["K0001"]
    assert (again["KPI"], again["Baseline"], again["Target"], again["Status"]) == (NAME, "2", "40", "🟢 Green")
    saved = open_store(f"sqlite:///{state}").kpi("K0001")
    assert (saved.measure, saved.scope_kind, saved.scope_value, saved.target, saved.owner, saved.created_by) == (
        "inbound_referrals", "level", "4", 40.0, "Head of BD", "Head of BD")


def test_what_is_not_smart_is_refused_with_clear_messages(env, state):
    app = open_page(name="Head of BD")
    app.button(key="kpi_create").click().run()
    error = app.error[0].value
    assert error.startswith("Not saved, the KPI is not SMART yet")
    for problem in ("Specific: choose a measure from the list.", "Measurable: give a target value.",
                    "Time-bound: give a deadline.", "Owner: name the person accountable"):
        assert problem in error
    create_level_4_kpi(app, date(2024, 6, 30))
    assert "Time-bound: the deadline 30 Jun 2024 is in the past" in app.error[0].value
    app.selectbox(key="kpi_measure").set_value("conversion_rate")
    app.number_input(key="kpi_target").set_value(140)  # percent
    app.date_input(key="kpi_deadline").set_value(date.today() + timedelta(days=90))
    app.button(key="kpi_create").click().run()
    assert "between 0% and 100%, got 140%" in app.error[0].value
    assert open_store(f"sqlite:///{state}").kpis().empty


def test_creating_needs_a_name(env, state):
    app = open_page()
    create_level_4_kpi(app, date.today() + timedelta(days=190))
    assert "Editing as" in app.error[0].value
    assert open_store(f"sqlite:///{state}").kpis().empty


def test_closing_a_kpi_keeps_its_final_value(env, state):
    app = open_page(name="Head of BD")
    create_level_4_kpi(app, date.today() + timedelta(days=190))
    app.text_input(key="kpis_close_reason").set_value("replaced by a yearly KPI")
    app.button(key="kpis_close").click().run()
    assert app.success[0].value == "Closed K0001 with its final value 2."
    fresh = open_page()
    row = kpi_table(fresh).loc["K0001"]
    assert (row["Now"], row["Status"]) == ("2", "🔴 Red · closed")  # 2 missed the target 40
    assert metrics(fresh)["Closed KPIs"] == "1" and metrics(fresh)["Open KPIs"] == "0"
    saved = open_store(f"sqlite:///{state}").kpi("K0001")
    assert (saved.status, saved.final_value, saved.reason) == ("closed", 2.0, "replaced by a yearly KPI")


def test_record_that_a_referrer_was_told(env, state):
    app = open_page(name="Ann Archer")
    # decided in the 90 days to 31 Jan 2026 (3 Nov – 31 Jan): RF14, won on 20 Nov 2025
    editor = app.data_editor[0]
    assert editor.value.index.tolist() == ["RF14"]
    assert editor.value.loc["RF14", ["Referrer", "Status", "Decided on", "Days waiting", "Our fee earner"]].tolist() \
        == ["Beta Bank (R2)", "won", date(2025, 11, 20), 72, "Ben Baker"]  # 20 Nov → 31 Jan: 72 days
    assert metrics(app)["Loop closed"] == "0%"
    app.session_state[editor.key] = {"edited_rows": {0: {"Told": True, "Told on": "2025-11-25"}},
                                     "added_rows": [], "deleted_rows": []}
    app.run()
    app.button(key="kpis_loop_record").click().run()
    assert not app.exception
    assert app.success[0].value == "Recorded 1 referrer(s) told, as Ann Archer."
    fresh = open_page()
    assert any("Nothing to close" in i.value for i in fresh.info)
    # decided in the window (1 Feb 2024 – 31 Jan 2026) by closed_on: RF4, RF1, RF2, RF5, RF6, RF7, RF14
    # (RF8 closed in 2022); RF14 told: 1 of 7
    assert (metrics(fresh)["Decided in the window"], metrics(fresh)["Referrer told"]) == ("7", "1")
    assert metrics(fresh)["Loop closed"] == "14%"
    marks = open_store(f"sqlite:///{state}").loop_closed()
    assert marks[["referral_id", "told_on", "told_by"]].values.tolist() == [["RF14", date(2025, 11, 25),
                                                                             "Ann Archer"]]


def test_a_long_loop_list_shows_those_waiting_longest_and_says_how_many_more(monkeypatch, sample_dir, tmp_path):
    from dashboard import kpis, registry
    from dashboard.data import open_dataset

    monkeypatch.setenv("REFPORT_DATA", str(sample_dir))
    monkeypatch.setenv("REFPORT_STATE", str(tmp_path / "edits.db"))
    monkeypatch.setattr(kpis, "LOOP_ROWS_SHOWN", 5)
    waiting = registry.run("loop_to_close", open_dataset(sample_dir), None, None, {"days": 90})
    assert len(waiting) > 5
    app = open_page()
    shown = app.data_editor[0].value
    assert shown.index.tolist() == waiting["referral_id"].head(5).tolist()  # oldest decisions first
    assert any(f"Showing the 5 waiting longest of {len(waiting):,}" in c.value for c in app.caption)
    assert any(f"{len(waiting):,} referral(s) still to close" in c.value for c in app.caption)
