"""Return on relationships: queries/ror/*.sql and the ror queries of dashboard/computed.py,
on a portfolio small enough to work every number out by hand.

Window 2025-01-01 .. 2025-12-31. Costs: hours × cost_rate + expense (FE1 costs
100 an hour, FE2 50).

Referred fees (scorecard, fees billed in the window on matters from the
referrer's inbound referrals, whenever referred):
    R1: M1 4000 (2025-02-01; 500 on 2024-12-31 and 999 on 2026-01-01 are outside)
        + M2 1000 (2025-12-31, the last day) − 200 (credit note)      = 4800
    R2: M3 3000 + M5 1200                                               = 4200
    R3: nothing (its referrals were lost, or made after `end`)          =    0
    R4: M4 2000 (billed 2025-01-01, the first day; referred in 2023)    = 2000

Investment in the window:
    R1: A1 lunch 2h × 100 + 100 = 300 (2025-01-01, the first day)
        A2 seminar 4h × 50 + 300 = 500
        A3 seminar 1h × 100 + 100 = 200 (2025-12-31, the last day)
        (A4, a lunch on 2024-12-31, is outside)                   total 1000
    R2: A6, A7 newsletters and A8 social media, all 0h and 0 expense: total 0
        (A5, a lunch on 2026-01-01, is outside)
    R3: A9 seminar 2h × 50 = 100
    R4: nothing
"""

from __future__ import annotations

import json
import math
from datetime import date

import pandas as pd
import pytest

from dashboard import charts, registry
from dashboard.cli import main
from dashboard.data import open_dataset
from dashboard.window import Filters, Window
from tests.fixtures import write_dataset

WINDOW = Window(date(2025, 1, 1), date(2025, 12, 31))


def _referral(rid, referrer, client, on, status, team="corporate"):
    return {"referral_id": rid, "referred_on": on, "direction": "inbound", "referrer_id": referrer,
            "fee_earner_id": "FE1" if team == "corporate" else "FE2", "to_team": team,
            "client_id": client, "work_type": "corporate finance", "status": status}


def _matter(mid, client, opened, referral=None, team="corporate", work_type="corporate finance"):
    return {"matter_id": mid, "client_id": client, "team": team, "work_type": work_type,
            "opened_on": opened, "referral_id": referral}


def _activity(aid, on, referrer, fee_earner, kind, hours, expense):
    return {"activity_id": aid, "occurred_on": on, "referrer_id": referrer,
            "fee_earner_id": fee_earner, "activity_type": kind, "hours": hours, "expense": expense}


def _touch(tid, client, at, channel, referrer=None):
    return {"touchpoint_id": tid, "client_id": client, "touched_at": at, "channel": channel,
            "referrer_id": referrer}


