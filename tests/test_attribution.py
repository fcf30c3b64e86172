"""Multi-touch attribution (metrics.md "Multi-touch attribution"), worked by hand.

Two levels: the model arithmetic of dashboard/attribution.py on journeys typed
in directly, and the named queries end to end on JOURNEYS below, a data set
whose every journey is written out in the comment beside it.
"""

from __future__ import annotations

import itertools
import json
import math
import threading
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from dashboard import attribution, registry
from dashboard.cli import main
from dashboard.data import open_dataset
from dashboard.window import Filters, Window
from tests.fixtures import write_dataset

WINDOW = Window(date(2025, 1, 1), date(2025, 12, 31))


def journeys(*paths, values=None, d=None):
    """journey_touches-shaped rows: one journey per path, conversions J1, J2, ...

    A path is a list of channels, or of (channel, referrer_id) pairs."""
    rows = []
    for j, path in enumerate(paths):
        for position, touch in enumerate(path, start=1):
            channel, referrer = touch if isinstance(touch, tuple) else (touch, None)
            rows.append({
                "matter_id": f"J{j + 1}", "value": (values or [0.0] * len(paths))[j],
                "n": len(path), "position": position, "channel": channel, "referrer_id": referrer,
                "d": (d[j][position - 1] if d else 0),
            })
    return pd.DataFrame(rows)


def nonconverting(*paths):
    return pd.DataFrame([
        {"client_id": f"N{j + 1}", "n": len(path), "position": p, "channel": c}
        for j, path in enumerate(paths) for p, c in enumerate(path, start=1)
    ])


def weights(frame, model, half_life=30.0):
    return [round(w, 12) for w in attribution.rule_weights(frame, model, half_life)]


def credit(frame, model, **kwargs):
    out = attribution.channel_credit(frame, model, **kwargs)
    return dict(zip(out["channel"], out["conversions"])), dict(zip(out["channel"], out["value"]))


# ----------------------------------------------------------- rule-based models


def test_single_touch_gets_everything_under_every_rule_based_model():
    one = journeys(["seminar"])
    for model in attribution.RULE_BASED:
        assert weights(one, model) == [1.0], model


def test_two_touches():
    two = journeys(["seminar", "referral"])
    assert weights(two, "first_touch") == [1.0, 0.0]
    assert weights(two, "last_touch") == [0.0, 1.0]
    assert weights(two, "linear") == [0.5, 0.5]
    assert weights(two, "position_based") == [0.5, 0.5]
    assert weights(two, "j_shaped") == [0.25, 0.75]
    assert weights(two, "inverse_j") == [0.75, 0.25]


def test_u_and_j_shapes_spread_the_middle_evenly():
    five = journeys(["a", "b", "c", "d", "e"])
    assert weights(five, "position_based") == pytest.approx([0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.4])
    assert weights(five, "j_shaped") == pytest.approx([0.2, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.6])
    assert weights(five, "inverse_j") == pytest.approx([0.6, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.2])
    three = journeys(["a", "b", "c"])
    assert weights(three, "position_based") == pytest.approx([0.4, 0.2, 0.4])


def test_time_decay_halves_the_weight_every_half_life():
    # d = 14, 7, 0 with a 7-day half-life: raw 1/4, 1/2, 1 → ÷ 1.75 → 1/7, 2/7, 4/7
    frame = journeys(["a", "b", "c"], d=[[14, 7, 0]])
    assert weights(frame, "time_decay", 7.0) == pytest.approx([1 / 7, 2 / 7, 4 / 7])
    # same day, same weight, whatever the half-life
    assert weights(journeys(["a", "b"], d=[[3, 3]]), "time_decay", 0.5) == [0.5, 0.5]
    # far-apart touches with a tiny half-life do not underflow to 0/0
    far = weights(journeys(["a", "b"], d=[[5000, 4000]]), "time_decay", 1.0)
    assert far == pytest.approx([0.0, 1.0]) and math.isfinite(sum(far))


def test_w_shaped_milestones():
    # first, first referral, last 30% each; 10% over the rest
    assert weights(journeys(["a", "b", "referral", "c", "d"]), "w_shaped") == pytest.approx(
        [0.3, 0.05, 0.3, 0.05, 0.3])
    # only the first referral is a milestone: the second is one of "the rest"
    assert weights(journeys(["a", "referral", "referral", "d"]), "w_shaped") == pytest.approx(
        [0.3, 0.3, 0.1, 0.3])


def test_w_shaped_coincident_milestones_add_up():
    # the referral is also the first touch: 0.6 on it; 0.1 to the single other touch
    assert weights(journeys(["referral", "b", "c"]), "w_shaped") == pytest.approx([0.6, 0.1, 0.3])
    # ... and the last: 0.3 first, 0.6 on the last, 0.1 split over the two others
    assert weights(journeys(["a", "b", "c", "referral"]), "w_shaped") == pytest.approx(
        [0.3, 0.05, 0.05, 0.6])


def test_w_shaped_without_other_touchpoints_shares_the_ten_percent_over_milestones():
    # two touches, referral last: milestones 0.3 (first) and 0.6 (referral + last);
    # no other touchpoint, so 0.1 is split over the two distinct milestone touchpoints
    assert weights(journeys(["a", "referral"]), "w_shaped") == pytest.approx([0.35, 0.65])
    assert weights(journeys(["referral", "a"]), "w_shaped") == pytest.approx([0.65, 0.35])
    # three touches, referral in the middle: three distinct milestones, 0.1 / 3 each
    assert weights(journeys(["a", "referral", "b"]), "w_shaped") == pytest.approx([1 / 3] * 3)
    # one touch that is every milestone: 0.9 + 0.1
    assert weights(journeys(["referral"]), "w_shaped") == [1.0]


def test_w_shaped_without_a_referral_is_position_based():
    frame = journeys(["a", "b", "c", "d"], ["a", "b"])
    assert weights(frame, "w_shaped") == weights(frame, "position_based")
    assert weights(frame, "w_shaped") == pytest.approx([0.4, 0.1, 0.1, 0.4, 0.5, 0.5])


def test_weights_sum_to_one_per_journey_for_every_rule_based_model():
    frame = journeys(["a"], ["a", "referral"], ["referral", "b", "referral", "c", "d"],
                     ["x", "y", "z"], d=[[1], [4, 2], [30, 20, 10, 5, 0], [9, 9, 9]])
    for model in attribution.RULE_BASED:
        sums = pd.Series(attribution.rule_weights(frame, model, 10.0)).groupby(frame["matter_id"]).sum()
        assert sums.tolist() == pytest.approx([1.0] * 4), model


# ---------------------------------------------------------------------- markov


def test_markov_removal_effects_worked_by_hand_with_a_channel_never_converting():
    # converting: A > B (value 100), B (value 50); non-converting: A, C > B, D
    # start → A 2/5, B 1/5, C 1/5, D 1/5; A → B 1/2, null 1/2; B → conv 2/3, null 1/3;
    # C → B 1; D → null 1.
    # P(conv from B) = 2/3, from A = 1/3, from C = 2/3, from D = 0;
    # P = 2/5·1/3 + 1/5·2/3 + 1/5·2/3 = 2/5.
    # without A: 4/15 → RE 1/3; without B: 0 → RE 1; without C: 4/15 → RE 1/3;
    # without D: 2/5 → RE 0. ΣRE = 5/3; 2 conversions, value 150.
    # C never converts itself yet earns credit (it leads to B); D earns nothing.
    conv = journeys(["A", "B"], ["B"], values=[100.0, 50.0])
    non = nonconverting(["A"], ["C", "B"], ["D"])
    transitions = attribution.transition_counts(conv, non)
    assert attribution.conversion_probability(transitions) == pytest.approx(2 / 5)
    effects = attribution.removal_effects(transitions)
    assert effects.to_dict() == pytest.approx({"A": 1 / 3, "B": 1.0, "C": 1 / 3, "D": 0.0})
    conversions, value = credit(conv, "markov", nonconverting=non)
    assert conversions == pytest.approx({"A": 0.4, "B": 1.2, "C": 0.4, "D": 0.0})
    assert value == pytest.approx({"A": 30.0, "B": 90.0, "C": 30.0, "D": 0.0})
    # the published ChannelAttribution package (2.2.5, simulated, 1e6 paths) gave
    # A 0.3990 / 29.84, B 1.1999 / 90.08, C 0.4011 / 30.08, D 0 / 0 on these paths.


