"""Check a data directory against the data contract (shared/spec/data-contract.md).

Used by ``refport check --data DIR`` and by the app's Data page::

    for problem in check(data_dir):
        print(problem)

Every problem is found at once and reported once: a missing file skips the
checks on that table (and the references pointing into it), a missing or
wrongly typed column skips the value checks on that column, and a row-level
fault does not also trigger the rules built on top of it (an unknown status is
not also "not allowed for outbound", an out-of-range target share does not also
make its effective_from "not sum to 1").

All row checks are set-based DuckDB queries over ``read_parquet``; only the
offending rows (at most ``MAX_ROWS_PER_RULE`` per rule and column) are fetched.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

import duckdb

from dashboard.data import fingerprint, locked_connection
from dashboard.facts import cache_root

from .contract import (
    DATE,
    DOUBLE,
    INTEGER,
    OUTBOUND_STATUSES,
    TABLES,
    TIMESTAMP,
    VARCHAR,
    Column,
    Table,
)

__all__ = ["MAX_ROWS_PER_RULE", "Problem", "check"]

# One rule hitting more rows than this in one column is listed up to this many
# rows, followed by one "... and N more rows with the same problem" line.
MAX_ROWS_PER_RULE = 50

# target_share values of one effective_from must sum to 1 within this.
SUM_TOLERANCE = 1e-6

# Numeric ranges (inclusive) the contract gives for single columns.
RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("relationships", "strength"): (1, 5),
    ("work_type_targets", "target_share"): (0, 1),
}


@dataclass(frozen=True)
class Problem:
    """One fault in the data directory."""

    file: str  # e.g. "referrals.parquet"
    column: str | None  # None for file-level problems
    row: str | None  # primary-key id, or "row N" (1-based); None when not row-specific
    value: str | None  # the offending value as text (None when the value is null)
    message: str  # what is wrong, and what is expected

    def __str__(self) -> str:
        where = []
        if self.column is not None:
            where.append(f"column {self.column}")
        if self.row is not None:
            where.append(self.row if self.row.startswith("row ") else f"row {self.row}")
        if self.value is not None:
            where.append(f"value {self.value!r}")
        if where:
            return f"{self.file}: {', '.join(where)}: {self.message}"
        return f"{self.file}: {self.message}"


# --------------------------------------------------------------------------- #
# Types
# --------------------------------------------------------------------------- #

_INTEGER_TYPES = frozenset(
    {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
        "UHUGEINT",
    }
)
_FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE", "REAL"})
# A column in which every value is null (e.g. pandas writes an all-None column
# with Arrow's null type) has no type of its own; it fits any contract type.
_NULL_TYPES = frozenset({'"NULL"', "NULL"})

_EXPECTED_TYPE_TEXT = {
    VARCHAR: "VARCHAR (a string)",
    DATE: "DATE",
    TIMESTAMP: "TIMESTAMP (with or without time zone)",
    DOUBLE: "DOUBLE (any numeric type)",
    INTEGER: "INTEGER (any integer type)",
}


def _type_ok(expected: str, actual: str) -> bool:
    a = actual.upper()
    if a in _NULL_TYPES:
        return True
    if expected == VARCHAR:
        return a == "VARCHAR" or a.startswith("VARCHAR ")  # e.g. with a collation
    if expected == DATE:
        return a == "DATE"
    if expected == TIMESTAMP:
        # TIMESTAMP, TIMESTAMP_S/_MS/_NS, TIMESTAMP WITH TIME ZONE, TIMESTAMPTZ(_NS)
        return a.startswith("TIMESTAMP")
    if expected == DOUBLE:
        return a in _INTEGER_TYPES or a in _FLOAT_TYPES or a.startswith("DECIMAL")
    if expected == INTEGER:
        return a in _INTEGER_TYPES
    raise ValueError(f"unknown contract type {expected!r}")  # pragma: no cover


def _is_float(actual: str) -> bool:
    return actual.upper() in _FLOAT_TYPES


# --------------------------------------------------------------------------- #
# SQL helpers
# --------------------------------------------------------------------------- #


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _str_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _entity(table_name: str) -> str:
    """'fee_earners' -> 'fee earner' (for messages about references)."""
    name = table_name.removesuffix("s")
    return name.replace("_", " ")


# Errors that point at a mistake in a query here rather than at the file; any
# other DuckDB error while reading a file means the file cannot be read (a
# corrupt page can surface as InvalidInputException, IOException or even a
# bare duckdb.Error).
_QUERY_ERRORS = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


@dataclass
class _State:
    """What is known about one table's file while checking."""

    table: Table
    path: Path
    present: bool = False  # file exists and its schema could be read
    broken: bool = False  # reading it failed (after the schema)
    schema: dict[str, str] = field(default_factory=dict)  # column -> DuckDB type
    usable: set[str] = field(default_factory=set)  # present, well-typed contract columns
    # problems by kind (lower kinds are reported first)
    found: dict[int, list[Problem]] = field(default_factory=lambda: defaultdict(list))

    @property
    def ok(self) -> bool:
        return self.present and not self.broken

    @property
    def file(self) -> str:
        return self.table.file_name

    def source(self, alias: str = "t") -> str:
        """The file as a relation, with its (0-based) row number as file_row_number."""
        path = _str_literal(str(self.path))
        if "file_row_number" in self.schema:
            # The file has a column of that name (extra columns are allowed):
            # DuckDB's option would clash with it, so number the rows in scan
            # order instead (DuckDB preserves insertion order by default).
            return (
                '(SELECT * EXCLUDE ("file_row_number"), '
                "row_number() OVER () - 1 AS file_row_number "
                f"FROM read_parquet({path})) AS {alias}"
            )
        return f"read_parquet({path}, file_row_number = true) AS {alias}"

    def row_label(self, alias: str = "t") -> str:
        """SQL naming a row: its primary-key id, else 'row N' (1-based)."""
        number = f"'row ' || CAST({alias}.file_row_number + 1 AS VARCHAR)"
        pk = self.table.primary_key
        if pk is not None and pk in self.schema:
            return f"COALESCE(CAST({alias}.{_ident(pk)} AS VARCHAR), {number})"
        return number

    def can_use(self, column: str) -> bool:
        return self.ok and column in self.usable


