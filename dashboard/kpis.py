"""SMART KPIs for referrer relationships: the measures, the SMART checks, and the arithmetic of
progress, forecast and red/amber/green.

A KPI is a measure (``MEASURES``) for a scope (the whole firm, a programme level, a team, a
referrer type or one referrer), a target, a deadline and an owner. Every value of a measure comes
from the named query ``kpi_measures`` (queries/kpis/kpi_measures.sql), so the KPIs page, the CLI
(``refport query kpis``) and the board pack show the same numbers.

How a KPI is measured
---------------------
- **Measurement period.** A KPI runs from ``start_on`` (the day it is created) to its
  ``deadline``; its length H = deadline − start_on in days. The value of the measure *on* a day t
  is the measure over the H days ending on t, [t − H + 1, t]. At the deadline that is exactly the
  KPI's own period: "40 inbound referrals in the next two quarters" is met when the two quarters
  to the deadline hold 40. Ratios (conversion rate, shares, drift) are measured over the same
  rolling period.
- **Baseline**: the value on ``baseline_on``, measured once when the KPI is created and kept.
  ``baseline_on`` is the day the data reaches then (the data's latest date, or today when the data
  is more recent); for overdue plan actions, which live in the edit store, today.
- **Current**: the value on the as-of day: the window's end (the data's latest date by default; for
  overdue plan actions, today), never after the deadline and never before ``baseline_on``. A closed
  KPI's current value is its final value, kept when it was closed.
- **Straight-line path**: expected(t) = baseline + (target − baseline) × f, with
  f = (t − baseline_on) / (deadline − baseline_on) between 0 and 1 (the share of the time gone).
- **Progress** = (current − baseline) / (target − baseline): 0 at the baseline, 1 (100%) at the
  target; when the target equals the baseline, 1 if the target is held, else 0.
- **Direction**: a target at or above the baseline is "at least" (higher is better), below it
  "at most" (lower is better, e.g. the top-3 share or the drift index).
- **Forecast at the deadline**: an ordinary least-squares line through the measure's values on the
  as-of day and 3, 6 and 9 months before it (the last four quarters; each over its own rolling
  period), extended to the deadline. Counts are not forecast below 0 and shares not outside 0–100%.
  Fewer than two values: no forecast. At or after the deadline the forecast is the current value.
- **Red/amber/green**: ``RAG_RULE`` below, written out on the page next to the list.

Scopes use today's programme levels and tier assignments for every period (the board's levels are
not kept per date); the sidebar filters do not apply to KPIs, whose scope says what they cover.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from dashboard import registry
from dashboard.data import Dataset
from dashboard.formatting import count, money, share
from dashboard.window import Filters, Window, months_before

SCOPES = ("firm", "level", "team", "referrer_type", "referrer")
SCOPE_LABELS = {
    "firm": "Whole firm",
    "level": "A programme level",
    "team": "A team",
    "referrer_type": "A referrer type",
    "referrer": "One referrer",
}
TOLERANCE = 0.10  # amber: behind the path by at most this share of the distance from baseline to target
TREND_QUARTERS = 4  # the forecast's line goes through this many quarterly values
MEASURES_QUERY = "kpi_measures"
# the closing-the-loop list on the KPIs page shows at most this many referrals, waiting longest first
LOOP_ROWS_SHOWN = 500
STORE_TABLES = ("kpis_current", "tier_assignments_current", "plan_steps_current", "loop_closed_current")

RAG_RULE = (
    f"**Green**: on or ahead of the straight line from the baseline (on the day it was measured) to "
    f"the target (on the deadline). **Amber**: behind that line by no more than {TOLERANCE:.0%} of the "
    "distance from baseline to target, or behind it but forecast to reach the target by the deadline. "
    f"**Red**: behind by more than {TOLERANCE:.0%} of that distance and not forecast to reach the "
    "target. Ahead means above the line when the target is above the baseline, below it when the "
    "target is below (e.g. a lower top-3 share). A closed KPI is green when its final value met the "
    "target, red when it did not."
)


@dataclass(frozen=True)
class Measure:
    key: str  # the kpi_measures column
    label: str
    unit: str  # count, money or share (a share is stored 0..1 and shown as a percentage)
    explanation: str
    scopes: tuple[str, ...] = SCOPES
    clock: str = "data"  # "data": as at the window's end; "today": as at today (the store's plans)


MEASURES: dict[str, Measure] = {m.key: m for m in (
    Measure("inbound_referrals", "Inbound referrals", "count",
            "inbound referrals received in the period"),
    Measure("inbound_referrals_l34", "Inbound referrals from Level 3–4 referrers", "count",
            "inbound referrals received in the period from referrers at Level 3 or 4 (the board's "
            "level, else the suggested one)"),
    Measure("conversion_rate", "Conversion rate", "share",
            "won ÷ (won + lost + declined) of the inbound referrals received in the period"),
    Measure("referred_fees", "Referred fees", "money",
            "fees billed in the period on matters from inbound referrals, whenever referred"),
    Measure("referrers_with_fees", "Referrers with referred fees", "count",
            "referrers whose referred fees in the period are above 0"),
    Measure("top3_share", "Top-3 share of referred fees", "share",
            "share of the period's referred fees from the three largest referrers"),
    Measure("drift_index", "Strategic drift index", "share",
            "half the summed gaps between the mix of inbound work and the target mix (0% on target, "
            "100% entirely off)"),
    Measure("target_work_share", "Share of target work", "share",
            "share of inbound referrals in work types with a target share of at least 5%"),
    Measure("outbound_referrals", "Outbound referrals", "count",
            "referrals we sent to referrers in the period"),
    Measure("overdue_plan_actions", "Overdue plan actions", "count",
            "next steps in referrer plans past their due date and not done (plans belong to "
            "referrers, so not for a team)",
            scopes=("firm", "level", "referrer_type", "referrer"), clock="today"),
    Measure("loop_closed_share", "Share of referrals with the loop closed", "share",
            "of the inbound referrals decided in the period, the share whose referrer was told "
            "what became of them"),
)}


class KpiError(ValueError):
    """A KPI that is not SMART: every problem, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


