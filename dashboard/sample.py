"""Synthetic demo data: four years of a mid-size UK law firm's referrer portfolio.

``generate(out_dir, size, seed)`` writes the eleven tables of the data contract
(shared/spec/data-contract.md) as ``<table>.parquet`` into ``out_dir``::

    from dashboard.sample import generate
    counts = generate("data/sample", "S", seed=1)   # {"referrers": 150, ...}

The firm has six teams in four offices; its referrers are law firms, banks,
accountants, architects, insolvency practitioners, insurers, surveyors and
clients who refer. Dates run from 2022-07-01 to 2026-06-30.

The stories the demo shows (each one asserted by tests/test_sample.py):

1. Concentration: three "star" referrers (a bank, an accountancy, a law firm)
   send a fixed share of all inbound referrals, convert better and bring
   larger matters, so together they earn about half of the referred fees.
2. Dinosaurs: about a quarter of the referrers stopped referring before
   mid-2024 (some never referred) but still get lunches and hospitality.
3. Strategic drift: each referrer has a propensity to send work the firm does
   not target (conveyancing, personal injury) that ramps up over the four
   years, while the target mix (revised 2025-01-01) leaves those out.
4. Internal referrals: corporate passes far more work to other teams than it
   receives.
5. Reciprocity: most outbound referrals go to five favoured referrers.
6. Contact moves: a few prolific contacts move to another referrer of the same
   kind, and their later referrals come from the new firm.
7. Credit notes, 8. statuses with open ones mostly recent, 9. touchpoint
   journeys over eight channels (with unconverted prospects and some matters
   that have no touchpoint at all).
Besides, the largest star's contacts all know the same single partner (key
person risk), and some relationships have gone stale.

Everything is vectorised with numpy (loops only over months, teams, types and
id digits), so the large size (20,000 referrers, 10 million inbound
referrals) is generated in well under a minute and 4 GB. Tables are written
by two background threads while the next table is made, in row groups of a
million rows, so only one group per file is held as Arrow strings at a time.
Every file is sorted by its main date column (stable radix sorts on 16-bit
day numbers), ids run in that order, and the same seed always gives
byte-identical files.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .contract import TABLES, arrow_schema

__all__ = ["FIRST_DAY", "LAST_DAY", "SIZES", "SizeParams", "generate"]


@dataclass(frozen=True)
class SizeParams:
    """How much data one size makes. Ratios are per inbound referral."""

    referrers: int
    inbound: int
    fee_earners: int
    contacts_per_referrer: float = 2.6  # mean; the three stars have more
    internal_share: float = 0.08  # internal referrals per inbound referral
    outbound_share: float = 0.06  # outbound referrals per inbound referral
    direct_share: float = 0.10  # matters without a referral per inbound referral
    prospect_share: float = 0.04  # touched clients who never instruct, per inbound referral
    activities_per_year: float = 6.0  # per ordinary referrer
    row_group_size: int = 1_000_000


SIZES: dict[str, SizeParams] = {
    "S": SizeParams(referrers=150, inbound=2_500, fee_earners=40),
    "M": SizeParams(referrers=2_000, inbound=100_000, fee_earners=150),
    "L": SizeParams(referrers=20_000, inbound=10_000_000, fee_earners=600),
}

FIRST_DAY = np.datetime64("2022-07-01", "D")
LAST_DAY = np.datetime64("2026-06-30", "D")
_START = int(FIRST_DAY.astype(np.int64))  # days since 1970-01-01
_END = int(LAST_DAY.astype(np.int64))
_SPAN = _END - _START
_NULL_DAY = np.iinfo(np.int32).min  # "no date" in day arrays
_MONTHS = np.arange("2022-07", "2026-07", dtype="datetime64[M]")
_MONTH_START = _MONTHS.astype("datetime64[D]").astype(np.int64)
_MONTH_LEN = np.diff(np.append(_MONTH_START, _END + 1))
_N_MONTHS = len(_MONTHS)  # 48

# --------------------------------------------------------------------------- #
# The firm
# --------------------------------------------------------------------------- #

TEAMS = (
    "corporate",
    "commercial property",
    "insolvency",
    "employment",
    "private client",
    "litigation",
)
_TEAM_SIZE = (0.22, 0.16, 0.12, 0.14, 0.14, 0.22)
OFFICES = ("London", "Manchester", "Leeds", "Bristol")
_OFFICE_P = (0.40, 0.25, 0.20, 0.15)
GRADES = ("partner", "senior associate", "associate", "trainee")
_GRADE_P = (0.20, 0.25, 0.35, 0.20)
_GRADE_RATE = ((180.0, 250.0), (120.0, 175.0), (85.0, 120.0), (60.0, 80.0))  # cost per hour
_GRADE_REFERRAL_WEIGHT = np.array([3.0, 2.0, 1.0, 0.2])  # who receives referrals

# work type -> (team, mean matter fees in GBP, mean number of bills)
WORK_TYPES: dict[str, tuple[str, float, float]] = {
    "corporate finance": ("corporate", 38_000.0, 2.6),
    "mergers and acquisitions": ("corporate", 50_000.0, 2.8),
    "commercial property": ("commercial property", 16_000.0, 2.0),
    "conveyancing": ("commercial property", 1_600.0, 1.0),
    "insolvency": ("insolvency", 20_000.0, 2.4),
    "restructuring": ("insolvency", 34_000.0, 2.6),
    "employment": ("employment", 8_000.0, 1.6),
    "wills and probate": ("private client", 3_500.0, 1.4),
    "trusts and tax": ("private client", 7_000.0, 1.6),
    "commercial litigation": ("litigation", 26_000.0, 2.6),
    "personal injury": ("litigation", 5_000.0, 1.8),
}
_WT = tuple(WORK_TYPES)
_WT_TEAM = np.array([TEAMS.index(v[0]) for v in WORK_TYPES.values()], np.int8)
_WT_VALUE = np.array([v[1] for v in WORK_TYPES.values()])
_WT_BILLS = np.array([v[2] for v in WORK_TYPES.values()])
OFF_TARGET = ("conveyancing", "personal injury")
_OFF = np.array([w in OFF_TARGET for w in _WT])

# The target mix. Shares are multiples of 1/64, so they sum to exactly 1.0 in
# floating point whatever the order of summation.
TARGETS: dict[str, dict[str, float]] = {
    "2022-07-01": {
        "corporate finance": 0.1875,
        "mergers and acquisitions": 0.125,
        "commercial property": 0.125,
        "conveyancing": 0.03125,
        "insolvency": 0.09375,
        "restructuring": 0.0625,
        "employment": 0.125,
        "wills and probate": 0.0625,
        "trusts and tax": 0.0625,
        "commercial litigation": 0.125,
    },
    "2025-01-01": {
        "corporate finance": 0.1875,
        "mergers and acquisitions": 0.15625,
        "commercial property": 0.125,
        "insolvency": 0.09375,
        "restructuring": 0.09375,
        "employment": 0.125,
        "wills and probate": 0.0625,
        "trusts and tax": 0.0625,
        "commercial litigation": 0.09375,
    },
}
_DIRECT_MIX = np.array([TARGETS["2022-07-01"].get(w, 0.0) for w in _WT]) * ~_OFF + 0.02 * _OFF

# --------------------------------------------------------------------------- #
# Referrers
# --------------------------------------------------------------------------- #

REFERRER_TYPES = (
    "law firm",
    "bank",
    "accountancy",
    "architect",
    "insolvency practitioner",
    "insurer",
    "client",
    "surveyor",
)
_TYPE_P = (0.20, 0.10, 0.22, 0.08, 0.10, 0.06, 0.14, 0.10)
# the team a referrer of this type mostly deals with
_TYPE_HOME_TEAM = np.array([5, 0, 0, 1, 2, 5, 3, 1], np.int8)


def _mix(**shares: float) -> np.ndarray:
    """A distribution over work types; `ma` is mergers and acquisitions, `_` a space."""
    v = np.zeros(len(_WT))
    for key, share in shares.items():
        v[_WT.index("mergers and acquisitions" if key == "ma" else key.replace("_", " "))] = share
    return v / v.sum()


# on-target work each type of referrer sends
_TYPE_MIX = np.array(
    [
        _mix(
            commercial_litigation=0.30,
            ma=0.15,
            employment=0.20,
            corporate_finance=0.10,
            commercial_property=0.10,
            insolvency=0.05,
            restructuring=0.05,
            wills_and_probate=0.025,
            trusts_and_tax=0.025,
        ),
        _mix(
            corporate_finance=0.35,
            restructuring=0.20,
            insolvency=0.20,
            ma=0.10,
            commercial_property=0.15,
        ),
        _mix(
            corporate_finance=0.25,
            ma=0.20,
            trusts_and_tax=0.20,
            wills_and_probate=0.10,
            insolvency=0.10,
            employment=0.10,
            restructuring=0.05,
        ),
        _mix(
            commercial_property=0.60,
            commercial_litigation=0.25,
            corporate_finance=0.05,
            employment=0.10,
        ),
        _mix(insolvency=0.55, restructuring=0.30, commercial_litigation=0.15),
        _mix(commercial_litigation=0.60, employment=0.25, insolvency=0.15),
        _mix(
            employment=0.30,
            commercial_property=0.20,
            commercial_litigation=0.20,
            corporate_finance=0.15,
            wills_and_probate=0.15,
        ),
        _mix(commercial_property=0.70, commercial_litigation=0.20, insolvency=0.10),
    ]
)
# off-target work each type sends: (conveyancing, personal injury)
_TYPE_OFF_MIX = np.array(
    [
        _mix(conveyancing=0.3, personal_injury=0.7),
        _mix(conveyancing=0.8, personal_injury=0.2),
        _mix(conveyancing=0.5, personal_injury=0.5),
        _mix(conveyancing=1.0),
        _mix(conveyancing=0.5, personal_injury=0.5),
        _mix(conveyancing=0.05, personal_injury=0.95),
        _mix(conveyancing=0.6, personal_injury=0.4),
        _mix(conveyancing=0.9, personal_injury=0.1),
    ]
)
_TYPE_OFF_BASE = np.array([0.10, 0.06, 0.06, 0.10, 0.03, 0.25, 0.15, 0.25])

# what we refer out to each type of referrer (outbound work types)
_OUTBOUND_WORK = {
    "law firm": ("personal injury", "family", "conveyancing"),
    "bank": ("lending",),
    "accountancy": ("audit", "tax compliance"),
    "architect": ("design",),
    "insolvency practitioner": ("insolvency",),
    "insurer": ("insurance",),
    "client": ("commercial property",),
    "surveyor": ("valuation",),
}

SECTORS = {
    "law firm": ("professional services",),
    "bank": ("financial services",),
    "accountancy": ("professional services",),
    "architect": ("construction", "real estate"),
    "insolvency practitioner": ("professional services", "financial services"),
    "insurer": ("financial services", "insurance"),
    "client": (
        "manufacturing",
        "technology",
        "retail",
        "healthcare",
        "logistics",
        "hospitality",
        "construction",
        "real estate",
        "energy",
    ),
    "surveyor": ("real estate", "construction"),
}
REGIONS = ("London", "North West", "Yorkshire", "South West", "Midlands", "Scotland")
_REGION_P = (0.32, 0.20, 0.17, 0.12, 0.13, 0.06)

JOB_TITLES = {
    "law firm": ("Partner", "Senior Associate", "Managing Partner", "Head of Corporate"),
    "bank": (
        "Relationship Director",
        "Relationship Manager",
        "Head of Corporate Banking",
        "Credit Director",
    ),
    "accountancy": (
        "Partner",
        "Tax Partner",
        "Audit Director",
        "Corporate Finance Director",
        "Senior Manager",
    ),
    "architect": ("Director", "Associate Architect", "Principal"),
    "insolvency practitioner": (
        "Licensed Insolvency Practitioner",
        "Restructuring Director",
        "Partner",
    ),
    "insurer": ("Claims Manager", "Head of Claims", "Underwriting Manager"),
    "client": (
        "Finance Director",
        "Managing Director",
        "Chief Executive",
        "HR Director",
        "General Counsel",
    ),
    "surveyor": ("Director", "Chartered Surveyor", "Head of Valuation"),
}

# referrer classes
_STAR, _REGULAR, _NEW, _LAPSED, _DINO, _NEVER = range(6)
_STAR_SHARE = 0.28  # of all inbound referrals, split between the three stars
_STAR_SPLIT = np.array([0.38, 0.33, 0.29])
_STAR_TYPES = ("bank", "accountancy", "law firm")
_CLASS_WEIGHT = np.array([0.0, 1.0, 1.3, 0.8, 0.5, 0.0])  # referral volume, non-stars
_CLASS_WON = np.array([0.64, 0.47, 0.45, 0.42, 0.40, 0.40])
_CLASS_VALUE = np.array([1.35, 1.0, 1.0, 1.0, 0.9, 0.9])
_CLASS_ACTIVITY = np.array([5.0, 1.0, 1.3, 0.5, 1.2, 1.0])  # x activities_per_year

ACTIVITY_TYPES = (
    "coffee",
    "lunch",
    "seminar",
    "roundtable",
    "secondment",
    "co-branded event",
    "newsletter",
    "social media",
    "hospitality",
)
_ACTIVITY_P = np.array(
    [
        [0.20, 0.18, 0.12, 0.08, 0.03, 0.07, 0.12, 0.10, 0.10],  # star
        [0.28, 0.18, 0.12, 0.03, 0.00, 0.02, 0.16, 0.14, 0.07],  # regular
        [0.30, 0.18, 0.14, 0.03, 0.00, 0.02, 0.15, 0.13, 0.05],  # new
        [0.25, 0.15, 0.10, 0.02, 0.00, 0.00, 0.25, 0.20, 0.03],  # lapsed
        [0.15, 0.32, 0.12, 0.02, 0.00, 0.02, 0.10, 0.07, 0.20],  # dinosaur: lunches and hospitality
        [0.18, 0.30, 0.12, 0.02, 0.00, 0.02, 0.10, 0.08, 0.18],  # never referred
    ]
)
# hours (low, high), expense (low, high), share with zero hours
_ACTIVITY_COST = {
    "coffee": ((1.0, 1.5), (5.0, 18.0), 0.0),
    "lunch": ((1.5, 2.5), (60.0, 190.0), 0.0),
    "seminar": ((2.0, 4.0), (0.0, 60.0), 0.0),
    "roundtable": ((2.5, 4.0), (200.0, 650.0), 0.0),
    "secondment": ((35.0, 140.0), (0.0, 400.0), 0.0),
    "co-branded event": ((6.0, 12.0), (500.0, 3_000.0), 0.0),
    "newsletter": ((0.25, 0.75), (10.0, 60.0), 0.7),
    "social media": ((0.25, 0.5), (0.0, 40.0), 0.6),
    "hospitality": ((3.0, 6.0), (150.0, 900.0), 0.0),
}

CHANNELS = (
    "referral",
    "event",
    "seminar",
    "newsletter",
    "website",
    "social media",
    "fee earner",
    "directory",
)
_CH_REFERRAL = 0
_CHANNEL_P = {  # other touches than the referral itself
    "inbound": (0.0, 0.10, 0.10, 0.20, 0.28, 0.10, 0.14, 0.08),
    "internal": (0.0, 0.08, 0.10, 0.12, 0.10, 0.05, 0.50, 0.05),
    "direct": (0.0, 0.12, 0.10, 0.18, 0.28, 0.12, 0.08, 0.12),
    "prospect": (0.0, 0.12, 0.12, 0.26, 0.30, 0.14, 0.02, 0.04),
}
_ANY_HOUR_CHANNELS = np.array([c in ("website", "social media", "newsletter") for c in CHANNELS])

# --------------------------------------------------------------------------- #
# Names
# --------------------------------------------------------------------------- #

FIRST_NAMES = (
    "Oliver",
    "Amelia",
    "Harry",
    "Isla",
    "George",
    "Ava",
    "Jack",
    "Mia",
    "Charlie",
    "Sophie",
    "Thomas",
    "Grace",
    "James",
    "Emily",
    "William",
    "Lucy",
    "Daniel",
    "Hannah",
    "Samuel",
    "Chloe",
    "Joseph",
    "Ella",
    "Matthew",
    "Rebecca",
    "Benjamin",
    "Laura",
    "Edward",
    "Charlotte",
    "Alexander",
    "Eleanor",
    "Rajesh",
    "Priya",
    "Mohammed",
    "Aisha",
    "Tom",
    "Rachel",
    "Andrew",
    "Claire",
    "David",
    "Helen",
    "Michael",
    "Sarah",
    "Richard",
    "Catherine",
    "Simon",
    "Victoria",
    "Paul",
    "Joanna",
    "Stephen",
    "Nicola",
    "Gareth",
    "Siobhan",
    "Callum",
    "Fiona",
    "Hamish",
    "Niamh",
    "Kwame",
    "Amara",
    "Wei",
    "Mei",
)
SURNAMES = (
    "Harrow",
    "Finch",
    "Ashworth",
    "Barlow",
    "Pennington",
    "Whitmore",
    "Hargreaves",
    "Kershaw",
    "Thornton",
    "Calloway",
    "Everett",
    "Fairbrother",
    "Holloway",
    "Marsden",
    "Ogden",
    "Prescott",
    "Radcliffe",
    "Sutcliffe",
    "Tennant",
    "Underwood",
    "Wainwright",
    "Yardley",
    "Brennan",
    "Castell",
    "Dunmore",
    "Ellery",
    "Fenwick",
    "Garside",
    "Hollins",
    "Ingram",
    "Jessop",
    "Kingsley",
    "Lowther",
    "Mercer",
    "Naylor",
    "Oakes",
    "Pickering",
    "Quarmby",
    "Rowntree",
    "Stansfield",
    "Tolhurst",
    "Vickers",
    "Waddington",
    "Ackroyd",
    "Bramwell",
    "Cartwright",
    "Draper",
    "Eastwood",
    "Foxley",
    "Greaves",
    "Haworth",
    "Illingworth",
    "Jowett",
    "Kemp",
    "Lockwood",
    "Midgley",
    "Nuttall",
    "Oldroyd",
    "Priestley",
    "Royle",
    "Shackleton",
    "Thwaite",
    "Walsh",
    "Whiteley",
    "Cooke",
    "Ashby",
    "Blake",
    "Chadwick",
    "Denholm",
    "Frost",
    "Gillespie",
    "McAllister",
    "Sinclair",
    "Ferguson",
    "Baird",
    "Munro",
    "Penrose",
    "Trelawney",
    "Cardew",
    "Osei",
)
PLACES = (
    "Northgate",
    "Pennine",
    "Mersey",
    "Severn",
    "Thames",
    "Aire",
    "Calder",
    "Wharfe",
    "Clifton",
    "Redland",
    "Castlegate",
    "Highfield",
    "Kingsway",
    "Moorgate",
    "Ribble",
    "Irwell",
    "Avon",
    "Mendip",
    "Cotswold",
    "Chiltern",
    "Lune",
    "Tyne",
    "Forth",
    "Clyde",
    "Trent",
    "Derwent",
    "Humber",
    "Wolds",
    "Saltaire",
    "Ancoats",
    "Temple",
    "Bishopsgate",
    "Harbourside",
    "Spinningfields",
    "Headrow",
    "Quayside",
    "Stratton",
    "Oakfield",
    "Brindley",
    "Albion",
)
INDUSTRIES = (
    "Logistics",
    "Engineering",
    "Foods",
    "Textiles",
    "Developments",
    "Homes",
    "Technologies",
    "Software",
    "Hotels",
    "Healthcare",
    "Packaging",
    "Plastics",
    "Motors",
    "Brewing",
    "Energy",
    "Retail",
    "Freight",
    "Construction",
    "Media",
    "Pharma",
)
# templates per referrer type: {S} surname, {T} a second surname, {P} place, {I} industry
NAME_TEMPLATES = {
    "law firm": ("{S} & {T} LLP", "{S} {T} Solicitors", "{S} Law LLP", "{P} Legal"),
    "bank": ("{P} Bank", "{P} Building Society", "{P} Commercial Finance", "{S} Private Bank"),
    "accountancy": (
        "{S} & Co",
        "{S} {T} LLP",
        "{S} {T} Chartered Accountants",
        "{P} Accountancy Group",
    ),
    "architect": ("{S} {T} Architects", "{P} Design Studio", "{S} Architecture"),
    "insolvency practitioner": (
        "{S} Recovery LLP",
        "{S} {T} Restructuring",
        "{P} Insolvency Partners",
    ),
    "insurer": ("{P} Insurance", "{P} Mutual", "{S} Underwriting"),
    "client": ("{P} {I} Ltd", "{S} {I} Ltd", "{P} {I} plc"),
    "surveyor": ("{S} {T} Chartered Surveyors", "{S} Property Consultants", "{P} Surveyors"),
}
_SLOTS = {"S": SURNAMES, "P": PLACES, "I": INDUSTRIES}

# --------------------------------------------------------------------------- #
# Small vectorised helpers
# --------------------------------------------------------------------------- #


def _day(text: str) -> int:
    return int(np.datetime64(text, "D").astype(np.int64))


def _width(n: int, minimum: int) -> int:
    return max(minimum, len(str(max(n, 1))))


def _fixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """'RF000001'-style ids for 1-based numbers (a negative number gives null)."""
    n = len(numbers)
    head = prefix.encode()
    size = len(head) + width
    digits = np.empty((size, n), np.uint8)  # one contiguous row per character position
    digits[: len(head)] = np.frombuffer(head, np.uint8)[:, None]
    x = np.abs(numbers).astype(np.uint32)
    for k in range(size - 1, len(head) - 1, -1):
        q = x // 10
        digits[k] = x - q * 10
        x = q
    digits[len(head) :] += 48  # "0"
    buf = np.ascontiguousarray(digits.T)
    offsets = np.arange(n + 1, dtype=np.int32) * size
    valid = numbers >= 0
    if valid.all():
        return pa.Array.from_buffers(
            pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf)]
        )
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        pa.string(),
        n,
        [bitmap, pa.py_buffer(offsets), pa.py_buffer(buf)],
        null_count=int((~valid).sum()),
    )


def _take(values: pa.Array, idx: np.ndarray) -> pa.Array:
    """values[idx] with idx < 0 giving null."""
    return pc.take(values, pa.array(idx, mask=idx < 0))


def _strings(values) -> pa.Array:
    return pa.array(list(values), pa.string())


def _weekday(day: np.ndarray) -> np.ndarray:
    return (day.astype(np.int32) + 3) % 7  # Monday = 0; 1970-01-01 was a Thursday


def _workday(day: np.ndarray) -> np.ndarray:
    """Saturdays move to Friday, Sundays to Monday (kept inside the data period)."""
    wd = _weekday(day)
    out = day + np.where(wd == 5, -1, 0) + np.where(wd == 6, 1, 0)
    return np.clip(out, _START, _END).astype(np.int32)


def _stratified(n: int, p) -> np.ndarray:
    """n category codes in proportions p as exact as rounding allows (less noise at small sizes)."""
    counts = np.floor(n * np.asarray(p)).astype(int)
    short = n - counts.sum()
    counts[np.argsort(-(n * np.asarray(p) - counts), kind="stable")[:short]] += 1
    return np.repeat(np.arange(len(p)), counts)


def _spread(rng: np.random.Generator, n: int) -> np.ndarray:
    """n shuffled values with mean 0 and variance 1, spread evenly over the quantiles.

    A logistic distribution (close to a normal) sampled once in each 1/n band, so
    that a small data set gets no lucky or unlucky outliers.
    """
    q = (np.arange(n) + rng.random(n)) / n
    return rng.permutation(np.sqrt(3.0) / np.pi * np.log(q / (1.0 - q)))


def _pick(rng: np.random.Generator, cdf: np.ndarray, n: int) -> np.ndarray:
    """n draws from the categorical distribution with cumulative weights cdf."""
    return np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right").astype(np.int32)


def _pick_by_group(rng, groups: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """One draw per row from probs[groups[row]] (a small matrix: one row per group)."""
    u = rng.random(len(groups))
    out = np.zeros(len(groups), np.int32)
    cdf = np.cumsum(probs, axis=1)
    for g in range(len(probs)):
        rows = np.flatnonzero(groups == g)
        if len(rows) and cdf[g, -1] > 0:
            out[rows] = np.searchsorted(cdf[g], u[rows] * cdf[g, -1], side="right")
    return np.minimum(out, probs.shape[1] - 1)


def _by_day(*keys: np.ndarray) -> np.ndarray:
    """Stable row order by day arrays (major key first), ties in row order.

    Days in the data period fit 16 bits once shifted, and numpy sorts 16-bit
    keys with a radix sort: far faster than sorting 64-bit keys, and stable,
    so the order is the same on every machine.
    """
    return _radix_order(*[(k - _START).astype(np.int16) for k in keys])


def _radix_order(*keys: np.ndarray) -> np.ndarray:
    """Stable row order by 16-bit keys, major key first (least significant pass first)."""
    order = np.argsort(keys[-1], kind="stable")
    for key in reversed(keys[:-1]):
        order = order[np.argsort(key[order], kind="stable")]
    return order


def _inverse(order: np.ndarray) -> np.ndarray:
    inv = np.empty(len(order), np.int64)
    inv[order] = np.arange(len(order))
    return inv


# --------------------------------------------------------------------------- #
# Writing
# --------------------------------------------------------------------------- #

ColumnFn = Callable[[int, int], pa.Array]


# Columns with (nearly) one value per row: dictionary encoding only costs time.
_NO_DICTIONARY = {"client_id", "touched_at", "amount", "expense"} | {
    t.primary_key for t in TABLES.values() if t.primary_key
}
_NO_DICTIONARY_IN = {("fees", "matter_id"), ("matters", "referral_id")}


def _write(path: Path, table: str, n: int, columns: dict[str, ColumnFn], row_group: int) -> int:
    """Write one contract table in row groups; each column is built per group."""
    schema = arrow_schema(table)
    assert set(columns) == set(schema.names), (table, set(columns) ^ set(schema.names))
    dictionary = [
        c for c in schema.names if c not in _NO_DICTIONARY and (table, c) not in _NO_DICTIONARY_IN
    ]
    with pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=dictionary) as writer:
        start = 0
        while True:
            stop = min(n, start + row_group)
            arrays = []
            for field in schema:
                array = columns[field.name](start, stop)
                if array.type != field.type:
                    array = array.cast(field.type)
                if not field.nullable and array.null_count:
                    raise AssertionError(f"{table}.{field.name}: nulls in a required column")
                arrays.append(array)
            writer.write_table(
                pa.Table.from_arrays(arrays, schema=schema), row_group_size=row_group
            )
            start = stop
            if start >= n:
                break
    return n


def _ids_col(prefix: str, width: int) -> ColumnFn:
    return lambda a, b: _fixed_ids(prefix, np.arange(a + 1, b + 1), width)


def _num_col(prefix: str, width: int, numbers: np.ndarray) -> ColumnFn:
    """Ids from 0-based numbers (-1: null)."""
    return lambda a, b: _fixed_ids(prefix, np.where(numbers[a:b] < 0, -1, numbers[a:b] + 1), width)


def _take_col(values: pa.Array, idx: np.ndarray) -> ColumnFn:
    return lambda a, b: _take(values, idx[a:b])


def _date_col(days: np.ndarray) -> ColumnFn:
    return lambda a, b: pa.array(
        days[a:b].astype(np.int32), pa.date32(), mask=days[a:b] == _NULL_DAY
    )


def _float_col(x: np.ndarray) -> ColumnFn:
    return lambda a, b: pa.array(x[a:b], pa.float64(), mask=np.isnan(x[a:b]))


# --------------------------------------------------------------------------- #
# The generator
# --------------------------------------------------------------------------- #


def generate(
    out_dir: Path | str,
    size: str = "S",
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Write all eleven tables of the contract as <table>.parquet into out_dir.

    Returns the row count of each table, in contract order. `size` is a key of
    SIZES; the same seed always gives byte-identical files.
    """
    if size not in SIZES:
        raise ValueError(f"unknown sample size {size!r}: choose one of {', '.join(SIZES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = _Generator(SIZES[size], seed, out, progress or (lambda message: None))
    counts = gen.run()
    return {name: counts[name] for name in TABLES}


class _Generator:
    def __init__(self, params: SizeParams, seed: int, out: Path, progress: Callable[[str], None]):
        self.p = params
        self.rng = np.random.default_rng(seed)
        self.out = out
        self.say = progress
        self.counts: dict[str, int] = {}
        month_w = (1.0 + 0.3 * np.arange(_N_MONTHS) / (_N_MONTHS - 1)) * _MONTH_LEN
        season = {8: 0.75, 12: 0.8, 1: 0.95}  # quieter August and Christmas
        month_of_year = _MONTHS.astype(int) % 12 + 1
        month_w *= np.array([season.get(int(m), 1.0) for m in month_of_year])
        self.month_w = month_w / month_w.sum()
        self.next_client = 0  # provisional client keys; numbered by first appearance at the end
        self.client_first: list[
            np.ndarray
        ] = []  # first day of each provisional client, in key order

    # -- helpers ----------------------------------------------------------- #

    def write(self, table: str, n: int, columns: dict[str, ColumnFn]) -> None:
        """Write in the background (pyarrow and numpy release the GIL) while the next table is made.

        The column functions only read arrays that are never changed afterwards.
        """
        path = self.out / TABLES[table].file_name
        self.pending.append(
            self.writer.submit(_write, path, table, n, columns, self.p.row_group_size)
        )
        self.counts[table] = n
        self.say(f"{table}: {n:,} rows")

    def random_days(self, n: int) -> np.ndarray:
        """Working days spread over the four years, growing with the firm."""
        month = self.rng.choice(_N_MONTHS, size=n, p=self.month_w)
        day = _MONTH_START[month] + (self.rng.random(n) * _MONTH_LEN[month]).astype(np.int64)
        return _workday(day)

    def new_clients(self, first_day: np.ndarray) -> np.ndarray:
        keys = np.arange(self.next_client, self.next_client + len(first_day), dtype=np.int32)
        self.next_client += len(first_day)
        self.client_first.append(first_day.astype(np.int32))
        return keys

    def pick_fee_earner(self, team: np.ndarray) -> np.ndarray:
        """A fee earner of the given team for each row, partners more likely."""
        out = np.zeros(len(team), np.int32)
        u = self.rng.random(len(team))
        for t in range(len(TEAMS)):
            rows = np.flatnonzero(team == t)
            members = self.team_members[t]
            cdf = np.cumsum(_GRADE_REFERRAL_WEIGHT[self.fe_grade[members]])
            out[rows] = members[np.searchsorted(cdf, u[rows] * cdf[-1], side="right")]
        return out

    def pick_contact(self, referrer: np.ndarray, p_null: float) -> np.ndarray:
        """A contact of each row's referrer (the first, main contact most often), or -1."""
        u = self.rng.random(len(referrer), dtype=np.float32)
        u *= u
        u *= self.contact_count[referrer]
        idx = self.contact_start[referrer] + u.astype(np.int64)
        return np.where(self.rng.random(len(referrer), dtype=np.float32) < p_null, -1, idx)

    def follow_moves(
        self, referrer: np.ndarray, contact: np.ndarray, day: np.ndarray
    ) -> np.ndarray:
        """After a contact moved, the work they send comes from their new firm."""
        has = contact >= 0
        moved = np.zeros(len(contact), bool)
        c = contact[has]
        moved[has] = self.move_day[c] <= day[has]
        referrer = referrer.copy()
        referrer[moved] = self.contact_referrer[contact[moved]]
        return referrer

    # -- the steps --------------------------------------------------------- #

    def run(self) -> dict[str, int]:
        self.pending: list[Future] = []
        with ThreadPoolExecutor(max_workers=2) as self.writer:
            try:
                self.fee_earners()
                self.referrers()
                self.contacts()
                self.relationships()
                self.activities()
                self.inbound()
                self.direct()
                self.internal()
                self.outbound()
                self.matters_and_referrals()
                self.clients()
                self.write_referrals_and_matters()
                self.touchpoints()
                self.fees()
                self.targets()
            except BaseException:
                for job in self.pending:
                    job.cancel()
                raise
            for job in self.pending:
                job.result()  # raise the first failure
        return self.counts

    def fee_earners(self) -> None:
        rng, p = self.rng, self.p
        per_team = np.maximum(3, np.round(p.fee_earners * np.array(_TEAM_SIZE))).astype(int)
        team = np.repeat(np.arange(len(TEAMS)), per_team).astype(np.int8)
        n = len(team)
        grade = rng.choice(len(GRADES), size=n, p=_GRADE_P).astype(np.int8)
        grade[np.concatenate([[0], np.cumsum(per_team)[:-1]])] = 0  # every team has a partner
        order = rng.permutation(n)  # ids not grouped by team
        team, grade = team[order], grade[order]
        office = rng.choice(len(OFFICES), size=n, p=_OFFICE_P)
        lo, hi = np.array(_GRADE_RATE).T
        cost = np.round(lo[grade] + rng.random(n) * (hi[grade] - lo[grade]))
        first = rng.integers(0, len(FIRST_NAMES), n)
        last = rng.integers(0, len(SURNAMES), n)
        self.fe_team, self.fe_grade, self.n_fe = team, grade, n
        self.team_members = [np.flatnonzero(team == t) for t in range(len(TEAMS))]
        self.team_partners = [np.flatnonzero((team == t) & (grade == 0)) for t in range(len(TEAMS))]
        self.fe_ids = _fixed_ids("FE", np.arange(1, n + 1), _width(n, 3))
        names = pc.binary_join_element_wise(
            _take(_strings(FIRST_NAMES), first), _take(_strings(SURNAMES), last), " "
        )
        self.write(
            "fee_earners",
            n,
            {
                "fee_earner_id": lambda a, b: self.fe_ids[a:b],
                "full_name": lambda a, b: names[a:b],
                "team": _take_col(_strings(TEAMS), team),
                "office": _take_col(_strings(OFFICES), office),
                "grade": _take_col(_strings(GRADES), grade),
                "cost_rate": _float_col(cost),
            },
        )

    def referrers(self) -> None:
        rng, p = self.rng, self.p
        n = p.referrers
        sizes = np.round(n * np.array([0.0, 0.0, 0.12, 0.10, 0.15, 0.10])).astype(int)
        sizes[_STAR] = 3
        sizes[_REGULAR] = n - sizes.sum()
        cls = rng.permutation(np.repeat(np.arange(6), sizes)).astype(np.int8)
        rtype = rng.permutation(_stratified(n, _TYPE_P)).astype(np.int8)
        stars = np.flatnonzero(cls == _STAR)
        rtype[stars] = [REFERRER_TYPES.index(t) for t in _STAR_TYPES]

        # when they first appeared and when they referred (month index, [from, to))
        known_since = _day("2009-01-01")
        first_seen = known_since + rng.integers(
            0, _START - known_since, n
        )  # before the data period
        from_m = np.zeros(n, np.int64)
        to_m = np.full(n, _N_MONTHS)
        new = cls == _NEW
        from_m[new] = rng.integers(6, 42, new.sum())
        first_seen[new] = _MONTH_START[from_m[new]] - rng.integers(0, 60, new.sum())
        lapsed = cls == _LAPSED
        to_m[lapsed] = rng.integers(14, 40, lapsed.sum())
        dino = cls == _DINO
        to_m[dino] = rng.integers(2, 24, dino.sum())  # last referral month before 2024-06
        to_m[cls == _NEVER] = 0
        first_seen = np.where((rng.random(n) < 0.12) & ~new & (cls != _STAR), _NULL_DAY, first_seen)

        # ids run in first-seen order (unknown last), like a CRM export sorted by date
        order = np.lexsort((rng.random(n), first_seen, first_seen == _NULL_DAY))
        cls, rtype, first_seen, from_m, to_m = (
            cls[order],
            rtype[order],
            first_seen[order],
            from_m[order],
            to_m[order],
        )
        self.n_ref = n
        self.ref_cls, self.ref_type = cls, rtype
        self.stars = np.flatnonzero(cls == _STAR)  # in the order of _STAR_TYPES: the bank first
        star_rank = np.array([_STAR_TYPES.index(REFERRER_TYPES[rtype[s]]) for s in self.stars])
        self.stars = self.stars[np.argsort(star_rank)]
        self.ref_from_m, self.ref_to_m = from_m, to_m
        # a long tail, but none of the others comes close to the stars
        weight = np.exp(0.8 * _spread(rng, n))
        self.ref_weight = np.minimum(weight, 3.0 * np.median(weight)) * _CLASS_WEIGHT[cls]
        self.ref_value = np.exp(0.2 * _spread(rng, n)) * _CLASS_VALUE[cls]
        self.ref_value[self.stars] = _CLASS_VALUE[_STAR]
        self.ref_off = _TYPE_OFF_BASE[rtype] * rng.lognormal(0.0, 0.4, n)
        self.ref_off[self.stars] = 0.02
        home = _TYPE_HOME_TEAM[rtype].copy()
        wander = rng.random(n) < 0.25
        home[wander] = rng.integers(0, len(TEAMS), wander.sum())
        self.ref_home = home
        # each referrer's relationship partner: a partner in its home team
        partner = np.zeros(n, np.int32)
        u = rng.random(n)
        for t in range(len(TEAMS)):
            rows = np.flatnonzero(home == t)
            members = self.team_partners[t]
            partner[rows] = members[(u[rows] * len(members)).astype(int)]
        self.ref_partner = partner
        # days when we invest in them: lapsed ones stop a while after their last referral
        eng_from = np.full(n, _START, np.int64)
        eng_from[cls == _NEW] = np.maximum(_START, first_seen[cls == _NEW])
        eng_to = np.full(n, _END, np.int64)
        lap = cls == _LAPSED
        eng_to[lap] = np.minimum(
            _END,
            _MONTH_START[np.minimum(to_m[lap], _N_MONTHS - 1)] + rng.integers(0, 240, lap.sum()),
        )
        self.eng_from, self.eng_to = eng_from, eng_to

        # names: unique within a template where the word lists allow
        template = np.zeros(n, np.int64)
        rows_made, names_made = [], []
        for ti, tname in enumerate(REFERRER_TYPES):
            rows = np.flatnonzero(rtype == ti)
            templates = NAME_TEMPLATES[tname]
            template[rows] = rng.integers(0, len(templates), len(rows))
            for k, text in enumerate(templates):
                sub = rows[template[rows] == k]
                if len(sub):
                    rows_made.append(sub)
                    names_made.append(self._fill_template(text, len(sub)))
        self.ref_names = pc.take(pa.concat_arrays(names_made), _inverse(np.concatenate(rows_made)))
        self.ref_ids = _fixed_ids("R", np.arange(1, n + 1), _width(n, 4))
        sector = np.full(n, -1, np.int64)
        sector_values: list[str] = []
        us = rng.random(n)
        for ti, tname in enumerate(REFERRER_TYPES):
            rows = np.flatnonzero(rtype == ti)
            options = SECTORS[tname]
            base = len(sector_values)
            sector_values.extend(options)
            sector[rows] = base + (us[rows] * len(options)).astype(int)
        sector[rng.random(n) < 0.06] = -1
        region = rng.choice(len(REGIONS), size=n, p=_REGION_P)
        region[rng.random(n) < 0.04] = -1
        self.write(
            "referrers",
            n,
            {
                "referrer_id": lambda a, b: self.ref_ids[a:b],
                "name": lambda a, b: self.ref_names[a:b],
                "referrer_type": _take_col(_strings(REFERRER_TYPES), rtype),
                "sector": _take_col(_strings(sector_values), sector),
                "region": _take_col(_strings(REGIONS), region),
                "first_seen_on": _date_col(first_seen),
            },
        )

    def _fill_template(self, text: str, k: int) -> pa.Array:
        """k names from a template like '{S} & {T} LLP', distinct while the lists last."""
        rng = self.rng
        slots = [s for s in ("S", "T", "P", "I") if "{" + s + "}" in text]
        sizes = [len(_SLOTS["S"]) - 1 if s == "T" else len(_SLOTS[s]) for s in slots]
        space = int(np.prod(sizes))
        combo = rng.choice(space, size=k, replace=k > space)
        words: dict[str, np.ndarray] = {}
        for s, size in zip(slots, sizes):
            words[s] = combo % size
            combo = combo // size
        if "T" in words:  # the second surname differs from the first
            words["T"] = (words["S"] + 1 + words["T"]) % len(SURNAMES)
        parts: list[pa.Array | str] = []
        rest = text
        while rest:
            head, brace, tail = rest.partition("{")
            if head:
                parts.append(head)
            if not brace:
                break
            slot, rest = tail[0], tail[2:]
            source = SURNAMES if slot in "ST" else _SLOTS[slot]
            parts.append(_take(_strings(source), words[slot]))
        arrays = [x if isinstance(x, pa.Array) else pa.array([x] * k, pa.string()) for x in parts]
        return pc.binary_join_element_wise(*arrays, "")

    def contacts(self) -> None:
        rng, p = self.rng, self.p
        n_ref = self.n_ref
        count = 1 + rng.poisson(p.contacts_per_referrer - 1, n_ref)
        count[self.stars] = rng.integers(7, 11, 3)
        self.contact_count = count
        self.contact_start = np.concatenate([[0], np.cumsum(count)[:-1]])
        n = int(count.sum())
        orig = np.repeat(np.arange(n_ref), count).astype(np.int32)  # grouped by first firm
        self.n_contacts = n
        offset = np.arange(n) - self.contact_start[orig]

        # moves: main contacts of busy regular referrers move to a firm of the same kind
        n_moves = max(3, round(0.012 * n))
        regular = np.flatnonzero(self.ref_cls == _REGULAR)
        busy = regular[np.argsort(-self.ref_weight[regular], kind="stable")][: max(12, 3 * n_moves)]
        movers_from = np.sort(rng.choice(busy, size=min(n_moves, len(busy)), replace=False))
        movers = self.contact_start[movers_from]
        targets_ok = np.isin(self.ref_cls, (_REGULAR, _NEW))
        to_ref = np.zeros(len(movers), np.int64)
        u = rng.random(len(movers))
        for ti in range(len(REFERRER_TYPES)):
            rows = np.flatnonzero(self.ref_type[movers_from] == ti)
            cand = np.flatnonzero(targets_ok & (self.ref_type == ti))
            if len(rows) == 0:
                continue
            if len(cand) < 2:
                cand = np.flatnonzero(targets_ok)
            pick = (u[rows] * len(cand)).astype(int)
            same = cand[pick] == movers_from[rows]
            pick[same] = (pick[same] + 1) % len(cand)
            to_ref[rows] = cand[pick]
        move_day = _workday(rng.integers(_day("2023-07-01"), _day("2025-07-01"), len(movers)))
        self.move_day = np.full(n, np.iinfo(np.int64).max)
        self.move_day[movers] = move_day
        current = orig.astype(np.int64).copy()
        current[movers] = to_ref
        self.contact_referrer = current  # where they work now

        number = rng.permutation(n)  # contact ids not grouped by firm
        self.contact_ids = _fixed_ids("C", number + 1, _width(n, 5))
        first = rng.integers(0, len(FIRST_NAMES), n)
        last = rng.integers(0, len(SURNAMES), n)
        names = pc.binary_join_element_wise(
            _take(_strings(FIRST_NAMES), first), _take(_strings(SURNAMES), last), " "
        )
        title = np.full(n, -1, np.int64)
        title_values: list[str] = []
        ut = rng.random(n)
        ctype = self.ref_type[orig]
        for ti, tname in enumerate(REFERRER_TYPES):
            rows = np.flatnonzero(ctype == ti)
            options = JOB_TITLES[tname]
            base = len(title_values)
            title_values.extend(options)
            # the main contact is the senior one
            title[rows] = base + np.where(
                offset[rows] == 0, 0, (ut[rows] * len(options)).astype(int)
            )
        title[rng.random(n) < 0.1] = -1
        by_id = np.argsort(number)
        contact_ids, ref_ids = self.contact_ids, self.ref_ids
        self.write(
            "contacts",
            n,
            {
                "contact_id": lambda a, b: _take(contact_ids, by_id[a:b]),
                "referrer_id": lambda a, b: _take(ref_ids, current[by_id[a:b]]),
                "full_name": lambda a, b: _take(names, by_id[a:b]),
                "job_title": lambda a, b: _take(_strings(title_values), title[by_id[a:b]]),
            },
        )
        order = np.argsort(move_day, kind="stable")
        mv, fr, to, md = movers[order], movers_from[order], to_ref[order], move_day[order]
        self.write(
            "contact_moves",
            len(movers),
            {
                "contact_id": _take_col(contact_ids, mv),
                "from_referrer_id": _take_col(ref_ids, fr),
                "to_referrer_id": _take_col(ref_ids, to),
                "moved_on": _date_col(md),
            },
        )

    def relationships(self) -> None:
        rng = self.rng
        n_c = self.n_contacts
        cls = self.ref_cls[self.contact_referrer]
        k = rng.choice(4, size=n_c, p=(0.30, 0.45, 0.18, 0.07))
        k[np.isin(cls, (_STAR, _DINO, _NEVER)) & (k == 0)] = 1
        key_person = self.stars[0]  # the biggest referrer hangs on one partner
        on_key = self.contact_referrer == key_person
        k[on_key] = 1
        rows_c = np.repeat(np.arange(n_c), k)
        j = np.arange(len(rows_c)) - np.repeat(np.cumsum(k) - k, k)
        n_fe = self.n_fe
        first = np.where(
            rng.random(n_c) < 0.5,
            self.ref_partner[self.contact_referrer],
            rng.integers(0, n_fe, n_c),
        )
        step = rng.integers(1, max(2, n_fe // 3), n_c)
        fe = (first[rows_c] + j * step[rows_c]) % n_fe
        fe[on_key[rows_c]] = self.ref_partner[key_person]
        rcls = cls[rows_c]
        lo = np.array([3, 2, 1, 1, 3, 3])[rcls]
        hi = np.array([5, 4, 3, 3, 5, 5])[rcls]
        strength = (lo + (rng.random(len(rows_c)) * (hi - lo + 1)).astype(int)).astype(np.int32)
        strength[on_key[rows_c]] = 5
        n = len(rows_c)
        since = _day("2012-01-01") + rng.integers(0, _END - 60 - _day("2012-01-01"), n)
        is_new = rcls == _NEW
        ref_of = self.contact_referrer[rows_c]
        since[is_new] = self.eng_from[ref_of[is_new]] + rng.integers(0, 120, is_new.sum())
        since = np.minimum(since, _END - 30)
        last = _END - np.minimum(rng.exponential(45, n).astype(np.int64), 170)
        stale = (rng.random(n) < 0.22) | (rcls == _LAPSED)
        last[stale] = _END - rng.integers(190, 700, stale.sum())
        last = np.maximum(last, since)
        since[rng.random(n) < 0.08] = _NULL_DAY
        last[rng.random(n) < 0.05] = _NULL_DAY
        order = np.lexsort((rows_c, fe, since, since == _NULL_DAY))
        fe, rows_c, strength, since, last = (
            fe[order],
            rows_c[order],
            strength[order],
            since[order],
            last[order],
        )
        self.write(
            "relationships",
            n,
            {
                "fee_earner_id": _take_col(self.fe_ids, fe),
                "contact_id": _take_col(self.contact_ids, rows_c),
                "strength": lambda a, b: pa.array(strength[a:b], pa.int32()),
                "since_on": _date_col(since),
                "last_contact_on": _date_col(last),
            },
        )

    def activities(self) -> None:
        rng, p = self.rng, self.p
        years = (self.eng_to - self.eng_from + 1) / 365.25
        rate = (
            p.activities_per_year
            * _CLASS_ACTIVITY[self.ref_cls]
            * rng.lognormal(0, 0.3, self.n_ref)
        )
        count = rng.poisson(rate * years)
        ref = np.repeat(np.arange(self.n_ref), count)
        day = self.eng_from[ref] + (
            rng.random(len(ref)) * (self.eng_to[ref] - self.eng_from[ref] + 1)
        ).astype(np.int64)
        # every dinosaur got something in the last twelve months
        dinos = np.flatnonzero(np.isin(self.ref_cls, (_DINO, _NEVER)))
        ref = np.concatenate([ref, dinos])
        day = np.concatenate([day, _END - rng.integers(0, 300, len(dinos))])
        day = _workday(day)
        n = len(ref)
        atype = _pick_by_group(rng, self.ref_cls[ref], _ACTIVITY_P)
        hours = np.zeros(n)
        expense = np.zeros(n)
        for ai, name in enumerate(ACTIVITY_TYPES):
            rows = np.flatnonzero(atype == ai)
            (hl, hh), (el, eh), zero = _ACTIVITY_COST[name]
            hours[rows] = np.round((hl + rng.random(len(rows)) * (hh - hl)) * 4) / 4
            hours[rows[rng.random(len(rows)) < zero]] = 0.0
            expense[rows] = np.round(el + rng.random(len(rows)) * (eh - el), 2)
        u = rng.random(n)
        fe = np.where(
            u < 0.55,
            self.ref_partner[ref],
            np.where(
                u < 0.85, self.pick_fee_earner(self.ref_home[ref]), rng.integers(0, self.n_fe, n)
            ),
        )
        contact = self.pick_contact(ref, 0.15)
        gone = (contact >= 0) & (self.move_day[np.maximum(contact, 0)] <= day)
        contact[gone] = -1  # they work elsewhere now
        order = _by_day(day)
        ids = _width(n, 6)
        ref, day, contact, fe, atype, hours, expense = (
            x[order] for x in (ref, day, contact, fe, atype, hours, expense)
        )
        self.write(
            "activities",
            n,
            {
                "activity_id": _ids_col("A", ids),
                "occurred_on": _date_col(day),
                "referrer_id": _take_col(self.ref_ids, ref),
                "contact_id": _take_col(self.contact_ids, contact),
                "fee_earner_id": _take_col(self.fe_ids, fe),
                "activity_type": _take_col(_strings(ACTIVITY_TYPES), atype),
                "hours": _float_col(hours),
                "expense": _float_col(expense),
            },
        )

    def _decide(self, day: np.ndarray, p_won: np.ndarray, p_declined: np.ndarray):
        """Status (0 open, 1 won, 2 lost, 3 declined) and closed_on day."""
        rng = self.rng
        n = len(day)
        u = rng.random(n, dtype=np.float32)
        status = np.full(n, 2, np.int8)
        status[u < p_won + p_declined] = 3
        status[u < p_won] = 1
        del u
        # days to a decision: a few weeks to win, longer to lose, days to decline
        delay = np.take(np.array([0, 20, 45, 6], np.float32), status)
        delay *= rng.standard_exponential(n, dtype=np.float32)
        delay += np.take(np.array([0, 3, 10, 1], np.float32), status)
        closed = day.astype(np.int32) + delay.astype(np.int32)
        del delay
        still_open = (closed > _END) | (rng.random(n, dtype=np.float32) < 0.01)
        status[still_open] = 0
        closed[still_open] = _NULL_DAY
        return status, closed

    def _value(self, work_type: np.ndarray, mult: np.ndarray):
        """The estimated value (rounded) and the fees the matter will actually bring."""
        rng = self.rng
        n = len(work_type)
        expected = np.exp(rng.standard_normal(n, dtype=np.float32) * 0.5 - 0.12)
        expected *= _WT_VALUE.astype(np.float32)[work_type]
        expected *= np.asarray(mult, np.float32)
        actual = np.exp(rng.standard_normal(n, dtype=np.float32) * 0.4 - 0.05)
        actual *= expected
        estimate = np.maximum(500.0, np.round(expected.astype(np.float64) / 500.0) * 500.0)
        return estimate, actual

    def inbound(self) -> None:
        rng, p = self.rng, self.p
        n = p.inbound
        per_month = rng.multinomial(n, self.month_w)
        m = np.arange(_N_MONTHS)
        active = (m[None, :] >= self.ref_from_m[:, None]) & (m[None, :] < self.ref_to_m[:, None])
        weight = self.ref_weight[:, None] * active
        weight = weight / weight.sum(axis=0, keepdims=True) * (1.0 - _STAR_SHARE)
        weight[self.stars] = (_STAR_SHARE * _STAR_SPLIT)[:, None]
        # how many referrals each referrer sends each month; the rows come out
        # grouped by referrer, and get a random order within the day when sorted
        refs = []
        for month in range(_N_MONTHS):
            p_month = weight[:, month] / weight[:, month].sum()
            refs.append(
                np.repeat(
                    np.arange(self.n_ref, dtype=np.int32),
                    rng.multinomial(per_month[month], p_month),
                )
            )
        ref = np.concatenate(refs)
        month = np.repeat(np.arange(_N_MONTHS), per_month)
        day = _workday(_MONTH_START[month] + (rng.random(n) * _MONTH_LEN[month]).astype(np.int64))
        del refs, month, weight
        # work type: the referrer's usual work, or (increasingly) work we do not target
        ramp = (day - _START).astype(np.float32) * np.float32(2.4 / _SPAN) + np.float32(0.3)
        ramp *= self.ref_off.astype(np.float32)[ref]
        off = rng.random(n, dtype=np.float32) < np.minimum(ramp, 0.8)
        del ramp
        rtype = self.ref_type[ref]
        work = _pick_by_group(
            rng,
            rtype.astype(np.int32) * 2 + off,
            np.stack([row for pair in zip(_TYPE_MIX, _TYPE_OFF_MIX) for row in pair]),
        )
        work = work.astype(np.int8)
        team = _WT_TEAM[work]
        contact = self.pick_contact(ref, 0.08)
        ref = self.follow_moves(ref, contact, day).astype(np.int32)
        fe = self.pick_fee_earner(team)
        own = (team == self.ref_home[ref]) & (rng.random(n) < 0.55)
        fe[own] = self.ref_partner[ref[own]]
        cls = self.ref_cls[ref]
        off_target = _OFF[work]
        p_won = np.where(off_target, np.float32(0.30), _CLASS_WON.astype(np.float32)[cls])
        p_dec = np.where(off_target, np.float32(0.30), np.float32(0.06))
        del off_target
        status, closed = self._decide(day, p_won, p_dec)
        estimate, actual = self._value(work, self.ref_value[ref])
        estimate[rng.random(n) < 0.15] = np.nan
        self.ib = {
            "day": day.astype(np.int32),
            "ref": ref,
            "contact": contact.astype(np.int32),
            "fe": fe,
            "team": team,
            "work": work,
            "status": status,
            "closed": closed.astype(np.int32),
            "estimate": estimate,
            "actual": actual,
            "client": self.new_clients(day),
        }
        self.say(f"inbound referrals: {n:,}")

    def _existing_clients(self, team: np.ndarray, day: np.ndarray, p_new: float) -> np.ndarray:
        """A client of `team` with a matter opened before `day`, else a new client (-1 here)."""
        rng = self.rng
        src_team = np.concatenate([self.ib["team"][self.ib_won], self.dm["team"]])
        src_day = np.concatenate([self.ib["closed"][self.ib_won], self.dm["day"]])
        src_client = np.concatenate([self.ib["client"][self.ib_won], self.dm["client"]])
        out = np.full(len(team), -1, np.int64)
        u = rng.random(len(team))
        for t in range(len(TEAMS)):
            src = np.flatnonzero(src_team == t)
            src = src[_by_day(src_day[src])]
            rows = np.flatnonzero(team == t)
            before = np.searchsorted(src_day[src], day[rows], side="left")
            ok = before > 0
            pick = (u[rows[ok]] * before[ok]).astype(np.int64)
            out[rows[ok]] = src_client[src[pick]]
        out[rng.random(len(team)) < p_new] = -1
        return out

    def direct(self) -> None:
        """Matters that came to us without a referral (website, directories, reputation)."""
        rng, p = self.rng, self.p
        self.ib_won = np.flatnonzero(self.ib["status"] == 1)
        n = round(p.direct_share * p.inbound)
        day = self.random_days(n)
        work = _pick(rng, np.cumsum(_DIRECT_MIX), n).astype(np.int8)
        _, actual = self._value(work, np.ones(n))
        self.dm = {
            "day": day.astype(np.int32),
            "work": work,
            "team": _WT_TEAM[work],
            "actual": actual,
            "client": self.new_clients(day),
        }
        # prospects: touched clients who never instruct us (their touches come later)
        self.pro_first = self.random_days(round(p.prospect_share * p.inbound))
        self.pro_client = self.new_clients(self.pro_first)

    def internal(self) -> None:
        rng, p = self.rng, self.p
        n = round(p.internal_share * p.inbound)
        day = self.random_days(n)
        give = np.array([0.42, 0.12, 0.10, 0.10, 0.12, 0.14])
        take = np.array([0.04, 0.22, 0.14, 0.22, 0.22, 0.16])
        from_team = _pick(rng, np.cumsum(give), n).astype(np.int8)
        to_probs = np.tile(take, (len(TEAMS), 1))
        np.fill_diagonal(to_probs, 0.0)
        to_team = _pick_by_group(rng, from_team, to_probs).astype(np.int8)
        team_mix = np.array(
            [
                [_DIRECT_MIX[w] * (not _OFF[w]) * (_WT_TEAM[w] == t) for w in range(len(_WT))]
                for t in range(len(TEAMS))
            ]
        )
        work = _pick_by_group(rng, to_team, team_mix).astype(np.int8)
        client = self._existing_clients(from_team, day, 0.03)
        fresh = client < 0
        client[fresh] = self.new_clients(day[fresh])
        fe = self.pick_fee_earner(to_team)
        status, closed = self._decide(day, np.float32(0.58), np.float32(0.05))
        estimate, actual = self._value(work, np.ones(n))
        estimate[rng.random(n) < 0.25] = np.nan
        self.it = {
            "day": day.astype(np.int32),
            "from_team": from_team,
            "team": to_team,
            "work": work,
            "client": client,
            "fe": fe,
            "status": status,
            "closed": closed.astype(np.int32),
            "estimate": estimate,
            "actual": actual,
        }

    def outbound(self) -> None:
        rng, p = self.rng, self.p
        n = round(p.outbound_share * p.inbound)
        day = self.random_days(n)
        team = _pick(rng, np.cumsum([0.25, 0.20, 0.15, 0.10, 0.15, 0.15]), n).astype(np.int8)
        # five favoured firms get most of what we send out; the rest is spread thinly
        eligible = np.flatnonzero(
            (self.ref_type != REFERRER_TYPES.index("client")) & (self.ref_cls != _NEVER)
        )
        others = np.setdiff1d(eligible, self.stars)
        regular = others[self.ref_cls[others] == _REGULAR]
        picked = rng.choice(regular, size=3, replace=False) if len(regular) >= 3 else others[:3]
        favoured = np.concatenate([self.stars[:2], picked])
        fav = favoured[_pick(rng, np.cumsum([0.30, 0.25, 0.20, 0.15, 0.10]), n)]
        spread = eligible[(rng.random(n) * len(eligible)).astype(np.int64)]
        ref = np.where(rng.random(n) < 0.7, fav, spread)
        contact = self.pick_contact(ref, 0.25)
        ref = self.follow_moves(ref, contact, day).astype(np.int32)
        status = np.where(rng.random(n) < 0.6, 1, 0).astype(np.int8)
        closed = day + 2 + (rng.exponential(20.0, n)).astype(np.int64)
        status[closed > _END] = 0
        closed[status == 0] = _NULL_DAY
        work_values: list[str] = []
        work = np.zeros(n, np.int64)
        u = rng.random(n)
        rtype = self.ref_type[ref]
        for ti, tname in enumerate(REFERRER_TYPES):
            rows = np.flatnonzero(rtype == ti)
            options = _OUTBOUND_WORK[tname]
            base = len(work_values)
            work_values.extend(options)
            work[rows] = base + (u[rows] * len(options)).astype(int)
        client = self._existing_clients(team, day, 0.15)
        fresh = client < 0
        client[fresh] = self.new_clients(day[fresh])
        fe = self.pick_fee_earner(team)
        own = (team == self.ref_home[ref]) & (rng.random(n) < 0.5)
        fe[own] = self.ref_partner[ref[own]]
        self.ob = {
            "day": day.astype(np.int32),
            "ref": ref,
            "contact": contact.astype(np.int32),
            "team": team,
            "fe": fe,
            "status": status,
            "closed": closed.astype(np.int32),
            "client": client,
            "work": work,
        }
        self.ob_work_values = work_values

    def matters_and_referrals(self) -> None:
        ib, it, dm = self.ib, self.it, self.dm
        n_ib = len(ib["day"])
        # referral numbers: all three directions in date order
        rday = np.concatenate([ib["day"], it["day"], self.ob["day"]])
        shuffle = (self.rng.random(len(rday)) * 65_536).astype(np.uint16)
        r_order = _radix_order((rday - _START).astype(np.int16), shuffle)  # random within a day
        del shuffle
        r_num = _inverse(r_order)
        self.r_order = r_order
        it_won = np.flatnonzero(it["status"] == 1)
        src = [
            (
                ib["closed"][self.ib_won],
                ib["client"][self.ib_won],
                ib["team"][self.ib_won],
                ib["work"][self.ib_won],
                r_num[self.ib_won],
                ib["actual"][self.ib_won],
                np.zeros(len(self.ib_won), np.int8),
            ),
            (
                it["closed"][it_won],
                it["client"][it_won],
                it["team"][it_won],
                it["work"][it_won],
                r_num[n_ib + it_won],
                it["actual"][it_won],
                np.ones(len(it_won), np.int8),
            ),
            (
                dm["day"],
                dm["client"],
                dm["team"],
                dm["work"],
                np.full(len(dm["day"]), -1),
                dm["actual"],
                np.full(len(dm["day"]), 2, np.int8),
            ),
        ]
        cols = [np.concatenate([s[i] for s in src]) for i in range(7)]
        m_order = _by_day(cols[0])
        self.mt = dict(
            zip(
                ("day", "client", "team", "work", "referral", "actual", "kind"),
                (c[m_order] for c in cols),
            )
        )

    def touchpoints(self) -> None:
        rng = self.rng
        ib, mt = self.ib, self.mt
        parts = []  # (client, day, channel, referrer)
        no_ref = np.full(1, -1, np.int32)

        # 1. the referral itself, as a touch: nearly always when won, sometimes otherwise
        won = ib["status"] == 1
        keep = rng.random(len(won)) < np.where(won, 0.88, 0.2)
        parts.append((ib["client"][keep], ib["day"][keep], np.zeros(1, np.int8), ib["ref"][keep]))
        del keep

        # 2. other touches before each matter, after the client's previous instruction
        n_m = len(mt["day"])
        # same-day matters of a client share a journey, so ties need no order
        by_client = np.argsort(mt["client"].astype(np.int64) * 2048 + (mt["day"] - _START))
        c_sorted, d_sorted = mt["client"][by_client], mt["day"][by_client]
        first_of_run = np.ones(n_m, bool)
        first_of_run[1:] = (c_sorted[1:] != c_sorted[:-1]) | (d_sorted[1:] != d_sorted[:-1])
        prev = np.maximum.accumulate(np.where(first_of_run, np.arange(n_m), 0)) - 1
        del first_of_run
        has_prev = (prev >= 0) & (c_sorted[np.maximum(prev, 0)] == c_sorted)
        gap = np.empty(n_m, np.int32)
        gap[by_client] = np.where(has_prev, d_sorted - d_sorted[np.maximum(prev, 0)], 10_000)
        del by_client, c_sorted, d_sorted, prev, has_prev
        kind = mt["kind"]
        k_probs = np.array(
            [
                [0.42, 0.30, 0.15, 0.09, 0.04],  # inbound
                [0.45, 0.30, 0.15, 0.10, 0.00],  # internal
                [0.35, 0.25, 0.18, 0.14, 0.08],
            ]
        )  # direct
        rows = np.repeat(np.arange(n_m, dtype=np.int32), _pick_by_group(rng, kind, k_probs))
        day = mt["day"][rows]
        cap = np.minimum(np.minimum(330, gap[rows] - 1), day - _START)
        del gap
        back = np.minimum(rng.exponential(70.0, len(rows)).astype(np.int32), np.maximum(cap, 0))
        ok = cap >= 0
        rows, day = rows[ok], (day - back)[ok]
        del back, cap, ok
        channel = _pick_by_group(
            rng,
            kind[rows],
            np.array([_CHANNEL_P["inbound"], _CHANNEL_P["internal"], _CHANNEL_P["direct"]]),
        )
        parts.append((mt["client"][rows], day, channel.astype(np.int8), no_ref))
        del rows, day, channel

        # 3. a touch before some referrals that did not turn into work
        lost = np.flatnonzero(~won & (rng.random(len(won)) < 0.15))
        d = ib["day"][lost] - rng.integers(0, 90, len(lost)).astype(np.int32)
        fine = d >= _START
        ch = _pick(rng, np.cumsum(_CHANNEL_P["prospect"]), fine.sum()).astype(np.int8)
        parts.append((ib["client"][lost][fine], d[fine], ch, no_ref))
        del lost, d, fine, ch, won
        self.ib = ib = None

        # 4. prospects who never instruct us
        first, pro = self.pro_first, self.pro_client
        k = 1 + rng.poisson(1.0, len(pro))
        rows = np.repeat(np.arange(len(pro)), k)
        d = first[rows] + np.where(
            np.arange(len(rows)) == np.repeat(np.cumsum(k) - k, k),
            0,
            rng.integers(1, 200, len(rows)),
        )
        fine = d <= _END
        ch = _pick(rng, np.cumsum(_CHANNEL_P["prospect"]), fine.sum()).astype(np.int8)
        parts.append((pro[rows][fine], d[fine].astype(np.int32), ch, no_ref))
        del rows, d, fine, ch

        sizes = [len(x[0]) for x in parts]
        n = sum(sizes)

        def column(i: int, dtype, parts=parts) -> np.ndarray:
            pieces = [np.broadcast_to(x[i], (size,)) for x, size in zip(parts, sizes, strict=True)]
            return np.concatenate(pieces).astype(dtype)

        day = column(1, np.int32)
        channel = column(2, np.int8)
        any_hour = _ANY_HOUR_CHANNELS[channel]
        seconds = (
            np.where(any_hour, 0, 8 * 3600) + rng.random(n) * np.where(any_hour, 86_400, 11 * 3600)
        ).astype(np.int32)
        del any_hour
        order = _radix_order(
            (day - _START).astype(np.int16),
            (seconds >> 16).astype(np.int16),
            (seconds & 0xFFFF).astype(np.uint16),
        )
        at = (day[order].astype(np.int64) * 86_400 + seconds[order]) * 1_000_000
        del day, seconds
        channel = channel[order]
        client = column(0, np.int32)[order]
        ref = column(3, np.int32)[order]
        del parts, order, column
        self.write(
            "touchpoints",
            n,
            {
                "touchpoint_id": _ids_col("T", _width(n, 6)),
                "client_id": self._client_col(client),
                "touched_at": lambda a, b: pa.array(at[a:b], pa.timestamp("us")),
                "channel": _take_col(_strings(CHANNELS), channel),
                "referrer_id": _take_col(self.ref_ids, ref),
            },
        )

    def clients(self) -> None:
        """Number clients in order of first appearance: CL000001 is the oldest."""
        first = np.concatenate(self.client_first)
        order = _by_day(first)
        self.client_num = _inverse(order).astype(np.int32)
        self.client_width = _width(len(first), 6)
        del self.client_first

    def _client_col(self, keys: np.ndarray) -> ColumnFn:
        return (
            _num_col("CL", self.client_width, self.client_num[keys])
            if len(keys)
            else (lambda a, b: pa.array([], pa.string()))
        )

    def write_referrals_and_matters(self) -> None:
        ib, it, ob = self.ib, self.it, self.ob
        n_ib, n_it, n_ob = len(ib["day"]), len(it["day"]), len(ob["day"])
        n = n_ib + n_it + n_ob
        order = self.r_order
        del self.r_order, self.ib_won, self.dm

        def cat(a, b, c, dtype):
            return np.concatenate(
                [np.asarray(a, dtype), np.asarray(b, dtype), np.asarray(c, dtype)]
            )[order]

        day = cat(ib["day"], it["day"], ob["day"], np.int32)
        direction = cat(np.zeros(n_ib), np.full(n_it, 2), np.ones(n_ob), np.int8)
        ref = cat(ib["ref"], np.full(n_it, -1), ob["ref"], np.int32)
        contact = cat(ib["contact"], np.full(n_it, -1), ob["contact"], np.int32)
        fe = cat(ib["fe"], it["fe"], ob["fe"], np.int32)
        from_team = cat(np.full(n_ib, -1), it["from_team"], np.full(n_ob, -1), np.int8)
        to_team = cat(ib["team"], it["team"], ob["team"], np.int8)
        client = cat(ib["client"], it["client"], ob["client"], np.int32)
        n_wt = len(_WT)
        work_values = _strings(_WT + tuple(self.ob_work_values))
        work = cat(ib["work"], it["work"], np.asarray(ob["work"]) + n_wt, np.int16)
        status = cat(ib["status"], it["status"], ob["status"], np.int8)
        estimate = cat(ib["estimate"], it["estimate"], np.full(n_ob, np.nan), np.float64)
        closed = cat(ib["closed"], it["closed"], ob["closed"], np.int32)
        del self.it, self.ob
        self.ib = {key: ib[key] for key in ("client", "day", "ref", "status")}  # for touchpoints
        self.write(
            "referrals",
            n,
            {
                "referral_id": _ids_col("RF", _width(n, 6)),
                "referred_on": _date_col(day),
                "direction": _take_col(_strings(("inbound", "outbound", "internal")), direction),
                "referrer_id": _take_col(self.ref_ids, ref),
                "contact_id": _take_col(self.contact_ids, contact),
                "fee_earner_id": _take_col(self.fe_ids, fe),
                "from_team": _take_col(_strings(TEAMS), from_team),
                "to_team": _take_col(_strings(TEAMS), to_team),
                "client_id": self._client_col(client),
                "work_type": _take_col(work_values, work),
                "status": _take_col(_strings(("open", "won", "lost", "declined")), status),
                "estimated_value": _float_col(estimate),
                "closed_on": _date_col(closed),
            },
        )
        self.referral_width = _width(n, 6)
        del (
            day,
            direction,
            ref,
            contact,
            fe,
            from_team,
            to_team,
            client,
            work,
            status,
            estimate,
            closed,
        )
        mt = self.mt
        n_m = len(mt["day"])
        self.matter_width = _width(n_m, 6)
        self.write(
            "matters",
            n_m,
            {
                "matter_id": _ids_col("M", self.matter_width),
                "client_id": self._client_col(mt["client"]),
                "team": _take_col(_strings(TEAMS), mt["team"]),
                "work_type": _take_col(_strings(_WT), mt["work"]),
                "opened_on": _date_col(mt["day"]),
                "referral_id": _num_col("RF", self.referral_width, mt["referral"]),
            },
        )

    def fees(self) -> None:
        rng = self.rng
        mt = self.mt
        n_m = len(mt["day"])
        bills = 1 + rng.poisson(_WT_BILLS[mt["work"]] - 1.0)
        bills[rng.random(n_m) < 0.04] = 0  # never billed (aborted)
        matter = np.repeat(np.arange(n_m, dtype=np.int32), bills)
        j = np.arange(len(matter)) - np.repeat(np.cumsum(bills) - bills, bills)
        first = rng.integers(15, 60, n_m)
        spacing = rng.integers(25, 46, n_m)
        day = (
            mt["day"][matter].astype(np.int64)
            + first[matter]
            + j * spacing[matter]
            + rng.integers(0, 7, len(matter))
        )
        wd = _weekday(day)
        day = day - np.where(wd == 5, 1, 0) - np.where(wd == 6, 2, 0)  # bills go out on weekdays
        weight = 0.3 + rng.random(len(matter))
        total = np.bincount(matter, weight, minlength=n_m)
        amount = mt["actual"][matter] * weight / total[matter]
        credit = (j >= 1) & (rng.random(len(matter)) < 0.035)
        amount[credit] = -amount[credit] * (0.15 + 0.45 * rng.random(credit.sum()))
        amount = np.round(amount, 2)
        keep = day <= _END
        matter, day, amount = matter[keep], day[keep], amount[keep]
        order = _by_day(day)  # rows are in matter order already
        matter, day, amount = matter[order], day[order].astype(np.int32), amount[order]
        width = self.matter_width
        self.write(
            "fees",
            len(matter),
            {
                "matter_id": lambda a, b: _fixed_ids("M", matter[a:b].astype(np.int64) + 1, width),
                "billed_on": _date_col(day),
                "amount": _float_col(amount),
            },
        )
        self.mt = None

    def targets(self) -> None:
        rows = [(w, s, _day(d)) for d, mix in TARGETS.items() for w, s in mix.items()]
        work = _strings([r[0] for r in rows])
        share = np.array([r[1] for r in rows])
        day = np.array([r[2] for r in rows], np.int32)
        self.write(
            "work_type_targets",
            len(rows),
            {
                "work_type": lambda a, b: work[a:b],
                "target_share": _float_col(share),
                "effective_from": _date_col(day),
            },
        )
