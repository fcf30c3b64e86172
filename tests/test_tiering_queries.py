"""Tiering queries on hand-made data: tier_assignments, scorecard's assigned_level, tiering (what it
would take to reach the next level), service_levels and prioritisation.

Window 2025-01-01 .. 2025-12-31 unless a test says otherwise. Expected numbers are worked out by hand
in the comments from tests/conftest.py's TINY rows or the rows written in the test.
"""

from __future__ import annotations

import random
from datetime import date

import pandas as pd
import pytest

from dashboard import registry, store
from dashboard.data import open_dataset
from dashboard.store import TierChange, open_store
from dashboard.window import Filters, Window
from tests.conftest import WINDOW
from tests.fixtures import write_dataset


@pytest.fixture()
def edits(tmp_path):
    opened = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()


def run(dataset, name, edits=None, window=WINDOW, filters=None, **params):
    tables = store.query_tables(edits) if edits is not None else None
    return registry.run(name, dataset, window, filters, params, extra_tables=tables)


def plain(value):
    return None if pd.isna(value) else value


def fees_dataset(directory, fees):
    """One referrer per entry, each with one inbound referral (2025-02-01) whose matter billed the amount
    (2025-03-01); an amount of None: a referrer with nothing at all."""
    referrers = [{"referrer_id": r, "name": f"Name {r}", "referrer_type": "bank"} for r in fees]
    billed = {r: a for r, a in fees.items() if a is not None}
    referrals = [{"referral_id": f"F{r}", "referred_on": "2025-02-01", "direction": "inbound", "referrer_id": r,
                  "fee_earner_id": "FE1", "to_team": "t", "client_id": f"C{r}", "work_type": "w",
                  "status": "won"} for r in billed]
    matters = [{"matter_id": f"M{r}", "client_id": f"C{r}", "team": "t", "work_type": "w",
                "opened_on": "2025-02-02", "referral_id": f"F{r}"} for r in billed]
    fee_rows = [{"matter_id": f"M{r}", "billed_on": "2025-03-01", "amount": a} for r, a in billed.items()]
    fee_earners = [{"fee_earner_id": "FE1", "full_name": "A", "team": "t", "office": "o", "grade": "g",
                    "cost_rate": 1.0}]
    return open_dataset(write_dataset(directory, {
        "referrers": referrers, "referrals": referrals, "matters": matters, "fees": fee_rows,
        "fee_earners": fee_earners}))


# --- tier_assignments and the scorecard's assigned_level ------------------------------------------

def test_tier_assignments_without_a_store_has_every_referrer_unassigned(tiny):
    frame = run(tiny, "tier_assignments")
    assert list(frame.columns) == ["referrer_id", "suggested_level", "assigned_level", "assigned_by",
                                   "assigned_at", "reason"]
    # suggested as test_queries.test_suggested_levels: R1 4000 → 4, R2 2000 → 3, R3 −50 → 1,
    # R4 activity → 1, R5 nothing → null, R6 relationship → 1
    assert [plain(v) for v in frame["suggested_level"]] == [4, 3, 1, 1, None, 1]
    assert frame["referrer_id"].tolist() == ["R1", "R2", "R3", "R4", "R5", "R6"]
    assert frame["assigned_level"].isna().all() and frame["assigned_by"].isna().all()


def test_tier_assignments_shows_the_current_decision(tiny, edits):
    edits.save("R2", 4, "Ann", "strategic bank", 0)
    edits.save("R2", 2, "Ben", "changed our mind", 1)   # current: version 2, Level 2 by Ben
    edits.save("R5", 1, "Ann", "new contact", 0)
    edits.save("R5", None, "Cy", "left the programme", 1)  # deliberately unassigned
    frame = run(tiny, "tier_assignments", edits).set_index("referrer_id")
    r2 = frame.loc["R2"]
    assert (r2.suggested_level, r2.assigned_level, r2.assigned_by, r2.reason) == (3, 2, "Ben", "changed our mind")
    assert r2.assigned_at == edits.history("R2")["changed_at"].iloc[-1]
    r5 = frame.loc["R5"]
    assert pd.isna(r5.assigned_level) and (r5.assigned_by, r5.reason) == ("Cy", "left the programme")
    assert frame.loc[["R1", "R3", "R4", "R6"], "assigned_level"].isna().all()


