"""The edit store's plans, KPIs and "told on" marks: versions and history, conflicts refused, all or nothing,
kept across a restart (same rules as tier assignments, tests/test_store.py)."""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from dashboard import store as store_module
from dashboard.store import Plan, PlanStep, StoreConflict, open_store


@pytest.fixture()
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture()
def store(url):
    opened = open_store(url)
    yield opened
    opened.close()


TODAY = date.today()  # the store dates a step done today (UTC); tests stay away from midnight edges
DUE = date(2026, 3, 1)


def kpi_fields(**changes):
    fields = {"measure": "inbound_referrals", "scope_kind": "level", "scope_value": "4", "target": 40,
              "start_on": date(2026, 1, 1), "deadline": date(2026, 7, 1), "owner": "Head of BD", "baseline": 30.0,
              "baseline_on": date(2025, 12, 31), "by": "Ann", "name": "Level 4 referrers send 40"}
    fields.update(changes)
    return fields


# --- schema ----------------------------------------------------------------------------------------

def test_the_migrations_add_plans_kpis_and_loop_marks(store, tmp_path):
    with sqlite3.connect(tmp_path / "state.db") as raw:
        assert raw.execute("select version_num from alembic_version").fetchone()[0] == "0006"
        names = {r[0] for r in raw.execute("select name from sqlite_master where type in ('table', 'view')")}
    assert {"plan_history", "plan_step_history", "plans_current", "plan_steps_current", "kpi_history",
            "kpis_current", "loop_closed_history", "loop_closed_current"} <= names