def test_markov_without_nonconverting_journeys_and_with_repeats():
    # A > A > B and B, all converting: self-loops do not change absorption, P = 1;
    # without A: start → B only half the time → 1/2, RE 1/2; without B: 0, RE 1.
    conv = journeys(["A", "A", "B"], ["B"], values=[30.0, 0.0])
    conversions, value = credit(conv, "markov")
    assert conversions == pytest.approx({"A": 2 / 3, "B": 4 / 3})
    assert value == pytest.approx({"A": 10.0, "B": 20.0})


# --------------------------------------------------------------------- shapley


def _shapley_by_enumeration(channel_sets, weights_):
    """Textbook Shapley over all coalitions: φ_i = Σ_S |S|!(n−|S|−1)!/n! (v(S∪i) − v(S))."""
    players = sorted(set().union(*channel_sets))
    n = len(players)

    def v(coalition):
        return sum(w for s, w in zip(channel_sets, weights_) if s <= coalition)

    phi = {}
    for i in players:
        others = [p for p in players if p != i]
        phi[i] = sum(
            math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            * (v(set(s) | {i}) - v(set(s)))
            for k in range(n) for s in itertools.combinations(others, k)
        )
    return phi


def test_three_channel_shapley_game_worked_by_hand():
    # journeys A (value 30), B > A > B (60), C > B (90): channel sets {A}, {A,B}, {B,C}.
    # v(∅)=0, v(A)=1, v(B)=0, v(C)=0, v(AB)=2, v(AC)=1, v(BC)=1, v(ABC)=3.
    # Marginal contributions over the six orders (ABC, ACB, BAC, BCA, CAB, CBA):
    # A: 1, 1, 2, 2, 1, 2 → 9/6 = 1.5;  B: 1, 2, 0, 0, 2, 1 → 6/6 = 1.0;
    # C: 1, 0, 1, 1, 0, 0 → 3/6 = 0.5.  Value game (30, 60, 90 per journey):
    # v(A)=30, v(B)=v(C)=0, v(AB)=90, v(AC)=30, v(BC)=90, v(ABC)=180; over the same orders
    # A: 30, 30, 90, 90, 30, 90 → 60;  B: 60, 150, 0, 0, 150, 90 → 75;  C: 90, 0, 90, 90, 0, 0 → 45.
    frame = journeys(["A"], ["B", "A", "B"], ["C", "B"], values=[30.0, 60.0, 90.0])
    conversions, value = credit(frame, "shapley")
    assert conversions == pytest.approx({"A": 1.5, "B": 1.0, "C": 0.5})
    assert value == pytest.approx({"A": 60.0, "B": 75.0, "C": 45.0})
    sets = [{"A"}, {"A", "B"}, {"B", "C"}]
    assert _shapley_by_enumeration(sets, [1, 1, 1]) == pytest.approx(conversions)
    assert _shapley_by_enumeration(sets, [30, 60, 90]) == pytest.approx(value)


def test_shapley_equals_subset_enumeration_on_a_larger_game():
    paths = [["a", "b", "c", "d"], ["b"], ["c", "a"], ["d", "d", "e"], ["a", "e"], ["b", "c", "e", "a"]]
    values = [10.0, 20.0, -5.0, 40.0, 0.0, 7.0]  # a credit note makes one negative
    conversions, value = credit(journeys(*paths, values=values), "shapley")
    sets = [set(p) for p in paths]
    assert conversions == pytest.approx(_shapley_by_enumeration(sets, [1] * len(paths)))
    assert value == pytest.approx(_shapley_by_enumeration(sets, values))


# ------------------------------------------------------------ referrer split


def test_referrer_split_rule_based_and_through_linear_shares():
    # J1: seminar, referral R1, referral (no referrer), fee earner — value 100
    # J2: referral R2 — value 50
    frame = journeys(
        ["seminar", ("referral", "R1"), ("referral", None), ("fee earner", "R1")],
        [("referral", "R2")],
        values=[100.0, 50.0],
    )
    by = attribution.referrer_credit
    # linear: R1 1/4 (25); its fee-earner touch earns it nothing; R2 1 (50)
    linear = by(frame, "linear").set_index("referrer_id")
    assert linear["conversions"].to_dict() == pytest.approx({"R1": 0.25, "R2": 1.0})
    assert linear["value"].to_dict() == pytest.approx({"R1": 25.0, "R2": 50.0})
    # last_touch: R1 gets nothing but is still listed
    assert by(frame, "last_touch").set_index("referrer_id")["conversions"].to_dict() == {
        "R1": 0.0, "R2": 1.0}
    # shapley: referral channel 1/3 (J1 over 3 distinct channels) + 1 = 4/3, value 100/3 + 50.
    # linear referral credit 1/4 + 1/4 + 1 = 1.5 (R1 1/4, none 1/4, R2 1): R1 gets 4/3 · 1/6,
    # R2 4/3 · 2/3; the 1/6 of the unnamed touch stays unassigned. Value: linear referral
    # value 25 + 25 + 50 = 100: R1 (100/3 + 50) · 1/4, R2 (100/3 + 50) · 1/2.
    shapley = by(frame, "shapley").set_index("referrer_id")
    assert shapley["conversions"].to_dict() == pytest.approx({"R1": 4 / 3 / 6, "R2": 4 / 3 * 2 / 3})
    assert shapley["value"].to_dict() == pytest.approx({"R1": 250 / 3 / 4, "R2": 250 / 3 / 2})


@pytest.mark.parametrize("model", ["first_touch", "last_touch", "linear", "position_based", "j_shaped",
                                   "inverse_j", "w_shaped"])
def test_models_added_up_from_tallies_equal_touchpoint_by_touchpoint(model, monkeypatch):
    # journeys of 1 to 5 touchpoints, channels and referrers repeating, one touchpoint without a referrer,
    # the first referral at positions 1, 2, 3 and none (W-shaped tallies by it)
    frame = journeys(
        ["seminar", ("referral", "R1"), ("referral", None), ("fee earner", "R1")], [("referral", "R2")],
        [("referral", "R1"), "website", ("referral", "R2")], ["a", "b", ("referral", "R1"), "c", "d"],
        ["website", "website"], values=[100.0, 50.0, 30.0, 7.5, 0.0],
    )
    tallied = (attribution.channel_credit(frame, model), attribution.referrer_credit(frame, model))
    assert attribution.as_touches(frame).position_tallies is not None
    assert attribution.as_touches(frame).w_shaped_tallies is not None
    monkeypatch.setattr(attribution, "_TALLY_MAX_N", 4)  # the longest journey (5) is now too long to tally
    fresh = frame.copy()  # new Touches, no credit remembered
    assert attribution.as_touches(fresh).position_tallies is None
    assert attribution.as_touches(fresh).w_shaped_tallies is None
    weighted = (attribution.channel_credit(fresh, model), attribution.referrer_credit(fresh, model))
    for got, expected in zip(tallied, weighted, strict=True):
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    assert tallied[1]["conversions"].sum() > 0


@pytest.mark.parametrize("model", attribution.MODELS)
def test_pairs_counted_in_a_table_equal_pairs_hashed_or_sorted(model, monkeypatch):
    # the tallies' referrer pairs and Shapley's (journey, channel) pairs are made distinct with a table
    # of every possible pair when it is small (always, on data this size); the fallbacks must agree
    frame = journeys(
        ["seminar", ("referral", "R1"), ("referral", None), ("fee earner", "R1")], [("referral", "R2")],
        [("referral", "R1"), "website", ("referral", "R2")], ["a", "b", ("referral", "R1"), "c", "a"],
        ["website", "website"], values=[100.0, 50.0, 30.0, 7.5, 0.0],
    )
    nonconverting = journeys(["website", ("referral", "R2")])
    counted = (attribution.channel_credit(frame, model, 30.0, nonconverting),
               attribution.referrer_credit(frame, model, 30.0, nonconverting))
    monkeypatch.setattr(attribution, "_DENSE_MAX", 0)
    monkeypatch.setattr(attribution, "_MARKS_MAX", 0)
    fresh = frame.copy()  # new Touches, no credit or tallies remembered
    hashed = (attribution.channel_credit(fresh, model, 30.0, nonconverting),
              attribution.referrer_credit(fresh, model, 30.0, nonconverting))
    for got, expected in zip(counted, hashed, strict=True):
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    assert counted[0]["conversions"].sum() == pytest.approx(5.0)  # five conversions, each shared out whole


