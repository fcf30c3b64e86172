"""Multi-touch attribution (metrics.md "Multi-touch attribution"): the model arithmetic.

The journeys are built once in SQL (``queries/attribution/journey_touches.sql``
and ``nonconverting_journeys.sql``); this module gives each touchpoint its
weight under one of the ten models and adds the weights up per channel and
per referrer. Everything is exact and deterministic: Markov removal effects
are absorption probabilities from a linear solve, Shapley values are exact.

Named queries (registered through ``dashboard.computed``):

- ``attribution``: one row per channel (channel, conversions, value);
- ``attribution_referrers``: one row per referrer named on a referral
  touchpoint of an attributed journey (referrer_id, conversions, value);
- ``attribution_summary``: one row (conversions, attributed_conversions,
  unattributed_conversions, value, unattributed_value);

with ``model`` one of MODELS (default ``linear``), ``lookback_days`` (365)
and ``half_life_days`` (30). Rows come in key order (channel, referrer_id
ascending), the same for every model, so that models line up side by side.

For the Attribution page: ``attribution_comparison`` (every model per
channel), ``attribution_referrer_ranks`` (credit and rank per referrer under
each model) and ``attribution_paths`` (the path explorer).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

import numpy as np
import pandas as pd

from dashboard import registry
from dashboard.data import Dataset

MODELS = (
    "first_touch", "last_touch", "linear", "time_decay", "position_based",
    "j_shaped", "inverse_j", "w_shaped", "markov", "shapley",
)
RULE_BASED = MODELS[:8]
MODEL_LABELS = {
    "first_touch": "First touch", "last_touch": "Last touch", "linear": "Linear",
    "time_decay": "Time decay", "position_based": "Position-based (U)", "j_shaped": "J-shaped",
    "inverse_j": "Inverse J", "w_shaped": "W-shaped", "markov": "Markov (removal effect)",
    "shapley": "Shapley",
}
# How each model splits one conversion, in a sentence a board member follows.
MODEL_RULES = {
    "first_touch": "All the credit to the first recorded contact.",
    "last_touch": "All the credit to the last contact before the matter was opened.",
    "linear": "Equal shares to every contact in the journey.",
    "time_decay": "Recent contacts count more: a contact's share halves for every half-life "
                  "of days before the matter was opened.",
    "position_based": "40% to the first contact, 40% to the last, 20% shared by those in "
                      "between (50/50 with two contacts).",
    "j_shaped": "20% to the first contact, 60% to the last, 20% shared by those in between "
                "(25/75 with two).",
    "inverse_j": "60% to the first contact, 20% to the last, 20% shared by those in between "
                 "(75/25 with two).",
    "w_shaped": "30% each to the first contact, the first referral and the last contact, 10% "
                "shared by the rest; journeys without a referral are split as position-based.",
    "markov": "How many conversions would be lost if a channel disappeared, from how clients "
              "move between channels, including the journeys that did not convert.",
    "shapley": "Each conversion shared equally by the distinct channels in its journey: the "
               "fair split of cooperative game theory.",
}
DEFAULT_MODEL = "linear"
REFERRAL = "referral"
MAX_LOOKBACK_DAYS = 36_500

# (first, last) shares of the U- and J-shaped models; the rest goes evenly to
# the middle. With two touchpoints the pair is rescaled to sum to 1, which
# gives metrics.md's 50/50, 25/75 and 75/25.
_ENDS = {"position_based": (0.4, 0.4), "j_shaped": (0.2, 0.6), "inverse_j": (0.6, 0.2)}
_W_MILESTONE, _W_REST = 0.3, 0.1

CHANNEL_COLUMNS = ["channel", "conversions", "value"]


# ---------------------------------------------------------------- journeys


def attributed(touches: pd.DataFrame) -> pd.DataFrame:
    """The touchpoint rows of attributed conversions (journey_touches without n = 0 rows)."""
    kept = touches["n"] > 0
    return touches if kept.all() else touches[kept].reset_index(drop=True)


def _conversion_values(touches: pd.DataFrame) -> pd.Series:
    """One value per attributed conversion, by matter_id (each journey's rows start at position 1)."""
    starts = (touches["position"] == 1).to_numpy(dtype=bool, na_value=False)
    return touches.loc[starts].set_index("matter_id")["value"].astype(float)


# ---------------------------------------------------------- rule-based models


def _ends_weights(position: np.ndarray, n: np.ndarray, first: float, last: float) -> np.ndarray:
    middle = (1.0 - first - last) / np.maximum(n - 2, 1)
    many = np.where(position == 1, first, np.where(position == n, last, middle))
    two = np.where(position == 1, first, last) / (first + last)
    return np.where(n == 1, 1.0, np.where(n == 2, two, many))


class _Journeys:
    """The journeys of attributed journey_touches rows, which come journey by journey from position 1:
    a per-journey minimum or sum is a numpy reduceat over those runs, not a group-by on matter ids."""

    def __init__(self, position: np.ndarray) -> None:
        self.starts = np.flatnonzero(position == 1)
        self.lengths = np.diff(np.append(self.starts, len(position)))

    def each(self, ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
        """``ufunc`` reduced over each journey, repeated on every row of it."""
        if not len(values):
            return values.astype(float)
        return np.repeat(ufunc.reduceat(values, self.starts), self.lengths)


def rule_weights(touches: pd.DataFrame, model: str, half_life_days: float = 30.0) -> np.ndarray:
    """Each touchpoint's weight under a rule-based model; one journey's weights sum to 1.

    ``touches``: attributed rows of journey_touches (matter_id, position, n, d, channel).
    """
    position = touches["position"].to_numpy(dtype=float)
    n = touches["n"].to_numpy(dtype=float)
    if model == "first_touch":
        return (position == 1).astype(float)
    if model == "last_touch":
        return (position == n).astype(float)
    if model == "linear":
        return 1.0 / n
    if model == "time_decay":
        d = touches["d"].to_numpy(dtype=float)
        journeys = _Journeys(position)
        # 2^(−d/h), rescaled per journey by its nearest touchpoint so nothing underflows
        raw = np.exp2(-(d - journeys.each(np.minimum, d)) / half_life_days)
        return raw / journeys.each(np.add, raw)
    if model in _ENDS:
        return _ends_weights(position, n, *_ENDS[model])
    if model == "w_shaped":
        return _w_shaped(touches, position, n)
    raise ValueError(f"{model!r} is not a rule-based model ({', '.join(RULE_BASED)})")


def _w_shaped(touches: pd.DataFrame, position: np.ndarray, n: np.ndarray) -> np.ndarray:
    """30% to each milestone (first, first referral, last; coinciding shares add up),
    10% evenly over the other touchpoints, or over the distinct milestone touchpoints
    when there is no other; a journey without a referral is position_based."""
    is_referral = (touches["channel"] == REFERRAL).to_numpy(dtype=bool, na_value=False)
    referral_at = _Journeys(position).each(np.minimum, np.where(is_referral, position, np.inf))
    first, referral, last = position == 1, position == referral_at, position == n
    milestone = _W_MILESTONE * (first.astype(float) + referral + last)
    distinct = 1 + (n > 1) + ((referral_at != 1) & (referral_at != n))
    others = n - distinct
    rest = np.where(
        milestone > 0,
        np.where(others == 0, _W_REST / distinct, 0.0),
        _W_REST / np.maximum(others, 1),
    )
    return np.where(np.isinf(referral_at), _ends_weights(position, n, *_ENDS["position_based"]),
                    milestone + rest)


# -------------------------------------------------------------------- markov


def transition_counts(converting: pd.DataFrame, nonconverting: pd.DataFrame) -> pd.DataFrame:
    """Observed transitions (from_state, to_state, count) between start, channels,
    conversion and null: converting journeys end in conversion, the others in null.

    Both frames hold one row per touchpoint, sorted by journey then position, with
    ``position``, ``n`` and ``channel``. Counted on integer codes of the states (a few dozen)
    rather than on millions of strings."""
    frames = [(frame, end) for frame, end in ((converting, "(conversion)"), (nonconverting, "(null)"))
              if not frame.empty]
    if not frames:
        return pd.DataFrame({"from_state": [], "to_state": [], "count": []})
    channels = sorted({c for frame, _ in frames for c in pd.unique(frame["channel"].to_numpy(dtype=object))})
    states = ["(start)", "(conversion)", "(null)", *channels]
    code = {state: i for i, state in enumerate(states)}
    size = len(states)
    counts = np.zeros(size * size, dtype=np.int64)
    for frame, end in frames:
        channel = pd.Categorical(frame["channel"].to_numpy(dtype=object), categories=channels).codes + 3
        position = frame["position"].to_numpy()
        previous = np.where(position == 1, code["(start)"], np.roll(channel, 1))
        last = position == frame["n"].to_numpy()
        counts += np.bincount(previous * size + channel, minlength=size * size)
        counts += np.bincount(channel[last] * size + code[end], minlength=size * size)
    seen = np.flatnonzero(counts)
    steps = pd.DataFrame({
        "from_state": [states[i // size] for i in seen],
        "to_state": [states[i % size] for i in seen],
        "count": counts[seen],
    })
    return steps.sort_values(["from_state", "to_state"], ignore_index=True)


def conversion_probability(transitions: pd.DataFrame, removed: str | None = None) -> float:
    """P(reaching conversion from start), solved exactly as an absorption probability.

    With ``removed``, that channel's state sends every visit to null."""
    channels = sorted(set(transitions["from_state"]) - {"(start)"})
    states = ["(start)", *channels]
    index = {s: i for i, s in enumerate(states)}
    counts = np.zeros((len(states), len(states) + 2))  # + conversion, null
    ends = {"(conversion)": len(states), "(null)": len(states) + 1}
    for from_state, to_state, count in transitions.itertuples(index=False):
        counts[index[from_state], ends.get(to_state, index.get(to_state))] += count
    if removed is not None:
        counts[index[removed]] = 0.0
        counts[index[removed], ends["(null)"]] = 1.0
    totals = counts.sum(axis=1, keepdims=True)
    probabilities = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    q = probabilities[:, : len(states)]
    to_conversion = probabilities[:, len(states)]
    return float(np.linalg.solve(np.eye(len(states)) - q, to_conversion)[0])


def removal_effects(transitions: pd.DataFrame) -> pd.Series:
    """1 − P(conversion without the channel) / P(conversion), per channel of the chain."""
    channels = sorted(set(transitions["from_state"]) - {"(start)"})
    base = conversion_probability(transitions)
    if base <= 0:
        return pd.Series(0.0, index=pd.Index(channels, name="channel"))
    return pd.Series(
        [1.0 - conversion_probability(transitions, c) / base for c in channels],
        index=pd.Index(channels, name="channel"),
    )


def _markov(touches: pd.DataFrame, nonconverting: pd.DataFrame) -> pd.DataFrame:
    effects = removal_effects(transition_counts(touches, nonconverting))
    values = _conversion_values(touches)
    total = effects.sum()
    share = effects / total if total > 0 else effects * 0.0
    return pd.DataFrame({
        "channel": effects.index,
        "conversions": (share * len(values)).to_numpy(),
        "value": (share * values.sum()).to_numpy(),
    })


# ------------------------------------------------------------------- shapley


def _shapley(touches: pd.DataFrame, prepared: _ReferralTouches | None = None) -> pd.DataFrame:
    """Exact Shapley values of v(S) = number (value) of converting journeys whose channel
    set is a subset of S. That game is a sum of unanimity games, one per journey, so each
    journey's 1 (and its value) is split evenly over its distinct channels.

    Counted on integer codes: (journey, channel) pairs made distinct with np.unique."""
    prepared = prepared or _ReferralTouches(touches)
    journeys = _Journeys(touches["position"].to_numpy(dtype=float))
    journey = np.repeat(np.arange(len(journeys.starts)), journeys.lengths)
    known = prepared.channel_codes >= 0
    width = max(len(prepared.channels), 1)
    pairs = np.unique(journey[known] * width + prepared.channel_codes[known])
    pair_journey, pair_channel = pairs // width, pairs % width
    share = 1.0 / np.bincount(pair_journey, minlength=len(journeys.starts))[pair_journey]
    value = prepared.value[journeys.starts][pair_journey]
    present = np.bincount(pair_channel, minlength=width)[: len(prepared.channels)] > 0
    conversions = np.bincount(pair_channel, weights=share, minlength=width)[: len(prepared.channels)]
    values = np.bincount(pair_channel, weights=value * share, minlength=width)[: len(prepared.channels)]
    return pd.DataFrame({
        "channel": pd.array(prepared.channels[present], dtype=prepared.channel_dtype),
        "conversions": conversions[present],
        "value": values[present],
    })


# ------------------------------------------------------------------- credits


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"unknown attribution model {model!r}: choose one of {', '.join(MODELS)}")


def channel_credit(
    touches: pd.DataFrame,
    model: str = DEFAULT_MODEL,
    half_life_days: float = 30.0,
    nonconverting: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Credit (conversions) and value credit per channel, channels ascending.

    ``touches``: journey_touches rows (unattributed rows are skipped); ``nonconverting``:
    nonconverting_journeys rows, needed by ``markov`` only. Every channel of an attributed
    journey has a row (0 when the model gives it nothing); ``markov`` also lists channels
    seen only in non-converting journeys."""
    _check_model(model)
    journeys = touches  # the frame every model of a window shares: what is prepared is kept per frame
    touches = attributed(touches)
    if touches.empty:
        return pd.DataFrame({c: pd.Series(dtype=object if c == "channel" else float)
                             for c in CHANNEL_COLUMNS})
    if model == "markov":
        empty = pd.DataFrame({"position": [], "n": [], "channel": []})
        return _markov(touches, empty if nonconverting is None else nonconverting)
    touches, prepared = _attributed_referrals(journeys)
    if model == "shapley":
        return _shapley(touches, prepared)
    return prepared.channel_credit(rule_weights(touches, model, half_life_days))


class _ReferralTouches:
    """The referral touchpoints of attributed journeys, factorised once per journeys frame: every
    model's referrer credit is then a weighted count per referrer (np.bincount), not a string
    group-by of the whole frame per model."""

    def __init__(self, touches: pd.DataFrame) -> None:
        self.rows = (touches["channel"] == REFERRAL).to_numpy(dtype=bool, na_value=False)
        self.value = touches["value"].astype(float).to_numpy()
        codes, ids = pd.factorize(touches["referrer_id"].to_numpy(dtype=object)[self.rows], sort=True)
        self.codes, self.ids = codes, ids  # code -1: a referral touchpoint naming no referrer
        self.id_dtype = touches["referrer_id"].dtype
        self.channel_codes, self.channels = pd.factorize(touches["channel"], sort=True)
        self.channel_dtype = touches["channel"].dtype

    def channel_credit(self, weight: np.ndarray) -> pd.DataFrame:
        """Credit and value credit per channel (channels ascending) from per-touchpoint weights."""
        named = self.channel_codes >= 0
        codes, size = self.channel_codes[named], len(self.channels)
        return pd.DataFrame({
            "channel": pd.array(self.channels, dtype=self.channel_dtype),
            "conversions": np.bincount(codes, weights=weight[named], minlength=size),
            "value": np.bincount(codes, weights=(weight * self.value)[named], minlength=size),
        })

    def credit(self, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(conversions, value) per referrer of ``ids`` from per-touchpoint weights."""
        named = self.codes >= 0
        codes = self.codes[named]
        conversions = np.bincount(codes, weights=weight[self.rows][named], minlength=len(self.ids))
        value = np.bincount(codes, weights=(weight * self.value)[self.rows][named], minlength=len(self.ids))
        return conversions, value

    def totals(self, weight: np.ndarray) -> tuple[float, float]:
        """(conversions, value) over every referral touchpoint, with or without a referrer."""
        return float(weight[self.rows].sum()), float((weight * self.value)[self.rows].sum())

    def frame(self, conversions: np.ndarray, value: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({"referrer_id": pd.array(self.ids, dtype=self.id_dtype),
                             "conversions": conversions, "value": value})


_prepared_lock = threading.Lock()
_prepared: OrderedDict[int, tuple[pd.DataFrame, pd.DataFrame, _ReferralTouches]] = OrderedDict()


def _attributed_referrals(touches: pd.DataFrame) -> tuple[pd.DataFrame, _ReferralTouches]:
    """attributed(touches) and its referral touchpoints, remembered for the last few journeys frames
    (the same cached frame serves all ten models)."""
    key = id(touches)
    with _prepared_lock:
        hit = _prepared.get(key)
        if hit is not None and hit[0] is touches:
            return hit[1], hit[2]
    kept = attributed(touches)
    prepared = (touches, kept, _ReferralTouches(kept))
    with _prepared_lock:
        _prepared[key] = prepared
        while len(_prepared) > _CACHE_SIZE:
            _prepared.popitem(last=False)
    return kept, prepared[2]


def referrer_credit(
    touches: pd.DataFrame,
    model: str = DEFAULT_MODEL,
    half_life_days: float = 30.0,
    nonconverting: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Credit per referrer, referrer_id ascending: one row per referrer named on a
    referral touchpoint of an attributed journey.

    Rule-based models: the weights of the referrer's own referral touchpoints. Markov
    and Shapley: the referral channel's credit times the referrer's share of the
    referral channel's linear credit (value likewise; the share of referral touchpoints
    without a referrer stays unassigned)."""
    _check_model(model)
    touches, referrals = _attributed_referrals(touches)
    if model in RULE_BASED:
        return referrals.frame(*referrals.credit(rule_weights(touches, model, half_life_days)))
    linear = rule_weights(touches, "linear")
    conversions, value = referrals.credit(linear)
    if not len(referrals.ids):
        return referrals.frame(conversions, value)
    channel = channel_credit(touches, model, half_life_days, nonconverting).set_index("channel")
    shares = []
    for own, total in zip((conversions, value), referrals.totals(linear), strict=True):
        shares.append(own / total if total != 0 else own * 0.0)
    return referrals.frame(shares[0] * channel.loc[REFERRAL, "conversions"],
                           shares[1] * channel.loc[REFERRAL, "value"])


def summary(touches: pd.DataFrame) -> pd.DataFrame:
    """attribution_summary from journey_touches: every conversion, attributed or not."""
    conversions = touches.drop_duplicates("matter_id")
    empty = conversions["n"] == 0
    value = conversions["value"].astype(float)
    return pd.DataFrame([{
        "conversions": len(conversions),
        "attributed_conversions": int((~empty).sum()),
        "unattributed_conversions": int(empty.sum()),
        "value": float(value.sum()),
        "unattributed_value": float(value[empty].sum()),
    }])


def comparison(
    touches: pd.DataFrame, half_life_days: float = 30.0, nonconverting: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every model's credit per channel: model (in MODELS order), channel, conversions, value."""
    frames = [channel_credit(touches, m, half_life_days, nonconverting).assign(model=m) for m in MODELS]
    return pd.concat(frames, ignore_index=True)[["model", *CHANNEL_COLUMNS]]


def _ranks(credit: pd.DataFrame) -> pd.Series:
    """1 = most conversion credit; ties by referrer_id."""
    ordered = credit.sort_values(["conversions", "referrer_id"], ascending=[False, True])
    return pd.Series(range(1, len(ordered) + 1), index=ordered["referrer_id"].to_numpy())


def referrer_ranks(
    touches: pd.DataFrame,
    model: str = DEFAULT_MODEL,
    half_life_days: float = 30.0,
    nonconverting: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per referrer: credit under ``model``, its rank there, and how far the rank moves
    across the ten models (best_rank, worst_rank, rank_spread = worst − best, and
    rank_<model> for each), by rank under ``model``."""
    _check_model(model)
    credits = {m: referrer_credit(touches, m, half_life_days, nonconverting) for m in MODELS}
    chosen = credits[model].set_index("referrer_id")
    ranks = pd.DataFrame({f"rank_{m}": _ranks(c) for m, c in credits.items()}, index=chosen.index)
    out = chosen.assign(
        rank=ranks[f"rank_{model}"],
        best_rank=ranks.min(axis=1),
        worst_rank=ranks.max(axis=1),
    )
    out["rank_spread"] = out["worst_rank"] - out["best_rank"]
    out = pd.concat([out, ranks], axis=1).reset_index().sort_values("rank", kind="stable")
    return out.astype({c: "int64" for c in out.columns if "rank" in c}).reset_index(drop=True)


def _journey_paths(frame: pd.DataFrame, channel: str, referrer_id: str) -> pd.DataFrame:
    """One row per journey of ``frame`` (touch rows sorted by journey, then position):
    its path, length and value, for the journeys with a ``channel`` / ``referrer_id``
    touchpoint when those are given."""
    position = frame["position"].to_numpy()
    journey = np.cumsum(position == 1) - 1  # rows come journey by journey, from position 1
    count = int(journey[-1]) + 1 if len(journey) else 0
    keep = np.ones(count, dtype=bool)
    for column, wanted in (("channel", channel), ("referrer_id", referrer_id)):
        if wanted:
            found = np.zeros(count, dtype=bool)
            found[journey[frame[column].to_numpy(dtype=object) == wanted]] = True
            keep &= found
    # built position by position, which is vectorised, rather than a join per journey
    names = frame["channel"].to_numpy(dtype=object)
    path = np.empty(count, dtype=object)
    path[journey[position == 1]] = names[position == 1]
    for step in range(2, int(position.max()) + 1 if len(position) else 0):
        at = position == step
        path[journey[at]] = path[journey[at]] + " > " + names[at]
    first = position == 1
    value = frame["value"].to_numpy(dtype=float)[first] if "value" in frame else np.zeros(count)
    return pd.DataFrame({
        "path": path[keep],
        "touchpoints": frame["n"].to_numpy()[first][keep],
        "value": value[keep],
    })


def paths(
    touches: pd.DataFrame,
    nonconverting: pd.DataFrame,
    channel: str = "",
    referrer_id: str = "",
    limit: int = 50,
) -> pd.DataFrame:
    """The path explorer: the most common journeys (channels joined by " > "), each with
    its converting journeys (one per conversion), non-converting journeys, conversion
    rate = conversions / journeys and the value of its conversions. ``channel`` and
    ``referrer_id`` keep the journeys with such a touchpoint. Most journeys first, then
    most conversions, then path."""
    converting = _journey_paths(attributed(touches), channel, referrer_id)
    others = _journey_paths(nonconverting, channel, referrer_id)
    table = pd.concat([converting.assign(conversions=1), others.assign(conversions=0, value=0.0)])
    out = table.groupby(["path", "touchpoints"], as_index=False).agg(
        journeys=("conversions", "size"), conversions=("conversions", "sum"), value=("value", "sum"))
    out["conversion_rate"] = out["conversions"] / out["journeys"]
    out = out.sort_values(["journeys", "conversions", "path"], ascending=[False, False, True])
    columns = ["path", "touchpoints", "journeys", "conversions", "conversion_rate", "value"]
    return out.head(limit)[columns].astype({"touchpoints": "int64", "journeys": "int64",
                                            "conversions": "int64"}).reset_index(drop=True)


# ------------------------------------------------------------- named queries


def _check_params(name: str, values: dict[str, object]) -> None:
    lookback = values.get("lookback_days")
    if lookback is not None and not 0 <= int(lookback) <= MAX_LOOKBACK_DAYS:  # type: ignore[arg-type]
        raise registry.QueryError(
            f"parameter lookback_days of {name} must be between 0 and {MAX_LOOKBACK_DAYS:,} days, "
            f"got {lookback}"
        )
    half_life = values.get("half_life_days")
    if half_life is not None and not (math.isfinite(half_life) and half_life > 0):  # type: ignore[arg-type]
        raise registry.QueryError(
            f"parameter half_life_days of {name} must be a number of days above 0, got {half_life}"
        )


_CACHE_SIZE = 4
_cache: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
_cache_lock = threading.Lock()


def _cached_sql(dataset: Dataset, name: str, values: dict[str, object]) -> pd.DataFrame:
    """The journeys are built once per data fingerprint, window, filters and lookback,
    and shared by every model and every attribution query (callers do not modify them)."""
    key = (str(dataset.data_dir), dataset.fingerprint, name,
           repr(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items())))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    frame = registry.run_sql(dataset, name, values)
    with _cache_lock:
        _cache[key] = frame
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return frame


def _journeys(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    keep = ("start", "end", "lookback_days", "team", "office", "work_type", "referrer_type", "region")
    return _cached_sql(dataset, "journey_touches", {k: values[k] for k in keep if k in values})


def _nonconverting(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    return _cached_sql(dataset, "nonconverting_journeys", {k: values[k] for k in ("start", "end")})


def _credit_query(name: str, credit):
    def run(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
        _check_params(name, values)
        model = str(values["model"])
        touches = _journeys(dataset, values)
        nonconverting = _nonconverting(dataset, values) if model == "markov" else None
        return credit(touches, model, float(values["half_life_days"]), nonconverting)

    run.__name__ = name
    return run


def attribution_summary(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    _check_params("attribution_summary", values)
    return summary(_journeys(dataset, values))


def attribution_comparison(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    _check_params("attribution_comparison", values)
    return comparison(_journeys(dataset, values), float(values["half_life_days"]),
                      _nonconverting(dataset, values))


def attribution_referrer_ranks(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    _check_params("attribution_referrer_ranks", values)
    ranks = referrer_ranks(_journeys(dataset, values), str(values["model"]),
                           float(values["half_life_days"]), _nonconverting(dataset, values))
    names = registry.run_sql(dataset, "touch_referrers", values)
    out = ranks.merge(names, on="referrer_id", how="left")
    return out[["referrer_id", "name", *[c for c in ranks.columns if c != "referrer_id"]]]


def attribution_paths(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    _check_params("attribution_paths", values)
    if int(values["limit"]) < 1:  # type: ignore[arg-type]
        raise registry.QueryError(f"parameter limit of attribution_paths must be 1 or more, "
                                  f"got {values['limit']}")
    return paths(_journeys(dataset, values), _nonconverting(dataset, values),
                 str(values["channel"]), str(values["referrer_id"]), int(values["limit"]))  # type: ignore[arg-type]


_MODEL = registry.Param("model", "choice", DEFAULT_MODEL, MODELS)
_LOOKBACK = registry.Param("lookback_days", "int", "365")
_HALF_LIFE = registry.Param("half_life_days", "float", "30")
_CONVERSIONS_NOTE = "; conversions: matters opened in the window kept by the filters"
_MODEL_NOTE = _CONVERSIONS_NOTE + f"; model defaults to {DEFAULT_MODEL}"

QUERIES = (
    registry.NamedQuery(
        name="attribution",
        area="attribution",
        purpose="multi-touch attribution credit per channel under one of ten models "
        "(metrics.md)" + _MODEL_NOTE,
        grain="one row per channel, channel ascending",
        params=(_MODEL, _LOOKBACK, _HALF_LIFE),
        function=_credit_query("attribution", channel_credit),
    ),
    registry.NamedQuery(
        name="attribution_referrers",
        area="attribution",
        purpose="multi-touch attribution credit per referrer through the referral channel "
        "(metrics.md)" + _MODEL_NOTE,
        grain="one row per referrer named on a referral touchpoint of an attributed "
        "journey, referrer_id ascending",
        params=(_MODEL, _LOOKBACK, _HALF_LIFE),
        function=_credit_query("attribution_referrers", referrer_credit),
    ),
    registry.NamedQuery(
        name="attribution_summary",
        area="attribution",
        purpose="conversions in the window, attributed and unattributed (empty journey), "
        "with their value (metrics.md)",
        grain="one row",
        params=(_LOOKBACK,),
        function=attribution_summary,
    ),
    registry.NamedQuery(
        name="attribution_comparison",
        area="attribution",
        purpose="every attribution model's credit per channel, side by side" + _CONVERSIONS_NOTE,
        grain="one row per (model, channel), models in the order of the model parameter, "
        "channel ascending",
        params=(_LOOKBACK, _HALF_LIFE),
        function=attribution_comparison,
    ),
    registry.NamedQuery(
        name="attribution_referrer_ranks",
        area="attribution",
        purpose="per referrer: attributed credit under the chosen model, its rank (most credit "
        "first) and how far the rank moves across the ten models" + _MODEL_NOTE,
        grain="one row per referrer named on a referral touchpoint of an attributed journey, "
        "by rank under the chosen model",
        params=(_MODEL, _LOOKBACK, _HALF_LIFE),
        function=attribution_referrer_ranks,
    ),
    registry.NamedQuery(
        name="attribution_paths",
        area="attribution",
        purpose="the path explorer: the most common journeys (channels in order), their "
        "conversions, non-converting journeys, conversion rate and value; channel and "
        "referrer_id keep journeys with such a touchpoint (empty: all)",
        grain="one row per distinct path, most journeys first, at most `limit` rows",
        params=(
            _LOOKBACK,
            registry.Param("channel", "str", ""),
            registry.Param("referrer_id", "str", ""),
            registry.Param("limit", "int", "50"),
        ),
        function=attribution_paths,
    ),
)
