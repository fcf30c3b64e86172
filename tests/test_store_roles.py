"""Roles and the import log in the edit store: versions and history, conflicts refused, append-only,
and the first admins from configuration (dashboard/auth.py)."""

from __future__ import annotations

import sqlite3

import pytest

from dashboard import auth
from dashboard.store import StoreConflict, open_store


@pytest.fixture()
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture()
def store(url):
    opened = open_store(url)
    yield opened
    opened.close()


def test_the_migration_adds_roles_and_the_import_log(store, tmp_path):
    with sqlite3.connect(tmp_path / "state.db") as raw:
        assert raw.execute("select version_num from alembic_version").fetchone()[0] == "0006"
        names = {r[0] for r in raw.execute("select name from sqlite_master where type in ('table', 'view')")}
    assert {"role_history", "roles_current", "import_log"} <= names


def test_a_role_is_kept_per_email_with_who_when_and_why(store):
    assert store.role_of("ann@firm.com") is None and store.role_version("ann@firm.com") == 0
    assert store.set_role(" Ann@Firm.COM ", "Editor", "boss@firm.com", "joins BD", 0) == 1
    assert store.set_role("ann@firm.com", "admin", "boss@firm.com", "runs the board review", 1) == 2
    assert store.set_role("bob@firm.com", "viewer", "boss@firm.com", "reads the pack") == 1
    # e-mails compare lower-case: the identity provider's claim may differ in case
    assert store.role_of("ANN@firm.com") == "admin" and store.role_version("ann@firm.com") == 2
    current = store.roles()
    assert current["email"].tolist() == ["ann@firm.com", "bob@firm.com"]
    assert current["role"].tolist() == ["admin", "viewer"]
    history = store.role_history("ann@firm.com")
    assert history["version"].tolist() == [1, 2]
    assert history["role"].tolist() == ["editor", "admin"]
    assert history["changed_by"].tolist() == ["boss@firm.com", "boss@firm.com"]
    assert history["reason"].tolist() == ["joins BD", "runs the board review"]
    assert history["changed_at"].notna().all()
    assert len(store.role_history()) == 3


def test_giving_the_same_role_again_records_nothing(store):
    store.set_role("ann@firm.com", "editor", "boss@firm.com", "joins BD")
    assert store.set_role("ann@firm.com", "editor", "boss@firm.com", "again") is None
    assert store.role_version("ann@firm.com") == 1


def test_a_role_changed_meanwhile_is_refused_not_overwritten(url):
    first, second = open_store(url), open_store(url)  # two sessions, two processes' worth of engines
    first.set_role("ann@firm.com", "editor", "boss@firm.com", "joins BD", 0)
    with pytest.raises(StoreConflict, match=r"the role of ann@firm.com was changed by boss@firm.com at .*"
                                            r"\(now version 1; you edited version 0\)"):
        second.set_role("ann@firm.com", "admin", "other@firm.com", "promotion", 0)
    assert second.role_of("ann@firm.com") == "editor"
    assert second.set_role("ann@firm.com", "admin", "other@firm.com", "promotion, seen theirs", 1) == 2
    first.close()
    second.close()


@pytest.mark.parametrize("email, role, by, reason, match", [
    ("ann", "editor", "boss@firm.com", "x", "not an e-mail address"),
    ("ann smith@firm.com", "editor", "boss@firm.com", "x", "not an e-mail address"),
    ("", "editor", "boss@firm.com", "x", "an e-mail address is required"),
    ("ann@firm.com", "owner", "boss@firm.com", "x", "role must be one of viewer, editor, admin"),
    ("ann@firm.com", None, "boss@firm.com", "x", "role must be one of"),
    ("ann@firm.com", "editor", "", "x", "who is making the change is required"),
    ("ann@firm.com", "editor", "boss@firm.com", " ", "a reason is required"),
])
def test_a_role_change_must_be_complete(store, email, role, by, reason, match):
    with pytest.raises(ValueError, match=match):
        store.set_role(email, role, by, reason)
    assert store.roles().empty


def test_role_history_and_import_log_are_append_only_even_outside_the_app(store, tmp_path):
    store.set_role("ann@firm.com", "editor", "boss@firm.com", "joins BD")
    store.record_import(table="referrals", file_name="crm.csv", target="/data/firm", rows_read=10, accepted=8,
                        quarantined=1, skipped=1, by="ann@firm.com")
    with sqlite3.connect(tmp_path / "state.db") as raw:
        for statement in ("update role_history set role = 'admin'", "delete from role_history",
                          "update import_log set changed_by = 'x'", "delete from import_log"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                raw.execute(statement)
        # the schema itself refuses a role outside the three and an e-mail not in lower case
        with pytest.raises(sqlite3.IntegrityError):
            raw.execute("insert into role_history (email, version, role, changed_by, changed_at, reason) "
                        "values ('eve@firm.com', 1, 'owner', 'eve', '2026-01-01', 'x')")
        with pytest.raises(sqlite3.IntegrityError):
            raw.execute("insert into role_history (email, version, role, changed_by, changed_at, reason) "
                        "values ('Eve@firm.com', 1, 'admin', 'eve', '2026-01-01', 'x')")
    assert store.role_of("ann@firm.com") == "editor"


def test_the_import_log_keeps_who_imported_what_newest_first(store):
    store.record_import(table="referrers", file_name="a.csv", target="/d", rows_read=3, accepted=3,
                        quarantined=0, skipped=0, by="ann@firm.com")
    store.record_import(table="referrals", file_name="b.xlsx", target="/d", rows_read=5, accepted=2,
                        quarantined=2, skipped=1, by="bob@firm.com")
    log = store.imports()
    assert log["table_name"].tolist() == ["referrals", "referrers"]
    assert log["changed_by"].tolist() == ["bob@firm.com", "ann@firm.com"]
    assert log[["rows_read", "accepted", "quarantined", "skipped"]].iloc[0].tolist() == [5, 2, 2, 1]


def test_roles_do_not_change_the_query_revision(store):
    # roles are not read by named queries: giving one must not empty the query cache
    before = store.revision()
    store.set_role("ann@firm.com", "editor", "boss@firm.com", "joins BD")
    assert store.revision() == before


# --- the first admins, from configuration ---------------------------------------------------------

@pytest.mark.parametrize("secrets, expected", [
    ({"refport": {"admins": ["Boss@Firm.com", " second@firm.com "]}}, {"boss@firm.com", "second@firm.com"}),
    ({"refport": {"admins": "boss@firm.com"}}, {"boss@firm.com"}),  # one string is one admin
    ({"refport": {}}, set()),
    ({"auth": {"cookie_secret": "x"}}, set()),
    ({}, set()),
])
def test_the_first_admins_come_from_secrets(secrets, expected):
    assert auth.configured_admins(secrets) == expected