def test_comparison_on_two_threads_equals_one(monkeypatch):
    frame = journeys(["seminar", ("referral", "R1"), "website"], [("referral", "R2")], ["website", "seminar"],
                     values=[100.0, 50.0, 30.0])
    nonconverting = journeys(["website", ("referral", "R2")], ["seminar"])
    one_thread = attribution.comparison(frame, 30.0, nonconverting)
    monkeypatch.setattr(attribution, "_PARALLEL_MIN", 0)
    two_threads = attribution.comparison(frame.copy(), 30.0, nonconverting)  # new Touches: nothing remembered
    pd.testing.assert_frame_equal(two_threads, one_thread)
    assert list(two_threads["model"].unique()) == list(attribution.MODELS)
    markov = two_threads[two_threads["model"] == "markov"].set_index("channel")["conversions"]
    assert markov.sum() == pytest.approx(3.0) and markov["website"] > 0  # the non-converting journeys counted


def test_factorize_numbers_values_in_order_both_ways(monkeypatch):
    values = np.array([7, 3, 7, 0, 3, 9])
    assert [list(a) for a in attribution._factorize(values, 10)] == [[2, 1, 2, 0, 1, 3], [0, 3, 7, 9]]
    monkeypatch.setattr(attribution, "_DENSE_MAX", 0)
    assert [list(a) for a in attribution._factorize(values, 10)] == [[2, 1, 2, 0, 1, 3], [0, 3, 7, 9]]


def test_equal_credit_ties_ranked_by_referrer_id_whatever_the_adding_order():
    credit = pd.DataFrame({"referrer_id": ["R2", "R1", "R3"], "conversions": [0.1 + 0.2, 0.3, 0.2]})
    assert 0.1 + 0.2 != 0.3  # the same credit, added up in another order
    assert attribution._ranks(credit).to_dict() == {"R1": 1, "R2": 2, "R3": 3}


def test_no_conversions_gives_empty_frames_with_the_columns():
    empty = pd.DataFrame(columns=["matter_id", "value", "n", "position", "channel", "referrer_id", "d"])
    for model in attribution.MODELS:
        assert list(attribution.channel_credit(empty, model).columns) == ["channel", "conversions", "value"]
        assert list(attribution.referrer_credit(empty, model).columns) == [
            "referrer_id", "conversions", "value"]


# ------------------------------------------------------ end to end, by query


def _tp(tid, client, at, channel, referrer=None):
    return {"touchpoint_id": tid, "client_id": client, "touched_at": at, "channel": channel,
            "referrer_id": referrer}


def _matter(mid, client, opened, team="corporate"):
    return {"matter_id": mid, "client_id": client, "team": team, "work_type": "corporate finance",
            "opened_on": opened, "referral_id": None}


def _fee(mid, on, amount):
    return {"matter_id": mid, "billed_on": on, "amount": amount}


# Window 2025-01-01 .. 2025-12-31, lookback 365 days. Journeys (channel (d)):
# MA  A 2025-03-10  newsletter (9), seminar (9), referral R1 (5), fee earner (0)    value 800
#     TA1/TA2 tie at 09:00, TA1 first by id; TA4 at 23:59:59 on the day counts, TA5 at
#     00:00 the next day does not (it is A's non-converting journey: website).
#     Fees 1000 − 200 (credit note); 500 billed after `end` does not count.
# MB  B 2025-06-15  referral R2 (14)                                                 value 300
# MC  C 2025-07-03  website (2), referral R1 (1)                                     value 0
# MD  D 2025-12-31  directory (365), referral without referrer (30)                 value 100
#     TD2 at 2024-12-31 00:00 is on the lookback edge (in); TD1 a second earlier (out).
# ME1 E 2025-02-10  seminar (9), newsletter (0)                                      value 200
# ME2 E 2025-05-20  referral R2 (98), fee earner (0)                                 value 1000
# ME3 E 2025-05-20  same journey as ME2 (same day)                                   value 0
#     TE3 at 00:00 the day after ME1 belongs to ME2/ME3.
# MF  F 2025-08-01  (no touchpoints: unattributed)                                   value 700
# MG1 G 2025-01-20  website (232); MG0 opened 2024-06-01 (outside the window) cuts
#     TG1 and TG2 (that day) off                                                     value 50
# MJ  J 2025-10-10  seminar (9), seminar (5), website (2)                           value 90
# Non-converting: A: website; H: website, social media (TH0 is before the window).
# 10 conversions, 9 attributed, value 3240, unattributed MF 700, attributed 2540.
JOURNEYS = {
    "referrers": [
        {"referrer_id": "R1", "name": "Alpha LLP", "referrer_type": "law firm"},
        {"referrer_id": "R2", "name": "Beta Bank", "referrer_type": "bank"},
    ],
    "matters": [
        _matter("MA", "A", "2025-03-10"), _matter("MB", "B", "2025-06-15", team="property"),
        _matter("MC", "C", "2025-07-03"), _matter("MD", "D", "2025-12-31"),
        _matter("ME1", "E", "2025-02-10"), _matter("ME2", "E", "2025-05-20"),
        _matter("ME3", "E", "2025-05-20"), _matter("MF", "F", "2025-08-01"),
        _matter("MG0", "G", "2024-06-01"), _matter("MG1", "G", "2025-01-20"),
        _matter("MJ", "J", "2025-10-10"),
    ],
    "fees": [
        _fee("MA", "2025-04-01", 1000.0), _fee("MA", "2025-05-01", -200.0),
        _fee("MA", "2026-01-10", 500.0), _fee("MB", "2025-07-01", 300.0),
        _fee("MD", "2025-12-31", 100.0), _fee("ME1", "2025-03-01", 200.0),
        _fee("ME2", "2025-06-01", 1000.0), _fee("MF", "2025-09-01", 700.0),
        _fee("MG0", "2024-07-01", 999.0), _fee("MG1", "2025-02-01", 50.0),
        _fee("MJ", "2025-11-01", 90.0),
    ],
    "touchpoints": [
        _tp("TA2", "A", "2025-03-01 09:00:00", "seminar"),
        _tp("TA1", "A", "2025-03-01 09:00:00", "newsletter"),
        _tp("TA3", "A", "2025-03-05 10:00:00", "referral", "R1"),
        _tp("TA4", "A", "2025-03-10 23:59:59", "fee earner"),
        _tp("TA5", "A", "2025-03-11 00:00:00", "website"),
        _tp("TB1", "B", "2025-06-01 10:00:00", "referral", "R2"),
        _tp("TC1", "C", "2025-07-01 08:00:00", "website"),
        _tp("TC2", "C", "2025-07-02 08:00:00", "referral", "R1"),
        _tp("TD1", "D", "2024-12-30 23:59:59", "event"),
        _tp("TD2", "D", "2024-12-31 00:00:00", "directory"),
        _tp("TD3", "D", "2025-12-01 12:00:00", "referral"),
        _tp("TE1", "E", "2025-02-01 09:00:00", "seminar"),
        _tp("TE2", "E", "2025-02-10 18:00:00", "newsletter"),
        _tp("TE3", "E", "2025-02-11 00:00:00", "referral", "R2"),
        _tp("TE4", "E", "2025-05-20 08:00:00", "fee earner"),
        _tp("TG1", "G", "2024-05-30 09:00:00", "event"),
        _tp("TG2", "G", "2024-06-01 12:00:00", "website"),
        _tp("TG3", "G", "2024-06-02 09:00:00", "website"),
        _tp("TH0", "H", "2024-12-31 10:00:00", "website"),
        _tp("TH1", "H", "2025-09-01 10:00:00", "website"),
        _tp("TH2", "H", "2025-09-02 10:00:00", "social media"),
        _tp("TJ1", "J", "2025-10-01 10:00:00", "seminar"),
        _tp("TJ2", "J", "2025-10-05 10:00:00", "seminar"),
        _tp("TJ3", "J", "2025-10-08 10:00:00", "website"),
    ],
}