def test_a_store_from_before_plans_is_upgraded_and_keeps_its_levels(tmp_path):
    from alembic import command
    from alembic.config import Config

    path = tmp_path / "old.db"
    config = Config()
    config.set_main_option("script_location", str(store_module.MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{path}")
    command.upgrade(config, "0002")
    with sqlite3.connect(path) as raw:
        raw.execute("insert into tier_assignment_history (referrer_id, version, level, changed_by, changed_at, "
                    "reason) values ('R1', 1, 4, 'Ann', '2026-01-02 03:04:05.000000', 'kept')")
    upgraded = open_store(f"sqlite:///{path}")
    assert upgraded.current()["assigned_level"].tolist() == [4]
    assert upgraded.plans().empty and upgraded.kpis().empty and upgraded.loop_closed().empty
    assert upgraded.save_plan(Plan("R1", stage="connection"), "Ann", 0).version == 1


@pytest.mark.parametrize("table", ["plan_history", "plan_step_history", "kpi_history", "loop_closed_history"])
def test_the_new_histories_are_append_only_even_outside_the_app(store, tmp_path, table):
    store.save_plan(Plan("R1", steps=(PlanStep("Call", "Ann", DUE),)), "Ann", 0)
    store.create_kpi(**kpi_fields())
    store.mark_told({"RF1": TODAY}, "Ann")
    with sqlite3.connect(tmp_path / "state.db") as raw:
        for statement in (f"update {table} set id = id", f"delete from {table}"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                raw.execute(statement)


# --- plans ---------------------------------------------------------------------------------------------

def test_a_plan_is_saved_whole_with_numbered_steps(store):
    assert store.plan("R1").version == 0  # never saved: an empty plan
    saved = store.save_plan(Plan(
        "R1", partner=" Ann Archer ", aims="Two corporate referrals a quarter",
        activities=("Quarterly coffee catch ups", "Quarterly coffee catch ups", "Specific client introductions"),
        stage="getting_to_know", notes="Met at the bank's seminar",
        steps=(PlanStep("Invite to roundtable", "Ann", DUE), PlanStep("Send newsletter", "Ben", DUE, done=True)),
    ), "Ann", expected_version=0)
    assert saved.version == 1 and saved.changed_by == "Ann"
    assert saved.partner == "Ann Archer"  # stripped
    assert saved.activities == ("Quarterly coffee catch ups", "Specific client introductions")  # once each
    assert [(s.step_no, s.action, s.owner, s.due_on, s.done) for s in saved.steps] == [
        (1, "Invite to roundtable", "Ann", DUE, False), (2, "Send newsletter", "Ben", DUE, True)]
    assert saved.steps[0].done_on is None and saved.steps[1].done_on == TODAY  # done when saved as done
    assert store.plan("R1") == saved


def test_each_save_is_a_version_with_what_changed(store):
    first = store.save_plan(Plan("R1", stage="connection", steps=(
        PlanStep("Call", "Ann", DUE), PlanStep("Lunch", "Ben", DUE))), "Ann", 0)
    call = first.steps[0]
    second = store.save_plan(Plan("R1", stage="agreement", partner="Ann", steps=(
        PlanStep("Call", "Ann", DUE, done=True, step_no=call.step_no),   # done now
        PlanStep("Seminar invitation", "Cy", DUE + timedelta(days=30)),  # new
    )), "Ben", expected_version=1)                                       # Lunch removed
    assert second.version == 2
    assert [s.step_no for s in second.steps] == [1, 3]  # a removed step's number is not reused
    history = store.plan_history("R1")
    assert history["version"].tolist() == [1, 2]
    assert history["changed_by"].tolist() == ["Ann", "Ben"]
    assert history["changes"].tolist() == [
        "plan started; stage Connection; 2 next step(s)",
        "stage Connection → Agreement; partner none → Ann; step 1 done; step 3 added; step 2 removed",
    ]
    assert history[["steps", "open_steps"]].values.tolist() == [[2, 2], [2, 1]]
    # the day a step was done is kept when it stays done
    third = store.save_plan(Plan("R1", stage="agreement", partner="Ann", notes="agreement signed", steps=(
        PlanStep("Call", "Ann", DUE, done=True, step_no=1), PlanStep("Seminar invitation", "Cy", DUE, step_no=3),
    )), "Ann", expected_version=2)
    assert third.steps[0].done_on == second.steps[0].done_on == TODAY
    assert store.plan_history("R1")["changes"].iloc[-1] == "notes edited; step 3 changed"


def test_saving_the_plan_as_it_is_records_nothing(store):
    plan = store.save_plan(Plan("R1", aims="grow", steps=(PlanStep("Call", "Ann", DUE),)), "Ann", 0)
    assert store.save_plan(Plan("R1", aims=" grow ", steps=(PlanStep("Call", "Ann", DUE, step_no=1),)),
                           "Ben", 1) is None
    assert store.save_plan(Plan("R9"), "Ann", 0) is None  # an empty plan for a referrer with none
    assert store.plan_version("R1") == plan.version == 1 and store.plan_version("R9") == 0


def test_a_plan_saved_from_a_stale_version_is_refused_not_overwritten(url):
    ann, ben = open_store(url), open_store(url)
    ann.save_plan(Plan("R7", stage="connection"), "Ann", expected_version=0)
    with pytest.raises(StoreConflict) as refused:
        ben.save_plan(Plan("R7", stage="agreement"), "Ben", expected_version=0)
    message = str(refused.value)
    assert message.startswith("not saved: the plan for R7 was changed by Ann at ")
    assert "UTC, reload (now version 1; you edited version 0)" in message
    assert refused.value.keys == ("R7",)
    assert ben.plan("R7").stage == "connection"  # Ann's plan stands
    assert ben.save_plan(Plan("R7", stage="agreement"), "Ben", expected_version=1).version == 2


@pytest.mark.parametrize("step, match", [
    (PlanStep("", "Ann", DUE), r"next step 1 of the plan for R1 has no action"),
    (PlanStep("Call", " ", DUE), r"next step 1 of the plan for R1 \('Call'\) has no owner"),
    (PlanStep("Call", "Ann", None), r"\('Call'\) has no due date"),
    (PlanStep("Call", "Ann", "31/12/2026"), r"must be a date \(YYYY-MM-DD\)"),
])
def test_a_next_step_needs_an_action_an_owner_and_a_due_date(store, step, match):
    with pytest.raises(ValueError, match=match):
        store.save_plan(Plan("R1", steps=(step,)), "Ann", 0)
    assert store.plan_history().empty


def test_stage_and_who_are_checked(store):
    with pytest.raises(ValueError, match="stage must be one of connection, getting_to_know"):
        store.save_plan(Plan("R1", stage="courtship"), "Ann", 0)
    with pytest.raises(ValueError, match="who is making the change is required"):
        store.save_plan(Plan("R1", stage="connection"), " ", 0)
    # the stage may be given by its label too
    assert store.save_plan(Plan("R1", stage="Understanding the whys and why-nots"), "Ann", 0).stage == \
        "whys_and_why_nots"


def test_current_plans_and_steps_as_frames(store):
    store.save_plan(Plan("R2", partner="Ben", stage="agreement", activities=("Quarterly coffee catch ups",),
                         steps=(PlanStep("Call", "Ben", DUE),)), "Ann", 0)
    store.save_plan(Plan("R1", stage="connection"), "Ann", 0)
    plans = store.plans()
    assert plans[["referrer_id", "stage", "version"]].values.tolist() == [["R1", "connection", 1],
                                                                          ["R2", "agreement", 1]]
    assert plans.set_index("referrer_id").loc["R2", "activities"] == '["Quarterly coffee catch ups"]'
    steps = store.plan_steps()
    assert steps[["referrer_id", "step_no", "action", "owner", "due_on", "done", "plan_version"]].values.tolist() == [
        ["R2", 1, "Call", "Ben", DUE, False, 1]]


# --- KPIs ------------------------------------------------------------------------------------------------

def test_kpis_get_ids_and_keep_their_baseline_and_history(store):
    first = store.create_kpi(**kpi_fields())
    second = store.create_kpi(**kpi_fields(measure="conversion_rate", scope_kind="firm", scope_value="ignored",
                                          target=0.5, baseline=0.4))
    assert (first.kpi_id, second.kpi_id) == ("K0001", "K0002")
    assert (first.version, first.status, first.baseline, first.created_by) == (1, "open", 30.0, "Ann")
    assert second.scope_value is None  # the whole firm names nothing
    changed = store.update_kpi("K0001", "Ben", expected_version=1, target=45, owner="Head of BD and MD",
                               reason="board raised it")
    assert (changed.version, changed.target, changed.owner, changed.baseline) == (2, 45.0, "Head of BD and MD", 30.0)
    assert (changed.created_by, changed.changed_by, changed.reason) == ("Ann", "Ben", "board raised it")
    assert store.update_kpi("K0001", "Ben", expected_version=2, target=45) is None  # nothing changed
    closed = store.close_kpi("K0001", 38.0, date(2026, 7, 1), "Cy", expected_version=2, reason="deadline")
    assert (closed.status, closed.final_value, closed.final_on, closed.version) == ("closed", 38.0,
                                                                                   date(2026, 7, 1), 3)
    history = store.kpi_history("K0001")
    assert history[["version", "status", "target", "changed_by"]].values.tolist() == [
        [1, "open", 40.0, "Ann"], [2, "open", 45.0, "Ben"], [3, "closed", 45.0, "Cy"]]
    assert store.kpis()["kpi_id"].tolist() == ["K0001", "K0002"]


def test_a_closed_kpi_keeps_its_final_value_and_cannot_change(store):
    store.create_kpi(**kpi_fields())
    store.close_kpi("K0001", 41.0, date(2026, 7, 1), "Ann", 1)
    with pytest.raises(ValueError, match="KPI K0001 is closed"):
        store.update_kpi("K0001", "Ben", None, target=50)
    with pytest.raises(ValueError, match="KPI K0001 is closed"):
        store.close_kpi("K0001", 12.0, date(2026, 8, 1), "Ben")
    assert store.kpi("K0001").final_value == 41.0


def test_a_kpi_changed_meanwhile_is_not_overwritten(url):
    ann, ben = open_store(url), open_store(url)
    ann.create_kpi(**kpi_fields())
    ann.update_kpi("K0001", "Ann", expected_version=1, owner="MD")
    with pytest.raises(StoreConflict, match=r"not saved: KPI K0001 was changed by Ann at .* UTC, reload "
                                            r"\(now version 2; you edited version 1\)"):
        ben.close_kpi("K0001", 30.0, date(2026, 2, 1), "Ben", expected_version=1)
    assert ben.kpi("K0001").status == "open"


@pytest.mark.parametrize("changes, match", [
    ({"deadline": date(2025, 12, 1)}, "deadline 2025-12-01 must be after its start 2026-01-01"),
    ({"scope_kind": "team", "scope_value": " "}, "a KPI scoped to a team must say which one"),
    ({"scope_kind": "galaxy"}, "scope must be one of firm, level, team, referrer_type, referrer"),
    ({"target": "forty"}, "the KPI's target must be a number"),
    ({"owner": ""}, "an owner is required"),
    ({"baseline_on": date(2026, 2, 1)}, r"baseline \(2026-02-01\) cannot be measured after the KPI starts"),
])
def test_a_kpi_record_must_be_complete(store, changes, match):
    with pytest.raises(ValueError, match=match):
        store.create_kpi(**kpi_fields(**changes))
    assert store.kpi_history().empty


def test_only_name_owner_target_and_deadline_can_change(store):
    store.create_kpi(**kpi_fields())
    with pytest.raises(ValueError, match="a KPI's baseline cannot be changed"):
        store.update_kpi("K0001", "Ann", 1, baseline=10)
    with pytest.raises(ValueError, match="there is no KPI K0404"):
        store.update_kpi("K0404", "Ann", None, owner="x")


# --- "told on" marks --------------------------------------------------------------------------------------

def test_told_on_marks_are_saved_together_and_can_be_withdrawn(store):
    assert store.mark_told({"RF1": TODAY, "RF2": "2025-11-30"}, "Ann", {"RF1": 0, "RF2": 0}) == [1, 1]
    assert store.mark_told({"RF1": TODAY}, "Ben") == []  # already says that day
    assert store.mark_told({"RF2": None}, "Ben", {"RF2": 1}, note="recorded on the wrong referral") == [2]
    current = store.loop_closed().set_index("referral_id")
    assert current.loc["RF1", "told_on"] == TODAY and current.loc["RF1", "told_by"] == "Ann"
    assert pd.isna(current.loc["RF2", "told_on"]) and current.loc["RF2", "version"] == 2
    assert store.loop_closed_history("RF2")["told_on"].tolist()[0] == date(2025, 11, 30)
    assert store.loop_version("RF2") == 2 and store.loop_version("RF9") == 0


def test_a_bulk_mark_with_one_stale_referral_saves_none(store):
    store.mark_told({"RF2": TODAY}, "Ben", {"RF2": 0})
    with pytest.raises(StoreConflict, match="the “told on” mark of referral RF2 was changed by Ben") as refused:
        store.mark_told({"RF1": TODAY, "RF2": TODAY - timedelta(days=1)}, "Ann", {"RF1": 0, "RF2": 0})
    assert refused.value.keys == ("RF2",)
    assert store.loop_closed()["referral_id"].tolist() == ["RF2"]  # RF1 not saved either


def test_a_referrer_cannot_be_told_tomorrow(store):
    with pytest.raises(ValueError, match="cannot have been told on .* a day after today"):
        store.mark_told({"RF1": TODAY + timedelta(days=1)}, "Ann")


# --- restart, queries, caches ---------------------------------------------------------------------------

def test_plans_kpis_and_marks_survive_a_restart(url):
    first = open_store(url)
    first.save_plan(Plan("R1", stage="agreement", steps=(PlanStep("Call", "Ann", DUE),)), "Ann", 0)
    first.create_kpi(**kpi_fields())
    first.close_kpi("K0001", 39.0, date(2026, 7, 1), "Ann", 1)
    first.mark_told({"RF1": TODAY}, "Ann", {"RF1": 0})
    first.close()
    reopened = open_store(url)
    plan = reopened.plan("R1")
    assert (plan.stage, plan.version, [s.action for s in plan.steps]) == ("agreement", 1, ["Call"])
    assert (reopened.kpi("K0001").status, reopened.kpi("K0001").final_value) == ("closed", 39.0)
    assert reopened.loop_closed()["told_on"].tolist() == [TODAY]
    assert reopened.create_kpi(**kpi_fields()).kpi_id == "K0002"  # numbering goes on


def test_the_new_current_views_reach_duckdb_with_fixed_types(store):
    def register(tables):
        con = duckdb.connect()
        for name, frame in tables.items():
            con.register(name, frame)
        return con

    def types(con, table):
        return dict(con.sql(f"select column_name, column_type from (describe {table})").fetchall())

    empty = register(store_module.query_tables(None))
    assert types(empty, "plan_steps_current") == {
        "referrer_id": "VARCHAR", "step_no": "BIGINT", "action": "VARCHAR", "owner": "VARCHAR", "due_on": "DATE",
        "done": "BOOLEAN", "done_on": "DATE", "plan_version": "BIGINT"}
    assert types(empty, "kpis_current")["deadline"] == "DATE" and types(empty, "kpis_current")["target"] == "DOUBLE"
    assert types(empty, "loop_closed_current")["told_on"] == "DATE"
    assert empty.sql("select stage, stage_order from plan_stages order by stage_order").fetchall() == [
        ("connection", 1), ("getting_to_know", 2), ("whys_and_why_nots", 3), ("agreement", 4), ("implementation", 5)]

    store.save_plan(Plan("R1", stage="agreement", steps=(PlanStep("Call", "Ann", DUE),)), "Ann", 0)
    store.create_kpi(**kpi_fields())
    store.mark_told({"RF1": date(2026, 1, 2)}, "Ann")
    filled = register(store_module.query_tables(store))
    assert filled.sql("select referrer_id, stage, version from plans_current").fetchall() == [("R1", "agreement", 1)]
    assert filled.sql("select step_no, due_on, done from plan_steps_current").fetchall() == [(1, DUE, False)]
    assert filled.sql("select kpi_id, baseline, created_by from kpis_current").fetchall() == [("K0001", 30.0, "Ann")]
    assert filled.sql("select referral_id, told_on from loop_closed_current").fetchall() == [("RF1", date(2026, 1, 2))]


def test_revision_changes_with_plans_kpis_and_marks(store):
    assert store.revision() == store_module.REVISION_ZERO
    store.save_plan(Plan("R1", stage="agreement"), "Ann", 0)
    after_plan = store.revision()
    store.create_kpi(**kpi_fields())
    after_kpi = store.revision()
    store.mark_told({"RF1": TODAY}, "Ann")
    assert len({store_module.REVISION_ZERO, after_plan, after_kpi, store.revision()}) == 4
