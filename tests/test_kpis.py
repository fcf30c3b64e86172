"""SMART KPIs: the arithmetic (progress, straight-line path, forecast, red/amber/green), the SMART checks,
the measures of kpi_measures and the kpis / loop queries, on hand-computed cases."""

from __future__ import annotations

import copy
from datetime import date, timedelta

import pandas as pd
import pytest

from dashboard import kpis, registry
from dashboard.data import open_dataset
from dashboard.store import Plan, PlanStep, open_store, query_tables
from dashboard.window import Filters, Window
from tests.conftest import TINY, WINDOW
from tests.fixtures import write_dataset

D0 = date(2026, 1, 1)


def day(offset: int) -> date:
    return D0 + timedelta(days=offset)


# --- the straight line, progress, direction -----------------------------------------------------------

def test_straight_line_path_and_time_gone():
    # baseline 20 on 1 Jan 2026, target 40 on 20 Jul 2026 (200 days later); 20 Feb is day 50: a quarter gone
    assert day(200) == date(2026, 7, 20) and day(50) == date(2026, 2, 20)
    assert kpis.elapsed(D0, day(200), day(50)) == 0.25
    assert kpis.path_value(20, 40, D0, day(200), day(50)) == 25.0       # 20 + 20 × 0.25
    assert kpis.path_value(20, 40, D0, day(200), day(-10)) == 20.0      # before the baseline: the baseline
    assert kpis.path_value(20, 40, D0, day(200), day(365)) == 40.0      # after the deadline: the target
    assert kpis.path_value(0.6, 0.4, D0, day(200), day(100)) == pytest.approx(0.5)  # a falling target


def test_progress_is_the_share_of_the_way_from_baseline_to_target():
    assert kpis.progress(20, 40, 30) == 0.5
    assert kpis.progress(20, 40, 18) == pytest.approx(-0.1)  # (18 − 20) / 20: going the wrong way
    assert kpis.progress(20, 40, 44) == 1.2
    assert kpis.progress(0.6, 0.4, 0.5) == pytest.approx(0.5)  # top-3 share from 60% towards 40%
    assert str(kpis.progress(0.6, 0.4, 0.6)) == "0.0"  # not −0.0, which would read "−0%"
    assert kpis.progress(5, 5, 6) == 1.0 and kpis.progress(5, 5, 4) == 0.0  # hold at least 5
    assert kpis.progress(20, 40, None) is None
    assert (kpis.direction(20, 40), kpis.direction(0.6, 0.4), kpis.direction(5, 5)) == (1, -1, 1)


# --- forecast ------------------------------------------------------------------------------------------

def test_forecast_is_a_least_squares_line_read_at_the_deadline():
    # exactly linear: +2 every 100 days → 20 at day 500
    assert kpis.linear_forecast([(day(0), 10), (day(100), 12), (day(200), 14), (day(300), 16)], day(500)) == \
        pytest.approx(20.0)
    # 10, 14, 12, 16 at 0, 100, 200, 300: x̄ 150, ȳ 13; Σdxdy = 450 − 50 − 50 + 450 = 800;
    # Σdx² = 50,000 → slope 0.016 a day; at day 500: 13 + 0.016 × 350 = 18.6
    assert kpis.linear_forecast([(day(0), 10), (day(100), 14), (day(200), 12), (day(300), 16)], day(500)) == \
        pytest.approx(18.6)
    # a missing value is left out; one value is no line
    assert kpis.linear_forecast([(day(0), None), (day(100), 4), (day(200), 6)], day(300)) == pytest.approx(8.0)
    assert kpis.linear_forecast([(day(0), None), (day(100), 4)], day(300)) is None


def test_forecast_keeps_counts_above_zero_and_shares_within_0_and_1():
    falling = [(day(0), 30), (day(100), 20), (day(200), 10)]  # −10 per 100 days → −20 at day 500
    assert kpis.linear_forecast(falling, day(500), "money") == pytest.approx(-20.0)
    assert kpis.linear_forecast(falling, day(500), "count") == 0.0
    rising = [(day(0), 0.7), (day(100), 0.8), (day(200), 0.9)]  # → 1.2 at day 500
    assert kpis.linear_forecast(rising, day(500), "share") == 1.0


# --- red / amber / green -------------------------------------------------------------------------------