def test_scorecard_gains_assigned_level_as_its_last_column(tiny, edits):
    edits.save_many([TierChange("R1", 3, 0), TierChange("R6", 2, 0)], "Ann", "board review")
    card = run(tiny, "scorecard", edits)
    assert card.columns[-1] == "assigned_level" and card.columns[-2] == "prune_candidate"
    levels = card.set_index("referrer_id")["assigned_level"]
    assert (levels["R1"], levels["R6"]) == (3, 2)
    assert levels.drop(["R1", "R6"]).isna().all()
    # the scorecard's own numbers do not depend on the store
    without = run(tiny, "scorecard")
    pd.testing.assert_frame_equal(card.drop(columns="assigned_level"), without.drop(columns="assigned_level"))


@pytest.mark.parametrize("window, filters", [
    (WINDOW, None),
    (Window(date(2024, 2, 1), date(2026, 1, 31)), None),
    (WINDOW, Filters(team=("property",))),
    (WINDOW, Filters(referrer_type=("bank", "law firm"))),
    (Window(date(2025, 12, 1), date(2025, 12, 31)), Filters(office=("London",))),
])
def test_suggested_level_is_the_scorecards_in_every_tiering_query(tiny, window, filters):
    card = run(tiny, "scorecard", window=window, filters=filters).set_index("referrer_id")["suggested_level"]
    for name in ("tier_assignments", "tiering", "prioritisation"):
        other = run(tiny, name, window=window, filters=filters).set_index("referrer_id")["suggested_level"]
        assert other.sort_index().equals(card.sort_index()), name


# --- tiering: what it would take to reach the next level ------------------------------------------

def test_fees_to_next_level_hand_computed(tmp_path):
    # Fees R1 60, R2 25, R3 10, R4 5 (total 100; `before` 0, .6, .85, .95 → Levels 4, 3, 2, 2);
    # R5 −20 (a credit note: Level 1); R6 nothing (no level).
    ds = fees_dataset(tmp_path, {"R1": 60.0, "R2": 25.0, "R3": 10.0, "R4": 5.0, "R5": -20.0, "R6": None})
    frame = run(ds, "tiering").set_index("referrer_id")
    assert [plain(v) for v in frame.loc[["R1", "R2", "R3", "R4", "R5", "R6"], "suggested_level"]] == [
        4, 3, 2, 2, 1, None]
    gap = frame["fees_to_next_level"]
    nxt = frame["next_level"]
    # R1: Level 4 is the top → no next level
    assert pd.isna(nxt["R1"]) and pd.isna(gap["R1"])
    # R2 → Level 4 (< 0.5): below R1, others' fees 75: 60 / (75 + x) < 0.5 ⇔ x > 45 → 20 more
    assert nxt["R2"] == 4 and gap["R2"] == pytest.approx(20.0)
    # R3 → Level 3 (< 0.8): in place, others 90: 85 / (90 + x) < 0.8 ⇔ x > 16.25 → 6.25 more
    assert nxt["R3"] == 3 and gap["R3"] == pytest.approx(6.25)
    # R4 → Level 3: in place needs 95 / (95 + x) < 0.8 ⇔ x > 23.75, but that passes R3 (10); above R3:
    # 85 / (95 + x) < 0.8 ⇔ x > 11.25 (> 10, so it does rank above R3) → 6.25 more
    assert nxt["R4"] == 3 and gap["R4"] == pytest.approx(6.25)
    # R5 → Level 2: any fees above 0, i.e. more than 20
    assert nxt["R5"] == 2 and gap["R5"] == pytest.approx(20.0)
    # R6 → Level 1 by a referral, relationship or activity, not by fees
    assert nxt["R6"] == 1 and pd.isna(gap["R6"])


