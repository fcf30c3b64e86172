"""Sign-in end to end in a real headless chromium: a real Streamlit server whose secrets.toml points at a
local OpenID Connect provider (oidc-provider-mock) started by the test on 127.0.0.1.

An admin (from configuration) gives an editor their role on the Users and roles page; the editor changes
programme levels and the audit trail records their e-mail; a viewer sees the page read-only; and a save
made from a page drawn while the person was an editor, after their role was taken away, is refused on the
server. Under CI=true these run, never skip: a missing chromium is a failure.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest

from dashboard.store import open_store
from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server

pytestmark = [
    pytest.mark.browser,
    # the provider (Authlib inside oidc-provider-mock) calls Authlib APIs that Authlib itself deprecates
    pytest.mark.filterwarnings("ignore::DeprecationWarning:authlib"),
]

ADMIN, EDITOR, VIEWER = "ada@firm.test", "eddie@firm.test", "vic@firm.test"
NAMES = {ADMIN: "Ada Admin", EDITOR: "Eddie Editor", VIEWER: "Vic Viewer"}
TIMEOUT = 60_000


@pytest.fixture(scope="module")
def provider():
    """A local OpenID Connect provider on 127.0.0.1 with three people who sign in with one click."""
    import warnings

    import authlib.deprecate  # noqa: F401 - it turns its own warnings on when imported; then off here
    import werkzeug.serving

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Authlib's notices about its own modules
        import oidc_provider_mock

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    people = [oidc_provider_mock.User(sub=email, claims={"email": email, "email_verified": True, "name": name})
              for email, name in NAMES.items()]
    app = oidc_provider_mock.app(user_claims=people, require_nonce=True)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def app(browser, provider, tiny_dir, tmp_path_factory):
    """The app on the TINY data with its own edit store, in sign-in mode: its secrets.toml (the
    STREAMLIT_SECRETS_FILES setting, so the project's own .streamlit is not touched) names the provider."""
    folder = tmp_path_factory.mktemp("signin")
    secrets = folder / "secrets.toml"
    secrets.write_text(f"""
[auth]
redirect_uri = "http://127.0.0.1:{{port}}/oauth2callback"
cookie_secret = "browser-test-cookie-secret-0123456789abcdef"
client_id = "refport"
client_secret = "refport-test-secret"
server_metadata_url = "{provider}/.well-known/openid-configuration"

[refport]
admins = ["{ADMIN}"]
provider_name = "Firm SSO"
""")
    state = folder / "edits.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STREAMLIT_SECRETS_FILES", str(secrets))
        with streamlit_server(tiny_dir, state) as url:
            yield url, state


def idle(page):
    """Wait until no script run is under way (the app's own run state)."""
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for(timeout=TIMEOUT)


# Armed just before an action: notes any change of the app's run state from then on. A mutation
# record's old value shows a run that started and ended between two looks, which a locator's polling
# can miss (and then waited out its whole timeout).
WATCH_RUNS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    window.__refportRunSeen = false;
    if (window.__refportRunWatch) window.__refportRunWatch.disconnect();
    window.__refportRunWatch = new MutationObserver((records) => {
        if (records.some((r) => r.oldValue !== 'notRunning' || r.target.getAttribute(r.attributeName) !== 'notRunning')) {
            window.__refportRunSeen = true;
        }
    });
    window.__refportRunWatch.observe(app, {attributes: true, attributeOldValue: true,
                                           attributeFilter: ['data-test-script-state']});
}"""


def settle(page, action):
    """Do an action that reruns the script: wait for that run to start, then to end."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    idle(page)
    page.evaluate(WATCH_RUNS)
    action()
    try:
        page.wait_for_function("() => window.__refportRunSeen === true", timeout=3_000)
    except PlaywrightTimeout:
        pass  # no run seen (the watched element was redrawn, or no rerun came of it): idle decides
    idle(page)


def type_reason(page, text):
    box = page.get_by_label("Reason (kept with every change in the history)")
    box.fill(text)
    settle(page, lambda: box.press("Enter"))


