"""Facts: the contract tables joined once per data load (see queries/_facts/README.md).

Every filter macro reads these instead of joining referrals, matters, fee
earners and referrers again in every query; at 10 million referrals that
join is most of a query's time. They are written to Parquet beside the data
directory, keyed by the data's fingerprint, so the work is done once per
change of the data, shared by the app, the CLI and every process, and kept
out of memory.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import duckdb

from dashboard.contract import TABLE_NAMES

FACTS_SQL_DIR = Path(__file__).resolve().parent.parent / "queries" / "_facts"
# Built in this order; each reads contract tables and the facts before it.
FACT_NAMES = ("referral_facts", "matter_facts", "fee_facts", "activity_facts", "relationship_facts",
              "touch_codes", "journey_conversions", "journey_facts", "journey_fees", "touch_facts",
              "referral_months", "fee_days", "fee_months", "activity_months", "first_referral_days",
              "lifetime_fee_days", "mover_referrals", "mover_fees", "inbound_outcomes",
              "decided_referrals")
CACHE_SUFFIX = ".refport-cache"
# Rows per Parquet row group: small enough that a window skips whole groups by their date range.
ROW_GROUP_SIZE = 122_880
# journey_facts (by conversion day) is read for a window by every attribution query; at 100,000
# referrals it was one row group, read whole for any window (journey_touches 77 -> 68 ms at M).
ROW_GROUP_SIZES = {"journey_facts": 16_384}
BUILD_MEMORY = "1GB"


@cache
def fact_sql(name: str) -> str:
    """The select that builds a fact table (its file's text without the header comments)."""
    text = (FACTS_SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))


def cache_root(data_dir: Path) -> Path:
    """Where facts are kept: REFPORT_CACHE, else `<data dir>.refport-cache` beside the data, else (when
    that folder cannot be written) a folder per data directory under the system's temp folder."""
    configured = os.environ.get("REFPORT_CACHE")
    if configured:
        return Path(configured).resolve() / _path_key(data_dir)
    beside = data_dir.parent / f"{data_dir.name}{CACHE_SUFFIX}"
    if _writable(beside):
        return beside
    return Path(tempfile.gettempdir()) / "refport-cache" / _path_key(data_dir)


def _path_key(data_dir: Path) -> str:
    return f"{data_dir.name}-{hashlib.sha256(str(data_dir).encode()).hexdigest()[:12]}"


def _writable(folder: Path) -> bool:
    if folder.exists():
        return os.access(folder, os.W_OK)
    return os.access(folder.parent, os.W_OK)


def _source_tables_present(data_dir: Path) -> bool:
    return all((data_dir / f"{name}.parquet").exists() for name in TABLE_NAMES)


def facts_dir(data_dir: Path, fingerprint: str,
              progress: Callable[[str], None] | None = None) -> Path | None:
    """The folder holding this data's fact files, built first when missing; None when they cannot be
    built (a file missing or unreadable: the contract check reports it, and the filter macros then
    join the contract tables as views instead). Only the facts whose file is missing are built: a
    new refport that changed one fact's SQL rebuilds that fact and those after it, not all."""
    if not _source_tables_present(data_dir):
        return None
    target = facts_dir_if_built(data_dir, fingerprint)
    if target is not None:
        return target
    root = cache_root(data_dir)
    target = root / fingerprint
    try:
        _build(data_dir, target, progress)
    except (duckdb.Error, OSError):
        return None
    _drop_stale(root, keep=target)
    return target


@cache
def fact_versions() -> dict[str, str]:
    """Each fact's version: a hash of its SQL and of the versions of the facts before it (which it
    may read), so a fact is rebuilt when its SQL, or that of one it may read, changes."""
    versions: dict[str, str] = {}
    chain = hashlib.sha256()
    for name in FACT_NAMES:
        chain.update(fact_sql(name).encode())
        if name in ROW_GROUP_SIZES:  # how it is written, too
            chain.update(f"row_group_size {ROW_GROUP_SIZES[name]}".encode())
        versions[name] = chain.copy().hexdigest()[:8]
    return versions


def fact_file(folder: Path, name: str) -> Path:
    """The Parquet file of one fact, named with its version."""
    return folder / f"{name}-{fact_versions()[name]}.parquet"


def facts_dir_if_built(data_dir: Path, fingerprint: str) -> Path | None:
    """The folder of this data's facts if they are all there, else None (nothing is built)."""
    target = cache_root(data_dir) / fingerprint
    return target if all(fact_file(target, name).exists() for name in FACT_NAMES) else None


def _build(data_dir: Path, target: Path, progress: Callable[[str], None] | None) -> None:
    target.mkdir(parents=True, exist_ok=True)
    # A private, unlocked connection that only runs this module's own SQL: it must write files, which
    # the query connection (dashboard.data.locked_connection) cannot.
    con = duckdb.connect(config={
        "threads": 2,
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        # bounded, so building facts for 10 million referrals does not take the app's memory with it;
        # beyond this DuckDB spills to the cache folder
        "memory_limit": BUILD_MEMORY,
        "temp_directory": str(target / ".spill"),
    })
    try:
        con.execute("set enable_progress_bar = false")  # progress goes through ``progress``, fact by fact
        for name in TABLE_NAMES:
            file = data_dir / f"{name}.parquet"
            con.execute(f"create view {name} as select * from read_parquet({quote(file)})")
        for name in FACT_NAMES:
            final = fact_file(target, name)
            if final.exists():  # built by an earlier run, for this data and this SQL
                con.execute(f"create view {name} as select * from read_parquet({quote(final)})")
                continue
            if progress:
                progress(f"building {name} for {data_dir.name}")
            partial = target / f".{name}.{os.getpid()}.parquet"
            row_group_size = int(ROW_GROUP_SIZES.get(name, ROW_GROUP_SIZE))
            con.execute(
                f"copy ({fact_sql(name)}) to {quote(partial)} "
                f"(format parquet, compression zstd, row_group_size {row_group_size})"
            )
            os.replace(partial, final)  # atomic: a reader sees the old file or the whole new one
            con.execute(f"create view {name} as select * from read_parquet({quote(final)})")
    finally:
        con.close()
        shutil.rmtree(target / ".spill", ignore_errors=True)


def _drop_stale(root: Path, keep: Path) -> None:
    """Facts of earlier versions of the data, or of older SQL, are never read again."""
    for folder in root.iterdir():
        if folder.is_dir() and folder != keep:
            shutil.rmtree(folder, ignore_errors=True)
    current = {fact_file(keep, name) for name in FACT_NAMES}
    for file in keep.glob("*.parquet"):
        if file not in current:
            file.unlink(missing_ok=True)


def quote(path: Path) -> str:
    """A file path as an SQL string literal (paths are ours, never a user's text)."""
    return "'" + str(path).replace("'", "''") + "'"