def test_fees_to_next_level_where_passing_the_referrer_above_is_what_it_takes(tmp_path):
    # Fees R1 70, R2 20, R3 10 (total 100; before 0, .7, .9 → 4, 3, 2).
    # R3 → Level 3 in place: 90 / (90 + x) < 0.8 ⇔ x > 22.5, more than R2's 20, so not in place; above R2:
    # 70 / (90 + x) < 0.8 ⇔ x > −2.5, but it must pass R2 → x > 20 → 10 more.
    # R2 → Level 4: 70 / (80 + x) < 0.5 ⇔ x > 60 (under R1's 70) → 40 more.
    ds = fees_dataset(tmp_path, {"R1": 70.0, "R2": 20.0, "R3": 10.0})
    gap = run(ds, "tiering").set_index("referrer_id")["fees_to_next_level"]
    assert gap["R3"] == pytest.approx(10.0)
    assert gap["R2"] == pytest.approx(40.0)


def test_exactly_on_a_threshold_any_more_fees_are_enough(tmp_path):
    # test_queries' strict thresholds: 50, 30, 15, 5 → before .5 (Level 3) and .8 (Level 2):
    # R2: 50 / (100 + x) < 0.5 for any x > 0; R3: 80 / (100 + x) < 0.8 likewise → 0 more.
    ds = fees_dataset(tmp_path, {"R1": 50.0, "R2": 30.0, "R3": 15.0, "R4": 5.0})
    gap = run(ds, "tiering").set_index("referrer_id")["fees_to_next_level"]
    assert gap["R2"] == pytest.approx(0.0, abs=1e-9) and gap["R3"] == pytest.approx(0.0, abs=1e-9)


def _levels(fees):
    """metrics.md's rule for the referrers with fees > 0 (ranked by fees desc, id asc)."""
    ranked = sorted((r for r in fees if fees[r] > 0), key=lambda r: (-fees[r], r))
    total = sum(fees[r] for r in ranked)
    levels, before = {}, 0.0
    for r in ranked:
        levels[r] = 4 if before / total < 0.5 else 3 if before / total < 0.8 else 2
        before += fees[r]
    return levels


def test_fees_to_next_level_is_exactly_the_threshold_on_random_portfolios(tmp_path):
    # Property: with more than the gap the rule gives at least the next level; with less, it does not.
    rng = random.Random(7)
    for case in range(6):
        fees = {f"R{i:02d}": float(rng.choice([rng.randint(1, 500), rng.randint(1, 50), 100]))
                for i in range(rng.randint(3, 14))}
        ds = fees_dataset(tmp_path / f"case{case}", fees)
        frame = run(ds, "tiering").set_index("referrer_id")
        for referrer, row in frame.iterrows():
            if row.suggested_level not in (2, 3):
                continue
            assert _levels(fees)[referrer] == row.suggested_level
            gap = row.fees_to_next_level
            above = dict(fees, **{referrer: fees[referrer] + gap + 1e-6})
            # (passing a referrer above can lift it two levels at once: at least the next one)
            assert _levels(above)[referrer] >= row.suggested_level + 1, (case, referrer, gap)
            if gap > 1e-6:
                below = dict(fees, **{referrer: fees[referrer] + gap - 1e-6})
                assert _levels(below)[referrer] <= row.suggested_level, (case, referrer, gap)


def test_tiering_carries_the_assignment_version_and_the_differs_flag(tiny, edits):
    edits.save("R1", 4, "Ann", "as suggested", 0)       # same as suggested → not differing
    edits.save("R2", 1, "Ann", "cooling off", 0)        # suggested 3 → differs
    edits.save("R2", 2, "Ben", "a little warmer", 1)    # version 2
    edits.save("R5", 2, "Ann", "a hunch", 0)            # suggested null → differs
    frame = run(tiny, "tiering", edits).set_index("referrer_id")
    assert frame.loc[["R1", "R2", "R3", "R5"], "version"].tolist() == [1, 2, 0, 1]
    assert frame["differs_from_suggested"].to_dict() == {
        "R1": False, "R2": True, "R3": False, "R4": False, "R5": True, "R6": False}
    assert frame.index.tolist() == ["R1", "R2", "R4", "R5", "R6", "R3"]  # largest referred fees first


