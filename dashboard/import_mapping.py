"""Import mappings: which source column feeds which contract column, and how to read it.

A mapping is a small TOML file (format in docs/import.md, one example per table
in examples/mappings/)::

    table = "referrals"

    [format]
    date_order = "dmy"      # 03/04/2025 is 3 April
    decimal = "."           # 1,234.56

    [columns]
    referral_id = "Opportunity ID"
    referred_on = "Created Date"
    direction = { value = "inbound" }

    [columns.status]
    source = "Stage"
    values = { "Closed Won" = "won", "Instructed" = "won", "Not proceeding" = "lost" }

``load_mapping`` reads and validates one; ``suggest_mapping`` proposes one from
a header row and some data rows (names by similarity, values by what parses);
``to_toml`` writes one back out for the user to confirm.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .contract import DATE, DOUBLE, INTEGER, TABLES, TIMESTAMP, Column
from .import_values import (
    DATE_ORDERS,
    BadValue,
    cell_text,
    is_blank,
    normalise,
    parse_date,
    parse_duration,
    parse_integer,
    parse_number,
)

__all__ = [
    "ColumnSpec",
    "Mapping",
    "MappingError",
    "column_kind",
    "load_mapping",
    "parse_mapping",
    "suggest_mapping",
    "to_toml",
]


class MappingError(Exception):
    """The mapping file is invalid or does not fit the source file."""


UNMAPPED = ("quarantine", "keep")
UNITS = ("hours", "minutes")
DECIMALS = (".", ",")
_COLUMN_KEYS = {"source", "value", "values", "unmapped", "date_order", "decimal", "unit", "lower"}


@dataclass
class ColumnSpec:
    """How one contract column is filled."""

    target: str
    source: str | None = None  # a header in the source file
    value: object = None  # a constant for every row (when there is no source column)
    values: dict[str, str] = field(default_factory=dict)  # source value -> contract value
    unmapped: str | None = None  # None: quarantine for enumerated columns, keep otherwise
    date_order: str | None = None
    decimal: str | None = None
    unit: str | None = None
    lower: bool = False

    @property
    def lookup(self) -> dict[str, str]:
        return {normalise(k): v for k, v in self.values.items()}

    def is_simple(self) -> bool:
        return (
            self.source is not None and not self.values and self.unmapped is None
            and self.date_order is None and self.decimal is None and self.unit is None
            and not self.lower
        )


@dataclass
class Mapping:
    table: str
    columns: dict[str, ColumnSpec] = field(default_factory=dict)
    sheet: str | None = None
    header_row: int | None = None
    encoding: str | None = None
    delimiter: str | None = None
    date_order: str = "dmy"
    decimal: str = "."
    excel_epoch: int | None = None  # for serial numbers written as text in a CSV
    # comments that to_toml writes (suggestions: what was guessed, what is missing)
    notes: list[str] = field(default_factory=list)
    column_notes: dict[str, str] = field(default_factory=dict)

    def spec(self, column: str) -> ColumnSpec | None:
        return self.columns.get(column)


def column_kind(column: Column) -> str:
    """text, enum, date, timestamp, number, duration or integer."""
    if column.type == DATE:
        return "date"
    if column.type == TIMESTAMP:
        return "timestamp"
    if column.type == INTEGER:
        return "integer"
    if column.type == DOUBLE:
        return "duration" if column.name == "hours" else "number"
    return "enum" if column.enum else "text"


# --------------------------------------------------------------------------- #
# Reading a mapping file
# --------------------------------------------------------------------------- #


def load_mapping(path: str | Path, table: str | None = None) -> Mapping:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"mapping file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise MappingError(f"{path}: a mapping file must be UTF-8 text") from None
    return parse_mapping(text, table, str(path))


def _choice(where: str, key: str, value: object, allowed: tuple) -> object:
    if value not in allowed:
        shown = " or ".join(json.dumps(a) for a in allowed)
        raise MappingError(f"{where}: {key} must be {shown}, not {json.dumps(value)}")
    return value


def parse_mapping(text: str, table: str | None = None, where: str = "mapping") -> Mapping:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise MappingError(f"{where} is not valid TOML: {err}") from None
    unknown = set(doc) - {"table", "source", "format", "columns"}
    if unknown:
        raise MappingError(f"{where}: unknown section(s) {', '.join(sorted(unknown))} "
                           "(expected table, [source], [format], [columns])")
    name = doc.get("table", table)
    if name is None:
        raise MappingError(f"{where}: say which table it is for with table = \"...\"")
    if name not in TABLES:
        raise MappingError(f"{where}: unknown table {name!r}; tables: {', '.join(TABLES)}")
    if table is not None and name != table:
        raise MappingError(f"{where} is a mapping for {name}, not for {table}")
    mapping = Mapping(name)

    source = doc.get("source", {})
    if not isinstance(source, dict):
        raise MappingError(f"{where}: [source] must be a table")
    extra = set(source) - {"sheet", "header_row", "encoding", "delimiter"}
    if extra:
        raise MappingError(f"{where}: unknown key(s) in [source]: {', '.join(sorted(extra))}")
    mapping.sheet = _opt_str(where, "sheet", source.get("sheet"))
    header_row = source.get("header_row")
    if header_row is not None and (not isinstance(header_row, int) or header_row < 1):
        raise MappingError(f"{where}: header_row must be a row number (1 = first row)")
    mapping.header_row = header_row
    mapping.encoding = _opt_str(where, "encoding", source.get("encoding"))
    mapping.delimiter = _opt_str(where, "delimiter", source.get("delimiter"))

    fmt = doc.get("format", {})
    if not isinstance(fmt, dict):
        raise MappingError(f"{where}: [format] must be a table")
    extra = set(fmt) - {"date_order", "decimal", "excel_epoch"}
    if extra:
        raise MappingError(f"{where}: unknown key(s) in [format]: {', '.join(sorted(extra))}")
    mapping.date_order = _choice(where, "date_order", fmt.get("date_order", "dmy"), DATE_ORDERS)
    mapping.decimal = _choice(where, "decimal", fmt.get("decimal", "."), DECIMALS)
    if "excel_epoch" in fmt:
        mapping.excel_epoch = _choice(where, "excel_epoch", fmt["excel_epoch"], (1900, 1904))

    columns = doc.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise MappingError(f"{where}: [columns] must name the source column of each contract column")
    contract = TABLES[name]
    names = [c.name for c in contract.columns]
    for target, entry in columns.items():
        if target not in names:
            close = difflib.get_close_matches(target, names, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise MappingError(f"{where}: {name} has no column {target!r}{hint}; "
                               f"its columns are: {', '.join(names)}")
        mapping.columns[target] = _column_spec(where, contract.column(target), entry)
    missing = [c.name for c in contract.columns if not c.nullable and c.name not in mapping.columns]
    if missing:
        raise MappingError(
            f"{where}: no source for required column(s) {', '.join(missing)} of {name}: "
            "name a source column, or give a constant with { value = ... }"
        )
    return mapping


def _opt_str(where: str, key: str, value: object) -> str | None:
    if value is not None and not isinstance(value, str):
        raise MappingError(f"{where}: {key} must be a string")
    return value


def _column_spec(where: str, column: Column, entry: object) -> ColumnSpec:
    at = f"{where}: columns.{column.name}"
    if isinstance(entry, str):
        if not entry.strip():
            raise MappingError(f"{at}: the source column name is empty")
        return ColumnSpec(column.name, source=entry)
    if not isinstance(entry, dict):
        raise MappingError(f"{at} must be a source column name or a table "
                           "such as { source = \"Stage\", values = { ... } }")
    extra = set(entry) - _COLUMN_KEYS
    if extra:
        raise MappingError(f"{at}: unknown key(s) {', '.join(sorted(extra))} "
                           f"(allowed: {', '.join(sorted(_COLUMN_KEYS))})")
    has_source, has_value = "source" in entry, "value" in entry
    if has_source == has_value:
        raise MappingError(f"{at}: give either source = \"<column>\" or value = <constant>")
    spec = ColumnSpec(column.name)
    if has_source:
        if not isinstance(entry["source"], str) or not entry["source"].strip():
            raise MappingError(f"{at}: source must be a column name")
        spec.source = entry["source"]
    else:
        spec.value = entry["value"]
        if isinstance(spec.value, (dict, list)):
            raise MappingError(f"{at}: value must be a single text, number or date")
    values = entry.get("values", {})
    if not isinstance(values, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values.items()
    ):
        raise MappingError(f"{at}: values must map source text to contract text, "
                           "e.g. values = { \"Closed Won\" = \"won\" }")
    if column.enum:
        bad = sorted({v for v in values.values() if v not in column.enum})
        if bad:
            raise MappingError(f"{at}: {', '.join(map(repr, bad))} is not one of "
                               f"{', '.join(column.enum)}")
    spec.values = dict(values)
    if "unmapped" in entry:
        spec.unmapped = _choice(at, "unmapped", entry["unmapped"], UNMAPPED)
        if column.enum and spec.unmapped == "keep":
            raise MappingError(f"{at}: {column.name} only takes {', '.join(column.enum)}, "
                               "so unmapped values cannot be kept")
    if "date_order" in entry:
        spec.date_order = _choice(at, "date_order", entry["date_order"], DATE_ORDERS)
    if "decimal" in entry:
        spec.decimal = _choice(at, "decimal", entry["decimal"], DECIMALS)
    if "unit" in entry:
        spec.unit = _choice(at, "unit", entry["unit"], UNITS)
    if "lower" in entry:
        if not isinstance(entry["lower"], bool):
            raise MappingError(f"{at}: lower must be true or false")
        spec.lower = entry["lower"]
    return spec


# --------------------------------------------------------------------------- #
# Writing a mapping
# --------------------------------------------------------------------------- #

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _key(text: str) -> str:
    return text if _BARE_KEY.match(text) else _q(text)


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return _q(str(value))


def to_toml(mapping: Mapping) -> str:
    out = ["# refport import mapping (docs/import.md): check it, then pass it with --mapping FILE"]
    out += [f"# {note}" for note in mapping.notes]
    out += [f"table = {_q(mapping.table)}", ""]
    source = [(k, getattr(mapping, k)) for k in ("sheet", "header_row", "encoding", "delimiter")]
    if any(v is not None for _, v in source):
        out.append("[source]")
        out += [f"{k} = {_literal(v)}" for k, v in source if v is not None]
        out.append("")
    out.append("[format]")
    out.append(f"date_order = {_q(mapping.date_order)}  # dmy: 31/01/2025, mdy: 01/31/2025")
    out.append(f"decimal = {_q(mapping.decimal)}  # \".\": 1,234.56   \",\": 1.234,56")
    if mapping.excel_epoch is not None:
        out.append(f"excel_epoch = {mapping.excel_epoch}")
    out += ["", "[columns]"]
    tables: list[str] = []
    for column in TABLES[mapping.table].columns:
        spec = mapping.columns.get(column.name)
        note = mapping.column_notes.get(column.name)
        if spec is None:
            if note:
                out.append(f"# {column.name}: {note}")
            continue
        if spec.is_simple():
            line = f"{column.name} = {_q(spec.source)}"
            out.append(f"{line}  # {note}" if note else line)
        elif spec.source is None and not spec.values:
            line = f"{column.name} = {{ value = {_literal(spec.value)} }}"
            out.append(f"{line}  # {note}" if note else line)
        else:
            tables.append("")
            tables.append(f"[columns.{column.name}]")
            if note:
                tables.append(f"# {note}")
            if spec.source is not None:
                tables.append(f"source = {_q(spec.source)}")
            else:
                tables.append(f"value = {_literal(spec.value)}")
            for key in ("unmapped", "date_order", "decimal", "unit"):
                if getattr(spec, key) is not None:
                    tables.append(f"{key} = {_q(getattr(spec, key))}")
            if spec.lower:
                tables.append("lower = true")
            if spec.values:
                tables.append(f"[columns.{column.name}.values]")
                tables += [f"{_key(k)} = {_q(v)}" for k, v in spec.values.items()]
    return "\n".join(out + tables) + "\n"


# --------------------------------------------------------------------------- #
# Suggesting a mapping
# --------------------------------------------------------------------------- #

# Header names seen in CRM, billing and practice-management exports.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "referrer_id": ("referrer", "referrer ref", "referrer code", "introducer id", "introducer",
                    "source id", "account id", "organisation id", "organization id", "company id",
                    "firm id", "referred by id", "referral source id", "referring firm id"),
    "name": ("referrer name", "account name", "organisation", "organization", "company",
             "company name", "firm", "firm name", "introducer name", "organisation name"),
    "referrer_type": ("type", "referrer category", "category", "account type",
                      "organisation type", "introducer type", "source type"),
    "sector": ("industry", "industry sector"),
    "region": ("area", "territory", "geography"),
    "first_seen_on": ("first seen", "created", "created date", "date created", "first referral",
                      "relationship start", "client since", "since"),
    "contact_id": ("contact", "contact ref", "person id", "individual id", "contact number",
                   "referring contact id"),
    "full_name": ("name", "contact name", "person", "fee earner name", "employee name",
                  "full name", "lawyer name"),
    "job_title": ("title", "position", "role", "job"),
    "from_referrer_id": ("from referrer", "previous firm", "old firm", "from firm",
                         "previous referrer id", "old referrer id", "previous account id",
                         "old account id", "from account id", "previous account"),
    "to_referrer_id": ("to referrer", "new firm", "to firm", "new referrer id", "new account id",
                       "to account id", "new account", "current account id"),
    "moved_on": ("move date", "date moved", "moved", "moved date", "left on"),
    "fee_earner_id": ("fee earner", "fee earner code", "employee id", "staff id", "owner id",
                      "user id", "partner id", "responsible lawyer", "timekeeper id", "lawyer id",
                      "fe id", "fee earner ref", "responsible fee earner", "owner",
                      "opportunity owner", "record owner", "account owner", "deal owner",
                      "lead owner", "matter owner", "activity owner", "responsible partner",
                      "assigned to", "handled by"),
    "team": ("department", "practice group", "practice area", "division", "group", "team name"),
    "office": ("location", "branch", "office name"),
    "grade": ("level", "seniority", "position", "role"),
    "cost_rate": ("cost per hour", "hourly cost", "cost", "cost rate per hour", "loaded cost"),
    "strength": ("relationship strength", "score", "rating", "strength 1 5", "closeness"),
    "since_on": ("since", "known since", "relationship since", "start date", "known from"),
    "last_contact_on": ("last contact", "last contacted", "last activity", "last activity date",
                        "last meeting", "last contact date"),
    "referral_id": ("opportunity id", "lead id", "deal id", "record id", "enquiry id",
                    "inquiry id", "referral ref", "referral number", "id", "referral",
                    "opportunity number"),
    "referred_on": ("referral date", "date referred", "created date", "created", "date received",
                    "received", "enquiry date", "date", "created on", "date of referral"),
    "direction": ("referral direction", "in out", "in or out", "referral type", "flow"),
    "to_team": ("team", "receiving team", "practice area", "department", "to department",
                "receiving department"),
    "from_team": ("referring team", "source team", "from department", "referring department"),
    "client_id": ("client", "client number", "client ref", "customer id", "account number",
                  "client code", "client no", "customer"),
    "work_type": ("matter type", "type of work", "service", "service line", "area of law",
                  "work category", "practice area"),
    "status": ("stage", "outcome", "result", "opportunity stage", "deal stage", "referral status",
               "status reason"),
    "estimated_value": ("estimated fees", "expected fees", "value", "amount", "opportunity amount",
                        "deal value", "expected revenue", "estimate", "fee estimate",
                        "estimated fee", "potential value"),
    "closed_on": ("close date", "closed date", "date closed", "decision date", "won date",
                  "closed"),
    "matter_id": ("matter number", "matter", "matter ref", "matter code", "file number",
                  "case id", "matter no", "case number"),
    "opened_on": ("open date", "date opened", "opened", "instruction date", "matter opened",
                  "opened date", "date instructed"),
    "billed_on": ("bill date", "invoice date", "date billed", "billing date", "date", "billed"),
    "amount": ("fees", "fee", "net amount", "invoice amount", "total", "value", "billed amount",
               "net fees", "amount billed", "fees billed", "net"),
    "activity_id": ("id", "event id", "record id", "activity ref", "activity number"),
    "occurred_on": ("date", "activity date", "event date", "meeting date", "when"),
    "activity_type": ("type", "activity", "event type", "category", "kind"),
    "hours": ("time", "duration", "time spent", "hours spent", "time hh mm", "hrs"),
    "expense": ("expenses", "cost", "spend", "amount spent", "disbursement", "cost gbp",
                "expenditure"),
    "touchpoint_id": ("id", "interaction id", "touch id", "event id"),
    "touched_at": ("date", "timestamp", "date time", "interaction date", "created", "when"),
    "channel": ("source", "medium", "touchpoint type", "interaction type", "lead source"),
    "target_share": ("share", "target", "target percentage", "target mix", "percentage",
                     "target %"),
    "effective_from": ("from", "start date", "effective date", "valid from", "effective"),
}

# Values seen in exports, by contract value. Keys are compared normalised.
VALUE_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "status": {
        "won": ("closed won", "closed - won", "won", "instructed", "converted", "accepted",
                "engaged", "retained", "signed", "matter opened", "successful", "win",
                "instruction received", "closed/won", "taken on"),
        "lost": ("closed lost", "closed - lost", "lost", "not proceeding", "not instructed",
                 "did not proceed", "unsuccessful", "went elsewhere", "no instruction",
                 "closed/lost", "dead", "abandoned", "withdrawn", "cancelled", "canceled",
                 "not proceeded", "lost to competitor"),
        "declined": ("declined", "turned down", "rejected", "conflict", "conflicted",
                     "we declined", "refused", "declined by us", "not accepted"),
        "open": ("open", "pending", "in progress", "new", "qualified", "prospecting",
                 "proposal", "negotiation", "active", "ongoing", "quoted", "proposal sent",
                 "awaiting instructions", "on hold", "contacted", "enquiry", "inquiry"),
    },
    "direction": {
        "inbound": ("inbound", "incoming", "in", "referral in", "received", "referred in",
                    "referred to us", "inward"),
        "outbound": ("outbound", "outgoing", "out", "referral out", "sent", "referred out",
                     "referred by us", "given", "outward"),
        "internal": ("internal", "cross-sell", "cross sell", "cross-referral", "internal referral",
                     "cross referral", "intra-firm"),
    },
    "activity_type": {
        "coffee": ("coffee", "coffee meeting", "breakfast", "catch up", "catch-up"),
        "lunch": ("lunch", "client lunch", "business lunch", "lunch meeting"),
        "seminar": ("seminar", "webinar", "talk", "presentation", "training session"),
        "roundtable": ("roundtable", "round table", "round-table", "panel"),
        "secondment": ("secondment", "secondee"),
        "co-branded event": ("co-branded event", "joint event", "co-hosted event",
                             "co branded event", "cobranded event"),
        "newsletter": ("newsletter", "e-newsletter", "mailing", "email campaign", "bulletin",
                       "mailshot"),
        "social media": ("social media", "linkedin", "social", "twitter", "x post"),
        "hospitality": ("hospitality", "dinner", "sports event", "tickets", "drinks",
                        "corporate hospitality", "box"),
    },
    "channel": {
        "referral": ("referral", "referred", "introduction", "introducer"),
        "event": ("event", "events", "conference"),
        "seminar": ("seminar", "webinar"),
        "newsletter": ("newsletter", "email", "e-mail", "mailing", "email campaign"),
        "website": ("website", "web", "web form", "organic search", "google", "online"),
        "social media": ("social media", "linkedin", "social", "twitter"),
        "fee earner": ("fee earner", "partner", "personal contact", "existing relationship"),
        "directory": ("directory", "legal 500", "chambers", "directories"),
    },
}

# Free-text category columns whose contract examples are lower case.
LOWER_CASE = {"referrer_type", "team", "from_team", "to_team", "work_type", "grade",
              "activity_type", "channel"}

_MAX_SAMPLE = 300
_THRESHOLD = 0.55


def _header_key(text: str) -> str:
    text = normalise(text)
    text = re.sub(r"\((?:gbp|£|eur|usd|\$|€|%)\)|£|€|\$", " ", text)
    text = text.replace("#", " number ").replace("no.", "number")
    text = re.sub(r"[_\-/.:()\[\]]+", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def _name_score(header: str, column: str) -> float:
    key = _header_key(header)
    if not key:
        return 0.0
    own = column.replace("_", " ")
    if key == own:
        return 1.0
    synonyms = SYNONYMS.get(column, ())
    if key in synonyms:
        return 0.95
    ratio = max(difflib.SequenceMatcher(None, key, c).ratio() for c in (own, *synonyms))
    return 0.9 * ratio


def value_lookup(column: str) -> dict[str, str]:
    return {normalise(s): target for target, words in VALUE_SYNONYMS.get(column, {}).items()
            for s in words}


def _contained(key: str, column: str) -> str | None:
    """'sports hospitality' -> 'hospitality': a known value named inside a longer one."""
    words = f" {re.sub(r'[^a-z0-9]+', ' ', key)} "
    hits = {target for target in VALUE_SYNONYMS.get(column, {})
            if f" {re.sub(r'[^a-z0-9]+', ' ', target)} " in words}
    return hits.pop() if len(hits) == 1 else None


def _fit(column: Column, values: list[object], date_order: str, decimal: str) -> float:
    """Share of the sample values that the contract column could take."""
    if not values:
        return 0.0
    kind = column_kind(column)
    ok = 0
    for value in values:
        try:
            if kind in ("date", "timestamp"):
                parse_date(value, date_order)
            elif kind == "number":
                parse_number(value, decimal)
            elif kind == "duration":
                parse_duration(value, decimal)
            elif kind == "integer":
                parse_integer(value, decimal)
            elif kind == "enum":
                text = normalise(cell_text(value))
                if text not in column.enum and text not in value_lookup(column.name):
                    continue
            else:
                if column.name.endswith("_id") and isinstance(value, str) and len(value.split()) > 3:
                    continue  # sentences are not ids
                if _looks_like_date_or_amount(value):
                    ok += 0.5
                    continue
            ok += 1
        except BadValue:
            pass
    return ok / len(values)


def _looks_like_date_or_amount(value: object) -> bool:
    from datetime import date

    if isinstance(value, date):
        return True
    return isinstance(value, str) and bool(re.match(r"^[£$€(-]?\s*\d[\d,.]*\d\)?$", value.strip())) \
        and ("," in value or "." in value)


def _detect_date_order(values: list[object]) -> tuple[str, bool]:
    """(order, certain) from text dates like 03/04/2025: a first part > 12 means day first."""
    first = second = False
    for value in values:
        if not isinstance(value, str):
            continue
        m = re.match(r"^\s*(\d{1,2})[-/.](\d{1,2})[-/.]\d{2,4}\b", value)
        if m:
            first |= int(m[1]) > 12
            second |= int(m[2]) > 12
    if first and not second:
        return "dmy", True
    if second and not first:
        return "mdy", True
    return "dmy", False


def _detect_decimal(values: list[object], delimiter: str | None) -> str:
    dot = comma = 0
    for value in values:
        if not isinstance(value, str) or not re.search(r"\d", value):
            continue
        try:
            parse_number(value, ".")
            dot_ok = True
        except BadValue:
            dot_ok = False
        try:
            parse_number(value, ",")
            comma_ok = True
        except BadValue:
            comma_ok = False
        if dot_ok and not comma_ok:
            dot += 1
        elif comma_ok and not dot_ok:
            comma += 1
    if comma > dot or (comma == dot == 0 and delimiter == ";"):
        return ","
    return "."


def suggest_mapping(
    table: str,
    header: list[object],
    rows: list[list[object]],
    sheet: str | None = None,
    delimiter: str | None = None,
    distinct: dict[int, Counter] | None = None,
) -> Mapping:
    """A mapping proposal from the header cells and (a sample of) the data rows below them.

    `distinct` optionally holds, per source column index, the count of every
    value in the whole file, for the value maps of enumerated columns.
    """
    contract = TABLES[table]
    headers = [(i, cell_text(h).strip()) for i, h in enumerate(header) if cell_text(h).strip()]
    sample = rows[:_MAX_SAMPLE]
    columns_values = {
        i: [r[i] for r in sample if i < len(r) and not is_blank(r[i])] for i, _ in headers
    }
    numeric_text = [v for vals in columns_values.values() for v in vals if isinstance(v, str)]
    decimal = _detect_decimal(numeric_text, delimiter)
    # No header_row: the mapping finds its header by the column names, so it
    # still fits next month's export with one more title line.
    mapping = Mapping(table, sheet=sheet, decimal=decimal)

    orders: dict[int, tuple[str, bool]] = {
        i: _detect_date_order(vals) for i, vals in columns_values.items()
    }
    scored = []
    for column in contract.columns:
        for i, name in headers:
            score = _name_score(name, column.name)
            if score < 0.4:
                continue
            vals = columns_values[i]
            if vals:
                score *= 0.4 + 0.6 * _fit(column, vals, orders[i][0], decimal)
            else:
                score *= 0.7
            scored.append((score, column.name, i, name))
    scored.sort(key=lambda s: (-s[0], [c.name for c in contract.columns].index(s[1]), s[2]))
    used_sources: set[int] = set()
    chosen: dict[str, tuple[int, str, float]] = {}
    for score, target, i, name in scored:
        if score < _THRESHOLD or target in chosen or i in used_sources:
            continue
        chosen[target] = (i, name, score)
        used_sources.add(i)

    date_orders = []
    for column in contract.columns:
        if column.name not in chosen:
            if not column.nullable:
                hint = ('{ value = "inbound" } if every row is an inbound referral'
                        if column.name == "direction" else '"<source column>"')
                mapping.column_notes[column.name] = (
                    f"REQUIRED, no source column found: add {column.name} = {hint}"
                )
            continue
        i, name, score = chosen[column.name]
        spec = ColumnSpec(column.name, source=name)
        notes = []
        if score < 0.8:
            notes.append(f"a guess (match {score:.0%}): check it")
        kind = column_kind(column)
        if kind in ("date", "timestamp"):
            order, certain = orders[i]
            date_orders.append((order, certain, spec))
            if not certain and any(isinstance(v, str) for v in columns_values[i]):
                notes.append("day-first assumed: no day above 12 in the sample")
        if column.name in VALUE_SYNONYMS or kind == "enum":
            counts = (distinct or {}).get(i) or Counter(
                cell_text(v).strip() for v in columns_values[i]
            )
            lookup = value_lookup(column.name)
            unknown, seen = [], set()
            for raw in sorted(counts, key=lambda k: (-counts[k], k)):
                key = normalise(raw)
                if not key or key in seen or (column.enum and key in column.enum):
                    continue  # contract values are taken in any case
                seen.add(key)
                target = lookup.get(key)
                if target is None and not column.enum:
                    target = _contained(key, column.name)
                if target is None:
                    unknown.append(raw)
                elif target != key:
                    spec.values[raw] = target
            if unknown:
                shown = ", ".join(repr(u) for u in unknown[:8])
                more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
                if column.enum:
                    notes.append(f"not mapped, rows quarantined until you add them: {shown}{more}")
                else:
                    notes.append(f"kept as written: {shown}{more}")
        if column.name in LOWER_CASE and any(
            isinstance(v, str) and v != v.lower() for v in columns_values[i]
        ):
            spec.lower = True
        if notes:
            mapping.column_notes[column.name] = "; ".join(notes)
        mapping.columns[column.name] = spec

    certain = Counter(order for order, sure, _ in date_orders if sure)
    mapping.date_order = certain.most_common(1)[0][0] if certain else "dmy"
    for order, sure, spec in date_orders:
        if sure and order != mapping.date_order:
            spec.date_order = order
    unused = [name for i, name in headers if i not in used_sources]
    if unused:
        mapping.notes.append("source columns not used: " + ", ".join(repr(u) for u in unused))
    return mapping
