"""Named queries built from other named queries (same numbers, one path).

Registered with the registry like SQL queries, so the CLI, pages and pack
call them by name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboard import attribution, kpis, registry
from dashboard.data import Dataset
from dashboard.parallel import at_once


def _sql(dataset: Dataset, name: str, values: dict[str, object]) -> pd.DataFrame:
    return registry.run_sql(dataset, name, values)


def headline(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    """The Overview's headline figures for the window and filters, from scorecard,
    concentration and funnel so that they equal those queries exactly."""
    # the two small queries on a second thread while the scorecard runs here: binding a query is work
    # for one core, and DuckDB does not keep both busy with queries this size
    scorecard, (concentration, funnel) = at_once(
        lambda: _sql(dataset, "scorecard", values),
        lambda: (_sql(dataset, "concentration", values).iloc[0],
                 _sql(dataset, "funnel", values).set_index("step")["referrals"]))
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


# --- Return on relationships (queries/ror/ holds the SQL ones) ---

def ror_referrers(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    """Per referrer, direct ROR (scorecard: referred_fees / investment_cost) next to
    attributed ROR (attribution_referrers' value under the model / investment_cost);
    null when investment_cost is 0. Every scorecard row, in the scorecard's order."""
    card, credit = at_once(lambda: _sql(dataset, "scorecard", values),
                           lambda: registry.get("attribution_referrers").function(dataset, values))  # type: ignore[misc]
    out = card[["referrer_id", "name", "investment_cost", "referred_fees", "ror",
                "referrer_type", "investment_hours"]].rename(columns={"ror": "direct_ror"})
    out = out.merge(credit.rename(columns={"conversions": "attributed_conversions",
                                           "value": "attributed_value"}),
                    on="referrer_id", how="left")
    out[["attributed_conversions", "attributed_value"]] = (
        out[["attributed_conversions", "attributed_value"]].astype(float).fillna(0.0))
    cost = out["investment_cost"].astype(float)
    out["attributed_ror"] = (out["attributed_value"] / cost).where(cost != 0)
    return out[["referrer_id", "name", "investment_cost", "referred_fees", "direct_ror",
                "attributed_value", "attributed_ror", "referrer_type", "investment_hours",
                "attributed_conversions"]]


def ror_summary(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    """The Return on relationships page's tiles, summed from ror_referrers."""
    rows = ror_referrers(dataset, values)
    cost, fees, value = (rows[c].astype(float) for c in
                         ("investment_cost", "referred_fees", "attributed_value"))
    invested = cost > 0
    total_cost = float(cost.sum())
    row = {
        "referrers": len(rows),
        "invested_referrers": int(invested.sum()),
        "investment_cost": total_cost,
        "referred_fees": float(fees.sum()),
        "direct_ror": float(fees.sum()) / total_cost if total_cost else None,
        "attributed_value": float(value.sum()),
        "attributed_ror": float(value.sum()) / total_cost if total_cost else None,
        "break_even_direct": int((invested & (fees >= cost)).sum()),
        "break_even_attributed": int((invested & (value >= cost)).sum()),
        "uninvested_referred_fees": float(fees[cost == 0].sum()),
    }
    return pd.DataFrame([row])


def referral_touch_conversion(dataset: Dataset, values: dict[str, object]) -> pd.DataFrame:
    """Conversion rate of client journeys with a referral touchpoint against those without,
    from the attribution journeys: conversion_rate = converting journeys / all journeys."""
    attribution._check_params("referral_touch_conversion", values)
    converting, others = attribution.both_journeys(dataset, values)

    def has_referral(touches: attribution.Touches) -> np.ndarray:
        if not touches.journeys:
            return np.zeros(0, dtype=bool)
        return np.logical_or.reduceat(touches.is_referral, touches.runs.starts)

    won = has_referral(converting)
    won_value = converting.conversion_value[converting.conversion_attributed]
    lost = has_referral(others)
    rows = []
    for flag in (True, False):
        conversions = int((won == flag).sum())
        journeys = conversions + int((lost == flag).sum())
        rows.append({
            "referral_touch": flag,
            "group": "with a referral touch" if flag else "without a referral touch",
            "journeys": journeys,
            "conversions": conversions,
            "conversion_rate": conversions / journeys if journeys else None,
            "value": float(won_value[won == flag].sum()),
        })
    return pd.DataFrame(rows)


_ROR_PARAMS = (
    registry.Param("model", "choice", attribution.DEFAULT_MODEL, attribution.MODELS),
    registry.Param("lookback_days", "int", "365"),
    registry.Param("half_life_days", "float", "30"),
)
_ROR_NOTE = ("; investment_cost, referred_fees and direct_ror are the scorecard's, attributed_value "
             "is attribution_referrers' value under the model (default " + attribution.DEFAULT_MODEL
             + "), attributed_ror = attributed_value / investment_cost (null when that is 0)")

QUERIES = (
    registry.NamedQuery(
        name="ror_referrers",
        area="ror",
        purpose="return on relationships per referrer, direct and attributed" + _ROR_NOTE,
        grain="one row per referrer in referrers.parquet kept by the filters, largest referred "
        "fees first (the scorecard's order)",
        params=_ROR_PARAMS,
        function=ror_referrers,
    ),
    registry.NamedQuery(
        name="ror_summary",
        area="ror",
        purpose="the Return on relationships page's tiles, totals of ror_referrers: investment, "
        "referred fees, attributed value, portfolio ROR both ways (totals divided), invested "
        "referrers at or above break-even, referred fees of referrers not invested in",
        grain="one row",
        params=_ROR_PARAMS,
        function=ror_summary,
    ),
    registry.NamedQuery(
        name="referral_touch_conversion",
        area="ror",
        purpose="conversion rate of client journeys with a referral touchpoint against those "
        "without: converting journeys (one per matter opened in the window with a non-empty "
        "journey, as attribution builds them) and non-converting journeys (nonconverting_journeys); "
        "conversion_rate = conversions / journeys; value: fees on the converting ones up to `end`",
        grain="one row per group, with a referral touch first",
        params=(registry.Param("lookback_days", "int", "365"),),
        function=referral_touch_conversion,
    ),
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
    *kpis.QUERIES,
)