def today() -> date:
    """Today in UTC (the store's clock); tests replace it."""
    return datetime.now(UTC).date()


# --- values as people read and type them ---------------------------------------------------------


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def format_value(value: object, unit: str) -> str:
    """40 · GBP 12,500 · 35.0%; "—" for no value."""
    if _missing(value):
        return "—"
    if unit == "money":
        return money(value)
    if unit == "share":
        return share(value, 1)
    number = float(value)  # type: ignore[arg-type]
    return count(number) if number == round(number) else f"{number:,.1f}"


def input_unit(unit: str) -> str:
    """How a target is typed: shares as a percentage."""
    return "%" if unit == "share" else ("money" if unit == "money" else "number")


def target_from_input(value: object, unit: str) -> float | None:
    """The stored target from what a person typed: 40 (%) → 0.4 for a share."""
    if _missing(value):
        return None
    number = float(value)  # type: ignore[arg-type]
    return number / 100 if unit == "share" else number


def scope_text(scope_kind: str, scope_value: object, name: str | None = None,
               level_label: Callable[[int], str] | None = None) -> str:
    """'Whole firm', 'Level 4 · Platinum', 'Team: corporate', 'Referrer type: bank',
    'Referrer: Alpha LLP (R1)'."""
    value = "" if _missing(scope_value) else str(scope_value)
    if scope_kind == "firm":
        return "Whole firm"
    if scope_kind == "level":
        try:
            return level_label(int(value)) if level_label else f"Level {int(value)}"
        except (ValueError, LookupError):
            return f"Level {value}"
    if scope_kind == "team":
        return f"Team: {value}"
    if scope_kind == "referrer_type":
        return f"Referrer type: {value}"
    return f"Referrer: {name} ({value})" if name and name != value else f"Referrer: {value}"


