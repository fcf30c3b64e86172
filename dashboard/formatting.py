"""How numbers read: money with separators and the currency label, shares, counts."""

from __future__ import annotations

import math
import re

from dashboard.settings import SETTINGS


def _missing(value: object) -> bool:
    try:
        return value is None or math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def money(value: object, currency: str | None = None) -> str:
    if _missing(value):
        return "—"
    amount = float(value)  # type: ignore[arg-type]
    sign = "−" if amount < 0 else ""
    return f"{sign}{currency or SETTINGS.currency} {abs(amount):,.0f}"


# (unit, its size), largest first, each to two decimals; below them thousands as "k": a tile a quarter
# of a page wide holds "GBP 8.44bn" but not "GBP 8,443.12m" (10 million referrals bill billions)
_SHORT_UNITS = (("bn", 1e9), ("m", 1e6))


def amount_short(value: object) -> str:
    """A compact amount for tiles whose label carries the currency: 8.44bn, 1.25m, 840k, 9,500."""
    if _missing(value):
        return "—"
    amount = float(value)  # type: ignore[arg-type]
    sign = "−" if round(amount) < 0 else ""  # not "−0"
    amount = abs(amount)
    if round(amount) < 1e4:  # 9,999.5 reads 10k, as it rounds
        return f"{sign}{amount:,.0f}"
    for unit, size in _SHORT_UNITS:
        # by the amount as rounded, so that 999,999.99 reads 1.00m, not 1,000k
        if round(amount / size, 2) >= 1:
            return f"{sign}{amount / size:,.2f}{unit}"
    return f"{sign}{amount / 1e3:,.0f}k"


def money_short(value: object, currency: str | None = None) -> str:
    """Compact money with its label: GBP 1.25m, GBP 840k."""
    text = amount_short(value)
    return text if text == "—" else f"{currency or SETTINGS.currency} {text}"


def share(value: object, digits: int = 0) -> str:
    if _missing(value):
        return "—"
    return f"{float(value) * 100:.{digits}f}%"  # type: ignore[arg-type]


def count(value: object) -> str:
    if _missing(value):
        return "—"
    return f"{int(value):,}"  # type: ignore[arg-type]


def ratio(value: object) -> str:
    if _missing(value):
        return "—"
    return f"{float(value):,.1f}×"  # type: ignore[arg-type]


_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def plain(text: object, limit: int | None = None) -> str:
    """Someone's text (a name, a plan's partner, a URL parameter) for a Markdown message, shown as typed:
    every ASCII punctuation character is backslash-escaped, so links, emphasis, headings, LaTeX, icons
    or colours in it are not rendered (nor are bare URLs turned into links), line breaks and control
    characters become spaces, and it is cut to ``limit`` characters."""
    shown = "".join(ch if ch.isprintable() else " " for ch in str(text))
    if limit is not None and len(shown) > limit:
        shown = shown[:limit - 1] + "…"
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", shown)


def to_the_cent(column):
    """A sort key (pandas ``sort_values(key=...)``): number columns to the cent, as money is shown, so
    that equal amounts fall to the next sort column every time; sums of floats differ in their last
    bits from run to run."""
    return column.round(2) if column.dtype.kind == "f" else column