ROR = {
    "fee_earners": [
        {"fee_earner_id": "FE1", "full_name": "Ann Archer", "team": "corporate", "office": "London",
         "grade": "partner", "cost_rate": 100.0},
        {"fee_earner_id": "FE2", "full_name": "Ben Baker", "team": "property", "office": "Leeds",
         "grade": "associate", "cost_rate": 50.0},
    ],
    "referrers": [
        {"referrer_id": "R1", "name": "Alpha LLP", "referrer_type": "law firm", "region": "London"},
        {"referrer_id": "R2", "name": "Beta Bank", "referrer_type": "bank", "region": "North"},
        {"referrer_id": "R3", "name": "Gamma Accountants", "referrer_type": "accountancy",
         "region": "London"},
        {"referrer_id": "R4", "name": "Delta Architects", "referrer_type": "architect",
         "region": "North"},
    ],
    "referrals": [
        _referral("RF1", "R1", "CL1", "2024-11-01", "won"),
        _referral("RF2", "R1", "CL2", "2025-03-01", "won", team="property"),
        _referral("RF3", "R2", "CL3", "2025-02-01", "won", team="property"),
        _referral("RF4", "R4", "CL4", "2023-01-01", "won"),
        # CL5: two referrals the same day; RF5 (R4, lost) comes first by referral_id
        _referral("RF5", "R4", "CL5", "2025-08-01", "lost"),
        _referral("RF6", "R2", "CL5", "2025-08-01", "won"),
        # after `end`: brings nobody in for this window
        _referral("RF7", "R3", "CL8", "2026-02-01", "open"),
        # CL3's earliest inbound referral: R3 brought CL3 in, though R2 won the work
        _referral("RF8", "R3", "CL3", "2024-06-01", "lost"),
    ],
    "matters": [
        _matter("M1a", "CL1", "2024-10-01"),  # before R1 referred CL1: not R1's
        _matter("M1", "CL1", "2024-11-15", "RF1"),
        _matter("M1b", "CL1", "2025-06-01", work_type="employment"),  # CL1 buys more
        _matter("M2", "CL2", "2025-03-10", "RF2", team="property"),
        _matter("M3", "CL3", "2025-02-10", "RF3", team="property"),
        _matter("M4", "CL4", "2023-02-01", "RF4"),
        _matter("M5", "CL5", "2025-08-10", "RF6"),
        _matter("M8", "CL8", "2025-05-01"),
    ],
    "fees": [
        {"matter_id": "M1", "billed_on": "2024-12-31", "amount": 500.0},
        {"matter_id": "M1", "billed_on": "2025-02-01", "amount": 4000.0},
        {"matter_id": "M1", "billed_on": "2026-01-01", "amount": 999.0},
        {"matter_id": "M1a", "billed_on": "2025-03-01", "amount": 700.0},
        {"matter_id": "M1b", "billed_on": "2025-07-01", "amount": 600.0},
        {"matter_id": "M2", "billed_on": "2025-12-01", "amount": -200.0},
        {"matter_id": "M2", "billed_on": "2025-12-31", "amount": 1000.0},
        {"matter_id": "M3", "billed_on": "2025-05-01", "amount": 3000.0},
        {"matter_id": "M4", "billed_on": "2025-01-01", "amount": 2000.0},
        {"matter_id": "M5", "billed_on": "2025-09-01", "amount": 1200.0},
        {"matter_id": "M8", "billed_on": "2025-06-01", "amount": 50.0},
    ],
    "activities": [
        _activity("A1", "2025-01-01", "R1", "FE1", "lunch", 2.0, 100.0),
        _activity("A2", "2025-06-01", "R1", "FE2", "seminar", 4.0, 300.0),
        _activity("A3", "2025-12-31", "R1", "FE1", "seminar", 1.0, 100.0),
        _activity("A4", "2024-12-31", "R1", "FE1", "lunch", 10.0, 0.0),
        _activity("A5", "2026-01-01", "R2", "FE1", "lunch", 3.0, 80.0),
        _activity("A6", "2025-03-01", "R2", "FE2", "newsletter", 0.0, 0.0),
        _activity("A7", "2025-04-01", "R2", "FE2", "newsletter", 0.0, 0.0),
        _activity("A8", "2025-05-01", "R2", "FE2", "social media", 0.0, 0.0),
        _activity("A9", "2025-07-01", "R3", "FE2", "seminar", 2.0, 0.0),
    ],
    # Journeys (conversions: matters opened in 2025; value: their fees up to 2025-12-31):
    #   M2 (CL2, value 1000 − 200 = 800): T1 referral R1, T2 seminar
    #   M3 (CL3, value 3000):             T3 website, T4 referral R2
    #   M5 (CL5, value 1200):             T6 referral R4, T7 referral R2
    #   M1b (CL1, value 600):             T8 fee earner (after M1's day, 2024-11-15)
    #   M8 (CL8, value 50):               no touchpoint: unattributed
    # Non-converting: CL9 T9 referral R1, T10 newsletter; CL10 T11 website;
    #   CL3 after its last matter: T12 newsletter.
    "touchpoints": [
        _touch("T1", "CL2", "2025-03-01 10:00:00", "referral", "R1"),
        _touch("T2", "CL2", "2025-03-05 10:00:00", "seminar"),
        _touch("T3", "CL3", "2025-01-20 10:00:00", "website"),
        _touch("T4", "CL3", "2025-02-01 10:00:00", "referral", "R2"),
        _touch("T6", "CL5", "2025-08-01 09:00:00", "referral", "R4"),
        _touch("T7", "CL5", "2025-08-01 10:00:00", "referral", "R2"),
        _touch("T8", "CL1", "2025-05-20 10:00:00", "fee earner"),
        _touch("T9", "CL9", "2025-04-01 10:00:00", "referral", "R1"),
        _touch("T10", "CL9", "2025-04-02 10:00:00", "newsletter"),
        _touch("T11", "CL10", "2025-09-01 10:00:00", "website"),
        _touch("T12", "CL3", "2025-10-01 10:00:00", "newsletter"),
    ],
}


