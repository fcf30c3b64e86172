"""The Attribution page in Streamlit's AppTest, on the hand-worked journeys of test_attribution."""

from __future__ import annotations

import base64
import json
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data import PROJECT_ROOT
from tests.fixtures import write_dataset
from tests.test_attribution import JOURNEYS

APP = str(PROJECT_ROOT / "dashboard" / "app.py")
PAGE = "views/attribution.py"


def _moved(rows, key, changes):
    return [{**r, **changes.get(r[key], {})} for r in rows]


# JOURNEYS with its default window (data end 2025-12-31, so 2024-01-01 .. 2025-12-31)
# giving the same journeys as test_attribution's 2025 window: the fee billed after the
# end is dropped, and G's first matter and the touchpoints that only that window left
# out move to 2023.
PAGE_JOURNEYS = {
    **JOURNEYS,
    "fees": [f for f in JOURNEYS["fees"] if f["billed_on"] <= "2025-12-31"],
    "matters": _moved(JOURNEYS["matters"], "matter_id", {"MG0": {"opened_on": "2023-06-01"}}),
    "touchpoints": _moved(JOURNEYS["touchpoints"], "touchpoint_id", {
        "TG1": {"touched_at": "2023-05-30 09:00:00"},
        "TG2": {"touched_at": "2023-06-01 12:00:00"},
        "TH0": {"touched_at": "2023-12-31 10:00:00"},
    }),
}


@pytest.fixture(scope="module")
def journeys_dir(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("journeys_page"), PAGE_JOURNEYS)


def open_page(monkeypatch, data_dir):
    monkeypatch.setenv("REFPORT_DATA", str(data_dir))
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    return app


@pytest.fixture()
def page(monkeypatch, journeys_dir):
    app = open_page(monkeypatch, journeys_dir)
    assert app.caption[0].value.startswith("Window 01 Jan 2024 – 31 Dec 2025")
    return app


def open_tab(app, label):
    """What a click on a tab does: the page reruns with it open."""
    app.session_state["attribution_tab"] = label
    app.run()
    assert not app.exception, app.exception
    return app


def charts(app):
    return [json.loads(c.proto.spec) for c in app.get("plotly_chart")]


def values(trace, axis):
    """A trace's x or y values; plotly sends numbers as base64 typed arrays."""
    data = trace[axis]
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return data


def title(figure):
    return figure["layout"]["title"]["text"]


def test_tiles_count_unattributed_conversions(page):
    assert page.title[0].value == "Attribution"
    tiles = {m.label: m.value for m in page.metric}
    # test_attribution: 10 matters, 9 with a journey, MF (GBP 700) without one
    assert tiles == {"New matters": "10", "With a recorded journey": "9", "Unattributed": "1",
                     "Value unattributed": "GBP 700"}


def test_comparison_chart_has_all_ten_models_and_its_unit(page):
    comparison = charts(page)[0]
    assert title(comparison) == "Credit per channel under each of the ten models (attributed conversions)"
    assert [t["name"] for t in comparison["data"]][:2] == ["First touch", "Last touch"]
    assert len(comparison["data"]) == 10
    linear = next(t for t in comparison["data"] if t["name"] == "Linear")
    # channels ordered by the chosen (linear) model's credit: referral 3.25 first
    assert linear["x"][0] == "referral" and values(linear, "y")[0] == pytest.approx(3.25)
    page.radio(key="attribution_measure").set_value("value").run()
    assert title(charts(page)[0]).endswith("(GBP)")


def test_only_the_open_tab_is_computed(page):
    assert [c["layout"]["title"]["text"].split(" (")[0] for c in charts(page)] == [
        "Credit per channel under each of the ten models"]
    assert not page.dataframe  # the referrer and path tables wait for their tabs
    open_tab(page, "Path explorer")
    assert len(charts(page)) == 1 and title(charts(page)[0]).startswith("Most common journeys")
    assert len(page.dataframe) == 1 and "path" in page.dataframe[0].value


def test_model_picker_changes_the_referrer_table(page):
    open_tab(page, "Referrers")
    table = page.dataframe[0].value
    assert table["name"].tolist() == ["Beta Bank", "Alpha LLP"]
    assert table["conversions"].tolist() == pytest.approx([2.0, 0.75])  # linear
    page.selectbox(key="attribution_model").set_value("w_shaped").run()
    assert not page.exception
    table = page.dataframe[0].value
    assert table["conversions"].tolist() == pytest.approx([2.3, 0.95])
    # R1 (Alpha) ties R2 under last touch and takes rank 1 by id: its rank moves by one
    assert table["rank_spread"].tolist() == [1, 1]
    assert "W-shaped" in title(charts(page)[0])


