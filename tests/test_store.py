"""The edit store's rules: history, conflicts refused, bulk all-or-nothing, persistence, crash safety."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

import duckdb
import pandas as pd
import pytest

from dashboard import store as store_module
from dashboard.data import PROJECT_ROOT
from dashboard.store import StoreConflict, TierChange, open_store, state_url


@pytest.fixture()
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture()
def store(url):
    opened = open_store(url)
    yield opened
    opened.close()


def rows(frame, columns):
    """Plain Python rows, missing values as None."""
    return [[None if pd.isna(v) else v for v in row] for row in frame[columns].astype(object).values.tolist()]


def utc_now():
    return datetime.now(UTC).replace(tzinfo=None)


# --- where the store lives -----------------------------------------------------------------------

def test_default_state_file_sits_beside_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("REFPORT_STATE", raising=False)
    data = tmp_path / "data" / "sample"
    data.mkdir(parents=True)
    assert state_url(None, data) == f"sqlite:///{tmp_path / 'data' / 'sample.refport-state.db'}"


def test_state_from_option_env_path_or_url(tmp_path, monkeypatch):
    monkeypatch.setenv("REFPORT_STATE", str(tmp_path / "env.db"))
    assert state_url(None, tmp_path) == f"sqlite:///{tmp_path / 'env.db'}"
    # --state wins over the environment; a URL is used as given (PostgreSQL for a shared deployment)
    assert state_url(str(tmp_path / "opt.db"), tmp_path) == f"sqlite:///{tmp_path / 'opt.db'}"
    assert state_url("postgresql+psycopg://app@db/refport", tmp_path) == "postgresql+psycopg://app@db/refport"


def test_sample_state_file_is_git_ignored():
    assert "*.refport-state.db*" in (PROJECT_ROOT / ".gitignore").read_text().split()


# --- schema and SQLite settings --------------------------------------------------------------------

def test_open_creates_the_schema_by_migration_in_wal_mode(store, tmp_path):
    with sqlite3.connect(tmp_path / "state.db") as raw:
        assert raw.execute("pragma journal_mode").fetchone()[0] == "wal"
        assert raw.execute("select version_num from alembic_version").fetchone()[0] == "0006"
        tables = {r[0] for r in raw.execute("select name from sqlite_master where type in ('table', 'view')")}
    assert {"tier_assignment_history", "tier_assignments_current", "target_mix_history",
            "target_mix_share_history", "target_mix_current", "alembic_version"} <= tables
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("pragma synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("pragma busy_timeout").scalar() >= 1000


def test_writes_take_the_write_lock_at_begin_and_reads_do_not(store):
    from sqlalchemy import event

    statements = []
    event.listen(store.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: statements.append(statement.strip().lower()))
    store.save("R1", 4, "Ann", "top", 0)
    assert statements[0] == "begin immediate"
    statements.clear()
    store.current()
    assert statements[0] == "begin"


def test_an_older_store_is_upgraded_when_opened(tmp_path):
    from alembic import command
    from alembic.config import Config

    path = tmp_path / "old.db"
    config = Config()
    config.set_main_option("script_location", str(store_module.MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{path}")
    command.upgrade(config, "0001")  # a store written before the target mix existed
    with sqlite3.connect(path) as raw:
        raw.execute("insert into tier_assignment_history (referrer_id, version, level, changed_by, changed_at, "
                    "reason) values ('R1', 1, 3, 'Ann', '2026-01-02 03:04:05.000000', 'kept')")
    upgraded = open_store(f"sqlite:///{path}")
    assert upgraded.current()["assigned_level"].tolist() == [3]
    assert upgraded.target_mix().empty
    with sqlite3.connect(path) as raw:
        assert raw.execute("select version_num from alembic_version").fetchone()[0] == "0006"


def test_history_is_append_only_even_outside_the_app(store, tmp_path):
    store.save("R1", 4, "Ann", "top referrer", 0)
    with sqlite3.connect(tmp_path / "state.db") as raw:
        for statement in ("update tier_assignment_history set level = 1", "delete from tier_assignment_history"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                raw.execute(statement)


def test_a_file_that_is_not_a_store_is_refused_clearly(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(store_module.StoreError, match="not a usable refport state store"):
        open_store(f"sqlite:///{junk}")


# --- tier assignments ----------------------------------------------------------------------------

def test_saves_keep_every_change_with_who_when_from_and_why(store):
    before = utc_now()
    first = store.save("R1", 4, "Ann Archer", "largest referrer", expected_version=0)
    second = store.save("R1", 2, "Ben Baker", "two lost years", expected_version=1)
    after = utc_now()
    assert (first.version, first.previous_level, first.level) == (1, None, 4)
    assert (second.version, second.previous_level, second.level) == (2, 4, 2)
    history = store.history("R1")
    assert rows(history, ["version", "level", "previous_level", "changed_by", "reason"]) == [
        [1, 4, None, "Ann Archer", "largest referrer"],
        [2, 2, 4, "Ben Baker", "two lost years"],
    ]
    assert before <= history["changed_at"].iloc[0] <= history["changed_at"].iloc[1] <= after  # UTC
    current = store.current()
    assert list(current.columns) == ["referrer_id", "assigned_level", "assigned_by", "assigned_at", "reason",
                                     "version"]
    row = current.set_index("referrer_id").loc["R1"]
    assert (row.assigned_level, row.assigned_by, row.reason, row.version) == (2, "Ben Baker", "two lost years", 2)


def test_a_save_from_a_stale_version_is_refused_not_overwritten(url):
    ann, ben = open_store(url), open_store(url)  # two people, two processes' worth of connections
    assert ann.version("R7") == ben.version("R7") == 0  # both load the page: never assigned
    ann.save("R7", 3, "Ann", "strong bank", expected_version=0)
    with pytest.raises(StoreConflict) as refused:
        ben.save("R7", 1, "Ben", "never refers", expected_version=0)
    message = str(refused.value)
    assert "R7" in message and "changed by Ann at " in message and "UTC, reload" in message
    assert refused.value.keys == ("R7",)
    assert ben.current()["assigned_level"].tolist() == [3]  # Ann's level stands
    assert len(ben.history()) == 1
    # after reloading (version 1), Ben's decision is saved on top, with Ann's as its previous level
    saved = ben.save("R7", 1, "Ben", "never refers", expected_version=1)
    assert (saved.version, saved.previous_level) == (2, 3)


def test_without_an_expected_version_a_scripted_change_is_still_recorded(store):
    store.save("R1", 2, "Ann", "first", 0)
    saved = store.save("R1", 3, "script", "nightly import", expected_version=None)
    assert (saved.version, saved.previous_level, saved.level) == (2, 2, 3)


def test_saving_the_level_a_referrer_already_has_records_nothing(store):
    store.save("R1", 2, "Ann", "first", 0)
    assert store.save("R1", 2, "Ann", "again", 1) is None
    assert store.save("R9", None, "Ann", "never had one", 0) is None
    assert len(store.history()) == 1


def test_unassigning_records_a_null_level(store):
    store.save("R1", 4, "Ann", "top", 0)
    saved = store.save("R1", None, "Ben", "out of the programme", 1)
    assert (saved.level, saved.previous_level, saved.version) == (None, 4, 2)
    row = store.current().iloc[0]
    assert pd.isna(row.assigned_level) and row.assigned_by == "Ben" and row.version == 2


@pytest.mark.parametrize("by, reason, match", [
    ("", "why", "who is making the change is required"),
    ("   ", "why", "who is making the change is required"),
    (None, "why", "who is making the change is required"),
    ("Ann", "", "a reason is required"),
    ("Ann", "  ", "a reason is required"),
])
def test_who_and_why_are_required(store, by, reason, match):
    with pytest.raises(ValueError, match=match):
        store.save("R1", 3, by, reason, 0)
    assert store.history().empty


@pytest.mark.parametrize("level", [0, 5, 2.5, "x", True, -1])
def test_levels_are_1_to_4_or_none(store, level):
    with pytest.raises(ValueError, match=r"level must be 1, 2, 3, 4 or None"):
        store.save("R1", level, "Ann", "why", 0)


def test_bulk_save_is_one_transaction(store):
    saved = store.save_many([TierChange("R1", 4, 0), TierChange("R2", 3, 0), TierChange("R3", 1, 0)],
                            "Ann", "board review")
    assert [a.referrer_id for a in saved] == ["R1", "R2", "R3"]
    assert len({a.changed_at for a in saved}) == 1  # one moment, one transaction
    assert store.current()["assigned_level"].tolist() == [4, 3, 1]


def test_bulk_save_with_one_stale_referrer_saves_none(store):
    store.save("R2", 2, "Ben", "earlier", 0)
    with pytest.raises(StoreConflict, match="R2 was changed by Ben at .* UTC, reload") as refused:
        store.save_many([TierChange("R1", 4, 0), TierChange("R2", 3, 0)], "Ann", "board review")
    assert refused.value.keys == ("R2",)
    assert store.current()["referrer_id"].tolist() == ["R2"]  # R1 not saved either


def test_a_referrer_twice_in_one_bulk_save_is_an_error(store):
    with pytest.raises(ValueError, match="R1 appear twice"):
        store.save_many([TierChange("R1", 4, 0), TierChange("R1", 3, 0)], "Ann", "why")


def test_edits_survive_a_restart(url):
    first = open_store(url)
    first.save("R1", 4, "Ann", "top", 0)
    first.save_many([TierChange("R2", 2, 0), TierChange("R1", 3, 1)], "Ben", "review")
    first.close()
    reopened = open_store(url)
    assert rows(reopened.current(), ["referrer_id", "assigned_level", "version"]) == [
        ["R1", 3, 2], ["R2", 2, 1]]
    assert len(reopened.history()) == 3


# --- target mix ----------------------------------------------------------------------------------

def test_target_mix_is_saved_whole_with_versions(store):
    assert store.save_target_mix("2026-01-01", {"corporate finance": 0.6, "insolvency": 0.4}, "Ann", "plan", 0) == 1
    assert store.save_target_mix(date(2026, 1, 1), {"corporate finance": 0.5, "employment": 0.5}, "Ben",
                                 "new plan", 1) == 2
    mix = store.target_mix()
    assert rows(mix, ["work_type", "target_share", "effective_from", "version"]) == [
        ["corporate finance", 0.5, date(2026, 1, 1), 2], ["employment", 0.5, date(2026, 1, 1), 2]]
    assert len(store.target_mix_history()) == 4  # 2 shares in version 1, 2 in version 2
    with pytest.raises(StoreConflict, match="target mix from 2026-01-01 was changed by Ben at .*, reload"):
        store.save_target_mix("2026-01-01", {"insolvency": 1.0}, "Cy", "stale", 1)


def test_several_dates_in_one_transaction_and_retiring_a_mix(store):
    store.save_target_mixes({"2025-01-01": {"a": 1.0}, "2026-01-01": {"a": 0.25, "b": 0.75}}, "Ann", "import")
    assert sorted(set(store.target_mix()["effective_from"])) == [date(2025, 1, 1), date(2026, 1, 1)]
    assert store.retire_target_mix("2026-01-01", "Ann", "withdrawn", 1) == 2
    assert store.target_mix()["effective_from"].tolist() == [date(2025, 1, 1)]
    assert store.target_mix_version("2026-01-01") == 2


@pytest.mark.parametrize("shares, match", [
    ({"a": 0.5, "b": 0.4}, r"sum to 0\.9 \(90\.00%\); they must sum to 1"),
    ({"a": 1.2, "b": -0.2}, r"target share of 'a' from 2026-01-01 must be between 0 and 1"),
    ({"a": float("nan")}, "must be between 0 and 1"),
    ({"": 1.0}, "a share without a work type"),
    ({}, "has no work types"),
])
def test_target_mix_is_validated_with_clear_messages(store, shares, match):
    with pytest.raises(ValueError, match=match):
        store.save_target_mix("2026-01-01", shares, "Ann", "why", 0)
    assert store.target_mix_history().empty


# --- for queries ----------------------------------------------------------------------------------

def test_current_tables_register_on_a_duckdb_cursor_empty_or_not(store):
    def register(tables):
        con = duckdb.connect()
        for name, frame in tables.items():
            con.register(name, frame)
        return con

    empty = register(store_module.query_tables(None))
    assert empty.sql("select count(*) from tier_assignments_current").fetchall() == [(0,)]
    types = dict(empty.sql("select column_name, column_type from (describe tier_assignments_current)").fetchall())
    assert types == {"referrer_id": "VARCHAR", "assigned_level": "BIGINT", "assigned_by": "VARCHAR",
                     "assigned_at": "TIMESTAMP", "reason": "VARCHAR", "version": "BIGINT"}
    mix_types = dict(empty.sql("select column_name, column_type from (describe target_mix_current)").fetchall())
    assert mix_types["effective_from"] == "DATE" and mix_types["target_share"] == "DOUBLE"

    store.save("R1", 4, "Ann", "top", 0)
    store.save_target_mix("2026-01-01", {"a": 1.0}, "Ann", "plan", 0)
    filled = register(store_module.query_tables(store))
    assert filled.sql("select referrer_id, assigned_level, version from tier_assignments_current").fetchall() == [
        ("R1", 4, 1)]
    assert filled.sql("select work_type, effective_from from target_mix_current").fetchall() == [
        ("a", date(2026, 1, 1))]
    assert filled.sql("select level, level_name from programme_levels order by level").fetchall()[-1] == (
        4, "Platinum")


def test_revision_changes_with_every_save(store):
    assert store.revision() == store_module.REVISION_ZERO
    store.save("R1", 4, "Ann", "top", 0)
    store.save_target_mix("2026-01-01", {"a": 1.0}, "Ann", "plan", 0)
    assert store.revision() == (1, 1, 0, 0, 0)


def test_the_tables_for_queries_are_kept_per_revision_and_an_edit_is_seen_at_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'edits.db'}"
    store_module.open_store(url).save("R1", 4, "Ann", "top", 0)
    first = store_module.tables_at(url)
    assert store_module.tables_at(url) is first  # nothing saved since: the same tables, not read again
    other = store_module.open_store(url)  # another process's store on the same file
    other.save("R1", 2, "Ben", "moved", 1)
    other.save("R2", 3, "Ben", "new", 0)
    after = store_module.tables_at(url)
    assert after is not first
    current = after["tier_assignments_current"].to_pandas().set_index("referrer_id")["assigned_level"]
    assert current.to_dict() == {"R1": 2, "R2": 3}
    # a caller that read the revision before an edit gets tables at least as new as that revision
    assert store_module.tables_at(url, store_module.revision_at(url)) is after
    assert store_module.query_tables(None) is store_module.query_tables(None)  # no store: shared


def test_reading_a_store_that_does_not_exist_creates_nothing(tmp_path):
    path = tmp_path / "nothing-here.db"
    tables = store_module.tables_at(f"sqlite:///{path}")
    assert tables["tier_assignments_current"].num_rows == 0 and store_module.revision_at(f"sqlite:///{path}") == store_module.REVISION_ZERO
    assert not path.exists()


# --- crash safety ---------------------------------------------------------------------------------

# Saves 200 referrers in one bulk transaction per round, round n (from 1) at level (n - 1) % 4 + 1,
# and reports each round after its commit.
CRASH_IDS = [f"R{i:03d}" for i in range(1, 201)]
WRITER = """
import sys
from dashboard.store import TierChange, open_store

