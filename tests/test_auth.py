"""The write guard (dashboard/auth.py): every kind of write checks the role of the person using the app at
the moment of writing, and the audit trail records the signed-in e-mail, whatever name a page passes."""

from __future__ import annotations

import inspect
import re
from datetime import date

import pytest

from dashboard import auth
from dashboard.data import PROJECT_ROOT
from dashboard.store import Plan, Store, TierChange, open_store

EDITOR = auth.Identity(auth.SIGN_IN, "eddie@firm.test", "Eddie Editor", "editor", "store")
VIEWER = auth.Identity(auth.SIGN_IN, "vic@firm.test", "Vic Viewer", "viewer", "default")
ADMIN = auth.Identity(auth.SIGN_IN, "ada@firm.test", "Ada Admin", "admin", "configuration")
SIGNED_OUT = auth.Identity(auth.SIGN_IN, None, "", None, "signed out")
LOCAL = auth.Identity(auth.LOCAL, None, "Jane Smith", "admin", "local mode")
FORGED_NAME = "Somebody Else"  # what a page (or a forged request) passes as `by`
DAY = date(2025, 6, 1)
REFERRERS_CSV = b"referrer_id,name,referrer_type,region\nR9,Zed LLP,law firm,London\n"


@pytest.fixture()
def store(tmp_path):
    opened = open_store(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()


def guarded(store, identity):
    return auth.GuardedStore(store, lambda: identity)


def kpi(**changes):
    fields = {"measure": "inbound_referrals", "scope_kind": "firm", "scope_value": None, "target": 40,
              "start_on": date(2026, 1, 1), "deadline": date(2026, 7, 1), "owner": "Head of BD",
              "baseline": 30.0, "baseline_on": date(2025, 12, 31), "by": FORGED_NAME}
    fields.update(changes)
    return fields


# Every kind of write a page can reach, as a page would call it (passing some name as `by`).
WRITES = {
    "save": lambda g, ctx: g.save("R1", 4, FORGED_NAME, "board review", 0),
    "save_many": lambda g, ctx: g.save_many([TierChange("R2", 3, 0)], FORGED_NAME, "board review"),
    "save_target_mix": lambda g, ctx: g.save_target_mix(DAY, {"corporate": 1.0}, FORGED_NAME, "strategy", 0),
    "save_target_mixes": lambda g, ctx: g.save_target_mixes({date(2025, 7, 1): {"corporate": 1.0}}, FORGED_NAME,
                                                            "strategy"),
    "retire_target_mix": lambda g, ctx: g.retire_target_mix(date(2025, 8, 1), FORGED_NAME, "withdrawn"),
    "save_plan": lambda g, ctx: g.save_plan(Plan("R1", partner="Ann Archer"), FORGED_NAME, expected_version=0),
    "create_kpi": lambda g, ctx: g.create_kpi(**kpi()),
    "update_kpi": lambda g, ctx: g.update_kpi(ctx["kpi"], FORGED_NAME, owner="New owner"),
    "close_kpi": lambda g, ctx: g.close_kpi(ctx["kpi"], 35.0, date(2026, 2, 1), FORGED_NAME),
    "mark_told": lambda g, ctx: g.mark_told({"RF1": DAY}, FORGED_NAME),
    "set_role": lambda g, ctx: g.set_role("new@firm.test", "editor", FORGED_NAME, "joins BD"),
    "record_import": lambda g, ctx: g.record_import(table="referrers", file_name="r.csv", target=str(ctx["dir"]),
                                                    rows_read=1, accepted=1, quarantined=0, skipped=0,
                                                    by=FORGED_NAME),
    "import_file": lambda g, ctx: g.import_file(REFERRERS_CSV, "referrers", ctx["dir"], None, name="r.csv"),
}


def test_every_write_kind_is_covered_here():
    assert set(WRITES) == set(auth.WRITES) | {"import_file"}


def snapshot(store, out_dir):
    """Everything a write could change: the store's histories, roles, import log, the data directory."""
    return (store.revision(), len(store.role_history()), len(store.imports()),
            sorted(p.name for p in out_dir.glob("*")) if out_dir.exists() else [])


@pytest.fixture()
def ctx(store, tmp_path):
    """A KPI to update or close (made directly in the store, as an earlier editor would have)."""
    made = store.create_kpi(**kpi(by="setup@firm.test"))
    return {"kpi": made.kpi_id, "dir": tmp_path / "imported"}


@pytest.mark.parametrize("write", list(WRITES))
@pytest.mark.parametrize("identity", [VIEWER, SIGNED_OUT], ids=["viewer", "signed-out"])
def test_a_viewer_or_nobody_is_refused_every_write_and_nothing_changes(store, ctx, write, identity):
    before = snapshot(store, ctx["dir"])
    with pytest.raises(auth.NotAllowed) as refused:
        WRITES[write](guarded(store, identity), ctx)
    message = str(refused.value)
    assert message.startswith("Not saved:")
    needed = "admin" if write == "set_role" else "editor"
    assert f"needs the {needed} role" in message
    assert ("vic@firm.test has the viewer role" in message) if identity is VIEWER else ("Sign in first" in message)
    assert snapshot(store, ctx["dir"]) == before
    # the pages' handlers of refused saves catch it: ValueError around store writes, OSError around imports
    assert isinstance(refused.value, ValueError) and isinstance(refused.value, OSError)


@pytest.mark.parametrize("write", [w for w in WRITES if w != "set_role"])
def test_an_editor_may_make_every_change_but_roles_and_the_audit_has_their_email(store, ctx, write):
    before = snapshot(store, ctx["dir"])
    WRITES[write](guarded(store, EDITOR), ctx)
    assert snapshot(store, ctx["dir"]) != before
    by = {
        "save": lambda: store.history("R1")["changed_by"].tolist(),
        "save_many": lambda: store.history("R2")["changed_by"].tolist(),
        "save_target_mix": lambda: store.target_mix_history()["changed_by"].tolist(),
        "save_target_mixes": lambda: store.target_mix_history()["changed_by"].tolist(),
        "retire_target_mix": lambda: store.target_mix_history()["changed_by"].tolist(),
        "save_plan": lambda: store.plan_history("R1")["changed_by"].tolist(),
        "create_kpi": lambda: store.kpi_history()["changed_by"].tolist()[1:],  # [0]: the setup KPI
        "update_kpi": lambda: store.kpi_history(ctx["kpi"])["changed_by"].tolist()[1:],
        "close_kpi": lambda: store.kpi_history(ctx["kpi"])["changed_by"].tolist()[1:],
        "mark_told": lambda: store.loop_closed_history()["changed_by"].tolist(),
        "record_import": lambda: store.imports()["changed_by"].tolist(),
        "import_file": lambda: store.imports()["changed_by"].tolist(),
    }[write]()
    assert by == ["eddie@firm.test"]  # never the name the page passed


def test_a_real_import_writes_the_table_and_logs_who_made_it(store, ctx):
    result = guarded(store, EDITOR).import_file(REFERRERS_CSV, "referrers", ctx["dir"], None, name="r.csv")
    assert result.written == ctx["dir"] / "referrers.parquet" and result.written.exists()
    log = store.imports().iloc[0]
    assert (log["table_name"], log["file_name"], log["accepted"], log["changed_by"]) == \
        ("referrers", "r.csv", 1, "eddie@firm.test")


def test_a_dry_run_import_writes_nothing_and_is_open_to_a_viewer(store, ctx):
    result = guarded(store, VIEWER).import_file(REFERRERS_CSV, "referrers", ctx["dir"], None, dry_run=True,
                                                name="r.csv")
    assert result.accepted == 1 and result.written is None
    assert not ctx["dir"].exists() and store.imports().empty


def test_an_editor_cannot_give_roles(store, ctx):
    with pytest.raises(auth.NotAllowed, match="eddie@firm.test has the editor role; giving people roles needs "
                                              "the admin role"):
        WRITES["set_role"](guarded(store, EDITOR), ctx)
    assert store.roles().empty


def test_an_admin_gives_roles_stamped_with_their_email_but_not_their_own(store, monkeypatch):
    monkeypatch.setattr(auth, "_secrets", lambda: {"auth": {}, "refport": {"admins": ["ada@firm.test",
                                                                                       "root@firm.test"]}})
    admin = guarded(store, ADMIN)
    assert admin.set_role("Eddie@Firm.test", "editor", FORGED_NAME, "joins BD", 0) == 1
    history = store.role_history()
    assert history[["email", "role", "changed_by", "reason"]].values.tolist() == \
        [["eddie@firm.test", "editor", "ada@firm.test", "joins BD"]]
    with pytest.raises(auth.NotAllowed, match="cannot change your own role"):
        admin.set_role("ADA@firm.test", "viewer", FORGED_NAME, "oops")
    with pytest.raises(auth.NotAllowed, match="root@firm.test is an admin by configuration"):
        admin.set_role("root@firm.test", "viewer", FORGED_NAME, "demote")
    assert len(store.role_history()) == 1


def test_local_mode_allows_every_write_under_the_typed_name(store, ctx):
    local = guarded(store, LOCAL)
    local.save("R1", 4, "Jane Smith", "board review", 0)
    local.set_role("eddie@firm.test", "editor", "Jane Smith", "before sign-in is switched on")
    assert store.history("R1")["changed_by"].tolist() == ["Jane Smith"]
    assert store.role_history()["changed_by"].tolist() == ["Jane Smith"]
    with pytest.raises(ValueError, match="who is making the change is required"):
        auth.GuardedStore(store, lambda: auth.Identity(auth.LOCAL, None, "", "admin", "local mode")).save(
            "R2", 3, "", "no name typed")


def test_the_identity_is_read_at_the_moment_of_writing(store):
    """A role taken away while a page is open applies to the next save, not the next page load."""
    now = {"who": EDITOR}
    pages_store = auth.GuardedStore(store, lambda: now["who"])  # what a page holds
    pages_store.save("R1", 4, FORGED_NAME, "first", 0)
    now["who"] = auth.Identity(auth.SIGN_IN, "eddie@firm.test", "Eddie Editor", "viewer", "store")
    with pytest.raises(auth.NotAllowed, match="viewer role"):
        pages_store.save("R1", 3, FORGED_NAME, "second", 1)
    assert store.history("R1")["level"].tolist() == [4]


# --- who is using the app: st.user, configuration and the store -----------------------------------

class FakeUser:
    def __init__(self, claims):
        self.claims = claims

    def to_dict(self):
        return dict(self.claims)


SIGN_IN_SECRETS = {"auth": {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s" * 32,
                            "client_id": "refport", "client_secret": "x",
                            "server_metadata_url": "https://accounts.google.com/.well-known/openid-configuration"},
                   "refport": {"admins": ["ada@firm.test"]}}


@pytest.fixture()
def signed_in(monkeypatch, store):
    """current_identity with these secrets and this st.user (as Streamlit gives them)."""
    def who(claims, secrets=SIGN_IN_SECRETS):
        monkeypatch.setattr(auth, "_secrets", lambda: secrets)
        monkeypatch.setattr(auth.st, "user", FakeUser(claims))
        return auth.current_identity(lambda: store, "typed name")
    return who


def test_roles_come_from_configuration_then_the_store_then_default_viewer(signed_in, store):
    assert signed_in({"is_logged_in": True, "email": "ADA@firm.test", "name": "Ada"}) == \
        auth.Identity(auth.SIGN_IN, "ada@firm.test", "Ada", "admin", "configuration")
    assert signed_in({"is_logged_in": True, "email": "eddie@firm.test"}).role == "viewer"  # unknown: viewer
    store.set_role("eddie@firm.test", "editor", "ada@firm.test", "joins BD")
    eddie = signed_in({"is_logged_in": True, "email": "eddie@firm.test", "name": "Eddie"})
    assert (eddie.role, eddie.source, eddie.by) == ("editor", "store", "eddie@firm.test")
    store.set_role("eddie@firm.test", "viewer", "ada@firm.test", "left BD")
    assert signed_in({"is_logged_in": True, "email": "eddie@firm.test"}).role == "viewer"


def test_nobody_signed_in_can_do_nothing_and_local_mode_is_the_typed_name(signed_in):
    nobody = signed_in({"is_logged_in": False})
    assert nobody.role is None and not nobody.can("tier") and nobody.by == ""
    local = signed_in({"email": "test@example.com"}, secrets={})  # no [auth]: st.user is ignored
    assert (local.mode, local.by, local.can("roles")) == (auth.LOCAL, "typed name", True)


def test_an_unverified_or_missing_email_gets_no_role(signed_in):
    # an identity provider that does not verify addresses must not make anyone an admin by claiming one
    unverified = signed_in({"is_logged_in": True, "email": "ada@firm.test", "email_verified": False})
    assert (unverified.role, unverified.source) == ("viewer", "unverified e-mail")
    assert "not verified" in unverified.refusal("tier")
    no_email = signed_in({"is_logged_in": True, "sub": "12345", "name": "Someone"})
    assert (no_email.role, no_email.email, no_email.by) == ("viewer", None, "")
    # Microsoft Entra ID may send the address as preferred_username only
    entra = signed_in({"is_logged_in": True, "preferred_username": "Ada@Firm.test"})
    assert (entra.email, entra.role) == ("ada@firm.test", "admin")


def test_an_unreadable_secrets_file_fails_closed(signed_in):
    broken = signed_in({"is_logged_in": True, "email": "ada@firm.test"}, secrets=None)
    assert broken.mode == auth.SIGN_IN and broken.role is None and not broken.can("tier")
    # the app then shows the sign-in screen with the problem, never local mode
    assert auth.mode() == "broken" and auth.needs_sign_in()
    assert auth.config_problems() == ["a secrets.toml file exists but cannot be read (check its TOML syntax)"]


# --- configuration ------------------------------------------------------------------------------------

def test_sign_in_buttons_name_the_provider():
    assert auth.providers(SIGN_IN_SECRETS) == [(None, "Google")]
    named = {"auth": {"redirect_uri": "x/oauth2callback", "cookie_secret": "s",
                      "microsoft": {"client_id": "a", "client_secret": "b", "server_metadata_url": "c"},
                      "google": {"client_id": "a", "client_secret": "b", "server_metadata_url": "c"}}}
    assert auth.providers(named) == [("microsoft", "Microsoft"), ("google", "Google")]
    assert auth.config_problems(named) == []
    own = {"auth": {"client_id": "a", "server_metadata_url": "http://127.0.0.1:9/x"},
           "refport": {"provider_name": "Firm SSO"}}
    assert auth.providers(own) == [(None, "Firm SSO")]


def test_an_incomplete_auth_section_is_reported_not_ignored():
    problems = auth.config_problems({"auth": {"redirect_uri": "http://localhost:8501/callback",
                                              "client_id": "refport"}})
    assert any("must end with /oauth2callback" in p for p in problems)
    assert any("no cookie_secret" in p for p in problems)
    assert any("[auth] lacks client_secret, server_metadata_url" in p for p in problems)
    assert auth.config_problems({"auth": {}})[-1].startswith("[auth] names no identity provider")


# --- structure: a new write cannot bypass the guard ------------------------------------------------

def test_every_public_store_method_is_a_classified_read_or_guarded_write():
    public = {name for name, _ in inspect.getmembers(Store) if not name.startswith("_")}
    unclassified = public - set(auth.WRITES) - auth.READS - auth.NOT_FOR_PAGES
    assert not unclassified, f"classify these Store members in dashboard/auth.py: {sorted(unclassified)}"
    assert not set(auth.WRITES) & auth.READS
    for name in auth.WRITES:  # every write names who makes it, so the guard can stamp it
        assert "by" in inspect.signature(getattr(Store, name)).parameters, name


def test_pages_cannot_reach_the_engine_or_an_unclassified_method(store):
    pages_store = guarded(store, ADMIN)
    for name in ("engine", "close", "_writer", "_append", "no_such_method"):
        with pytest.raises(AttributeError):
            getattr(pages_store, name)
    with pytest.raises(AttributeError):
        pages_store._store = store  # the guard cannot be swapped out


def test_pages_write_only_through_the_guarded_store():
    """No page opens the store or writes data files itself: everything goes through state.edit_store()."""
    direct = re.compile(r"shared_store|open_store|Store\(|\._store\b|importer\.import_file|\.to_parquet|write_table")
    offenders = [f"{path.name}: {line.strip()}"
                 for path in sorted((PROJECT_ROOT / "dashboard" / "views").glob("*.py"))
                 for line in path.read_text().splitlines() if direct.search(line)]
    assert not offenders, offenders
