"""The edit store: the only writer of what people decide in the app.

What the board decides is not in the extracts, so it is kept here: tier
assignments, the target mix of new work, referrer plans (with their next
steps and stage in the strategic referral process), SMART KPIs and the
"loop closed" marks of inbound referrals (architecture.md). Each kind of edit
is an **append-only history table** (who, when, from what, to what, why)
and a **current view** over it with a **version number** per key:

- a save names the version it was made from (``expected_version``; 0 for
  "never saved"); when the current version differs, the save is refused
  with :class:`StoreConflict` ("changed by X at T, reload"), never
  overwritten. A unique (key, version) constraint refuses the second of two
  racing saves on any database.
- every save is one transaction, a bulk save too (all or nothing). On
  SQLite the transaction starts with ``BEGIN IMMEDIATE`` and the file is in
  WAL mode with ``synchronous=FULL``, so a crash or ``kill -9`` during a
  save leaves the old or the new state, never a broken file.
- the schema is created and upgraded by the Alembic migrations in
  ``dashboard/migrations/`` when a store is opened.

Where: ``--state`` or the environment variable ``REFPORT_STATE``, a path
(SQLite) or an SQLAlchemy URL (``postgresql+psycopg://user@host/refport``
for a shared deployment); default ``<data dir>.refport-state.db`` next to
the data directory (``data/sample`` → ``data/sample.refport-state.db``).

Reads return small DataFrames; :func:`query_tables` hands the current views
and the programme levels to named queries (registered on the DuckDB cursor).
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

ENV = "REFPORT_STATE"
STATE_SUFFIX = ".refport-state.db"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 15_000
LEVELS = (1, 2, 3, 4)
SHARE_TOLERANCE = 1e-6

# The tables named queries can read (registered on the DuckDB cursor).
QUERY_TABLES = ("tier_assignments_current", "target_mix_current", "programme_levels", "programme_menu",
                "plans_current", "plan_steps_current", "plan_stages", "kpis_current", "loop_closed_current")

# The stages of the strategic referral process (shared/domain/strategic-referrals.txt), in order.
STAGES: tuple[tuple[str, str], ...] = (
    ("connection", "Connection"),
    ("getting_to_know", "Getting to know each other"),
    ("whys_and_why_nots", "Understanding the whys and why-nots"),
    ("agreement", "Agreement"),
    ("implementation", "Implementation"),
)
KPI_SCOPES = ("firm", "level", "team", "referrer_type", "referrer")
# Who may change what once sign-in is configured (dashboard/auth.py): viewers read, editors change the
# board's edits and import data, admins also give roles.
ROLES = ("viewer", "editor", "admin")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class StoreConflict(Exception):
    """A save made from a version that is no longer current: reload, then decide again."""

    def __init__(self, message: str, keys: Iterable[object] = ()) -> None:
        super().__init__(message)
        self.keys = tuple(keys)


class StoreError(RuntimeError):
    """The store cannot be opened or used (not a refport store, written by a newer refport...)."""


# --- where the store lives ---------------------------------------------------------------


def default_state_path(data_dir: str | Path) -> Path:
    """``data/sample`` → ``data/sample.refport-state.db`` (beside the data directory, git-ignored)."""
    path = Path(data_dir).resolve()
    return path.parent / f"{path.name}{STATE_SUFFIX}"


def state_url(state: str | Path | None = None, data_dir: str | Path | None = None) -> str:
    """The store's SQLAlchemy URL from ``--state``, else ``REFPORT_STATE``, else beside the data."""
    value = str(state) if state else os.environ.get(ENV, "")
    if not value:
        from dashboard.data import resolve_data_dir

        value = str(default_state_path(resolve_data_dir(data_dir)))
    if "://" in value:
        return value
    return "sqlite:///" + str(Path(value).expanduser().resolve())


_SECRET_QUERY_KEYS = {"password", "passwd", "pwd", "secret", "token", "sslpassword", "access_token"}


def shown_url(url: str | sa.URL) -> str:
    """A store URL fit to show on a page or in a log: the password masked, in ``user:password@`` and in
    query parameters such as ``?password=`` (which SQLAlchemy's own masking leaves)."""
    parsed = sa.engine.make_url(url) if isinstance(url, str) else url
    secret = [key for key in parsed.query if key.lower() in _SECRET_QUERY_KEYS]
    if secret:
        parsed = parsed.update_query_dict({key: "hidden" for key in secret})
    return parsed.render_as_string(hide_password=True)


# --- schema (as the migrations create it; for typed reads and writes) ---------------------

_meta = sa.MetaData()

