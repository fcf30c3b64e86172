"""How numbers read: money with separators and the currency label, shares, counts."""

from __future__ import annotations

import math

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


def amount_short(value: object) -> str:
    """A compact amount for tiles whose label carries the currency: 1.25m, 840k, 9,500."""
    if _missing(value):
        return "—"
    amount = float(value)  # type: ignore[arg-type]
    sign = "−" if amount < 0 else ""
    amount = abs(amount)
    if amount >= 1e6:
        return f"{sign}{amount / 1e6:,.2f}m"
    if amount >= 1e4:
        return f"{sign}{amount / 1e3:,.0f}k"
    return f"{sign}{amount:,.0f}"


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
