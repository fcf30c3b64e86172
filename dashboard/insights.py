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


# --- Board pack readings (issue 9): one paragraph per section, from query results only ---------
# Each function takes the frames the pack got from registry.run and returns plain English.

import math as _math

from dashboard import formatting as _fmt


def _pack_missing(value: object) -> bool:
    try:
        return value is None or value is pd.NA or _math.isnan(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return True


def _pack_plural(n: object, word: str, plural: str | None = None) -> str:
    number = 0 if _pack_missing(n) else int(n)  # type: ignore[arg-type]
    return f"{number:,} {word if number == 1 else (plural or word + 's')}"


def _pack_verb(n: object, many: str, one: str) -> str:
    """The verb that agrees with a count: _pack_verb(1, 'were', 'was') == 'was'."""
    return one if not _pack_missing(n) and int(n) == 1 else many  # type: ignore[arg-type]


def change_text(kind: str, current: object, previous: object) -> str:
    """The change from previous to current as a signed figure: '+12', '−3.1 pp', '+GBP 40,000'.

    kind: 'count', 'money' or 'share' (shares change in percentage points)."""
    if _pack_missing(current) or _pack_missing(previous):
        return "—"
    delta = float(current) - float(previous)  # type: ignore[arg-type]
    if kind == "share":
        points = round(delta * 100, 1)
        if points == 0:
            return "no change"
        return f"{'+' if points > 0 else '−'}{abs(points):.1f} pp"
    if kind == "money":
        if round(delta) == 0:
            return "no change"
        return ("+" if delta > 0 else "") + _fmt.money(delta)
    if round(delta) == 0:
        return "no change"
    return f"{'+' if delta > 0 else '−'}{abs(delta):,.0f}"


def _pack_relative(current: object, previous: object) -> str:
    """'up 12%' / 'down 3%' / 'unchanged' against the previous value; '' when it cannot be said."""
    if _pack_missing(current) or _pack_missing(previous) or float(previous) == 0:  # type: ignore[arg-type]
        return ""
    ratio = float(current) / float(previous) - 1  # type: ignore[arg-type]
    if abs(ratio) < 0.005:
        return "unchanged"
    return f"{'up' if ratio > 0 else 'down'} {abs(ratio) * 100:.0f}%"


def headline_reading(current: pd.Series, previous: pd.Series, previous_label: str,
                     previous_uncovered: bool = False) -> str:
    """The headline figures against the previous period of the same length (headline query)."""
    parts: list[str] = []
    received = _pack_relative(current["inbound_referrals"], previous["inbound_referrals"])
    parts.append(
        f"{_pack_plural(current['inbound_referrals'], 'inbound referral')} "
        f"{_pack_verb(current['inbound_referrals'], 'were', 'was')} received in the period"
        + (f", {received} on the previous period ({previous_label}: {count(previous['inbound_referrals'])})"
           if received else "")
        + "."
    )
    if not _pack_missing(current["conversion_rate"]):
        rate = (f"{share(current['conversion_rate'], 1)} of the decided referrals were won "
                f"({count(current['won'])} of {count(current['decided'])})")
        if not _pack_missing(previous["conversion_rate"]):
            rate += (f", against {share(previous['conversion_rate'], 1)} before "
                     f"({change_text('share', current['conversion_rate'], previous['conversion_rate'])})")
        parts.append(rate + ".")
    fees = f"Referred fees billed in the period came to {money(current['referred_fees'])}"
    fees_change = _pack_relative(current["referred_fees"], previous["referred_fees"])
    if fees_change:
        fees += f", {fees_change} on {money(previous['referred_fees'])}"
    if _pack_missing(current["top3_share"]):
        parts.append(fees + ".")
    else:
        parts.append(fees + f", from {_pack_plural(current['referrers_with_fees'], 'referrer')}; "
                     f"the largest three gave {share(current['top3_share'], 1)} of them.")
    if not _pack_missing(current["prune_candidates"]) and int(current["prune_candidates"]):
        parts.append(
            f"{_pack_plural(current['prune_candidates'], 'referrer')} we invested in "
            f"({money(current['prune_investment_cost'])}) sent nothing in the last 24 months."
        )
    if previous_uncovered:
        parts.append("The data do not cover all of the previous period, so its figures understate it.")
    return " ".join(parts)


def concentration_reading(concentration: pd.Series, fees: pd.DataFrame,
                          stress: pd.DataFrame | None = None) -> str:
    """Concentration (concentration query), its names (referred_fees) and the stress test."""
    if not len(fees):
        return ("No referrer has referred fees in this period, so there is nothing to be "
                "concentrated: widen the window or clear the filters.")
    top = fees.head(3)
    parts = [
        (f"{_pack_plural(concentration['referrers_with_fees'], 'referrer')} produced "
        f"{money(concentration['total_referred_fees'])} of referred fees. The largest "
        f"{'three' if len(top) == 3 else len(top)} ({', '.join(top['name'])}) gave "
        f"{share(concentration['top3_share'], 1)} of them, and "
        f"{_pack_plural(concentration['referrers_for_80pct'], 'referrer')} "
         f"{_pack_verb(concentration['referrers_for_80pct'], 'account', 'accounts')} for 80%.")
    ]
    hhi = concentration["hhi"]
    if not _pack_missing(hhi):
        level = ("unconcentrated" if hhi < 0.15 else "moderately concentrated" if hhi < 0.25
                 else "highly concentrated")
        parts.append(
            f"The Herfindahl index is {float(hhi):.3f} ({level} by the 0.15 and 0.25 thresholds "
            f"competition authorities use) and the Gini coefficient {float(concentration['gini']):.2f} "
            "(0 when every referrer gives the same, 1 when one gives everything)."
        )
    if stress is not None and len(stress):
        first = stress.iloc[0]
        parts.append(
            f"If {first['referrers_lost']} stopped referring, {share(first['share_lost'], 1)} of "
            f"referred fees ({money(first['fees_lost'])}) would go"
        )
        if len(stress) > 1:
            last = stress.iloc[-1]
            parts[-1] += (f"; losing the top {int(last['top_n'])} would take "
                          f"{share(last['share_lost'], 1)} ({money(last['fees_lost'])})")
        parts[-1] += "."
    return " ".join(parts)


def tiering_reading(tiers: pd.DataFrame, changes: pd.DataFrame, since: str) -> str:
    """Suggested against assigned levels (tier_assignments query) and the changes recorded."""
    suggested = tiers["suggested_level"].notna()
    assigned = tiers["assigned_level"].notna()
    parts = [(f"{_pack_plural(int(suggested.sum()), 'referrer')} "
              f"{_pack_verb(int(suggested.sum()), 'have', 'has')} a suggested level "
             f"(the rule: Level 4 holds the top half of referred fees, Level 3 the next 30%).")]
    if not assigned.any():
        parts.append("The board has not assigned any level yet: the suggestions stand alone.")
    else:
        both = tiers[suggested & assigned]
        higher = int((both["assigned_level"] > both["suggested_level"]).sum())
        lower = int((both["assigned_level"] < both["suggested_level"]).sum())
        parts.append(
            f"{_pack_plural(int(assigned.sum()), 'referrer')} {_pack_verb(int(assigned.sum()), 'have', 'has')} "
            "an assigned level; "
            f"{higher:,} {_pack_verb(higher, 'sit', 'sits')} above the suggested level and {lower:,} below it."
        )
    if len(changes):
        latest = changes.iloc[0]
        parts.append(f"{_pack_plural(len(changes), 'assignment')} {_pack_verb(len(changes), 'were', 'was')} "
                     f"recorded since {since}, the latest by "
                     f"{latest['assigned_by']} ({latest['reason']}).")
    else:
        parts.append(f"No assignment was recorded since {since}.")
    return " ".join(parts)


def prune_reading(prune: pd.DataFrame, headline: pd.Series, end: str) -> str:
    """The prune list (scorecard rows with prune_candidate) and its cost (headline query)."""
    if not len(prune):
        return ("No referrer is a prune candidate: everyone we invested in during the period "
                f"referred work in the 24 months to {end}, or is Level 4.")
    first = prune.iloc[0]
    return (
        f"{_pack_plural(headline['prune_candidates'], 'referrer')} received "
        f"{money(headline['prune_investment_cost'])} of our time and money in the period but sent "
        f"no inbound referral in the 24 months to {end}, and none is Level 4. The largest is "
        f"{first['name']} ({money(first['investment_cost'])}, "
        + (f"last referral {first['last_referral_on']:%b %Y}" if not _pack_missing_date(first['last_referral_on'])
           else "never referred")
        + "). Cutting this tail frees the time for the referrers that pay."
    )


def _pack_missing_date(value: object) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and _math.isnan(value))