@pytest.mark.parametrize("current, forecast, colour, words", [
    # baseline 20, target 40, 25 expected by now; tolerance 10% × |40 − 20| = 2
    (26, None, "green", "on or ahead of the straight line (26 against 25 expected by now)"),
    (25, None, "green", "on or ahead"),
    (24, 30, "amber", "behind the straight line by 1 (24 against 25 expected by now), within 10%"),
    (23, 30, "amber", "behind the straight line by 2"),                # exactly the tolerance
    (21, 41, "amber", "but the forecast 41 reaches the target 40"),   # behind 4, forecast makes it
    (21, 35, "red", "more than 10% of the distance (2), and the forecast 35 misses the target 40"),
    (21, None, "red", "and there is no forecast"),
])
def test_rag_for_a_rising_target(current, forecast, colour, words):
    result, reason = kpis.rag(20, 40, current, 25, forecast, "count")
    assert result == colour and words in reason


@pytest.mark.parametrize("current, forecast, colour", [
    # top-3 share from 60% down to 40%, 55% expected by now; tolerance 10% × 20 points = 2 points
    (0.54, None, "green"),   # below the line is ahead for a falling target
    (0.56, 0.45, "amber"),   # 1 point behind
    (0.60, 0.38, "amber"),   # 5 points behind, forecast below 40%
    (0.60, 0.45, "red"),     # 5 points behind, forecast 45% misses
])
def test_rag_for_a_falling_target(current, forecast, colour):
    assert kpis.rag(0.6, 0.4, current, 0.55, forecast, "share")[0] == colour


def test_rag_of_closed_and_unmeasured_kpis():
    assert kpis.rag(20, 40, 41, 40, 41, "count", closed=True) == (
        "green", "closed: the final value 41 met the target 40")
    assert kpis.rag(20, 40, 39, 40, 39, "count", closed=True)[0] == "red"
    assert kpis.rag(0.6, 0.4, 0.39, 0.4, 0.39, "share", closed=True)[0] == "green"
    assert kpis.rag(20, 40, None, 25, None)[0] is None


# --- SMART --------------------------------------------------------------------------------------------

TODAY = date(2026, 11, 23)
SMART = {"measure": "inbound_referrals", "scope_kind": "level", "scope_value": "4", "target": 40,
         "deadline": date(2027, 5, 31), "owner": "Head of BD", "on": TODAY}


def test_a_smart_kpi_passes():
    assert kpis.check(**SMART) == []


@pytest.mark.parametrize("changes, problem", [
    ({"measure": None}, "Specific: choose a measure from the list."),
    ({"measure": "happiness"}, "Specific: there is no measure 'happiness'; choose one from the list."),
    ({"scope_kind": None}, ("Specific: choose a scope: the whole firm, a level, a team, a referrer type or one "
                            "referrer.")),
    ({"scope_value": ""}, "Specific: choose which level the KPI is about."),
    ({"scope_value": "7"}, "Specific: the level must be 1, 2, 3 or 4, got '7'."),
    ({"measure": "overdue_plan_actions", "scope_kind": "team", "scope_value": "corporate"},
     ("Specific: overdue plan actions cannot be measured for a team (plans belong to referrers); choose "
      "another scope.")),
    ({"target": None}, "Measurable: give a target value."),
    ({"target": "lots"}, "Measurable: the target must be a number, got 'lots'."),
    ({"target": 40.5}, ("Measurable: the target for inbound referrals must be a whole number of at least 0, "
                        "got 40.5.")),
    ({"measure": "conversion_rate", "target": 1.4},
     "Measurable: the target for conversion rate is a percentage between 0% and 100%, got 140%."),
    ({"deadline": None}, "Time-bound: give a deadline."),
    ({"deadline": date(2026, 11, 1)}, ("Time-bound: the deadline 01 Nov 2026 is in the past; pick a date after "
                                       "today (23 Nov 2026).")),
    ({"deadline": TODAY}, "Time-bound: the deadline 23 Nov 2026 is today; pick a later date."),
    ({"owner": "  "}, "Owner: name the person accountable for the KPI (e.g. Head of BD)."),
])
def test_what_is_not_smart_is_refused_with_a_clear_message(changes, problem):
    assert kpis.check(**{**SMART, **changes}) == [problem]


def test_every_problem_is_listed_at_once():
    problems = kpis.check(None, "firm", None, None, None, "", TODAY)
    assert [p.split(":")[0] for p in problems] == ["Specific", "Measurable", "Time-bound", "Owner"]


