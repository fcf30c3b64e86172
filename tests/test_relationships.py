"""Who knows who: relationship_network, key_person_risk, stale_relationships, moved_contacts.
Expected numbers are worked out in the comments."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dashboard import registry
from dashboard.data import open_dataset
from dashboard.window import Filters, Window
from tests.fixtures import write_dataset

WINDOW = Window(date(2025, 1, 1), date(2025, 12, 31))


def _inbound(rid, on, referrer, contact, status="won"):
    return {
        "referral_id": rid, "referred_on": on, "direction": "inbound", "referrer_id": referrer,
        "contact_id": contact, "fee_earner_id": "FE1", "to_team": "corporate",
        "client_id": f"CL-{rid}", "work_type": "corporate finance", "status": status,
    }


def _matter(referral):
    return {"matter_id": f"M-{referral}", "client_id": f"CL-{referral}", "team": "corporate",
            "work_type": "corporate finance", "opened_on": "2024-01-01", "referral_id": referral}


def _fee(referral, on, amount):
    return {"matter_id": f"M-{referral}", "billed_on": on, "amount": amount}


def _rel(fe, contact, strength, last):
    return {"fee_earner_id": fe, "contact_id": contact, "strength": strength,
            "since_on": "2020-01-01", "last_contact_on": last}


WHO = {
    "fee_earners": [
        {"fee_earner_id": "FE1", "full_name": "Ann Archer", "team": "corporate", "office": "London",
         "grade": "partner", "cost_rate": 100.0},
        {"fee_earner_id": "FE2", "full_name": "Ben Baker", "team": "property", "office": "Leeds",
         "grade": "associate", "cost_rate": 50.0},
        {"fee_earner_id": "FE3", "full_name": "Cat Cole", "team": "tax", "office": "London",
         "grade": "partner", "cost_rate": 90.0},
    ],
    "referrers": [
        {"referrer_id": f"R{i}", "name": name, "referrer_type": kind, "region": "London"}
        for i, name, kind in (
            (1, "Alpha LLP", "law firm"), (2, "Beta Bank", "bank"), (3, "Gamma Accountants", "accountancy"),
            (4, "Delta Architects", "architect"), (5, "Echo Partners", "law firm"), (6, "Foxtrot Ltd", "client"))
    ],
    "contacts": [
        {"contact_id": "C1", "referrer_id": "R1", "full_name": "Cara One"},
        {"contact_id": "C2", "referrer_id": "R1", "full_name": "Dan Two"},
        {"contact_id": "C3", "referrer_id": "R2", "full_name": "Eve Three"},
        {"contact_id": "C4", "referrer_id": "R3", "full_name": "Fay Four"},
        {"contact_id": "C5", "referrer_id": "R5", "full_name": "Gus Five", "job_title": "Partner"},
        {"contact_id": "C6", "referrer_id": "R4", "full_name": "Hal Six"},
        {"contact_id": "C7", "referrer_id": "R6", "full_name": "Ivy Seven"},
    ],
    "contact_moves": [
        {"contact_id": "C5", "from_referrer_id": "R4", "to_referrer_id": "R5", "moved_on": "2025-06-01"},
        # after the window's end: not yet a move as of the end
        {"contact_id": "C2", "from_referrer_id": "R2", "to_referrer_id": "R1", "moved_on": "2026-03-01"},
    ],
    "relationships": [
        # end 2025-12-31, six months before: contact on or before 2025-06-30 is stale
        _rel("FE1", "C1", 4, "2025-07-01"),  # fresh (a day inside)
        _rel("FE2", "C2", 2, "2025-06-30"),  # stale (exactly six months)
        _rel("FE1", "C3", 5, "2025-12-31"),  # fresh
        _rel("FE2", "C4", 2, None),          # stale (never recorded)
        _rel("FE3", "C4", 1, "2024-01-15"),  # stale
        _rel("FE3", "C5", 3, "2025-09-01"),  # fresh
        _rel("FE1", "C7", 1, "2025-06-01"),  # stale
    ],
    "referrals": [
        _inbound("F1", "2025-02-01", "R1", "C1"),
        _inbound("F2", "2025-04-01", "R2", "C3"),
        _inbound("F3", "2025-05-01", "R3", "C4"),
        # C5 at the old firm R4
        _inbound("F4", "2024-03-01", "R4", "C5"),
        _inbound("F5", "2025-03-01", "R4", "C5", "lost"),
        _inbound("F6", "2025-04-01", "R4", "C6", "open"),  # someone else at R4
        # R5 before the move, C5 at R5 after it, someone else at R5 after it, C5 after the end
        _inbound("F7", "2025-01-10", "R5", None, "open"),
        _inbound("F8", "2025-08-01", "R5", "C5"),
        _inbound("F9", "2025-09-01", "R5", None, "open"),
        _inbound("F10", "2026-01-05", "R5", "C5", "open"),
    ],
    "matters": [_matter(r) for r in ("F1", "F2", "F3", "F4", "F8")],
    "fees": [
        _fee("F1", "2025-03-01", 5000.0),  # R1 5000
        _fee("F2", "2025-05-01", 3000.0),  # R2 3000
        _fee("F3", "2025-06-01", 1000.0),  # R3 1000
        _fee("F4", "2024-05-01", 400.0),   # R4: before the window (old-firm history)
        _fee("F4", "2025-02-01", 500.0),   # R4 500 in the window
        _fee("F8", "2025-10-01", 200.0),   # R5 200
        _fee("F8", "2026-02-01", 999.0),   # after the end
    ],
}


@pytest.fixture(scope="module")
def who_data(tmp_path_factory):
    dataset = open_dataset(write_dataset(tmp_path_factory.mktemp("who"), WHO))
    yield dataset
    dataset.connection.close()


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)]


def test_relationship_network(who_data):
    frame = registry.run("relationship_network", who_data, WINDOW)
    assert list(frame.columns) == [
        "fee_earner_id", "fee_earner", "team", "contact_id", "contact", "job_title", "referrer_id",
        "referrer", "strength", "since_on", "last_contact_on", "contact_referrals",
        "referrer_referred_fees"]
    # every relationship, strongest first (ties by referrer, contact, fee earner)
    assert list(zip(frame["fee_earner_id"], frame["contact_id"], strict=True)) == [
        ("FE1", "C3"), ("FE1", "C1"), ("FE3", "C5"), ("FE2", "C2"), ("FE2", "C4"), ("FE3", "C4"),
        ("FE1", "C7")]
    c5 = frame[frame["contact_id"] == "C5"].iloc[0]
    # C5 now works at R5; in the window C5 referred F5 (from R4) and F8 (from R5) → 2;
    # R5's referred fees in the window: F8's 200 (the 2026 bill is after the end)
    assert (c5["referrer_id"], c5["referrer"], c5["contact_referrals"]) == ("R5", "Echo Partners", 2)
    assert c5["referrer_referred_fees"] == pytest.approx(200.0)
    assert frame.set_index("contact_id")["referrer_referred_fees"].to_dict()["C7"] == 0


def test_key_person_risk(who_data):
    frame = registry.run("key_person_risk", who_data, WINDOW)
    # referred fees in the window: R1 5000, R2 3000, R3 1000, R4 500, R5 200 → 9700
    # R1: FE1 (C1, 4) and FE2 (C2, 2) → two people, a strong tie → not at risk
    # R6: a single weak tie but no referred fees → not listed
    assert _rows(frame[["referrer_id", "referred_fees", "relationship_count", "fee_earners_who_know",
                        "max_strength", "key_fee_earner_id", "key_fee_earner", "single_fee_earner",
                        "no_strong_relationship", "risk"]]) == [
        # R2: only FE1 knows them (C3, strength 5)
        ("R2", 3000.0, 1, 1, 5, "FE1", "Ann Archer", True, False, "one fee earner holds every tie"),
        # R3: FE2 (2) and FE3 (1) know C4; nobody stronger than 2
        ("R3", 1000.0, 2, 2, 2, None, None, False, True, "no tie stronger than 2"),
        # R4: C5 has moved away and nobody knows C6
        ("R4", 500.0, 0, 0, None, None, None, False, True, "nobody at the firm knows them"),
        # R5: only FE3 (C5, 3)
        ("R5", 200.0, 1, 1, 3, "FE3", "Cat Cole", True, False, "one fee earner holds every tie"),
    ]
    assert frame["fee_share"].tolist() == pytest.approx([3000 / 9700, 1000 / 9700, 500 / 9700,
                                                         200 / 9700])


def test_key_person_risk_filters(who_data):
    # team filter: relationships by the fee earner's team; fees by the matter's team
    # (all corporate). Corporate keeps FE1 only: R1 now hangs on FE1 alone.
    frame = registry.run("key_person_risk", who_data, WINDOW, Filters(team=("corporate",)))
    risk = frame.set_index("referrer_id")
    assert risk.loc["R1", "key_fee_earner_id"] == "FE1"
    assert bool(risk.loc["R1", "single_fee_earner"])
    assert risk.loc["R3", "risk"] == "nobody at the firm knows them"
    # referrer type keeps the bank only
    bank = registry.run("key_person_risk", who_data, WINDOW, Filters(referrer_type=("bank",)))
    assert bank["referrer_id"].tolist() == ["R2"]
    assert bank["fee_share"].tolist() == pytest.approx([1.0])


def test_stale_relationships(who_data):
    frame = registry.run("stale_relationships", who_data, WINDOW)
    assert _rows(frame[["fee_earner_id", "contact_id", "referrer_id", "strength", "last_contact_on",
                        "months_since_contact", "referrer_referred_fees"]]) == [
        # referrers with the most referred fees first, then the strongest tie
        ("FE2", "C2", "R1", 2, date(2025, 6, 30), 6, 5000.0),  # exactly six months: stale
        ("FE2", "C4", "R3", 2, None, None, 1000.0),             # never recorded
        ("FE3", "C4", "R3", 1, date(2024, 1, 15), 23, 1000.0),  # 12 × 1 + (12 − 1) = 23
        ("FE1", "C7", "R6", 1, date(2025, 6, 1), 6, 0.0),
        # FE1–C1 (1 Jul 2025), FE1–C3 and FE3–C5 had contact in the last six months
    ]


def test_stale_relationships_months(who_data):
    # 12 months: stale when last contact is on or before 31 Dec 2024, or never
    frame = registry.run("stale_relationships", who_data, WINDOW, params={"months": 12})
    assert list(zip(frame["fee_earner_id"], frame["contact_id"], strict=True)) == [
        ("FE2", "C4"), ("FE3", "C4")]


def test_moved_contacts(who_data):
    frame = registry.run("moved_contacts", who_data, WINDOW)
    # C2's move (2026) is after the window's end → only C5
    assert _rows(frame) == [(
        "C5", "Gus Five", "Partner", "R4", "Delta Architects", "R5", "Echo Partners",
        date(2025, 6, 1),
        2,                 # old firm: F4 (2024) and F5 made by C5 at R4; F6 was someone else
        1,                 # F4 won
        900.0,             # F4's fees up to the end: 400 (2024) + 500
        date(2025, 3, 1),  # F5
        1,                 # new firm: F8 by C5 at R5 after the move (F10 is after the end)
        200.0,             # F8's fees up to the end
        2,                 # from R5 since the move by anyone: F8, F9 (F7 came before)
        1, 3, "FE3", "Cat Cole",  # only Cat Cole knows C5, strength 3
    )]


def test_moved_contacts_window_end_before_move(who_data):
    # as of 31 May 2025 the move has not happened
    frame = registry.run("moved_contacts", who_data, Window(date(2024, 6, 1), date(2025, 5, 31)))
    assert frame.empty
