"""Every page in a real headless chromium against a real Streamlit server.

Under CI=true these run, never skip: a missing chromium is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server

pytestmark = pytest.mark.browser

# url path → text that proves the page's key element rendered
PAGES = {
    "": "What the numbers say",  # the Overview is the default page, at the root
    "concentration": "Over time",
    "drift": "Referrers driving the drift",
    "tiering": "Service-level check",
    "matrix": "Prune list",
    "flows": "Reciprocity with external referrers",
    "relationships": "Key-person risk",
    "attribution": "Path explorer",
    "ror": "Investment against return, per referrer",
    "profile": "Plan and stage",
    "pipeline": "In the pipeline",
    "kpis": "Define a KPI",
    "board-pack": "Board pack",
    "data": "Completeness score",
    "import": "Import an export",
    "users": "Roles apply once sign-in is configured",  # local mode: the page explains roles
}
# page file stem → url path, where they differ
URL_PATHS = {"overview": "", "board_pack": "board-pack", "import_data": "import"}


def _require_chromium():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must install Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(browser):
    from dashboard.data import SAMPLE_DIR

    with streamlit_server(SAMPLE_DIR) as url:
        yield url


def open_page(browser, url: str, key_text: str):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.get_by_text(key_text).first.wait_for(timeout=60_000)
    # wait until the script run is over, so a late exception would be on screen
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000
    )
    return page, errors


def test_every_page_file_has_a_browser_test():
    from dashboard.data import PROJECT_ROOT

    files = {URL_PATHS.get(p.stem, p.stem) for p in (PROJECT_ROOT / "dashboard" / "views").glob("*.py")
             if p.stem != "__init__"}
    assert files <= set(PAGES), f"pages without a browser test: {sorted(files - set(PAGES))}"


@pytest.mark.parametrize("path", list(PAGES))
def test_page_loads_with_its_key_element_and_no_exception(browser, server, path):
    page, errors = open_page(browser, f"{server}/{path}", PAGES[path])
    try:
        assert page.locator('[data-testid="stException"]').count() == 0
        assert not errors, errors
        assert page.locator('[data-testid="stSidebar"]').get_by_text("Analysis window").count() == 1
    finally:
        page.close()


def test_overview_filter_goes_into_the_url_and_survives_a_page_change(browser, server):
    page, _ = open_page(browser, f"{server}/?team=corporate", PAGES[""])
    try:
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("corporate").first.wait_for(timeout=30_000)
        page.locator('[data-testid="stSidebarNav"] a[href$="/data"]').click()
        page.get_by_text(PAGES["data"]).first.wait_for(timeout=60_000)
        assert "team=corporate" in page.url
        assert sidebar.get_by_text("corporate").count() >= 1
    finally:
        page.close()


def test_a_profile_link_opens_that_referrer(browser, server):
    from dashboard import registry
    from dashboard.data import SAMPLE_DIR, open_dataset

    dataset = open_dataset(SAMPLE_DIR)
    # not the largest referrer, which the page might show by default
    top = registry.run("referred_fees", dataset).iloc[4]
    dataset.connection.close()
    page, errors = open_page(browser, f"{server}/profile?referrer={top.referrer_id}", PAGES["profile"])
    try:
        assert page.locator('[data-testid="stException"]').count() == 0 and not errors
        assert page.get_by_text(top["name"]).count() >= 1
    finally:
        page.close()


def test_a_profile_tab_is_computed_when_opened(browser, server):
    page, errors = open_page(browser, f"{server}/profile", PAGES["profile"])
    try:
        credit = page.get_by_text("Value credited")
        assert credit.count() == 0  # not computed while its tab is closed
        page.get_by_role("tab", name="Attribution and reciprocity").click()
        credit.first.wait_for(timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0 and not errors
    finally:
        page.close()


def test_a_box_round_the_whole_matrix_selects_every_bubble_once(browser, server):
    # the chart carries no referrer ids: a selected bubble is known by its trace and position
    from dashboard import registry
    from dashboard.data import SAMPLE_DIR, open_dataset

    dataset = open_dataset(SAMPLE_DIR)
    placed = int(registry.run("prioritisation", dataset)["y_value"].notna().sum())
    dataset.connection.close()
    page, errors = open_page(browser, f"{server}/matrix", PAGES["matrix"])
    try:
        plot = page.locator(".js-plotly-plot .nsewdrag").first
        plot.scroll_into_view_if_needed()
        box = plot.bounding_box()
        page.mouse.move(box["x"] + 1, box["y"] + 1)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=5)
        page.mouse.move(box["x"] + box["width"] - 1, box["y"] + box["height"] - 1, steps=5)
        page.mouse.up()
        page.get_by_role("button", name=f"Assign to {placed} selected").wait_for(timeout=60_000)
        assert page.locator('[data-testid="stException"]').count() == 0 and not errors
    finally:
        page.close()
