"""Hostile input through the app (issue 11), and its web hardening.

URL parameters and every text field a user can type into (Editing as, reasons, plan text, KPI names,
search boxes, the import folder and mapping) get quotes, SQL, `..` paths, 100,000 characters, right-to-
left marks, NUL bytes, `<script>` and Markdown links: no exception, the text stored exactly as typed
(less surrounding blanks: the store strips them) through SQLAlchemy bound parameters, shown as text and
never as a link or HTML, and nothing else written. Then the Streamlit settings (XSRF, CORS, upload size,
error details, toolbar), the friendly error with a reference whose details go only to the server log,
and passwords masked wherever a store URL is shown.

AppTest does not draw the entry script's sidebar on a page other than the default one, so these tests put
the "Editing as" name into session state, as the sidebar box does.
"""

from __future__ import annotations

import hashlib
import logging
import tomllib
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from dashboard import errors, importer
from dashboard.cli import main
from dashboard.data import PROJECT_ROOT
from dashboard.formatting import plain
from dashboard.store import Store, open_store, shown_url

APP = str(PROJECT_ROOT / "dashboard" / "app.py")
LONG = "x" * 100_000
# one string with most of the trouble at once, short enough for a name (the store allows 200 characters)
TEXT = ("Ann O'Neil \"'; drop table tier_assignment_history; -- /* c */ $start ? %s {0} "
        "<script>alert(1)</script> [click](https://evil.example) 😀 e\u0301 \u202eevil\u202c")
# for reasons, aims and notes: that, line breaks, a NUL byte and 100,000 characters
BODY = f"  {TEXT}\nsecond line\r\nthird\x00line {LONG}  "
URL_VALUES = {
    "drop table": "' or 1=1; drop table referrals; --",
    "dot-dot": "../../etc/passwd",
    "read_csv": "read_csv('/etc/passwd')",
    "long": LONG,
    "NUL and RTL": "a\x00b\u202e",
    "script and link": "<script>alert(1)</script>[click](https://evil.example)",
}