# --- service levels -------------------------------------------------------------------------------

LEVELS_FILE = """
[service]
under_served_below = 0.5
over_served_above = 1.5

[[level]]
number = 4
name = "Platinum"
menu = ["partner programme"]
activity_types = ["hospitality"]
budget_hours = 10
budget_money = 1000

[[level]]
number = 3
name = "Gold"
menu = ["roundtables"]
activity_types = ["lunch"]
budget_hours = 4
budget_money = 100

[[level]]
number = 2
name = "Silver"
menu = ["coffee"]
activity_types = ["coffee", "seminar"]
budget_hours = 2
budget_money = 50

[[level]]
number = 1
name = "Bronze"
menu = ["mailings"]
activity_types = ["newsletter"]
budget_hours = 2
budget_money = 20
"""


@pytest.fixture()
def budgets(tmp_path, monkeypatch):
    path = tmp_path / "levels.toml"
    path.write_text(LEVELS_FILE)
    monkeypatch.setenv("REFPORT_LEVELS", str(path))
    return path


def test_service_levels_hand_computed(tiny, budgets):
    # 12 months to end: 2025-01-01 .. 2025-12-31. A3 (R4, 2024-12-31) is one day outside.
    frame = run(tiny, "service_levels").set_index("referrer_id")
    # R5 has no level → no row; Level 4 first, then by cost
    assert frame.index.tolist() == ["R1", "R2", "R4", "R3", "R6"]
    assert frame["period_start"].iloc[0] == date(2025, 1, 1) and frame["period_end"].iloc[0] == date(2025, 12, 31)
    # R1 Level 4 (suggested): A1 lunch 2 h, expense 100, cost 2 × 100 + 100 = 300;
    # 2/10 = 20% and 100/1000 = 10% of budget, both under 50% → under-served; lunch is Level 3's: on menu
    r1 = frame.loc["R1"]
    assert (r1.level, r1.level_source, r1.level_name) == (4, "suggested", "Platinum")
    assert (r1.hours_12m, r1.expense_12m, r1.cost_12m, r1.activities_12m) == (2.0, 100.0, 300.0, 1)
    assert (r1.hours_used, r1.money_used) == (pytest.approx(0.2), pytest.approx(0.1))
    assert (r1.service_level, r1.off_menu_activities, r1.off_menu_cost_12m) == ("under-served", 0, 0.0)
    # R2 Level 3: A4 coffee on the end date, 1 h, 10 → 25% and 10% → under-served
    assert frame.loc["R2", "service_level"] == "under-served" and frame.loc["R2", "cost_12m"] == 60.0
    # R4 Level 1: A2 seminar 3 h (= 1.5 × 2, not above) and 50 (> 1.5 × 20 = 30) → over-served;
    # a seminar is on Level 2's menu → off menu, cost 3 × 50 + 50 = 200
    r4 = frame.loc["R4"]
    assert (r4.hours_12m, r4.expense_12m, r4.service_level) == (3.0, 50.0, "over-served")
    assert (r4.off_menu_activities, r4.off_menu_cost_12m, r4.off_menu_types) == (1, 200.0, "seminar")
    # R3 (a newsletter of 0 h) and R6 (nothing) at Level 1: nothing spent → under-served
    assert frame.loc[["R3", "R6"], "service_level"].tolist() == ["under-served", "under-served"]
    assert frame.loc["R6", "activities_12m"] == 0 and pd.isna(frame.loc["R6", "off_menu_types"])


def test_service_levels_use_the_assigned_level(tiny, budgets, edits):
    edits.save("R2", 1, "Ann", "downgraded", 0)
    edits.save("R6", 1, "Ann", "x", 0)
    edits.save("R6", None, "Ann", "out of the programme", 1)
    frame = run(tiny, "service_levels", edits).set_index("referrer_id")
    assert "R6" not in frame.index  # deliberately unassigned: no budget to check against
    r2 = frame.loc["R2"]
    # Level 1 now: 1 h is exactly 50% of 2 (not under), 10 of 20 is 50% → on budget; coffee is Level 2's
    assert (r2.level, r2.level_source, r2.service_level) == (1, "assigned", "on budget")
    assert (r2.off_menu_activities, r2.off_menu_cost_12m) == (1, 60.0)