@pytest.fixture(scope="module")
def ror_dir(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("ror"), ROR)


@pytest.fixture()
def ds(ror_dir):
    dataset = open_dataset(ror_dir)
    yield dataset
    dataset.connection.close()


def run(ds, name, params=None, filters=None):
    return registry.run(name, ds, WINDOW, filters or Filters(), params or {})


def rows(frame, key):
    return {r[key]: r for r in frame.to_dict("records")}


def null(value):
    return value is None or (isinstance(value, float) and math.isnan(value))


# ------------------------------------------------------------ ror_activity_types


def test_activity_types_apportion_referred_fees_by_share_of_cost(ds):
    out = run(ds, "ror_activity_types")
    # most cost first; the two zero-cost types by name
    assert out["activity_type"].tolist() == ["seminar", "lunch", "newsletter", "social media"]
    by_type = rows(out, "activity_type")
    # R1's 4800 split by its costs: lunch 300/1000, seminar 700/1000
    # seminar: A2, A3 (R1) and A9 (R3, no referred fees): 3 activities, 2 referrers,
    #          4 + 1 + 2 = 7 hours, 500 + 200 + 100 = 800 cost, 0.7 × 4800 = 3360 → ror 4.2
    assert by_type["seminar"] == pytest.approx({
        "activity_type": "seminar", "activities": 3, "referrers": 2, "hours": 7.0,
        "cost": 800.0, "referred_fees": 3360.0, "ror": 4.2})
    # lunch: A1 only (A4 is the day before the window): 0.3 × 4800 = 1440 → ror 4.8
    assert by_type["lunch"] == pytest.approx({
        "activity_type": "lunch", "activities": 1, "referrers": 1, "hours": 2.0,
        "cost": 300.0, "referred_fees": 1440.0, "ror": 4.8})
    # R2's activities cost nothing, so its 4200 is shared by number of activities:
    # newsletter 2/3 → 2800, social media 1/3 → 1400; no cost, so no ror
    for kind, activities, fees in (("newsletter", 2, 2800.0), ("social media", 1, 1400.0)):
        row = by_type[kind]
        assert (row["activities"], row["referrers"], row["hours"], row["cost"]) == (activities, 1, 0, 0)
        assert row["referred_fees"] == pytest.approx(fees)
        assert null(row["ror"])
    # every invested-in referrer's fees counted once (R1 4800 + R2 4200); R4's 2000 had
    # no activity in the window and belongs to no type
    assert out["referred_fees"].sum() == pytest.approx(9000.0)


def test_activity_types_cost_equals_the_scorecard_investment(ds):
    card = run(ds, "scorecard")
    assert run(ds, "ror_activity_types")["cost"].sum() == pytest.approx(card["investment_cost"].sum())


def test_activity_types_under_a_team_filter(ds):
    # team corporate: FE1's activities only (A1 lunch 300, A3 seminar 200) and corporate
    # matters only (M1 4000; M2 is property): R1's 4000 split 300/500 and 200/500
    out = run(ds, "ror_activity_types", filters=Filters(team=("corporate",)))
    assert out.to_dict("records") == [
        {"activity_type": "lunch", "activities": 1, "referrers": 1, "hours": 2.0, "cost": 300.0,
         "referred_fees": 2400.0, "ror": 8.0},
        {"activity_type": "seminar", "activities": 1, "referrers": 1, "hours": 1.0, "cost": 200.0,
         "referred_fees": 1600.0, "ror": 8.0},
    ]


def test_activity_types_empty_window(ds):
    out = registry.run("ror_activity_types", ds, Window(date(2020, 1, 1), date(2020, 12, 31)))
    assert out.empty
    assert list(out.columns) == ["activity_type", "activities", "referrers", "hours", "cost",
                                 "referred_fees", "ror"]


