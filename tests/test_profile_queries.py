"""The referrer profile's and the plans' named queries (queries/profiles/) on hand-computed fixtures."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from dashboard import registry
from dashboard.data import open_dataset
from dashboard.store import Plan, PlanStep, open_store, query_tables
from dashboard.window import Filters, Window
from tests.conftest import WINDOW
from tests.fixtures import write_dataset


def run(dataset, name, window=WINDOW, filters=None, tables=None, **params):
    return registry.run(name, dataset, window, filters, params, extra_tables=tables)


@pytest.fixture()
def store(tmp_path):
    opened = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()


# --- referrer_quarters ------------------------------------------------------------------------------------

def test_quarterly_trend_of_one_referrer(tiny):
    frame = run(tiny, "referrer_quarters", referrer="R1")
    assert frame[["quarter", "referrals", "won", "outbound_referrals", "referred_fees", "investment_cost"]]\
        .values.tolist() == [
        # Q1: RF1 (won), RF2 (lost); fees M1 1000 (1 Feb) + M4 3000 (31 Jan, referred in 2024);
        #     activity A1: 2 h × 100 + 100 = 300
        ["2025Q1", 2, 1, 0, 4000.0, 300.0],
        ["2025Q2", 0, 0, 0, 0.0, 0.0],
        ["2025Q3", 0, 0, 0, 0.0, 0.0],
        ["2025Q4", 1, 0, 0, 0.0, 0.0],  # RF3 (open, 31 Dec); M1's 500 is billed in 2026
    ]
    # the quarters add up to the referrer's scorecard row
    card = run(tiny, "scorecard").set_index("referrer_id").loc["R1"]
    assert (frame["referrals"].sum(), frame["referred_fees"].sum(), frame["investment_cost"].sum()) == (
        card["referrals"], card["referred_fees"], card["investment_cost"])
    beta = run(tiny, "referrer_quarters", referrer="R2")
    assert beta["outbound_referrals"].tolist() == [1, 0, 1, 0]  # RF10 (Feb), RF11 (Aug)


# --- referral_pattern ----------------------------------------------------------------------------------

def _referral(rid, referrer, on, value):
    return {"referral_id": rid, "referred_on": on, "direction": "inbound", "referrer_id": referrer,
            "fee_earner_id": "FE1", "to_team": "corporate", "client_id": f"C-{rid}", "work_type": "tax",
            "status": "open", "estimated_value": value}


PATTERNS = {
    "fee_earners": [{"fee_earner_id": "FE1", "full_name": "Ann", "team": "corporate", "office": "London",
                     "grade": "partner", "cost_rate": 100.0}],
    "referrers": [{"referrer_id": r, "name": f"Referrer {r}", "referrer_type": "bank"} for r in ("RA", "RB", "RC",
                                                                                                "RD")],
    "referrals": [
        # RA: 500 each, monthly → small and regular
        _referral("A1", "RA", "2025-01-01", 500.0), _referral("A2", "RA", "2025-02-01", 500.0),
        _referral("A3", "RA", "2025-03-01", 500.0), _referral("A4", "RA", "2025-04-01", 500.0),
        # RB: two large ones half a year apart → large and occasional
        _referral("B1", "RB", "2025-01-15", 50000.0), _referral("B2", "RB", "2025-07-15", 50000.0),
        # RC: one referral; RD: no values, a fortnight apart
        _referral("C1", "RC", "2025-05-05", 800.0),
        _referral("D1", "RD", "2025-06-01", None), _referral("D2", "RD", "2025-06-15", None),
    ],
}


@pytest.fixture(scope="module")
def patterns(tmp_path_factory):
    dataset = open_dataset(write_dataset(tmp_path_factory.mktemp("patterns"), PATTERNS))
    yield dataset
    dataset.connection.close()


def test_referral_patterns(patterns):
    # the firm's median estimated value: 500, 500, 500, 500, 800, 50000, 50000 (nulls left out) → 500
    ra = run(patterns, "referral_pattern", referrer="RA").iloc[0]
    assert (ra["referrals"], ra["median_value"], ra["largest_value"], ra["firm_median_value"]) == (4, 500, 500, 500)
    # gaps 31 (Jan), 28 (Feb), 31 (Mar) days → median 31, at most 91: regular; 500 is not above 500: small
    assert (ra["median_gap_days"], ra["longest_gap_days"], ra["mean_gap_days"]) == (31, 31, 30)
    assert ra["pattern"] == "small and regular"
    assert ra["days_since_last_referral"] == 274  # 1 Apr → 31 Dec 2025
    rb = run(patterns, "referral_pattern", referrer="RB").iloc[0]
    # 15 Jan → 15 Jul: 181 days
    assert (rb["median_value"], rb["median_gap_days"], rb["pattern"]) == (50000, 181, "large and occasional")
    assert run(patterns, "referral_pattern", referrer="RC").iloc[0]["pattern"] == "too few referrals to tell"
    rd = run(patterns, "referral_pattern", referrer="RD").iloc[0]
    assert (rd["valued_referrals"], rd["pattern"]) == (0, "regular")  # no value: rhythm only
    nobody = run(patterns, "referral_pattern", referrer="NOBODY").iloc[0]
    assert nobody["referrals"] == 0 and pd.isna(nobody["median_gap_days"])


# --- referrer_referrals and referrer_activities ----------------------------------------------------------

def test_referrals_of_one_referrer_both_ways_with_gaps_and_told_on(tiny, store):
    store.mark_told({"RF5": date(2025, 5, 12)}, "Ann")
    frame = run(tiny, "referrer_referrals", tables=query_tables(store), referrer="R2")
    rows = [[None if pd.isna(v) else v for v in r] for r in
            frame[["referral_id", "direction", "status", "days_since_previous", "told_on"]].values.tolist()]
    assert rows == [
        ["RF14", "inbound", "won", 158, None],      # 6 Jun → 11 Nov
        ["RF11", "outbound", "open", None, None],
        ["RF6", "inbound", "declined", 32, None],   # 5 May → 6 Jun
        ["RF5", "inbound", "won", None, date(2025, 5, 12)],  # the first in the window
        ["RF10", "outbound", "won", None, None],
    ]
    assert frame.set_index("referral_id").loc["RF5", "fee_earner"] == "Ben Baker"


def test_activity_timeline_with_menu_levels(tiny):
    frame = run(tiny, "referrer_activities", referrer="R4")
    # A2 (3 Mar 2025) only: A3 is 2024; seminar is on Level 2's menu (levels.toml); 3 h × 50 + 50 = 200
    assert frame[["activity_id", "activity_type", "menu_level", "fee_earner", "hours", "cost"]].values.tolist() == [
        ["A2", "seminar", 2, "Ben Baker", 3.0, 200.0]]
    assert run(tiny, "referrer_activities", filters=Filters(team=("corporate",)), referrer="R4").empty


# --- plans and pipeline ------------------------------------------------------------------------------------

TODAY = date.today()


def _plans(store):
    store.save_plan(Plan("R2", partner="Ben Baker", stage="agreement", steps=(
        PlanStep("Send case studies", "Ben", TODAY + timedelta(days=10)),
        PlanStep("Agree referral process", "Ann", TODAY - timedelta(days=3)),
        PlanStep("Quarterly catch-up", "Ben", TODAY - timedelta(days=20), done=True),
    )), "Pat", 0)
    store.save_plan(Plan("R5", stage="connection", steps=(
        PlanStep("First coffee", "Cy", TODAY - timedelta(days=8)),)), "Pat", 0)
    store.save_plan(Plan("R1", aims="keep it"), "Pat", 0)  # a plan, not in the pipeline


def test_plans_lists_open_steps_overdue_first(tiny, store):
    _plans(store)
    frame = run(tiny, "plans", tables=query_tables(store))
    assert frame[["referrer", "action", "owner", "overdue", "days_overdue", "stage"]].values.tolist() == [
        ["Echo Insurers", "First coffee", "Cy", True, 8, "Connection"],           # due 8 days ago
        ["Beta Bank", "Agree referral process", "Ann", True, 3, "Agreement"],      # due 3 days ago
        ["Beta Bank", "Send case studies", "Ben", False, 0, "Agreement"],          # due in 10 days
    ]  # the done step is not listed
    assert frame["partner"].tolist()[1:] == ["Ben Baker", "Ben Baker"]
    # referrer filters apply: Echo Insurers is an insurer
    assert run(tiny, "plans", filters=Filters(referrer_type=("bank",)), tables=query_tables(store))[
        "referrer"].unique().tolist() == ["Beta Bank"]
    assert run(tiny, "plans").empty  # without the store's tables: nothing planned


def test_pipeline_by_stage_with_levels_and_steps(tiny, store):
    _plans(store)
    store.save("R5", 2, "Ann", "new relationship", 0)
    frame = run(tiny, "pipeline", tables=query_tables(store))
    assert frame[["referrer_id", "stage_order", "stage_label", "level", "level_source", "referrals", "referred_fees",
                  "open_steps", "overdue_steps"]].values.tolist() == [
        # R5: no referral in 2025, assigned Level 2; one open step, overdue
        ["R5", 1, "Connection", 2, "assigned", 0, 0.0, 1, 1],
        # R2: suggested Level 3 (4000 of 6000 fees above it); 3 referrals and 2000 fees in 2025
        ["R2", 4, "Agreement", 3, "suggested", 3, 2000.0, 2, 1],
    ]
    assert frame.set_index("referrer_id").loc["R2", "next_due_on"] == TODAY - timedelta(days=3)
    assert run(tiny, "pipeline", window=Window(date(2025, 1, 1), date(2025, 12, 31))).empty  # no store, no stage
