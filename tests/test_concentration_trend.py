"""Concentration over time and the "lose the top referrer" stress test:
concentration_trend and concentration_stress. Expected numbers are worked out in comments."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dashboard import registry
from dashboard.data import open_dataset
from dashboard.window import Window
from tests.fixtures import write_dataset

# Quarter ends inside: 31 Mar, 30 Jun, 30 Sep 2025 (31 Dec is after the end).
WINDOW = Window(date(2025, 2, 15), date(2025, 11, 10))

FEES = {
    # referrer: [(billed_on, amount), ...], one matter each from one inbound referral
    "A": [("2024-04-01", 600.0), ("2025-09-30", 100.0)],
    "B": [("2024-06-30", 400.0), ("2025-01-10", 300.0)],
    "C": [("2025-05-01", 200.0)],
    "D": [("2024-03-31", 1000.0), ("2025-07-01", -50.0)],
    "E": [("2025-08-01", 50.0), ("2025-10-01", 1000.0)],
}

TREND = {
    "referrers": [{"referrer_id": r, "name": f"Referrer {r}", "referrer_type": "law firm"} for r in FEES],
    "referrals": [
        {"referral_id": f"F{r}", "referred_on": "2024-01-01", "direction": "inbound", "referrer_id": r,
         "fee_earner_id": "FE1", "to_team": "corporate", "client_id": f"CL{r}",
         "work_type": "corporate finance", "status": "won"}
        for r in FEES
    ],
    "matters": [
        {"matter_id": f"M{r}", "client_id": f"CL{r}", "team": "corporate", "work_type": "corporate finance",
         "opened_on": "2024-01-01", "referral_id": f"F{r}"}
        for r in FEES
    ],
    "fees": [{"matter_id": f"M{r}", "billed_on": on, "amount": amount}
             for r, bills in FEES.items() for on, amount in bills],
}


@pytest.fixture(scope="module")
def trend_data(tmp_path_factory):
    dataset = open_dataset(write_dataset(tmp_path_factory.mktemp("trend"), TREND))
    yield dataset
    dataset.connection.close()


def test_concentration_trend(trend_data):
    frame = registry.run("concentration_trend", trend_data, WINDOW)
    assert frame["quarter"].tolist() == ["2025Q1", "2025Q2", "2025Q3"]
    assert frame["period_start"].tolist() == [date(2024, 4, 1), date(2024, 7, 1), date(2024, 10, 1)]
    assert frame["period_end"].tolist() == [date(2025, 3, 31), date(2025, 6, 30), date(2025, 9, 30)]
    q1, q2, q3 = (frame.iloc[i] for i in range(3))
    # Q1 [1 Apr 2024, 31 Mar 2025]: A 600 (first day), B 400 + 300 = 700 (D's 1000 is a day early)
    assert q1["referrers_with_fees"] == 2
    assert q1["total_referred_fees"] == pytest.approx(1300.0)
    assert q1["top3_share"] == pytest.approx(1.0)
    assert q1["hhi"] == pytest.approx((7**2 + 6**2) / 13**2)  # 85/169
    assert q1["gini"] == pytest.approx(200 / (2 * 4 * 650))  # Σ|xi−xj| = 200, n = 2, x̄ = 650
    assert q1["referrers_for_80pct"] == 2  # B 54% < 80% → A needed
    # Q2 [1 Jul 2024, 30 Jun 2025]: B 300, C 200 (A's April 2024 bill has rolled off)
    assert q2["total_referred_fees"] == pytest.approx(500.0)
    assert q2["hhi"] == pytest.approx(0.6**2 + 0.4**2)
    assert q2["gini"] == pytest.approx(0.1)  # 200 / (2 · 4 · 250)
    # Q3 [1 Oct 2024, 30 Sep 2025]: B 300, C 200, A 100 (last day), E 50; D −50 is not > 0
    assert q3["referrers_with_fees"] == 4
    assert q3["total_referred_fees"] == pytest.approx(650.0)
    assert q3["top3_share"] == pytest.approx(600 / 650)
    assert q3["hhi"] == pytest.approx((300**2 + 200**2 + 100**2 + 50**2) / 650**2)
    # ascending 50, 100, 200, 300: Σ (2i − n − 1) x = −150 − 100 + 200 + 900 = 850; / (4 · 650)
    assert q3["gini"] == pytest.approx(850 / 2600)
    # cumulative before each: B 0, C 300/650, A 500/650 = 0.77 < 0.8, E 600/650 → 3
    assert q3["referrers_for_80pct"] == 3


def test_trend_last_point_equals_concentration_over_its_12_months(trend_data):
    trend = registry.run("concentration_trend", trend_data, WINDOW).iloc[-1]
    same = registry.run("concentration", trend_data, Window(trend["period_start"], trend["period_end"]))
    for column in ("referrers_with_fees", "total_referred_fees", "top3_share", "hhi", "gini",
                   "referrers_for_80pct"):
        assert trend[column] == pytest.approx(same[column].iloc[0]), column


def test_trend_edges(trend_data):
    # a quarter end with no fees in its 12 months: counted as zero, shares null
    empty = registry.run("concentration_trend", trend_data, Window(date(2023, 1, 1), date(2023, 3, 31)))
    assert empty["quarter"].tolist() == ["2023Q1"]
    assert empty["referrers_with_fees"].tolist() == [0]
    assert pd.isna(empty["top3_share"].iloc[0])
    # a window with no quarter end inside it: no rows
    assert registry.run("concentration_trend", trend_data,
                        Window(date(2025, 2, 15), date(2025, 3, 30))).empty


def test_stress_test(trend_data):
    window = Window(date(2024, 10, 1), date(2025, 9, 30))
    frame = registry.run("concentration_stress", trend_data, window)
    assert list(frame.columns) == ["top_n", "referrers_lost", "fees_lost", "share_lost",
                                   "fees_remaining", "total_referred_fees"]
    # B 300, C 200, A 100, E 50 of 650
    assert frame["top_n"].tolist() == [1, 2, 3]
    assert frame["referrers_lost"].tolist() == [
        "Referrer B", "Referrer B, Referrer C", "Referrer B, Referrer C, Referrer A"]
    assert frame["fees_lost"].tolist() == pytest.approx([300.0, 500.0, 600.0])
    assert frame["share_lost"].tolist() == pytest.approx([300 / 650, 500 / 650, 600 / 650])
    assert frame["fees_remaining"].tolist() == pytest.approx([350.0, 150.0, 50.0])
    # losing the top three loses exactly the top-3 share
    top3 = registry.run("concentration", trend_data, window)["top3_share"].iloc[0]
    assert frame["share_lost"].iloc[2] == pytest.approx(top3)


def test_stress_test_stops_at_the_number_of_referrers(trend_data):
    # [1 Apr 2024, 31 Mar 2025]: B 700, A 600 only → two scenarios however many are asked for
    frame = registry.run("concentration_stress", trend_data, Window(date(2024, 4, 1), date(2025, 3, 31)),
                         params={"top": 5})
    assert frame["top_n"].tolist() == [1, 2]
    assert frame["share_lost"].tolist() == pytest.approx([7 / 13, 1.0])