# ------------------------------------------------------------- referrer_lifetime


def test_lifetime_counts_every_matter_of_the_clients_a_referrer_brought_in(ds):
    out = run(ds, "referrer_lifetime")
    assert out["referrer_id"].tolist() == ["R1", "R4", "R3", "R2"]  # largest lifetime first
    by_id = rows(out, "referrer_id")
    # R1 brought in CL1 (RF1) and CL2 (RF2). In the window: M1 4000, M1b 600 (CL1's later
    # employment matter, no referral), M2 1000 − 200. M1a (700) was opened before R1
    # referred CL1, so it is not R1's. Lifetime 5400, of which 600 on other work.
    assert by_id["R1"] == {"referrer_id": "R1", "name": "Alpha LLP", "referrer_type": "law firm",
                           "clients_brought_in": 2, "referred_fees": 4800.0,
                           "lifetime_fees": 5400.0, "other_work_fees": 600.0}
    # R4 brought in CL4 (2023) and CL5 (its lost RF5 ties R2's RF6 on the day and comes
    # first by referral_id): M4 2000 (its own referral) + M5 1200 (R2's referral)
    assert (by_id["R4"]["clients_brought_in"], by_id["R4"]["referred_fees"],
            by_id["R4"]["lifetime_fees"], by_id["R4"]["other_work_fees"]) == (2, 2000.0, 3200.0, 1200.0)
    # R3's lost RF8 (2024-06-01) was CL3's first referral, so M3's 3000 is R3's lifetime
    # value, all of it other work; RF7 is after `end` and brings CL8 in for nobody
    assert (by_id["R3"]["clients_brought_in"], by_id["R3"]["referred_fees"],
            by_id["R3"]["lifetime_fees"], by_id["R3"]["other_work_fees"]) == (1, 0.0, 3000.0, 3000.0)
    # R2 brought nobody in first but has referred fees (M3 3000 + M5 1200)
    assert (by_id["R2"]["clients_brought_in"], by_id["R2"]["referred_fees"],
            by_id["R2"]["lifetime_fees"], by_id["R2"]["other_work_fees"]) == (0, 4200.0, 0.0, 0.0)


def test_lifetime_referred_fees_are_the_scorecards(ds):
    card = run(ds, "scorecard").set_index("referrer_id")["referred_fees"]
    out = run(ds, "referrer_lifetime").set_index("referrer_id")["referred_fees"]
    assert out.to_dict() == card[out.index].to_dict()


def test_lifetime_referrer_filter_keeps_the_referrer_not_its_clients_matters(ds):
    # accountancy: R3 only; M3 came from R2 (a bank) but is still R3's client's matter
    out = run(ds, "referrer_lifetime", filters=Filters(referrer_type=("accountancy",)))
    assert out[["referrer_id", "lifetime_fees", "referred_fees"]].to_dict("records") == [
        {"referrer_id": "R3", "lifetime_fees": 3000.0, "referred_fees": 0.0}]


def test_lifetime_work_type_filter_narrows_the_matters(ds):
    # employment: only M1b (600); no referred fees at all
    out = run(ds, "referrer_lifetime", filters=Filters(work_type=("employment",)))
    by_id = rows(out, "referrer_id")
    assert by_id["R1"]["lifetime_fees"] == 600.0 and by_id["R1"]["referred_fees"] == 0.0
    assert out["lifetime_fees"].sum() == 600.0


def test_lifetime_end_of_window(ds):
    # window ending 2024-12-31: R3's RF8 and R1's RF1 exist, RF2..RF6 do not yet.
    # R1: M1 500 (2024-12-31); M1a (700, 2025) is outside anyway
    out = registry.run("referrer_lifetime", ds, Window(date(2024, 1, 1), date(2024, 12, 31)))
    by_id = rows(out, "referrer_id")
    assert set(by_id) == {"R1", "R3", "R4"}
    assert by_id["R1"]["lifetime_fees"] == 500.0 and by_id["R1"]["referred_fees"] == 500.0
    assert by_id["R3"]["clients_brought_in"] == 1 and by_id["R3"]["lifetime_fees"] == 0.0
    assert by_id["R4"]["clients_brought_in"] == 1  # CL4 only: RF5 is in 2025


