"""What goes into the board pack, and its numbers.

Every number comes from ``registry.run(name, ...)`` through a *runner* (the
CLI's runs the registry directly, the app's goes through ``state.query`` and
its cache), so the pack carries the same numbers as the app and
``refport query``; nothing here recomputes a metric. Each section declares
the named queries it needs and is left out, not faked, when one of them is
not registered. The renderers (render_pdf, render_pptx, render_html) only lay
out what ``build_pack`` returns.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd

from dashboard import __version__, insights, registry
from dashboard.contract import TABLE_NAMES
from dashboard.formatting import count, money, money_short, ratio, share, to_the_cent
from dashboard.pack import charts_static as charts
from dashboard.settings import SETTINGS, Settings
from dashboard.window import Filters, Window, months_before

# (name, window, params) -> the query's DataFrame for the pack's filters.
Runner = Callable[[str, Window, "dict[str, object] | None"], pd.DataFrame]
Progress = Callable[[float, str], None]

PACK_TITLE = "Referrer portfolio review"
DEFAULT_MODEL = "linear"
ROR_ROWS = 25
TOP_ROWS = 10


# --- what a section holds ---------------------------------------------------------------------


@dataclass(frozen=True)
class KeyFigure:
    label: str
    value: str
    note: str = ""  # e.g. the change on the previous period


@dataclass(frozen=True)
class TableBlock:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]  # right-aligned columns
    note: str = ""

    def weights(self) -> list[float]:
        """Relative column widths, in proportion to what the columns hold, none too narrow."""
        weights = []
        for index, header in enumerate(self.columns):
            cells = [len(row[index]) for row in self.rows] or [0]
            longest_word = max((len(w) for w in header.split()), default=4)
            weights.append(max(min(max(cells), 48), min(len(header), 22), longest_word, 5) + 3.0)
        return weights


@dataclass(frozen=True)
class ChartBlock:
    title: str
    png: bytes
    description: str  # how the chart is computed, also its alternative text
    wide: bool = True  # False: half the page width (two side by side)


@dataclass
class Section:
    key: str
    title: str
    reading: str
    explanation: str = ""  # one sentence: how the figures are computed
    figures: list[KeyFigure] = field(default_factory=list)
    charts: list[ChartBlock] = field(default_factory=list)
    tables: list[TableBlock] = field(default_factory=list)


@dataclass(frozen=True)
class Provenance:
    parameters: tuple[tuple[str, str], ...]
    data_dir: str
    files: tuple[tuple[str, str, str], ...]  # (file, rows, sha256)
    content_hash: str
    version: str
    left_out: tuple[tuple[str, str], ...]  # (section, why)


@dataclass
class Pack:
    firm: str
    title: str
    window: Window
    previous: Window
    filters: Filters
    model: str
    data_as_of: date | None
    intro: str
    sections: list[Section]
    provenance: Provenance

    @property
    def period(self) -> str:
        return self.window.label()

    @property
    def subtitle(self) -> str:
        return f"{self.firm} · {self.period}"


# --- the context sections read from ----------------------------------------------------------


@dataclass
class Context:
    run: Runner
    window: Window
    previous: Window
    filters: Filters
    model: str
    settings: Settings
    available: frozenset[str]
    _memo: dict[tuple, pd.DataFrame] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        return name in self.available

    def query(self, name: str, params: dict[str, object] | None = None,
              window: Window | None = None) -> pd.DataFrame:
        """A named query's result for the pack's filters (each asked once)."""
        window = window or self.window
        key = (name, window, tuple(sorted((params or {}).items())))
        if key not in self._memo:
            self._memo[key] = self.run(name, window, params)
        return self._memo[key]

    @property
    def currency(self) -> str:
        return self.settings.currency

    def names(self) -> dict[str, str]:
        """referrer_id → name, from the scorecard (for queries that give ids only)."""
        if not self.has("scorecard"):
            return {}
        card = self.query("scorecard")
        return dict(zip(card["referrer_id"], card["name"], strict=True))


@dataclass(frozen=True)
class SectionSpec:
    key: str
    title: str
    needs: tuple[str, ...]  # left out unless every one is registered
    build: Callable[[Context], Section]
    optional: tuple[str, ...] = ()  # parts shown only when registered

    def missing(self, available: Iterable[str]) -> list[str]:
        names = set(available)
        return [name for name in self.needs if name not in names]


# --- windows and inputs ----------------------------------------------------------------------


def previous_window(window: Window) -> Window:
    """The period of the same length just before the window.

    Whole calendar months (1 Jan to 31 Mar) are followed back by as many whole
    months (1 Oct to 31 Dec); a window that is `end` minus m months plus one day
    (the default, metrics.md) by the m months before it, by the same rule; any
    other window by the same number of days."""
    start, end = window.start, window.end
    before = start - timedelta(days=1)
    months = (end.year * 12 + end.month) - (start.year * 12 + start.month)
    if start.day == 1 and (end + timedelta(days=1)).day == 1:
        first = months_before(start, months + 1)
        return Window(first, before)
    for m in (months, months + 1):
        if m > 0 and months_before(end, m) + timedelta(days=1) == start:
            return Window(months_before(before, m) + timedelta(days=1), before)
    days = (end - start).days + 1
    return Window(start - timedelta(days=days), before)


def content_hash(data_dir: str | Path) -> tuple[str, tuple[tuple[str, str], ...]]:
    """SHA-256 of the Parquet inputs: each contract table's file, then the digest of the
    `sha256sum`-style manifest of those lines (`<digest>  <file>`), in table order.

    Changes when any byte of an input changes; stays the same for identical files
    wherever they are (the directory's path is not part of it)."""
    root = Path(data_dir)
    lines: list[tuple[str, str]] = []
    for name in TABLE_NAMES:
        path = root / f"{name}.parquet"
        if not path.is_file():
            continue
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        lines.append((path.name, digest.hexdigest()))
    manifest = "".join(f"{digest}  {name}\n" for name, digest in lines)
    return hashlib.sha256(manifest.encode("utf-8")).hexdigest(), tuple(lines)


def runner_for(dataset, filters: Filters, extra_tables: dict | None = None) -> Runner:
    """Run named queries on a dataset for the given filters (the CLI's way, as `refport query`)."""

    def run(name: str, window: Window, params: dict[str, object] | None = None) -> pd.DataFrame:
        return registry.run(name, dataset, window, filters, params, extra_tables=extra_tables)

    return run


def store_label(url: str) -> str:
    """The edit store the pack read (password hidden) and its revision, for the last page."""
    from dashboard import store

    shown = store.shown_url(url)
    revision = store.revision_at(url)
    if not any(revision):
        return f"{shown} (no edits saved)"
    return f"{shown} (revision {'.'.join(str(n) for n in revision)})"


def default_model() -> str:
    """The `attribution` query's default model (linear), or DEFAULT_MODEL when it is not registered."""
    if "attribution" not in registry.queries():
        return DEFAULT_MODEL
    return registry.get("attribution").param("model").default


def model_choices() -> tuple[str, ...]:
    """The attribution models the `attribution` query accepts (empty when it is not registered)."""
    if "attribution" not in registry.queries():
        return ()
    return registry.get("attribution").param("model").choices


# --- value formatting ------------------------------------------------------------------------


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    try:
        return isinstance(value, float) and math.isnan(value)
    except TypeError:
        return False


def _date(value: object) -> str:
    if _missing(value):
        return "—"
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return f"{value:%d %b %Y %H:%M}"
    if isinstance(value, date):
        return f"{value:%d %b %Y}"
    return str(value)


def _number(value: object, digits: int = 1) -> str:
    return "—" if _missing(value) else f"{float(value):,.{digits}f}"  # type: ignore[arg-type]


def _text(value: object) -> str:
    return "—" if _missing(value) else str(value)


def _level_labels() -> Callable[[object], str]:
    from dashboard import levels

    try:
        programme = levels.load()
    except levels.LevelsError:
        return lambda n: "Unassigned" if _missing(n) else f"Level {int(n)}"  # type: ignore[arg-type]
    return programme.label


def _table(title: str, header: Iterable[tuple[str, bool]], rows: Iterable[Iterable[str]],
           note: str = "") -> TableBlock:
    header = tuple(header)
    return TableBlock(title, tuple(h for h, _ in header), tuple(tuple(str(c) for c in r) for r in rows),
                      tuple(n for _, n in header), note)


# --- the sections ----------------------------------------------------------------------------

HEADLINE = (
    # column, label, kind (count | share | money)
    ("inbound_referrals", "Inbound referrals", "count"),
    ("decided", "Decided (won, lost or declined)", "count"),
    ("won", "Won", "count"),
    ("conversion_rate", "Conversion rate", "share"),
    ("referred_fees", "Referred fees", "money"),
    ("referrers_with_fees", "Referrers with fees", "count"),
    ("top3_share", "Top-3 share of referred fees", "share"),
    ("active_referrers", "Referrers who referred", "count"),
    ("prune_candidates", "Prune candidates", "count"),
    ("prune_investment_cost", "Invested in prune candidates", "money"),
)
HEADLINE_TILES = ("inbound_referrals", "conversion_rate", "referred_fees", "referrers_with_fees",
                  "top3_share", "prune_candidates")


def headline_value(kind: str, value: object) -> str:
    """How the pack prints a headline figure (tests compare it with `refport query headline`)."""
    if kind == "money":
        return money(value)
    if kind == "share":
        return share(value, 1)
    return count(value)


def _previous_uncovered(ctx: Context) -> bool:
    """True when the data start after the previous period starts (its figures understate it)."""
    if not ctx.has("table_counts"):
        return False
    counts = ctx.query("table_counts").set_index("table_name")
    firsts = [counts.at[t, "first_on"] for t in ("referrals", "fees") if t in counts.index]
    firsts = [f for f in firsts if not _missing(f)]
    return bool(firsts) and min(firsts) > ctx.previous.start


def _headline(ctx: Context) -> Section:
    current = ctx.query("headline").iloc[0]
    previous = ctx.query("headline", window=ctx.previous).iloc[0]
    shown = [(c, label, kind) for c, label, kind in HEADLINE if c in current.index]
    figures = [
        KeyFigure(label, money_short(current[c], ctx.currency) if kind == "money" else headline_value(kind, current[c]),
                  f"{insights.change_text(kind, current[c], previous[c])} on the previous period")
        for c, label, kind in shown if c in HEADLINE_TILES
    ]
    table = _table(
        "Headline figures against the previous period of the same length",
        [("Figure", False), (f"This period ({ctx.window.label()})", True),
         (f"Previous period ({ctx.previous.label()})", True), ("Change", True)],
        [(label, headline_value(kind, current[c]), headline_value(kind, previous[c]),
          insights.change_text(kind, current[c], previous[c])) for c, label, kind in shown],
        note="Shares change in percentage points (pp).",
    )
    return Section(
        "headline", "Headline figures",
        insights.headline_reading(current, previous, ctx.previous.label(), _previous_uncovered(ctx)),
        "Each figure is the Overview's (query headline), for this period and for the period of the "
        "same length just before it, with the same filters; conversion rate = won ÷ (won + lost + "
        "declined) of inbound referrals received; referred fees are fees billed in the period on "
        "matters from inbound referrals, whenever referred.",
        figures=figures, tables=[table],
    )


def _concentration(ctx: Context) -> Section:
    conc = ctx.query("concentration").iloc[0]
    fees = ctx.query("referred_fees")
    stress = ctx.query("concentration_stress") if ctx.has("concentration_stress") else None
    figures = [
        KeyFigure("Top-3 share", share(conc["top3_share"], 1)),
        KeyFigure("Referrers for 80% of fees", count(conc["referrers_for_80pct"]),
                  f"of {count(conc['referrers_with_fees'])} with fees"),
        KeyFigure("Herfindahl index (HHI)", _number(conc["hhi"], 3), "0 = spread, 1 = one referrer"),
        KeyFigure("Gini coefficient", _number(conc["gini"], 2), "0 = equal, 1 = one referrer"),
        KeyFigure("Total referred fees", money_short(conc["total_referred_fees"], ctx.currency)),
    ]
    section = Section(
        "concentration", "Concentration of referred fees",
        insights.concentration_reading(conc, fees, stress),
        "Over the referrers with referred fees above zero in the period (queries concentration and "
        "referred_fees): top-3 share is the three largest referrers' share of the total; the Lorenz "
        "curve plots referrers, smallest first, against their cumulative share of fees.",
        figures=figures,
    )
    if len(fees):
        section.charts.append(ChartBlock(
            "Lorenz curve of referred fees (%)", charts.lorenz(fees),
            "Cumulative share of referrers (smallest first) against their cumulative share of "
            "referred fees; the diagonal is perfect equality.", wide=False))
        section.charts.append(ChartBlock(
            f"Top {min(TOP_ROWS, len(fees))} referrers by referred fees ({ctx.currency})",
            charts.top_referrers(fees, TOP_ROWS, ctx.currency),
            "Referred fees in the period per referrer; the three largest are drawn dark.", wide=False))
        section.tables.append(_table(
            f"Top {min(TOP_ROWS, len(fees))} referrers by referred fees",
            [("Rank", True), ("Referrer", False), (f"Referred fees ({ctx.currency})", True),
             ("Share", True), ("Cumulative share", True)],
            [(count(r.rank), r.name, money(r.referred_fees, ctx.currency), share(r.share, 1),
              share(r.cumulative_share, 1)) for r in fees.head(TOP_ROWS).itertuples()],
        ))
    if stress is not None and len(stress):
        section.tables.append(_table(
            "Lose the top referrers: what goes if the largest stop referring",
            [("Scenario", False), ("Referrers lost", False), (f"Fees lost ({ctx.currency})", True),
             ("Share lost", True), (f"Fees remaining ({ctx.currency})", True)],
            [(f"Lose top {int(r.top_n)}", r.referrers_lost, money(r.fees_lost, ctx.currency),
              share(r.share_lost, 1), money(r.fees_remaining, ctx.currency)) for r in stress.itertuples()],
            note="From the concentration_stress query: the period's referred fees of the largest referrers.",
        ))
    return section


def _tiering(ctx: Context) -> Section:
    tiers = ctx.query("tier_assignments")
    level_label = _level_labels()
    names = ctx.names()
    levels = [4, 3, 2, 1, None]

    def label(level: object) -> str:
        return "No level" if _missing(level) else level_label(level)

    def _is(value: object, level: int | None) -> bool:
        return _missing(value) if level is None else (not _missing(value) and int(value) == level)  # type: ignore[arg-type]

    counts = [(label(level),
               sum(_is(v, level) for v in tiers["suggested_level"]),
               sum(_is(v, level) for v in tiers["assigned_level"])) for level in levels]
    matrix_rows = []
    for suggested in levels:
        row = [label(suggested)]
        picked = tiers[[_is(v, suggested) for v in tiers["suggested_level"]]]
        row += [count(sum(_is(v, assigned) for v in picked["assigned_level"])) for assigned in levels]
        matrix_rows.append(row)

    at = pd.to_datetime(tiers["assigned_at"], errors="coerce")
    since = pd.Timestamp(ctx.window.start)
    dated = tiers.assign(changed_at=at)
    changes = dated[dated["changed_at"].notna() & (dated["changed_at"] >= since)].sort_values(
        ["changed_at", "referrer_id"], ascending=[False, True])
    section = Section(
        "tiering", "Tiering: suggested and assigned levels",
        insights.tiering_reading(tiers, changes, f"{ctx.window.start:%d %b %Y}"),
        "The suggested level is the rule of the tier_assignments query (as the scorecard's); the "
        "assigned level is the board's decision as recorded in the edit store, with who made it, "
        "when and why.",
        figures=[KeyFigure(lbl, count(assigned), f"assigned; the rule suggests {count(suggested)}")
                 for lbl, suggested, assigned in counts],
    )
    section.charts.append(ChartBlock(
        "Referrers per level: suggested and assigned (number)", charts.tier_levels(counts),
        "Number of referrers per programme level, by the rule (suggested) and by the board (assigned)."))
    section.tables.append(_table(
        "Suggested (rows) against assigned (columns) level, number of referrers",
        [("Suggested level", False)] + [(label(level), True) for level in levels],
        matrix_rows,
        note="The diagonal holds the referrers whose assigned level is the suggested one.",
    ))
    section.tables.append(_table(
        f"Assignments recorded since {ctx.window.start:%d %b %Y} (latest per referrer)",
        [("Referrer", False), ("Suggested", False), ("Assigned", False), ("By", False),
         ("When (UTC)", False), ("Why", False)],
        [(names.get(r.referrer_id, r.referrer_id), label(r.suggested_level), label(r.assigned_level),
          _text(r.assigned_by), _date(r.assigned_at), _text(r.reason)) for r in changes.itertuples()],
        note="" if len(changes) else "No assignment was recorded in this time.",
    ))
    return section


def _prune(ctx: Context) -> Section:
    card = ctx.query("scorecard")
    headline = ctx.query("headline").iloc[0]
    prune = card[card["prune_candidate"].fillna(False).astype(bool)].sort_values(
        ["investment_cost", "name"], ascending=[False, True], key=to_the_cent)
    label = _level_labels()
    section = Section(
        "prune", "Prune list",
        insights.prune_reading(prune, headline, f"{ctx.window.end:%d %b %Y}"),
        "A prune candidate (scorecard) received investment in the period (hours at cost rate plus "
        "expenses), sent no inbound referral in the 24 months to the period's end, and is not Level 4.",
        figures=[KeyFigure("Prune candidates", count(headline["prune_candidates"])),
                 KeyFigure("Invested in them", money(headline["prune_investment_cost"], ctx.currency)),
                 KeyFigure("Hours spent on them", _number(prune["investment_hours"].sum(), 1))],
    )
    section.tables.append(_table(
        "Prune candidates, largest investment first",
        [("Referrer", False), ("Type", False), ("Suggested level", False), ("Hours", True),
         (f"Investment ({ctx.currency})", True), ("Last referral", False), ("Months since", True)],
        [(r.name, _text(r.referrer_type), label(r.suggested_level), _number(r.investment_hours, 1),
          money(r.investment_cost, ctx.currency), _date(r.last_referral_on) if not _missing(r.last_referral_on)
          else "never", count(r.months_since_last_referral)) for r in prune.itertuples()],
        note="" if len(prune) else "No prune candidate in this period.",
    ))
    return section


def _ror(ctx: Context) -> Section:
    card = ctx.query("scorecard")
    invested = card[card["investment_cost"].fillna(0) > 0].sort_values(
        ["investment_cost", "name"], ascending=[False, True], key=to_the_cent)
    attributed: dict[str, object] = {}
    if ctx.has("attribution_referrers"):
        credit = ctx.query("attribution_referrers", {"model": ctx.model})
        attributed = dict(zip(credit["referrer_id"], credit["value"], strict=True))
    section = Section(
        "ror", "Return on relationships",
        insights.ror_reading(card),
        "From the scorecard: investment = hours × the fee earner's cost rate + expenses, in the "
        "period; return on relationship (ROR) = referred fees ÷ investment"
        + (f"; attributed value is the referrer's credit under the {ctx.model.replace('_', ' ')} "
           "attribution model (query attribution_referrers)." if attributed or ctx.has("attribution_referrers")
           else "."),
    )
    if len(invested):
        section.charts.append(ChartBlock(
            f"Investment against referred fees per referrer ({ctx.currency})",
            charts.ror_scatter(invested, ctx.currency),
            "Each point is a referrer we invested in; above the diagonal break-even line its referred "
            "fees exceed what it cost us."))
        header = [("Referrer", False), ("Hours", True), (f"Investment ({ctx.currency})", True),
                  (f"Referred fees ({ctx.currency})", True), ("ROR", True)]
        if ctx.has("attribution_referrers"):
            header.append((f"Attributed value, {ctx.model.replace('_', ' ')} ({ctx.currency})", True))
        rows = []
        for r in invested.head(ROR_ROWS).itertuples():
            row = [r.name, _number(r.investment_hours, 1), money(r.investment_cost, ctx.currency),
                   money(r.referred_fees, ctx.currency), ratio(r.ror)]
            if ctx.has("attribution_referrers"):
                row.append(money(attributed.get(r.referrer_id, 0.0), ctx.currency))
            rows.append(row)
        section.tables.append(_table(
            f"The {min(ROR_ROWS, len(invested))} largest investments (of {len(invested):,} referrers invested in)",
            header, rows))
    return section


def _attribution(ctx: Context) -> Section:
    models = registry.get("attribution").param("model").choices
    frames = []
    for model in models:
        frame = ctx.query("attribution", {"model": model})
        frames.append(frame.assign(model=model))
    comparison = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["channel", "conversions", "value", "model"])
    summary = ctx.query("attribution_summary").iloc[0] if ctx.has("attribution_summary") else None
    channels = sorted(comparison["channel"].unique()) if len(comparison) else []
    pivot = comparison.pivot_table(index="channel", columns="model", values="conversions", aggfunc="sum") \
        if len(comparison) else pd.DataFrame()
    section = Section(
        "attribution", "Attribution across models",
        insights.attribution_reading(comparison, ctx.model, summary),
        "Conversions are matters opened in the period; each model of metrics.md shares one conversion "
        "among the touchpoints of its client's journey (query attribution, one run per model).",
    )
    if summary is not None:
        section.figures = [
            KeyFigure("Conversions", count(summary["conversions"])),
            KeyFigure("Attributed", count(summary["attributed_conversions"])),
            KeyFigure("Unattributed", count(summary["unattributed_conversions"]),
                      money(summary["unattributed_value"], ctx.currency)),
            KeyFigure("Value of conversions", money_short(summary["value"], ctx.currency)),
        ]
    if len(comparison):
        section.charts.append(ChartBlock(
            "Share of attributed conversions per channel under each model (%)",
            charts.attribution_models(comparison, list(models)),
            "Each bar is one model; its segments are the channels' shares of the conversions it credits."))
        short = {m: m.replace("_", " ") for m in models}
        section.tables.append(_table(
            "Conversions credited per channel under each model (number)",
            [("Channel", False)] + [(short[m], True) for m in models],
            [[channel] + [_number(pivot.at[channel, m], 1) if m in pivot.columns else "—" for m in models]
             for channel in channels],
        ))
        chosen = comparison[comparison["model"] == ctx.model].sort_values(
            ["value", "channel"], ascending=[False, True])
        section.tables.append(_table(
            f"Value credited per channel, {ctx.model.replace('_', ' ')} model ({ctx.currency})",
            [("Channel", False), ("Conversions", True), (f"Value ({ctx.currency})", True)],
            [(r.channel, _number(r.conversions, 1), money(r.value, ctx.currency)) for r in chosen.itertuples()],
        ))
    if ctx.has("attribution_referrers"):
        credit = ctx.query("attribution_referrers", {"model": ctx.model}).sort_values(
            ["value", "referrer_id"], ascending=[False, True]).head(TOP_ROWS)
        names = ctx.names()
        if len(credit):
            section.tables.append(_table(
                f"Referrers with the most attributed value, {ctx.model.replace('_', ' ')} model",
                [("Referrer", False), ("Conversions", True), (f"Value ({ctx.currency})", True)],
                [(names.get(r.referrer_id, r.referrer_id), _number(r.conversions, 1),
                  money(r.value, ctx.currency)) for r in credit.itertuples()],
            ))
    return section