# --- SMART --------------------------------------------------------------------------------------


def check(measure: object, scope_kind: object, scope_value: object, target: object, deadline: object,
          owner: object, on: date | None = None) -> list[str]:
    """Why a KPI is not SMART, one sentence per problem (empty: it is). ``target`` is as stored
    (a share 0..1); ``on`` is today."""
    on = on or today()
    problems: list[str] = []
    chosen = MEASURES.get(str(measure)) if not _missing(measure) and str(measure).strip() else None
    if _missing(measure) or not str(measure).strip():
        problems.append("Specific: choose a measure from the list.")
    elif chosen is None:
        problems.append(f"Specific: there is no measure {measure!r}; choose one from the list.")

    kind = None if _missing(scope_kind) else str(scope_kind).strip()
    value = None if _missing(scope_value) else str(scope_value).strip()
    if not kind:
        problems.append("Specific: choose a scope: the whole firm, a level, a team, a referrer type "
                        "or one referrer.")
    elif kind not in SCOPES:
        problems.append(f"Specific: there is no scope {kind!r}; choose one of {', '.join(SCOPES)}.")
    else:
        if kind != "firm" and not value:
            which = {"level": "level", "team": "team", "referrer_type": "referrer type",
                     "referrer": "referrer"}[kind]
            problems.append(f"Specific: choose which {which} the KPI is about.")
        elif kind == "level" and value not in ("1", "2", "3", "4"):
            problems.append(f"Specific: the level must be 1, 2, 3 or 4, got {value!r}.")
        if chosen is not None and kind not in chosen.scopes:
            problems.append(f"Specific: {chosen.label.lower()} cannot be measured for "
                            f"{SCOPE_LABELS[kind].lower()} (plans belong to referrers); choose another "
                            "scope.")

    if _missing(target) or (isinstance(target, str) and not target.strip()):
        problems.append("Measurable: give a target value.")
    else:
        try:
            number = float(target)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            problems.append(f"Measurable: the target must be a number, got {target!r}.")
        elif chosen is not None and chosen.unit == "share" and not 0 <= number <= 1:
            problems.append(f"Measurable: the target for {chosen.label.lower()} is a percentage between "
                            f"0% and 100%, got {number * 100:g}%.")
        elif chosen is not None and chosen.unit == "count" and (number < 0 or number != round(number)):
            problems.append(f"Measurable: the target for {chosen.label.lower()} must be a whole number "
                            f"of at least 0, got {number:g}.")

    if _missing(deadline) or (isinstance(deadline, str) and not deadline.strip()):
        problems.append("Time-bound: give a deadline.")
    else:
        try:
            day = deadline if isinstance(deadline, date) else date.fromisoformat(str(deadline).strip())
            if isinstance(day, datetime):
                day = day.date()
        except ValueError:
            problems.append(f"Time-bound: the deadline must be a date (YYYY-MM-DD), got {deadline!r}.")
        else:
            if day < on:
                problems.append(f"Time-bound: the deadline {day:%d %b %Y} is in the past; pick a date "
                                f"after today ({on:%d %b %Y}).")
            elif day == on:
                problems.append(f"Time-bound: the deadline {day:%d %b %Y} is today; pick a later date.")

    if _missing(owner) or not str(owner).strip():
        problems.append("Owner: name the person accountable for the KPI (e.g. Head of BD).")
    return problems


# --- the arithmetic -----------------------------------------------------------------------------


def period(on: date, days: int) -> Window:
    """The measurement period ending on a day: [on − days + 1, on]."""
    return Window(on - timedelta(days=max(days, 1) - 1), on)


def direction(baseline: float, target: float) -> int:
    """+1: at least the target (higher is better); −1: at most (lower is better)."""
    return 1 if target >= baseline else -1


