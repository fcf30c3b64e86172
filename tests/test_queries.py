"""Scorecard, concentration, funnel and completeness on the hand-made TINY portfolio.

Window 2025-01-01 .. 2025-12-31 (both inclusive). Every expected number is
worked out by hand in a comment from tests/conftest.py's rows.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from dashboard import registry
from dashboard.window import Filters, Window
from tests.conftest import WINDOW


def run(tiny, name, window=WINDOW, filters=None, **params):
    return registry.run(name, tiny, window, filters, params)


@pytest.fixture()
def card(tiny):
    return run(tiny, "scorecard").set_index("referrer_id")


def test_scorecard_has_the_cli_columns_in_order(tiny):
    columns = list(run(tiny, "scorecard").columns)
    expected = ["referrer_id", "name", "referrer_type", "referrals", "won", "lost", "declined", "open", "conversion_rate", "referred_fees", "investment_hours", "investment_cost", "ror", "outbound_referrals", "reciprocity_balance", "last_referral_on", "months_since_last_referral", "relationship_count", "fee_earners_who_know", "max_strength", "suggested_level", "prune_candidate"]
    assert columns[: len(expected)] == expected


def test_counts_include_both_window_edges_and_exclude_outside(card):
    # R1 inbound: RF1 2025-01-01 (start edge), RF2, RF3 2025-12-31 (end edge);
    # RF4 2024-12-31 and RF9 2026-01-01 are outside.
    r1 = card.loc["R1"]
    assert (r1.referrals, r1.won, r1.lost, r1.declined, r1.open) == (3, 1, 1, 0, 1)


def test_conversion_rate_ignores_open_and_is_null_without_decisions(card):
    assert card.loc["R1", "conversion_rate"] == pytest.approx(1 / 2)  # won 1 / (won 1 + lost 1)
    assert card.loc["R2", "conversion_rate"] == pytest.approx(2 / 3)  # RF5, RF14 won; RF6 declined
    assert pd.isna(card.loc["R4", "conversion_rate"])  # no referral in the window


def test_referred_fees_follow_the_work_and_net_credit_notes(card):
    # R1: M1 1000 (2026-01-15 500 after end) + M4 3000 (its referral RF4 predates
    # the window; 2024-12-31 700 before start) = 4000
    assert card.loc["R1", "referred_fees"] == pytest.approx(4000)
    # R2: M5 2000; M14 billed 2026-01-31, after end
    assert card.loc["R2", "referred_fees"] == pytest.approx(2000)
    # R3: M7 100 − 150 credit note = −50
    assert card.loc["R3", "referred_fees"] == pytest.approx(-50)
    # R4: M8 billed in 2022 only; internal M13 and direct M99 belong to no referrer
    assert card.loc["R4", "referred_fees"] == 0


def test_investment_cost_is_hours_times_cost_rate_plus_expense(card):
    # A1: 2 h × 100 + 100 = 300
    assert (card.loc["R1", "investment_hours"], card.loc["R1", "investment_cost"]) == (2, 300)
    # A2: 3 h × 50 + 50 = 200; A3 (2024-12-31) is outside
    assert (card.loc["R4", "investment_hours"], card.loc["R4", "investment_cost"]) == (3, 200)
    # A4 on the end date: 1 h × 50 + 10 = 60
    assert card.loc["R2", "investment_cost"] == 60


def test_ror_and_its_nulls(card):
    assert card.loc["R1", "ror"] == pytest.approx(4000 / 300)
    assert card.loc["R2", "ror"] == pytest.approx(2000 / 60)
    assert card.loc["R4", "ror"] == 0  # 0 fees / 200 invested
    assert pd.isna(card.loc["R3", "ror"])  # A5 costs 0


def test_outbound_and_reciprocity(card):
    # R2: RF10, RF11 outbound in the window; R1's RF12 is from 2024
    assert card.loc["R2", "outbound_referrals"] == 2
    assert card.loc["R2", "reciprocity_balance"] == 3 - 2
    assert (card.loc["R1", "outbound_referrals"], card.loc["R1", "reciprocity_balance"]) == (0, 3)


def test_last_referral_and_months_since(card):
    assert card.loc["R1", "last_referral_on"] == date(2025, 12, 31)  # RF9 (2026) is after end
    assert card.loc["R1", "months_since_last_referral"] == 0
    assert card.loc["R2", "months_since_last_referral"] == 1  # Nov → Dec 2025
    # R4's last referral predates the window: 2022-03-01 → 12 × 3 + (12 − 3) = 45
    assert card.loc["R4", "last_referral_on"] == date(2022, 3, 1)
    assert card.loc["R4", "months_since_last_referral"] == 45
    assert pd.isna(card.loc["R5", "last_referral_on"])
    assert pd.isna(card.loc["R5", "months_since_last_referral"])


def test_who_knows_who(card):
    # C1 (R1) is known by FE1 (4) and FE2 (2)
    r1 = card.loc["R1"]
    assert (r1.relationship_count, r1.fee_earners_who_know, r1.max_strength) == (2, 2, 4)
    assert (card.loc["R6", "relationship_count"], card.loc["R6", "max_strength"]) == (1, 1)
    assert pd.isna(card.loc["R5", "max_strength"])


def test_suggested_levels(card):
    # Ranked fees: R1 4000 (before 0 → 4), R2 2000 (before 4000/6000 = 0.67 → 3).
    # R3: referrals in the window but fees −50 → 1. R4: no referral in the
    # window, an activity → 1. R6: a relationship only → 1. R5: nothing → null.
    assert card.loc[["R1", "R2", "R3", "R4", "R6"], "suggested_level"].tolist() == [4, 3, 1, 1, 1]
    assert pd.isna(card.loc["R5", "suggested_level"])


def test_level_thresholds_are_strict_at_half_and_eighty_percent(tmp_path):
    from dashboard.data import open_dataset
    from tests.fixtures import write_dataset

    # Fees 50, 30, 15, 5 (total 100): `before` = 0, .5, .8, .95 → 4, 3, 2, 2.
    # R2 sits exactly at 0.5 (not < 0.5) and R3 exactly at 0.8 (not < 0.8).
    referrers = [{"referrer_id": f"R{i}", "name": f"R{i}", "referrer_type": "bank"} for i in range(1, 5)]
    referrals = [
        {"referral_id": f"RF{i}", "referred_on": "2025-02-01", "direction": "inbound", "referrer_id": f"R{i}",
         "fee_earner_id": "FE1", "to_team": "t", "client_id": f"C{i}", "work_type": "w", "status": "won"}
        for i in range(1, 5)
    ]
    matters = [{"matter_id": f"M{i}", "client_id": f"C{i}", "team": "t", "work_type": "w",
                "opened_on": "2025-02-02", "referral_id": f"RF{i}"} for i in range(1, 5)]
    fees = [{"matter_id": f"M{i}", "billed_on": "2025-03-01", "amount": a}
            for i, a in zip(range(1, 5), (50.0, 30.0, 15.0, 5.0))]
    fee_earners = [{"fee_earner_id": "FE1", "full_name": "A", "team": "t", "office": "o", "grade": "g",
                    "cost_rate": 1.0}]
    ds = open_dataset(write_dataset(tmp_path, {"referrers": referrers, "referrals": referrals,
                                               "matters": matters, "fees": fees, "fee_earners": fee_earners}))
    card = registry.run("scorecard", ds, WINDOW).set_index("referrer_id")
    assert card["suggested_level"].tolist() == [4, 3, 2, 2]
    conc = registry.run("concentration", ds, WINDOW).iloc[0]
    # 80%: R1 (before 0) and R2 (before 0.5) — R3 starts at exactly 0.8
    assert conc.referrers_for_80pct == 2


def _two_referrers(directory, fees):
    """Referrers RB and RA (listed in that order), each with one won referral in February 2025 whose
    matter (MRB, MRA) was opened the same day; ``fees``: the fee rows on those matters."""
    from dashboard.data import open_dataset
    from tests.fixtures import write_dataset

    rows = {
        "referrers": [{"referrer_id": r, "name": r, "referrer_type": "bank"} for r in ("RB", "RA")],
        "referrals": [{"referral_id": f"F{r}", "referred_on": "2025-02-01", "direction": "inbound",
                       "referrer_id": r, "fee_earner_id": "FE1", "to_team": "t", "client_id": r,
                       "work_type": "w", "status": "won"} for r in ("RB", "RA")],
        "matters": [{"matter_id": f"M{r}", "client_id": r, "team": "t", "work_type": "w",
                     "opened_on": "2025-02-01", "referral_id": f"F{r}"} for r in ("RB", "RA")],
        "fees": fees,
    }
    return open_dataset(write_dataset(directory, rows))


def test_fee_ties_rank_by_referrer_id(tmp_path):
    # Two referrers with equal fees 50/50: RA ranks first (before 0 → 4), RB
    # has before = 0.5 → 3.
    ds = _two_referrers(tmp_path, [{"matter_id": f"M{r}", "billed_on": "2025-02-01", "amount": 50.0}
                                   for r in ("RB", "RA")])
    card = registry.run("scorecard", ds, WINDOW).set_index("referrer_id")
    assert card.loc["RA", "suggested_level"] == 4
    assert card.loc["RB", "suggested_level"] == 3
    conc = registry.run("concentration", ds, WINDOW).iloc[0]
    assert conc.gini == pytest.approx(0.0)
    assert conc.hhi == pytest.approx(0.5)


def test_equal_fees_summed_in_another_order_still_tie_and_rank_by_referrer_id(tmp_path):
    # RB's fees 0.1 + 0.2 add up to 0.30000000000000004 in floating point, RA's one fee is 0.3: the same
    # money, so a tie, and RA (the lower id) ranks first on every page, whatever the sum's last bits.
    ds = _two_referrers(tmp_path, [{"matter_id": "MRB", "billed_on": "2025-02-01", "amount": 0.1},
                                   {"matter_id": "MRB", "billed_on": "2025-02-02", "amount": 0.2},
                                   {"matter_id": "MRA", "billed_on": "2025-02-01", "amount": 0.3}])
    card = registry.run("scorecard", ds, WINDOW)
    assert card["referred_fees"].tolist() == pytest.approx([0.3, 0.3])
    assert card["referrer_id"].tolist() == ["RA", "RB"]
    assert card.set_index("referrer_id")["suggested_level"].to_dict() == {"RA": 4, "RB": 3}
    assert registry.run("referred_fees", ds, WINDOW)[["referrer_id", "rank"]].values.tolist() == [
        ["RA", 1], ["RB", 2]]
    assert registry.run("tiering", ds, WINDOW)["referrer_id"].tolist() == ["RA", "RB"]


def test_prune_candidates(card):
    # R4: 200 invested, last referral 2022 (before 2024-01-01, the 24 months to end) → prune.
    # R3: referred in 2025 and invested 0 → no. R1: Level 4 → never.
    assert card["prune_candidate"][card["prune_candidate"]].index.tolist() == ["R4"]


def test_prune_looks_back_24_months_from_end_whatever_the_window(tiny):
    # A one-month window: R2 invested 60 on 2025-12-31 and referred on
    # 2025-11-11, inside the 24 months to end, so it is not a candidate even
    # though it has no referral in the window itself.
    card = run(tiny, "scorecard", window=Window(date(2025, 12, 1), date(2025, 12, 31))).set_index("referrer_id")
    assert card.loc["R2", "referrals"] == 0
    assert not card.loc["R2", "prune_candidate"]


def test_concentration(tiny):
    c = run(tiny, "concentration").iloc[0]
    # Fees > 0: R1 4000, R2 2000 (R3's −50 is left out)
    assert c.referrers_with_fees == 2
    assert c.total_referred_fees == pytest.approx(6000)
    assert c.top3_share == pytest.approx(1.0)
    assert c.hhi == pytest.approx((4 / 6) ** 2 + (2 / 6) ** 2)  # 5/9
    # Σ|xi − xj| = 2 × 2000; 2 n² x̄ = 2 × 4 × 3000 → 1/6
    assert c.gini == pytest.approx(1 / 6)
    assert c.referrers_for_80pct == 2  # R1 alone is 66.7%


def test_concentration_with_no_fees_is_empty_not_an_error(tiny):
    c = run(tiny, "concentration", window=Window(date(2020, 1, 1), date(2020, 12, 31))).iloc[0]
    assert c.referrers_with_fees == 0 and c.total_referred_fees == 0
    assert pd.isna(c.top3_share) and pd.isna(c.gini) and c.referrers_for_80pct == 0


def test_funnel(tiny):
    f = run(tiny, "funnel").set_index("step")
    # Received in the window: RF1, RF2, RF3, RF5, RF6, RF7, RF14 = 7
    # decided: all but RF3 (open) = 6; won: RF1, RF5, RF7, RF14 = 4
    # billed: RF1, RF5, RF7 (a fee row, even if a credit note follows);
    # RF14's only fee is after end.
    assert f["referrals"].tolist() == [7, 6, 4, 3]
    assert pd.isna(f.loc["received", "rate_from_previous"])
    assert f["rate_from_previous"].tolist()[1:] == pytest.approx([6 / 7, 4 / 6, 3 / 4])


def test_team_filter_narrows_referrals_and_matters(tiny):
    f = run(tiny, "funnel", filters=Filters(team=("property",))).set_index("step")
    # property: RF2 lost, RF5 won, RF6 declined, RF14 won → 4, 4, 2; billed RF5 only
    assert f["referrals"].tolist() == [4, 4, 2, 1]
    card = run(tiny, "scorecard", filters=Filters(team=("property",))).set_index("referrer_id")
    # R1's fees come from corporate matters M1 and M4 → none left
    assert card.loc["R1", "referred_fees"] == 0
    # activities by the fee earner's team: FE2 (property) ran A2 and A4
    assert card.loc["R1", "investment_cost"] == 0 and card.loc["R4", "investment_cost"] == 200


def test_referrer_filters_keep_only_matching_referrers(tiny):
    card = run(tiny, "scorecard", filters=Filters(referrer_type=("bank",)))
    assert card["referrer_id"].tolist() == ["R2"]
    f = run(tiny, "funnel", filters=Filters(region=("London",))).set_index("step")
    # London referrers R1, R3, R5: RF1, RF2, RF3, RF7 → decided 3, won 2, billed 2
    assert f["referrals"].tolist() == [4, 3, 2, 2]


def test_office_filter_goes_through_the_fee_earner(tiny):
    f = run(tiny, "funnel", filters=Filters(office=("Leeds",))).set_index("step")
    # FE2 (Leeds) received the property referrals: same as the property team
    assert f["referrals"].tolist() == [4, 4, 2, 1]


def test_completeness(tiny):
    c = run(tiny, "completeness").set_index("measure")["share"]
    assert c["inbound referrals with a named contact"] == pytest.approx(1 / 7)  # RF1 only
    assert c["matters linked to their referral"] == pytest.approx(6 / 7)  # M8 opened 2022; M99 unlinked
    assert c["activities with hours recorded"] == pytest.approx(3 / 4)  # A1, A2, A4 of A1, A2, A4, A5
    assert c["referrers with at least one relationship"] == pytest.approx(3 / 6)  # R1, R2, R6
    assert c["completeness score"] == pytest.approx((1 / 7 + 6 / 7 + 3 / 4 + 1 / 2) / 4)


def test_headline_equals_the_queries_it_summarises(tiny):
    h = run(tiny, "headline").iloc[0]
    assert h.inbound_referrals == 7 and h.won == 4 and h.decided == 6
    assert h.conversion_rate == pytest.approx(4 / 6)
    assert h.referred_fees == pytest.approx(4000 + 2000 - 50)
    assert (h.referrers_with_fees, h.top3_share, h.prune_candidates) == (2, 1.0, 1)
    assert h.prune_investment_cost == 200


def test_default_window_ends_at_the_latest_date_in_the_data(tiny):
    # latest: fee M14 2026-01-31 → start 2024-02-01
    assert registry.default_window(tiny) == Window(date(2024, 2, 1), date(2026, 1, 31))


def test_every_query_file_has_a_complete_header():
    for query in registry.queries().values():
        assert query.purpose and query.grain, query.name


def test_window_edges_inside_months_count_by_the_day(tiny):
    # 2025-01-02 .. 2025-12-30: the month facts give February to November, the edge days the rest.
    card = run(tiny, "scorecard", Window(date(2025, 1, 2), date(2025, 12, 30))).set_index("referrer_id")
    r1 = card.loc["R1"]
    # RF1 (2025-01-01) and RF3 (2025-12-31) fall a day outside; RF2 (2025-03-10, lost) is in
    assert (r1.referrals, r1.won, r1.lost, r1.open) == (1, 0, 1, 0)
    assert r1.last_referral_on == date(2025, 3, 10)  # RF3 is after the end
    # M1 2025-02-01 1000 + M4 2025-01-31 3000
    assert r1.referred_fees == pytest.approx(4000)
    assert r1.investment_cost == pytest.approx(300)  # A1 2025-02-02
    # A4 (2025-12-31) is after the end
    assert card.loc["R2", "investment_cost"] == 0


@pytest.mark.parametrize("window", [
    Window(date(2025, 1, 1), date(2025, 12, 31)),    # whole months only
    Window(date(2025, 1, 2), date(2025, 12, 30)),    # both edges cut a month
    Window(date(2025, 3, 5), date(2025, 3, 20)),     # inside one month
    Window(date(2025, 1, 31), date(2025, 2, 1)),     # two edge days, no whole month
    Window(date(2025, 12, 31), date(2025, 12, 31)),  # one day
], ids=str)
@pytest.mark.parametrize("name", [
    "scorecard", "prioritisation", "service_levels", "tiering", "concentration", "concentration_trend",
    "internal_flows", "referrer_lifetime", "kpi_measures", "funnel", "moved_contacts",
])
def test_month_facts_agree_with_the_rows(tiny, name, window):
    # Without a team, office or work-type filter these read the month and day facts (queries/_facts)
    # plus the rows of the window's edge days; with one, the rows only. A team filter naming every
    # team keeps every row of TINY, so the two ways must give the same result.
    every_team = Filters(team=("corporate", "property"))
    pd.testing.assert_frame_equal(run(tiny, name, window), run(tiny, name, window, every_team),
                                  check_exact=False, rtol=1e-9)


def test_result_frames_keep_integers_with_nulls_dates_and_nullable_booleans():
    import pyarrow as pa

    table = pa.table({
        "level": pa.array([4, None, 1], pa.int32()),
        "referrals": pa.array([3, 0, 2**40], pa.int64()),
        "told": pa.array([True, None, False]),
        "on": pa.array([date(2026, 1, 31), None, date(2025, 12, 1)], pa.date32()),
        "name": pa.array(["a", None, "c"]),
    })
    frame = registry.to_frame(table)
    assert frame["level"].dtype == "Int64" and frame["level"].tolist() == [4, pd.NA, 1]
    assert frame["referrals"].dtype == "Int64" and frame["referrals"].tolist() == [3, 0, 2**40]
    assert frame["told"].dtype == "boolean" and frame["told"].tolist() == [True, pd.NA, False]
    assert frame["on"].tolist() == [date(2026, 1, 31), None, date(2025, 12, 1)]
    assert frame["name"].tolist()[::2] == ["a", "c"] and pd.isna(frame["name"][1])
    assert registry.to_frame(table.slice(0, 0))["level"].dtype == "Int64"


def test_result_frames_of_several_chunks_and_of_twin_column_names():
    import pyarrow as pa

    # DuckDB hands back results in chunks; nulls in some of them only
    chunked = pa.Table.from_batches([
        pa.record_batch({"n": pa.array([1, None], pa.int32()), "on": pa.array([date(2026, 1, 1), None])}),
        pa.record_batch({"n": pa.array([3, 4], pa.int32()), "on": pa.array([None, date(2026, 1, 4)])}),
        pa.record_batch({"n": pa.array([None, 2**31 - 1], pa.int32()), "on": pa.array([None, None], pa.date32())}),
    ])
    frame = registry.to_frame(chunked)
    assert list(frame.columns) == ["n", "on"] and frame.index.equals(pd.RangeIndex(6))
    assert frame["n"].dtype == "Int64" and frame["n"].tolist() == [1, pd.NA, 3, 4, pd.NA, 2**31 - 1]
    assert frame["on"].tolist() == [date(2026, 1, 1), None, None, date(2026, 1, 4), None, None]
    # a select may name two columns alike: both are kept, in order
    twins = pa.table([pa.array([1, None]), pa.array(["x", "y"]), pa.array([5, 6])], names=["a", "b", "a"])
    frame = registry.to_frame(twins)
    assert list(frame.columns) == ["a", "b", "a"]
    assert frame.iloc[:, 0].tolist() == [1, pd.NA] and frame.iloc[:, 2].tolist() == [5, 6]
    assert [str(t) for t in frame.dtypes] == ["Int64", str(frame.dtypes.iloc[1]), "Int64"]
    only_integers = registry.to_frame(pa.table({"k": pa.array([7, 8], pa.int16())}))
    assert only_integers["k"].tolist() == [7, 8] and len(only_integers) == 2