def ror_reading(scorecard: pd.DataFrame) -> str:
    """Return on relationships from the scorecard's ror and investment_cost."""
    invested = scorecard[scorecard["investment_cost"] > 0]
    if not len(invested):
        return "No investment in referrer relationships was recorded in the period, so there is no return to set against it."
    ror = invested["ror"].astype("float64")
    paid = int((ror >= 1).sum())
    nothing = int((invested["referred_fees"].fillna(0) <= 0).sum())
    cost = invested["investment_cost"].astype("float64")
    # the best return among the larger half of investments: a tiny spend gives a meaningless ratio
    larger = ror[cost >= cost.median()]
    best = invested.loc[larger.idxmax() if larger.notna().any() else ror.idxmax()]
    biggest = invested.loc[cost.idxmax()]
    return (
        f"{_pack_plural(len(invested), 'referrer')} received investment in the period (time at cost "
        f"rate plus expenses). {paid:,} returned at least their cost in referred fees (a return "
        f"on relationship of 1× or more) and {nothing:,} returned no fees at all. Among the larger half "
        f"of investments, the best return came from {best['name']} ({_fmt.ratio(best['ror'])} on {money(best['investment_cost'])}); "
        f"the largest investment went to {biggest['name']} ({money(biggest['investment_cost'])}, "
        f"return {_fmt.ratio(biggest['ror'])})."
    )