def elapsed(baseline_on: date, deadline: date, on: date) -> float:
    """The share of the time from baseline_on to the deadline gone by ``on``, between 0 and 1."""
    total = (deadline - baseline_on).days
    if total <= 0:
        return 1.0
    return min(max((on - baseline_on).days / total, 0.0), 1.0)


def path_value(baseline: float, target: float, baseline_on: date, deadline: date, on: date) -> float:
    """The straight line from (baseline_on, baseline) to (deadline, target), on a day."""
    return baseline + (target - baseline) * elapsed(baseline_on, deadline, on)


def progress(baseline: float, target: float, current: float | None) -> float | None:
    """(current − baseline) / (target − baseline); a target equal to the baseline: 1 held, 0 not."""
    if current is None:
        return None
    if target == baseline:
        return 1.0 if direction(baseline, target) * (current - target) >= 0 else 0.0
    return (current - baseline) / (target - baseline) + 0.0  # + 0.0: no "−0%"


def linear_forecast(points: list[tuple[date, float | None]], deadline: date, unit: str = "money") -> float | None:
    """Least-squares line through (day, value) points, read at the deadline; None with fewer than two
    values. Counts are kept at 0 or above, shares between 0 and 1."""
    known = [(day, float(v)) for day, v in points if v is not None and not _missing(v)]
    if len(known) < 2:
        return None
    origin = min(day for day, _ in known)
    xs = [(day - origin).days for day, _ in known]
    ys = [v for _, v in known]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    slope = 0.0 if spread == 0 else sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    value = mean_y + slope * ((deadline - origin).days - mean_x)
    if unit == "count":
        value = max(value, 0.0)
    elif unit == "share":
        value = min(max(value, 0.0), 1.0)
    return value


def rag(baseline: float, target: float, current: float | None, expected: float, forecast: float | None,
        unit: str = "count", closed: bool = False) -> tuple[str | None, str]:
    """('green' | 'amber' | 'red' | None, why in words), by ``RAG_RULE``."""
    def show(value: object) -> str:
        return format_value(value, unit)

    if current is None:
        return None, "no value for the current period (nothing to measure yet)"
    sign = direction(baseline, target)
    meets_target = sign * (current - target) >= -1e-9
    if closed:
        verb = "met" if meets_target else "missed"
        return ("green" if meets_target else "red"), f"closed: the final value {show(current)} {verb} the target {show(target)}"
    behind = sign * (expected - current)
    if behind <= 1e-9:
        return "green", f"on or ahead of the straight line ({show(current)} against {show(expected)} expected by now)"
    distance = abs(target - baseline) or abs(target)
    tolerance = TOLERANCE * distance
    forecast_meets = forecast is not None and sign * (forecast - target) >= -1e-9
    gap = f"behind the straight line by {show(behind)} ({show(current)} against {show(expected)} expected by now)"
    if behind <= tolerance + 1e-9:
        return "amber", f"{gap}, within {TOLERANCE:.0%} of the distance to the target ({show(tolerance)})"
    if forecast_meets:
        return "amber", f"{gap}, but the forecast {show(forecast)} reaches the target {show(target)}"
    forecast_text = (f"the forecast {show(forecast)} misses the target {show(target)}" if forecast is not None
                     else "there is no forecast")
    return "red", f"{gap}, more than {TOLERANCE:.0%} of the distance ({show(tolerance)}), and {forecast_text}"


# --- measuring ----------------------------------------------------------------------------------