@pytest.fixture(scope="module")
def journeys_dir(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("journeys"), JOURNEYS)


@pytest.fixture()
def ds(journeys_dir):
    dataset = open_dataset(journeys_dir)
    yield dataset
    dataset.connection.close()


def run(ds, name, filters=None, **params):
    return registry.run(name, ds, WINDOW, filters, params)


def by_channel(ds, model, **params):
    out = run(ds, "attribution", model=model, **params)
    assert out["channel"].tolist() == sorted(out["channel"]), "channels ascending"
    return dict(zip(out["channel"], out["conversions"])), dict(zip(out["channel"], out["value"]))


def test_journeys_ties_day_edges_previous_conversion_and_same_day_matters(ds):
    touches = run(ds, "journey_touches")
    path = {m: list(zip(g["touchpoint_id"], g["position"], g["n"], g["d"]))
            for m, g in touches.groupby("matter_id")}
    assert path["MA"] == [("TA1", 1, 4, 9), ("TA2", 2, 4, 9), ("TA3", 3, 4, 5), ("TA4", 4, 4, 0)]
    assert path["ME1"] == [("TE1", 1, 2, 9), ("TE2", 2, 2, 0)]
    assert path["ME2"] == path["ME3"] == [("TE3", 1, 2, 98), ("TE4", 2, 2, 0)]
    assert path["MG1"] == [("TG3", 1, 1, 232)]
    assert path["MD"] == [("TD2", 1, 2, 365), ("TD3", 2, 2, 30)]
    unattributed = touches[touches["matter_id"] == "MF"].iloc[0]
    assert unattributed["n"] == 0 and pd.isna(unattributed["touchpoint_id"])
    values = touches.drop_duplicates("matter_id").set_index("matter_id")["value"]
    assert values.to_dict() == {"MA": 800.0, "MB": 300.0, "MC": 0.0, "MD": 100.0, "ME1": 200.0,
                                "ME2": 1000.0, "ME3": 0.0, "MF": 700.0, "MG1": 50.0, "MJ": 90.0}


def test_nonconverting_journeys(ds):
    non = run(ds, "nonconverting_journeys")
    assert list(zip(non["client_id"], non["position"], non["channel"])) == [
        ("A", 1, "website"), ("H", 1, "website"), ("H", 2, "social media")]


def test_summary_counts_unattributed_conversions(ds):
    row = run(ds, "attribution_summary").iloc[0].to_dict()
    assert row == {"conversions": 10, "attributed_conversions": 9, "unattributed_conversions": 1,
                   "value": 3240.0, "unattributed_value": 700.0}
    # lookback 0: only same-day touches; MA (TA4), ME1 (TE2), ME2, ME3 (TE4) keep a journey;
    # MB 300 + MC 0 + MD 100 + MF 700 + MG1 50 + MJ 90 = 1240 unattributed
    row = run(ds, "attribution_summary", lookback_days=0).iloc[0]
    assert (row["attributed_conversions"], row["unattributed_value"]) == (4, 1240.0)


def test_lookback_edge(ds):
    # lookback 364: opened_on − 364 = 2025-01-01, so MD loses TD2 (directory)
    conversions, _ = by_channel(ds, "linear", lookback_days=364)
    assert "directory" not in conversions
    conversions, _ = by_channel(ds, "linear")
    assert conversions["directory"] == pytest.approx(0.5)


# Expected credit per channel on JOURNEYS, worked from the journeys above.
CHANNEL_CREDIT = {
    # MA n/s/r/f, MC w/r, MD dir/r, ME1 s/n, ME2+ME3 r/f, MB r, MG1 w, MJ s/s/w
    "first_touch": {"newsletter": 1, "seminar": 2, "referral": 3, "fee earner": 0, "website": 2,
                    "directory": 1},
    "last_touch": {"newsletter": 1, "seminar": 0, "referral": 3, "fee earner": 3, "website": 2,
                   "directory": 0},
    # newsletter 1/4 + 1/2; seminar 1/4 + 1/2 + 2/3; referral 1/4 + 1 + 1/2·4; ...
    "linear": {"newsletter": 0.75, "seminar": 0.75 + 2 / 3, "referral": 3.25, "fee earner": 1.25,
               "website": 1.5 + 1 / 3, "directory": 0.5},
    # MA .4/.1/.1/.4, two-touch journeys .5/.5, MJ .4/.2/.4
    "position_based": {"newsletter": 0.9, "seminar": 1.2, "referral": 3.1, "fee earner": 1.4,
                       "website": 1.9, "directory": 0.5},
    # MA .2/.1/.1/.6, two-touch .25/.75, MJ .2/.2/.6
    "j_shaped": {"newsletter": 0.95, "seminar": 0.75, "referral": 3.1, "fee earner": 2.1,
                 "website": 1.85, "directory": 0.25},
    "inverse_j": {"newsletter": 0.85, "seminar": 1.65, "referral": 3.1, "fee earner": 0.7,
                  "website": 1.95, "directory": 0.75},
    # MA .3/.1/.3/.3; MC, MD .35/.65; ME2, ME3 .65/.35; MB 1; ME1, MG1, MJ position_based
    "w_shaped": {"newsletter": 0.8, "seminar": 1.2, "referral": 3.9, "fee earner": 1.0,
                 "website": 1.75, "directory": 0.35},
    # each journey split over its distinct channels: MJ seminar 1/2, website 1/2
    "shapley": {"newsletter": 0.75, "seminar": 1.25, "referral": 3.25, "fee earner": 1.25,
                "website": 2.0, "directory": 0.5},
}

CHANNEL_VALUE = {
    # first touch: newsletter MA 800; seminar ME1 200 + MJ 90; referral MB, ME2, ME3; ...
    "first_touch": {"newsletter": 800, "seminar": 290, "referral": 1300, "fee earner": 0,
                    "website": 50, "directory": 100},
    "linear": {"newsletter": 300, "seminar": 360, "referral": 1050, "fee earner": 700,
               "website": 80, "directory": 50},
    # newsletter .3·800 + .5·200; referral .3·800 + 300 + .65·100 + .65·1000; ...
    "w_shaped": {"newsletter": 340, "seminar": 234, "referral": 1255, "fee earner": 590,
                 "website": 86, "directory": 35},
    "shapley": {"newsletter": 300, "seminar": 345, "referral": 1050, "fee earner": 700,
                "website": 95, "directory": 50},
}


@pytest.mark.parametrize("model", sorted(CHANNEL_CREDIT))
def test_channel_credit_per_model(ds, model):
    conversions, value = by_channel(ds, model)
    assert conversions == pytest.approx(CHANNEL_CREDIT[model])
    assert sum(conversions.values()) == pytest.approx(9)  # attributed conversions
    assert sum(value.values()) == pytest.approx(2540)     # their value
    if model in CHANNEL_VALUE:
        assert value == pytest.approx(CHANNEL_VALUE[model])


def test_time_decay_with_a_half_life(ds):
    def decay(*d, h):
        raw = [2 ** (-x / h) for x in d]
        return [r / sum(raw) for r in raw]

    for h in (30.0, 7.0):
        conversions, _ = by_channel(ds, "time_decay", half_life_days=h)
        ma, mc, md = decay(9, 9, 5, 0, h=h), decay(2, 1, h=h), decay(365, 30, h=h)
        me1, me2, mj = decay(9, 0, h=h), decay(98, 0, h=h), decay(9, 5, 2, h=h)
        assert conversions == pytest.approx({
            "newsletter": ma[0] + me1[1],
            "seminar": ma[1] + me1[0] + mj[0] + mj[1],
            "referral": ma[2] + 1 + mc[1] + md[1] + 2 * me2[0],
            "fee earner": ma[3] + 2 * me2[1],
            "website": mc[0] + 1 + mj[2],
            "directory": md[0],
        })


