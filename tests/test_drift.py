"""Strategic drift (metrics.md "Strategic drift"): drift, drift_mix, drift_referrers, target_mix.

Every expected number is worked out by hand in the comments next to it.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dashboard import registry
from dashboard.data import open_dataset
from dashboard.window import Filters, Window
from tests.fixtures import write_dataset

# Partial quarters at both edges: 2025Q1 from 15 Feb, 2025Q4 up to 10 Nov.
WINDOW = Window(date(2025, 2, 15), date(2025, 11, 10))


def _inbound(rid, on, referrer, work_type, value, direction="inbound"):
    return {
        "referral_id": rid, "referred_on": on, "direction": direction, "referrer_id": referrer,
        "fee_earner_id": "FE1", "to_team": "corporate", "client_id": f"CL-{rid}",
        "work_type": work_type, "status": "open", "estimated_value": value,
        "from_team": "property" if direction == "internal" else None,
    }


DRIFT = {
    "fee_earners": [
        {"fee_earner_id": "FE1", "full_name": "Ann Archer", "team": "corporate", "office": "London",
         "grade": "partner", "cost_rate": 100.0},
    ],
    "referrers": [
        {"referrer_id": "R1", "name": "Alpha LLP", "referrer_type": "law firm", "region": "London"},
        {"referrer_id": "R2", "name": "Beta Bank", "referrer_type": "bank", "region": "North"},
        {"referrer_id": "R3", "name": "Gamma Accountants", "referrer_type": "accountancy",
         "region": "North"},
    ],
    "referrals": [
        _inbound("X1", "2025-02-14", "R1", "corporate finance", 100.0),  # a day before the window
        _inbound("X2", "2025-02-15", "R1", "corporate finance", 100.0),  # Q1, the window's first day
        _inbound("X3", "2025-03-31", "R2", "conveyancing", None),        # Q1, its last day; no target ever
        _inbound("X4", "2025-04-01", "R1", "corporate finance", 300.0),  # Q2, its first day
        _inbound("X5", "2025-05-01", "R2", "employment", 100.0),         # Q2, the day the targets change
        _inbound("X6", "2025-06-30", "R2", "insolvency", 100.0),         # Q2, its last day
        # nothing in Q3
        _inbound("X7", "2025-10-01", "R3", "conveyancing", None),        # Q4
        _inbound("X8", "2025-11-10", "R3", "conveyancing", None),        # Q4, the window's last day
        _inbound("X9", "2025-11-11", "R1", "corporate finance", 100.0),  # a day after the window
        _inbound("O1", "2025-10-15", "R1", "corporate finance", 100.0, direction="outbound"),
        _inbound("I1", "2025-10-16", None, "corporate finance", 100.0, direction="internal"),
    ],
    "work_type_targets": [
        # in force from 2024: 60/40; replaced mid-window (mid-quarter) on 1 May 2025
        {"work_type": "corporate finance", "target_share": 0.6, "effective_from": "2024-01-01"},
        {"work_type": "insolvency", "target_share": 0.4, "effective_from": "2024-01-01"},
        {"work_type": "corporate finance", "target_share": 0.5, "effective_from": "2025-05-01"},
        {"work_type": "employment", "target_share": 0.5, "effective_from": "2025-05-01"},
    ],
}


@pytest.fixture(scope="module")
def drift_data(tmp_path_factory):
    dataset = open_dataset(write_dataset(tmp_path_factory.mktemp("drift"), DRIFT))
    yield dataset
    dataset.connection.close()


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else v for v in row) for row in frame.itertuples(index=False)]


def test_drift_count_basis(drift_data):
    frame = registry.run("drift", drift_data, WINDOW)
    assert list(frame.columns) == ["quarter", "quarter_start", "referrals", "drift_tvd"]
    # One row per calendar quarter overlapping the window, partial edges included.
    assert frame["quarter"].tolist() == ["2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    assert frame["quarter_start"].tolist() == [
        date(2025, 1, 1), date(2025, 4, 1), date(2025, 7, 1), date(2025, 10, 1)]
    # Q1: X2, X3 (X1 is a day early); Q2: X4, X5, X6; Q3: none; Q4: X7, X8 (X9 a day late,
    # O1 outbound and I1 internal do not count).
    assert frame["referrals"].tolist() == [2, 3, 0, 2]
    tvd = frame["drift_tvd"].tolist()
    # Q1 targets (2024 set, in force on 1 Jan): cf 0.6, insolvency 0.4.
    # Actual: cf 1/2, conveyancing 1/2. ½(|0.5−0.6| + |0−0.4| + |0.5−0|) = ½(0.1+0.4+0.5) = 0.5
    assert tvd[0] == pytest.approx(0.5)
    # Q2 targets: still the 2024 set on 1 Apr (the change on 1 May does not count for Q2).
    # Actual: cf, employment, insolvency 1/3 each.
    # ½(|1/3−0.6| + |1/3−0.4| + |1/3−0|) = ½(4/15 + 1/15 + 5/15) = 1/3
    assert tvd[1] == pytest.approx(1 / 3)
    # Q3: nothing referred, so no drift.
    assert pd.isna(tvd[2])
    # Q4 targets: the May set, cf 0.5 and employment 0.5; actual conveyancing 1 (no target = 0).
    # ½(|1−0| + |0−0.5| + |0−0.5|) = 1
    assert tvd[3] == pytest.approx(1.0)


def test_drift_value_basis_excludes_null_values(drift_data):
    frame = registry.run("drift", drift_data, WINDOW, params={"basis": "value"})
    # referrals is the count whatever the basis
    assert frame["referrals"].tolist() == [2, 3, 0, 2]
    tvd = frame["drift_tvd"].tolist()
    # Q1: X2 cf 100, X3's value is null and excluded → cf 1.0.
    # ½(|1−0.6| + |0−0.4|) = 0.4
    assert tvd[0] == pytest.approx(0.4)
    # Q2: cf 300, employment 100, insolvency 100 of 500 → 0.6, 0.2, 0.2.
    # ½(|0.6−0.6| + |0.2−0.4| + |0.2−0|) = 0.2
    assert tvd[1] == pytest.approx(0.2)
    # Q3 empty; Q4: both values null → null although two referrals came in.
    assert pd.isna(tvd[2])
    assert pd.isna(tvd[3])


def test_drift_mix_count_basis(drift_data):
    frame = registry.run("drift_mix", drift_data, WINDOW)
    assert list(frame.columns) == ["quarter", "work_type", "actual_share", "target_share"]
    expected = {
        # Q1: insolvency has a target but no referral → actual 0; conveyancing no target → 0
        ("2025Q1", "corporate finance"): (0.5, 0.6),
        ("2025Q1", "insolvency"): (0.0, 0.4),
        ("2025Q1", "conveyancing"): (0.5, 0.0),
        # Q2 under the 2024 targets; employment has none yet
        ("2025Q2", "corporate finance"): (1 / 3, 0.6),
        ("2025Q2", "insolvency"): (1 / 3, 0.4),
        ("2025Q2", "employment"): (1 / 3, 0.0),
        # Q3: nothing referred → actual null; the May targets (insolvency dropped out)
        ("2025Q3", "corporate finance"): (None, 0.5),
        ("2025Q3", "employment"): (None, 0.5),
        # Q4
        ("2025Q4", "corporate finance"): (0.0, 0.5),
        ("2025Q4", "employment"): (0.0, 0.5),
        ("2025Q4", "conveyancing"): (1.0, 0.0),
    }
    got = {(q, w): (a, t) for q, w, a, t in _rows(frame)}
    assert got.keys() == expected.keys()
    for key, (actual, target) in expected.items():
        assert got[key][1] == pytest.approx(target), key
        if actual is None:
            assert got[key][0] is None, key
        else:
            assert got[key][0] == pytest.approx(actual), key
    # oldest quarter first; within a quarter the largest target first
    assert frame["quarter"].tolist() == sorted(frame["quarter"].tolist())
    assert frame.loc[frame["quarter"] == "2025Q1", "work_type"].tolist() == [
        "corporate finance", "insolvency", "conveyancing"]


def test_drift_mix_is_drift_tvd(drift_data):
    """drift_tvd = ½ Σ |actual − target| over drift_mix's rows, quarter by quarter."""
    for basis in ("count", "value"):
        drift = registry.run("drift", drift_data, WINDOW, params={"basis": basis})
        mix = registry.run("drift_mix", drift_data, WINDOW, params={"basis": basis})
        for quarter, tvd in zip(drift["quarter"], drift["drift_tvd"], strict=True):
            rows = mix[mix["quarter"] == quarter]
            if pd.isna(tvd):
                assert rows["actual_share"].isna().all()
            else:
                half = 0.5 * (rows["actual_share"] - rows["target_share"]).abs().sum()
                assert half == pytest.approx(tvd), (basis, quarter)


