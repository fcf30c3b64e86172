"""Internal flows and reciprocity (metrics.md "Internal flows and reciprocity"):
internal_flows, team_balance, reciprocity. Expected numbers are worked out in comments."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dashboard import registry
from dashboard.data import open_dataset
from dashboard.window import Filters, Window
from tests.fixtures import write_dataset

WINDOW = Window(date(2025, 1, 1), date(2025, 12, 31))


def _internal(rid, on, from_team, to_team, status):
    return {
        "referral_id": rid, "referred_on": on, "direction": "internal", "referrer_id": None,
        "fee_earner_id": "FE1", "from_team": from_team, "to_team": to_team,
        "client_id": f"CL-{rid}", "work_type": "corporate finance", "status": status,
    }


def _external(rid, on, referrer, direction, status="won"):
    return {
        "referral_id": rid, "referred_on": on, "direction": direction, "referrer_id": referrer,
        "fee_earner_id": "FE1", "to_team": "corporate", "client_id": f"CL-{rid}",
        "work_type": "corporate finance", "status": status,
    }


def _matter(mid, referral, team):
    return {"matter_id": mid, "client_id": f"CL-{referral}", "team": team,
            "work_type": "corporate finance", "opened_on": "2024-01-01", "referral_id": referral}


FLOWS = {
    "fee_earners": [
        {"fee_earner_id": "FE1", "full_name": "Ann Archer", "team": "corporate", "office": "London",
         "grade": "partner", "cost_rate": 100.0},
    ],
    "referrers": [
        {"referrer_id": f"R{i}", "name": name, "referrer_type": kind, "region": "London"}
        for i, name, kind in ((1, "Alpha LLP", "law firm"), (2, "Beta Bank", "bank"),
                              (3, "Gamma Accountants", "accountancy"), (4, "Delta Architects",
                                                                         "architect"))
    ],
    "referrals": [
        _internal("I1", "2024-11-01", "property", "corporate", "won"),  # before the window
        _internal("I2", "2025-01-01", "property", "corporate", "won"),  # window's first day
        _internal("I3", "2025-12-31", "property", "corporate", "open"),  # window's last day
        _internal("I4", "2025-05-05", "corporate", "property", "lost"),
        _internal("I5", "2025-06-06", "tax", "corporate", "won"),
        _internal("I6", "2024-06-01", "private client", "tax", "won"),  # before; fees in window
        _internal("I7", "2026-01-02", "corporate", "tax", "open"),  # after the window
        # external: inbound and outbound, for reciprocity (and ignored by the flow queries)
        _external("E1", "2025-02-01", "R1", "inbound"),
        _external("E2", "2025-03-01", "R1", "inbound", "lost"),
        _external("E3", "2025-04-01", "R1", "outbound", "won"),
        _external("E4", "2023-05-01", "R2", "inbound"),  # R2 sent once, long before the window
        _external("E5", "2025-05-01", "R2", "outbound", "open"),
        _external("E6", "2025-12-31", "R2", "outbound", "won"),
        _external("E7", "2025-07-01", "R3", "inbound", "open"),
        _external("E8", "2024-12-31", "R4", "outbound", "won"),  # a day before the window
        _external("E9", "2026-01-01", "R3", "outbound", "won"),  # a day after
    ],
    "matters": [
        _matter("MI1", "I1", "corporate"),
        _matter("MI2", "I2", "corporate"),
        _matter("MI5", "I5", "corporate"),
        _matter("MI6", "I6", "tax"),
        _matter("ME1", "E1", "corporate"),
    ],
    "fees": [
        {"matter_id": "MI1", "billed_on": "2024-12-15", "amount": 500.0},   # before the window
        {"matter_id": "MI1", "billed_on": "2025-03-01", "amount": 1000.0},  # referred before, billed in
        {"matter_id": "MI2", "billed_on": "2025-06-01", "amount": 200.0},
        {"matter_id": "MI2", "billed_on": "2026-01-01", "amount": 999.0},   # after the window
        {"matter_id": "MI5", "billed_on": "2025-07-01", "amount": 300.0},
        {"matter_id": "MI5", "billed_on": "2025-08-01", "amount": -100.0},  # credit note
        {"matter_id": "MI6", "billed_on": "2025-02-01", "amount": 700.0},
        {"matter_id": "ME1", "billed_on": "2025-02-02", "amount": 5000.0},  # inbound: not a flow
    ],
}


@pytest.fixture(scope="module")
def flows_data(tmp_path_factory):
    dataset = open_dataset(write_dataset(tmp_path_factory.mktemp("flows"), FLOWS))
    yield dataset
    dataset.connection.close()


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)]


def test_internal_flows(flows_data):
    frame = registry.run("internal_flows", flows_data, WINDOW)
    assert list(frame.columns) == ["from_team", "to_team", "referrals", "won", "referred_fees"]
    assert _rows(frame) == [
        # property → corporate: I2, I3 in the window (I1 is before) → 2, won 1 (I2);
        # fees billed in the window on matters from internal property → corporate referrals,
        # whenever referred: MI1 1000 (I1, referred 2024) + MI2 200 → 1200
        ("property", "corporate", 2, 1, pytest.approx(1200.0)),
        # tax → corporate: I5 won; 300 − 100 credit note = 200
        ("tax", "corporate", 1, 1, pytest.approx(200.0)),
        # corporate → property: I4 lost, no matter → 0 fees
        ("corporate", "property", 1, 0, pytest.approx(0.0)),
        # private client → tax has fees in the window (MI6 700) but no internal referral in
        # the window, so no row; corporate → tax (I7) is after the window
    ]


def test_team_balance(flows_data):
    frame = registry.run("team_balance", flows_data, WINDOW)
    assert list(frame.columns) == ["team", "given", "received", "net"]
    # in the window: I2, I3 property→corporate; I4 corporate→property; I5 tax→corporate
    # corporate: given 1 (I4), received 3 (I2, I3, I5) → net +2
    # property: given 2, received 1 → −1 (net giver); tax: given 1, received 0 → −1
    # net givers first (net ascending, then team)
    assert _rows(frame) == [
        ("property", 2, 1, -1),
        ("tax", 1, 0, -1),
        ("corporate", 1, 3, 2),
    ]


def test_balance_totals_match_flows(flows_data):
    flows = registry.run("internal_flows", flows_data, WINDOW)
    balance = registry.run("team_balance", flows_data, WINDOW)
    assert balance["given"].sum() == balance["received"].sum() == flows["referrals"].sum() == 4
    assert balance["net"].sum() == 0


def test_team_filter_keeps_referrals_by_to_team(flows_data):
    filters = Filters(team=("corporate",))
    flows = registry.run("internal_flows", flows_data, WINDOW, filters)
    # I4 (to property) drops out; fees by matter team corporate: MI1 + MI2, MI5
    assert _rows(flows) == [
        ("property", "corporate", 2, 1, pytest.approx(1200.0)),
        ("tax", "corporate", 1, 1, pytest.approx(200.0)),
    ]
    balance = registry.run("team_balance", flows_data, WINDOW, filters)
    # corporate received 3 and, with I4 gone, gave none
    assert _rows(balance) == [("property", 2, 0, -2), ("tax", 1, 0, -1), ("corporate", 0, 3, 3)]


def test_referrer_filter_drops_internal_referrals(flows_data):
    # internal referrals have no referrer, so a referrer filter leaves no flow (filters.sql)
    filters = Filters(referrer_type=("law firm",))
    assert registry.run("internal_flows", flows_data, WINDOW, filters).empty
    assert registry.run("team_balance", flows_data, WINDOW, filters).empty


def test_reciprocity(flows_data):
    frame = registry.run("reciprocity", flows_data, WINDOW)
    assert list(frame.columns) == [
        "referrer_id", "name", "referrer_type", "inbound_referrals", "outbound_referrals",
        "outbound_won", "reciprocity_balance", "no_return_from_them", "no_return_from_us",
        "last_inbound_on", "last_outbound_on"]
    assert _rows(frame) == [
        # R2: we sent E5, E6 (E6 on the last day, won); nothing came back in the window
        # (E4 in 2023) → balance −2, "we send, none back"
        ("R2", "Beta Bank", "bank", 0, 2, 1, -2, True, False, date(2023, 5, 1), date(2025, 12, 31)),
        # R1: in E1, E2; out E3 → +1, no flag
        ("R1", "Alpha LLP", "law firm", 2, 1, 1, 1, False, False, date(2025, 3, 1),
         date(2025, 4, 1)),
        # R3: in E7; out only E9 after the window → +1, "they send, we never"; last outbound
        # is on or before the window's end, so none
        ("R3", "Gamma Accountants", "accountancy", 1, 0, 0, 1, False, True, date(2025, 7, 1), None),
        # R4: only E8, a day before the window → no row
    ]


def test_reciprocity_matches_scorecard(flows_data):
    reciprocity = registry.run("reciprocity", flows_data, WINDOW).set_index("referrer_id")
    scorecard = registry.run("scorecard", flows_data, WINDOW).set_index("referrer_id")
    for rid, row in reciprocity.iterrows():
        assert row["inbound_referrals"] == scorecard.loc[rid, "referrals"], rid
        assert row["outbound_referrals"] == scorecard.loc[rid, "outbound_referrals"], rid
        assert row["reciprocity_balance"] == scorecard.loc[rid, "reciprocity_balance"], rid
