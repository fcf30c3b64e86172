"""The edit store: the only writer of what people decide in the app.

What the board decides is not in the extracts, so it is kept here: tier
assignments now, and the target mix of new work; plans, KPIs and "loop
closed" marks follow the same pattern (architecture.md). Each kind of edit
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

import math
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
QUERY_TABLES = ("tier_assignments_current", "target_mix_current", "programme_levels", "programme_menu")


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
        return self.engine.url.render_as_string(hide_password=True)

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
        now = _utc_now()
        h = target_mix_history
        versions: list[int] = []
        try:
            with self._writer.begin() as connection:
                latest = self._mix_latest(connection)
                stale = [(day, exp) for day, (_, exp) in mixes.items()
                         if exp is not None and exp != (latest[day]["version"] if day in latest else 0)]
                if stale:
                    raise StoreConflict(self._mix_conflict_message(stale, latest), [d for d, _ in stale])
                for day, (shares, _) in mixes.items():
                    version = (latest[day]["version"] if day in latest else 0) + 1
                    mix_id = connection.execute(h.insert().values(
                        effective_from=day, version=version, retired=shares is None,
                        changed_by=by, changed_at=now, reason=reason,
                    )).inserted_primary_key[0]
                    if shares:
                        connection.execute(target_mix_share_history.insert(), [
                            {"mix_id": mix_id, "work_type": w, "target_share": s} for w, s in shares.items()
                        ])
                    versions.append(version)
        except IntegrityError:
            with self.engine.connect() as connection:
                latest = self._mix_latest(connection)
            raise StoreConflict(self._mix_conflict_message([(d, e) for d, (_, e) in mixes.items()], latest),
                                list(mixes)) from None
        return versions

    @staticmethod
    def _mix_latest(connection: Connection) -> dict[date, dict[str, object]]:
        h = target_mix_history
        top = sa.select(h.c.effective_from, sa.func.max(h.c.version).label("version")) \
            .group_by(h.c.effective_from).subquery()
        query = sa.select(h).join(top, sa.and_(top.c.effective_from == h.c.effective_from,
                                               top.c.version == h.c.version))
        return {row.effective_from: dict(row._mapping) for row in connection.execute(query)}

    @staticmethod
    def _mix_conflict_message(stale: list[tuple[date, int | None]], latest: dict[date, dict[str, object]]) -> str:
        parts = []
        for day, expected in stale:
            now = latest.get(day)
            if now is None:
                parts.append(f"the target mix from {day} has not been saved (you edited version {expected}), reload")
            else:
                parts.append(f"the target mix from {day} was changed by {now['changed_by']} at "
                             f"{_when(now['changed_at'])}, reload (now version {now['version']}; "
                             f"you edited version {expected})")
        return "not saved: " + "; ".join(parts)

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

    # --- for queries and caches ----------------------------------------------------------

    def revision(self) -> tuple[int, int]:
        """Changes whenever anything is saved (the latest history ids): a cache key."""
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(
                sa.select(sa.func.coalesce(sa.func.max(tier_assignment_history.c.id), 0)).scalar_subquery(),
                sa.select(sa.func.coalesce(sa.func.max(target_mix_history.c.id), 0)).scalar_subquery(),
            )).one()
        return int(row[0]), int(row[1])

    def current_tables(self) -> dict[str, pa.Table]:
        """The current views as Arrow tables with fixed column types (for DuckDB)."""
        return {
            "tier_assignments_current": _arrow(self._current_rows(), _TIER_CURRENT),
            "target_mix_current": _arrow(self._mix_rows(), _MIX_CURRENT),
        }


def query_tables(store: Store | None = None, programme=None) -> dict[str, pd.DataFrame]:
    """The small tables named queries may read besides the data: the store's current views
    (empty without a store) and the programme levels (dashboard/levels.py)."""
    from dashboard import levels

    programme = programme or levels.load()
    tables = store.current_tables() if store is not None else {
        "tier_assignments_current": _arrow([], _TIER_CURRENT),
        "target_mix_current": _arrow([], _MIX_CURRENT),
    }
    frames = {name: table.to_pandas(types_mapper=pd.ArrowDtype) for name, table in tables.items()}
    frames["programme_levels"] = programme.levels_frame()
    frames["programme_menu"] = programme.menu_frame()
    return frames


def _missing_file(url: str) -> bool:
    parsed = make_url(url)
    database = parsed.database or ""
    return parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:") \
        and not Path(database).exists()


def tables_at(url: str) -> dict[str, pd.DataFrame]:
    """:func:`query_tables` for the store at a URL, without creating a SQLite file that is not there
    (reading a query must not write beside read-only data)."""
    return query_tables(None if _missing_file(url) else shared_store(url))


def revision_at(url: str) -> tuple[int, int]:
    """:meth:`Store.revision` of the store at a URL; (0, 0) for a SQLite file not created yet."""
    return (0, 0) if _missing_file(url) else shared_store(url).revision()


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