def test_shares_are_typed_as_percentages():
    assert kpis.target_from_input(35, "share") == 0.35
    assert kpis.target_from_input(40, "count") == 40.0 and kpis.target_from_input(None, "money") is None
    assert kpis.format_value(0.35, "share") == "35.0%"
    assert kpis.format_value(12500, "money") == "GBP 12,500"
    assert (kpis.format_value(40.0, "count"), kpis.format_value(0.6, "count")) == ("40", "0.6")


# --- kpi_measures on the tiny portfolio (tests/conftest.py), window 2025 ----------------------------------

def measures(dataset, scope="firm", value="", window=WINDOW, tables=None, **params):
    return registry.run("kpi_measures", dataset, window, params={"scope": scope, "scope_value": value, **params},
                        extra_tables=tables).iloc[0]


def test_firm_measures_match_the_headline_and_concentration(tiny):
    row = measures(tiny)
    # inbound in 2025: RF1, RF2, RF3, RF5, RF6, RF7, RF14; won RF1, RF5, RF7, RF14 of 6 decided (RF3 open)
    assert row["inbound_referrals"] == 7 and row["conversion_rate"] == pytest.approx(4 / 6)
    # fees billed in 2025: R1 1000 (M1) + 3000 (M4, referred 2024) = 4000; R2 2000; R3 100 − 150 = −50
    assert row["referred_fees"] == 5950 and row["referrers_with_fees"] == 2
    assert row["top3_share"] == 1.0  # (4000 + 2000) / 6000
    assert row["outbound_referrals"] == 2  # RF10, RF11 (RF12 is 2024)
    # suggested levels for 2025: R1 Level 4 (nothing above it), R2 Level 3 (4000/6000 above it) →
    # Level 3-4 referrals: R1's 3 + R2's 3
    assert row["inbound_referrals_l34"] == 6
    # decided in 2025 by closed_on: RF1, RF2, RF4 (closed 2 Jan), RF5, RF6, RF7, RF14; nobody told yet
    assert (row["decided_referrals"], row["told_referrals"], row["loop_closed_share"]) == (7, 0, 0.0)
    assert row["overdue_plan_actions"] == 0  # no plan in an empty store
    headline = registry.run("headline", tiny, WINDOW).iloc[0]
    concentration = registry.run("concentration", tiny, WINDOW).iloc[0]
    assert row["inbound_referrals"] == headline["inbound_referrals"]
    assert row["conversion_rate"] == pytest.approx(headline["conversion_rate"])
    assert row["referred_fees"] == pytest.approx(headline["referred_fees"])
    assert row["referrers_with_fees"] == concentration["referrers_with_fees"]
    assert row["top3_share"] == pytest.approx(concentration["top3_share"])


def test_a_team_scope_is_the_team_filter(tiny):
    row = measures(tiny, "team", "corporate")
    # to corporate in 2025: RF1 (won), RF3 (open), RF7 (won) → conversion 2/2; outbound from corporate RF10, RF11
    assert (row["inbound_referrals"], row["conversion_rate"], row["outbound_referrals"]) == (3, 1.0, 2)
    # corporate matters' fees: M1 1000 + M4 3000 (R1), M7 −50 (R3)
    assert row["referred_fees"] == 3950 and row["referrers_with_fees"] == 1
    assert pd.isna(row["overdue_plan_actions"])  # plans belong to referrers, not teams
    filtered = registry.run("headline", tiny, WINDOW, Filters(team=("corporate",))).iloc[0]
    assert row["inbound_referrals"] == filtered["inbound_referrals"]
    assert row["referred_fees"] == pytest.approx(filtered["referred_fees"])
    # a team scope inside a different team filter keeps nothing
    assert registry.run("kpi_measures", tiny, WINDOW, Filters(team=("property",)),
                        {"scope": "team", "scope_value": "corporate"}).iloc[0]["inbound_referrals"] == 0


def test_referrer_and_referrer_type_scopes(tiny):
    for scope, value in (("referrer", "R2"), ("referrer_type", "bank")):  # Beta Bank is the only bank
        row = measures(tiny, scope, value)
        # R2 in 2025: RF5 won, RF6 declined, RF14 won; fees M5 2000 (M14's 400 is billed in 2026)
        assert (row["inbound_referrals"], row["conversion_rate"], row["referred_fees"]) == (3, pytest.approx(2 / 3),
                                                                                            2000)
        assert (row["outbound_referrals"], row["decided_referrals"]) == (2, 3)
    assert measures(tiny, "referrer", "R2")["scope_name"] == "Beta Bank"