tier_assignment_history = sa.Table(
    "tier_assignment_history", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("referrer_id", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("level", sa.Integer),
    sa.Column("previous_level", sa.Integer),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

tier_assignments_current = sa.Table(
    "tier_assignments_current", _meta,
    sa.Column("referrer_id", sa.String(200)),
    sa.Column("assigned_level", sa.Integer),
    sa.Column("assigned_by", sa.String(200)),
    sa.Column("assigned_at", sa.DateTime),
    sa.Column("reason", sa.Text),
    sa.Column("version", sa.Integer),
)

target_mix_history = sa.Table(
    "target_mix_history", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("effective_from", sa.Date, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("retired", sa.Boolean, nullable=False),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

target_mix_share_history = sa.Table(
    "target_mix_share_history", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("mix_id", sa.Integer, nullable=False),
    sa.Column("work_type", sa.String(200), nullable=False),
    sa.Column("target_share", sa.Float, nullable=False),
)

target_mix_current = sa.Table(
    "target_mix_current", _meta,
    sa.Column("work_type", sa.String(200)),
    sa.Column("target_share", sa.Float),
    sa.Column("effective_from", sa.Date),
    sa.Column("version", sa.Integer),
    sa.Column("changed_by", sa.String(200)),
    sa.Column("changed_at", sa.DateTime),
    sa.Column("reason", sa.Text),
)

plan_history = sa.Table(
    "plan_history", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("referrer_id", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("partner", sa.String(200)),
    sa.Column("aims", sa.Text),
    sa.Column("activities", sa.Text, nullable=False),
    sa.Column("stage", sa.String(40)),
    sa.Column("notes", sa.Text),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
)

plan_step_history = sa.Table(
    "plan_step_history", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("plan_id", sa.Integer, nullable=False),
    sa.Column("step_no", sa.Integer, nullable=False),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("due_on", sa.Date, nullable=False),
    sa.Column("done", sa.Boolean, nullable=False),
    sa.Column("done_on", sa.Date),
)

plans_current = sa.Table(
    "plans_current", _meta,
    sa.Column("plan_id", sa.Integer),
    sa.Column("referrer_id", sa.String(200)),
    sa.Column("partner", sa.String(200)),
    sa.Column("aims", sa.Text),
    sa.Column("activities", sa.Text),
    sa.Column("stage", sa.String(40)),
    sa.Column("notes", sa.Text),
    sa.Column("version", sa.Integer),
    sa.Column("changed_by", sa.String(200)),
    sa.Column("changed_at", sa.DateTime),
)

plan_steps_current = sa.Table(
    "plan_steps_current", _meta,
    sa.Column("referrer_id", sa.String(200)),
    sa.Column("step_no", sa.Integer),
    sa.Column("action", sa.Text),
    sa.Column("owner", sa.String(200)),
    sa.Column("due_on", sa.Date),
    sa.Column("done", sa.Boolean),
    sa.Column("done_on", sa.Date),
    sa.Column("plan_version", sa.Integer),
)


def _kpi_columns() -> tuple[sa.Column, ...]:
    """The KPI's own columns, shared by the history table and the current view."""
    return (
        sa.Column("name", sa.Text),
        sa.Column("measure", sa.String(60)),
        sa.Column("scope_kind", sa.String(20)),
        sa.Column("scope_value", sa.String(200)),
        sa.Column("target", sa.Float),
        sa.Column("start_on", sa.Date),
        sa.Column("deadline", sa.Date),
        sa.Column("owner", sa.String(200)),
        sa.Column("baseline", sa.Float),
        sa.Column("baseline_on", sa.Date),
        sa.Column("status", sa.String(10)),
        sa.Column("final_value", sa.Float),
        sa.Column("final_on", sa.Date),
    )


kpi_history = sa.Table(
    "kpi_history", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kpi_id", sa.String(40), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    *_kpi_columns(),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    sa.Column("reason", sa.Text),
)

kpis_current = sa.Table(
    "kpis_current", _meta,
    sa.Column("kpi_id", sa.String(40)),
    *_kpi_columns(),
    sa.Column("version", sa.Integer),
    sa.Column("created_by", sa.String(200)),
    sa.Column("created_at", sa.DateTime),
    sa.Column("changed_by", sa.String(200)),
    sa.Column("changed_at", sa.DateTime),
    sa.Column("reason", sa.Text),
)

loop_closed_history = sa.Table(
    "loop_closed_history", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("referral_id", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("told_on", sa.Date),
    sa.Column("note", sa.Text),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
)

loop_closed_current = sa.Table(
    "loop_closed_current", _meta,
    sa.Column("referral_id", sa.String(200)),
    sa.Column("told_on", sa.Date),
    sa.Column("note", sa.Text),
    sa.Column("told_by", sa.String(200)),
    sa.Column("told_at", sa.DateTime),
    sa.Column("version", sa.Integer),
)

role_history = sa.Table(
    "role_history", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(200), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("role", sa.String(10), nullable=False),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
)

roles_current = sa.Table(
    "roles_current", _meta,
    sa.Column("email", sa.String(200)),
    sa.Column("role", sa.String(10)),
    sa.Column("version", sa.Integer),
    sa.Column("changed_by", sa.String(200)),
    sa.Column("changed_at", sa.DateTime),
    sa.Column("reason", sa.Text),
)

import_log = sa.Table(
    "import_log", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.String(60), nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("accepted", sa.Integer, nullable=False),
    sa.Column("quarantined", sa.Integer, nullable=False),
    sa.Column("skipped", sa.Integer, nullable=False),
    sa.Column("changed_by", sa.String(200), nullable=False),
    sa.Column("changed_at", sa.DateTime, nullable=False),
)

# Column types of the frames the store returns (pandas) and hands to DuckDB (Arrow).
_TIER_CURRENT = pa.schema([
    ("referrer_id", pa.string()), ("assigned_level", pa.int64()), ("assigned_by", pa.string()),
    ("assigned_at", pa.timestamp("us")), ("reason", pa.string()), ("version", pa.int64()),
])
_TIER_HISTORY = pa.schema([
    ("referrer_id", pa.string()), ("version", pa.int64()), ("level", pa.int64()),
    ("previous_level", pa.int64()), ("changed_by", pa.string()), ("changed_at", pa.timestamp("us")),
    ("reason", pa.string()),
])
_MIX_CURRENT = pa.schema([
    ("work_type", pa.string()), ("target_share", pa.float64()), ("effective_from", pa.date32()),
    ("version", pa.int64()), ("changed_by", pa.string()), ("changed_at", pa.timestamp("us")),
    ("reason", pa.string()),
])
_MIX_HISTORY = pa.schema([
    ("effective_from", pa.date32()), ("version", pa.int64()), ("retired", pa.bool_()),
    ("work_type", pa.string()), ("target_share", pa.float64()), ("changed_by", pa.string()),
    ("changed_at", pa.timestamp("us")), ("reason", pa.string()),
])


_PLAN_CURRENT = pa.schema([
    ("referrer_id", pa.string()), ("partner", pa.string()), ("aims", pa.string()),
    ("activities", pa.string()), ("stage", pa.string()), ("notes", pa.string()), ("version", pa.int64()),
    ("changed_by", pa.string()), ("changed_at", pa.timestamp("us")),
])
_STEP_CURRENT = pa.schema([
    ("referrer_id", pa.string()), ("step_no", pa.int64()), ("action", pa.string()), ("owner", pa.string()),
    ("due_on", pa.date32()), ("done", pa.bool_()), ("done_on", pa.date32()), ("plan_version", pa.int64()),
])
_PLAN_HISTORY = pa.schema([
    ("referrer_id", pa.string()), ("version", pa.int64()), ("stage", pa.string()), ("partner", pa.string()),
    ("steps", pa.int64()), ("open_steps", pa.int64()), ("changes", pa.string()),
    ("changed_by", pa.string()), ("changed_at", pa.timestamp("us")),
])
_STAGES = pa.schema([("stage", pa.string()), ("stage_order", pa.int64()), ("stage_label", pa.string())])
_KPI_FIELDS = [
    ("name", pa.string()), ("measure", pa.string()), ("scope_kind", pa.string()), ("scope_value", pa.string()),
    ("target", pa.float64()), ("start_on", pa.date32()), ("deadline", pa.date32()), ("owner", pa.string()),
    ("baseline", pa.float64()), ("baseline_on", pa.date32()), ("status", pa.string()),
    ("final_value", pa.float64()), ("final_on", pa.date32()),
]
_KPI_CURRENT = pa.schema([
    ("kpi_id", pa.string()), *_KPI_FIELDS, ("version", pa.int64()), ("created_by", pa.string()),
    ("created_at", pa.timestamp("us")), ("changed_by", pa.string()), ("changed_at", pa.timestamp("us")),
    ("reason", pa.string()),
])
_KPI_HISTORY = pa.schema([
    ("kpi_id", pa.string()), ("version", pa.int64()), *_KPI_FIELDS, ("changed_by", pa.string()),
    ("changed_at", pa.timestamp("us")), ("reason", pa.string()),
])
_LOOP_CURRENT = pa.schema([
    ("referral_id", pa.string()), ("told_on", pa.date32()), ("note", pa.string()), ("told_by", pa.string()),
    ("told_at", pa.timestamp("us")), ("version", pa.int64()),
])
_LOOP_HISTORY = pa.schema([
    ("referral_id", pa.string()), ("version", pa.int64()), ("told_on", pa.date32()), ("note", pa.string()),
    ("changed_by", pa.string()), ("changed_at", pa.timestamp("us")),
])
_ROLE_CURRENT = pa.schema([
    ("email", pa.string()), ("role", pa.string()), ("version", pa.int64()), ("changed_by", pa.string()),
    ("changed_at", pa.timestamp("us")), ("reason", pa.string()),
])
_ROLE_HISTORY = pa.schema([
    ("email", pa.string()), ("version", pa.int64()), ("role", pa.string()), ("changed_by", pa.string()),
    ("changed_at", pa.timestamp("us")), ("reason", pa.string()),
])
_IMPORTS = pa.schema([
    ("changed_at", pa.timestamp("us")), ("changed_by", pa.string()), ("table_name", pa.string()),
    ("file_name", pa.string()), ("target", pa.string()), ("rows_read", pa.int64()), ("accepted", pa.int64()),
    ("quarantined", pa.int64()), ("skipped", pa.int64()),
])


def _arrow(rows: list[Mapping[str, object]], schema: pa.Schema) -> pa.Table:
    return pa.table({f.name: pa.array([r[f.name] for r in rows], type=f.type) for f in schema}, schema=schema)


def _frame(rows: list[Mapping[str, object]], schema: pa.Schema) -> pd.DataFrame:
    """Plain pandas types: text as str, whole numbers as Int64 (nullable), times as datetime64."""
    from dashboard.registry import to_frame

    return to_frame(_arrow(rows, schema))


# --- values people give ---------------------------------------------------------------------


def _required(text: object, what: str, hint: str) -> str:
    value = "" if text is None else str(text).strip()
    if not value:
        raise ValueError(f"{what} is required: {hint}")
    if what.startswith("who") and len(value) > 200:
        raise ValueError(f"{what} is too long ({len(value)} characters; at most 200)")
    return value


def _by(by: object) -> str:
    return _required(by, "who is making the change", "give a name (the 'Editing as' box, or --by)")


def _reason(reason: object) -> str:
    return _required(reason, "a reason", "say why, for the audit trail (the reason box, or --reason)")


def _whole_number(value: object) -> int | None:
    """An int for 4, 4.0, "4" or numpy's 4; None for anything else (True included)."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)  # type: ignore[call-overload]
        return number if float(value) == number else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def check_level(level: object) -> int | None:
    """1-4, or None for "unassigned"; anything else is a ValueError that says what is allowed."""
    if level is None or level is pd.NA or (isinstance(level, float) and math.isnan(level)):
        return None
    number = _whole_number(level)
    if number not in LEVELS:
        raise ValueError(f"level must be 1, 2, 3, 4 or None (unassigned), got {level!r}")
    return number


def _referrer_id(referrer_id: object) -> str:
    value = "" if referrer_id is None else str(referrer_id).strip()
    if not value:
        raise ValueError("a referrer id is required")
    return value


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC" if at else "an unknown time"


def _level_text(level: int | None) -> str:
    return "unassigned" if level is None else f"Level {level}"


def _as_date(value: object, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(f"{what} must be a date (YYYY-MM-DD), got {value!r}") from None


def check_target_mix(effective_from: object, shares: Mapping[str, object]) -> dict[str, float]:
    """Shares between 0 and 1, one per work type, summing to 1; else a ValueError naming the date."""
    day = _as_date(effective_from, "effective_from")
    if not shares:
        raise ValueError(f"the target mix from {day} has no work types; give at least one share")
    clean: dict[str, float] = {}
    for work_type, share in shares.items():
        name = "" if work_type is None else str(work_type).strip()
        if not name:
            raise ValueError(f"the target mix from {day} has a share without a work type")
        if name in clean:
            raise ValueError(f"the target mix from {day} gives work type {name!r} twice")
        try:
            value = float(share)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            value = math.nan
        if not math.isfinite(value) or not 0 <= value <= 1:
            raise ValueError(
                f"the target share of {name!r} from {day} must be between 0 and 1 (e.g. 0.25 for 25%), "
                f"got {share!r}"
            )
        clean[name] = value
    total = sum(clean.values())
    if abs(total - 1) > SHARE_TOLERANCE:
        raise ValueError(
            f"the target shares from {day} sum to {total:.4g} ({total:.2%}); they must sum to 1 (100%)"
        )
    return clean


def _text(value: object) -> str | None:
    """Stripped text, None for nothing (None, NaN, blanks)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _optional_date(value: object, what: str) -> date | None:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return _as_date(value, what)


def _number(value: object, what: str) -> float:
    if isinstance(value, bool):
        value = None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a number, got {value!r}")
    return number


def _today() -> date:
    return _utc_now().date()


def stage_label(stage: object) -> str:
    """'3 · Understanding the whys and why-nots'; 'Not in the pipeline' for no stage."""
    for order, (key, label) in enumerate(STAGES, start=1):
        if stage == key:
            return f"{order} · {label}"
    return "Not in the pipeline"


def check_email(email: object) -> str:
    """An e-mail address as roles are keyed: stripped and lower-case; a ValueError says what is wrong."""
    value = _required(email, "an e-mail address", "give the person's sign-in e-mail, e.g. ann@firm.com").lower()
    if not _EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an e-mail address (name@domain, no spaces)")
    if len(value) > 200:
        raise ValueError(f"the e-mail address is too long ({len(value)} characters; at most 200)")
    return value


def check_role(role: object) -> str:
    value = _text(role)
    if value is None or value.lower() not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    return value.lower()


def check_stage(stage: object) -> str | None:
    """A stage key (connection ... implementation), or None for "not in the pipeline"."""
    text = _text(stage)
    if text is None:
        return None
    for order, (key, label) in enumerate(STAGES, start=1):
        if text.lower() in (key, label.lower(), f"{order} · {label}".lower(), str(order)):
            return key
    allowed = ", ".join(key for key, _ in STAGES)
    raise ValueError(f"stage must be one of {allowed} (or none), got {stage!r}")


# --- the store --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierChange:
    """One referrer's new level, and the version the person saw (None: no conflict check)."""

    referrer_id: str
    level: int | None
    expected_version: int | None = None


@dataclass(frozen=True)
class Assignment:
    """A referrer's level as saved (one history row)."""

    referrer_id: str
    level: int | None
    previous_level: int | None
    version: int
    changed_by: str
    changed_at: datetime
    reason: str


@dataclass(frozen=True)
class PlanStep:
    """A next step of a referrer's plan. ``step_no`` None: a new step (the store numbers it);
    ``done_on`` is set by the store to the day a step is first saved as done, unless given."""

    action: str
    owner: str
    due_on: date
    done: bool = False
    step_no: int | None = None
    done_on: date | None = None


@dataclass(frozen=True)
class Plan:
    """A referrer's plan as saved (version 0: never saved)."""

    referrer_id: str
    partner: str | None = None
    aims: str | None = None
    activities: tuple[str, ...] = ()
    stage: str | None = None
    notes: str | None = None
    steps: tuple[PlanStep, ...] = ()
    version: int = 0
    changed_by: str | None = None
    changed_at: datetime | None = None

    def content(self) -> tuple:
        """What a person decides (not who or when): two plans with the same content are the same plan."""
        steps = tuple((s.step_no, s.action, s.owner, s.due_on, s.done, s.done_on) for s in self.steps)
        return (self.partner, self.aims, self.activities, self.stage, self.notes, steps)


@dataclass(frozen=True)
class Kpi:
    """A KPI as saved (its current version)."""

    kpi_id: str
    name: str | None
    measure: str
    scope_kind: str
    scope_value: str | None
    target: float
    start_on: date
    deadline: date
    owner: str
    baseline: float | None
    baseline_on: date
    status: str
    final_value: float | None
    final_on: date | None
    version: int
    created_by: str
    created_at: datetime
    changed_by: str
    changed_at: datetime
    reason: str | None


def check_plan(plan: Plan) -> Plan:
    """The plan with its texts stripped, stage and steps checked; a ValueError says which step is wrong."""
    referrer_id = _referrer_id(plan.referrer_id)
    activities: list[str] = []
    for activity in plan.activities or ():
        text = _text(activity)
        if text and text not in activities:
            activities.append(text)
    steps = []
    for position, step in enumerate(plan.steps or (), start=1):
        where = f"next step {position} of the plan for {referrer_id}"
        action = _text(step.action)
        if action is None:
            raise ValueError(f"{where} has no action: say what is to be done")
        owner = _text(step.owner)
        if owner is None:
            raise ValueError(f"{where} ({action!r}) has no owner: name who will do it")
        if len(owner) > 200:
            raise ValueError(f"{where}: the owner is too long ({len(owner)} characters; at most 200)")
        due_on = _optional_date(step.due_on, f"the due date of {where}")
        if due_on is None:
            raise ValueError(f"{where} ({action!r}) has no due date: give one (YYYY-MM-DD)")
        number = None if step.step_no is None or step.step_no is pd.NA else _whole_number(step.step_no)
        if step.step_no is not None and step.step_no is not pd.NA and (number is None or number < 1):
            raise ValueError(f"{where}: step numbers are whole numbers from 1, got {step.step_no!r}")
        steps.append(PlanStep(action, owner, due_on, bool(step.done), number,
                              _optional_date(step.done_on, f"the done date of {where}")))
    numbers = [s.step_no for s in steps if s.step_no is not None]
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"the plan for {referrer_id} gives a step number twice")
    partner = _text(plan.partner)
    if partner and len(partner) > 200:
        raise ValueError(f"the relationship partner is too long ({len(partner)} characters; at most 200)")
    return replace(plan, referrer_id=referrer_id, partner=partner, aims=_text(plan.aims),
                   activities=tuple(activities), stage=check_stage(plan.stage), notes=_text(plan.notes),
                   steps=tuple(steps))


def _plan_changes(previous: Plan | None, plan: Plan) -> str:
    """What a plan version changed, in words (for the history)."""
    if previous is None:
        parts = ["plan started"]
        if plan.stage:
            parts.append(f"stage {STAGES_BY_KEY[plan.stage]}")
        if plan.steps:
            parts.append(f"{len(plan.steps)} next step(s)")
        return "; ".join(parts)
    parts = []
    if previous.stage != plan.stage:
        parts.append(f"stage {STAGES_BY_KEY.get(previous.stage or '', 'none')} → "
                     f"{STAGES_BY_KEY.get(plan.stage or '', 'none')}")
    if previous.partner != plan.partner:
        parts.append(f"partner {previous.partner or 'none'} → {plan.partner or 'none'}")
    if previous.aims != plan.aims:
        parts.append("aims edited")
    added = [a for a in plan.activities if a not in previous.activities]
    dropped = [a for a in previous.activities if a not in plan.activities]
    if added or dropped:
        parts.append(f"activities +{len(added)} −{len(dropped)}")
    if previous.notes != plan.notes:
        parts.append("notes edited")
    before = {s.step_no: s for s in previous.steps}
    after = {s.step_no: s for s in plan.steps}
    for number, step in after.items():
        old = before.get(number)
        if old is None:
            parts.append(f"step {number} added")
        elif step.done and not old.done:
            parts.append(f"step {number} done")
        elif old.done and not step.done:
            parts.append(f"step {number} reopened")
        elif (old.action, old.owner, old.due_on) != (step.action, step.owner, step.due_on):
            parts.append(f"step {number} changed")
    parts.extend(f"step {number} removed" for number in before if number not in after)
    return "; ".join(parts) or "no change"


STAGES_BY_KEY = dict(STAGES)


def _kpi_columns_checked(values: Mapping[str, object]) -> dict[str, object]:
    """A KPI version's columns, complete and coherent; a ValueError says what is missing or wrong."""
    scope_kind = _text(values.get("scope_kind"))
    if scope_kind not in KPI_SCOPES:
        raise ValueError(f"a KPI's scope must be one of {', '.join(KPI_SCOPES)}, got {values.get('scope_kind')!r}")
    scope_value = _text(values.get("scope_value"))
    if scope_kind != "firm" and scope_value is None:
        raise ValueError(f"a KPI scoped to a {scope_kind.replace('_', ' ')} must say which one")
    start_on = _as_date(values.get("start_on"), "the KPI's start")
    deadline = _as_date(values.get("deadline"), "the KPI's deadline")
    if deadline <= start_on:
        raise ValueError(f"the KPI's deadline {deadline} must be after its start {start_on}")
    baseline_on = _as_date(values.get("baseline_on"), "the day the baseline was measured")
    if baseline_on > start_on:
        raise ValueError(f"the baseline ({baseline_on}) cannot be measured after the KPI starts ({start_on})")
    status = _text(values.get("status"))
    if status not in ("open", "closed"):
        raise ValueError(f"a KPI's status is open or closed, got {values.get('status')!r}")
    baseline, final_value = values.get("baseline"), values.get("final_value")
    return {
        "name": _text(values.get("name")),
        "measure": _required(values.get("measure"), "a measure", "choose what the KPI measures"),
        "scope_kind": scope_kind,
        "scope_value": None if scope_kind == "firm" else scope_value,
        "target": _number(values.get("target"), "the KPI's target"),
        "start_on": start_on,
        "deadline": deadline,
        "owner": _required(values.get("owner"), "an owner", "name who is accountable for the KPI"),
        "baseline": None if _missing_number(baseline) else _number(baseline, "the baseline"),
        "baseline_on": baseline_on,
        "status": status,
        "final_value": None if _missing_number(final_value) else _number(final_value, "the final value"),
        "final_on": _optional_date(values.get("final_on"), "the final value's date"),
        "reason": _text(values.get("reason")),
    }


def _missing_number(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _next_kpi_id(connection: Connection) -> str:
    """K0001, K0002, ...: one more than the largest number used."""
    numbers = [int(m.group(1)) for (kpi_id,) in connection.execute(sa.select(kpi_history.c.kpi_id).distinct())
               if (m := re.fullmatch(r"K(\d+)", str(kpi_id)))]
    return f"K{max(numbers, default=0) + 1:04d}"


# --- version chains: one append-only history, one chain of versions per key -----------------------


@dataclass(frozen=True)
class _Chain:
    """A history table holding one chain of versions per key (1, 2, ...; 0 means never saved), with
    ``changed_by``/``changed_at`` on every row and, optionally, child rows per version (the shares of a
    target mix, the next steps of a plan). The target mix, plans, KPIs and loop marks are chains."""

    table: sa.Table
    key: str
    noun: str  # how messages name one key's record, e.g. "the plan for {key}"
    child: sa.Table | None = None
    child_key: str = ""  # the child's column holding the history row's id

    def name(self, key: object) -> str:
        return self.noun.format(key=key)


@dataclass(frozen=True)
class _Change:
    """One key's new version: ``build(latest row or None, connection)`` gives the new row's columns
    and child rows, or None when nothing changed (nothing is recorded). ``key`` None: a new record,
    keyed by the chain's next key."""

    key: object | None
    expected_version: int | None
    build: Callable[[dict[str, object] | None, Connection], tuple[dict[str, object], list[dict]] | None]


def _latest(connection: Connection, chain: _Chain, keys: Iterable[object] | None = None) -> dict[object, dict]:
    """The latest history row per key (all keys, or the given ones)."""
    h = chain.table
    column = h.c[chain.key]
    wanted = None if keys is None else set(keys)
    top = sa.select(column.label("key"), sa.func.max(h.c.version).label("version")).group_by(column)
    if wanted is not None and len(wanted) <= 500:
        top = top.where(column.in_(list(wanted)))
    top = top.subquery()
    query = sa.select(h).join(top, sa.and_(top.c.key == column, top.c.version == h.c.version))
    rows = {row._mapping[chain.key]: dict(row._mapping) for row in connection.execute(query)}
    return rows if wanted is None else {k: v for k, v in rows.items() if k in wanted}


def _version_of(latest: Mapping[object, Mapping[str, object]], key: object) -> int:
    row = latest.get(key)
    return int(row["version"]) if row else 0  # type: ignore[call-overload]


def _conflict_message(chain: _Chain, stale: list[tuple[object, int | None]],
                      latest: Mapping[object, Mapping[str, object]]) -> str:
    """"not saved: the plan for R1 was changed by Ann at T UTC, reload (now version 2; you edited version 1)"."""
    parts = []
    for key, expected in stale:
        now = latest.get(key)
        if now is None:
            parts.append(f"{chain.name(key)} has not been saved (you edited version {expected}), reload")
        else:
            parts.append(f"{chain.name(key)} was changed by {now['changed_by']} at "
                         f"{_when(now['changed_at'])}, reload (now version {now['version']}; "  # type: ignore[arg-type]
                         f"you edited version {expected})")
    return "not saved: " + "; ".join(parts)


_MIX_CHAIN = _Chain(target_mix_history, "effective_from", "the target mix from {key}",
                    target_mix_share_history, "mix_id")
_PLAN_CHAIN = _Chain(plan_history, "referrer_id", "the plan for {key}", plan_step_history, "plan_id")
_KPI_CHAIN = _Chain(kpi_history, "kpi_id", "KPI {key}")
_LOOP_CHAIN = _Chain(loop_closed_history, "referral_id", "the “told on” mark of referral {key}")
_ROLE_CHAIN = _Chain(role_history, "email", "the role of {key}")


def _sqlite_connect(dbapi_connection, _record) -> None:
    # SQLAlchemy, not the sqlite3 module, decides when a transaction begins
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("pragma journal_mode=wal")
    cursor.execute("pragma synchronous=full")
    cursor.execute(f"pragma busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("pragma foreign_keys=on")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # a write takes the write lock at BEGIN, so the version it checks cannot change under it
    immediate = connection.get_execution_options().get("refport_write", False)
    connection.exec_driver_sql("begin immediate" if immediate else "begin")


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    database = parsed.database or ""
    if database in ("", ":memory:"):
        engine = sa.create_engine(parsed, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


class Store:
    """One store (a SQLite file or a database URL), migrated to the latest schema when opened."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)
        self._writer = self.engine.execution_options(refport_write=True)
        self._migrate()

    def __repr__(self) -> str:
        return f"Store({self.display_url})"

    @property
    def display_url(self) -> str:
        return shown_url(self.engine.url)

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for a server database."""
        if self.engine.dialect.name == "sqlite" and self.engine.url.database not in (None, "", ":memory:"):
            return Path(self.engine.url.database)
        return None

    def close(self) -> None:
        self.engine.dispose()

    def _migrate(self) -> None:
        from alembic import command
        from alembic.config import Config
        from alembic.util.exc import CommandError

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        try:
            with self._writer.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except CommandError as error:
            raise StoreError(
                f"the state store {self.display_url} cannot be upgraded ({error}); "
                "it may have been written by a newer refport"
            ) from None
        except sa.exc.DatabaseError as error:
            raise StoreError(
                f"{self.display_url} is not a usable refport state store: {error.orig}"
            ) from None

    # --- tier assignments ---------------------------------------------------------------

    def save(self, referrer_id: str, level: int | None, by: str, reason: str,
             expected_version: int | None = None) -> Assignment | None:
        """Set one referrer's level; refused with StoreConflict when ``expected_version`` is not current.

        ``expected_version`` is the version the person saw (0: never assigned);
        None skips the check (a scripted change that states the level it wants).
        Returns the new history row, or None when the referrer already has that
        level (nothing is recorded).
        """
        saved = self.save_many([TierChange(referrer_id, level, expected_version)], by, reason)
        return saved[0] if saved else None

    def save_many(self, changes: Iterable[TierChange], by: str, reason: str) -> list[Assignment]:
        """Set several referrers' levels in one transaction: all are saved, or none (on a conflict).

        Returns the history rows written; a referrer that already has the level
        it is given is left alone (its version is still checked).
        """
        by, reason = _by(by), _reason(reason)
        batch = [TierChange(_referrer_id(c.referrer_id), check_level(c.level), c.expected_version)
                 for c in changes]
        ids = [c.referrer_id for c in batch]
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"referrer(s) {', '.join(twice)} appear twice in one save; give each once")
        if not batch:
            return []
        now = _utc_now()
        try:
            with self._writer.begin() as connection:
                current = self._tier_rows(connection, ids)
                stale = [c for c in batch if c.expected_version is not None
                         and c.expected_version != (current[c.referrer_id].version if c.referrer_id in current else 0)]
                if stale:
                    raise StoreConflict(self._tier_conflict_message(stale, current),
                                        [c.referrer_id for c in stale])
                result: list[Assignment] = []
                for change in batch:
                    before = current.get(change.referrer_id)
                    if (before.level if before else None) == change.level:
                        continue
                    saved = Assignment(
                        referrer_id=change.referrer_id,
                        level=change.level,
                        previous_level=before.level if before else None,
                        version=(before.version if before else 0) + 1,
                        changed_by=by,
                        changed_at=now,
                        reason=reason,
                    )
                    result.append(saved)
                if result:
                    connection.execute(tier_assignment_history.insert(), [a.__dict__ for a in result])
        except IntegrityError:
            # a racing save took the same version first (server databases; SQLite serialises)
            with self.engine.connect() as connection:
                current = self._tier_rows(connection, ids)
            raise StoreConflict(self._tier_conflict_message(batch, current), ids) from None
        return result

    def _tier_rows(self, connection: Connection, ids: list[str]) -> dict[str, Assignment]:
        h = tier_assignment_history
        query = sa.select(h).join(
            tier_assignments_current,
            sa.and_(tier_assignments_current.c.referrer_id == h.c.referrer_id,
                    tier_assignments_current.c.version == h.c.version),
        )
        if len(ids) <= 500:
            query = query.where(h.c.referrer_id.in_(ids))
        wanted = set(ids)
        return {
            row.referrer_id: Assignment(row.referrer_id, row.level, row.previous_level, row.version,
                                        row.changed_by, row.changed_at, row.reason)
            for row in connection.execute(query)
            if row.referrer_id in wanted
        }

    @staticmethod
    def _tier_conflict_message(stale: list[TierChange], current: dict[str, Assignment]) -> str:
        parts = []
        for change in stale:
            now = current.get(change.referrer_id)
            if now is None:
                parts.append(f"{change.referrer_id} has no saved level (you edited version "
                             f"{change.expected_version}), reload")
            else:
                parts.append(f"{change.referrer_id} was changed by {now.changed_by} at {_when(now.changed_at)}, "
                             f"reload (now {_level_text(now.level)}, version {now.version}; "
                             f"you edited version {change.expected_version})")
        head = "not saved: " if len(parts) == 1 else f"not saved, {len(parts)} referrers changed meanwhile: "
        return head + "; ".join(parts)

    def version(self, referrer_id: str) -> int:
        """The referrer's current version (0: never assigned)."""
        with self.engine.connect() as connection:
            row = self._tier_rows(connection, [_referrer_id(referrer_id)]).get(str(referrer_id).strip())
        return row.version if row else 0

    def current(self) -> pd.DataFrame:
        """One row per referrer ever assigned: referrer_id, assigned_level (null: unassigned),
        assigned_by, assigned_at (UTC), reason, version."""
        return _frame(self._current_rows(), _TIER_CURRENT)

    def _current_rows(self) -> list[Mapping[str, object]]:
        c = tier_assignments_current
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(sa.select(c).order_by(c.c.referrer_id))]

    def history(self, referrer_id: str | None = None) -> pd.DataFrame:
        """Every saved change (oldest first per referrer): referrer_id, version, level,
        previous_level, changed_by, changed_at (UTC), reason."""
        h = tier_assignment_history
        query = sa.select(*(h.c[name] for name in _TIER_HISTORY.names)).order_by(h.c.referrer_id, h.c.version)
        if referrer_id is not None:
            query = query.where(h.c.referrer_id == str(referrer_id).strip())
        with self.engine.connect() as connection:
            rows = [dict(r._mapping) for r in connection.execute(query)]
        return _frame(rows, _TIER_HISTORY)

    # --- target mix -------------------------------------------------------------------------

    def save_target_mix(self, effective_from: object, shares: Mapping[str, object], by: str, reason: str,
                        expected_version: int | None = None) -> int:
        """Save the whole mix from one date (shares per work type, summing to 1); returns its new version."""
        return self.save_target_mixes({effective_from: shares}, by, reason,
                                       None if expected_version is None
                                       else {effective_from: expected_version})[0]

    def save_target_mixes(self, mixes: Mapping[object, Mapping[str, object]], by: str, reason: str,
                          expected_versions: Mapping[object, int] | None = None) -> list[int]:
        """Save several dates' mixes in one transaction (e.g. the Parquet starting point)."""
        by, reason = _by(by), _reason(reason)
        checked = {_as_date(day, "effective_from"): check_target_mix(day, shares) for day, shares in mixes.items()}
        expected = {_as_date(day, "effective_from"): v for day, v in (expected_versions or {}).items()}
        return self._write_mixes({day: (shares, expected.get(day)) for day, shares in checked.items()}, by, reason)

    def retire_target_mix(self, effective_from: object, by: str, reason: str,
                          expected_version: int | None = None) -> int:
        """Withdraw the mix from one date (the earlier mix applies again); recorded like a save."""
        by, reason = _by(by), _reason(reason)
        day = _as_date(effective_from, "effective_from")
        return self._write_mixes({day: (None, expected_version)}, by, reason)[0]

    def _write_mixes(self, mixes: dict[date, tuple[dict[str, float] | None, int | None]],
                     by: str, reason: str) -> list[int]:
        def version(shares: dict[str, float] | None) -> Callable:
            return lambda before, connection: (
                {"retired": shares is None, "reason": reason},
                [{"work_type": w, "target_share": v} for w, v in (shares or {}).items()],
            )

        changes = [_Change(day, expected, version(shares)) for day, (shares, expected) in mixes.items()]
        return [saved for _, saved in self._append(_MIX_CHAIN, changes, by)]

    @staticmethod
    def _mix_latest(connection: Connection) -> dict[date, dict[str, object]]:
        return _latest(connection, _MIX_CHAIN)  # type: ignore[return-value]

    def target_mix_version(self, effective_from: object) -> int:
        with self.engine.connect() as connection:
            latest = self._mix_latest(connection).get(_as_date(effective_from, "effective_from"))
        return int(latest["version"]) if latest else 0

    def target_mix(self) -> pd.DataFrame:
        """The mixes in force as edited: work_type, target_share, effective_from, version,
        changed_by, changed_at (UTC), reason. Empty until someone saves a mix."""
        return _frame(self._mix_rows(), _MIX_CURRENT)

    def _mix_rows(self) -> list[Mapping[str, object]]:
        c = target_mix_current
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in
                    connection.execute(sa.select(c).order_by(c.c.effective_from, c.c.work_type))]

    def target_mix_history(self) -> pd.DataFrame:
        """Every saved mix version, one row per work type (a retired version has one row, work_type null)."""
        h, s = target_mix_history, target_mix_share_history
        query = (
            sa.select(h.c.effective_from, h.c.version, h.c.retired, s.c.work_type, s.c.target_share,
                      h.c.changed_by, h.c.changed_at, h.c.reason)
            .select_from(h.outerjoin(s, s.c.mix_id == h.c.id))
            .order_by(h.c.effective_from, h.c.version, s.c.work_type)
        )
        with self.engine.connect() as connection:
            rows = [dict(r._mapping) for r in connection.execute(query)]
        return _frame(rows, _MIX_HISTORY)

    # --- version chains (target mix, plans, KPIs, loop marks) ------------------------------------

    def _append(self, chain: _Chain, changes: list[_Change], by: str,
                new_key: Callable[[Connection], object] | None = None) -> list[tuple[object, int]]:
        """Write new versions in one transaction: all of them, or none when one was made from a version
        that is no longer current (StoreConflict). Returns (key, new version) per version written."""
        keys = [c.key for c in changes if c.key is not None]
        if len(set(keys)) != len(keys):
            twice = sorted({str(k) for k in keys if keys.count(k) > 1})
            raise ValueError(f"{', '.join(twice)} appear(s) twice in one save; give each once")
        now = _utc_now()
        saved: list[tuple[object, int]] = []
        try:
            with self._writer.begin() as connection:
                latest = _latest(connection, chain, keys)
                stale = [(c.key, c.expected_version) for c in changes if c.key is not None
                         and c.expected_version is not None and c.expected_version != _version_of(latest, c.key)]
                if stale:
                    raise StoreConflict(_conflict_message(chain, stale, latest), [k for k, _ in stale])
                for change in changes:
                    key = change.key if change.key is not None else new_key(connection)  # type: ignore[misc]
                    before = latest.get(key)
                    built = change.build(before, connection)
                    if built is None:
                        continue
                    columns, children = built
                    version = _version_of(latest, key) + 1
                    row_id = connection.execute(chain.table.insert().values(
                        {chain.key: key, "version": version, "changed_by": by, "changed_at": now, **columns}
                    )).inserted_primary_key[0]
                    if children:
                        assert chain.child is not None
                        connection.execute(chain.child.insert(), [{chain.child_key: row_id, **c} for c in children])
                    saved.append((key, version))
        except IntegrityError:
            # a racing save took the same version first (server databases; SQLite serialises)
            with self.engine.connect() as connection:
                latest = _latest(connection, chain, keys)
            if not keys:
                raise StoreConflict("not saved: another change was saved at the same moment; try again") from None
            raise StoreConflict(_conflict_message(chain, [(c.key, c.expected_version) for c in changes
                                                          if c.key is not None], latest), keys) from None
        return saved

    def _chain_history(self, chain: _Chain, schema: pa.Schema, key: object | None) -> pd.DataFrame:
        h = chain.table
        query = sa.select(*(h.c[name] for name in schema.names)).order_by(h.c[chain.key], h.c.version)
        if key is not None:
            query = query.where(h.c[chain.key] == key)
        with self.engine.connect() as connection:
            rows = [dict(r._mapping) for r in connection.execute(query)]
        return _frame(rows, schema)

    def _chain_version(self, chain: _Chain, key: object) -> int:
        with self.engine.connect() as connection:
            return _version_of(_latest(connection, chain, [key]), key)

    # --- plans -----------------------------------------------------------------------------------

    def save_plan(self, plan: Plan, by: str, expected_version: int | None = None) -> Plan | None:
        """Save a referrer's whole plan (partner, aims, activities, stage, notes, next steps) as its
        next version; refused with StoreConflict when ``expected_version`` (0: never saved) is not
        current. Returns the saved plan, or None when it equals the current one (nothing recorded).

        Steps keep their ``step_no``; a new step gets the referrer's next unused number. A step saved as
        done gets ``done_on`` = today (UTC) unless given or already done before."""
        by = _by(by)
        plan = check_plan(plan)
        referrer_id = plan.referrer_id
        today = _today()

        def build(before: dict | None, connection: Connection):
            previous = self._plan_from(connection, before) if before else Plan(referrer_id)
            old_steps = {s.step_no: s for s in previous.steps}
            used = connection.execute(
                sa.select(sa.func.max(plan_step_history.c.step_no))
                .select_from(plan_step_history.join(plan_history, plan_history.c.id == plan_step_history.c.plan_id))
                .where(plan_history.c.referrer_id == referrer_id)
            ).scalar() or 0
            steps = []
            for step in plan.steps:
                number = step.step_no if step.step_no in old_steps else None
                if number is None:
                    used += 1
                    number = used
                old = old_steps.get(number)
                if not step.done:
                    done_on = None
                elif step.done_on is not None:
                    done_on = step.done_on
                elif old is not None and old.done and old.done_on is not None:
                    done_on = old.done_on
                else:
                    done_on = today
                steps.append(replace(step, step_no=number, done_on=done_on))
            new = replace(plan, steps=tuple(steps))
            if before is not None and new.content() == previous.content():
                return None
            if before is None and new.content() == Plan(referrer_id).content():
                return None
            columns = {"partner": new.partner, "aims": new.aims, "activities": json.dumps(list(new.activities)),
                       "stage": new.stage, "notes": new.notes}
            children = [{"step_no": s.step_no, "action": s.action, "owner": s.owner, "due_on": s.due_on,
                         "done": s.done, "done_on": s.done_on} for s in steps]
            return columns, children

        saved = self._append(_PLAN_CHAIN, [_Change(referrer_id, expected_version, build)], by)
        return self.plan(referrer_id) if saved else None

    @staticmethod
    def _plan_from(connection: Connection, row: Mapping[str, object]) -> Plan:
        s = plan_step_history
        steps = tuple(
            PlanStep(r.action, r.owner, r.due_on, bool(r.done), r.step_no, r.done_on)
            for r in connection.execute(sa.select(s).where(s.c.plan_id == row["id"]).order_by(s.c.step_no))
        )
        return Plan(
            referrer_id=str(row["referrer_id"]), partner=row["partner"], aims=row["aims"],  # type: ignore[arg-type]
            activities=tuple(json.loads(str(row["activities"]) or "[]")), stage=row["stage"],  # type: ignore[arg-type]
            notes=row["notes"], steps=steps, version=int(row["version"]),  # type: ignore[arg-type,call-overload]
            changed_by=row["changed_by"], changed_at=row["changed_at"],  # type: ignore[arg-type]
        )

    def plan(self, referrer_id: str) -> Plan:
        """The referrer's current plan (version 0 and empty when never saved)."""
        key = _referrer_id(referrer_id)
        with self.engine.connect() as connection:
            row = _latest(connection, _PLAN_CHAIN, [key]).get(key)
            return self._plan_from(connection, row) if row else Plan(key)

    def plan_version(self, referrer_id: str) -> int:
        return self._chain_version(_PLAN_CHAIN, _referrer_id(referrer_id))

    def plans(self) -> pd.DataFrame:
        """One row per referrer with a saved plan: referrer_id, partner, aims, activities (a JSON
        list), stage (null: not in the pipeline), notes, version, changed_by, changed_at (UTC)."""
        return _frame(self._plan_rows(), _PLAN_CURRENT)

    def _plan_rows(self) -> list[Mapping[str, object]]:
        c = plans_current
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(
                sa.select(*(c.c[n] for n in _PLAN_CURRENT.names)).order_by(c.c.referrer_id))]

    def plan_steps(self, referrer_id: str | None = None) -> pd.DataFrame:
        """The next steps of the current plans: referrer_id, step_no, action, owner, due_on, done,
        done_on, plan_version."""
        return _frame(self._step_rows(referrer_id), _STEP_CURRENT)

    def _step_rows(self, referrer_id: str | None = None) -> list[Mapping[str, object]]:
        c = plan_steps_current
        query = sa.select(*(c.c[n] for n in _STEP_CURRENT.names)).order_by(c.c.referrer_id, c.c.step_no)
        if referrer_id is not None:
            query = query.where(c.c.referrer_id == _referrer_id(referrer_id))
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(query)]

    def plan_history(self, referrer_id: str | None = None) -> pd.DataFrame:
        """Every saved plan version (oldest first per referrer): referrer_id, version, stage, partner,
        steps, open_steps, what changed from the version before (``changes``), changed_by, changed_at."""
        h = plan_history
        query = sa.select(h).order_by(h.c.referrer_id, h.c.version)
        if referrer_id is not None:
            query = query.where(h.c.referrer_id == _referrer_id(referrer_id))
        rows: list[dict[str, object]] = []
        with self.engine.connect() as connection:
            previous: Plan | None = None
            for row in connection.execute(query):
                plan = self._plan_from(connection, row._mapping)
                if previous is not None and previous.referrer_id != plan.referrer_id:
                    previous = None
                rows.append({
                    "referrer_id": plan.referrer_id, "version": plan.version, "stage": plan.stage,
                    "partner": plan.partner, "steps": len(plan.steps),
                    "open_steps": sum(not s.done for s in plan.steps),
                    "changes": _plan_changes(previous, plan), "changed_by": plan.changed_by,
                    "changed_at": plan.changed_at,
                })
                previous = plan
        return _frame(rows, _PLAN_HISTORY)

    # --- KPIs ------------------------------------------------------------------------------------

    def create_kpi(self, *, measure: str, scope_kind: str, scope_value: str | None, target: object,
                   start_on: object, deadline: object, owner: str, baseline: object, baseline_on: object,
                   by: str, name: str | None = None, reason: str | None = None) -> Kpi:
        """Record a new KPI (version 1, open) with its baseline; its id is the next K0001, K0002, ...

        The store checks the record is complete and coherent; whether it is SMART (a known measure,
        a deadline after today...) is checked by ``dashboard.kpis`` before it gets here."""
        by = _by(by)
        columns = _kpi_columns_checked({
            "name": name, "measure": measure, "scope_kind": scope_kind, "scope_value": scope_value,
            "target": target, "start_on": start_on, "deadline": deadline, "owner": owner,
            "baseline": baseline, "baseline_on": baseline_on, "status": "open", "final_value": None,
            "final_on": None, "reason": _text(reason),
        })
        change = _Change(None, None, lambda before, connection: (columns, []))
        [(kpi_id, _)] = self._append(_KPI_CHAIN, [change], by, new_key=_next_kpi_id)
        return self.kpi(str(kpi_id))  # type: ignore[return-value]

    def update_kpi(self, kpi_id: str, by: str, expected_version: int | None = None, *,
                   reason: str | None = None, **changes: object) -> Kpi | None:
        """Change an open KPI's name, owner, target or deadline (a new version; the baseline stays).
        Returns None when nothing changed."""
        allowed = {"name", "owner", "target", "deadline"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"a KPI's {', '.join(sorted(unknown))} cannot be changed; only "
                             f"{', '.join(sorted(allowed))} can (its baseline is kept as measured)")
        return self._kpi_version(kpi_id, by, expected_version, reason, changes)

    def close_kpi(self, kpi_id: str, final_value: object, final_on: object, by: str,
                  expected_version: int | None = None, reason: str | None = None) -> Kpi:
        """Close a KPI, keeping its final value (as measured on ``final_on``)."""
        value = None if final_value is None or (isinstance(final_value, float) and math.isnan(final_value)) \
            else _number(final_value, "the final value")
        closed = self._kpi_version(kpi_id, by, expected_version, reason,
                                   {"status": "closed", "final_value": value,
                                    "final_on": _as_date(final_on, "the final value's date")})
        assert closed is not None
        return closed

    def _kpi_version(self, kpi_id: str, by: str, expected_version: int | None, reason: str | None,
                     changes: dict[str, object]) -> Kpi | None:
        by = _by(by)
        key = _required(kpi_id, "a KPI id", "give the KPI's id, e.g. K0001")

        def build(before: dict | None, connection: Connection):
            if before is None:
                raise ValueError(f"there is no KPI {key}")
            if before["status"] == "closed":
                raise ValueError(f"KPI {key} is closed (final value kept); it cannot be changed")
            fields = {name: before[name] for name in _KPI_CURRENT.names if name in before
                      and name not in ("kpi_id", "version", "changed_by", "changed_at", "reason")}
            columns = _kpi_columns_checked({**fields, **changes, "reason": _text(reason)})
            if all(columns[k] == before[k] for k in fields) and "status" not in changes:
                return None
            return columns, []

        saved = self._append(_KPI_CHAIN, [_Change(key, expected_version, build)], by)
        return self.kpi(key) if saved else None

    def kpi(self, kpi_id: str) -> Kpi | None:
        c = kpis_current
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(c).where(c.c.kpi_id == str(kpi_id).strip())).first()
        return Kpi(**dict(row._mapping)) if row else None

    def kpi_version(self, kpi_id: str) -> int:
        return self._chain_version(_KPI_CHAIN, str(kpi_id).strip())

    def kpis(self) -> pd.DataFrame:
        """One row per KPI (its current version): kpi_id, name, measure, scope_kind, scope_value,
        target, start_on, deadline, owner, baseline, baseline_on, status (open/closed), final_value,
        final_on, version, created_by, created_at, changed_by, changed_at, reason."""
        return _frame(self._kpi_rows(), _KPI_CURRENT)

    def _kpi_rows(self) -> list[Mapping[str, object]]:
        c = kpis_current
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(sa.select(c).order_by(c.c.kpi_id))]

    def kpi_history(self, kpi_id: str | None = None) -> pd.DataFrame:
        """Every saved KPI version, oldest first per KPI."""
        return self._chain_history(_KPI_CHAIN, _KPI_HISTORY, None if kpi_id is None else str(kpi_id).strip())

    # --- closing the loop ------------------------------------------------------------------------

    def mark_told(self, marks: Mapping[str, object], by: str,
                  expected_versions: Mapping[str, int] | None = None, note: str | None = None) -> list[int]:
        """Record the day each referral's referrer was told what became of it (``told_on``; None
        withdraws a mark made by mistake), all in one transaction. A referral whose mark already says
        that day is left alone. Returns the new versions."""
        by = _by(by)
        today = _today()
        clean: dict[str, date | None] = {}
        for referral_id, told_on in marks.items():
            key = _required(referral_id, "a referral id", "give the referral's id")
            day = _optional_date(told_on, f"the day the referrer of {key} was told")
            if day is not None and day > today:
                raise ValueError(f"the referrer of {key} cannot have been told on {day}, a day after today "
                                 f"({today}); give the day it happened")
            clean[key] = day
        expected = {str(k).strip(): v for k, v in (expected_versions or {}).items()}
        text = _text(note)

        def mark(day: date | None):
            def build(before: dict | None, connection: Connection):
                if (before["told_on"] if before else None) == day:
                    return None
                return {"told_on": day, "note": text}, []
            return build

        changes = [_Change(key, expected.get(key), mark(day)) for key, day in clean.items()]
        return [version for _, version in self._append(_LOOP_CHAIN, changes, by)]

    def loop_closed(self) -> pd.DataFrame:
        """The current mark per referral ever marked: referral_id, told_on (null: withdrawn), note,
        told_by, told_at (UTC), version."""
        return _frame(self._loop_rows(), _LOOP_CURRENT)

    def _loop_rows(self) -> list[Mapping[str, object]]:
        c = loop_closed_current
        with self.engine.connect() as connection:
            return [dict(r._mapping) for r in connection.execute(sa.select(c).order_by(c.c.referral_id))]

    def loop_version(self, referral_id: str) -> int:
        return self._chain_version(_LOOP_CHAIN, str(referral_id).strip())

    def loop_closed_history(self, referral_id: str | None = None) -> pd.DataFrame:
        """Every "told on" mark saved, oldest first per referral."""
        return self._chain_history(_LOOP_CHAIN, _LOOP_HISTORY,
                                   None if referral_id is None else str(referral_id).strip())

    # --- roles (dashboard/auth.py reads them when sign-in is configured) ----------------------------

    def set_role(self, email: str, role: str, by: str, reason: str,
                 expected_version: int | None = None) -> int | None:
        """Give one person (by sign-in e-mail) a role: viewer, editor or admin; refused with StoreConflict
        when ``expected_version`` (0: never given one) is not current. Returns the new version, or None
        when the person already has that role (nothing is recorded)."""
        by, reason = _by(by), _reason(reason)
        key, value = check_email(email), check_role(role)

        def build(before: dict | None, connection: Connection):
            if before is not None and before["role"] == value:
                return None
            return {"role": value, "reason": reason}, []

        saved = self._append(_ROLE_CHAIN, [_Change(key, expected_version, build)], by)
        return saved[0][1] if saved else None

    def role_of(self, email: object) -> str | None:
        """The role given to this e-mail in the store, or None when it was never given one."""
        try:
            key = check_email(email)
        except ValueError:
            return None
        c = roles_current
        with self.engine.connect() as connection:
            return connection.execute(sa.select(c.c.role).where(c.c.email == key)).scalar()

    def role_version(self, email: str) -> int:
        return self._chain_version(_ROLE_CHAIN, check_email(email))

    def roles(self) -> pd.DataFrame:
        """One row per e-mail ever given a role: email, role, version, changed_by, changed_at (UTC), reason."""
        c = roles_current
        with self.engine.connect() as connection:
            rows = [dict(r._mapping) for r in connection.execute(sa.select(c).order_by(c.c.email))]
        return _frame(rows, _ROLE_CURRENT)

    def role_history(self, email: str | None = None) -> pd.DataFrame:
        """Every role change, oldest first per e-mail: email, version, role, changed_by, changed_at, reason."""
        return self._chain_history(_ROLE_CHAIN, _ROLE_HISTORY, None if email is None else check_email(email))

    # --- the import log ----------------------------------------------------------------------------

    def record_import(self, *, table: str, file_name: str, target: str, rows_read: int, accepted: int,
                      quarantined: int, skipped: int, by: str) -> None:
        """Keep who imported which file into which table and directory (the app's Import page)."""
        by = _by(by)
        with self._writer.begin() as connection:
            connection.execute(import_log.insert().values(
                table_name=_required(table, "a table", "name the contract table"), file_name=str(file_name or ""),
                target=str(target), rows_read=int(rows_read), accepted=int(accepted),
                quarantined=int(quarantined), skipped=int(skipped), changed_by=by, changed_at=_utc_now()))

    def imports(self) -> pd.DataFrame:
        """Every import recorded, newest first: changed_at, changed_by, table_name, file_name, target,
        rows_read, accepted, quarantined, skipped."""
        t = import_log
        with self.engine.connect() as connection:
            rows = [dict(r._mapping) for r in connection.execute(
                sa.select(*(t.c[n] for n in _IMPORTS.names)).order_by(t.c.id.desc()))]
        return _frame(rows, _IMPORTS)

    # --- for queries and caches ----------------------------------------------------------

    def revision(self) -> tuple[int, ...]:
        """Changes whenever anything is saved (the latest history ids of tier assignments, target
        mixes, plans, KPIs and loop marks): a cache key."""
        tables = (tier_assignment_history, target_mix_history, plan_history, kpi_history, loop_closed_history)
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(*(
                sa.select(sa.func.coalesce(sa.func.max(t.c.id), 0)).scalar_subquery() for t in tables
            ))).one()
        return tuple(int(v) for v in row)

    def current_tables(self) -> dict[str, pa.Table]:
        """The current views as Arrow tables with fixed column types (for DuckDB)."""
        return {
            "tier_assignments_current": _arrow(self._current_rows(), _TIER_CURRENT),
            "target_mix_current": _arrow(self._mix_rows(), _MIX_CURRENT),
            "plans_current": _arrow(self._plan_rows(), _PLAN_CURRENT),
            "plan_steps_current": _arrow(self._step_rows(), _STEP_CURRENT),
            "kpis_current": _arrow(self._kpi_rows(), _KPI_CURRENT),
            "loop_closed_current": _arrow(self._loop_rows(), _LOOP_CURRENT),
        }


