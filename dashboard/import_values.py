"""Cell parsers for `refport import`: dates, timestamps, money, durations, ids, value maps.

Every parser takes one source cell (text from a CSV; text, number, date,
time or timedelta from an Excel sheet) and returns the contract value or
raises :class:`BadValue` with a message that says what is wrong and what is
expected. Nothing is guessed: a value that could mean two things is refused
(``1,25`` in a file whose numbers are written ``1,234.56``), never rounded into
something else.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

__all__ = [
    "NULL_TOKENS",
    "BadValue",
    "ExcelError",
    "FormulaWithoutValue",
    "cell_text",
    "is_blank",
    "normalise",
    "parse_date",
    "parse_duration",
    "parse_integer",
    "parse_number",
    "parse_text",
    "parse_timestamp",
]


class BadValue(ValueError):
    """A cell that cannot become a contract value; the message is for the user."""


@dataclass(frozen=True)
class FormulaWithoutValue:
    """An Excel formula cell whose calculated value was never stored in the file."""

    formula: str

    def __str__(self) -> str:
        return self.formula


@dataclass(frozen=True)
class ExcelError:
    """An Excel error value such as ``#N/A`` or ``#REF!``."""

    code: str

    def __str__(self) -> str:
        return self.code


# Cells that mean "no value" in exports. Required columns still reject them.
NULL_TOKENS = frozenset({"", "-", "–", "—", "n/a", "null", "none", "(blank)", "(none)"})

_SPACES = re.compile(r"[\s\u00a0\u2007\u202f\u200b\ufeff]+")


def normalise(text: str) -> str:
    """Header / value-map key form: NFKC, case-folded, single spaces, trimmed."""
    text = unicodedata.normalize("NFKC", text)
    return _SPACES.sub(" ", text).strip().casefold()


def is_blank(cell: object) -> bool:
    if cell is None:
        return True
    if isinstance(cell, str):
        text = cell.strip()  # str.strip() also removes non-breaking spaces
        return len(text) <= 7 and _SPACES.sub("", text).casefold() in NULL_TOKENS
    return isinstance(cell, float) and math.isnan(cell)


def cell_text(cell: object) -> str:
    """A cell as the user would read it (for quarantine files, previews and headers)."""
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float):
        return str(int(cell)) if cell.is_integer() and abs(cell) < 1e15 else repr(cell)
    if isinstance(cell, datetime):
        return cell.isoformat(sep=" ") if (cell.hour, cell.minute, cell.second) != (0, 0, 0) \
            else cell.date().isoformat()
    if isinstance(cell, (date, time)):
        return cell.isoformat()
    if isinstance(cell, timedelta):
        seconds = int(cell.total_seconds())
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}"
    return str(cell)


def _excel_kind(cell: object) -> None:
    if isinstance(cell, FormulaWithoutValue):
        raise BadValue(
            f"the formula {cell.formula} has no stored value (formulas are never calculated "
            "here: open the file in Excel, let it calculate and save it, or paste values)"
        )
    if isinstance(cell, ExcelError):
        raise BadValue(f"the cell holds the Excel error {cell.code}")


# --------------------------------------------------------------------------- #
# Text and ids
# --------------------------------------------------------------------------- #


def parse_text(cell: object) -> str:
    """Text as given (trimmed). Numbers from Excel lose a meaningless '.0'; ids stay text."""
    _excel_kind(cell)
    if isinstance(cell, str):
        return _SPACES.sub(" ", cell).strip()
    return cell_text(cell)


# --------------------------------------------------------------------------- #
# Numbers, money and durations
# --------------------------------------------------------------------------- #

_CURRENCY = re.compile(r"^(?:gbp|eur|usd|[£$€¥])\s*|\s*(?:gbp|eur|usd|[£$€¥])$", re.IGNORECASE)
_NUMBER_STYLES = {
    ".": (re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$|^\.\d+$|^\d+(?:\.\d+)?[eE][+-]?\d+$"),
          ",", "1,234.56"),
    ",": (re.compile(r"^(?:\d{1,3}(?:[. '\u00a0\u202f]\d{3})+|\d+)(?:,\d+)?$|^,\d+$"),
          ".", "1.234,56"),
}


