"""Multi-touch attribution (metrics.md "Multi-touch attribution"): the model arithmetic.

The journeys are built once per data version (``queries/_facts/journey_facts.sql``) and read
per window as numbers (``queries/attribution/journey_codes.sql`` and ``nonconverting_codes.sql``,
``Touches``); this module gives each touchpoint its
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

import hashlib
import math
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import cache, cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from dashboard import facts, journey_store, registry
from dashboard.data import Dataset
from dashboard.parallel import at_once

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


class _Journeys:
    """Journey runs of touchpoint rows that come journey by journey from position 1: a per-journey
    minimum or sum is a numpy reduceat over those runs, not a group-by on ids."""

    def __init__(self, position: np.ndarray, lengths: np.ndarray | None = None) -> None:
        """From the rows' positions, or from the journeys' ``lengths`` (in order) when the caller has them."""
        if lengths is None:
            self.starts = np.flatnonzero(position == 1)
            self.lengths = np.diff(np.append(self.starts, len(position)))
        else:
            self.lengths = lengths
            self.starts = np.cumsum(lengths) - lengths

    def each(self, ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
        """``ufunc`` reduced over each journey, repeated on every row of it."""
        if not len(values):
            return values.astype(float)
        return np.repeat(ufunc.reduceat(values, self.starts), self.lengths)


class Touches:
    """Journeys as numbers: the touchpoints of the attributed conversions, one row per touchpoint,
    journey by journey from position 1, and every conversion's value (attributed or not).

    Channels and referrers are codes into ``channels`` and ``referrers`` (names ascending, so code
    order is name order; −1: none). Built from the journey_codes query (``journeys``, millions of
    rows at size L without a string among them) or from rows shaped like journey_touches or
    nonconverting_journeys (``from_frame``)."""

    def __init__(self, *, position: np.ndarray, n: np.ndarray, d: np.ndarray, channel: np.ndarray,
                 referrer: np.ndarray, channels: np.ndarray, referrers: np.ndarray,
                 conversion_value: np.ndarray, conversion_attributed: np.ndarray,
                 lengths: np.ndarray | None = None) -> None:
        # 32-bit: at 10 million referrals these are 6 million rows each, held for as long as the window is
        self.position = np.asarray(position, dtype=np.int32)
        self.n = np.asarray(n, dtype=np.int32)
        self.d = np.asarray(d, dtype=np.int32)
        self.channel = np.asarray(channel, dtype=np.int32)
        self.referrer = np.asarray(referrer, dtype=np.int32)
        self.channels = np.asarray(channels, dtype=object)
        self.referrers = np.asarray(referrers, dtype=object)
        self.conversion_value = np.asarray(conversion_value, dtype=float)
        self.conversion_attributed = np.asarray(conversion_attributed, dtype=bool)
        self.runs = _Journeys(self.position, lengths)
        # every touchpoint carries its conversion's value
        self.value = np.repeat(self.conversion_value[self.conversion_attributed], self.runs.lengths)
        self._credit: dict[tuple, tuple[object, pd.DataFrame]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.position)

    def subset(self, conversions: np.ndarray) -> Touches:
        """The journeys of the conversions flagged in ``conversions`` (one flag per conversion, in
        order), as Touches built for those conversions alone would be: a filtered view's journeys cut
        out of its window's unfiltered ones."""
        journeys = conversions[self.conversion_attributed]
        rows = np.repeat(journeys, self.runs.lengths)
        return Touches(
            position=self.position[rows], n=self.n[rows], d=self.d[rows], channel=self.channel[rows],
            referrer=self.referrer[rows], channels=self.channels, referrers=self.referrers,
            conversion_value=self.conversion_value[conversions],
            conversion_attributed=self.conversion_attributed[conversions],
            lengths=self.runs.lengths[journeys],
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """What Touches(**arrays) is built from again: the given arrays, names as text (no pickling)."""
        return {
            "position": self.position, "n": self.n, "d": self.d, "channel": self.channel,
            "referrer": self.referrer, "channels": self.channels.astype(str),
            "referrers": self.referrers.astype(str), "conversion_value": self.conversion_value,
            "conversion_attributed": self.conversion_attributed, "lengths": self.runs.lengths,
        }

    def remembered(self, kind: str, model: str, half_life_days: float,
                   nonconverting: object, compute) -> pd.DataFrame:
        """A credit table of these journeys, computed once per model (the comparison, the rank
        movement and return on relationships all ask for every model); callers get a copy."""
        nonconverting = nonconverting if model == "markov" else None  # only Markov reads them
        key = self._key(kind, model, half_life_days, nonconverting)
        with self._lock:
            hit = self._credit.get(key)
        if hit is None or hit[0] is not nonconverting:
            hit = (nonconverting, compute())
            with self._lock:
                self._credit[key] = hit
        return hit[1].copy()

    def remember(self, kind: str, model: str, half_life_days: float, credit: pd.DataFrame) -> None:
        """Keep a rule-based model's credit table computed along with another one."""
        with self._lock:
            self._credit[self._key(kind, model, half_life_days, None)] = (None, credit)

    @staticmethod
    def _key(kind: str, model: str, half_life_days: float, nonconverting: object) -> tuple:
        return (kind, model, half_life_days if model == "time_decay" else None, id(nonconverting))

    @property
    def journeys(self) -> int:
        return len(self.runs.starts)

    @cached_property
    def journey(self) -> np.ndarray:
        """Each touchpoint's journey, 0 … journeys − 1 (32-bit, as the other per-touchpoint arrays)."""
        return np.repeat(np.arange(self.journeys, dtype=np.int32), self.runs.lengths)

    @cached_property
    def is_referral(self) -> np.ndarray:
        return self.channel == _code(self.channels, REFERRAL)

    # Worked out once per journeys and shared by the ten models: at size L each is millions of values.
    @cached_property
    def position_float(self) -> np.ndarray:
        return self.position.astype(float)

    @cached_property
    def n_float(self) -> np.ndarray:
        return self.n.astype(float)

    @cached_property
    def named_channel(self) -> np.ndarray | slice:
        """The touchpoints with a channel (a slice of all of them when every one has, as is usual)."""
        named = self.channel >= 0
        return slice(None) if named.all() else named

    @cached_property
    def named_channel_value(self) -> np.ndarray:
        return self.value[self.named_channel]

    @cached_property
    def referral_credit(self) -> _ReferralCredit:
        return _ReferralCredit(self)

    @cached_property
    def longest(self) -> int:
        return int(self.n.max()) if len(self) else 0

    @cached_property
    def first_referral(self) -> np.ndarray:
        """Each touchpoint's journey's first referral position (0: none)."""
        none = np.iinfo(np.int32).max
        first = self.runs.each(np.minimum, np.where(self.is_referral, self.position, none))
        first[first == none] = 0
        return first

    @cached_property
    def referral_at(self) -> np.ndarray:
        """first_referral as a float, inf for none."""
        return _referral_position(self.first_referral)

    @cached_property
    def tally_width(self) -> int:
        """Longest journey + 1, the width of the tallies' keys; 0 when journeys are too long to tally
        (the tallies grow with its square) or there are none."""
        return self.longest + 1 if 0 < self.longest <= _TALLY_MAX_N else 0

    @cached_property
    def position_tallies(self) -> _Tallies | None:
        """Tallies per (length, position) (key length × tally_width + position); None without a width."""
        width = self.tally_width
        return _Tallies(self, self.n.astype(np.int64) * width + self.position, width * width) if width else None

    @cached_property
    def w_shaped_tallies(self) -> tuple[_Tallies, np.ndarray] | None:
        """Tallies per (length, first referral position, position), and each one's W-shaped weight;
        None without a tally width."""
        width = self.tally_width
        if not width:
            return None
        key = self.n.astype(np.int64) * width
        key += self.first_referral
        key *= width
        key += self.position
        group, keys = _factorize(key, width ** 3)
        rest, position = np.divmod(keys, width)
        n, referral_at = np.divmod(rest, width)
        weight = _w_shaped_weights(position.astype(float), n.astype(float),
                                   _referral_position(referral_at))
        return _Tallies(self, group, len(keys)), weight

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Touches:
        """From journey_touches rows (one conversion per matter_id, n = 0 for an unattributed one)
        or nonconverting_journeys rows (one journey per client_id, no value)."""
        n = frame["n"].to_numpy(dtype=np.int64)
        key = next((k for k in ("matter_id", "client_id") if k in frame), None)
        if key is not None:
            first = ~frame[key].duplicated().to_numpy()
        else:  # a journey starts at position 1; an unattributed conversion is its one row
            first = (n == 0) | (frame["position"].to_numpy(dtype=float, na_value=0.0) == 1)
        value = (frame["value"].to_numpy(dtype=float, na_value=0.0) if "value" in frame
                 else np.zeros(len(frame)))
        rows = frame[n > 0]
        channel, channels = pd.factorize(rows["channel"].to_numpy(dtype=object), sort=True)
        if "referrer_id" in rows:
            referrer, referrers = pd.factorize(rows["referrer_id"].to_numpy(dtype=object), sort=True)
        else:
            referrer, referrers = np.full(len(rows), -1), np.array([], dtype=object)
        return cls(
            position=rows["position"].to_numpy(dtype=np.int64),
            n=rows["n"].to_numpy(dtype=np.int64),
            d=rows["d"].to_numpy(dtype=np.int64) if "d" in rows else np.zeros(len(rows)),
            channel=channel, referrer=referrer, channels=channels, referrers=referrers,
            conversion_value=value[first], conversion_attributed=n[first] > 0,
        )

    @classmethod
    def from_codes(cls, codes: pa.Table, fees: pa.Table, names: pa.Table, lookback_days: int) -> Touches:
        """From journey_codes, journey_fee_rows and journey_code_names: keeps each journey's touchpoints
        with d ≤ lookback_days (its last ones, as touchpoints come in time order) and renumbers them."""
        # millions of rows at size L: every step here allocates as little as it can (int32, one diff)
        journey = _column(codes, "journey")
        position, n, d = (_column(codes, c, np.int32) for c in ("position", "n", "d"))
        steps = np.diff(journey)
        if (steps < 0).any():  # DuckDB keeps the file's order; make sure
            order = np.lexsort((position, journey))
            codes = codes.take(order)
            journey, position, n, d = journey[order], position[order], n[order], d[order]
            steps = np.diff(journey)
        new_journey = np.empty(len(journey), dtype=bool)
        new_journey[:1] = True
        np.not_equal(steps, 0, out=new_journey[1:])
        del steps
        starts = np.flatnonzero(new_journey)
        lengths = np.diff(starts, append=len(journey))
        inside = d <= lookback_days
        inside &= n > 0
        kept = np.add.reduceat(inside, starts, dtype=np.int32) if len(starts) else np.zeros(0, np.int32)
        kept_n = np.repeat(kept, lengths)
        value = _journey_values(fees, journey[starts])
        renumbered = position - n  # the kept touchpoints are the journey's last kept_n: from 1 again
        renumbered += kept_n
        return cls(
            position=renumbered[inside],
            n=kept_n[inside],
            d=d[inside],
            channel=_column(codes, "channel_code", np.int32)[inside],
            referrer=_column(codes, "referrer_code", np.int32)[inside],
            channels=_names(names, "channel"),
            referrers=_names(names, "referrer"),
            conversion_value=value,
            conversion_attributed=kept > 0,
            lengths=kept[kept > 0],
        )

    @classmethod
    def from_client_codes(cls, codes: pa.Table, names: pa.Table) -> Touches:
        """From nonconverting_codes (touchpoints by client, then time) and journey_code_names: one
        journey per client, without value."""
        client = _column(codes, "client")
        starts = np.flatnonzero(np.diff(client, prepend=-2) != 0) if len(client) else np.zeros(0, np.int64)
        lengths = np.diff(np.append(starts, len(client)))
        return cls(
            position=np.arange(len(client)) - np.repeat(starts, lengths) + 1,
            n=np.repeat(lengths, lengths),
            d=np.zeros(len(client)),
            channel=_column(codes, "channel_code"),
            referrer=_column(codes, "referrer_code"),
            channels=_names(names, "channel"),
            referrers=_names(names, "referrer"),
            conversion_value=np.zeros(len(starts)),
            conversion_attributed=np.ones(len(starts), dtype=bool),
            lengths=lengths,
        )


def _journey_values(fees: pa.Table, journeys: np.ndarray) -> np.ndarray:
    """The value of each of ``journeys`` (ascending): its journey_fee_rows added up, 0 without any.

    Journeys are numbered from 0, so the fee rows are added up by their journey number itself
    (np.bincount) instead of being sorted, cut into runs and searched for. With a filter most fee rows
    belong to journeys it drops (journey_fee_rows reads the window's range): their sums are left unused
    rather than masked out first, which copied millions of rows (at size L 115 -> 55 ms for one team)."""
    if not len(journeys):
        return np.zeros(0)
    journey, amount = _column(fees, "journey"), _column(fees, "amount", float)
    last = max(int(journey.max()), int(journeys[-1])) if len(journey) else int(journeys[-1])
    return np.bincount(journey, weights=amount, minlength=last + 1)[journeys]


def _names(names: pa.Table, kind: str) -> np.ndarray:
    """journey_code_names' names of one kind, by code."""
    kinds = names.column("kind").to_numpy(zero_copy_only=False)
    labels = names.column("name").to_numpy(zero_copy_only=False)
    codes = names.column("code").to_numpy(zero_copy_only=False)
    mine = kinds == kind
    return labels[mine][np.argsort(codes[mine], kind="stable")]


def _column(table: pa.Table, name: str, dtype: type = np.int64) -> np.ndarray:
    """A column as NumPy ``dtype``, a missing value as 0. The callers mask the rows where one can be
    (a conversion without touchpoints has no position, d or channel); filled in Arrow first, the column
    converts without a detour through floats with NaN (0.4 s of a journeys build at size L)."""
    column = table.column(name)
    if column.null_count:
        column = column.fill_null(0)
    return column.to_numpy().astype(dtype, copy=False)


def _code(names: np.ndarray, name: str) -> int:
    """The code of ``name`` among ``names`` (ascending), or −2, which no touchpoint has."""
    at = int(np.searchsorted(names, name)) if len(names) else 0
    return at if at < len(names) and names[at] == name else -2


_frames_lock = threading.Lock()
_frames: OrderedDict[int, tuple[pd.DataFrame, Touches]] = OrderedDict()


def as_touches(touches: Touches | pd.DataFrame) -> Touches:
    """Touches as they are, or rows shaped like journey_touches / nonconverting_journeys as Touches
    (remembered for the last few frames, so ten models share one conversion)."""
    if isinstance(touches, Touches):
        return touches
    key = id(touches)
    with _frames_lock:
        hit = _frames.get(key)
        if hit is not None and hit[0] is touches:
            return hit[1]
    converted = Touches.from_frame(touches)
    with _frames_lock:
        _frames[key] = (touches, converted)
        while len(_frames) > _CACHE_SIZE:
            _frames.popitem(last=False)
    return converted


# ---------------------------------------------------------- rule-based models


def _ends_weights(position: np.ndarray, n: np.ndarray, first: float, last: float) -> np.ndarray:
    return _by_position(position, n, lambda p, k: _ends(p, k, first, last))


# Journeys longer than this are weighted touchpoint by touchpoint rather than through a table.
_TABLE_MAX_N = 1_000


def _by_position(position: np.ndarray, n: np.ndarray, weights) -> np.ndarray:
    """``weights(position, n)`` of a model whose weight depends on those two alone, worked once per
    (position, n) pair in a small table and looked up for millions of touchpoints."""
    longest = int(n.max()) if len(n) else 0
    if longest > _TABLE_MAX_N:
        return weights(position, n)
    k, p = np.divmod(np.arange((longest + 1) ** 2, dtype=float), longest + 1)
    table = weights(p, np.maximum(k, 1))
    return table[n.astype(np.int64) * (longest + 1) + position.astype(np.int64)]


def _ends(position: np.ndarray, n: np.ndarray, first: float, last: float) -> np.ndarray:
    middle = (1.0 - first - last) / np.maximum(n - 2, 1)
    many = np.where(position == 1, first, np.where(position == n, last, middle))
    two = np.where(position == 1, first, last) / (first + last)
    return np.where(n == 1, 1.0, np.where(n == 2, two, many))


def rule_weights(touches: Touches | pd.DataFrame, model: str, half_life_days: float = 30.0) -> np.ndarray:
    """Each touchpoint's weight under a rule-based model; one journey's weights sum to 1.

    ``touches``: Touches, or attributed rows of journey_touches (matter_id, position, n, d, channel).
    """
    touches = as_touches(touches)
    if model == "time_decay":
        journeys = touches.runs
        # 2^(−d/h), rescaled per journey by its nearest touchpoint so nothing underflows (in place: at
        # size L each step is 6 million values)
        raw = touches.d - journeys.each(np.minimum, touches.d)
        np.negative(raw, out=raw)
        raw = np.divide(raw, half_life_days)
        np.exp2(raw, out=raw)
        raw /= journeys.each(np.add, raw)
        return raw
    # the others by position and length (kept as floats on the Touches: asked for by several models)
    position, n = touches.position_float, touches.n_float
    if model in _BY_POSITION:
        return _by_position_weights(model, position, n)
    if model == "w_shaped":
        return _w_shaped(touches, position, n)
    raise ValueError(f"{model!r} is not a rule-based model ({', '.join(RULE_BASED)})")


def _w_shaped(touches: Touches, position: np.ndarray, n: np.ndarray) -> np.ndarray:
    """30% to each milestone (first, first referral, last; coinciding shares add up),
    10% evenly over the other touchpoints, or over the distinct milestone touchpoints
    when there is no other; a journey without a referral is position_based."""
    return _w_shaped_weights(position, n, touches.referral_at)


def _referral_position(first_referral: np.ndarray) -> np.ndarray:
    """A first referral position (0: none) as _w_shaped_weights reads it: a float, inf for none."""
    return np.where(first_referral == 0, np.inf, first_referral).astype(float, copy=False)


def _w_shaped_weights(position: np.ndarray, n: np.ndarray, referral_at: np.ndarray) -> np.ndarray:
    """_w_shaped's weights from each touchpoint's position, journey length and first referral position."""
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


def transition_counts(converting: Touches | pd.DataFrame, nonconverting: Touches | pd.DataFrame) -> pd.DataFrame:
    """Observed transitions (from_state, to_state, count) between start, channels,
    conversion and null: converting journeys end in conversion, the others in null.

    Both hold one row per touchpoint, journey by journey from position 1 (Touches, or frames
    with ``position``, ``n`` and ``channel``). Counted on integer codes of the states (a few
    dozen) rather than on millions of strings."""
    journeys = [(as_touches(t), end) for t, end in ((converting, "(conversion)"), (nonconverting, "(null)"))]
    journeys = [(t, end) for t, end in journeys if len(t)]
    if not journeys:
        return pd.DataFrame({"from_state": [], "to_state": [], "count": []})
    seen = (np.bincount(t.channel[t.channel >= 0], minlength=len(t.channels)) > 0 for t, _ in journeys)
    channels = sorted({c for (t, _), present in zip(journeys, seen) for c in t.channels[present]})
    states = ["(start)", "(conversion)", "(null)", *channels]
    code = {state: i for i, state in enumerate(states)}
    size = len(states)
    counts = np.zeros(size * size, dtype=np.int64)
    for t, end in journeys:
        # a touchpoint without a channel (code −1) lands on state 2, as pandas' Categorical code −1 + 3 did
        own = np.append(np.searchsorted(channels, t.channels) + 3, 2) if len(t.channels) else np.array([2])
        channel = own[t.channel]
        previous = np.where(t.position == 1, code["(start)"], np.roll(channel, 1))
        last = t.position == t.n
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


def _markov(touches: Touches, nonconverting: Touches | pd.DataFrame) -> pd.DataFrame:
    effects = removal_effects(transition_counts(touches, nonconverting))
    values = touches.conversion_value[touches.conversion_attributed]
    total = effects.sum()
    share = effects / total if total > 0 else effects * 0.0
    return pd.DataFrame({
        "channel": pd.array(effects.index.to_numpy(dtype=object), dtype="str"),
        "conversions": (share * len(values)).to_numpy(),
        "value": (share * values.sum()).to_numpy(),
    })


# ------------------------------------------------------------------- shapley

# Shapley marks its (journey, channel) pairs in a table of this many booleans at most, else sorts them.
_MARKS_MAX = 2**27


def _shapley(touches: Touches) -> pd.DataFrame:
    """Exact Shapley values of v(S) = number (value) of converting journeys whose channel
    set is a subset of S. That game is a sum of unanimity games, one per journey, so each
    journey's 1 (and its value) is split evenly over its distinct channels.

    Counted on integer codes: which channels each journey has, as a table of marks (journeys ×
    channels) when it is small enough, else as (journey, channel) pairs made distinct by sorting."""
    known = touches.channel >= 0
    size = len(touches.channels)
    width = max(size, 1)
    journey_value = touches.value[touches.runs.starts] if len(touches) else np.zeros(0)
    if touches.journeys * width <= _MARKS_MAX:
        # at size L 23 MB of marks instead of sorting 6 million pairs: faster, and a few arrays of one
        # value per journey instead of several per touchpoint
        marks = np.zeros((width, touches.journeys), dtype=bool)
        marks[touches.channel[known], touches.journey[known]] = True
        distinct = marks.sum(axis=0)
        share = np.divide(1.0, distinct, out=np.zeros(len(distinct)), where=distinct > 0)
        valued = share * journey_value
        present = marks.any(axis=1)[:size]
        # a dot product per channel (its marks as 0/1): a tenth of the time of summing share[row]
        conversions = np.array([np.dot(row, share) for row in marks[:size]])
        values = np.array([np.dot(row, valued) for row in marks[:size]])
    else:
        pairs = np.sort(touches.journey[known].astype(np.int64) * width + touches.channel[known])
        pairs = pairs[np.diff(pairs, prepend=-1) != 0]  # a sort beats numpy's hashed unique here
        pair_journey, pair_channel = pairs // width, pairs % width
        share = 1.0 / np.bincount(pair_journey, minlength=touches.journeys)[pair_journey]
        present = np.bincount(pair_channel, minlength=width)[:size] > 0
        conversions = np.bincount(pair_channel, weights=share, minlength=width)[:size]
        values = np.bincount(pair_channel, weights=journey_value[pair_journey] * share, minlength=width)[:size]
    return pd.DataFrame({
        "channel": pd.array(touches.channels[present], dtype="str"),
        "conversions": conversions[present],
        "value": values[present],
    })


# ------------------------------------------------------------------- credits


def _check_model(model: str) -> None:
    if model not in MODELS:
        raise ValueError(f"unknown attribution model {model!r}: choose one of {', '.join(MODELS)}")


def channel_credit(
    touches: Touches | pd.DataFrame,
    model: str = DEFAULT_MODEL,
    half_life_days: float = 30.0,
    nonconverting: Touches | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Credit (conversions) and value credit per channel, channels ascending.

    ``touches``: Touches or journey_touches rows (unattributed rows are skipped); ``nonconverting``:
    nonconverting_journeys rows, needed by ``markov`` only. Every channel of an attributed
    journey has a row (0 when the model gives it nothing); ``markov`` also lists channels
    seen only in non-converting journeys."""
    _check_model(model)
    touches = as_touches(touches)
    if not len(touches):
        return pd.DataFrame({c: pd.Series(dtype="str" if c == "channel" else float)
                             for c in CHANNEL_COLUMNS})
    def compute() -> pd.DataFrame:
        if model == "markov":
            empty = pd.DataFrame({"position": [], "n": [], "channel": []})
            return _markov(touches, empty if nonconverting is None else nonconverting)
        if model == "shapley":
            return _shapley(touches)
        return _rule_credit(touches, model, half_life_days)[0]

    return touches.remembered("channel", model, half_life_days, nonconverting, compute)


def _rule_credit(touches: Touches, model: str, half_life_days: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A rule-based model's credit per channel and per referrer from one computation of its weights
    (pages ask for both), each remembered for the other's caller."""
    referrals = touches.referral_credit
    tallies = None
    if model in _BY_POSITION and touches.position_tallies is not None:
        tallies, table = touches.position_tallies, _position_table(model, touches.tally_width)
    elif model == "w_shaped" and touches.w_shaped_tallies is not None:
        tallies, table = touches.w_shaped_tallies
    if tallies is not None:
        channel = tallies.channel_frame(table)
        referrer = referrals.frame(*tallies.referrer_credit(table))
    else:
        weight = rule_weights(touches, model, half_life_days)
        channel = _channel_frame(touches, weight)
        referrer = referrals.frame(*referrals.credit(weight))
    touches.remember("channel", model, half_life_days, channel)
    touches.remember("referrer", model, half_life_days, referrer)
    return channel, referrer


def _channel_frame(touches: Touches, weight: np.ndarray) -> pd.DataFrame:
    """Credit and value credit per channel present (channels ascending) from per-touchpoint weights."""
    named = touches.named_channel
    codes, size = touches.channel[named], len(touches.channels)
    present = np.bincount(codes, minlength=size) > 0
    weight = weight[named]
    return pd.DataFrame({
        "channel": pd.array(touches.channels[present], dtype="str"),
        "conversions": np.bincount(codes, weights=weight, minlength=size)[present],
        "value": np.bincount(codes, weights=weight * touches.named_channel_value, minlength=size)[present],
    })


# Models whose weight depends on a touchpoint's position and its journey's length alone.
_BY_POSITION = ("first_touch", "last_touch", "linear", "position_based", "j_shaped", "inverse_j")
# Journeys longer than this are credited touchpoint by touchpoint.
_TALLY_MAX_N = 200


def _by_position_weights(model: str, position: np.ndarray, n: np.ndarray) -> np.ndarray:
    """A _BY_POSITION model's weight from positions and journey lengths (floats): touchpoint by
    touchpoint, or for every pair of the tallies' table."""
    if model == "first_touch":
        return (position == 1).astype(float)
    if model == "last_touch":
        return (position == n).astype(float)
    if model == "linear":
        return 1.0 / n
    return _ends_weights(position, n, *_ENDS[model])


def _position_table(model: str, width: int) -> np.ndarray:
    """A _BY_POSITION model's weight for every (length, position) pair, at length × width + position
    (pairs that cannot occur get a finite weight that no touchpoint uses)."""
    k, p = np.divmod(np.arange(width * width, dtype=float), width)
    return _by_position_weights(model, p, np.maximum(k, 1))


# Below this many possible values, _factorize counts each one instead of hashing them.
_DENSE_MAX = 2**23


def _factorize(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """pd.factorize(values, sort=True) of integers 0 … size − 1: when there are few enough possible
    values (journeys at size L are short and referrers 20,000), a count and a lookup per value, at
    size L 5 times faster than hashing."""
    if size > _DENSE_MAX:
        return pd.factorize(values, sort=True)
    uniques = np.flatnonzero(np.bincount(values, minlength=size))
    lookup = np.zeros(size, dtype=np.intp)
    lookup[uniques] = np.arange(len(uniques))
    return lookup[values], uniques


class _Tallies:
    """Touchpoints and their value counted per key and channel, and per key and referrer: a model
    whose weight depends on the key alone ((length, position) for six models; with the first referral
    position for W-shaped) adds up these tallies (a few thousand) instead of weighting millions of
    touchpoints. ``key``: each touchpoint's, 0 … keys − 1."""

    def __init__(self, touches: Touches, key: np.ndarray, keys: int) -> None:
        named, channels = touches.named_channel, len(touches.channels)
        cell = key[named] * channels + touches.channel[named]
        size = keys * channels
        self.channel_count = np.bincount(cell, minlength=size).reshape(-1, channels)
        self.channel_value = np.bincount(cell, weights=touches.named_channel_value,
                                         minlength=size).reshape(-1, channels)
        self.present = self.channel_count.sum(axis=0) > 0
        self.channels = touches.channels[self.present]
        referrals = touches.referral_credit
        self.referrers, self.referrer_present = len(touches.referrers), referrals.present
        pair, pairs = _factorize(key[referrals.named] * self.referrers + referrals.codes, keys * self.referrers)
        self.pair_key, self.pair_referrer = np.divmod(pairs, self.referrers) if self.referrers else (pairs, pairs)
        self.pair_count = np.bincount(pair, minlength=len(pairs)).astype(float)
        self.pair_value = np.bincount(pair, weights=referrals.named_value, minlength=len(pairs))

    def channel_frame(self, table: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({
            "channel": pd.array(self.channels, dtype="str"),
            "conversions": (table @ self.channel_count)[self.present],
            "value": (table @ self.channel_value)[self.present],
        })

    def referrer_credit(self, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(conversions, value) per referrer, as _ReferralCredit.credit."""
        weight = table[self.pair_key]
        conversions = np.bincount(self.pair_referrer, weights=weight * self.pair_count, minlength=self.referrers)
        value = np.bincount(self.pair_referrer, weights=weight * self.pair_value, minlength=self.referrers)
        return conversions[self.referrer_present], value[self.referrer_present]


class _ReferralCredit:
    """The referral touchpoints of attributed journeys: every model's referrer credit is a
    weighted count per referrer (np.bincount), not a string group-by per model."""

    def __init__(self, touches: Touches) -> None:
        self.touches = touches
        self.rows = touches.is_referral
        named = self.rows & (touches.referrer >= 0)
        self.codes = touches.referrer[named]
        self.named = named
        size = len(touches.referrers)
        self.present = np.bincount(self.codes, minlength=size) > 0
        self.ids = touches.referrers[self.present]
        self.named_value = touches.value[named]
        self.referral_value = touches.value[self.rows]

    def credit(self, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(conversions, value) per referrer of ``ids`` from per-touchpoint weights."""
        size = len(self.touches.referrers)
        weight = weight[self.named]
        conversions = np.bincount(self.codes, weights=weight, minlength=size)
        value = np.bincount(self.codes, weights=weight * self.named_value, minlength=size)
        return conversions[self.present], value[self.present]

    def totals(self, weight: np.ndarray) -> tuple[float, float]:
        """(conversions, value) over every referral touchpoint, with or without a referrer."""
        weight = weight[self.rows]
        return float(weight.sum()), float((weight * self.referral_value).sum())

    def frame(self, conversions: np.ndarray, value: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({"referrer_id": pd.array(self.ids, dtype="str"),
                             "conversions": conversions, "value": value})


def referrer_credit(
    touches: Touches | pd.DataFrame,
    model: str = DEFAULT_MODEL,
    half_life_days: float = 30.0,
    nonconverting: Touches | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Credit per referrer, referrer_id ascending: one row per referrer named on a
    referral touchpoint of an attributed journey.

    Rule-based models: the weights of the referrer's own referral touchpoints. Markov
    and Shapley: the referral channel's credit times the referrer's share of the
    referral channel's linear credit (value likewise; the share of referral touchpoints
    without a referrer stays unassigned)."""
    _check_model(model)
    touches = as_touches(touches)

    def compute() -> pd.DataFrame:
        if model in RULE_BASED:
            return _rule_credit(touches, model, half_life_days)[1]
        referrals = touches.referral_credit
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

    return touches.remembered("referrer", model, half_life_days, nonconverting, compute)


def summary(touches: Touches | pd.DataFrame) -> pd.DataFrame:
    """attribution_summary: every conversion, attributed or not."""
    touches = as_touches(touches)
    value = touches.conversion_value
    empty = ~touches.conversion_attributed
    return pd.DataFrame([{
        "conversions": len(value),
        "attributed_conversions": int((~empty).sum()),
        "unattributed_conversions": int(empty.sum()),
        "value": float(value.sum()),
        "unattributed_value": float(value[empty].sum()),
    }])


# For journeys of at least _PARALLEL_MIN touchpoints the comparison computes these models on a second
# thread (parallel.at_once): about half the work at size L, where the first thread adds up the tallies
# of the other seven and marks Shapley's channels (0.8-0.9 s for the ten, against 0.9-1.0 s with
# Shapley here and Markov there).
_SECOND_THREAD = ("time_decay", "markov")
_PARALLEL_MIN = 500_000


def comparison(
    touches: Touches | pd.DataFrame, half_life_days: float = 30.0,
    nonconverting: Touches | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every model's credit per channel: model (in MODELS order), channel, conversions, value."""
    touches = as_touches(touches)

    def credit(models: tuple[str, ...]) -> list[pd.DataFrame]:
        return [channel_credit(touches, m, half_life_days, nonconverting).assign(model=m) for m in models]

    first = tuple(m for m in MODELS if m not in _SECOND_THREAD)
    if len(touches) < _PARALLEL_MIN:
        mine, theirs = credit(first), credit(_SECOND_THREAD)
    else:
        touches.referral_credit  # noqa: B018 -- both threads' rule-based models read it: worked out once, first
        mine, theirs = at_once(lambda: credit(first), lambda: credit(_SECOND_THREAD))
    frames = dict(zip(first + _SECOND_THREAD, mine + theirs, strict=True))
    return pd.concat([frames[m] for m in MODELS], ignore_index=True)[["model", *CHANNEL_COLUMNS]]


def _ranks(credit: pd.DataFrame) -> pd.Series:
    """1 = most conversion credit; ties by referrer_id. Credit is compared to 9 decimals: shares added up
    in a different order differ in their last bits, and equal credit must tie."""
    ordered = credit.assign(tied=credit["conversions"].round(9)).sort_values(
        ["tied", "referrer_id"], ascending=[False, True])
    return pd.Series(range(1, len(ordered) + 1), index=ordered["referrer_id"].to_numpy())


def referrer_ranks(
    touches: Touches | pd.DataFrame,
    model: str = DEFAULT_MODEL,
    half_life_days: float = 30.0,
    nonconverting: Touches | pd.DataFrame | None = None,
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


def _journey_paths(touches: Touches, channel: str, referrer_id: str) -> pd.DataFrame:
    """One row per distinct path of ``touches`` (channels joined by " > ") with its length, its
    journeys and their value, counting the journeys with a ``channel`` / ``referrer_id``
    touchpoint when those are given.

    A path is numbered position by position: at each step a journey's path so far and its next
    channel become the number of the longer path, so journeys are counted per number and only
    the distinct paths are spelled out."""
    count = touches.journeys
    keep = np.ones(count, dtype=bool)
    for codes, names, wanted in ((touches.channel, touches.channels, channel),
                                 (touches.referrer, touches.referrers, referrer_id)):
        if wanted:
            found = np.zeros(count, dtype=bool)
            found[touches.journey[codes == _code(names, wanted)]] = True
            keep &= found
    width = len(touches.channels) + 1  # a channel code + 1; 0: a touchpoint without a channel
    path = np.zeros(count, dtype=np.int64)  # 0: the empty path
    parent, last = [np.array([-1])], [np.array([-1])]
    known = 1
    for step in range(1, int(touches.position.max()) + 1 if len(touches) else 1):
        at = touches.position == step
        journey = touches.journey[at]
        # counted, not sorted: the numbers so far times the channels are few (at size L 0.8 -> 0.5 s)
        number, longer = _factorize(path[journey] * width + touches.channel[at] + 1, known * width)
        path[journey] = known + number
        parent.append(longer // width)
        last.append(longer % width - 1)
        known += len(longer)
    parent_of, channel_of = np.concatenate(parent), np.concatenate(last)
    labels = np.append(touches.channels, "(none)")
    text = [""] * known
    length = np.zeros(known, dtype=np.int64)
    for number in range(1, known):  # numbered after their parents, so a parent is spelled first
        name = labels[channel_of[number]]
        up = parent_of[number]
        text[number] = name if up == 0 else f"{text[up]} > {name}"
        length[number] = length[up] + 1
    first_value = touches.value[touches.runs.starts] if len(touches) else np.zeros(0)
    kept_path = path[keep]
    journeys = np.bincount(kept_path, minlength=known)
    value = np.bincount(kept_path, weights=first_value[keep], minlength=known)
    used = np.flatnonzero(journeys)
    return pd.DataFrame({
        "path": pd.array(np.array(text, dtype=object)[used], dtype="str"),
        "touchpoints": length[used],
        "journeys": journeys[used],
        "value": value[used],
    })


def paths(
    touches: Touches | pd.DataFrame,
    nonconverting: Touches | pd.DataFrame,
    channel: str = "",
    referrer_id: str = "",
    limit: int = 50,
) -> pd.DataFrame:
    """The path explorer: the most common journeys (channels joined by " > "), each with
    its converting journeys (one per conversion), non-converting journeys, conversion
    rate = conversions / journeys and the value of its conversions. ``channel`` and
    ``referrer_id`` keep the journeys with such a touchpoint. Most journeys first, then
    most conversions, then path."""
    converting = _journey_paths(as_touches(touches), channel, referrer_id)
    others = _journey_paths(as_touches(nonconverting), channel, referrer_id)
    table = pd.concat([converting.assign(conversions=converting["journeys"]),
                       others.assign(conversions=0, value=0.0)])
    out = table.groupby(["path", "touchpoints"], as_index=False).agg(
        journeys=("journeys", "sum"), conversions=("conversions", "sum"), value=("value", "sum"))
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
# Journeys kept, newest first, while they hold less than this in all (the newest is always kept): at
# 10 million referrals one window's journeys with what the models derive from them are 0.3-0.5 GB, and
# a count alone let four of them, one per filter tried, take the app past 1.5 GB.
_CACHE_BYTES = 600 * 2**20
_cache: OrderedDict[tuple, Touches] = OrderedDict()
_coming: dict[tuple, Future] = {}  # journeys being built, by _cache key
_cache_lock = threading.Lock()
_WINDOW_KEYS = ("start", "end", "team", "office", "work_type", "referrer_type", "region")


def _nbytes(touches: Touches) -> int:
    """The numpy arrays a Touches holds, its own and those of the objects it keeps (runs, referral
    credit, tallies), each counted once."""
    total, seen, pending = 0, set(), [touches]
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, np.ndarray):
            total += value.nbytes
        elif isinstance(value, tuple):
            pending.extend(value)
        elif isinstance(value, (Touches, _Journeys, _ReferralCredit, _Tallies)):
            pending.extend(vars(value).values())
    return total


# Touches.arrays(): what the journeys kept on disk hold
_STORED = {"position", "n", "d", "channel", "referrer", "channels", "referrers", "conversion_value",
           "conversion_attributed", "lengths"}


@cache
def _builder_version() -> str:
    """A hash of everything a window's journeys are built from besides the data: the facts' versions,
    the SQL that reads them and this module (which turns it into Touches; any change to it counts, which
    is safe). Kept journeys of another version are never read."""
    # the files' text, not inspect.getsource: that parses Python, which CPython 3.11 cannot do on two
    # threads at once (SystemError "AST constructor recursion depth mismatch"), and both_journeys asks
    # from two threads
    digest = hashlib.sha256(repr(sorted(facts.fact_versions().items())).encode())
    for name in ("journey_codes", "journey_fee_rows", "journey_code_names", "nonconverting_codes"):
        digest.update(registry.get(name).sql.encode())
    digest.update(registry.MACROS_FILE.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def _store_folder(dataset: Dataset, what: str, values: dict[str, object]) -> Path | None:
    """Where the journeys for ``values`` are kept on disk: only those of the view everyone opens first
    (the default window, no filter, the default look-back), so that the disk does not fill one filter
    at a time. None for any other, or when the data has no facts folder or no default window."""
    try:
        window = registry.default_window(dataset)
    except registry.QueryError:  # no dated rows: a window given by hand has nothing to be kept with
        return None
    if (values.get("start"), values.get("end")) != (window.start, window.end):
        return None
    if any(values.get(k) for k in _WINDOW_KEYS[2:]) or values.get("lookback_days", 365) != 365:
        return None
    folder = facts.facts_dir_if_built(dataset.data_dir, dataset.fingerprint)
    if folder is None:
        return None
    # the window in the name too: what the default window is can change with refport's code
    # (window.py), which _builder_version does not read
    version = hashlib.sha256(f"{_builder_version()} {window.start} {window.end}".encode()).hexdigest()[:16]
    return folder / "journeys" / f"{what}-{version}"


# Journeys are written to disk on a thread of their own (about 0.7 s for 200 MB at size L), so the page
# that built them does not wait; Python finishes the writing before it exits.
_writer = ThreadPoolExecutor(1, thread_name_prefix="refport-journey-store")
_writing: dict[Path, Future] = {}  # by folder
_writing_lock = threading.Lock()


# Work on converting journeys takes turns across the process's sessions: building a window's, or
# running the models on them. At 10 million referrals either holds 0.4-0.45 GB more while it runs, and
# ten sessions doing it at once for different filters took the server past 1.5 GB; on two cores a
# second such piece of work at the same time only slows the first (each keeps both cores busy). The
# non-converting journeys (a sixth of the size) are built beside the converting ones (both_journeys).
_turns = threading.Lock()
_build_locks = {"journeys": _turns, "nonconverting": threading.Lock()}


def _kept_or_built(dataset: Dataset, what: str, values: dict[str, object], build) -> Touches:
    """build(), or the journeys kept on disk for ``values`` (kept there after building them)."""
    folder = _store_folder(dataset, what, values)
    if folder is None:
        with _build_locks[what]:
            return build()
    if (kept := _kept(folder)) is not None:
        return kept
    with _build_locks[what]:
        # built by another thread while this one waited (the app's background build)?
        if (kept := _kept(folder)) is not None:
            return kept
        touches = build()
    with _writing_lock:
        for done in [f for f, future in _writing.items() if future.done()]:
            del _writing[done]
        _writing[folder] = _writer.submit(journey_store.save, folder, touches.arrays())
    return touches


def _kept(folder: Path) -> Touches | None:
    """The journeys kept in ``folder``, once written if they are being written; None if not kept."""
    with _writing_lock:
        writing = _writing.get(folder)
    if writing is not None:
        wait([writing])
    arrays = journey_store.load(folder, _STORED)
    return Touches(**arrays) if arrays is not None else None


def kept_written() -> None:
    """Wait until the journeys being kept on disk are written."""
    with _writing_lock:
        pending = list(_writing.values())
    wait(pending)


def _cache_key(dataset: Dataset, what: str, values: dict[str, object]) -> tuple:
    return (str(dataset.data_dir), dataset.fingerprint, what,
            repr(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items())))


def _remembered(dataset: Dataset, what: str, values: dict[str, object], build) -> Touches:
    """Journeys are built once per data fingerprint, window, filters and lookback, and shared by
    every model and every attribution query (callers do not modify them). The default view's are
    also kept on disk (_store_folder)."""
    key = _cache_key(dataset, what, values)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        # sessions asking for the same journeys while they are being built wait for them
        coming, ours = _coming.get(key), key not in _coming
        if ours:
            coming = _coming[key] = Future()
            # room first, so that the journeys kept and the new ones are not in memory together: new
            # ones take about as much as the largest of their kind kept
            room = max((_nbytes(t) for k, t in _cache.items() if k[2] == what), default=0)
            while _cache and sum(_nbytes(t) for t in _cache.values()) + room > _CACHE_BYTES:
                _cache.popitem(last=False)
    if not ours:
        return coming.result()
    try:
        touches = _kept_or_built(dataset, what, values, build)
    except BaseException as error:
        with _cache_lock:
            del _coming[key]
        coming.set_exception(error)
        raise
    with _cache_lock:
        del _coming[key]
        _cache[key] = touches
        # their arrays grow as models derive more from them, so the bytes are counted now, not when kept
        while len(_cache) > _CACHE_SIZE or (
                len(_cache) > 1 and sum(_nbytes(t) for t in _cache.values()) > _CACHE_BYTES):
            _cache.popitem(last=False)
    coming.set_result(touches)
    return touches


def forget() -> None:
    """Drop every remembered journey and credit table (the benchmark's first renders)."""
    with _cache_lock:
        _cache.clear()
    with _frames_lock:
        _frames.clear()


def journeys(dataset: Dataset, values: dict[str, object], remember: bool = True) -> Touches:
    """The converting journeys of the window, filters and lookback_days (default 365), as Touches:
    journey_codes (the journeys before any lookback, as numbers) with journey_fee_rows. Without
    ``remember`` they are not kept in memory (those of the default view still are on disk)."""
    window = {k: values.get(k) for k in _WINDOW_KEYS}  # a filter not given keeps everything
    lookback = int(values.get("lookback_days", 365))  # type: ignore[call-overload]

    # the unfiltered ones in memory are taken now: making room for the new journeys can drop them
    in_memory = _unfiltered_in_memory(dataset, window, lookback)

    def build() -> Touches:
        if (unfiltered := in_memory or _unfiltered_on_disk(dataset, window, lookback)) is not None:
            kept = registry.run_sql_arrow(dataset, "journey_kept_by_filters", window).column("kept")
            conversions = kept.fill_null(False).to_numpy(zero_copy_only=False)
            if len(conversions) == len(unfiltered.conversion_value):
                return unfiltered.subset(conversions)
        codes = registry.run_sql_arrow(dataset, "journey_codes", window)
        fees = registry.run_sql_arrow(dataset, "journey_fee_rows", window)
        names = registry.run_sql_arrow(dataset, "journey_code_names", window)
        return Touches.from_codes(codes, fees, names, lookback)

    key = {**window, "lookback_days": lookback}
    return (_remembered if remember else _kept_or_built)(dataset, "journeys", key, build)


def _unfiltered_values(window: dict[str, object], lookback: int) -> dict[str, object] | None:
    """For a filtered view: the values of its window's unfiltered journeys with the same look-back, as
    journeys() keys them; None for a view without a filter."""
    if not any(window.get(k) for k in _WINDOW_KEYS[2:]):
        return None
    return {**{k: None for k in _WINDOW_KEYS[2:]}, "start": window["start"], "end": window["end"],
            "lookback_days": lookback}


# A filtered view's journeys are cut out of its window's unfiltered ones with the same look-back
# (Touches.subset) when those are in memory or kept on disk (the default view's): at 10 million
# referrals 0.25 s for one team against 0.55-0.7 s to read and build them. The unfiltered ones are not
# built for it when they are not at hand (1.6 s).
def _unfiltered_in_memory(dataset: Dataset, window: dict[str, object], lookback: int) -> Touches | None:
    if (values := _unfiltered_values(window, lookback)) is None:
        return None
    with _cache_lock:
        return _cache.get(_cache_key(dataset, "journeys", values))


def _unfiltered_on_disk(dataset: Dataset, window: dict[str, object], lookback: int) -> Touches | None:
    if (values := _unfiltered_values(window, lookback)) is None:
        return None
    folder = _store_folder(dataset, "journeys", values)
    return _kept(folder) if folder is not None else None


def nonconverting(dataset: Dataset, values: dict[str, object], remember: bool = True) -> Touches:
    """The non-converting journeys of the window as Touches (nonconverting_codes); ``remember`` as
    for journeys."""
    window = {k: values[k] for k in ("start", "end")}
    def build() -> Touches:
        return Touches.from_client_codes(registry.run_sql_arrow(dataset, "nonconverting_codes", window),
                                         registry.run_sql_arrow(dataset, "journey_code_names", window))

    return (_remembered if remember else _kept_or_built)(dataset, "nonconverting", window, build)


def default_view_kept(dataset: Dataset) -> bool:
    """Whether the default view's journeys and model comparison are kept on disk (or cannot be: no
    facts folder)."""
    window = registry.default_window(dataset)
    values = {"start": window.start, "end": window.end}
    folders = [_store_folder(dataset, "journeys", values), _store_folder(dataset, "nonconverting", values),
               _comparison_folder(dataset, values)]
    return all(folder is None or folder.is_dir() for folder in folders)


def keep_default_view(dataset: Dataset) -> None:
    """Build the default view's journeys and keep them on disk, unless they are kept already, without
    holding them in memory: the app does this when it opens a new version of the data, before its
    first page (state.dataset), so that the first visit to the Attribution or Return on relationships
    page reads them (at 10 million referrals about 1.3 s for the page instead of 2.5-3.5 s), and the
    ten models' comparison on them (_comparison_folder)."""
    window = registry.default_window(dataset)
    values = {"start": window.start, "end": window.end}
    touches = journeys(dataset, values, remember=False)
    others = nonconverting(dataset, values, remember=False)
    folder = _comparison_folder(dataset, values)
    if folder is not None and not folder.is_dir():
        with _turns:
            _keep_comparison(folder, comparison(touches, float(_HALF_LIFE.default), others))
    kept_written()


def both_journeys(dataset: Dataset, values: dict[str, object]) -> tuple[Touches, Touches]:
    """journeys and nonconverting of the window, built at the same time when they are not kept yet:
    the pages that show the converting journeys go on to read the others too (Markov, the path
    explorer, referral-touch conversion)."""
    return at_once(lambda: journeys(dataset, values), lambda: nonconverting(dataset, values))


def _credit_query(name: str, credit):
    def run(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
        _check_params(name, values)
        model = str(values["model"])
        touches, others = both_journeys(dataset, values) if model == "markov" else (journeys(dataset, values), None)
        with _turns:
            return credit(touches, model, float(values["half_life_days"]), others)

    run.__name__ = name
    return run


def attribution_summary(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    _check_params("attribution_summary", values)
    # the non-converting journeys too: where the summary is shown the ten models follow, Markov among them
    return summary(both_journeys(dataset, values)[0])


def attribution_comparison(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    _check_params("attribution_comparison", values)
    folder = _comparison_folder(dataset, values)
    if folder is not None and (kept := _kept_comparison(folder)) is not None:
        return kept
    touches, others = both_journeys(dataset, values)
    with _turns:
        table = comparison(touches, float(values["half_life_days"]), others)  # type: ignore[arg-type]
    if folder is not None:
        _keep_comparison(folder, table)
    return table


# The default view's comparison (with the default half-life) is kept on disk beside its journeys: at 10
# million referrals the ten models take 0.8-0.9 s on them, most of the Attribution page's first render,
# and a new process or a forgotten cache would work them out again. Its folder's name carries the
# journeys' version, which covers this module's code: a comparison by other code is never read.
_COMPARISON_COLUMNS = ("model", "channel", "conversions", "value")


def _comparison_folder(dataset: Dataset, values: dict[str, object]) -> Path | None:
    if float(values.get("half_life_days", _HALF_LIFE.default)) != float(_HALF_LIFE.default):  # type: ignore[arg-type]
        return None
    return _store_folder(dataset, "comparison", values)


def _keep_comparison(folder: Path, table: pd.DataFrame) -> None:
    journey_store.save(folder, {
        column: table[column].to_numpy(dtype=str if column in ("model", "channel") else float)
        for column in _COMPARISON_COLUMNS
    })


def _kept_comparison(folder: Path) -> pd.DataFrame | None:
    arrays = journey_store.load(folder, set(_COMPARISON_COLUMNS))
    if arrays is None:
        return None
    return pd.DataFrame({
        column: pd.array(arrays[column], dtype="str") if column in ("model", "channel")
        else np.array(arrays[column])  # a copy: the kept file is memory-mapped and read-only
        for column in _COMPARISON_COLUMNS
    })


def attribution_referrer_ranks(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    _check_params("attribution_referrer_ranks", values)
    touches, others = both_journeys(dataset, values)
    with _turns:
        ranks = referrer_ranks(touches, str(values["model"]), float(values["half_life_days"]), others)
    names = registry.run_sql(dataset, "touch_referrers", values)
    out = ranks.merge(names, on="referrer_id", how="left")
    return out[["referrer_id", "name", *[c for c in ranks.columns if c != "referrer_id"]]]


def attribution_paths(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    _check_params("attribution_paths", values)
    if int(values["limit"]) < 1:  # type: ignore[arg-type]
        raise registry.QueryError(f"parameter limit of attribution_paths must be 1 or more, "
                                  f"got {values['limit']}")
    touches, others = both_journeys(dataset, values)
    with _turns:
        return paths(touches, others, str(values["channel"]), str(values["referrer_id"]),
                     int(values["limit"]))  # type: ignore[arg-type]


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
