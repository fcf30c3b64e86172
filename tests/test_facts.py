"""Facts (queries/_facts): built once per version of the data, rebuilt when it changes, never seen
by a query as extra columns; and the registry's bounded memo of results."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from dashboard import facts, registry
from dashboard.contract import TABLES
from dashboard.data import open_dataset
from dashboard.window import Filters, Window
from tests.conftest import TINY, WINDOW
from tests.fixtures import write_dataset

NO_FILTER = (None,) * 5


def _fact_folders(data_dir: Path) -> list[Path]:
    root = facts.cache_root(data_dir)
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("REFPORT_CACHE", raising=False)
    return write_dataset(tmp_path / "extracts", TINY)


def test_facts_are_built_beside_the_data_once_per_version(data_dir):
    first = open_dataset(data_dir)
    folders = _fact_folders(data_dir)
    assert [f.parent for f in folders] == [data_dir.parent / "extracts.refport-cache"]
    built = {p.name: p.stat().st_mtime_ns for p in folders[0].glob("*.parquet")}
    assert sorted(built) == sorted(facts.fact_file(folders[0], name).name for name in facts.FACT_NAMES)

    second = open_dataset(data_dir)  # same data: the files are read, not written again
    assert second.fingerprint == first.fingerprint
    assert {p.name: p.stat().st_mtime_ns for p in folders[0].glob("*.parquet")} == built


def test_changed_data_gets_new_facts_and_the_old_ones_go(data_dir):
    before = open_dataset(data_dir)
    old = _fact_folders(data_dir)
    rows = [dict(r) for r in TINY["fees"]]
    rows[0]["amount"] = rows[0]["amount"] + 1000.0
    write_dataset(data_dir, {**TINY, "fees": rows})
    after = open_dataset(data_dir)
    new = _fact_folders(data_dir)
    assert after.fingerprint != before.fingerprint
    assert len(new) == 1 and new != old
    total = after.cursor().sql("select sum(amount) from fee_facts").fetchall()[0][0]
    assert total == pytest.approx(sum(r["amount"] for r in rows))


def test_cache_folder_from_the_environment(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("REFPORT_CACHE", str(tmp_path / "cache"))
    open_dataset(data_dir)
    assert [p.parent.parent for p in _fact_folders(data_dir)] == [tmp_path / "cache"]
    assert not (data_dir.parent / "extracts.refport-cache").exists()


@pytest.mark.parametrize("macro, table, arity", [
    ("kept_referrals", "referrals", 5),
    ("kept_matters", "matters", 5),
    ("kept_activities", "activities", 4),
])
def test_filter_macros_return_the_contract_columns_only(data_dir, macro, table, arity):
    dataset = open_dataset(data_dir)
    registry._ensure_macros(dataset)
    columns = [c[0] for c in dataset.cursor().sql(f"select * from {macro}({', '.join(['null'] * arity)}) limit 0")
               .description]
    assert columns == [c.name for c in TABLES[table].columns]


def test_fee_and_relationship_macros_add_only_what_they_document(data_dir):
    dataset = open_dataset(data_dir)
    registry._ensure_macros(dataset)
    cur = dataset.cursor()
    fees = [c[0] for c in cur.sql("select * from kept_fees(null, null, null, null, null) limit 0").description]
    rels = [c[0] for c in cur.sql("select * from kept_relationships(null, null, null, null) limit 0").description]
    assert fees == [c.name for c in TABLES["fees"].columns] + ["referral_id"]
    assert rels == [c.name for c in TABLES["relationships"].columns] + ["referrer_id"]


def test_without_facts_the_same_joins_run_as_views(data_dir, monkeypatch):
    """When facts cannot be written (here: pretend), queries still give the same numbers."""
    expected = registry.run("scorecard", open_dataset(data_dir), WINDOW)
    monkeypatch.setattr(facts, "facts_dir", lambda *args, **kwargs: None)
    fallback = registry.run("scorecard", open_dataset(data_dir), WINDOW)
    assert fallback.equals(expected)


def test_unwritable_folder_beside_the_data_falls_back_to_temp(data_dir, monkeypatch):
    monkeypatch.setattr(facts, "_writable", lambda folder: False)
    root = facts.cache_root(data_dir)
    assert root.parent.name == "refport-cache" and root.name.startswith("extracts-")


def test_memo_returns_the_same_numbers_and_stays_bounded(data_dir):
    dataset = open_dataset(data_dir)
    registry.forget_results()
    first = registry.run("scorecard", dataset, WINDOW)
    again = registry.run("scorecard", dataset, WINDOW)
    assert again.equals(first) and again is not first  # a fresh frame: callers may change theirs
    for days in range(registry._memo.size + 5):  # more windows than the memo holds
        registry.run("funnel", dataset, Window(WINDOW.start + timedelta(days=days), WINDOW.end))
    assert len(registry._memo._items) == registry._memo.size


def test_memo_is_bounded_in_bytes_too(data_dir, monkeypatch):
    dataset = open_dataset(data_dir)
    funnel = registry.run_sql_arrow(dataset, "funnel", {"start": WINDOW.start, "end": WINDOW.end,
                                                         **Filters().as_params()})
    monkeypatch.setattr(registry, "_memo", registry._Memo(size=32, max_bytes=funnel.nbytes + 1))
    registry.run("funnel", dataset, WINDOW)
    registry.run("concentration", dataset, WINDOW)  # the two together are over the bytes allowed
    assert [key[2] for key in registry._memo._items] == ["concentration"]
    assert registry._memo._bytes == sum(t.nbytes for t in registry._memo._items.values())


def test_queries_reading_the_store_are_remembered_by_what_it_holds(data_dir, tmp_path):
    from dashboard import store as store_module

    dataset = open_dataset(data_dir)
    registry.forget_results()
    edits = store_module.open_store(f"sqlite:///{tmp_path / 'edits.sqlite'}")
    before = store_module.query_tables(edits)
    first = registry.run("tier_assignments", dataset, WINDOW, extra_tables=before)
    again = registry.run("tier_assignments", dataset, WINDOW, extra_tables=store_module.query_tables(edits))
    assert again.equals(first)
    assert [key[2] for key in registry._memo._items].count("tier_assignments") == 1  # equal tables: one entry

    referrer = first["referrer_id"].iloc[0]
    level = 1 if first["suggested_level"].iloc[0] != 1 else 2
    edits.save(referrer, level, "Ann", "moved in the review", 0)
    edited = registry.run("tier_assignments", dataset, WINDOW, extra_tables=store_module.query_tables(edits))
    assert edited.set_index("referrer_id").loc[referrer, "assigned_level"] == level  # the edit is seen, not the memo
    assert [key[2] for key in registry._memo._items].count("tier_assignments") == 2
    assert registry.run("tier_assignments", dataset, WINDOW, extra_tables=before).equals(first)


def test_fact_files_are_written_atomically(data_dir):
    open_dataset(data_dir)
    (folder,) = _fact_folders(data_dir)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no partial files left
    assert all(os.path.getsize(p) > 0 for p in folder.glob("*.parquet"))


def test_results_longer_than_the_bound_are_not_remembered(data_dir, monkeypatch):
    dataset = open_dataset(data_dir)
    registry.forget_results()
    monkeypatch.setattr(registry, "_MEMO_MAX_ROWS", 3)
    assert len(registry.run("scorecard", dataset, WINDOW)) > 3
    registry.run("funnel", dataset, WINDOW)  # four rows: over the bound of 3 too
    registry.run("concentration", dataset, WINDOW)  # one row: kept
    assert sorted(key[2] for key in registry._memo._items) == ["concentration"]


def test_the_app_shows_a_spinner_only_while_facts_must_be_built(data_dir):
    from contextlib import nullcontext

    from dashboard import state
    from dashboard.data import fingerprint

    stamp = fingerprint(data_dir)
    assert not isinstance(state._preparing(data_dir, stamp), nullcontext)  # nothing built yet
    open_dataset(data_dir)
    assert isinstance(state._preparing(data_dir, stamp), nullcontext)


def test_changed_fact_sql_rebuilds_that_fact_and_later_ones_only(data_dir, monkeypatch):
    open_dataset(data_dir)
    folder = _fact_folders(data_dir)[0]
    before = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.parquet")}
    changed = facts.FACT_NAMES[-2]
    original = facts.fact_sql
    monkeypatch.setattr(facts, "fact_sql", lambda name: original(name) + ("\n" if name == changed else ""))
    facts.fact_versions.cache_clear()
    try:
        open_dataset(data_dir)
        after = {p.name: p.stat().st_mtime_ns for p in folder.glob("*.parquet")}
        untouched = facts.FACT_NAMES[:-2]
        for name in untouched:  # same file, not written again
            file = facts.fact_file(folder, name).name
            assert after[file] == before[file]
        rebuilt = {facts.fact_file(folder, name).name for name in facts.FACT_NAMES[-2:]}
        assert rebuilt.isdisjoint(before) and rebuilt <= after.keys()
        assert len(after) == len(facts.FACT_NAMES)  # the old versions' files are gone
    finally:
        facts.fact_versions.cache_clear()


@pytest.mark.parametrize("fact, team, day", [
    ("referral_facts", "to_team", "referred_on"), ("matter_facts", "team", "opened_on"),
    ("fee_facts", "fact_team", "billed_on"), ("activity_facts", "fact_team", "occurred_on"),
])
def test_row_facts_are_stored_by_team_and_office_then_date(data_dir, fact, team, day):
    """A team or office filter then reads its row groups only; within a team and office the rows keep date
    order, so a window's edge days still skip the row groups of other days."""
    rows = open_dataset(data_dir).cursor().sql(f"select {team}, fact_office, {day} from {fact}").fetchall()
    assert len({t for t, _, _ in rows}) > 1 and len({o for _, o, _ in rows}) > 1
    assert rows == sorted(rows, key=lambda row: (row[0] is None, row[0] or "", row[1] is None, row[1] or "", row[2]))


