"""Named queries: `queries/<area>/<name>.sql`, their parameters, and one way to run them.

A page, the CLI and the board pack all call ``run(name, ...)``, so they
cannot disagree about a number.

Header of a query file::

    -- name: drift
    -- purpose: ...
    -- grain: one row per calendar quarter overlapping the window
    -- param: basis choice(count|value) = count
    -- param: threshold float = 0.05

``$start``/``$end`` (the window) and the filter lists (``$team``,
``$office``, ``$work_type``, ``$referrer_type``, ``$region``) are bound
automatically where the SQL uses them.

Besides the data's tables, a query may read the small tables of
``dashboard.store.QUERY_TABLES`` (the edit store's current views, the
programme levels): ``run(..., extra_tables=...)`` registers them on the
query's cursor; a query run without them sees the store empty.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from dashboard.data import PROJECT_ROOT, Dataset
from dashboard.window import Filters, Window

QUERIES_DIR = PROJECT_ROOT / "queries"
MACROS_FILE = QUERIES_DIR / "_shared" / "filters.sql"  # first; then the other _shared/*.sql
WINDOW_PARAMS = ("start", "end")
INT_PARAM_LIMIT = 1_000_000  # an int parameter's largest size (days, months, rows)

_HEADER = re.compile(r"^--\s*(name|purpose|grain|param):\s*(.*)$")
_PARAM = re.compile(r"^(\w+)\s+(\w+)(?:\(([^)]*)\))?\s*=\s*(.*)$")
_BIND = re.compile(r"\$(\w+)")


class QueryError(ValueError):
    """A query or parameter the user named that does not exist or does not fit."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # str, int, float, choice
    default: str
    choices: tuple[str, ...] = ()

    def convert(self, value: object, query: str) -> object:
        text = str(value).strip()
        try:
            if self.type == "int":
                number = int(text)
            if self.type == "float":
                return float(text)
        except ValueError:
            raise QueryError(
                f"parameter {self.name} of {query} must be a{'n integer' if self.type == 'int' else ' number'}, "
                f"got {text!r}"
            ) from None
        if self.type == "int":
            # beyond this DuckDB's date and range arithmetic overflows (a binder or out-of-range error)
            if abs(number) > INT_PARAM_LIMIT:
                raise QueryError(f"parameter {self.name} of {query} must be between "
                                 f"-{INT_PARAM_LIMIT:,} and {INT_PARAM_LIMIT:,}, got {text!r}")
            return number
        if self.choices and text not in self.choices:
            raise QueryError(
                f"parameter {self.name} of {query} must be one of {', '.join(self.choices)}, got {text!r}"
            )
        return text

    def describe(self) -> str:
        kind = "|".join(self.choices) if self.choices else self.type
        return f"{self.name}={self.default} ({kind})"


@dataclass(frozen=True)
class NamedQuery:
    name: str
    area: str
    purpose: str
    grain: str
    params: tuple[Param, ...] = ()
    path: Path | None = None
    # Queries whose arithmetic SQL does badly (Markov, Shapley) are Python
    # functions (dataset, bound params) -> DataFrame, called by name like SQL.
    function: Callable[[Dataset, dict[str, object]], pd.DataFrame] | None = field(
        default=None, compare=False
    )
    # The store/programme tables (dashboard.store.QUERY_TABLES) a Python query reads: run() hands
    # them over in values["tables"] (name -> frame), as it registers them on a SQL query's cursor.
    reads: tuple[str, ...] = ()

    @property
    def sql(self) -> str:
        assert self.path is not None
        return _read_sql(self.path)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.params) or "none"
        raise QueryError(f"unknown parameter {name!r} for query {self.name} (known: {known})")