def parse_number(cell: object, decimal: str = ".") -> float:
    """`£1,250.00`, `1.250,00` (decimal ','), `(500.00)`, `-500`, `500-`, `12.5%` -> float."""
    _excel_kind(cell)
    if isinstance(cell, bool):
        raise BadValue(f"{cell_text(cell)!r} is not a number")
    if isinstance(cell, (int, float)):
        value = float(cell)
    elif isinstance(cell, str):
        value = _number_from_text(cell, decimal)
    else:
        raise BadValue(f"{cell_text(cell)!r} is a {_kind(cell)}, not a number")
    if not math.isfinite(value):
        raise BadValue(f"{cell_text(cell)!r} is not a finite number")
    return value


def _number_from_text(raw: str, decimal: str) -> float:
    text = _SPACES.sub(" ", raw).strip()
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1].strip()
    for _ in range(2):  # "-£5", "£-5", "£5-"
        text = _CURRENCY.sub("", text).strip()
        if text[:1] in ("-", "\u2212"):
            negative, text = not negative, text[1:].strip()
        elif text[:1] == "+":
            text = text[1:].strip()
        elif text[-1:] in ("-", "\u2212"):
            negative, text = not negative, text[:-1].strip()
    percent = text.endswith("%")
    if percent:
        text = text[:-1].strip()
    pattern, _, example = _NUMBER_STYLES[decimal]
    if not pattern.match(text):
        other = "," if decimal == "." else "."
        hint = ""
        if _NUMBER_STYLES[other][0].match(text):
            hint = (f" (it reads as a {_NUMBER_STYLES[other][2]}-style number: "
                    f"set decimal = \"{other}\" in the mapping if the file uses that style)")
        raise BadValue(f"{raw.strip()!r} is not a number written like {example}{hint}")
    if decimal == ",":
        text = re.sub(r"[. '\u00a0\u202f]", "", text).replace(",", ".")
    else:
        text = text.replace(",", "")
    value = float(text)
    if percent:
        value /= 100.0
    return -value if negative else value


def parse_integer(cell: object, decimal: str = ".") -> int:
    value = parse_number(cell, decimal)
    if not value.is_integer():
        raise BadValue(f"{cell_text(cell)!r} is not a whole number")
    if abs(value) >= 2**31:
        raise BadValue(f"{cell_text(cell)!r} is too large")
    return int(value)


_CLOCK = re.compile(r"^(\d+):([0-5]?\d)(?::([0-5]?\d))?$")
_UNITS = re.compile(
    r"^(?:(\d+(?:[.,]\d+)?)\s*h(?:ours?|rs?)?)?\s*(?:(\d+)\s*m(?:in(?:ute)?s?)?)?$", re.IGNORECASE
)


def parse_duration(cell: object, decimal: str = ".", unit: str = "hours") -> float:
    """Hours: `1:30` -> 1.5, `1h 30m` -> 1.5, `1.5` -> 1.5 (or minutes when unit='minutes')."""
    _excel_kind(cell)
    if isinstance(cell, timedelta):
        return cell.total_seconds() / 3600.0
    if isinstance(cell, time):
        return cell.hour + cell.minute / 60.0 + cell.second / 3600.0
    if isinstance(cell, str):
        text = cell.strip()
        clock = _CLOCK.match(text)
        if clock:
            h, m, s = int(clock[1]), int(clock[2]), int(clock[3] or 0)
            return h + m / 60.0 + s / 3600.0
        units = _UNITS.match(text)
        if units and (units[1] or units[2]) and not re.fullmatch(r"\d+(?:[.,]\d+)?", text):
            hours = float(units[1].replace(",", ".")) if units[1] else 0.0
            return hours + (int(units[2]) / 60.0 if units[2] else 0.0)
    if isinstance(cell, (datetime, date)):
        raise BadValue(f"{cell_text(cell)!r} is a date, not a duration")
    value = parse_number(cell, decimal)
    return value / 60.0 if unit == "minutes" else value


