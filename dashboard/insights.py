"""Plain-English readings of the numbers, for the Overview and the board pack."""

from __future__ import annotations

import pandas as pd

from dashboard.formatting import count, money, share


def overview(headline: pd.Series, fees: pd.DataFrame, concentration: pd.Series) -> list[str]:
    """Short sentences a board member can repeat; each computed from the query results given."""
    lines: list[str] = []
    if len(fees):
        top = fees.head(3)
        names = ", ".join(top["name"])
        lines.append(
            f"{len(top)} referrer{'s' if len(top) != 1 else ''} ({names}) gave "
            f"{share(concentration['top3_share'])} of referred fees."
        )
        lines.append(
            f"{count(concentration['referrers_for_80pct'])} of {count(concentration['referrers_with_fees'])} "
            f"referrers with fees account for 80% of referred fees."
        )
    else:
        lines.append("No referrer has referred fees in this window: widen the window or clear filters.")
    if headline["prune_candidates"]:
        lines.append(
            f"{count(headline['prune_candidates'])} referrers are prune candidates: "
            f"{money(headline['prune_investment_cost'])} was invested in them in the window, "
            f"yet none has referred in the last 24 months."
        )
    if pd.notna(headline["conversion_rate"]):
        lines.append(
            f"{share(headline['conversion_rate'])} of decided inbound referrals were won "
            f"({count(headline['won'])} of {count(headline['decided'])})."
        )
    return lines