class Meter:
    """Measures for scopes and periods through the named query ``kpi_measures``, each (scope, period)
    run once."""

    def __init__(self, dataset: Dataset, tables: dict[str, object] | None) -> None:
        self.dataset = dataset
        self.tables = tables
        self._rows: dict[tuple[str, str, Window], pd.Series] = {}

    def row(self, scope_kind: str, scope_value: object, window: Window) -> pd.Series:
        value = "" if _missing(scope_value) else str(scope_value)
        key = (scope_kind, value, window)
        if key not in self._rows:
            frame = registry.run(MEASURES_QUERY, self.dataset, window, Filters(),
                                 {"scope": scope_kind, "scope_value": value}, extra_tables=self.tables)
            self._rows[key] = frame.iloc[0]
        return self._rows[key]

    def value(self, measure: str, scope_kind: str, scope_value: object, window: Window) -> float | None:
        raw = self.row(scope_kind, scope_value, window)[measure]
        return None if _missing(raw) else float(raw)


def trend_days(as_of: date) -> list[date]:
    """The as-of day and 3, 6 and 9 months before it, oldest first."""
    return [months_before(as_of, 3 * k) for k in range(TREND_QUARTERS - 1, -1, -1)]


def evaluate(kpi: dict[str, object], meter: Meter, window_end: date, on: date) -> dict[str, object]:
    """One KPI's numbers (see the module's docstring); ``points`` holds the chart's measured values."""
    measure = MEASURES.get(str(kpi["measure"]))
    unit = measure.unit if measure else "count"
    baseline = None if _missing(kpi["baseline"]) else float(kpi["baseline"])  # type: ignore[arg-type]
    target = float(kpi["target"])  # type: ignore[arg-type]
    start_on, deadline, baseline_on = kpi["start_on"], kpi["deadline"], kpi["baseline_on"]
    days = (deadline - start_on).days  # type: ignore[operator]
    closed = kpi["status"] == "closed"
    result: dict[str, object] = {"unit": unit, "points": [], "time_elapsed": None, "expected": None,
                                 "progress": None, "forecast": None, "rag": None, "direction": None}
    if measure is None or baseline is None:
        result.update(as_of=None, current=None,
                      rag_reason="unknown measure" if measure is None else "no baseline was measured")
        return result
    if closed:
        as_of = kpi["final_on"] or deadline
        current = None if _missing(kpi["final_value"]) else float(kpi["final_value"])  # type: ignore[arg-type]
        forecast = current
    else:
        clock_end = on if measure.clock == "today" else window_end
        as_of = max(min(clock_end, deadline), baseline_on)  # type: ignore[type-var]
        points = [(day, meter.value(measure.key, str(kpi["scope_kind"]), kpi["scope_value"], period(day, days)))
                  for day in trend_days(as_of)]  # type: ignore[arg-type]
        current = points[-1][1]
        forecast = current if as_of >= deadline else linear_forecast(points, deadline, unit)  # type: ignore[operator]
        result["points"] = points
    expected = path_value(baseline, target, baseline_on, deadline, as_of)  # type: ignore[arg-type]
    colour, reason = rag(baseline, target, current, expected, forecast, unit, closed)
    result.update(
        as_of=as_of, current=current, expected=expected, forecast=forecast,
        progress=progress(baseline, target, current), rag=colour, rag_reason=reason,
        time_elapsed=elapsed(baseline_on, deadline, as_of),  # type: ignore[arg-type]
        direction="at least" if direction(baseline, target) > 0 else "at most",
    )
    return result


# --- creating a KPI -----------------------------------------------------------------------------