_EMPTY_CURRENT = {
    "tier_assignments_current": _TIER_CURRENT, "target_mix_current": _MIX_CURRENT,
    "plans_current": _PLAN_CURRENT, "plan_steps_current": _STEP_CURRENT, "kpis_current": _KPI_CURRENT,
    "loop_closed_current": _LOOP_CURRENT,
}
REVISION_ZERO = (0, 0, 0, 0, 0)


def query_tables(store: Store | None = None, programme=None) -> dict[str, pa.Table]:
    """The small tables named queries may read besides the data: the store's current views
    (empty without a store) and the programme levels (dashboard/levels.py), as Arrow tables (DuckDB
    registers them without a copy; immutable, so the ones without a store are shared)."""
    from dashboard import levels

    programme = programme or levels.load()
    if store is None:
        return _kept_tables(None, REVISION_ZERO, programme, lambda: _tables(None, programme))
    return _tables(store, programme)


def _tables(store: Store | None, programme) -> dict[str, pa.Table]:
    tables = store.current_tables() if store is not None else {
        name: _arrow([], schema) for name, schema in _EMPTY_CURRENT.items()
    }
    tables["plan_stages"] = _arrow([{"stage": key, "stage_order": order, "stage_label": label}
                                    for order, (key, label) in enumerate(STAGES, start=1)], _STAGES)
    tables["programme_levels"] = pa.Table.from_pandas(programme.levels_frame(), preserve_index=False)
    tables["programme_menu"] = pa.Table.from_pandas(programme.menu_frame(), preserve_index=False)
    return tables


