"""Named queries built from other named queries (same numbers, one path).

Registered with the registry like SQL queries, so the CLI, pages and pack
call them by name.
"""

from __future__ import annotations

import pandas as pd

from dashboard import attribution, registry
from dashboard.data import Dataset


def _sql(dataset: Dataset, name: str, values: dict[str, object]) -> pd.DataFrame:
    return registry.run_sql(dataset, name, values)


def headline(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    """The Overview's headline figures for the window and filters, from scorecard,
    concentration and funnel so that they equal those queries exactly."""
    scorecard = _sql(dataset, "scorecard", values)
    concentration = _sql(dataset, "concentration", values).iloc[0]
    funnel = _sql(dataset, "funnel", values).set_index("step")["referrals"]
    decided = int(funnel["decided"])
    won = int(funnel["won"])
    row = {
        "inbound_referrals": int(funnel["received"]),
        "decided": decided,
        "won": won,
        # won / (won + lost + declined), as the scorecard's conversion_rate
        "conversion_rate": won / decided if decided else None,
        "referred_fees": float(scorecard["referred_fees"].sum()),
        "referrers_with_fees": int(concentration["referrers_with_fees"]),
        "top3_share": concentration["top3_share"],
        "prune_candidates": int(scorecard["prune_candidate"].sum()),
        "prune_investment_cost": float(
            scorecard.loc[scorecard["prune_candidate"].astype(bool), "investment_cost"].sum()
        ),
        "active_referrers": int((scorecard["referrals"] > 0).sum()),
    }
    return pd.DataFrame([row])


QUERIES = (
    registry.NamedQuery(
        name="headline",
        area="overview",
        purpose="the Overview's headline figures: inbound referrals, conversion rate, referred "
        "fees, referrers with fees, top-3 share, prune candidates (from scorecard, "
        "concentration and funnel)",
        grain="one row",
        function=headline,
    ),
    *attribution.QUERIES,
)
