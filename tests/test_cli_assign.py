"""`refport assign` and the store as `refport query` sees it: exit codes, messages, what is saved."""

from __future__ import annotations

import json

import pytest

from dashboard.cli import main
from dashboard.store import open_store
from tests.conftest import TINY
from tests.fixtures import write_dataset


def refport(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assign(capsys, tiny_dir, state, *args):
    return refport(capsys, "assign", *args, "--data", str(tiny_dir), "--state", str(state))


def test_assign_saves_with_who_and_why(capsys, tiny_dir, state):
    code, out, err = assign(capsys, tiny_dir, state, "R2", "4", "--by", "Ann Archer", "--reason", "strategic bank")
    assert code == 0, err
    # R2's suggested level on TINY's default window (2024-02-01 .. 2026-01-31) is 3
    assert out.startswith("R2: Unassigned → Level 4 · Platinum (version 1, by Ann Archer at ")
    assert "suggested: Level 3 · Gold" in out
    history = open_store(f"sqlite:///{state}").history("R2")
    assert history[["level", "changed_by", "reason"]].values.tolist() == [[4, "Ann Archer", "strategic bank"]]


def test_levels_by_name_and_unassigning(capsys, tiny_dir, state):
    assert assign(capsys, tiny_dir, state, "R1", "Gold", "--by", "Ann", "--reason", "a")[0] == 0
    code, out, _ = assign(capsys, tiny_dir, state, "R1", "none", "--by", "Ann", "--reason", "out")
    assert code == 0 and "Level 3 · Gold → Unassigned (version 2" in out
    code, out, _ = assign(capsys, tiny_dir, state, "R1", "none", "--by", "Ann", "--reason", "again")
    assert code == 0 and out.startswith("R1: already Unassigned; nothing saved")
    assert len(open_store(f"sqlite:///{state}").history("R1")) == 2


def test_a_stale_expected_version_is_refused_with_exit_1(capsys, tiny_dir, state):
    assign(capsys, tiny_dir, state, "R3", "2", "--by", "Ann", "--reason", "first")
    code, out, err = assign(capsys, tiny_dir, state, "R3", "1", "--by", "Ben", "--reason", "stale",
                            "--expect-version", "0")
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("refport: not saved: R3 was changed by Ann at ") and "UTC, reload" in err
    current = open_store(f"sqlite:///{state}").current()
    assert current["assigned_level"].tolist() == [2]  # Ann's level stands
    code, _, err = assign(capsys, tiny_dir, state, "R3", "1", "--by", "Ben", "--reason", "seen it",
                          "--expect-version", "1")
    assert code == 0, err


@pytest.mark.parametrize("args, message", [
    (("R99", "4", "--by", "Ann", "--reason", "x"), "refport: unknown referrer 'R99': not in "),
    (("R1", "7", "--by", "Ann", "--reason", "x"), "refport: bad level '7': expected 1, 2, 3, 4 "),
    (("R1", "diamond", "--by", "Ann", "--reason", "x"), "refport: bad level 'diamond'"),
    (("R1", "4", "--by", " ", "--reason", "x"), "refport: --by and --reason must not be empty"),
    (("R1", "4", "--by", "Ann", "--reason", ""), "refport: --by and --reason must not be empty"),
    (("R1", "4", "--by", "Ann"), "refport assign: the following arguments are required: --reason"),
])
def test_bad_referrers_levels_and_missing_names_exit_2_with_one_line(capsys, tiny_dir, state, args, message):
    code, out, err = assign(capsys, tiny_dir, state, *args)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1
    assert not state.exists() or open_store(f"sqlite:///{state}").history().empty


def test_default_state_is_beside_the_data_directory(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("REFPORT_STATE", raising=False)
    data = write_dataset(tmp_path / "firm", TINY)
    code, _, err = refport(capsys, "assign", "R1", "3", "--by", "Ann", "--reason", "x", "--data", str(data))
    assert code == 0, err
    assert (tmp_path / "firm.refport-state.db").exists()


def test_state_from_the_environment(capsys, tiny_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("REFPORT_STATE", str(tmp_path / "env.db"))
    code, _, _ = refport(capsys, "assign", "R1", "3", "--by", "Ann", "--reason", "x", "--data", str(tiny_dir))
    assert code == 0 and (tmp_path / "env.db").exists()


def test_query_reads_the_assignments_from_the_state(capsys, tiny_dir, state):
    assign(capsys, tiny_dir, state, "R2", "4", "--by", "Ann", "--reason", "strategic bank")
    code, out, err = refport(capsys, "query", "tier_assignments", "--data", str(tiny_dir), "--state", str(state),
                             "--start", "2025-01-01", "--end", "2025-12-31", "--format", "json")
    assert code == 0, err
    rows = {r["referrer_id"]: r for r in json.loads(out)}
    assert set(rows["R2"]) == {"referrer_id", "suggested_level", "assigned_level", "assigned_by", "assigned_at",
                               "reason"}
    assert (rows["R2"]["suggested_level"], rows["R2"]["assigned_level"], rows["R2"]["assigned_by"]) == (3, 4, "Ann")
    assert rows["R1"]["assigned_level"] is None
    code, out, _ = refport(capsys, "query", "scorecard", "--data", str(tiny_dir), "--state", str(state),
                           "--format", "json")
    assert {r["referrer_id"]: r["assigned_level"] for r in json.loads(out)}["R2"] == 4


def test_query_without_a_state_file_creates_none(capsys, tiny_dir, tmp_path):
    missing = tmp_path / "not-yet.db"
    code, out, _ = refport(capsys, "query", "tier_assignments", "--data", str(tiny_dir), "--state", str(missing),
                           "--format", "json")
    assert code == 0 and all(r["assigned_level"] is None for r in json.loads(out))
    assert not missing.exists()


def test_assign_is_listed_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["assign", "--help"])
    out = capsys.readouterr().out
    assert "--by NAME" in out and "--reason TEXT" in out and "--state PATH" in out