def test_a_level_scope_uses_the_boards_level_else_the_suggested_one(tiny, tmp_path):
    assert measures(tiny, "level", "4")["inbound_referrals"] == 3  # R1, suggested Level 4: RF1, RF2, RF3
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store.save("R2", 4, "Ann", "strategic bank", 0)   # R2 assigned Level 4
    both = measures(tiny, "level", "4", tables=query_tables(store))
    assert both["inbound_referrals"] == 6 and both["referred_fees"] == 6000  # R1 4000 + R2 2000
    store.save("R1", 2, "Ann", "demoted", 0)            # R1 assigned Level 2: only R2 left at Level 4
    only = measures(tiny, "level", "4", tables=query_tables(store))
    assert only["inbound_referrals"] == 3 and only["top3_share"] == 1.0
    assert measures(tiny, "level", "2", tables=query_tables(store))["inbound_referrals_l34"] == 0
    # nobody at Level 4 in an empty window: no conversion rate, 0 referrals
    empty = measures(tiny, "level", "4", window=Window(date(2023, 1, 1), date(2023, 3, 31)))
    assert empty["inbound_referrals"] == 0 and pd.isna(empty["conversion_rate"])


def test_overdue_plan_actions_as_at_the_windows_end(tiny, tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store.save_plan(Plan("R1", steps=(
        PlanStep("A: call", "Ann", date(2025, 6, 1)),                                       # never done
        PlanStep("B: lunch", "Ann", date(2025, 6, 1), done=True, done_on=date(2025, 7, 1)),  # done late
        PlanStep("C: seminar", "Ann", date(2026, 3, 1)),                                     # not due yet
    )), "Ann", 0)
    store.save_plan(Plan("R2", steps=(PlanStep("D: coffee", "Ben", date(2025, 5, 1)),)), "Ann", 0)
    tables = query_tables(store)
    # at 31 Dec 2025: A and D (B was done on 1 Jul, C is due in 2026)
    assert measures(tiny, tables=tables)["overdue_plan_actions"] == 2
    # at 30 Jun 2025: A, B (not done until 1 Jul) and D
    assert measures(tiny, window=Window(date(2025, 1, 1), date(2025, 6, 30)), tables=tables)[
        "overdue_plan_actions"] == 3
    assert measures(tiny, "referrer", "R2", tables=tables)["overdue_plan_actions"] == 1
    assert measures(tiny, "level", "4", tables=tables)["overdue_plan_actions"] == 1  # R1 (Level 4): A
    assert measures(tiny, "referrer_type", "bank", tables=tables)["overdue_plan_actions"] == 1


# A mix of work types and a target mix that changes on 1 Jul 2025, for the drift measures.
MIXED = copy.deepcopy(TINY)
for referral in MIXED["referrals"]:
    referral["work_type"] = {"RF2": "conveyancing", "RF6": "employment", "RF14": "employment"}.get(
        referral["referral_id"], referral["work_type"])
MIXED["work_type_targets"] = [
    {"work_type": "corporate finance", "target_share": 0.8, "effective_from": "2020-01-01"},
    {"work_type": "conveyancing", "target_share": 0.2, "effective_from": "2020-01-01"},
    {"work_type": "corporate finance", "target_share": 0.5, "effective_from": "2025-07-01"},
    {"work_type": "employment", "target_share": 0.5, "effective_from": "2025-07-01"},
]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    dataset = open_dataset(write_dataset(tmp_path_factory.mktemp("mixed"), MIXED))
    yield dataset
    dataset.connection.close()


def test_drift_index_and_share_of_target_work(mixed):
    row = measures(mixed)
    # 7 inbound in 2025: corporate finance RF1, RF3, RF5, RF7; conveyancing RF2; employment RF6, RF14.
    # Targets on their dates: RF1, RF2, RF5, RF6 before 1 Jul (cf 0.8, conv 0.2); RF3, RF7, RF14 after
    # (cf 0.5, emp 0.5). Expected mix: cf (4 × 0.8 + 3 × 0.5) / 7 = 4.7/7, conv 0.8/7, emp 1.5/7.
    # Drift = ½ (|4 − 4.7| + |1 − 0.8| + |2 − 1.5|) / 7 = ½ × 1.4 / 7 = 0.1
    assert row["drift_index"] == pytest.approx(0.1)
    # target work (own work type's target ≥ 5% on its date): all but RF6 (employment had no target yet) → 6/7
    assert row["target_work_share"] == pytest.approx(6 / 7)
    assert measures(mixed, threshold=0.6)["target_work_share"] == pytest.approx(2 / 7)  # RF1, RF5 (0.8)


def test_drift_index_of_one_quarter_is_the_drift_query(mixed):
    # Q3 2025: RF7 only (corporate finance), target on 1 Jul 50/50 → ½ (0.5 + 0.5) = 0.5
    quarter = Window(date(2025, 7, 1), date(2025, 9, 30))
    assert measures(mixed, window=quarter)["drift_index"] == pytest.approx(0.5)
    assert registry.run("drift", mixed, quarter)["drift_tvd"].tolist() == [pytest.approx(0.5)]
    # no referral in the window: no drift
    assert pd.isna(measures(mixed, window=Window(date(2023, 1, 1), date(2023, 3, 31)))["drift_index"])


# --- closing the loop ---------------------------------------------------------------------------------------

def test_loop_to_close_lists_decided_referrals_whose_referrer_was_not_told(tiny, tmp_path):
    # the 90 days to 31 Dec 2025 are 3 Oct – 31 Dec: only RF14 (won, closed 20 Nov, 41 days before the end)
    listed = registry.run("loop_to_close", tiny, WINDOW)
    assert listed[["referral_id", "referrer", "status", "decided_on", "days_waiting", "mark_version"]].values.tolist() \
        == [["RF14", "Beta Bank", "won", date(2025, 11, 20), 41, 0]]
    # a year: every referral decided in 2025, longest waiting first (RF4 closed on 2 Jan)
    year = registry.run("loop_to_close", tiny, WINDOW, params={"days": 365})
    assert year["referral_id"].tolist() == ["RF4", "RF1", "RF2", "RF5", "RF6", "RF7", "RF14"]
    assert year["waiting"].tolist() == [7] * 7
    # limit: the 3 waiting longest, each row still saying 7 wait in all
    first = registry.run("loop_to_close", tiny, WINDOW, params={"days": 365, "limit": 3})
    assert first["referral_id"].tolist() == ["RF4", "RF1", "RF2"] and first["waiting"].tolist() == [7] * 3
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store.mark_told({"RF1": date(2025, 1, 12), "RF5": date(2025, 5, 11)}, "Ann")
    told = registry.run("loop_to_close", tiny, WINDOW, params={"days": 365}, extra_tables=query_tables(store))
    assert told["referral_id"].tolist() == ["RF4", "RF2", "RF6", "RF7", "RF14"]
    share = registry.run("loop_closed", tiny, WINDOW, extra_tables=query_tables(store)).iloc[0]
    assert (share["decided_referrals"], share["told_referrals"], share["not_told_referrals"]) == (7, 2, 5)
    assert share["loop_closed_share"] == pytest.approx(2 / 7)
    assert measures(tiny, tables=query_tables(store))["loop_closed_share"] == pytest.approx(2 / 7)
    # a withdrawn mark is not told; the list carries its version for the conflict check
    store.mark_told({"RF1": None}, "Ann", {"RF1": 1})
    again = registry.run("loop_to_close", tiny, WINDOW, params={"days": 365}, extra_tables=query_tables(store))
    assert again.set_index("referral_id").loc["RF1", "mark_version"] == 2


# --- the kpis and kpi_trend queries ----------------------------------------------------------------------------

@pytest.fixture()
def kpi_store(tiny, tmp_path, monkeypatch):
    """One KPI created on 1 Jul 2025: inbound referrals, whole firm, 8 by 31 Dec 2025 (183 days)."""
    monkeypatch.setattr(kpis, "today", lambda: date(2025, 7, 1))
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    made = kpis.create_kpi(tiny, store, measure="inbound_referrals", scope_kind="firm", scope_value=None,
                           target=8, deadline=date(2025, 12, 31), owner="Head of BD", by="Ann",
                           name="Eight referrals in the second half")
    # the data reaches 31 Jan 2026, so the baseline is measured on 1 Jul 2025 over the 183 days to it,
    # [31 Dec 2024, 1 Jul 2025]: RF4, RF1, RF2, RF5, RF6 → 5
    assert (made.kpi_id, made.baseline, made.baseline_on, made.start_on) == ("K0001", 5.0, date(2025, 7, 1),
                                                                            date(2025, 7, 1))
    return store


def test_kpis_query_at_the_deadline(tiny, kpi_store):
    row = registry.run("kpis", tiny, WINDOW, extra_tables=query_tables(kpi_store)).iloc[0]
    assert list(registry.run("kpis", tiny, WINDOW, extra_tables=query_tables(kpi_store)).columns[:12]) == [
        "kpi_id", "measure", "scope", "baseline", "current", "target", "deadline", "owner", "progress", "forecast",
        "status", "rag"]
    # as at 31 Dec 2025 (the window's end, the deadline): [1 Jul, 31 Dec] holds RF7, RF14, RF3 → 3
    assert (row["measure"], row["scope"], row["baseline"], row["current"], row["target"]) == (
        "Inbound referrals", "Whole firm", 5.0, 3.0, 8.0)
    assert row["progress"] == pytest.approx(-2 / 3)           # (3 − 5) / (8 − 5)
    assert (row["expected"], row["time_elapsed"]) == (8.0, 1.0)  # the whole way: the target
    assert row["forecast"] == 3.0                               # at the deadline: the current value
    assert (row["status"], row["rag"]) == ("open", "red")
    assert "misses the target 8" in row["rag_reason"]


def test_kpis_query_mid_way_with_its_forecast(tiny, kpi_store):
    window = Window(date(2025, 1, 1), date(2025, 9, 30))
    row = registry.run("kpis", tiny, window, extra_tables=query_tables(kpi_store)).iloc[0]
    # 91 of 183 days gone: expected 5 + 3 × 91/183
    assert row["expected"] == pytest.approx(5 + 3 * 91 / 183)
    # current: [1 Apr, 30 Sep 2025] holds RF5, RF6, RF7 → 3
    assert row["current"] == 3.0
    # the last four quarters, each over 183 days: 30 Dec 2024 → 0 (RF4 is 31 Dec); 30 Mar 2025 → RF4, RF1,
    # RF2 = 3; 30 Jun → RF4, RF1, RF2, RF5, RF6 = 5; 30 Sep → 3. Days from 30 Dec 2024: 0, 90, 182, 274;
    # x̄ 136.5, ȳ 2.75, Σdxdy 500.5, Σdx² 41,771; the deadline is day 366 →
    # 2.75 + 500.5 / 41,771 × (366 − 136.5)
    assert row["forecast"] == pytest.approx(2.75 + 500.5 / 41771 * 229.5)
    assert row["rag"] == "red"  # 3.49 behind (tolerance 0.3) and the forecast 5.5 misses 8
    trend = registry.run("kpi_trend", tiny, window, params={"kpi": "K0001"}, extra_tables=query_tables(kpi_store))
    measured = trend[trend["series"] == "measured"]
    assert measured[["on", "value"]].values.tolist() == [
        [date(2024, 12, 30), 0.0], [date(2025, 3, 30), 3.0], [date(2025, 6, 30), 5.0], [date(2025, 9, 30), 3.0]]
    assert trend[trend["series"] == "straight-line path"][["on", "value"]].values.tolist() == [
        [date(2025, 7, 1), 5.0], [date(2025, 12, 31), 8.0]]
    assert trend[trend["series"] == "forecast"]["on"].tolist() == [date(2025, 9, 30), date(2025, 12, 31)]


def test_a_kpi_on_track_is_green(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(kpis, "today", lambda: date(2025, 7, 1))
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    # referred fees of R2 from its 1 Jul baseline ([31 Dec 2024, 1 Jul 2025]: M5 2000) down to 1500: at
    # 31 Dec 2025 its 183 days hold nothing from M5 (billed 30 Jun) → 0, ahead of the line (1500)
    kpis.create_kpi(tiny, store, measure="referred_fees", scope_kind="referrer", scope_value="R2", target=1500,
                    deadline=date(2025, 12, 31), owner="Ben", by="Ann")
    row = registry.run("kpis", tiny, WINDOW, extra_tables=query_tables(store)).iloc[0]
    assert (row["baseline"], row["current"], row["direction"], row["rag"]) == (2000.0, 0.0, "at most", "green")
    assert row["scope"] == "Referrer: Beta Bank (R2)"
    assert row["progress"] == pytest.approx(4.0)  # (0 − 2000) / (1500 − 2000)


def test_a_closed_kpi_keeps_its_final_value_whatever_the_window(tiny, kpi_store):
    kpi_store.close_kpi("K0001", 9.0, date(2025, 12, 31), "Ann", expected_version=1)
    for window in (WINDOW, Window(date(2025, 1, 1), date(2025, 9, 30))):
        row = registry.run("kpis", tiny, window, extra_tables=query_tables(kpi_store)).iloc[0]
        assert (row["status"], row["current"], row["forecast"], row["rag"]) == ("closed", 9.0, 9.0, "green")
        assert row["progress"] == pytest.approx(4 / 3)  # (9 − 5) / (8 − 5)


def test_creating_a_kpi_refuses_what_cannot_be_measured(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(kpis, "today", lambda: date(2025, 7, 1))
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    with pytest.raises(kpis.KpiError) as refused:
        # Delta Architects (R4) decided nothing in the half year to 1 Jul 2025: no conversion rate
        kpis.create_kpi(tiny, store, measure="conversion_rate", scope_kind="referrer", scope_value="R4",
                        target=0.5, deadline=date(2025, 12, 31), owner="Ann", by="Ann")
    assert refused.value.problems[0].startswith("Measurable: conversion rate has no value for referrer: r4")
    with pytest.raises(kpis.KpiError, match="Time-bound: the deadline 01 Jan 2025 is in the past"):
        kpis.create_kpi(tiny, store, measure="inbound_referrals", scope_kind="firm", scope_value=None,
                        target=8, deadline=date(2025, 1, 1), owner="Ann", by="Ann")
    assert store.kpis().empty


def test_overdue_plan_actions_are_measured_as_at_today(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(kpis, "today", lambda: date(2026, 3, 1))
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    store.save_plan(Plan("R1", steps=(PlanStep("Call", "Ann", date(2026, 2, 1)),
                                      PlanStep("Lunch", "Ann", date(2026, 4, 1)))), "Ann", 0)
    made = kpis.create_kpi(tiny, store, measure="overdue_plan_actions", scope_kind="firm", scope_value=None,
                           target=0, deadline=date(2026, 6, 30), owner="Head of BD", by="Ann")
    # today's clock, not the data's (which ends 31 Jan 2026): "Call" was due on 1 Feb
    assert (made.baseline, made.baseline_on) == (1.0, date(2026, 3, 1))
    row = registry.run("kpis", tiny, WINDOW, extra_tables=query_tables(store)).iloc[0]
    assert (row["as_of"], row["current"], row["direction"]) == (date(2026, 3, 1), 1.0, "at most")


# --- the board pack's KPI and plan sections ------------------------------------------------------------

def test_the_board_pack_shows_kpis_and_overdue_plan_actions(tiny, tiny_dir, kpi_store):
    from dashboard.pack import sections

    kpi_store.save_plan(Plan("R2", partner="Ben Baker", steps=(
        PlanStep("Agree reporting", "Ben", date.today() - timedelta(days=6)),
        PlanStep("Coffee", "Ann", date.today() + timedelta(days=6)))), "Pat", 0)
    pack = sections.build_pack(sections.runner_for(tiny, Filters(), query_tables(kpi_store)), tiny_dir, WINDOW,
                               available=["kpis", "plans"])
    kpi_section, plan_section = pack.sections
    assert kpi_section.reading == "1 KPI is tracked: 0 green (on track), 0 amber and 1 red. Off track: Eight " \
                                  "referrals in the second half."
    table = kpi_section.tables[0]
    assert table.columns[:6] == ("KPI", "Scope", "Owner", "Baseline", "Current", "Target")
    assert table.rows == (("Eight referrals in the second half", "Whole firm", "Head of BD", "5", "3", "8",
                           "31 Dec 2025", "-67%", "3", "RED"),)
    assert plan_section.figures[0].value == "1" and plan_section.figures[0].note == "of 2 open"
    assert plan_section.tables[0].rows == (("Beta Bank (R2)", "Agree reporting", "Ben",
                                            f"{date.today() - timedelta(days=6):%d %b %Y}", "6", "Ben Baker"),)