store = open_store(sys.argv[1])
ids = [f"R{i:03d}" for i in range(1, 201)]
done = store.version("R001")
while True:
    level = done % 4 + 1
    store.save_many([TierChange(r, level, done) for r in ids], "crash test", f"round {done + 1}")
    done += 1
    print(done, flush=True)
"""


def _kill_mid_write(url: str, rounds: int, pause: float) -> int:
    """Run the writer until it has committed `rounds` more rounds, wait `pause` seconds, SIGKILL it; the
    last round it reported."""
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, url], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
    )
    try:
        reported = [int(process.stdout.readline()) for _ in range(rounds)]
        time.sleep(pause)  # somewhere in the next round's transaction
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
        # anything it managed to report before the kill landed
        reported += [int(line) for line in process.stdout.read().split()]
    finally:
        if process.poll() is None:
            process.kill()
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL
    return reported[-1]


def test_kill_9_during_saves_leaves_the_old_or_the_new_state(tmp_path):
    path = tmp_path / "crash.db"
    url = f"sqlite:///{path}"
    for rounds, pause in ((10, 0.0), (7, 0.003), (12, 0.011), (5, 0.027)):
        last = _kill_mid_write(url, rounds, pause)
        with sqlite3.connect(path) as raw:
            assert raw.execute("pragma integrity_check").fetchall() == [("ok",)]
        reopened = open_store(url)
        current = reopened.current()
        # all or none: every referrer at the same version, the last reported round or the one in flight
        assert current["referrer_id"].tolist() == CRASH_IDS
        versions = set(current["version"])
        assert len(versions) == 1
        version = versions.pop()
        assert version in (last, last + 1)
        # and the level is the one saved in that round
        assert set(current["assigned_level"]) == {(version - 1) % 4 + 1}
        history = reopened.history("R123")
        assert history["version"].tolist() == list(range(1, version + 1))  # no gap, no torn row
        assert history["previous_level"].iloc[1:].tolist() == history["level"].iloc[:-1].tolist()
        reopened.close()


def test_two_processes_saving_the_same_referrer_never_lose_a_change(tmp_path):
    """Two writers racing on one file: each save lands on top of the other's or is refused."""
    url = f"sqlite:///{tmp_path / 'race.db'}"
    open_store(url).close()
    script = """
import sys
from dashboard.store import StoreConflict, open_store

store = open_store(sys.argv[1])
offset = int(sys.argv[2])
written = refused = 0
for i in range(60):
    seen = store.version("R1")
    try:
        if store.save("R1", (i + offset) % 4 + 1, f"writer {offset}", "race", seen) is not None:
            written += 1
    except StoreConflict:
        refused += 1
print(written, refused)
"""
    processes = [subprocess.Popen([sys.executable, "-c", script, url, offset], cwd=PROJECT_ROOT, text=True,
                                  stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
                 for offset in ("0", "2")]
    results = [tuple(map(int, p.communicate(timeout=120)[0].split())) for p in processes]
    history = open_store(url).history("R1")
    # every row is a real change made from the version before it: a chain with no gaps
    assert history["version"].tolist() == list(range(1, len(history) + 1))
    assert history["previous_level"].iloc[1:].tolist() == history["level"].iloc[:-1].tolist()
    # every save reported as written is in the history, and nothing else is
    assert len(history) == sum(written for written, _ in results)


def test_timestamps_are_utc(store):
    saved = store.save("R1", 4, "Ann", "top", 0)
    assert abs(saved.changed_at - utc_now()) < timedelta(minutes=1)