def _drift(ctx: Context) -> Section:
    drift = ctx.query("drift")
    mix = ctx.query("drift_mix") if ctx.has("drift_mix") else None
    off = None
    if ctx.has("drift_referrers"):
        names = ctx.names()
        off = ctx.query("drift_referrers")
        off = off[off["off_target_referrals"] > 0].sort_values(
            ["off_target_referrals", "referrer_id"], ascending=[False, True]).head(TOP_ROWS)
        off = off.assign(name=[names.get(i, i) for i in off["referrer_id"]])
    section = Section(
        "drift", "Strategic drift against the target mix",
        insights.drift_reading(drift, mix, off),
        "Per calendar quarter, the drift index is half the sum over work types of the gap between the "
        "actual share of new inbound referrals and the target share in force (query drift; 0% on "
        "target, 100% entirely off); quarters at the period's edges may be partial.",
    )
    scored = drift[drift["drift_tvd"].notna()]
    if len(scored):
        section.figures = [KeyFigure(f"Drift index {scored.iloc[-1]['quarter']}",
                                     share(scored.iloc[-1]["drift_tvd"], 1),
                                     f"{share(scored.iloc[0]['drift_tvd'], 1)} in {scored.iloc[0]['quarter']}")]
        section.charts.append(ChartBlock(
            "Strategic drift index per quarter (% of new work off the target mix)", charts.drift_index(drift),
            "Drift index per calendar quarter, labelled with its value."))
    if mix is not None and len(scored):
        quarter = scored.iloc[-1]["quarter"]
        rows = mix[mix["quarter"] == quarter].sort_values(["target_share", "work_type"], ascending=[False, True])
        if len(rows):
            section.charts.append(ChartBlock(
                f"Actual against target share of new work, {quarter} (%)", charts.drift_mix(rows),
                "Per work type, the target share (hatched) and the actual share of inbound referrals."))
            section.tables.append(_table(
                f"Mix of new inbound work in {quarter} against the target",
                [("Work type", False), ("Actual share", True), ("Target share", True), ("Gap", True)],
                [(r.work_type, share(r.actual_share, 1), share(r.target_share, 1),
                  insights.change_text("share", r.actual_share, r.target_share)) for r in rows.itertuples()],
            ))
    if off is not None and len(off):
        section.tables.append(_table(
            "Referrers sending the most off-target work (target share below the threshold)",
            [("Referrer", False), ("Referrals", True), ("Off target", True), ("Off-target share", True)],
            [(r.name, count(r.referrals), count(r.off_target_referrals), share(r.off_target_share, 1))
             for r in off.itertuples()],
        ))
    return section