def attribution_reading(comparison: pd.DataFrame, model: str, summary: pd.Series | None = None) -> str:
    """How much the answer depends on the model (attribution query for every model).

    comparison: one row per (model, channel) with conversions and value."""
    if not len(comparison):
        return "No conversion in the period had a recorded journey, so there is no credit to share out."
    spread = comparison.groupby("channel")["conversions"].agg(["min", "max"])
    channel = "referral" if "referral" in spread.index else (spread["max"] - spread["min"]).idxmax()
    rows = comparison[comparison["channel"] == channel]
    low = rows.loc[rows["conversions"].idxmin()]
    high = rows.loc[rows["conversions"].idxmax()]
    chosen = comparison[comparison["model"] == model]
    parts = [
        (f"Depending on the attribution model, the {channel} channel is credited with between "
        f"{float(low['conversions']):,.1f} ({low['model'].replace('_', ' ')}) and "
        f"{float(high['conversions']):,.1f} ({high['model'].replace('_', ' ')}) conversions.")
    ]
    if len(chosen):
        lead = chosen.loc[chosen["conversions"].idxmax()]
        parts.append(
            f"Under the model chosen for this pack ({model.replace('_', ' ')}), {lead['channel']} leads "
            f"with {float(lead['conversions']):,.1f} conversions worth {money(lead['value'])}."
        )
    if summary is not None and not _pack_missing(summary.get("unattributed_conversions")):
        parts.append(
            f"{_pack_plural(summary['unattributed_conversions'], 'conversion')} of "
            f"{count(summary['conversions'])} ({money(summary['unattributed_value'])}) had no recorded "
            "touchpoint before the matter opened and are credited to no one."
        )
    return " ".join(parts)


def drift_reading(drift: pd.DataFrame, mix: pd.DataFrame | None = None,
                  off_target: pd.DataFrame | None = None) -> str:
    """Strategic drift per quarter (drift), the latest mix (drift_mix) and who drives it."""
    scored = drift[drift["drift_tvd"].notna()]
    if not len(scored):
        return "No inbound referral was received in the period, so the mix of new work cannot be compared with the target."
    last, first = scored.iloc[-1], scored.iloc[0]
    parts = [(f"In {last['quarter']}, {share(last['drift_tvd'], 0)} of new inbound work was off the "
             "target mix (the drift index: half the summed gaps between actual and target shares; 0% is on target)")]
    if len(scored) > 1:
        trend = ("up from" if last["drift_tvd"] > first["drift_tvd"] + 0.005 else
                 "down from" if last["drift_tvd"] < first["drift_tvd"] - 0.005 else "as in")
        parts[-1] += f", {trend} {share(first['drift_tvd'], 0)} in {first['quarter']}"
    parts[-1] += "."
    if mix is not None and len(mix):
        rows = mix[mix["quarter"] == last["quarter"]].copy()
        rows = rows[rows["actual_share"].notna()]
        if len(rows):
            gap = (rows["actual_share"] - rows["target_share"]).astype("float64")
            over = rows.loc[gap.idxmax()]
            under = rows.loc[gap.idxmin()]
            if gap.max() > 0:
                parts.append(f"{over['work_type'].capitalize()} ran above target ({share(over['actual_share'], 0)} "
                             f"against {share(over['target_share'], 0)})")
            if gap.min() < 0:
                parts.append(("and " if gap.max() > 0 else "") + f"{under['work_type']} below it "
                             f"({share(under['actual_share'], 0)} against {share(under['target_share'], 0)})")
            parts[-1] += "."
    if off_target is not None and len(off_target):
        lead = off_target.iloc[0]
        parts.append(f"{lead['name']} sent the most off-target work ({count(lead['off_target_referrals'])} of "
                     f"{count(lead['referrals'])} referrals).")
    return " ".join(parts)