def test_drift_mix_value_basis(drift_data):
    got = {(q, w): (a, t) for q, w, a, t in _rows(
        registry.run("drift_mix", drift_data, WINDOW, params={"basis": "value"}))}
    # Q1: conveyancing's only value is null and it has no target → no row; cf 100 of 100.
    assert {w for q, w in got if q == "2025Q1"} == {"corporate finance", "insolvency"}
    assert got[("2025Q1", "corporate finance")] == pytest.approx((1.0, 0.6))
    assert got[("2025Q1", "insolvency")] == pytest.approx((0.0, 0.4))
    # Q2: 300/500, 100/500, 100/500
    assert got[("2025Q2", "corporate finance")] == pytest.approx((0.6, 0.6))
    assert got[("2025Q2", "employment")] == pytest.approx((0.2, 0.0))
    # Q4: all values null → nothing on this basis: only the targets, actual null
    assert {w for q, w in got if q == "2025Q4"} == {"corporate finance", "employment"}
    assert got[("2025Q4", "employment")][0] is None


def test_drift_filters_apply_to_referrals_not_targets(drift_data):
    # Referrer type accountancy keeps R3 only: X7, X8 in Q4.
    filters = Filters(referrer_type=("accountancy",))
    frame = registry.run("drift", drift_data, WINDOW, filters)
    assert frame["referrals"].tolist() == [0, 0, 0, 2]
    assert frame["drift_tvd"].isna().tolist() == [True, True, True, False]
    # Q4 as before: ½(1 + 0.5 + 0.5) = 1
    assert frame["drift_tvd"].iloc[3] == pytest.approx(1.0)