# Kinds of problem, in report order within a table.
K_FILE, K_COLUMN, K_TYPE, K_NULL, K_RULE, K_ENUM, K_RANGE, K_SUM, K_DUPLICATE, K_REFERENCE = range(
    10
)


class _Checker:
    def __init__(self, data_dir: Path, cur: duckdb.DuckDBPyConnection):
        self.cur = cur
        self.states = {name: _State(t, data_dir / t.file_name) for name, t in TABLES.items()}

    # -- running queries ----------------------------------------------------- #

    def _mark_unreadable(self, state: _State, err: Exception) -> None:
        if not state.broken:
            state.broken = True
            state.found[K_FILE].append(
                Problem(
                    state.file,
                    None,
                    None,
                    None,
                    f"cannot be read as a Parquet file: {_first_line(err)}",
                )
            )

    def _query(self, states: list[_State], sql: str, params: list) -> list[tuple] | None:
        """Run a query reading the files of `states`; None if one is unreadable.

        The first state is blamed unless the error message names another file.
        """
        try:
            return self.cur.execute(sql, params).fetchall()
        except _QUERY_ERRORS:
            raise
        except duckdb.Error as err:
            text = str(err)
            blamed = next((s for s in states if s.file in text), states[0])
            self._mark_unreadable(blamed, err)
            return None

    def _rows(
        self,
        state: _State,
        kind: int,
        column: str,
        inner_sql: str,
        params: list,
        make,
        states: list[_State] | None = None,
        unit: str = "rows",
    ) -> None:
        """Report the rows of `inner_sql` (columns rn, row, value, detail), capped.

        `make(row, value, detail)` builds the Problem for one row.
        """
        sql = (
            "SELECT count(*), "
            "min_by({'rn': rn, 'row': row, 'value': value, 'detail': detail}, rn, ?) "
            f"FROM ({inner_sql}) AS offending"
        )
        result = self._query(states or [state], sql, [MAX_ROWS_PER_RULE, *params])
        if not result:
            return
        total, first = result[0]
        if not total:
            return
        out = state.found[kind]
        for item in sorted(first, key=lambda r: r["rn"]):
            out.append(make(item["row"], item["value"], item["detail"]))
        if total > len(first):
            out.append(
                Problem(
                    state.file,
                    column,
                    None,
                    None,
                    f"... and {total - len(first)} more {unit} with the same problem",
                )
            )

    # -- phase 1: each file on its own --------------------------------------- #

    def check_file(self, state: _State) -> None:
        table = state.table
        if not state.path.exists():
            state.found[K_FILE].append(
                Problem(
                    state.file,
                    None,
                    None,
                    None,
                    "file is missing from the data directory "
                    f"(expected the {table.name} table as {state.file})",
                )
            )
            return
        try:
            described = self.cur.execute(
                f"DESCRIBE SELECT * FROM read_parquet({_str_literal(str(state.path))})"
            ).fetchall()
        except duckdb.Error as err:
            self._mark_unreadable(state, err)
            return
        state.present = True
        state.schema = {row[0]: row[1] for row in described}

        for col in table.columns:
            actual = state.schema.get(col.name)
            if actual is None:
                note = " (it may hold nulls, but it must be present)" if col.nullable else ""
                state.found[K_COLUMN].append(
                    Problem(state.file, col.name, None, None, f"required column is missing{note}")
                )
            elif not _type_ok(col.type, actual):
                state.found[K_TYPE].append(
                    Problem(
                        state.file,
                        col.name,
                        None,
                        None,
                        f"wrong type: expected {_EXPECTED_TYPE_TEXT[col.type]}, found {actual}",
                    )
                )
            else:
                state.usable.add(col.name)

        self._check_readable(state)
        if not state.ok:
            return
        self._check_nulls(state)
        if table.name == "referrals":
            self._check_referral_rules(state)
        self._check_enums(state)
        self._check_ranges(state)
        if table.name == "work_type_targets":
            self._check_target_sums(state)
        self._check_duplicates(state)

    def _check_readable(self, state: _State) -> None:
        """Decode every contract column once, so a corrupt page is reported as such."""
        cols = [c.name for c in state.table.columns if c.name in state.schema]
        if not cols:
            return
        exprs = ", ".join(f"bit_xor(hash({_ident(c)}))" for c in cols)
        self._query([state], f"SELECT count(*), {exprs} FROM {state.source()}", [])

    def _check_nulls(self, state: _State) -> None:
        label = state.row_label()
        for col in state.table.columns:
            if col.nullable or not state.can_use(col.name):
                continue
            c = f"t.{_ident(col.name)}"
            cond = f"{c} IS NULL"
            if _is_float(state.schema[col.name]):
                # NaN and infinity. (Not isnan(): DuckDB 2.0 folds isnan() on a
                # Parquet column to false from the file's statistics.)
                cond += f" OR NOT isfinite({c})"
            self._rows(
                state,
                K_NULL,
                col.name,
                f"SELECT t.file_row_number AS rn, {label} AS row, CAST({c} AS VARCHAR) AS value, "
                f"NULL AS detail FROM {state.source()} WHERE {cond}",
                [],
                lambda row, value, _d, col=col: Problem(
                    state.file,
                    col.name,
                    row,
                    value,
                    "required value is missing (null)"
                    if value is None
                    else "required value is not a finite number",
                ),
            )

    def _check_referral_rules(self, state: _State) -> None:
        """Rules on referrals that depend on direction."""
        if not state.can_use("direction"):
            return
        label = state.row_label()
        src = state.source()
        conditional = (
            (
                "referrer_id",
                ["inbound", "outbound"],
                "a referrer_id is required when direction is {}",
            ),
            (
                "from_team",
                ["internal"],
                ("from_team (the team that passed the work on) is required when direction is {}"),
            ),
        )
        for column, directions, message in conditional:
            if not state.can_use(column):
                continue
            marks = ", ".join("?" for _ in directions)
            self._rows(
                state,
                K_RULE,
                column,
                f"SELECT t.file_row_number AS rn, {label} AS row, NULL AS value, "
                f"t.direction AS detail FROM {src} "
                f"WHERE t.{_ident(column)} IS NULL AND t.direction IN ({marks})",
                list(directions),
                lambda row, value, direction, column=column, message=message: Problem(
                    state.file, column, row, value, message.format(direction)
                ),
            )
        if state.can_use("status"):
            statuses = TABLES["referrals"].column("status").enum or ()
            not_allowed = [s for s in statuses if s not in OUTBOUND_STATUSES]
            if not_allowed:
                marks = ", ".join("?" for _ in not_allowed)
                allowed = " or ".join(OUTBOUND_STATUSES)
                self._rows(
                    state,
                    K_RULE,
                    "status",
                    f"SELECT t.file_row_number AS rn, {label} AS row, t.status AS value, "
                    f"NULL AS detail FROM {src} "
                    f"WHERE t.direction = ? AND t.status IN ({marks})",
                    ["outbound", *not_allowed],
                    lambda row, value, _d: Problem(
                        state.file,
                        "status",
                        row,
                        value,
                        f"an outbound referral must have status {allowed}",
                    ),
                )

    def _check_enums(self, state: _State) -> None:
        label = state.row_label()
        for col in state.table.columns:
            if not col.enum or not state.can_use(col.name):
                continue
            c = f"t.{_ident(col.name)}"
            marks = ", ".join("?" for _ in col.enum)
            self._rows(
                state,
                K_ENUM,
                col.name,
                f"SELECT t.file_row_number AS rn, {label} AS row, CAST({c} AS VARCHAR) AS value, "
                f"lower(CAST({c} AS VARCHAR)) IN ({marks}) AS detail "
                f"FROM {state.source()} WHERE {c} IS NOT NULL AND {c} NOT IN ({marks})",
                [*col.enum, *col.enum],
                lambda row, value, lower_ok, col=col: Problem(
                    state.file,
                    col.name,
                    row,
                    value,
                    f"not one of {', '.join(col.enum)}"
                    + (" (values are lower-case)" if lower_ok else ""),
                ),
            )

    def _check_ranges(self, state: _State) -> None:
        label = state.row_label()
        for (table_name, column), (low, high) in RANGES.items():
            if table_name != state.table.name or not state.can_use(column):
                continue
            c = f"t.{_ident(column)}"
            # NaN and infinity are reported as "not a finite number" already
            finite = f" AND isfinite({c})" if _is_float(state.schema[column]) else ""
            self._rows(
                state,
                K_RANGE,
                column,
                f"SELECT t.file_row_number AS rn, {label} AS row, CAST({c} AS VARCHAR) AS value, "
                f"NULL AS detail FROM {state.source()} "
                f"WHERE {c} IS NOT NULL{finite} AND NOT ({c} >= ? AND {c} <= ?)",
                [low, high],
                lambda row, value, _d, column=column, low=low, high=high: Problem(
                    state.file, column, row, value, f"outside the allowed range {low:g} to {high:g}"
                ),
            )

    def _check_target_sums(self, state: _State) -> None:
        """Shares sum to 1 per effective_from (dates whose shares are all valid)."""
        if not (state.can_use("target_share") and state.can_use("effective_from")):
            return
        share = "CAST(t.target_share AS DOUBLE)"
        self._rows(
            state,
            K_SUM,
            "target_share",
            "SELECT rn, CAST(effective_from AS VARCHAR) AS row, "
            "CAST(total AS VARCHAR) AS value, NULL AS detail FROM ("
            f"  SELECT t.effective_from, min(t.file_row_number) AS rn, sum({share}) AS total, "
            f"    count(*) FILTER (WHERE {share} IS NULL OR NOT isfinite({share}) "
            f"                     OR {share} < ? OR {share} > ?) AS invalid "
            f"  FROM {state.source()} WHERE t.effective_from IS NOT NULL "
            "  GROUP BY t.effective_from"
            ") WHERE invalid = 0 AND abs(total - 1) > ?",
            [0.0, 1.0, SUM_TOLERANCE],
            lambda row, value, _d: Problem(
                state.file,
                "target_share",
                row,
                _format_number(value),
                f"target shares for effective_from {row} sum to {_format_number(value)}; "
                "they must sum to 1",
            ),
            unit="effective_from dates",
        )

    def _check_duplicates(self, state: _State) -> None:
        pk = state.table.primary_key
        if pk is None or not state.can_use(pk):
            return
        c = f"t.{_ident(pk)}"
        self._rows(
            state,
            K_DUPLICATE,
            pk,
            "SELECT rn, id AS row, id AS value, CAST(n AS VARCHAR) AS detail FROM ("
            f"  SELECT CAST({c} AS VARCHAR) AS id, count(*) AS n, min(t.file_row_number) AS rn "
            f"  FROM {state.source()} WHERE {c} IS NOT NULL GROUP BY {c} HAVING count(*) > 1"
            ")",
            [],
            lambda row, value, n: Problem(
                state.file, pk, row, value, f"duplicate id: occurs {n} times; ids must be unique"
            ),
            unit="ids",
        )

    # -- phase 2: references between files ----------------------------------- #

    def check_references(self, state: _State) -> None:
        if not state.ok:
            return
        label = state.row_label()
        for col in state.table.columns:
            if col.references is None or not state.can_use(col.name):
                continue
            target_name, target_col = col.references
            target = self.states[target_name]
            if not target.can_use(target_col):
                continue  # the target's own problem is reported there
            c = f"t.{_ident(col.name)}"
            entity = _entity(target_name)
            self._rows(
                state,
                K_REFERENCE,
                col.name,
                f"SELECT t.file_row_number AS rn, {label} AS row, CAST({c} AS VARCHAR) AS value, "
                f"NULL AS detail FROM {state.source()} WHERE {c} IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM {target.source('g')} WHERE g.{_ident(target_col)} = {c})",
                [],
                _reference_problem(state.file, col, entity, target.file, target_col),
                states=[state, target],
            )
            if state.table.name == "matters" and col.name == "referral_id":
                self._check_matter_referral_direction(state, target)

    def _check_matter_referral_direction(self, matters: _State, referrals: _State) -> None:
        """A matter may come from an inbound or internal referral, not an outbound one."""
        if not referrals.can_use("direction"):
            return
        self._rows(
            matters,
            K_REFERENCE,
            "referral_id",
            f"SELECT t.file_row_number AS rn, {matters.row_label()} AS row, "
            f"CAST(t.referral_id AS VARCHAR) AS value, NULL AS detail FROM {matters.source()} "
            "WHERE t.referral_id IS NOT NULL AND EXISTS "
            f"(SELECT 1 FROM {referrals.source('g')} "
            " WHERE g.referral_id = t.referral_id AND g.direction = ?)",
            ["outbound"],
            lambda row, value, _d: Problem(
                matters.file,
                "referral_id",
                row,
                value,
                "refers to an outbound referral; a matter can only come from an "
                "inbound or internal referral",
            ),
            states=[matters, referrals],
        )

    # -- all of it ----------------------------------------------------------- #

    def run(self) -> list[Problem]:
        for state in self.states.values():
            self.check_file(state)
        for state in self.states.values():
            self.check_references(state)
        problems: list[Problem] = []
        for state in self.states.values():
            for kind in sorted(state.found):
                problems.extend(state.found[kind])
        return problems