def test_markov_on_the_journeys(ds):
    # Transitions: start → newsletter 1, referral 3, website 4, directory 1, seminar 2 (of 11);
    # newsletter → seminar, conv (1/2 each); seminar → referral, newsletter, seminar, website
    # (1/4 each); referral → fee earner, conv (1/2 each); fee earner → conv; website →
    # referral, conv ×2, null, social media (of 5); directory → referral; social media → null.
    # P(conv): fee earner = referral = directory = 1, website = 3/5, seminar = 0.84,
    # newsletter = 0.92, start = 9/11. Removal effects (P without ÷ P):
    # referral 3/11 → 2/3; fee earner 6/11 → 1/3; website 6/11 → 1/3; directory 8/11 → 1/9;
    # newsletter 112/135·9/11 → 23/135; seminar 6.9/11 → 7/30; social media → 0.
    # Over 270ths: 180, 90, 90, 30, 46, 63, 0; sum 499. Credit = RE/ΣRE × 9, value × 2540.
    effects = {"referral": 180, "fee earner": 90, "website": 90, "directory": 30,
               "newsletter": 46, "seminar": 63, "social media": 0}
    conversions, value = by_channel(ds, "markov")
    assert conversions == pytest.approx({c: e / 499 * 9 for c, e in effects.items()})
    assert value == pytest.approx({c: e / 499 * 2540 for c, e in effects.items()})
    # ChannelAttribution 2.2.5 (simulated; max_step=200, 5e6 paths, conv_par 0.002) gave
    # referral 3.2463, fee earner 1.6239, website 1.6241, seminar 1.1364,
    # newsletter 0.8285, directory 0.5408, social media 0: the same to 3 decimals.


def test_referrer_credit_on_the_journeys(ds):
    def by_referrer(model):
        out = run(ds, "attribution_referrers", model=model)
        assert list(out.columns) == ["referrer_id", "conversions", "value"]
        return out.set_index("referrer_id").to_dict()

    # linear: R1 MA 1/4 (200) + MC 1/2 (0); R2 MB 1 (300) + ME2 1/2 (500) + ME3 1/2 (0).
    # MD's referral touch has no referrer: 1/2 of the channel (50) stays unassigned.
    linear = by_referrer("linear")
    assert linear["conversions"] == pytest.approx({"R1": 0.75, "R2": 2.0})
    assert linear["value"] == pytest.approx({"R1": 200.0, "R2": 800.0})
    # first touch: R1's touches are never first, so 0 (still listed); R2 MB, ME2, ME3
    first = by_referrer("first_touch")
    assert first["conversions"] == {"R1": 0.0, "R2": 3.0}
    # w_shaped: R1 MA .3 (240) + MC .65 (0); R2 MB 1 (300) + ME2 .65 (650) + ME3 .65 (0)
    w = by_referrer("w_shaped")
    assert w["conversions"] == pytest.approx({"R1": 0.95, "R2": 2.3})
    assert w["value"] == pytest.approx({"R1": 240.0, "R2": 950.0})
    # markov: the referral channel's 180/499 · 9 conversions and · 2540 value, split by
    # linear shares of the channel (3.25 conversions: R1 .75, R2 2; 1050 value: 200, 800)
    markov = by_referrer("markov")
    channel_credit, channel_value = 180 / 499 * 9, 180 / 499 * 2540
    assert markov["conversions"] == pytest.approx(
        {"R1": channel_credit * 0.75 / 3.25, "R2": channel_credit * 2 / 3.25})
    assert markov["value"] == pytest.approx(
        {"R1": channel_value * 200 / 1050, "R2": channel_value * 800 / 1050})


def test_filters_narrow_the_conversions_not_the_journeys(ds):
    # team property keeps only MB: referral R2, 1 conversion, value 300
    conversions, value = by_channel_filtered(ds, Filters(team=("property",)))
    assert conversions == {"referral": 1.0} and value == {"referral": 300.0}
    summary = run(ds, "attribution_summary", Filters(team=("corporate",))).iloc[0]
    assert (summary["conversions"], summary["unattributed_conversions"]) == (9, 1)


def by_channel_filtered(ds, filters):
    out = run(ds, "attribution", filters, model="linear")
    return dict(zip(out["channel"], out["conversions"])), dict(zip(out["channel"], out["value"]))


def test_every_model_through_the_cli(capsys, journeys_dir):
    for model in attribution.MODELS:
        code = main(["query", "attribution", "--data", str(journeys_dir), "--start", "2025-01-01",
                     "--end", "2025-12-31", "--param", f"model={model}", "half_life_days=7",
                     "--format", "json"])
        out, err = capsys.readouterr()
        assert code == 0, err
        rows = json.loads(out)
        assert sum(r["conversions"] for r in rows) == pytest.approx(9), model


@pytest.mark.parametrize("param, message", [
    ("half_life_days=0", "half_life_days"),
    ("lookback_days=-1", "lookback_days"),
    ("model=u_shaped", "model"),
])
def test_bad_parameters_exit_2_with_a_message(capsys, journeys_dir, param, message):
    code = main(["query", "attribution", "--data", str(journeys_dir), "--param", param])
    _, err = capsys.readouterr()
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------- the page's queries


def test_comparison_lists_every_model_per_channel(ds):
    out = run(ds, "attribution_comparison")
    assert list(out.columns) == ["model", "channel", "conversions", "value"]
    assert list(dict.fromkeys(out["model"])) == list(attribution.MODELS)
    for model, expected in CHANNEL_CREDIT.items():
        rows = out[out["model"] == model]
        assert dict(zip(rows["channel"], rows["conversions"])) == pytest.approx(expected), model
    # the same numbers as the attribution query, model by model
    markov = out[out["model"] == "markov"].drop(columns="model").reset_index(drop=True)
    pd.testing.assert_frame_equal(markov, run(ds, "attribution", model="markov"))


def test_referrer_ranks_and_their_movement(ds):
    out = run(ds, "attribution_referrer_ranks", model="first_touch")
    assert out["referrer_id"].tolist() == ["R2", "R1"] and out["name"].tolist() == ["Beta Bank",
                                                                                    "Alpha LLP"]
    r1 = out.set_index("referrer_id").loc["R1"]
    # first touch: R1 0 conversions, rank 2 (R2 has 3). Last touch: R1 MC 1, R2 MB 1 (ME2's
    # and ME3's last touch is the fee earner): a tie, R1 first by id. Elsewhere R2 leads.
    assert (r1["conversions"], r1["rank"], r1["best_rank"], r1["worst_rank"], r1["rank_spread"]) == (
        0.0, 2, 1, 2, 1)
    assert (r1["rank_last_touch"], r1["rank_markov"]) == (1, 2)
    assert {f"rank_{m}" for m in attribution.MODELS} <= set(out.columns)


def test_referrer_ranks_tie_by_referrer_id():
    # R1 and R2 one referral touch each in one-touch journeys: equal credit, R1 first
    frame = journeys([("referral", "R2")], [("referral", "R1")], values=[1.0, 1.0])
    out = attribution.referrer_ranks(frame, "linear")
    assert out["referrer_id"].tolist() == ["R1", "R2"] and out["rank"].tolist() == [1, 2]


def test_paths(ds):
    out = run(ds, "attribution_paths")
    assert list(out.columns) == ["path", "touchpoints", "journeys", "conversions",
                                 "conversion_rate", "value"]
    rows = [tuple(r) for r in out[["path", "journeys", "conversions", "value"]].itertuples(index=False)]
    # ME2 and ME3 share one journey but are two conversions; "website" is MG1's journey
    # and A's non-converting one (conversion rate 1/2); then one-journey paths, by path
    assert rows == [
        ("referral > fee earner", 2, 2, 1000.0),
        ("website", 2, 1, 50.0),
        ("directory > referral", 1, 1, 100.0),
        ("newsletter > seminar > referral > fee earner", 1, 1, 800.0),
        ("referral", 1, 1, 300.0),
        ("seminar > newsletter", 1, 1, 200.0),
        ("seminar > seminar > website", 1, 1, 90.0),
        ("website > referral", 1, 1, 0.0),
        ("website > social media", 1, 0, 0.0),
    ]
    assert out.set_index("path")["conversion_rate"]["website"] == 0.5
    website = run(ds, "attribution_paths", channel="website")["path"].tolist()
    assert website == ["website", "seminar > seminar > website", "website > referral",
                       "website > social media"]
    assert run(ds, "attribution_paths", referrer_id="R2")["path"].tolist() == [
        "referral > fee earner", "referral"]
    assert run(ds, "attribution_paths", limit=2)["path"].tolist() == ["referral > fee earner",
                                                                      "website"]
    assert run(ds, "attribution_paths", channel="fax").empty