def test_lookback_control(page):
    page.number_input(key="attribution_lookback").set_value(0).run()
    assert not page.exception
    assert {m.label: m.value for m in page.metric}["With a recorded journey"] == "4"


def test_path_explorer_filters(page):
    open_tab(page, "Path explorer")
    paths = page.dataframe[0].value
    assert paths["path"].tolist()[:2] == ["referral > fee earner", "website"]
    page.selectbox(key="attribution_path_channel").set_value("website").run()
    paths = page.dataframe[0].value
    assert paths["path"].tolist() == ["website", "seminar > seminar > website", "website > referral",
                                      "website > social media"]
    assert paths["conversion_rate"].tolist() == [0.5, 1.0, 1.0, 0.0]
    page.selectbox(key="attribution_path_channel").set_value("").run()
    page.selectbox(key="attribution_path_referrer").set_value("R2").run()
    assert page.dataframe[0].value["path"].tolist() == ["referral > fee earner", "referral"]
    assert title(charts(page)[-1]).endswith("number of journeys)")


def test_without_touchpoints_the_page_explains_why(monkeypatch, tiny_dir):
    app = open_page(monkeypatch, tiny_dir)
    assert {m.label: m.value for m in app.metric}["With a recorded journey"] == "0"
    assert "nothing to attribute" in app.info[0].value


@pytest.mark.browser
def test_in_a_real_browser(journeys_dir):
    """The page in headless chromium at 1280×720: reached from the navigation, no exception,
    the comparison chart drawn, the path explorer and referrer tabs open, and the model picker works."""
    from tests.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server
    from tests.test_browser import _require_chromium, open_page

    _require_chromium()
    from playwright.sync_api import sync_playwright

    with streamlit_server(journeys_dir) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page, errors = open_page(browser, url, "Analysis window")
            page.get_by_role("link", name="Attribution").first.click()
            page.get_by_text("Credit per channel under each of the ten models").first.wait_for(timeout=60_000)
            page.get_by_role("tab", name="Path explorer").click()
            page.get_by_text("Most common journeys").first.wait_for(timeout=60_000)
            page.locator('[data-testid="stSelectbox"]').first.click()
            page.get_by_role("option", name="W-shaped").click()
            page.get_by_role("tab", name="Referrers").click()
            page.get_by_text("Referrers under the W-shaped model").first.wait_for(timeout=60_000)
            page.get_by_text("Top 2 referrers under W-shaped").first.wait_for(timeout=60_000)
            assert page.locator('[data-testid="stException"]').count() == 0
            assert not errors, errors
        finally:
            browser.close()


def test_the_app_keeps_the_default_views_journeys_on_disk_before_its_first_page_on_new_data(monkeypatch, tmp_path):
    from dashboard import attribution
    from dashboard.data import open_dataset

    keep = attribution.keep_default_view

    def slow_keep(dataset):  # as at 10 million referrals: a page drawn meanwhile would not find them
        time.sleep(1)
        keep(dataset)

    monkeypatch.setattr(attribution, "keep_default_view", slow_keep)
    data_dir = write_dataset(tmp_path / "data", PAGE_JOURNEYS)
    dataset = open_dataset(data_dir)
    assert not attribution.default_view_kept(dataset)
    monkeypatch.setenv("REFPORT_DATA", str(data_dir))
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()  # the Overview: no page here reads the journeys
    assert not app.exception
    assert attribution.default_view_kept(dataset)
    dataset.connection.close()


def test_a_failure_to_keep_the_journeys_is_logged_and_the_pages_still_draw(monkeypatch, tmp_path, caplog):
    from dashboard import attribution

    def broken(dataset):
        raise OSError("disk full")

    monkeypatch.setattr(attribution, "keep_default_view", broken)
    data_dir = write_dataset(tmp_path / "data", PAGE_JOURNEYS)
    monkeypatch.setenv("REFPORT_DATA", str(data_dir))
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    assert not app.exception
    assert "keeping the default view's journeys failed" in caplog.text
    app.switch_page("views/attribution.py").run()  # builds the journeys itself
    assert not app.exception
    assert app.get("plotly_chart")