def test_drift_referrers(drift_data):
    frame = registry.run("drift_referrers", drift_data, WINDOW)
    assert list(frame.columns) == ["referrer_id", "referrals", "off_target_referrals",
                                   "off_target_share"]
    # Target in force on each referral's own date (threshold 0.05, no target = 0):
    #   R1: X2 cf 0.6, X4 cf 0.6                               → 2 referrals, 0 off
    #   R2: X3 conveyancing 0 (off); X5 employment on 1 May: the May set has 0.5 (on);
    #       X6 insolvency on 30 Jun: the May set has none → 0 (off) → 3 referrals, 2 off
    #   R3: X7, X8 conveyancing 0                              → 2 referrals, 2 off
    # Most off-target first (R2, R3 tie on 2: the larger share first), then by id.
    assert _rows(frame) == [
        ("R3", 2, 2, pytest.approx(1.0)),
        ("R2", 3, 2, pytest.approx(2 / 3)),
        ("R1", 2, 0, pytest.approx(0.0)),
    ]


def test_drift_referrers_threshold_edges(drift_data):
    # threshold 0.5: off when the target is below 0.5; employment's 0.5 is not below → R2 still 2
    at_half = registry.run("drift_referrers", drift_data, WINDOW, params={"threshold": 0.5})
    assert at_half.set_index("referrer_id")["off_target_referrals"].to_dict() == {
        "R1": 0, "R2": 2, "R3": 2}
    # threshold 0.6: cf's 0.6 is not below (R1 on target); employment 0.5 is → R2 3 of 3
    at_cf = registry.run("drift_referrers", drift_data, WINDOW, params={"threshold": "0.6"})
    assert at_cf.set_index("referrer_id")["off_target_referrals"].to_dict() == {
        "R1": 0, "R2": 3, "R3": 2}
    # just above 0.6: R1's two cf referrals are off as well
    above = registry.run("drift_referrers", drift_data, WINDOW, params={"threshold": 0.61})
    assert above.set_index("referrer_id")["off_target_share"].to_dict() == pytest.approx(
        {"R1": 1.0, "R2": 1.0, "R3": 1.0})


def test_target_in_force_per_quarter_vs_per_referral(tmp_path):
    """Targets first effective mid-quarter: the quarter has none in force on its first day
    (all targets 0), while a referral after that date is judged by them."""
    data = {
        "referrers": DRIFT["referrers"],
        "referrals": [_inbound("Y1", "2025-02-10", "R1", "corporate finance", 10.0)],
        "work_type_targets": [
            {"work_type": "corporate finance", "target_share": 1.0, "effective_from": "2025-02-01"},
        ],
    }
    dataset = open_dataset(write_dataset(tmp_path, data))
    try:
        window = Window(date(2025, 1, 1), date(2025, 3, 31))
        drift = registry.run("drift", dataset, window)
        # No target in force on 1 Jan: cf target 0, actual 1 → ½ × 1 = 0.5
        assert drift["drift_tvd"].tolist() == [pytest.approx(0.5)]
        mix = registry.run("drift_mix", dataset, window)
        assert _rows(mix) == [("2025Q1", "corporate finance", 1.0, 0.0)]
        # On 10 Feb the 1 Feb target (1.0) is in force → on target
        referrers = registry.run("drift_referrers", dataset, window)
        assert _rows(referrers) == [("R1", 1, 0, 0.0)]
    finally:
        dataset.connection.close()


def test_target_mix_lists_history(drift_data):
    frame = registry.run("target_mix", drift_data, WINDOW)
    # latest set first; the 2024 set stops the day before the May set; the May set is in
    # force at the window's end (10 Nov 2025)
    assert _rows(frame) == [
        (date(2025, 5, 1), None, "corporate finance", 0.5, True),
        (date(2025, 5, 1), None, "employment", 0.5, True),
        (date(2024, 1, 1), date(2025, 4, 30), "corporate finance", 0.6, False),
        (date(2024, 1, 1), date(2025, 4, 30), "insolvency", 0.4, False),
    ]