def create_kpi(dataset: Dataset, store, *, measure: str, scope_kind: str, scope_value: object,
               target: object, deadline: object, owner: str, by: str, name: str | None = None,
               on: date | None = None, data_end: date | None = None):
    """Check a KPI is SMART, measure its baseline and save it (``store.create_kpi``); KpiError lists
    every problem. ``on``: today; ``data_end``: the data's latest date (read from the data)."""
    from dashboard import store as store_module

    on = on or today()
    problems = check(measure, scope_kind, scope_value, target, deadline, owner, on)
    if problems:
        raise KpiError(problems)
    chosen = MEASURES[str(measure)]
    deadline_day = deadline if isinstance(deadline, date) else date.fromisoformat(str(deadline))
    days = (deadline_day - on).days
    end = data_end or registry.data_end(dataset)
    baseline_on = on if chosen.clock == "today" else min(on, end)
    meter = Meter(dataset, store_module.query_tables(store))
    kind = str(scope_kind)
    value = None if kind == "firm" else str(scope_value).strip()
    baseline = meter.value(chosen.key, kind, value, period(baseline_on, days))
    if baseline is None:
        raise KpiError([(f"Measurable: {chosen.label.lower()} has no value for "
                         f"{scope_text(kind, value).lower()} over the {days} days to {baseline_on:%d %b %Y} "
                         "(nothing to measure it on); choose another scope or measure.")])
    return store.create_kpi(measure=chosen.key, scope_kind=kind, scope_value=value, target=target,
                            start_on=on, deadline=deadline_day, owner=str(owner).strip(), baseline=baseline,
                            baseline_on=baseline_on, by=by, name=name)


# --- the named queries ----------------------------------------------------------------------------

KPI_COLUMNS = (
    "kpi_id", "measure", "scope", "baseline", "current", "target", "deadline", "owner", "progress",
    "forecast", "status", "rag", "name", "rag_reason", "expected", "time_elapsed", "direction", "unit",
    "measure_key", "scope_kind", "scope_value", "start_on", "baseline_on", "as_of", "final_value",
    "final_on", "created_by", "created_at", "version",
)


def _context(dataset: Dataset, values: dict[str, object]) -> tuple[pd.DataFrame, Meter, date, date]:
    tables = values.get("tables") or {}
    kpis = tables.get("kpis_current")  # type: ignore[union-attr]
    frame = pd.DataFrame() if kpis is None else _plain(kpis)
    return frame, Meter(dataset, tables), values["end"], today()  # type: ignore[return-value]


def _plain(frame) -> pd.DataFrame:
    """Store frames (Arrow-backed) as plain Python values: dates as dates, numbers as floats, NA as None."""
    if hasattr(frame, "to_pandas"):
        frame = frame.to_pandas(types_mapper=pd.ArrowDtype)
    rows = [{k: (None if _missing(v) else v) for k, v in row.items()} for row in frame.to_dict("records")]
    for row in rows:
        for column in ("start_on", "deadline", "baseline_on", "final_on"):
            if isinstance(row.get(column), (datetime, pd.Timestamp)):
                row[column] = row[column].date()  # type: ignore[union-attr]
    return pd.DataFrame(rows, columns=list(frame.columns))


def _level_label() -> Callable[[int], str]:
    from dashboard import levels

    try:
        return levels.load().label
    except levels.LevelsError:
        return lambda n: f"Level {n}"