def _pack_signed(n: object) -> str:
    number = int(n)  # type: ignore[arg-type]
    return f"{'+' if number > 0 else '−' if number < 0 else ''}{abs(number):,}"


def flows_reading(flows: pd.DataFrame, balance: pd.DataFrame | None = None) -> str:
    """Internal flows between teams (internal_flows) and the net givers and takers (team_balance)."""
    if not len(flows):
        return "No internal referral between teams was recorded in the period: cross-selling is not visible in the data."
    busiest = flows.sort_values(["referrals", "from_team", "to_team"], ascending=[False, True, True]).iloc[0]
    parts = [
        (f"Teams passed {count(flows['referrals'].sum())} internal referrals to one another in the period "
        f"({count(flows['won'].sum())} won), and {money(flows['referred_fees'].sum())} was billed in the period "
        f"on work that came that way. The busiest route was {busiest['from_team']} → {busiest['to_team']} "
        f"({_pack_plural(busiest['referrals'], 'referral')}).")
    ]
    if balance is not None and len(balance):
        giver = balance.sort_values(["net", "team"]).iloc[0]
        taker = balance.sort_values(["net", "team"], ascending=[False, True]).iloc[0]
        if giver["net"] < 0:
            parts.append(f"{str(giver['team']).capitalize()} gives the most away (net {_pack_signed(giver['net'])}: "
                         f"{count(giver['given'])} given, {count(giver['received'])} received)")
        if taker["net"] > 0:
            parts.append(("and " if giver["net"] < 0 else "") + f"{taker['team']} receives the most "
                         f"(net {_pack_signed(taker['net'])})")
        if len(parts) > 1:
            parts[-1] += "."
    return " ".join(parts)


def kpi_reading(kpis: pd.DataFrame, status_column: str | None, name_column: str | None) -> str:
    """SMART KPIs by red/amber/green status (kpis query)."""
    if not len(kpis):
        return "No KPI has been set: define SMART KPIs on the KPIs page to track them here."
    if status_column is None:
        return f"{_pack_plural(len(kpis), 'KPI')} {_pack_verb(len(kpis), 'are', 'is')} tracked; the values are listed below."
    statuses = kpis[status_column].astype("string").str.lower()
    counts = {s: int((statuses == s).sum()) for s in ("green", "amber", "red")}
    text = (f"{_pack_plural(len(kpis), 'KPI')} {_pack_verb(len(kpis), 'are', 'is')} tracked: "
            f"{counts['green']:,} green (on track), "
            f"{counts['amber']:,} amber and {counts['red']:,} red.")
    if counts["red"] and name_column is not None:
        reds = kpis.loc[statuses == "red", name_column].astype("string").head(3).tolist()
        text += f" Off track: {'; '.join(reds)}."
    return text


def plans_reading(overdue: pd.DataFrame, owner_column: str | None, due_column: str | None, end: str) -> str:
    """Overdue next steps in referrer plans (plans query)."""
    if not len(overdue):
        return f"No plan action is overdue as at {end}."
    text = f"{_pack_plural(len(overdue), 'plan action')} {_pack_verb(len(overdue), 'are', 'is')} overdue as at {end}."
    if owner_column is not None:
        owners = overdue[owner_column].astype("string").value_counts()
        if len(owners):
            text += f" {owners.index[0]} holds the most ({owners.iloc[0]:,})."
    if due_column is not None:
        oldest = overdue[due_column].dropna()
        if len(oldest):
            text += f" The oldest was due on {min(oldest)}."
    return text
