"""Open a data directory as DuckDB views over its Parquet files.

One connection per process; callers take a ``cursor()`` per query or thread.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dashboard import facts
from dashboard.contract import TABLE_NAMES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
DUCKDB_THREADS = 2
DUCKDB_MEMORY = "1GB"


def resolve_data_dir(data_dir: str | Path | None) -> Path:
    """The data directory to use: the given one, else the built-in sample."""
    if data_dir is None or str(data_dir) == "":
        env = os.environ.get("REFPORT_DATA")
        if env:
            return Path(env).resolve()
        return SAMPLE_DIR
    path = Path(data_dir)
    # `--data data/sample` works from any working directory.
    if not path.exists() and not path.is_absolute() and (PROJECT_ROOT / path).exists():
        path = PROJECT_ROOT / path
    return path.resolve()


def fingerprint(data_dir: Path) -> str:
    """Changes whenever an extract is replaced, grown or touched (sizes and mtimes)."""
    digest = hashlib.sha256(str(data_dir).encode())
    for name in TABLE_NAMES:
        path = data_dir / f"{name}.parquet"
        try:
            stat = path.stat()
            digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        except FileNotFoundError:
            digest.update(f"{name}:missing;".encode())
    return digest.hexdigest()[:16]


@dataclass
class Dataset:
    """A data directory opened as views on one DuckDB connection."""

    data_dir: Path
    connection: duckdb.DuckDBPyConnection
    fingerprint: str

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self.connection.cursor()


def open_dataset(data_dir: str | Path | None = None, progress: Callable[[str], None] | None = None) -> Dataset:
    """Create one view per contract table and per fact (building the facts first when this version of
    the data has none yet; ``progress`` hears about it). Missing files are left out (the check
    reports them)."""
    path = resolve_data_dir(data_dir)
    stamp = fingerprint(path)
    built = facts.facts_dir(path, stamp, progress) if path.is_dir() else None
    con = locked_connection(path, *([built] if built else []))
    for name in TABLE_NAMES:
        file = path / f"{name}.parquet"
        if file.exists():
            con.execute(f"create view {name} as select * from read_parquet({facts.quote(file)})")
    for name in facts.FACT_NAMES:
        if built:
            con.execute(f"create view {name} as select * from read_parquet({facts.quote(facts.fact_file(built, name))})")
            continue
        # Facts could not be built (a file missing or unreadable; the check says which): the same
        # joins run as views, so whatever can be computed still is.
        try:
            con.execute(f"create view {name} as {facts.fact_sql(name)}")
        except duckdb.Error:
            pass
    return Dataset(path, con, stamp)


def locked_connection(data_dir: Path, *also: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can read files under ``data_dir`` (and the folders ``also``: its
    facts) and nothing else.

    Whatever SQL reaches it, it cannot read /etc/passwd, write a file, attach a
    database, install or load an extension, or undo these settings (the
    configuration is locked once they are made).
    """
    con = duckdb.connect(config={
        "threads": DUCKDB_THREADS,
        # the app's budget is 1.5 GB at 10 million referrals; DuckDB's default would be 80% of the machine
        "memory_limit": os.environ.get("REFPORT_DUCKDB_MEMORY", DUCKDB_MEMORY),
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    })
    # order matters: allowed_directories cannot be set once external access is off
    con.execute("set allowed_directories = $dirs", {"dirs": [str(d) + os.sep for d in (data_dir, *also)]})
    con.execute("set enable_external_access = false")
    # a query scans several Parquet files (facts, monthly tallies), and without this each scan reads and
    # parses their footers again: at 10 million referrals scorecard 165 -> 150 ms, concentration 38 ->
    # 32 ms (2-3% at 100,000). Global, so that every cursor has it; a new version of the data gets a new
    # connection, so no footer outlives its file.
    con.execute("set global parquet_metadata_cache = true")
    con.execute("set lock_configuration = true")
    return con


_lock = threading.Lock()
_open: dict[Path, Dataset] = {}


def shared_dataset(data_dir: str | Path | None = None,
                   progress: Callable[[str], None] | None = None,
                   opening: Callable[[Path, str], AbstractContextManager] | None = None) -> Dataset:
    """The process-wide dataset for a directory, reopened when its files change (``opening(path,
    fingerprint)`` wraps that, e.g. in a spinner)."""
    path = resolve_data_dir(data_dir)
    with _lock:
        current = _open.get(path)
        stamp = fingerprint(path)
        if current is None or current.fingerprint != stamp:
            if current is not None:
                current.connection.close()
            with opening(path, stamp) if opening else nullcontext():
                current = open_dataset(path, progress)
            _open[path] = current
        return current