def test_service_period_is_twelve_months_whatever_the_window(tiny, budgets):
    # a two-year window ending 2025-12-31: A3 (2024-12-31) is in the window but not in the 12 months
    frame = run(tiny, "service_levels", window=Window(date(2024, 1, 1), date(2025, 12, 31)))
    assert frame.set_index("referrer_id").loc["R4", "hours_12m"] == 3.0


# --- prioritisation ---------------------------------------------------------------------------------

def test_potential_score_hand_computed(tiny):
    # Window 2025: 365 days, second half from 2025-01-01 + 182 days = 2025-07-02.
    # R1: referrals 01-01, 03-10 (first half), 12-31 (second) → trend 1/3; strength 4/5; 2 fee earners → 0.4;
    #     law firm mean fees 4000 = the best type → 1.
    #     100 × (0.35 × 0.8 + 0.25 × 0.4 + 0.25 / 3 + 0.15 × 1) = 61.333
    # R2: 05-05, 06-06 first, 11-11 second → 1/3; strength 3/5; 1 fee earner → 0.2; bank 2000/4000 = 0.5
    #     100 × (0.21 + 0.05 + 0.083333 + 0.075) = 41.833
    # R3: 07-07 second → trend 1; nothing else (accountancy mean −50 counts as 0) → 25
    # R6: strength 1/5, 1 fee earner → 100 × (0.07 + 0.05) = 12; R4, R5: 0
    frame = run(tiny, "prioritisation").set_index("referrer_id")
    assert frame.index.tolist() == ["R1", "R2", "R3", "R6", "R4", "R5"]  # highest potential first
    assert frame["potential_score"].tolist() == pytest.approx([61.3333333, 41.8333333, 25.0, 12.0, 0.0, 0.0])
    assert frame.loc["R1", ["referrals_first_half", "referrals_second_half"]].tolist() == [2, 1]
    assert frame.loc["R1", "trend_score"] == pytest.approx(1 / 3) and frame.loc["R4", "trend_score"] == 0.0
    # y = referred fees, cut at the median of those above 0: (4000 + 2000) / 2 = 3000; x cut 50
    assert (frame["y_cut"].iloc[0], frame["x_cut"].iloc[0]) == (3000.0, 50.0)
    assert frame["quadrant"].to_dict() == {"R1": "Invest", "R2": "Reduce or prune", "R3": "Reduce or prune",
                                           "R6": "Reduce or prune", "R4": "Reduce or prune",
                                           "R5": "Reduce or prune"}


@pytest.mark.parametrize("x_cut, y_cut, expected", [
    # R2 (41.8, 2000) and R3 (25, −50) are the ones that move
    (20, 2500, {"R1": "Invest", "R2": "Develop", "R3": "Develop", "R6": "Reduce or prune"}),
    (45, 1500, {"R1": "Invest", "R2": "Maintain", "R3": "Reduce or prune", "R6": "Reduce or prune"}),
    # x just above R2's 41.83; y exactly R2's 2000: on the line counts as high
    (41.84, 2000, {"R1": "Invest", "R2": "Maintain", "R3": "Reduce or prune", "R6": "Reduce or prune"}),
])
def test_quadrant_lines_move(tiny, x_cut, y_cut, expected):
    frame = run(tiny, "prioritisation", x_cut=x_cut, y_cut=y_cut).set_index("referrer_id")
    assert {r: frame.loc[r, "quadrant"] for r in expected} == expected


def test_ror_axis_leaves_out_referrers_without_investment(tiny):
    # ROR: R1 4000 / 300 = 13.33, R2 2000 / 60 = 33.33, R4 0 / 200 = 0; R3 (cost 0), R5, R6: none.
    # y cut: median of 13.33 and 33.33 = 23.33
    frame = run(tiny, "prioritisation", y="ror").set_index("referrer_id")
    assert frame.loc["R1", "y_value"] == pytest.approx(40 / 3) and frame.loc["R2", "y_value"] == pytest.approx(100 / 3)
    assert frame["y_cut"].iloc[0] == pytest.approx(70 / 3)
    assert frame.loc[["R3", "R5", "R6"], "quadrant"].isna().all()
    assert frame.loc["R2", "quadrant"] == "Maintain" and frame.loc["R1", "quadrant"] == "Develop"