@cache
def _read_sql(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def parse_header(path: Path) -> NamedQuery:
    meta: dict[str, str] = {}
    params: list[Param] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _HEADER.match(line.strip())
        if not match:
            if line.strip() and not line.strip().startswith("--"):
                break
            continue
        key, value = match.groups()
        if key == "param":
            p = _PARAM.match(value.strip())
            if not p:
                raise ValueError(f"{path}: cannot read parameter line {line!r}")
            name, kind, choices, default = p.groups()
            params.append(
                Param(
                    name,
                    kind,
                    default.strip(),
                    tuple(c.strip() for c in choices.split("|")) if choices else (),
                )
            )
        else:
            meta[key] = value.strip()
    missing = {"name", "purpose", "grain"} - meta.keys()
    if missing:
        raise ValueError(f"{path}: header lacks {', '.join(sorted(missing))}")
    if meta["name"] != path.stem:
        raise ValueError(f"{path}: header name {meta['name']!r} differs from the file name")
    return NamedQuery(meta["name"], path.parent.name, meta["purpose"], meta["grain"], tuple(params), path)


_python_queries: dict[str, NamedQuery] = {}


def register_python(query: NamedQuery) -> None:
    _python_queries[query.name] = query


@cache
def _sql_queries() -> dict[str, NamedQuery]:
    found: dict[str, NamedQuery] = {}
    for path in sorted(QUERIES_DIR.glob("*/*.sql")):
        if path.parent.name.startswith("_"):
            continue
        query = parse_header(path)
        if query.name in found:
            raise ValueError(f"two queries named {query.name}: {found[query.name].path} and {path}")
        found[query.name] = query
    return found


def queries() -> dict[str, NamedQuery]:
    """Every named query, SQL and Python, by name."""
    if not _python_queries:
        from dashboard import computed  # registers on first use; it imports this module

        for query in computed.QUERIES:
            register_python(query)
    return {**_sql_queries(), **_python_queries}


def get(name: str) -> NamedQuery:
    try:
        return queries()[name]
    except KeyError:
        raise QueryError(
            f"unknown query {name!r}; `refport queries` lists them ({', '.join(sorted(queries()))})"
        ) from None


def bind_params(query: NamedQuery, params: dict[str, object] | None) -> dict[str, object]:
    """The query's own parameters: defaults overlaid with the given values, converted and checked."""
    bound = {p.name: p.convert(p.default, query.name) for p in query.params}
    for key, value in (params or {}).items():
        bound[key] = query.param(key).convert(value, query.name)
    return bound


def macro_files() -> list[Path]:
    others = sorted(p for p in MACROS_FILE.parent.glob("*.sql") if p != MACROS_FILE)
    return [MACROS_FILE, *others]


_macros_lock = threading.Lock()


def _ensure_macros(dataset: Dataset) -> None:
    # the shared connection refuses a second call while one runs: two threads (sessions, or a query's
    # own helpers) asking first must not both define the macros
    with _macros_lock:
        if not getattr(dataset, "_macros_ready", False):
            for path in macro_files():
                dataset.connection.execute(path.read_text(encoding="utf-8"))
            dataset._macros_ready = True  # type: ignore[attr-defined]


@functools.lru_cache(maxsize=512)
def _side_table_names(sql: str) -> tuple[str, ...]:
    from dashboard import store

    return tuple(name for name in store.QUERY_TABLES if re.search(rf"\b{name}\b", sql))


def side_tables(name: str) -> list[str]:
    """The store/programme tables (``dashboard.store.QUERY_TABLES``) a named query reads (a SQL query's
    from its text, a Python query's from its ``reads``)."""
    query = get(name)
    return list(query.reads if query.function is not None else _side_table_names(query.sql))


def _side_tables(sql: str, given: dict[str, object] | None) -> dict[str, object]:
    """The store/programme tables this SQL reads: the given ones, else their empty defaults."""
    return _given_tables(_side_table_names(sql), given)


def _given_tables(used: list[str] | tuple[str, ...], given: dict[str, object] | None) -> dict[str, object]:
    from dashboard import store

    tables = {name: (given or {})[name] for name in used if name in (given or {})}
    if len(tables) < len(used):
        defaults = store.query_tables()
        tables.update({name: defaults[name] for name in used if name not in tables})
    return tables


def data_end(dataset: Dataset) -> date:
    """metrics.md's default `end`: the latest referral, matter, fee or activity date."""
    value = run_sql(dataset, "data_end", {})["data_end"].iloc[0]
    if value is None or pd.isna(value):
        raise QueryError("the data holds no dated rows, so there is no default window; pass --start and --end")
    return value


def default_window(dataset: Dataset, start: date | None = None, end: date | None = None) -> Window:
    return Window.resolve(data_end(dataset) if end is None else end, start, end)


def run_sql(dataset: Dataset, name: str, values: dict[str, object],
            extra_tables: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Run one SQL query with the bind values its text uses (DuckDB refuses unused ones).

    ``extra_tables`` (name → small DataFrame or Arrow table) are registered on
    the query's own cursor first; see ``dashboard.store.query_tables``.
    """
    return to_frame(run_sql_arrow(dataset, name, values, extra_tables))


def _bound(name: str, values: dict[str, object]) -> tuple[str, dict[str, object]]:
    """A query's SQL and the bind values its text uses (DuckDB refuses unused ones)."""
    sql = get(name).sql
    used = set(_BIND.findall(sql))
    missing = used - values.keys()
    if missing:
        raise QueryError(f"query {name} needs {', '.join(sorted(missing))}")
    return sql, {k: v for k, v in values.items() if k in used}


@contextmanager
def _cursor(dataset: Dataset, side: dict[str, object]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of its own for one query, with the store/programme tables it reads registered on it."""
    cursor = dataset.cursor()
    try:
        for table_name, frame in side.items():
            cursor.register(table_name, frame)
        yield cursor
    finally:
        cursor.close()


def run_sql_arrow(dataset: Dataset, name: str, values: dict[str, object],
                  extra_tables: dict[str, pd.DataFrame] | None = None) -> pa.Table:
    """run_sql's result as DuckDB returns it (for numeric work on millions of rows without pandas)."""
    _ensure_macros(dataset)
    sql, bound = _bound(name, values)
    side = _side_tables(sql, extra_tables)
    # A result depends on the data, the bound values and the store/programme tables it reads; those
    # change without the data changing, so they are in the key by content
    key = _memo_key(dataset, name, bound, side)
    table = _memo.get(key) if key else None
    if table is None:
        with _cursor(dataset, side) as cursor:
            table = cursor.sql(sql, params=bound).to_arrow_table()
        if key and table.num_rows <= _MEMO_MAX_ROWS:
            _memo.put(key, table)
    return table


class _Memo:
    """The last few SQL results (Arrow tables, immutable), so that queries built from others (the
    headline from the scorecard, concentration and funnel; return on relationships from the
    scorecard) do not compute the same scorecard again. Bounded in number and in bytes (the oldest
    go first): memory does not grow with windows, filters or edits tried."""

    def __init__(self, size: int, max_bytes: int) -> None:
        self.size, self.max_bytes = size, max_bytes
        self._items: OrderedDict[tuple, pa.Table] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> pa.Table | None:
        with self._lock:
            table = self._items.get(key)
            if table is not None:
                self._items.move_to_end(key)
            return table

    def put(self, key: tuple, table: pa.Table) -> None:
        with self._lock:
            old = self._items.pop(key, None)
            self._bytes -= old.nbytes if old is not None else 0
            self._items[key] = table
            self._bytes += table.nbytes
            while len(self._items) > self.size or (self._bytes > self.max_bytes and len(self._items) > 1):
                self._bytes -= self._items.popitem(last=False)[1].nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


# A scorecard at size L (20,000 referrers) is about 5 MB
_memo = _Memo(size=32, max_bytes=64 * 2**20)
# Composite queries reuse per-referrer results; touch-level results (the attribution journeys, millions
# of rows at size L) are kept, as numbers, by their one user (attribution.journeys) and would only be held twice.
_MEMO_MAX_ROWS = 200_000


def forget_results() -> None:
    """Drop remembered results (the benchmark measures every query computed, not remembered)."""
    _memo.clear()


def _memo_key(dataset: Dataset, name: str, bound: dict[str, object],
              side: dict[str, object] | None = None) -> tuple | None:
    try:
        frozen = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in bound.items()))
        hash(frozen)
        content = _content(side or {})
    except (TypeError, ValueError, pa.ArrowException):  # a value or table it cannot digest: not remembered
        return None
    return (id(dataset.connection), dataset.fingerprint, name, frozen, content)


def _content(tables: dict[str, object]) -> str:
    """A digest of small side tables' names, schemas and values (Arrow IPC bytes): two calls with
    equal tables get equal digests, an edit a new one. A few milliseconds for 20,000 tier rows."""
    digest = hashlib.blake2b(digest_size=16)
    for table_name in sorted(tables):
        table = tables[table_name]
        if isinstance(table, pd.DataFrame):
            table = pa.Table.from_pandas(table, preserve_index=False)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        digest.update(table_name.encode())
        digest.update(sink.getvalue())
    return digest.hexdigest()


_NULLABLE_INTEGERS = {pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32()}
_NULLABLE_BOOLEAN = {pa.bool_(): pd.BooleanDtype()}


def to_frame(table: pa.Table) -> pd.DataFrame:
    """Dates stay dates and integers stay integers even with nulls (a level is 4, not 4.0): integer
    columns become pandas Int64."""
    integers = {i for i, column in enumerate(table.columns) if column.type in _NULLABLE_INTEGERS}
    if len(set(table.column_names)) < table.num_columns:  # a frame of columns by name cannot hold twins
        frame = table.to_pandas(date_as_object=True, types_mapper=_NULLABLE_BOOLEAN.get)
        for position in sorted(integers):
            frame.isetitem(position, _int64(table.column(position)))
        return frame
    # The other columns through Arrow's own conversion, the integer ones made here, and the frame put
    # together once without copying them (setting them one by one copied each: at size L, 6 million
    # journey rows took 0.36-0.76 s to convert, most of a query's time)
    rest = table.select([i for i in range(table.num_columns) if i not in integers])
    others = rest.to_pandas(date_as_object=True, types_mapper=_NULLABLE_BOOLEAN.get)
    columns = {name: _int64(table.column(i)) if i in integers else others[name]
               for i, name in enumerate(table.column_names)}
    return pd.DataFrame(columns, index=pd.RangeIndex(table.num_rows), copy=False)


def _int64(column: pa.ChunkedArray) -> pd.arrays.IntegerArray:
    """An integer column as pandas Int64, from numpy values and a null mask: pandas' own Arrow conversion
    to Int64 is about 4 times slower. The chunks are written straight into one int64 array (one copy,
    not a concatenation and then a widening)."""
    values = np.empty(len(column), dtype=np.int64)
    start = 0
    for chunk in column.chunks:
        if chunk.null_count:
            chunk = chunk.fill_null(0)
        values[start:start + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
        start += len(chunk)
    # without nulls a zeroed mask: it costs no memory until written
    missing = column.is_null().to_numpy() if column.null_count else np.zeros(len(column), dtype=bool)
    return pd.arrays.IntegerArray(values, missing)


def _values(query: NamedQuery, dataset: Dataset, window: Window | None, filters: Filters | None,
            params: dict[str, object] | None) -> dict[str, object]:
    window = window or default_window(dataset)
    values: dict[str, object] = {"start": window.start, "end": window.end}
    values.update((filters or Filters()).as_params())
    values.update(bind_params(query, params))
    return values


def run(
    name: str,
    dataset: Dataset,
    window: Window | None = None,
    filters: Filters | None = None,
    params: dict[str, object] | None = None,
    extra_tables: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """The one way to compute a named query's result (``extra_tables``: see ``run_sql``)."""
    query = get(name)
    values = _values(query, dataset, window, filters, params)
    if query.function is not None:
        _ensure_macros(dataset)
        if query.reads:
            values["tables"] = _given_tables(query.reads, extra_tables)
        return query.function(dataset, values)
    return run_sql(dataset, name, values, extra_tables)


def run_in_batches(
    name: str,
    dataset: Dataset,
    window: Window | None = None,
    filters: Filters | None = None,
    params: dict[str, object] | None = None,
    extra_tables: dict[str, pd.DataFrame] | None = None,
    rows: int = 100_000,
) -> Iterator[pd.DataFrame]:
    """``run``'s result as consecutive frames of at most ``rows`` rows (at least one, perhaps empty),
    for writing out results too large to hold in memory as one frame and its text at once: the text
    exports of the journeys at size L are millions of rows. Query functions yield their one frame."""
    query = get(name)
    if query.function is not None:
        yield run(name, dataset, window, filters, params, extra_tables)
        return
    _ensure_macros(dataset)
    sql, bound = _bound(name, _values(query, dataset, window, filters, params))
    with _cursor(dataset, _side_tables(sql, extra_tables)) as cursor:
        reader = cursor.sql(sql, params=bound).to_arrow_reader(rows)
        empty = True
        for batch in reader:
            empty = False
            yield to_frame(pa.Table.from_batches([batch]))
        if empty:
            yield to_frame(reader.schema.empty_table())