# ------------------------------------------------------------------ ror_referrers


def test_ror_referrers_direct_and_attributed_under_linear(ds):
    out = run(ds, "ror_referrers")
    assert list(out.columns)[:7] == ["referrer_id", "name", "investment_cost", "referred_fees",
                                     "direct_ror", "attributed_value", "attributed_ror"]
    assert out["referrer_id"].tolist() == ["R1", "R2", "R4", "R3"]  # the scorecard's order
    by_id = rows(out, "referrer_id")
    # R1: 1000 invested, 4800 referred → 4.8; linear credit: half of M2 (800) = 400 → 0.4
    assert by_id["R1"]["investment_cost"] == 1000.0 and by_id["R1"]["referred_fees"] == 4800.0
    assert by_id["R1"]["direct_ror"] == pytest.approx(4.8)
    assert by_id["R1"]["attributed_value"] == pytest.approx(400.0)
    assert by_id["R1"]["attributed_conversions"] == pytest.approx(0.5)
    assert by_id["R1"]["attributed_ror"] == pytest.approx(0.4)
    # R2: nothing invested (zero-cost activities), so no ROR either way;
    # credit: half of M3 (1500) + half of M5 (600)
    assert by_id["R2"]["investment_cost"] == 0.0
    assert by_id["R2"]["attributed_value"] == pytest.approx(2100.0)
    assert null(by_id["R2"]["direct_ror"]) and null(by_id["R2"]["attributed_ror"])
    # R3: 100 invested, nothing back; no credit → 0, not null
    assert by_id["R3"]["direct_ror"] == 0.0
    assert by_id["R3"]["attributed_value"] == 0.0 and by_id["R3"]["attributed_ror"] == 0.0
    # R4: half of M5
    assert by_id["R4"]["attributed_value"] == pytest.approx(600.0)


def test_ror_referrers_matches_scorecard_and_attribution_referrers(ds):
    out = run(ds, "ror_referrers", {"model": "time_decay"}).set_index("referrer_id")
    card = run(ds, "scorecard").set_index("referrer_id")
    credit = run(ds, "attribution_referrers", {"model": "time_decay"}).set_index("referrer_id")
    for column, source in (("investment_cost", "investment_cost"), ("referred_fees", "referred_fees"),
                           ("direct_ror", "ror")):
        assert out[column].tolist() == pytest.approx(card.loc[out.index, source].tolist(), nan_ok=True)
    assert out.loc[credit.index, "attributed_value"].tolist() == pytest.approx(credit["value"].tolist())


def test_ror_referrers_model_parameter(ds):
    # first touch: M2's first touch is R1's referral (all 800); M3's is the website; M5's is
    # R4's referral (all 1200), so R2 gets nothing
    by_id = rows(run(ds, "ror_referrers", {"model": "first_touch"}), "referrer_id")
    assert by_id["R1"]["attributed_value"] == 800.0 and by_id["R1"]["attributed_ror"] == 0.8
    assert by_id["R2"]["attributed_value"] == 0.0
    assert by_id["R4"]["attributed_value"] == 1200.0


def test_ror_referrers_referrer_filter(ds):
    # banks: R2 only; its matters M3 and M5 are the conversions, half of each is R2's
    out = run(ds, "ror_referrers", filters=Filters(referrer_type=("bank",)))
    assert out["referrer_id"].tolist() == ["R2"]
    assert out["referred_fees"].tolist() == [4200.0]
    assert out["attributed_value"].tolist() == pytest.approx([2100.0])


def test_ror_summary(ds):
    row = run(ds, "ror_summary").iloc[0].to_dict()
    assert row == pytest.approx({
        "referrers": 4, "invested_referrers": 2,              # R1 and R3
        "investment_cost": 1100.0, "referred_fees": 11000.0,
        "direct_ror": 10.0,                                     # 11000 / 1100
        "attributed_value": 3100.0,                             # 400 + 2100 + 600
        "attributed_ror": 3100.0 / 1100.0,
        "break_even_direct": 1,                                 # R1: 4800 ≥ 1000; R3: 0 < 100
        "break_even_attributed": 0,                             # R1: 400 < 1000
        "uninvested_referred_fees": 6200.0,                     # R2 4200 + R4 2000
    })