def _snapshot(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.fixture()
def guarded(env, tiny_dir, tmp_path):
    """The app on TINY with its own store; afterwards the data files are unchanged and the test's folder
    holds nothing but the store."""
    before = _snapshot(tiny_dir)
    yield
    assert _snapshot(tiny_dir) == before, "a data file was changed"
    assert {p.name for p in tmp_path.iterdir()} <= {"edits.db", "edits.db-wal", "edits.db-shm"}


def open_page(page=None, name=None, query=None):
    app = AppTest.from_file(APP, default_timeout=60)
    if name is not None:
        app.session_state["editor_name"] = name
    for key, value in (query or {}).items():
        app.query_params[key] = value
    app.run()
    assert not app.exception, app.exception
    if page:
        app.switch_page(f"views/{page}.py").run()
        assert not app.exception, app.exception
    return app


def no_raw_html(app, *values):
    """No Markdown element renders HTML with the typed text in it, and no typed link became a link."""
    for element in app.markdown:
        if element.proto.allow_html:
            assert not any(v in element.value for v in values)
    texts = [e.value for e in [*app.markdown, *app.caption, *app.warning, *app.info, *app.error, *app.success]]
    assert not any("[click](https://evil.example)" in t for t in texts), "a typed Markdown link is rendered"


def store_at(state):
    return open_store(f"sqlite:///{state}")


# --- URL parameters ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", list(URL_VALUES.values()), ids=list(URL_VALUES))
def test_hostile_url_parameters_are_ignored_or_shown_as_text(guarded, value):
    keys = ("team", "office", "work_type", "referrer_type", "region", "start", "end", "referrer")
    # (Streamlit ignores a whole query string over 524,288 characters: eight long values would be dropped
    # before refport saw them, so the long one goes into two parameters)
    app = open_page(query=dict.fromkeys(keys if len(value) < 1000 else ("team", "referrer"), value))
    # filters the data does not have are dropped; a date that is no date leaves the default window
    assert all(app.session_state[f"filter_{dim}"] == [] for dim in keys[:5])
    assert (app.session_state["window_start"], app.session_state["window_end"]) == (date(2024, 2, 1),
                                                                                    date(2026, 1, 31))
    no_raw_html(app, value)
    app.switch_page("views/profile.py").run()
    assert not app.exception, app.exception
    warning = app.warning[0].value
    assert warning.startswith("There is no referrer '") and len(warning) < 200
    assert "[click](" not in warning and "\x00" not in warning
    no_raw_html(app, value)


@pytest.mark.parametrize("start,end", [("0001-01-01", "9999-12-31"), ("", "1990-01-05")])
def test_url_dates_outside_the_pickers_fall_back_to_the_default_window(guarded, start, end):
    """These used to crash the app: the date pickers refuse values outside 1990-2100, and the default
    start for ?end=1990-01-05 was in 1988."""
    app = open_page(query={k: v for k, v in (("start", start), ("end", end)) if v})
    window = (app.session_state["window_start"], app.session_state["window_end"])
    assert date(1990, 1, 1) <= window[0] and window[1] <= date(2100, 12, 31)


# --- text fields -----------------------------------------------------------------------------------------


def test_the_referrer_search_box_takes_any_text(guarded):
    app = open_page("tiering")
    for search in ("'; drop table referrals; --", "%", ".*", "(", "[", LONG, "a\x00b", "\u202e"):
        app.text_input(key="tiering_search").set_value(search).run()
        assert not app.exception, app.exception
        assert "No referrer matches" in app.info[0].value  # a literal search, not a pattern


def test_programme_levels_keep_a_hostile_name_and_reason_verbatim(guarded, state):
    app = open_page("tiering", name=TEXT)
    editor = app.data_editor[0]
    app.session_state[editor.key] = {"edited_rows": {1: {"Assigned": "Level 2 · Silver"}}, "added_rows": [],
                                     "deleted_rows": []}
    app.run()
    app.text_input(key="tiering_reason_input").set_value(BODY).run()
    app.button(key="tiering_save").click().run()
    assert not app.exception, app.exception
    assert app.success, [e.value for e in app.error]
    history = store_at(state).history()
    assert history[["referrer_id", "changed_by", "reason"]].values.tolist() == [["R2", TEXT, BODY.strip()]]
    no_raw_html(open_page("tiering"), TEXT)
    # the profile shows who assigned the level as text, not as a link
    profile = open_page("profile", query={"referrer": "R2"})
    summary = profile.markdown[0].value
    assert plain(TEXT) in summary and "[click](" not in summary


def test_the_matrix_and_the_target_mix_keep_hostile_reasons_verbatim(guarded, state):
    app = open_page("matrix", name=LONG)
    app.multiselect(key="matrix_picked").set_value(["R4", "R6"]).run()
    app.text_input(key="matrix_reason").set_value(BODY).run()
    app.button(key="matrix_assign").click().run()
    assert not app.exception, app.exception
    # a name too long for the audit trail: a message, nothing saved
    assert any("at most 200" in e.value for e in app.error)
    assert store_at(state).history().empty
    app.session_state["editor_name"] = TEXT
    app.button(key="matrix_assign").click().run()
    assert not app.exception, app.exception
    assert store_at(state).history()[["referrer_id", "changed_by", "reason"]].values.tolist() == [
        ["R4", TEXT, BODY.strip()], ["R6", TEXT, BODY.strip()]]
    drift = open_page("drift", name=TEXT)
    drift.text_input(key="mix_reason").set_value(BODY).run()
    drift.button(key="mix_save").click().run()
    assert not drift.exception, drift.exception
    saved = store_at(state).target_mix_history()
    assert set(saved["changed_by"]) == {TEXT} and set(saved["reason"]) == {BODY.strip()}


def test_a_plan_keeps_hostile_text_verbatim_and_shows_it_as_text(guarded, state):
    app = open_page("profile", name=TEXT, query={"referrer": "R2"})
    key = f"plan_R2_{app.session_state['profile_plan_generation']}"
    app.text_input(key=f"{key}_partner").set_value(TEXT)
    app.text_area(key=f"{key}_aims").set_value(BODY)
    app.text_area(key=f"{key}_notes").set_value(BODY)
    due = date.today() + timedelta(days=30)
    app.session_state[f"{key}_steps"] = {"edited_rows": {}, "deleted_rows": [], "added_rows": [
        {"Next step": BODY, "Owner": TEXT, "Due": due.isoformat(), "Done": False}]}
    app.button(key=f"{key}_save").click().run()
    assert not app.exception, app.exception
    assert app.success, [e.value for e in app.error]
    plan = store_at(state).plan("R2")
    assert (plan.partner, plan.aims, plan.notes) == (TEXT, BODY.strip(), BODY.strip())
    assert [(s.action, s.owner) for s in plan.steps] == [(BODY.strip(), TEXT)]
    fresh = open_page("profile", query={"referrer": "R2"})
    key = f"plan_R2_{fresh.session_state['profile_plan_generation']}"
    assert fresh.text_input(key=f"{key}_partner").value == TEXT
    assert fresh.text_area(key=f"{key}_aims").value == BODY.strip()
    # the line under the name shows the partner as typed, not a link, emphasis or HTML
    assert f"relationship partner **{plain(TEXT)}**" in fresh.markdown[0].value
    no_raw_html(fresh, TEXT)


def test_a_kpi_keeps_hostile_text_verbatim(guarded, state):
    app = open_page("kpis", name=TEXT)
    app.text_input(key="kpi_name").set_value(BODY)
    app.selectbox(key="kpi_measure").set_value("inbound_referrals")
    app.selectbox(key="kpi_scope").set_value("firm").run()
    app.number_input(key="kpi_target").set_value(40)
    app.date_input(key="kpi_deadline").set_value(date.today() + timedelta(days=190))
    app.text_input(key="kpi_owner").set_value(TEXT)
    app.button(key="kpi_create").click().run()
    assert not app.exception, app.exception
    assert app.success, [e.value for e in app.error]
    app.text_input(key="kpis_close_reason").set_value(BODY)
    app.button(key="kpis_close").click().run()
    assert not app.exception, app.exception
    kpi = store_at(state).kpi("K0001")
    assert (kpi.name, kpi.owner, kpi.reason, kpi.status) == (BODY.strip(), TEXT, BODY.strip(), "closed")
    no_raw_html(open_page("kpis"), TEXT)


def test_the_import_folder_must_be_inside_the_import_root(guarded, tiny_dir):
    """A web user cannot make the server write outside the folder holding the data (REFPORT_IMPORT_ROOT)."""
    root = tiny_dir.parent
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["import_upload"] = {"name": "referrers.csv", "data": b"Referrer ID,Name\nR1,Alpha LLP\n"}
    app.run()
    app.switch_page("views/import_data.py").run()
    app.selectbox(key="import_table").set_value("referrers").run()
    before = {p.name for p in root.iterdir()}  # (after the first run: opening the data builds its facts cache)
    for target in ("../../etc", "/etc", "/", "~", "~nosuchuser/x", "a\x00b", "line\nbreak", LONG,
                   "'; drop table referrals; --"):
        app.text_input(key="import_target").set_value(target).run()
        assert not app.exception, app.exception
        if target.startswith("'"):  # a relative name is a folder inside the root, not an escape
            assert not any("imports only into" in e.value for e in app.error)
            assert app.text_area, "the page goes on to the mapping"
        else:
            assert app.error and any(s in app.error[0].value for s in ("imports only into", "control character",
                                                                       "not a usable path")), target
            assert not any(b.key == "import_dry_run" for b in app.button)
    assert {p.name for p in root.iterdir()} == before, "the page created a folder"


def test_web_target_resolves_dot_dot_and_links_before_checking(tmp_path, monkeypatch):
    data = tmp_path / "data" / "sample"
    data.mkdir(parents=True)
    (tmp_path / "data" / "escape").symlink_to(tmp_path)
    assert importer.web_target("imported", data) == (tmp_path / "data" / "imported").resolve()
    assert importer.web_target(str(tmp_path / "data" / "firm"), data) == (tmp_path / "data" / "firm").resolve()
    for target in ("../x", "imported/../../x", "escape/x", str(tmp_path)):
        with pytest.raises(importer.ImportUsageError, match="imports only into"):
            importer.web_target(target, data)
    monkeypatch.setenv(importer.IMPORT_ROOT_ENV, str(tmp_path))
    assert importer.web_target("x", data) == (tmp_path / "x").resolve()


def test_a_hostile_mapping_is_a_message_not_an_exception(guarded):
    app = AppTest.from_file(APP, default_timeout=60)
    app.session_state["import_upload"] = {"name": "referrers.csv", "data": b"Referrer ID,Name\nR1,Alpha LLP\n"}
    app.run()
    app.switch_page("views/import_data.py").run()
    app.selectbox(key="import_table").set_value("referrers").run()
    for text in ('table = "referrers"\n[columns]\nreferrer_id = "\'; drop table x; --"\n', "\x00", LONG,
                 '[columns]\nreferrer_id = "{0}"\nname = "$start"\n', "<script>alert(1)</script>"):
        app.text_area[0].set_value(text).run()
        assert not app.exception, app.exception
        assert app.error, "a broken mapping must be reported"


# --- web hardening ----------------------------------------------------------------------------------------


def test_streamlit_settings_keep_the_protections_on():
    text = (PROJECT_ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8")
    written = tomllib.loads(text)
    # written out explicitly, so nobody turns them off by accident
    assert written["server"]["enableXsrfProtection"] is True and written["server"]["enableCORS"] is True
    assert written["server"]["maxUploadSize"] * 1024 * 1024 == importer.MAX_UPLOAD_BYTES
    assert written["client"] == {"showErrorDetails": "none", "toolbarMode": "viewer"}
    assert "none" in {o.value for o in st_config.ShowErrorDetailsConfigOptions}
    # and Streamlit reads them so, from the project folder as `refport run` starts it (a fresh parse,
    # put back afterwards so options other tests set are kept)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(PROJECT_ROOT)
        patch.setattr(st_config, "_config_options", None)
        options = st_config.get_config_options(force_reparse=True)
        assert options["server.enableXsrfProtection"].value is True
        assert options["server.enableXsrfProtection"].where_defined.endswith("config.toml")
        assert options["server.enableCORS"].value is True
        assert options["server.maxUploadSize"].value == 100
        assert options["client.showErrorDetails"].value == "none"
        assert options["client.toolbarMode"].value == "viewer"


def _failing_page():
    import streamlit as st

    from dashboard import errors

    with errors.friendly_errors("test page"):
        st.title("Before the failure")
        raise RuntimeError("boom at postgresql://refport:s3cret@db.firm.local/refport?password=s3cret "
                           "with cookie c00kie-s3cret-value")


def _stopping_page():
    import streamlit as st

    from dashboard import errors

    with errors.friendly_errors("test page"):
        st.session_state["runs"] = st.session_state.get("runs", 0) + 1
        if st.session_state["runs"] == 1:
            st.rerun()
        st.write("after the rerun")
        st.stop()
        st.write("never shown")


def _records(caplog):
    return [r for r in caplog.records if r.name == "refport"]


def test_a_failing_page_shows_a_reference_and_logs_the_details_without_secrets(caplog, monkeypatch):
    monkeypatch.setattr(errors, "_under_test", lambda: False)  # as when served
    caplog.set_level(logging.ERROR, logger="refport")
    app = AppTest.from_function(_failing_page)
    app.secrets["auth"] = {"cookie_secret": "c00kie-s3cret-value", "client_secret": "cl1ent-s3cret"}
    app.run()
    assert not app.exception  # the browser gets no exception, type or traceback
    assert app.title[0].value == "Before the failure"
    shown = app.error[0].value
    assert "Something went wrong" in shown and "boom" not in shown and "Traceback" not in shown
    (record,) = _records(caplog)
    ref = record.args[0]
    assert f"**{ref}**" in shown
    logged = record.getMessage()
    assert f"refport error {ref} on test page" in logged
    assert "Traceback" in logged and "RuntimeError: boom" in logged  # the details, for the administrator
    assert "s3cret" not in logged and "c00kie" not in logged
    assert "postgresql://refport:***@db.firm.local" in logged


def test_under_apptest_the_failure_still_reaches_the_test(caplog):
    app = AppTest.from_function(_failing_page)
    app.run()
    assert app.exception  # so `assert not app.exception` in every page test still catches a failing page
    assert "Something went wrong" in app.error[0].value and _records(caplog)


def test_stop_and_rerun_pass_through_the_wrapper(caplog):
    app = AppTest.from_function(_stopping_page)
    app.run()
    assert not app.exception and not app.error and not _records(caplog)
    assert app.session_state["runs"] == 2
    assert [m.value for m in app.markdown] == ["after the rerun"]


def test_the_app_wraps_every_page(env, monkeypatch, caplog):
    from dashboard import charts

    def broken(*_args, **_kwargs):
        raise RuntimeError("the funnel chart failed")

    monkeypatch.setattr(charts, "funnel", broken)
    monkeypatch.setattr(errors, "_under_test", lambda: False)
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception
    assert app.title[0].value == "Referrer portfolio overview"  # the page up to the failure is still there
    assert "Something went wrong" in app.error[-1].value and "funnel" not in app.error[-1].value
    (record,) = _records(caplog)
    assert "RuntimeError: the funnel chart failed" in record.getMessage()


def test_store_urls_are_shown_with_passwords_masked(capsys, tmp_path):
    url = "postgresql+psycopg://refport:s3cret@db.firm.local:5432/refport?password=s3cret&sslmode=require"
    assert shown_url(url) == ("postgresql+psycopg://refport:***@db.firm.local:5432/refport"
                              "?password=hidden&sslmode=require")
    fake = SimpleNamespace(engine=SimpleNamespace(url=__import__("sqlalchemy").engine.make_url(url)))
    assert "s3cret" not in Store.display_url.fget(fake)
    assert shown_url(f"sqlite:///{tmp_path / 'edits.db'}") == f"sqlite:///{tmp_path / 'edits.db'}"
    assert errors.redact(f"cannot connect to {url}; PASSWORD = s3cret token=abc123") == (
        "cannot connect to postgresql+psycopg://refport:***@db.firm.local:5432/refport?password=***&sslmode=require; "
        "PASSWORD = *** token=***")
    # `refport run --state URL` with a driver that is not installed: one line, password hidden
    assert main(["run", "--state", url.replace("psycopg", "nosuchdriver")]) == 2
    err = capsys.readouterr().err
    assert "s3cret" not in err and "refport:***@db.firm.local" in err


def test_plain_shows_typed_text_as_text():
    assert plain("[click](https://evil.example)") == r"\[click\]\(https\:\/\/evil\.example\)"
    assert plain("**bold** $x$ :red[y] <b>") == r"\*\*bold\*\* \$x\$ \:red\[y\] \<b\>"
    assert plain("a\nb\x00c\u202ed") == "a b c d"
    assert plain("Ann Archer") == "Ann Archer" and plain("R404") == "R404"
    assert plain(LONG, 60) == "x" * 59 + "…"