def test_decided_referrals_are_the_inbound_decisions_by_decision_day(tmp_path):
    tables = {**TINY, "referrals": [*TINY["referrals"], {**TINY["referrals"][0], "referral_id": "RF15",
                                                         "referred_on": "2025-06-01", "closed_on": None}]}
    dataset = open_dataset(write_dataset(tmp_path / "extracts", tables))
    rows = dataset.cursor().sql("select referral_id, decided_on::varchar from decided_referrals").fetchall()
    # open (RF3, RF9), outbound (RF10-RF12) and internal (RF13) referrals are not decisions; RF15 has no
    # closed_on, so it was decided the day it was referred. In day order (not by team, as the row facts):
    # closing the loop reads the last 90 days
    assert rows == [("RF8", "2022-03-20"), ("RF4", "2025-01-02"), ("RF1", "2025-01-10"), ("RF2", "2025-04-01"),
                    ("RF5", "2025-05-10"), ("RF15", "2025-06-01"), ("RF6", "2025-06-07"), ("RF7", "2025-07-20"),
                    ("RF14", "2025-11-20")]


def test_a_fact_is_written_in_its_own_row_groups_and_a_new_size_is_a_new_version(tmp_path, monkeypatch):
    import shutil

    import duckdb

    from dashboard.data import SAMPLE_DIR

    monkeypatch.delenv("REFPORT_CACHE", raising=False)
    data_dir = tmp_path / "sample"
    shutil.copytree(SAMPLE_DIR, data_dir, ignore=shutil.ignore_patterns("*.refport-*"))
    before = facts.fact_versions()
    # DuckDB writes whole vectors of 2,048 rows: the sample's 2,816 journey rows make two groups of this
    monkeypatch.setitem(facts.ROW_GROUP_SIZES, "journey_facts", 2048)
    facts.fact_versions.cache_clear()
    try:
        after = facts.fact_versions()
        # journey_facts and the facts after it (which may read it) are built again; those before are not
        at = facts.FACT_NAMES.index("journey_facts")
        assert all(after[name] == before[name] for name in facts.FACT_NAMES[:at])
        assert all(after[name] != before[name] for name in facts.FACT_NAMES[at:])
        dataset = open_dataset(data_dir)
        folder = facts.facts_dir_if_built(data_dir, dataset.fingerprint)
        con = duckdb.connect()
        groups = {}
        for name in ("journey_facts", "journey_fees"):
            groups[name] = con.execute("select count(distinct row_group_id), max(row_group_num_rows) "
                                       "from parquet_metadata($file)",
                                       {"file": str(facts.fact_file(folder, name))}).fetchall()[0]
        rows = dataset.cursor().sql("select count(*) from journey_facts").fetchall()[0][0]
        assert rows > 2048 and groups["journey_facts"] == (-(-rows // 2048), 2048)
        fee_rows = dataset.cursor().sql("select count(*) from journey_fees").fetchall()[0][0]
        assert groups["journey_fees"] == (1, fee_rows)  # the usual size: one group for so few rows
        dataset.connection.close()
    finally:
        monkeypatch.undo()
        facts.fact_versions.cache_clear()  # the real sizes' versions for the tests after this one