# ------------------------------------------------- journeys as numbers (journey_codes)

# Every matter is numbered by (opened_on, matter_id): MG0 0, MG1 1, ME1 2, MA 3, ME2 4, ME3 5,
# MB 6, MC 7, MF 8, MJ 9, MD 10. Channels in name order: directory 0, event 1, fee earner 2,
# newsletter 3, referral 4, seminar 5, social media 6, website 7; referrers R1 0, R2 1.
# journey_codes has no lookback: MD keeps TD1 (event, d = 366), which lookback 365 drops.
JOURNEY_CODES = [  # (journey, n, position, d, channel_code, referrer_code)
    (1, 1, 1, 232, 7, -1),                                              # MG1 website
    (2, 2, 1, 9, 5, -1), (2, 2, 2, 0, 3, -1),                           # ME1 seminar, newsletter
    (3, 4, 1, 9, 3, -1), (3, 4, 2, 9, 5, -1), (3, 4, 3, 5, 4, 0), (3, 4, 4, 0, 2, -1),  # MA
    (4, 2, 1, 98, 4, 1), (4, 2, 2, 0, 2, -1),                           # ME2 referral R2, fee earner
    (5, 2, 1, 98, 4, 1), (5, 2, 2, 0, 2, -1),                           # ME3: ME2's journey
    (6, 1, 1, 14, 4, 1),                                                # MB referral R2
    (7, 2, 1, 2, 7, -1), (7, 2, 2, 1, 4, 0),                            # MC website, referral R1
    (8, 0, 0, 0, -1, -1),                                               # MF: no touchpoint
    (9, 3, 1, 9, 5, -1), (9, 3, 2, 5, 5, -1), (9, 3, 3, 2, 7, -1),      # MJ
    (10, 3, 1, 366, 1, -1), (10, 3, 2, 365, 0, -1), (10, 3, 3, 30, 4, -1),  # MD; referral, no referrer
]


def test_journey_codes(ds):
    out = run(ds, "journey_codes")
    columns = ["journey", "n", "position", "d", "channel_code", "referrer_code"]
    assert [tuple(int(v) for v in row) for row in out[columns].itertuples(index=False)] == JOURNEY_CODES
    # team property keeps MB alone (journey 6)
    kept = run(ds, "journey_codes", Filters(team=["property"]))
    assert kept["journey"].tolist() == [6]


def test_journey_fee_rows(ds):
    # fee rows billed up to 2025-12-31 on the window's conversions (journeys 1-10), by journey then
    # day: MA's 1000 and its −200 credit note, not its 500 of 2026; MG0 (journey 0, opened 2024) is
    # outside the window; MC and ME3 have none
    out = run(ds, "journey_fee_rows")
    assert list(zip(out["journey"], out["amount"])) == [
        (1, 50.0), (2, 200.0), (3, 1000.0), (3, -200.0), (4, 1000.0), (6, 300.0), (8, 700.0),
        (9, 90.0), (10, 100.0)]
    # a window ending 2025-04-30 holds MG1, ME1 and MA; MA's credit note of May is after it
    early = registry.run("journey_fee_rows", ds, Window(date(2025, 1, 1), date(2025, 4, 30)))
    assert list(zip(early["journey"], early["amount"])) == [(1, 50.0), (2, 200.0), (3, 1000.0)]
    # added up per conversion: MA 800, ME2 1000 while ME3 of the same journey gets 0, MF 700
    touches = attribution.journeys(ds, {"start": WINDOW.start, "end": WINDOW.end})
    assert touches.conversion_value.tolist() == [50.0, 200.0, 800.0, 1000.0, 0.0, 300.0, 0.0, 700.0,
                                                 90.0, 100.0]
    # with a filter the fee rows still cover the window's range; the kept conversion gets its own
    property_only = attribution.journeys(ds, {"start": WINDOW.start, "end": WINDOW.end, "team": ["property"]})
    assert property_only.conversion_value.tolist() == [300.0]


def test_journey_code_names(ds):
    out = run(ds, "journey_code_names")
    assert list(zip(out["kind"], out["code"], out["name"])) == [
        ("channel", 0, "directory"), ("channel", 1, "event"), ("channel", 2, "fee earner"),
        ("channel", 3, "newsletter"), ("channel", 4, "referral"), ("channel", 5, "seminar"),
        ("channel", 6, "social media"), ("channel", 7, "website"),
        ("referrer", 0, "R1"), ("referrer", 1, "R2"),
    ]


@pytest.mark.parametrize("lookback", [0, 1, 5, 30, 98, 364, 365, 366, 1000])
@pytest.mark.parametrize("filters", [None, Filters(team=["corporate"]), Filters(team=["property"])])
def test_models_read_the_same_journeys_as_journey_touches(ds, lookback, filters):
    """The models read journey_codes and cut the lookback in numpy; journey_touches cuts it in SQL.
    Both must give every model the same journeys."""
    values = {"start": WINDOW.start, "end": WINDOW.end, "lookback_days": lookback,
              **(filters or Filters()).as_params()}
    from_codes = attribution.journeys(ds, values)
    from_text = attribution.Touches.from_frame(run(ds, "journey_touches", filters, lookback_days=lookback))
    pd.testing.assert_frame_equal(attribution.summary(from_codes), attribution.summary(from_text))
    for model in attribution.MODELS:
        for credit in (attribution.channel_credit, attribution.referrer_credit):
            pd.testing.assert_frame_equal(credit(from_codes, model), credit(from_text, model))


def _journey_arrays(touches):
    return {name: getattr(touches, name).tolist() for name in
            ("position", "n", "d", "channel", "referrer", "conversion_value", "conversion_attributed")} | {
        "lengths": touches.runs.lengths.tolist()}


@pytest.fixture(scope="module")
def sample_ds(sample_dir):
    dataset = open_dataset(sample_dir)
    yield dataset
    dataset.connection.close()


def _read_without_cutting(monkeypatch):
    monkeypatch.setattr(attribution, "_unfiltered_in_memory", lambda *args: None)
    monkeypatch.setattr(attribution, "_unfiltered_on_disk", lambda *args: None)


def _count_reads(monkeypatch) -> list[str]:
    read = []
    original_run = registry.run_sql_arrow
    monkeypatch.setattr(registry, "run_sql_arrow",
                        lambda dataset, name, *args: read.append(name) or original_run(dataset, name, *args))
    return read


@pytest.mark.parametrize("dimension", ["team", "office", "work_type", "referrer_type", "region"])
def test_a_filtered_views_journeys_cut_from_the_unfiltered_ones_equal_those_read_for_it(
        sample_ds, dimension, monkeypatch):
    """Touches.subset on the window's unfiltered journeys in memory gives a filtered view exactly the
    journeys journey_codes gives it: same conversions, touchpoints, positions, values."""
    window = registry.default_window(sample_ds)
    options = run(sample_ds, "filter_options")
    chosen = options.loc[options["dimension"] == dimension, "value"].tolist()[:2]
    values = {"start": window.start, "end": window.end, "lookback_days": 365,
              **Filters(**{dimension: chosen}).as_params()}
    attribution.forget()
    attribution.journeys(sample_ds, {"start": window.start, "end": window.end})  # the unfiltered ones, kept
    read = _count_reads(monkeypatch)
    cut = attribution.journeys(sample_ds, values, remember=False)
    assert "journey_kept_by_filters" in read and "journey_codes" not in read  # no touchpoint read again
    _read_without_cutting(monkeypatch)
    built = attribution.journeys(sample_ds, values, remember=False)
    assert "journey_codes" in read
    assert 0 < built.journeys < attribution.journeys(sample_ds, {**values, dimension: None}).journeys
    assert _journey_arrays(cut) == _journey_arrays(built)
    attribution.forget()


