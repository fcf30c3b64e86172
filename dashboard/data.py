"""Open a data directory as DuckDB views over its Parquet files.

One connection per process; callers take a ``cursor()`` per query or thread.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dashboard.contract import TABLE_NAMES

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = PROJECT_ROOT / "data" / "sample"
DUCKDB_THREADS = 2


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


def _quote_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


@dataclass
class Dataset:
    """A data directory opened as views on one DuckDB connection."""

    data_dir: Path
    connection: duckdb.DuckDBPyConnection
    fingerprint: str

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self.connection.cursor()


def open_dataset(data_dir: str | Path | None = None) -> Dataset:
    """Create one view per contract table. Missing files are left out (the check reports them)."""
    path = resolve_data_dir(data_dir)
    con = locked_connection(path)
    for name in TABLE_NAMES:
        file = path / f"{name}.parquet"
        if file.exists():
            con.execute(f"create view {name} as select * from read_parquet({_quote_path(file)})")
    return Dataset(path, con, fingerprint(path))


def locked_connection(data_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that can read files under ``data_dir`` and nothing else.

    Whatever SQL reaches it, it cannot read /etc/passwd, write a file, attach a
    database, install or load an extension, or undo these settings (the
    configuration is locked once they are made).
    """
    con = duckdb.connect(config={
        "threads": DUCKDB_THREADS,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    })
    # order matters: allowed_directories cannot be set once external access is off
    con.execute("set allowed_directories = $dirs", {"dirs": [str(data_dir) + os.sep]})
    con.execute("set enable_external_access = false")
    con.execute("set lock_configuration = true")
    return con


_lock = threading.Lock()
_open: dict[Path, Dataset] = {}


def shared_dataset(data_dir: str | Path | None = None) -> Dataset:
    """The process-wide dataset for a directory, reopened when its files change."""
    path = resolve_data_dir(data_dir)
    with _lock:
        current = _open.get(path)
        if current is None or current.fingerprint != fingerprint(path):
            if current is not None:
                current.connection.close()
            current = open_dataset(path)
            _open[path] = current
        return current
