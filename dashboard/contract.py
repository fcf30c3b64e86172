"""The data contract (shared/spec/data-contract.md) as data: tables, columns, rules.

Everything that needs to know the shape of the Parquet extracts (loading,
checking, the sample generator, importers) reads it from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VARCHAR = "VARCHAR"
DATE = "DATE"
TIMESTAMP = "TIMESTAMP"
DOUBLE = "DOUBLE"
INTEGER = "INTEGER"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = False
    enum: tuple[str, ...] | None = None
    references: tuple[str, str] | None = None  # (table, column)


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: str | None = None
    # Rows are named by the primary key in messages; tables without one
    # fall back to the row number.
    # Files are written in this order (the generator, the importer), so that a
    # query's window skips whole Parquet row groups by their date range.
    sort_by: tuple[str, ...] = field(default=())

    @property
    def file_name(self) -> str:
        return f"{self.name}.parquet"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _c(name, type_, nullable=False, enum=None, references=None) -> Column:
    return Column(name, type_, nullable, enum, references)


DIRECTIONS = ("inbound", "outbound", "internal")
STATUSES = ("open", "won", "lost", "declined")
OUTBOUND_STATUSES = ("open", "won")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "referrers",
            (
                _c("referrer_id", VARCHAR),
                _c("name", VARCHAR),
                _c("referrer_type", VARCHAR),
                _c("sector", VARCHAR, True),
                _c("region", VARCHAR, True),
                _c("first_seen_on", DATE, True),
            ),
            primary_key="referrer_id",
        ),
        Table(
            "contacts",
            (
                _c("contact_id", VARCHAR),
                _c("referrer_id", VARCHAR, references=("referrers", "referrer_id")),
                _c("full_name", VARCHAR),
                _c("job_title", VARCHAR, True),
            ),
            primary_key="contact_id",
        ),
        Table(
            "contact_moves",
            (
                _c("contact_id", VARCHAR, references=("contacts", "contact_id")),
                _c("from_referrer_id", VARCHAR, references=("referrers", "referrer_id")),
                _c("to_referrer_id", VARCHAR, references=("referrers", "referrer_id")),
                _c("moved_on", DATE),
            ),
        ),
        Table(
            "fee_earners",
            (
                _c("fee_earner_id", VARCHAR),
                _c("full_name", VARCHAR),
                _c("team", VARCHAR),
                _c("office", VARCHAR),
                _c("grade", VARCHAR),
                _c("cost_rate", DOUBLE),
            ),
            primary_key="fee_earner_id",
        ),
        Table(
            "relationships",
            (
                _c("fee_earner_id", VARCHAR, references=("fee_earners", "fee_earner_id")),
                _c("contact_id", VARCHAR, references=("contacts", "contact_id")),
                _c("strength", INTEGER),
                _c("since_on", DATE, True),
                _c("last_contact_on", DATE, True),
            ),
        ),
        Table(
            "referrals",
            (
                _c("referral_id", VARCHAR),
                _c("referred_on", DATE),
                _c("direction", VARCHAR, enum=DIRECTIONS),
                # required for inbound and outbound: checked as a rule, not here
                _c("referrer_id", VARCHAR, True, references=("referrers", "referrer_id")),
                _c("contact_id", VARCHAR, True, references=("contacts", "contact_id")),
                _c("fee_earner_id", VARCHAR, references=("fee_earners", "fee_earner_id")),
                _c("from_team", VARCHAR, True),
                _c("to_team", VARCHAR),
                _c("client_id", VARCHAR),
                _c("work_type", VARCHAR),
                _c("status", VARCHAR, enum=STATUSES),
                _c("estimated_value", DOUBLE, True),
                _c("closed_on", DATE, True),
            ),
            primary_key="referral_id",
            sort_by=("referred_on", "referral_id"),
        ),
        Table(
            "matters",
            (
                _c("matter_id", VARCHAR),
                _c("client_id", VARCHAR),
                _c("team", VARCHAR),
                _c("work_type", VARCHAR),
                _c("opened_on", DATE),
                _c("referral_id", VARCHAR, True, references=("referrals", "referral_id")),
            ),
            primary_key="matter_id",
            sort_by=("opened_on", "matter_id"),
        ),
        Table(
            "fees",
            (
                _c("matter_id", VARCHAR, references=("matters", "matter_id")),
                _c("billed_on", DATE),
                _c("amount", DOUBLE),
            ),
            sort_by=("billed_on", "matter_id"),
        ),
        Table(
            "activities",
            (
                _c("activity_id", VARCHAR),
                _c("occurred_on", DATE),
                _c("referrer_id", VARCHAR, references=("referrers", "referrer_id")),
                _c("contact_id", VARCHAR, True, references=("contacts", "contact_id")),
                _c("fee_earner_id", VARCHAR, references=("fee_earners", "fee_earner_id")),
                _c("activity_type", VARCHAR),
                _c("hours", DOUBLE),
                _c("expense", DOUBLE),
            ),
            primary_key="activity_id",
            sort_by=("occurred_on", "activity_id"),
        ),
        Table(
            "touchpoints",
            (
                _c("touchpoint_id", VARCHAR),
                _c("client_id", VARCHAR),
                _c("touched_at", TIMESTAMP),
                _c("channel", VARCHAR),
                _c("referrer_id", VARCHAR, True, references=("referrers", "referrer_id")),
            ),
            primary_key="touchpoint_id",
            sort_by=("touched_at", "touchpoint_id"),
        ),
        Table(
            "work_type_targets",
            (
                _c("work_type", VARCHAR),
                _c("target_share", DOUBLE),
                _c("effective_from", DATE),
            ),
        ),
    )
}

TABLE_NAMES: tuple[str, ...] = tuple(TABLES)


def arrow_schema(table: str):
    """The exact Arrow schema of a contract table, for writers (sample, import, fixtures)."""
    import pyarrow as pa

    types = {
        VARCHAR: pa.string(),
        DATE: pa.date32(),
        TIMESTAMP: pa.timestamp("us"),
        DOUBLE: pa.float64(),
        INTEGER: pa.int32(),
    }
    return pa.schema([pa.field(c.name, types[c.type], nullable=c.nullable) for c in TABLES[table].columns])