def test_a_filtered_view_of_the_default_window_is_cut_from_the_journeys_kept_on_disk(sample_ds, monkeypatch):
    window = registry.default_window(sample_ds)
    values = {"start": window.start, "end": window.end, "lookback_days": 365, "team": ["corporate"]}
    attribution.keep_default_view(sample_ds)
    attribution.forget()  # a new process: nothing in memory
    read = _count_reads(monkeypatch)
    cut = attribution.journeys(sample_ds, values, remember=False)
    assert "journey_kept_by_filters" in read and "journey_codes" not in read
    _read_without_cutting(monkeypatch)
    assert _journey_arrays(cut) == _journey_arrays(attribution.journeys(sample_ds, values, remember=False))
    attribution.forget()


def test_the_unfiltered_journeys_in_memory_are_cut_even_when_room_is_made_for_the_filtered_ones(
        sample_ds, monkeypatch):
    """Another window and look-back (nothing kept on disk), and a cache with room for about one window's
    journeys: making room for the filtered ones drops the unfiltered ones, after they were taken."""
    end = registry.default_window(sample_ds).end
    unfiltered = {"start": date(end.year - 1, 1, 1), "end": end, "lookback_days": 30}
    values = {**unfiltered, "team": ["corporate"]}
    attribution.forget()
    monkeypatch.setattr(attribution, "_CACHE_BYTES",
                        int(1.5 * attribution._nbytes(attribution.journeys(sample_ds, unfiltered))))
    read = _count_reads(monkeypatch)
    cut = attribution.journeys(sample_ds, values)
    assert "journey_kept_by_filters" in read and "journey_codes" not in read
    _read_without_cutting(monkeypatch)
    assert _journey_arrays(cut) == _journey_arrays(attribution.journeys(sample_ds, values, remember=False))
    attribution.forget()


def test_journey_kept_by_filters(ds):
    # journeys by (opened_on, matter_id): MG0 0 (2024, outside the window), MG1 1, ME1 2, MA 3, ME2 4,
    # ME3 5, MB 6 (the one property matter), MC 7, MF 8, MJ 9, MD 10
    everything = run(ds, "journey_kept_by_filters")
    assert everything["journey"].tolist() == list(range(1, 11)) and everything["kept"].all()
    property_only = run(ds, "journey_kept_by_filters", Filters(team=["property"]))
    assert property_only["journey"].tolist() == list(range(1, 11))
    assert property_only["kept"].tolist() == [j == 6 for j in range(1, 11)]
    nothing = run(ds, "journey_kept_by_filters", Filters(team=["employment"]))
    assert len(nothing) == 10 and not nothing["kept"].any()


def test_nonconverting_codes(ds):
    # clients A 0, B 1, C 2, D 3, E 4, G 5, H 6, J 7; seq runs client by client, then by time
    # (A: TA1 1, TA2 2, ... TA5 5; ... H: TH0 19, TH1 20, TH2 21). A's TA5 (website) comes after
    # MA's day; H never converted, TH0 is before the window.
    out = run(ds, "nonconverting_codes")
    assert [tuple(int(v) for v in row) for row in out.itertuples(index=False)] == [
        (5, 0, 7, -1), (20, 6, 7, -1), (21, 6, 6, -1)]
    others = attribution.nonconverting(ds, {"start": WINDOW.start, "end": WINDOW.end})
    as_text = attribution.Touches.from_frame(run(ds, "nonconverting_journeys"))
    for column in ("position", "n"):
        assert getattr(others, column).tolist() == getattr(as_text, column).tolist()
    assert others.channels[others.channel].tolist() == as_text.channels[as_text.channel].tolist()
    assert others.position.tolist() == [1, 1, 2] and others.n.tolist() == [1, 2, 2]


def test_journeys_kept_are_bounded_by_their_bytes_and_the_newest_is_always_kept(ds, monkeypatch):
    attribution.forget()
    window = {"start": WINDOW.start, "end": WINDOW.end}
    first = attribution.journeys(ds, window)
    assert attribution.journeys(ds, window) is first  # kept
    monkeypatch.setattr(attribution, "_CACHE_BYTES", attribution._nbytes(first))  # room for one of them
    second = attribution.journeys(ds, {**window, "lookback_days": 30})
    assert attribution.journeys(ds, {**window, "lookback_days": 30}) is second
    assert attribution.journeys(ds, window) is not first  # dropped for the newer one, built again
    monkeypatch.setattr(attribution, "_CACHE_BYTES", 0)
    assert attribution.journeys(ds, window) is attribution.journeys(ds, window)  # the newest stays
    attribution.forget()


# ------------------------------------------------------------ journeys kept on disk


def _default_view(dataset):
    window = registry.default_window(dataset)
    return {"start": window.start, "end": window.end, "lookback_days": 365, **Filters().as_params()}


@pytest.fixture()
def fresh_journeys_ds(tmp_path):
    """The journeys data in a folder of its own: nothing kept on disk for it yet."""
    dataset = open_dataset(write_dataset(tmp_path / "data", JOURNEYS))
    attribution.forget()
    yield dataset
    attribution.forget()
    dataset.connection.close()


def _kept(dataset, what, values):
    return attribution._store_folder(dataset, what, values)


def test_the_default_views_journeys_are_kept_on_disk_and_read_back_the_same(fresh_journeys_ds):
    ds, values = fresh_journeys_ds, _default_view(fresh_journeys_ds)
    assert not _kept(ds, "journeys", values).exists()
    built, built_others = attribution.both_journeys(ds, values)
    attribution.kept_written()  # written on a thread of its own
    assert sorted(p.stem for p in _kept(ds, "journeys", values).glob("*.npy")) == sorted(attribution._STORED)
    assert _kept(ds, "nonconverting", {"start": values["start"], "end": values["end"]}).is_dir()

    attribution.forget()  # a new process, or the cache forgotten: read back from the files
    read, read_others = attribution.both_journeys(ds, values)
    assert read is not built and isinstance(read.position.base, np.memmap)
    assert len(read) == len(built) > 0 and read_others.journeys == built_others.journeys > 0
    for name in attribution._STORED:
        assert np.array_equal(getattr(read, name, None) if name != "lengths" else read.runs.lengths,
                              getattr(built, name, None) if name != "lengths" else built.runs.lengths)
    pd.testing.assert_frame_equal(attribution.summary(read), attribution.summary(built))
    pd.testing.assert_frame_equal(attribution.comparison(read, 30.0, read_others),
                                  attribution.comparison(built, 30.0, built_others))
    for model in attribution.MODELS:
        pd.testing.assert_frame_equal(attribution.referrer_ranks(read, model, 30.0, read_others),
                                      attribution.referrer_ranks(built, model, 30.0, built_others))
    pd.testing.assert_frame_equal(attribution.paths(read, read_others, "", "", 50),
                                  attribution.paths(built, built_others, "", "", 50))


def test_the_default_views_model_comparison_is_kept_on_disk_and_read_instead_of_worked_out(
        fresh_journeys_ds, monkeypatch):
    ds, values = fresh_journeys_ds, _default_view(fresh_journeys_ds)
    query_values = {**values, "half_life_days": 30.0}
    assert not attribution.default_view_kept(ds)
    attribution.keep_default_view(ds)
    assert attribution.default_view_kept(ds) and attribution._comparison_folder(ds, query_values).is_dir()
    touches, others = attribution.both_journeys(ds, values)
    worked_out = attribution.comparison(touches, 30.0, others)
    assert len(worked_out) > 0

    def no_models(*args, **kwargs):
        raise AssertionError("the kept comparison was not read")

    monkeypatch.setattr(attribution, "comparison", no_models)
    attribution.forget()
    pd.testing.assert_frame_equal(attribution.attribution_comparison(ds, query_values), worked_out)


@pytest.mark.parametrize("change", [{"half_life_days": 10.0}, {"team": ["corporate"]}, {"lookback_days": 30}])
def test_a_model_comparison_other_than_the_default_views_is_worked_out_and_not_kept(fresh_journeys_ds, change):
    ds = fresh_journeys_ds
    values = {**_default_view(ds), "half_life_days": 30.0, **change}
    assert attribution._comparison_folder(ds, values) is None
    touches, others = attribution.both_journeys(ds, values)
    pd.testing.assert_frame_equal(attribution.attribution_comparison(ds, values),
                                  attribution.comparison(touches, values["half_life_days"], others))
    assert not attribution._comparison_folder(ds, {**_default_view(ds), "half_life_days": 30.0}).exists()