# Every named query that reads these tables asks for them (a few milliseconds each time: the store's
# rows read and converted): kept per store URL (None: no store) for its latest revision and programme.
_tables_lock = threading.Lock()
_kept: dict[str | None, tuple[tuple[int, ...], object, dict[str, pa.Table]]] = {}


def _kept_tables(url: str | None, revision: tuple[int, ...], programme,
                 build: Callable[[], dict[str, pa.Table]]) -> dict[str, pa.Table]:
    with _tables_lock:
        kept = _kept.get(url)
    if kept is not None and kept[0] == revision and kept[1] is programme:
        return kept[2]
    tables = build()
    with _tables_lock:
        _kept[url] = (revision, programme, tables)
    return tables


def _missing_file(url: str) -> bool:
    parsed = make_url(url)
    database = parsed.database or ""
    return parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:") \
        and not Path(database).exists()


def tables_at(url: str, revision: tuple[int, ...] | None = None) -> dict[str, pa.Table]:
    """:func:`query_tables` for the store at a URL, without creating a SQLite file that is not there
    (reading a query must not write beside read-only data). Kept per URL for its latest revision
    (``revision``: the store's, read by the caller before; read here when not given)."""
    from dashboard import levels

    if _missing_file(url):
        return query_tables(None)
    store = shared_store(url)
    programme = levels.load()
    # the tables are read after the revision: an edit in between gives newer tables for the older
    # revision, which the next call's revision replaces
    return _kept_tables(url, tuple(store.revision() if revision is None else revision), programme,
                        lambda: _tables(store, programme))


def revision_at(url: str) -> tuple[int, ...]:
    """:meth:`Store.revision` of the store at a URL; all zeros for a SQLite file not created yet."""
    return REVISION_ZERO if _missing_file(url) else shared_store(url).revision()


def open_store(url: str) -> Store:
    """Open (creating and migrating) the store at an SQLAlchemy URL; see :func:`state_url`."""
    return Store(url)


_lock = threading.Lock()
_open: dict[str, Store] = {}


def shared_store(url: str) -> Store:
    """The process-wide store for a URL (the app opens it once, not per rerun)."""
    with _lock:
        store = _open.get(url)
        if store is None:
            store = _open[url] = Store(url)
        return store