# ---------------------------------------------------------- referral_touch_conversion


def test_referral_touch_conversion(ds):
    out = run(ds, "referral_touch_conversion")
    # with a referral touch: converting M2, M3, M5 + non-converting CL9 → 3 of 4
    # without: converting M1b + non-converting CL10 and CL3 (after M3) → 1 of 3;
    # M8 has no journey at all and is in neither group
    assert out.to_dict("records") == [
        {"referral_touch": True, "group": "with a referral touch", "journeys": 4,
         "conversions": 3, "conversion_rate": 0.75, "value": 5000.0},
        pytest.approx({"referral_touch": False, "group": "without a referral touch", "journeys": 3,
                       "conversions": 1, "conversion_rate": 1 / 3, "value": 600.0}),
    ]


def test_referral_touch_conversion_lookback(ds):
    # 5 days: M2 keeps only T2 (seminar, 2025-03-05 10:00 ≥ 03-10 − 5 days); M3, M5 and
    # M1b lose every touchpoint. With: CL9 alone (0 of 1); without: M2, CL10, CL3 (1 of 3)
    out = rows(run(ds, "referral_touch_conversion", {"lookback_days": 5}), "referral_touch")
    assert (out[True]["journeys"], out[True]["conversions"], out[True]["conversion_rate"]) == (1, 0, 0.0)
    assert (out[False]["journeys"], out[False]["conversions"], out[False]["value"]) == (3, 1, 800.0)


def test_referral_touch_conversion_without_touchpoints(tiny):
    out = registry.run("referral_touch_conversion", tiny, WINDOW)
    assert out["journeys"].tolist() == [0, 0]
    assert all(null(v) for v in out["conversion_rate"])


# ------------------------------------------------------------------------ CLI


def test_ror_queries_through_the_cli(capsys, ror_dir):
    code = main(["query", "ror_referrers", "--data", str(ror_dir), "--start", "2025-01-01",
                 "--end", "2025-12-31", "--param", "model=first_touch", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    by_id = {r["referrer_id"]: r for r in json.loads(out)}
    assert by_id["R1"]["attributed_ror"] == 0.8 and by_id["R2"]["direct_ror"] is None
    for name in ("ror_activity_types", "referrer_lifetime", "referral_touch_conversion", "ror_summary"):
        code = main(["query", name, "--data", str(ror_dir), "--start", "2025-01-01",
                     "--end", "2025-12-31", "--format", "json"])
        out, err = capsys.readouterr()
        assert code == 0 and json.loads(out), (name, err)


def test_ror_referrers_bad_model_exits_2(capsys, ror_dir):
    code = main(["query", "ror_referrers", "--data", str(ror_dir), "--param", "model=u_shaped"])
    _, err = capsys.readouterr()
    assert code == 2 and "model" in err


@pytest.mark.parametrize("referrers", [10, 2_500])
def test_ror_scatter_draws_many_referrers_with_webgl_and_every_one_of_them(referrers):
    frame = pd.DataFrame({
        "referrer_id": [f"R{i}" for i in range(referrers)], "name": [f"Referrer {i}" for i in range(referrers)],
        "investment_cost": [100.0 + i for i in range(referrers)],
        "referred_fees": [50.0 + 2 * i for i in range(referrers)],
        "direct_ror": [(50.0 + 2 * i) / (100.0 + i) for i in range(referrers)],
        "attributed_value": [0.0] * referrers, "attributed_ror": [0.0] * referrers,
    })
    fig = charts.ror_scatter(frame, "direct", currency="GBP")
    markers = [trace for trace in fig.data if trace.mode == "markers"]
    assert {trace.type for trace in markers} == {"scattergl" if referrers >= charts.WEBGL_FROM else "scatter"}
    assert sum(len(trace.x) for trace in markers) == referrers
    # a referrer returns less than its cost while 50 + 2i < 100 + i, i.e. for i < 50
    expected = {"Returns less than its cost": min(referrers, 50)}
    if referrers > 50:
        expected["Returns at least its cost"] = referrers - 50
    assert {trace.name: len(trace.x) for trace in markers} == expected