def _flows(ctx: Context) -> Section:
    flows = ctx.query("internal_flows").sort_values(["referrals", "from_team", "to_team"],
                                                    ascending=[False, True, True])
    balance = ctx.query("team_balance") if ctx.has("team_balance") else None
    section = Section(
        "flows", "Internal flows between teams",
        insights.flows_reading(flows, balance),
        "Internal referrals from one team to another received in the period, how many were won, and "
        "fees billed in the period on matters that came that way, whenever referred (query "
        "internal_flows); net = received − given per team (query team_balance).",
    )
    if balance is not None and len(balance):
        section.charts.append(ChartBlock(
            "Internal referrals per team: received minus given (number)", charts.team_net(balance),
            "Net internal referrals per team: right of zero a net receiver, left a net giver."))
        ordered = balance.sort_values(["net", "team"])
        section.tables.append(_table(
            "Internal referrals given and received per team",
            [("Team", False), ("Given", True), ("Received", True), ("Net", True)],
            [(r.team, count(r.given), count(r.received), insights.change_text("count", r.net, 0)
              if r.net else "0") for r in ordered.itertuples()],
        ))
    section.tables.append(_table(
        "Internal referrals between teams, busiest first",
        [("From team", False), ("To team", False), ("Referrals", True), ("Won", True),
         (f"Referred fees ({ctx.currency})", True)],
        [(r.from_team, r.to_team, count(r.referrals), count(r.won), money(r.referred_fees, ctx.currency))
         for r in flows.itertuples()],
        note="" if len(flows) else "No internal referral in this period.",
    ))
    return section