@pytest.mark.parametrize("change", [{"team": ["corporate"]}, {"lookback_days": 30},
                                    {"start": date(2025, 3, 1)}])
def test_only_the_default_view_is_kept_on_disk(fresh_journeys_ds, change):
    ds = fresh_journeys_ds
    values = {**_default_view(ds), **change}
    assert _kept(ds, "journeys", values) is None
    attribution.journeys(ds, values)
    store = _kept(ds, "journeys", _default_view(ds)).parent
    assert not store.exists() or not any(store.iterdir())


def test_damaged_kept_journeys_are_built_again_and_kept_whole(fresh_journeys_ds):
    ds, values = fresh_journeys_ds, _default_view(fresh_journeys_ds)
    built = attribution.journeys(ds, values)
    attribution.kept_written()
    folder = _kept(ds, "journeys", values)
    (folder / "referrer.npy").unlink()
    (folder / "position.npy").write_bytes(b"not an array")
    attribution.forget()
    again = attribution.journeys(ds, values)
    assert not isinstance(again.position.base, np.memmap)  # built, not read
    assert np.array_equal(again.referrer, built.referrer) and np.array_equal(again.position, built.position)
    attribution.kept_written()
    assert sorted(p.stem for p in folder.glob("*.npy")) == sorted(attribution._STORED)


def _journeys_kept_on_disk(dataset, values):
    """The folder the journeys of ``values`` (the default view) are kept in, once built and written."""
    attribution.journeys(dataset, values)
    attribution.kept_written()
    folder = _kept(dataset, "journeys", values)
    assert folder.is_dir()
    return folder


def test_journeys_kept_by_another_version_of_refport_are_replaced(fresh_journeys_ds, monkeypatch):
    ds, values = fresh_journeys_ds, _default_view(fresh_journeys_ds)
    older = _journeys_kept_on_disk(ds, values)
    monkeypatch.setattr(attribution, "_builder_version", lambda: "another")
    attribution.forget()
    newer = _kept(ds, "journeys", values)
    assert newer != older and not newer.exists()
    attribution.journeys(ds, values)
    attribution.kept_written()
    assert newer.is_dir() and not older.exists()


def test_journeys_kept_for_another_default_window_are_not_read(fresh_journeys_ds, monkeypatch):
    """What the default window is can change with refport's code: the kept folder is named by it too."""
    ds, values = fresh_journeys_ds, _default_view(fresh_journeys_ds)
    kept = _journeys_kept_on_disk(ds, values)
    later = Window(values["start"] + timedelta(days=1), values["end"])
    monkeypatch.setattr(registry, "default_window", lambda dataset, start=None, end=None: later)
    elsewhere = _kept(ds, "journeys", {**values, "start": later.start})
    assert elsewhere != kept and not elsewhere.exists()
    attribution.forget()


def test_a_folder_written_first_by_another_process_is_kept(tmp_path):
    from dashboard import journey_store

    folder = tmp_path / "journeys" / "journeys-v1"
    assert journey_store.save(folder, {"a": np.arange(3)})
    assert journey_store.save(folder, {"a": np.arange(5)})  # theirs is there: kept, ours dropped
    assert journey_store.load(folder, {"a"})["a"].tolist() == [0, 1, 2]
    assert [p.name for p in folder.parent.iterdir()] == ["journeys-v1"]  # no partial folder left
    assert journey_store.load(folder, {"a", "b"}) is None and not folder.exists()  # not what was asked: gone


def test_the_journeys_version_is_worked_out_safely_from_many_threads_at_once():
    # both_journeys asks from two threads; parsing Python there (inspect.getsource) failed on CPython 3.11
    from concurrent.futures import ThreadPoolExecutor

    attribution._builder_version.cache_clear()
    with ThreadPoolExecutor(8) as pool:
        versions = set(pool.map(lambda _: attribution._builder_version(), range(32)))
    assert len(versions) == 1 and len(versions.pop()) == 16


def test_journeys_of_data_without_a_default_window_are_built_and_not_kept(fresh_journeys_ds, monkeypatch):
    ds = fresh_journeys_ds
    values = _default_view(ds)

    def no_dated_rows(dataset, start=None, end=None):
        raise registry.QueryError("the data holds no dated rows, so there is no default window")

    monkeypatch.setattr(registry, "default_window", no_dated_rows)
    assert attribution._store_folder(ds, "journeys", values) is None
    assert len(attribution.journeys(ds, values)) > 0  # a window given by hand still works


# ------------------------------------------------------------ many sessions asking at once


def _counting_build(result, started: threading.Event, release: threading.Event, calls: list):
    def build():
        calls.append(threading.get_ident())
        started.set()
        assert release.wait(10)
        return result

    return build


def test_sessions_asking_for_journeys_being_built_wait_for_them_instead_of_building_again(ds):
    from concurrent.futures import ThreadPoolExecutor

    attribution.forget()
    built = attribution.journeys(ds, {"start": WINDOW.start, "end": WINDOW.end})
    attribution.forget()
    started, release, calls = threading.Event(), threading.Event(), []
    build = _counting_build(built, started, release, calls)
    values = {"start": WINDOW.start, "end": WINDOW.end, "team": ["corporate"]}
    with ThreadPoolExecutor(4) as pool:
        first = pool.submit(attribution._remembered, ds, "journeys", values, build)
        assert started.wait(10)
        others = [pool.submit(attribution._remembered, ds, "journeys", values, build) for _ in range(3)]
        release.set()
        results = [first.result(10), *(f.result(10) for f in others)]
    assert len(calls) == 1 and all(r is built for r in results)
    assert attribution._remembered(ds, "journeys", values, build) is built and len(calls) == 1  # kept
    assert not attribution._coming
    attribution.forget()


def test_a_failed_build_fails_its_waiters_too_and_the_next_request_builds_again(ds):
    from concurrent.futures import ThreadPoolExecutor

    attribution.forget()
    started, release = threading.Event(), threading.Event()

    def failing():
        started.set()
        assert release.wait(10)
        raise registry.QueryError("the data went away")

    values = {"start": WINDOW.start, "end": WINDOW.end, "region": ["London"]}
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(attribution._remembered, ds, "journeys", values, failing)
        assert started.wait(10)
        waiter = pool.submit(attribution._remembered, ds, "journeys", values, failing)
        release.set()
        for future in (first, waiter):
            with pytest.raises(registry.QueryError, match="the data went away"):
                future.result(10)
    assert not attribution._coming
    built = attribution._remembered(ds, "journeys", values, lambda: "built again")
    assert built == "built again"
    attribution.forget()


def test_journeys_of_different_filters_are_built_one_at_a_time(ds):
    from concurrent.futures import ThreadPoolExecutor

    attribution.forget()
    running, most, lock = [0], [0], threading.Lock()

    def build():
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threading.Event().wait(0.05)
        with lock:
            running[0] -= 1
        return "journeys"

    teams = ["corporate", "employment", "litigation", "insolvency"]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda team: attribution._remembered(
            ds, "journeys", {"start": WINDOW.start, "end": WINDOW.end, "team": [team]}, build), teams))
    assert results == ["journeys"] * 4 and most[0] == 1
    attribution.forget()


def test_journeys_the_background_build_is_keeping_are_read_not_built_again(fresh_journeys_ds, monkeypatch):
    ds, values = fresh_journeys_ds, _default_view(fresh_journeys_ds)
    builds = []
    original = attribution.Touches.from_codes

    def counted(*args, **kwargs):
        builds.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(attribution.Touches, "from_codes", counted)
    background = threading.Thread(target=attribution.keep_default_view, args=(ds,))
    with attribution._build_locks["journeys"]:  # the session asks while the background build runs
        background.start()
        session = threading.Thread(target=attribution.journeys, args=(ds, values))
        session.start()
    background.join(30)
    session.join(30)
    assert not background.is_alive() and not session.is_alive()
    assert len(builds) == 1  # whichever got to build first; the other read what it kept
    assert _kept(ds, "journeys", values).is_dir()
