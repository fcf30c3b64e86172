"""The analysis window and the sidebar filters: one definition for app, CLI and pack."""

from __future__ import annotations

import calendar
from dataclasses import dataclass, fields
from datetime import date, timedelta


class WindowError(ValueError):
    """A window the user asked for that cannot be used (bad date, start after end)."""


def months_before(day: date, months: int) -> date:
    """Calendar-month arithmetic that clamps to the month's last day (as DuckDB's interval does)."""
    total = day.year * 12 + (day.month - 1) - months
    year, month = divmod(total, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def default_start(end: date) -> date:
    """`end` minus 24 months plus one day (metrics.md)."""
    return months_before(end, 24) + timedelta(days=1)


# The dates a user may ask for: any plausible history and plan. Outside them the window arithmetic
# (24 months back, quarters, 12-month budgets) would leave the calendar (year 0 or 10000).
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def parse_date(text: str, what: str = "date") -> date:
    try:
        day = date.fromisoformat(str(text).strip())
    except ValueError:
        raise WindowError(f"bad {what} {text!r}: expected YYYY-MM-DD, e.g. 2026-06-30") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise WindowError(f"bad {what} {text!r}: give a date from {FIRST_DAY} to {LAST_DAY}")
    return day


@dataclass(frozen=True)
class Window:
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.start > self.end:
            raise WindowError(f"window start {self.start} is after its end {self.end}")

    @classmethod
    def resolve(cls, data_end: date, start: date | None = None, end: date | None = None) -> Window:
        """Fill in metrics.md's defaults: end = the data's latest date, start from end."""
        end = end or data_end
        return cls(start or default_start(end), end)

    def label(self) -> str:
        return f"{self.start:%d %b %Y} – {self.end:%d %b %Y}"


@dataclass(frozen=True)
class Filters:
    """Kept values per dimension; an empty tuple means no filter."""

    team: tuple[str, ...] = ()
    office: tuple[str, ...] = ()
    work_type: tuple[str, ...] = ()
    referrer_type: tuple[str, ...] = ()
    region: tuple[str, ...] = ()

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def as_params(self) -> dict[str, list[str] | None]:
        """Bind values for the filter macros: a list, or None for no filter."""
        return {name: (list(getattr(self, name)) or None) for name in self.names()}

    def active(self) -> dict[str, tuple[str, ...]]:
        return {name: getattr(self, name) for name in self.names() if getattr(self, name)}

    def describe(self) -> str:
        active = self.active()
        if not active:
            return "no filters"
        return "; ".join(f"{name.replace('_', ' ')}: {', '.join(v)}" for name, v in active.items())