def _kpis(ctx: Context) -> Section:
    from dashboard.kpis import format_value

    kpis = ctx.query("kpis")
    # a KPI is named by its own words when it has them, else by its measure
    kpis = kpis.assign(kpi=[m if _missing(n) else n for n, m in zip(kpis["name"], kpis["measure"], strict=True)])
    rows = [
        (r.kpi, r.scope, r.owner, format_value(r.baseline, r.unit), format_value(r.current, r.unit),
         format_value(r.target, r.unit), _date(r.deadline), share(r.progress), format_value(r.forecast, r.unit),
         ("—" if _missing(r.rag) else str(r.rag).upper()) + (" (closed)" if r.status == "closed" else ""))
        for r in kpis.itertuples()
    ]
    return Section(
        "kpis", "KPIs",
        insights.kpi_reading(kpis, "rag", "kpi"),
        "Each KPI's baseline (measured when it was set), current value, target, deadline, progress along the "
        "straight line from baseline to target, forecast at the deadline (linear fit over the last four "
        "quarters) and red/amber/green status, as the KPIs page computes them (query kpis).",
        tables=[_table("SMART KPIs and their status",
                       [("KPI", False), ("Scope", False), ("Owner", False), ("Baseline", True), ("Current", True),
                        ("Target", True), ("Deadline", False), ("Progress", True), ("Forecast", True),
                        ("Status", False)],
                       rows, "" if len(kpis) else "No KPI has been defined.")],
    )