def test_bad_prioritisation_parameters_are_refused(tiny):
    with pytest.raises(registry.QueryError, match="y of prioritisation must be one of referred_fees, ror"):
        run(tiny, "prioritisation", y="fees")


# --- programme levels configuration (dashboard/levels.py) -------------------------------------------

def test_the_default_programme_has_four_levels_with_menus_and_budgets():
    from dashboard import levels

    programme = levels.load(levels.DEFAULT_FILE)
    assert [lv.label for lv in programme.levels] == [
        "Level 4 · Platinum", "Level 3 · Gold", "Level 2 · Silver", "Level 1 · Bronze"]
    assert programme.level(1).menu[0].startswith("Social media connections")
    assert any("nominated relationship partner" in item for item in programme.level(4).menu)
    assert all(lv.budget_hours > 0 and lv.budget_money > 0 for lv in programme.levels)
    assert programme.level(4).budget_hours > programme.level(1).budget_hours
    assert programme.labels()[-1] == "Unassigned"
    assert [programme.parse(t) for t in ("4", "L3", "level 2", "bronze", "Level 4 · Platinum", "none")] == [
        4, 3, 2, 1, 4, None]


def test_a_firms_own_levels_file_replaces_the_default(budgets):
    from dashboard import levels

    programme = levels.load()  # REFPORT_LEVELS points at the test's file
    assert programme.source == budgets and programme.level(1).budget_money == 20.0


@pytest.mark.parametrize("change, message", [
    (('number = 1\nname = "Bronze"', 'number = 5\nname = "Bronze"'), "number must be 1, 2, 3 or 4, got 5"),
    (('number = 1\nname = "Bronze"', 'number = 2\nname = "Bronze"'), "Level 2 is defined twice"),
    (('name = "Gold"', 'name = ""'), "Level 3: name must be a non-empty text"),
    (("budget_hours = 4\n", "budget_hours = -4\n"), "Level 3: budget_hours must be a number of at least 0"),
    (('activity_types = ["newsletter"]', 'activity_types = ["coffee"]'),
     "activity type 'coffee' is on the menus of Level 2 and Level 1"),
    (("under_served_below = 0.5", "under_served_below = 2"), r"under_served_below \(2.0\) is above"),
])
def test_a_bad_levels_file_says_which_level_and_what_to_fix(tmp_path, change, message):
    from dashboard import levels

    old, new = change
    assert old in LEVELS_FILE
    path = tmp_path / "levels.toml"
    path.write_text(LEVELS_FILE.replace(old, new, 1))
    with pytest.raises(levels.LevelsError, match=message) as error:
        levels.load(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("filters", [Filters(), Filters(team=("corporate",)), Filters(referrer_type=("bank",)),
                                     Filters(region=("London",))])
def test_referrer_levels_gives_the_scorecards_suggested_level_for_every_referrer(sample_dir, filters):
    # kpi_measures reads the levels alone (referrer_levels); the scorecard works them out with the rest
    dataset = open_dataset(sample_dir)
    window = registry.default_window(dataset)
    card = registry.run("scorecard", dataset, window, filters).set_index("referrer_id")["suggested_level"]
    params = {"start": window.start, "end": window.end, **filters.as_params()}
    levels = dataset.cursor().execute(
        "select referrer_id, suggested_level from referrer_levels($start, $end, $team, $office, $work_type, "
        "$referrer_type, $region)", params).df().set_index("referrer_id")["suggested_level"]
    assert sorted(levels.index) == sorted(card.index)
    assert levels.reindex(card.index).astype("Int64").tolist() == card.astype("Int64").tolist()
    assert set(card.dropna().unique()) >= {1, 2} and card.notna().any()