def kpis_query(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    """The ``kpis`` named query: one row per KPI, open ones first."""
    frame, meter, window_end, on = _context(dataset, values)
    label = _level_label()
    rows = []
    for kpi in frame.to_dict("records"):
        numbers = evaluate(kpi, meter, window_end, on)
        measure = MEASURES.get(str(kpi["measure"]))
        name = None
        if kpi["scope_kind"] == "referrer":
            days = (kpi["deadline"] - kpi["start_on"]).days
            name = meter.row("referrer", kpi["scope_value"], period(kpi["baseline_on"], days))["scope_name"]
        rows.append({
            "kpi_id": kpi["kpi_id"],
            "measure": measure.label if measure else kpi["measure"],
            "scope": scope_text(kpi["scope_kind"], kpi["scope_value"], name, label),
            "baseline": kpi["baseline"], "current": numbers["current"], "target": kpi["target"],
            "deadline": kpi["deadline"], "owner": kpi["owner"], "progress": numbers["progress"],
            "forecast": numbers["forecast"], "status": kpi["status"], "rag": numbers["rag"],
            "name": kpi["name"], "rag_reason": numbers["rag_reason"], "expected": numbers["expected"],
            "time_elapsed": numbers["time_elapsed"], "direction": numbers["direction"],
            "unit": numbers["unit"], "measure_key": kpi["measure"], "scope_kind": kpi["scope_kind"],
            "scope_value": kpi["scope_value"], "start_on": kpi["start_on"], "baseline_on": kpi["baseline_on"],
            "as_of": numbers["as_of"], "final_value": kpi["final_value"], "final_on": kpi["final_on"],
            "created_by": kpi["created_by"], "created_at": kpi["created_at"], "version": kpi["version"],
        })
    rows.sort(key=lambda row: (row["status"] != "open", row["kpi_id"]))
    return _typed(pd.DataFrame(rows, columns=list(KPI_COLUMNS)))


def _typed(result: pd.DataFrame) -> pd.DataFrame:
    for column in ("baseline", "current", "target", "progress", "forecast", "expected", "time_elapsed",
                   "final_value"):
        result[column] = pd.to_numeric(result[column], errors="coerce").astype("float64")
    result["version"] = result["version"].astype("Int64")
    for column in ("kpi_id", "measure", "scope", "owner", "status", "rag", "name", "rag_reason", "direction",
                   "unit", "measure_key", "scope_kind", "scope_value", "created_by"):
        result[column] = result[column].astype(object).where(result[column].notna(), None)
    return result


def kpi_trend(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    """The ``kpi_trend`` named query: what the KPI chart draws for one KPI (param ``kpi``)."""
    frame, meter, window_end, on = _context(dataset, values)
    wanted = frame[frame["kpi_id"] == values.get("kpi")] if len(frame) else frame
    rows: list[dict[str, object]] = []
    for kpi in wanted.to_dict("records"):
        numbers = evaluate(kpi, meter, window_end, on)
        if kpi["baseline"] is None:
            continue
        rows += [{"series": "straight-line path", "on": kpi["baseline_on"], "value": kpi["baseline"]},
                 {"series": "straight-line path", "on": kpi["deadline"], "value": kpi["target"]}]
        rows += [{"series": "measured", "on": day, "value": v} for day, v in numbers["points"]]  # type: ignore[union-attr]
        rows.append({"series": "baseline", "on": kpi["baseline_on"], "value": kpi["baseline"]})
        if numbers["current"] is not None:
            rows.append({"series": "current", "on": numbers["as_of"], "value": numbers["current"]})
        if numbers["forecast"] is not None and numbers["as_of"] is not None and numbers["as_of"] < kpi["deadline"]:
            rows += [{"series": "forecast", "on": numbers["as_of"], "value": numbers["current"]},
                     {"series": "forecast", "on": kpi["deadline"], "value": numbers["forecast"]}]
    result = pd.DataFrame(rows, columns=["series", "on", "value"])
    result["value"] = pd.to_numeric(result["value"], errors="coerce").astype("float64")
    return result


QUERIES = (
    registry.NamedQuery(
        name="kpis",
        area="kpis",
        purpose="SMART KPIs (the edit store) with their baseline at creation, current value as at the "
        "window's end, target, deadline, owner, progress along the straight line from baseline to "
        "target, forecast at the deadline (linear fit over the last four quarters) and red/amber/green "
        "status with the reason (dashboard/kpis.py)",
        grain="one row per KPI, open ones first, then by kpi_id",
        function=kpis_query,
        reads=STORE_TABLES,
    ),
    registry.NamedQuery(
        name="kpi_trend",
        area="kpis",
        purpose="one KPI's chart: the straight-line path from baseline to target, the measured values "
        "of the last four quarters, the current value and the forecast to the deadline",
        grain="one row per point, by series (straight-line path, measured, baseline, current, forecast)",
        params=(registry.Param("kpi", "str", ""),),
        function=kpi_trend,
        reads=STORE_TABLES,
    ),
)