def _plans(ctx: Context) -> Section:
    plans = ctx.query("plans")
    overdue = plans[plans["overdue"].fillna(False).astype(bool)]
    today = datetime.now(UTC).date()
    return Section(
        "plans", "Overdue plan actions",
        insights.plans_reading(overdue, "owner", "due_on", f"{today:%d %b %Y}"),
        "Open next steps in referrer plans whose due date is before today (query plans).",
        figures=[KeyFigure("Overdue actions", count(len(overdue)), f"of {count(len(plans))} open")],
        tables=[_table("Overdue plan actions",
                       [("Referrer", False), ("Next step", False), ("Owner", False), ("Due", False),
                        ("Days overdue", True), ("Relationship partner", False)],
                       [(f"{r.referrer} ({r.referrer_id})", r.action, r.owner, _date(r.due_on),
                         count(r.days_overdue), _text(r.partner)) for r in overdue.itertuples()],
                       "" if len(overdue) else "No plan action is overdue.")],
    )


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("headline", "Headline figures", ("headline",), _headline, ("table_counts",)),
    SectionSpec("concentration", "Concentration", ("concentration", "referred_fees"), _concentration,
                ("concentration_stress",)),
    SectionSpec("tiering", "Tiering", ("tier_assignments", "scorecard"), _tiering),
    SectionSpec("prune", "Prune list", ("scorecard", "headline"), _prune),
    SectionSpec("ror", "Return on relationships", ("scorecard",), _ror, ("attribution_referrers",)),
    SectionSpec("attribution", "Attribution across models", ("attribution",), _attribution,
                ("attribution_summary", "attribution_referrers")),
    SectionSpec("drift", "Strategic drift", ("drift",), _drift, ("drift_mix", "drift_referrers")),
    SectionSpec("flows", "Internal flows", ("internal_flows",), _flows, ("team_balance",)),
    SectionSpec("kpis", "KPIs", ("kpis",), _kpis),
    SectionSpec("plans", "Overdue plan actions", ("plans",), _plans),
)


