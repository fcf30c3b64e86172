"""The Referrer profile and Development pipeline pages in AppTest: reached by URL and search, a plan edited
and saved through the store, refused on conflict, and still there in a fresh session (a restart).

AppTest does not draw the entry script's sidebar on a page other than the default one, so these tests put
the "Editing as" name into session state, as the sidebar box does.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from streamlit.testing.v1 import AppTest

from dashboard.data import PROJECT_ROOT
from dashboard.store import Plan, PlanStep, open_store

APP = str(PROJECT_ROOT / "dashboard" / "app.py")
PROFILE = "views/profile.py"
PIPELINE = "views/pipeline.py"
DUE = date.today() + timedelta(days=30)


def open_page(page, name=None, referrer=None):
    app = AppTest.from_file(APP, default_timeout=60)
    if name:
        app.session_state["editor_name"] = name
    if referrer:
        app.query_params["referrer"] = referrer
    app.switch_page(page).run()
    assert not app.exception, app.exception
    return app


def open_tab(app, label):
    """What a click on a tab does: the page reruns with it open."""
    app.session_state["profile_tab"] = label
    app.run()
    assert not app.exception, app.exception


def metrics(app):
    return {m.label: m.value for m in app.metric}


def chart_titles(app):
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in app.get("plotly_chart")]


def plan_key(app, referrer):
    return f"plan_{referrer}_{app.session_state['profile_plan_generation']}"


def test_a_profile_opens_from_its_url_with_numbers_trend_and_pattern(env):
    app = open_page(PROFILE, referrer="R2")
    assert app.title[0].value == "Referrer profile"
    assert app.selectbox(key="profile_referrer").value == "R2"
    assert any(h.value == "Beta Bank (R2)" for h in app.subheader)
    # default window 1 Feb 2024 – 31 Jan 2026: RF5, RF6, RF14; fees M5 2000 + M14 400
    shown = metrics(app)
    assert (shown["Inbound referrals"], shown["Referred fees"], shown["Conversion rate"]) == ("3", "GBP 2,400", "67%")
    assert "Inbound referrals (number) and referred fees (GBP) per quarter" in chart_titles(app)
    # gaps 32 and 158 days → median 95 > 91: occasional; values 1000 = the firm's median: small
    assert "referral pattern **small and occasional**" in app.markdown[0].value
    assert app.query_params["referrer"] == "R2"
    # only the open tab is computed: the plan's, until another one is opened
    assert "Median gap (days)" not in shown
    open_tab(app, "Referral pattern")
    assert metrics(app)["Median gap (days)"] == "95"
    assert "Inbound referrals by date and estimated value (GBP); dark = won" in chart_titles(app)


def test_every_tab_opens_without_an_exception_and_shows_its_own_content_only(env):
    app = open_page(PROFILE, referrer="R2")

    def texts():
        return " ".join(e.value for e in [*app.caption, *app.info, *app.markdown])

    # what only each tab shows
    own = {
        "Referral pattern": lambda: "Median gap (days)" in metrics(app),
        "Who knows whom": lambda: "link(s) between" in texts(),
        "Activities": lambda: "Cost = hours × the fee earner" in texts(),
        "Levels": lambda: "Suggested level" in metrics(app),
        "Attribution and reciprocity": lambda: "Value credited" in metrics(app),
        "Plan and stage": lambda: any(b.label == "Save plan" for b in app.button),
    }
    for tab in own:
        open_tab(app, tab)
        assert [other for other, shows in own.items() if shows()] == [tab]


def test_the_search_box_changes_the_referrer_and_the_url(env):
    app = open_page(PROFILE, referrer="R2")
    app.selectbox(key="profile_referrer").set_value("R1").run()
    assert not app.exception
    assert any(h.value == "Alpha LLP (R1)" for h in app.subheader)
    assert app.query_params["referrer"] == "R1"
    app.run()  # the URL still says R1: the page's own echo does not move it back
    assert app.selectbox(key="profile_referrer").value == "R1"


def test_an_unknown_referrer_in_the_url_is_said_and_another_shown(env):
    app = open_page(PROFILE, referrer="R404")
    assert "There is no referrer 'R404'" in app.warning[0].value
    assert app.selectbox(key="profile_referrer").value == "R1"  # the largest referred fees first


def test_edit_a_plan_save_it_and_find_it_after_a_restart(env, state):
    app = open_page(PROFILE, name="Pat Partner", referrer="R2")
    key = plan_key(app, "R2")
    app.selectbox(key=f"{key}_stage").set_value("agreement")
    app.text_input(key=f"{key}_partner").set_value("Ben Baker")
    app.text_area(key=f"{key}_aims").set_value("Two property referrals a quarter")
    app.multiselect(key=f"{key}_activities").set_value(["Quarterly coffee catch ups"])
    app.session_state[f"{key}_steps"] = {
        "edited_rows": {}, "deleted_rows": [],
        "added_rows": [{"Next step": "Agree how referred clients are reported back", "Owner": "Ben Baker",
                        "Due": DUE.isoformat(), "Done": False}],
    }
    app.button(key=f"{key}_save").click().run()
    assert not app.exception
    assert app.success[0].value == "Saved version 1 of the plan as Pat Partner."
    saved = open_store(f"sqlite:///{state}").plan("R2")
    assert (saved.stage, saved.partner, saved.aims, saved.activities) == (
        "agreement", "Ben Baker", "Two property referrals a quarter", ("Quarterly coffee catch ups",))
    assert [(s.step_no, s.action, s.owner, s.due_on, s.done) for s in saved.steps] == [
        (1, "Agree how referred clients are reported back", "Ben Baker", DUE, False)]

    fresh = open_page(PROFILE, referrer="R2")  # a new session on the same state file: as after a restart
    key = plan_key(fresh, "R2")
    assert fresh.selectbox(key=f"{key}_stage").value == "agreement"
    assert fresh.text_input(key=f"{key}_partner").value == "Ben Baker"
    steps = fresh.data_editor[0].value
    assert steps[["Step", "Next step", "Owner", "Done"]].values.tolist() == [
        [1, "Agree how referred clients are reported back", "Ben Baker", False]]
    history = next(d.value for d in fresh.dataframe if "What changed" in d.value.columns)
    assert history[["Version", "By", "Stage", "What changed"]].values.tolist() == [
        [1, "Pat Partner", "4 · Agreement", "plan started; stage Agreement; 1 next step(s)"]]
    assert "stage **4 · Agreement** · relationship partner **Ben Baker**" in fresh.markdown[0].value

    # the step is done: ticked and saved as the next version
    fresh.session_state["editor_name"] = "Ben Baker"
    fresh.session_state[f"{key}_steps"] = {"edited_rows": {0: {"Done": True}}, "added_rows": [], "deleted_rows": []}
    fresh.button(key=f"{key}_save").click().run()
    assert fresh.success[0].value == "Saved version 2 of the plan as Ben Baker."
    assert open_store(f"sqlite:///{state}").plan("R2").steps[0].done_on == date.today()


def test_saving_needs_a_name_and_a_complete_next_step(env, state):
    app = open_page(PROFILE, referrer="R2")
    key = plan_key(app, "R2")
    app.selectbox(key=f"{key}_stage").set_value("connection")
    app.button(key=f"{key}_save").click().run()
    assert "Editing as" in app.error[0].value
    app.session_state["editor_name"] = "Pat"
    app.session_state[f"{key}_steps"] = {"edited_rows": {}, "deleted_rows": [],
                                         "added_rows": [{"Next step": "Call them", "Done": False}]}
    app.button(key=f"{key}_save").click().run()
    assert "next step 1 of the plan for R2 ('Call them') has no owner" in app.error[0].value
    assert open_store(f"sqlite:///{state}").plan("R2").version == 0


def test_a_plan_changed_meanwhile_is_refused_and_can_be_saved_on_top(env, state):
    app = open_page(PROFILE, name="Pat", referrer="R2")  # Pat opens the plan (never saved) ...
    open_store(f"sqlite:///{state}").save_plan(Plan("R2", stage="connection"), "Ben", 0)  # ... Ben saves first
    key = plan_key(app, "R2")
    app.selectbox(key=f"{key}_stage").set_value("agreement")
    app.button(key=f"{key}_save").click().run()
    message = app.error[0].value
    assert "the plan for R2 was changed by Ben at " in message and "reload" in message
    assert open_store(f"sqlite:///{state}").plan("R2").stage == "connection"  # Ben's stands
    app.button(key=f"{key}_keep_mine").click().run()
    app.button(key=f"{key}_save").click().run()
    assert app.success[0].value == "Saved version 2 of the plan as Pat."
    assert open_store(f"sqlite:///{state}").plan("R2").stage == "agreement"


def test_pipeline_is_empty_until_a_stage_is_set(env):
    app = open_page(PIPELINE)
    assert app.title[0].value == "Referrer development pipeline"
    assert metrics(app)["In the pipeline"] == "0"
    assert "set its stage in the strategic referral process" in app.info[0].value


def test_pipeline_shows_referrers_by_stage_with_their_steps(env, state):
    store = open_store(f"sqlite:///{state}")
    store.save_plan(Plan("R2", partner="Ben Baker", stage="agreement", steps=(
        PlanStep("Agree reporting", "Ben", date.today() - timedelta(days=4)),)), "Pat", 0)
    store.save_plan(Plan("R5", stage="connection"), "Pat", 0)
    app = open_page(PIPELINE)
    shown = metrics(app)
    assert (shown["In the pipeline"], shown["1 · Connection"], shown["4 · Agreement"], shown["Overdue next steps"]) \
        == ("2", "1", "1", "1")
    assert "Referrers at each stage of development (number)" in chart_titles(app)
    tables = [d.value for d in app.dataframe]
    assert tables[0]["name"].tolist() == ["Echo Insurers"] and tables[1]["name"].tolist() == ["Beta Bank"]
    assert tables[1]["profile"].tolist() == ["profile?referrer=R2"]  # a link to the profile
    assert tables[2][["referrer", "action", "days_overdue"]].values.tolist() == [["Beta Bank", "Agree reporting", 4]]