# --------------------------------------------------------------------------- #
# Dates and timestamps
# --------------------------------------------------------------------------- #

EPOCH_1900 = datetime(1899, 12, 30)  # serial 1 = 1900-01-01 (Excel's leap-year bug included)
EPOCH_1904 = datetime(1904, 1, 1)
# Serial numbers are read as dates only in this range (1950-01-01 .. 2099-12-31 in
# the 1900 system), so that a stray count or amount is never turned into a date.
_SERIAL_RANGE = (18264, 73050)

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_WEEKDAY = re.compile(
    r"^(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\.?,?\s+",
    re.IGNORECASE,
)
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_NUMERIC = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})$")
_COMPACT = re.compile(r"^((?:19|20)\d{2})(\d{2})(\d{2})$")
_DAY_MONTH = re.compile(r"^(\d{1,2})(?:st|nd|rd|th)?[-\s/.]*([a-z]{3,9})\.?[-\s/.,]*(\d{4}|\d{2})$", re.IGNORECASE)
_MONTH_DAY = re.compile(r"^([a-z]{3,9})\.?[-\s/.]*(\d{1,2})(?:st|nd|rd|th)?,?[-\s/.]*(\d{4})$", re.IGNORECASE)
_TIME = re.compile(
    r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?\s*([ap]\.?m\.?)?$", re.IGNORECASE
)
_TZ = re.compile(r"(?:z|[+-]\d{2}:?\d{2})$", re.IGNORECASE)

DATE_ORDERS = ("dmy", "mdy", "ymd")