def plan(available: Iterable[str] | None = None) -> tuple[list[SectionSpec], list[tuple[str, str]]]:
    """The sections the pack will hold, and those left out with the queries they lack."""
    names = set(registry.queries() if available is None else available)
    kept, left_out = [], []
    for spec in SECTIONS:
        missing = spec.missing(names)
        if missing:
            left_out.append((spec.title, f"not built yet (no query {', '.join(missing)})"))
        else:
            kept.append(spec)
    return kept, left_out


# --- the whole pack --------------------------------------------------------------------------


def build_pack(
    run: Runner,
    data_dir: str | Path,
    window: Window,
    filters: Filters | None = None,
    model: str = DEFAULT_MODEL,
    *,
    settings: Settings | None = None,
    progress: Progress | None = None,
    available: Iterable[str] | None = None,
    store_label: str = "",
) -> Pack:
    """Ask the registry for every section's queries and put the pack together.

    ``available``: the registered query names (default: the registry's); a section
    needing a name not in it is left out and listed on the last page."""
    filters = filters or Filters()
    settings = settings or SETTINGS
    names = frozenset(registry.queries() if available is None else available)
    specs, left_out = plan(names)
    previous = previous_window(window)
    ctx = Context(run, window, previous, filters, model, settings, names)
    report = progress or (lambda fraction, message: None)
    steps = len(specs) + 2

    report(0.0, "Reading the data's date range")
    as_of = None
    if ctx.has("data_end"):
        value = ctx.query("data_end")["data_end"].iloc[0]
        as_of = None if _missing(value) else value

    sections: list[Section] = []
    for number, spec in enumerate(specs, start=1):
        report(number / steps, f"Building {spec.title.lower()}")
        sections.append(spec.build(ctx))

    report((steps - 1) / steps, "Hashing the Parquet inputs")
    digest, files = content_hash(data_dir)
    rows: dict[str, str] = {}
    if ctx.has("table_counts"):
        counts = ctx.query("table_counts")
        rows = {f"{t}.parquet": count(n) for t, n in zip(counts["table_name"], counts["rows"], strict=True)}
    parameters = [
        ("Period", f"{window.start.isoformat()} to {window.end.isoformat()} (both inclusive)"),
        ("Previous period", f"{previous.start.isoformat()} to {previous.end.isoformat()}"),
        ("Filters", filters.describe()),
        ("Attribution model", model),
        ("Currency", settings.currency),
        ("Firm", settings.firm),
        ("Data as of", as_of.isoformat() if isinstance(as_of, date) else "—"),
    ]
    if store_label:
        parameters.append(("Edit store", store_label))
    provenance = Provenance(
        parameters=tuple(parameters),
        data_dir=str(Path(data_dir).resolve()),
        files=tuple((name, rows.get(name, "—"), file_digest) for name, file_digest in files),
        content_hash=digest,
        version=__version__,
        left_out=tuple(left_out),
    )
    intro = (
        f"This pack reviews {settings.firm}'s referrer portfolio for {window.label()} "
        f"({filters.describe()}), against the previous period of the same length "
        f"({previous.label()}) where a change is shown. Every figure is the one the refport app and "
        "`refport query` give for the same period and filters; the last page lists the parameters and a "
        "content hash of the data, so the pack can be rebuilt and checked."
    )
    report(1.0, "Done")
    return Pack(settings.firm, PACK_TITLE, window, previous, filters, model, as_of, intro, sections,
                provenance)