def _reference_problem(file: str, col: Column, entity: str, target_file: str, target_col: str):
    def make(row, value, _detail) -> Problem:
        return Problem(
            file, col.name, row, value, f"no {entity} with {target_col} {value!r} in {target_file}"
        )

    return make


def _format_number(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return f"{float(text):.10g}"
    except ValueError:
        return text


def check(data_dir: Path | str, con: duckdb.DuckDBPyConnection | None = None) -> list[Problem]:
    """Every problem at once, in a stable order (by table in contract order, then kind, then row).

    Kinds, in order: file missing/unreadable, column missing, wrong type, null
    in a required column, conditional rule (referrals), enumerated value, range,
    target shares not summing to 1, duplicate id, reference to a missing row
    (and matters pointing to outbound referrals).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return [Problem(str(data_dir), None, None, None, "data directory not found")]
    cur = con.cursor() if con is not None else locked_connection(data_dir.resolve())
    try:
        return _Checker(data_dir, cur).run()
    finally:
        cur.close()


def check_remembered(data_dir: Path | str) -> list[Problem]:
    """``check(data_dir)``, remembered beside the data for this version of it (and of the rules), so
    that the app's first page and every `refport query` do not check 10 million rows again: at size L
    a check takes most of a minute."""
    data_dir = Path(data_dir).resolve()
    if not data_dir.is_dir():
        return check(data_dir)
    root = cache_root(data_dir)
    verdict = root / f"check-{fingerprint(data_dir)}-{_rules_version()}.json"
    try:
        return [Problem(**p) for p in json.loads(verdict.read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError):
        pass
    problems = check(data_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        partial = verdict.with_name(f".{verdict.name}.{os.getpid()}")
        partial.write_text(json.dumps([asdict(p) for p in problems]), encoding="utf-8")
        os.replace(partial, verdict)  # atomic: a reader finds the whole verdict or none
        for old in root.glob("check-*.json"):
            if old != verdict:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only place: the check runs again next time, nothing is lost
    return problems


@cache
def _rules_version() -> str:
    """Changes when the contract or the checks change, so an upgraded refport checks again."""
    digest = hashlib.sha256()
    for module in ("contract.py", "check.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()[:8]