def sign_in(browser, url, email, path=""):
    """A fresh browser (own cookies) signed in as this person through the provider's page."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{url}/{path}")
    button = page.get_by_role("button", name="Sign in with Firm SSO")
    button.wait_for(timeout=TIMEOUT)
    idle(page)
    # before sign-in, on any page: the app's name and the button, nothing else
    assert page.get_by_role("heading", name="refport").count() == 1
    assert page.locator('[data-testid="stSidebar"]').count() == 0
    assert page.get_by_text("Programme levels").count() == 0 and page.get_by_text("Analysis window").count() == 0
    button.click()
    page.wait_for_url("**/oauth2/authorize**", timeout=TIMEOUT)
    page.get_by_role("button", name=email, exact=True).click()  # the provider's one-click sign-in
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text(email).first.wait_for(timeout=TIMEOUT)
    idle(page)
    return page, errors


def open_tiering(page, url):
    page.goto(f"{url}/tiering")
    page.get_by_text("Service-level check").first.wait_for(timeout=TIMEOUT)
    idle(page)
    page.get_by_text("Change several referrers at once").click()


def stage_all(page, level=None):
    """Pick every referrer shown and a level in the bulk change, and add them to the unsaved changes."""
    if level:
        box = page.locator('[data-testid="stSelectbox"]').filter(has_text="New level").locator("input")
        box.click()
        box.fill(level)  # type to filter the options, Enter to pick the one left
        settle(page, lambda: box.press("Enter"))
        assert box.input_value() == level
    settle(page, page.get_by_role("button", name="Select all 6 shown").click)
    page.locator('[data-testid="stMultiSelect"]').get_by_text("Foxtrot Ltd (R6)").wait_for(timeout=TIMEOUT)
    page.get_by_role("button", name="Add to unsaved changes").click()
    page.get_by_text("Reason (kept with every change in the history)").wait_for(timeout=TIMEOUT)
    idle(page)


def test_sign_in_roles_and_refusals_end_to_end(browser, app):
    url, state = app
    store = open_store(f"sqlite:///{state}")

    # the admin from configuration (signing in from a deep link) makes Eddie an editor on the Users and
    # roles page
    admin, errors = sign_in(browser, url, ADMIN, path="tiering")
    assert admin.locator('[data-testid="stSidebar"]').get_by_text("Role: admin").count() == 1
    admin.goto(f"{url}/users")
    admin.get_by_text("Add a person or change a role").wait_for(timeout=TIMEOUT)
    idle(admin)
    admin.get_by_label("Sign-in e-mail").fill(EDITOR)
    admin.get_by_label("Reason (kept in the history)").fill("runs the board review")
    settle(admin, lambda: admin.get_by_label("Reason (kept in the history)").press("Enter"))
    admin.get_by_role("button", name="Save the role").click()  # the role box starts at Editor
    admin.get_by_text(f"{EDITOR} is now editor (version 1).").wait_for(timeout=TIMEOUT)
    assert store.role_history()[["email", "role", "changed_by"]].values.tolist() == [[EDITOR, "editor", ADMIN]]
    assert not errors, errors
    admin.context.close()

    # the editor changes programme levels; the audit trail has their e-mail
    editor, errors = sign_in(browser, url, EDITOR)
    open_tiering(editor, url)
    stage_all(editor)
    type_reason(editor, "board review 2026")
    editor.get_by_role("button", name="Save 6 change(s)").click()
    editor.get_by_text(f"Saved 6 change(s) as {EDITOR}.").wait_for(timeout=TIMEOUT)
    saved = store.history()
    assert len(saved) == 6 and set(saved["changed_by"]) == {EDITOR} and set(saved["level"]) == {4}
    assert editor.locator('[data-testid="stException"]').count() == 0 and not errors, errors

    # a viewer (no role given: the default) sees the page read-only
    viewer, errors = sign_in(browser, url, VIEWER)
    assert viewer.locator('[data-testid="stSidebar"]').get_by_text("Role: viewer").count() == 1
    assert viewer.locator('[data-testid="stSidebarNav"]').get_by_text("Users and roles").count() == 0
    open_tiering(viewer, url)
    viewer.get_by_text("Read-only: you are signed in as").wait_for(timeout=TIMEOUT)
    assert viewer.get_by_role("button", name="Add to unsaved changes").is_disabled()
    assert viewer.get_by_role("button", name="Select all 6 shown").is_disabled()
    assert not errors, errors
    viewer.context.close()

    # the editor's page is still open, with Save enabled, when an admin takes the role away: the save
    # that reaches the server now comes from a viewer, and is refused there
    stage_all(editor, level="Level 2 · Silver")
    type_reason(editor, "cooling off")
    store.set_role(EDITOR, "viewer", ADMIN, "left the BD team", 1)
    editor.get_by_role("button", name="Save 6 change(s)").click()
    editor.get_by_text(f"Not saved: {EDITOR} has the viewer role").wait_for(timeout=TIMEOUT)
    assert len(store.history()) == 6  # nothing more written
    editor.context.close()
    store.close()