def _year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _make_date(raw: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as err:
        raise BadValue(f"{raw!r} is not a real date ({err})") from None


def _serial(value: float, epoch: datetime, raw: str) -> datetime:
    low, high = _SERIAL_RANGE
    if epoch == EPOCH_1904:
        low, high = low - 1462, high - 1462
    if not low <= value <= high:
        raise BadValue(f"{raw!r} is not a date (as an Excel serial number it is out of range)")
    return epoch + timedelta(days=value)


def _date_part(text: str, raw: str, order: str) -> date | None:
    text = _WEEKDAY.sub("", text)
    m = _ISO.match(text)
    if m:
        return _make_date(raw, int(m[1]), int(m[2]), int(m[3]))
    m = _NUMERIC.match(text)
    if m:
        a, b, year = int(m[1]), int(m[2]), _year(m[3])
        if order == "ymd":
            raise BadValue(f"{raw!r} is not a date written year first (date_order = \"ymd\")")
        day, month = (a, b) if order == "dmy" else (b, a)
        if month > 12 and day <= 12:
            raise BadValue(
                f"{raw!r} is not a real date in {'day/month' if order == 'dmy' else 'month/day'} "
                f"order (month {month}); check date_order in the mapping"
            )
        return _make_date(raw, year, month, day)
    m = _COMPACT.match(text)
    if m:
        return _make_date(raw, int(m[1]), int(m[2]), int(m[3]))
    m = _DAY_MONTH.match(text)
    if m and m[2].lower() in _MONTHS:
        return _make_date(raw, _year(m[3]), _MONTHS[m[2].lower()], int(m[1]))
    m = _MONTH_DAY.match(text)
    if m and m[1].lower() in _MONTHS:
        return _make_date(raw, int(m[3]), _MONTHS[m[1].lower()], int(m[2]))
    return None


def _split_time(text: str) -> tuple[str, str | None]:
    """'2025-03-04T14:30:00Z' -> ('2025-03-04', '14:30:00Z'); a date alone -> (text, None)."""
    if "T" in text and _ISO.match(text.split("T", 1)[0]):
        day, clock = text.split("T", 1)
        return day, clock
    parts = text.rsplit(" ", 2)
    for n in (2, 1):
        if len(parts) > n:
            clock = " ".join(parts[-n:])
            if _TIME.match(_TZ.sub("", clock).strip()) or (n == 1 and _TIME.match(clock)):
                return " ".join(parts[:-n]).rstrip(","), clock
    return text, None


def _clock(raw: str, text: str) -> tuple[time, timezone | None]:
    zone = None
    m_tz = _TZ.search(text)
    if m_tz:
        tz = m_tz[0].upper()
        text = text[: m_tz.start()].strip()
        if tz == "Z":
            zone = UTC
        else:
            sign = 1 if tz[0] == "+" else -1
            digits = tz[1:].replace(":", "")
            zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    m = _TIME.match(text)
    if not m:
        raise BadValue(f"{raw!r} has a time that cannot be read")
    hour, minute, second = int(m[1]), int(m[2]), int(m[3] or 0)
    micro = int((m[4] or "0").ljust(6, "0"))
    if m[5]:
        pm = m[5].lower().startswith("p")
        if not 1 <= hour <= 12:
            raise BadValue(f"{raw!r} has an impossible 12-hour time")
        hour = hour % 12 + (12 if pm else 0)
    try:
        return time(hour, minute, second, micro), zone
    except ValueError as err:
        raise BadValue(f"{raw!r} has an impossible time ({err})") from None


def _timestamp_from_text(raw: str, order: str, epoch: datetime, keep_time: bool) -> datetime:
    text = _SPACES.sub(" ", raw).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text) and not _COMPACT.match(text):
        return _serial(float(text), epoch, raw)
    day_text, clock_text = _split_time(text)
    day = _date_part(day_text.strip(), raw, order)
    if day is None:
        raise BadValue(f"{raw!r} is not a date ({_date_hint(order)})")
    if clock_text is None:
        return datetime.combine(day, time())
    clock, zone = _clock(raw, clock_text.strip())
    if not keep_time:  # a date column: the calendar day as written, whatever the zone
        return datetime.combine(day, time())
    value = datetime.combine(day, clock)
    if zone is not None:
        value = value.replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)
    return value


def _date_hint(order: str) -> str:
    example = {"dmy": "31/01/2025", "mdy": "01/31/2025", "ymd": "2025-01-31"}[order]
    return f"expected e.g. 2025-01-31, {example}, 31 Jan 2025 or an Excel date"


def _kind(cell: object) -> str:
    if isinstance(cell, timedelta):
        return "duration"
    if isinstance(cell, time):
        return "time of day"
    return type(cell).__name__


def parse_timestamp(
    cell: object, order: str = "dmy", epoch: datetime = EPOCH_1900, keep_time: bool = True
) -> datetime:
    """Excel dates, serial numbers (1900/1904 systems), ISO text, day- or month-first text.

    Times with a zone (`Z`, `+01:00`) are converted to UTC; the contract's
    timestamps have no zone.
    """
    _excel_kind(cell)
    if isinstance(cell, datetime):
        if cell.tzinfo is not None and keep_time:
            return cell.astimezone(UTC).replace(tzinfo=None)
        return cell
    if isinstance(cell, date):
        return datetime.combine(cell, time())
    if isinstance(cell, (bool, time, timedelta)):
        raise BadValue(f"{cell_text(cell)!r} is a {_kind(cell)}, not a date")
    if isinstance(cell, (int, float)):
        return _serial(float(cell), epoch, cell_text(cell))
    return _timestamp_from_text(str(cell), order, epoch, keep_time)


def parse_date(cell: object, order: str = "dmy", epoch: datetime = EPOCH_1900) -> date:
    """A calendar day; a time written after it is checked and dropped."""
    return parse_timestamp(cell, order, epoch, keep_time=False).date()
