"""Sign-in and roles in the app (Streamlit's AppTest): local mode as before, the sign-in screen, read-only
pages for viewers, the signed-in e-mail in the audit trail, and writes refused on the server.

AppTest simulates a signed-in user with ``app.user`` (what ``st.user`` reads) and sign-in configuration
with ``app.secrets`` (what ``st.secrets`` reads; dashboard/auth.py reads the [auth] section there).
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data import PROJECT_ROOT
from dashboard.store import open_store

APP = str(PROJECT_ROOT / "dashboard" / "app.py")
TIERING = "views/tiering.py"
ADMIN, EDITOR, VIEWER = "ada@firm.test", "eddie@firm.test", "vic@firm.test"
SECRETS = {
    "auth": {"redirect_uri": "https://refport.firm.test/oauth2callback", "cookie_secret": "c" * 40,
             "client_id": "refport", "client_secret": "secret",
             "server_metadata_url": "https://login.microsoftonline.com/tenant/v2.0/.well-known/openid-configuration"},
    "refport": {"admins": [ADMIN]},
}


def user(email, name=None):
    return {"is_logged_in": True, "email": email, "name": name or email.split("@")[0].title()}


def app_as(who=None, secrets=SECRETS, page=None, typed=None):
    """The app in sign-in mode as this user (None: nobody signed in); ``typed``: a name in "Editing as"."""
    app = AppTest.from_file(APP, default_timeout=60)
    app.secrets = dict(secrets)
    app.user = who if who is not None else {"is_logged_in": False}
    if typed:
        app.session_state["editor_name"] = typed
    if page:
        app.switch_page(page)
    app.run()
    assert not app.exception, app.exception
    return app


def editors(state):
    store = open_store(f"sqlite:///{state}")
    store.set_role(EDITOR, "editor", ADMIN, "runs the board review", 0)
    return store


def stage_bulk(app, referrers, level, reason):
    app.session_state["tiering_bulk_open"] = True  # the expander a person opens
    app.run()
    app.multiselect(key="tiering_bulk_ids").set_value(referrers).run()
    app.selectbox(key="tiering_bulk_level").set_value(level).run()
    app.button(key="tiering_bulk_add").click().run()
    app.text_input(key="tiering_reason_input").set_value(reason).run()
    assert not app.exception, app.exception


def texts(elements):
    return " ".join(str(e.value) for e in elements)


# --- local mode: as before ---------------------------------------------------------------------------

def test_local_mode_is_labelled_and_saves_under_the_typed_name(env, state):
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception
    sidebar = app.sidebar
    assert "Local mode" in texts(sidebar.caption)
    assert [t.label for t in sidebar.text_input] == ["Editing as"]
    assert not [b for b in app.button if b.label.startswith("Sign")]
    app.session_state["editor_name"] = "Jane Smith"
    app.switch_page(TIERING).run()
    assert not app.info or "Read-only" not in texts(app.info)
    stage_bulk(app, ["R4"], "Level 1 · Bronze", "keep warm")
    app.button(key="tiering_save").click().run()
    assert app.success[0].value == "Saved 1 change(s) as Jane Smith."
    assert open_store(f"sqlite:///{state}").history()["changed_by"].tolist() == ["Jane Smith"]


def test_local_mode_users_page_says_roles_need_sign_in(env):
    app = AppTest.from_file(APP, default_timeout=60)
    app.switch_page("views/users.py").run()
    assert not app.exception
    assert app.title[0].value == "Users and roles"
    assert "Local mode" in app.info[0].value and "Roles apply once sign-in is configured" in app.info[0].value
    assert not app.main.button  # nothing to save


# --- sign-in mode: nothing before sign-in ---------------------------------------------------------------

@pytest.mark.parametrize("page", [None, TIERING, "views/users.py"])
def test_signed_out_sees_only_the_app_name_and_the_sign_in_button(env, page):
    app = app_as(None, page=page)
    assert [t.value for t in app.title] == ["refport"]
    assert [b.label for b in app.button] == ["Sign in with Microsoft"]
    assert not app.sidebar.children  # no window, filters or navigation
    assert len(app.main.children) == 3  # the title, its caption, the button
    for kind in ("metric", "dataframe", "data_editor", "text_input", "selectbox", "info", "error"):
        assert not getattr(app, kind), kind


def test_an_incomplete_sign_in_configuration_is_said_not_skipped(env):
    broken = {"auth": {"redirect_uri": "https://refport.firm.test/callback", "client_id": "refport"}}
    app = app_as(None, secrets=broken)
    assert [t.value for t in app.title] == ["refport"]
    assert not app.button  # no way in until it is fixed, and no fall-back to local mode
    assert "must end with /oauth2callback" in app.error[0].value and "cookie_secret" in app.error[0].value


def test_the_sidebar_names_the_signed_in_person_and_role(env, state):
    editors(state)
    app = app_as(user(EDITOR, "Eddie Editor"))
    caption = texts(app.sidebar.caption)
    assert "Eddie Editor" in caption and EDITOR in caption and "Role: **editor**" in caption
    assert [b.label for b in app.sidebar.button if b.key == "sign_out"] == ["Sign out"]
    assert "Editing as" not in [t.label for t in app.sidebar.text_input]


# --- viewers: read-only, refused on the server ---------------------------------------------------------

@pytest.mark.parametrize("page, disabled, expander", [
    (TIERING, ["tiering_bulk_add", "tiering_bulk_all"], "tiering_bulk_open"),
    ("views/matrix.py", ["matrix_assign"], None),
    ("views/kpis.py", ["kpi_create"], None),
    ("views/drift.py", ["mix_save"], None),
    ("views/profile.py", ["Save plan"], None),
])
def test_a_viewer_sees_the_page_read_only_and_says_why(env, page, disabled, expander):
    app = app_as(user(VIEWER), page=page)
    if expander:  # buttons inside an expander are built once it is opened
        app.session_state[expander] = True
        app.run()
    assert "Read-only" in texts(app.info) and "viewer" in texts(app.info)
    for name in disabled:  # a button's key or label
        found = [b for b in app.button if name in (b.key, b.label)]
        assert found and all(b.disabled for b in found), name
    saves = [b for b in app.button if b.label.startswith(("Save", "Create", "Record", "Assign", "Close"))]
    assert all(b.disabled for b in saves), [(b.label, b.disabled) for b in saves]


def test_a_viewer_cannot_import(env):
    app = app_as(user(VIEWER))
    app.switch_page("views/import_data.py").run()  # url path "import": switch after a first run
    assert app.title[0].value == "Import an export"
    assert "importing data needs the **editor** role" in texts(app.info)
    assert not app.get("file_uploader")


def test_a_viewer_is_refused_every_write_from_within_their_session(env, state):
    """The page's write path reached in a viewer's real session: each kind of write is refused."""

    def script():
        from datetime import date

        import streamlit as st

        from dashboard import state as app_state
        from dashboard.store import Plan, TierChange

        store = app_state.edit_store()
        attempts = {
            "tier": lambda: store.save_many([TierChange("R1", 4, 0)], "Forged", "forged"),
            "target_mix": lambda: store.save_target_mix(date(2025, 1, 1), {"x": 1.0}, "Forged", "forged"),
            "plan": lambda: store.save_plan(Plan("R1", partner="Forged"), "Forged"),
            "kpi": lambda: store.create_kpi(measure="inbound_referrals", scope_kind="firm", scope_value=None,
                                            target=1, start_on=date(2026, 1, 1), deadline=date(2026, 6, 1),
                                            owner="x", baseline=0, baseline_on=date(2025, 12, 31), by="Forged"),
            "loop": lambda: store.mark_told({"RF1": date(2025, 6, 1)}, "Forged"),
            "roles": lambda: store.set_role("vic@firm.test", "admin", "Forged", "promote myself"),
            "import": lambda: store.import_file(b"referrer_id,name,referrer_type,region\nR9,Z,bank,North\n",
                                                "referrers", app_state.dataset().data_dir, None, name="x.csv"),
        }
        for kind, attempt in attempts.items():
            try:
                attempt()
                st.write(f"{kind}: WRITTEN")
            except PermissionError as refused:
                st.write(f"{kind}: {refused}")

    app = AppTest.from_function(script, default_timeout=60)
    app.secrets = dict(SECRETS)
    app.user = user(VIEWER)
    app.run()
    assert not app.exception, app.exception
    lines = [m.value for m in app.markdown]
    assert len(lines) == 7 and not [line for line in lines if "WRITTEN" in line], lines
    assert all("Not saved: vic@firm.test has the viewer role" in line for line in lines), lines
    store = open_store(f"sqlite:///{state}")
    assert store.revision() == (0, 0, 0, 0, 0) and store.roles().empty and store.imports().empty


def test_a_forged_click_on_a_viewers_disabled_save_changes_nothing(env, state):
    """A viewer's session with a change forced into it and the disabled Save pressed anyway (the
    button's disabled flag stripped, as a forged message would): Streamlit drops the click, and the
    save path refuses the viewer regardless (previous test); nothing is written."""
    app = app_as(user(VIEWER), page=TIERING)
    app.session_state["tiering_pending"] = {"R1": {"level": 4, "version": 0}}
    app.session_state["tiering_reason_input"] = "forged"
    app.run()
    save = app.button(key="tiering_save")
    assert save.disabled
    save.proto.disabled = False
    save.click().run()
    assert not app.exception
    assert open_store(f"sqlite:///{state}").history().empty


def test_a_role_taken_away_while_the_page_is_open_is_refused_at_save(env, state):
    store = editors(state)
    app = app_as(user(EDITOR), page=TIERING)
    stage_bulk(app, ["R1"], "Level 3 · Gold", "demote")  # Save is enabled: eddie is an editor ...
    store.set_role(EDITOR, "viewer", ADMIN, "left the BD team")  # ... until an admin changes that
    app.button(key="tiering_save").click().run()
    assert "Not saved: eddie@firm.test has the viewer role" in app.error[0].value
    assert app.session_state["tiering_pending"] == {"R1": {"level": 3, "version": 0}}  # their edit kept
    assert store.history().empty


# --- editors and admins --------------------------------------------------------------------------------

def test_an_editor_saves_and_the_audit_records_their_email(env, state):
    editors(state)
    app = app_as(user(EDITOR, "Eddie Editor"), page=TIERING, typed="Somebody Else")
    assert "Read-only" not in texts(app.info)
    stage_bulk(app, ["R2"], "Level 2 · Silver", "cooling relationship")
    app.button(key="tiering_save").click().run()
    assert app.success[0].value == f"Saved 1 change(s) as {EDITOR}."
    assert open_store(f"sqlite:///{state}").history()["changed_by"].tolist() == [EDITOR]
    history = next(d.value for d in app.dataframe if "By" in d.value.columns)
    assert history["By"].tolist() == [EDITOR]


def test_an_admin_gives_roles_on_the_users_page(env, state):
    app = app_as(user(ADMIN), page="views/users.py")
    people = app.dataframe[0].value
    assert people[["E-mail", "Role", "From"]].values.tolist() == [[ADMIN, "admin", "configuration"]]
    app.text_input(key="users_email").set_value("New.Person@Firm.test")
    app.selectbox(key="users_role").set_value("editor")
    app.text_input(key="users_reason").set_value("joins BD")
    app.button(key="users_save").click().run()
    assert app.success[0].value == "new.person@firm.test is now editor (version 1)."
    store = open_store(f"sqlite:///{state}")
    assert store.role_history()[["email", "role", "changed_by", "reason"]].values.tolist() == \
        [["new.person@firm.test", "editor", ADMIN, "joins BD"]]
    # nobody changes their own role
    app.text_input(key="users_email").set_value(ADMIN)
    app.selectbox(key="users_role").set_value("viewer")
    app.text_input(key="users_reason").set_value("oops")
    app.button(key="users_save").click().run()
    assert "cannot change your own role" in app.error[0].value
    assert len(store.role_history()) == 1


def test_only_admins_see_the_users_page(env, state):
    editors(state)
    app = app_as(user(EDITOR))
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not in an editor's navigation
        app.switch_page("views/users.py").run()
    # and the page itself, were it reached, shows nothing but why
    page = AppTest.from_file(str(PROJECT_ROOT / "dashboard" / "views" / "users.py"), default_timeout=60)
    page.secrets = dict(SECRETS)
    page.user = user(EDITOR)
    page.run()
    assert not page.exception, page.exception
    assert "Only admins can see and change roles" in page.warning[0].value
    assert not page.dataframe and not page.button
