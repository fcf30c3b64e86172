"""The Return on relationships page in Streamlit's AppTest, on test_ror's hand-worked
portfolio with the same window (2025), so every number on screen is one of test_ror's."""

from __future__ import annotations

import base64
import json
from datetime import date

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data import PROJECT_ROOT
from tests.fixtures import write_dataset
from tests.test_ror import ROR

APP = str(PROJECT_ROOT / "dashboard" / "app.py")
PAGE = "views/ror.py"


@pytest.fixture(scope="module")
def ror_page_dir(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("ror_page"), ROR)


def open_page(monkeypatch, data_dir, window=(date(2025, 1, 1), date(2025, 12, 31))):
    monkeypatch.setenv("REFPORT_DATA", str(data_dir))
    app = AppTest.from_file(APP, default_timeout=60)
    if window:
        app.session_state["window_start"], app.session_state["window_end"] = window
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception, app.exception
    return app


@pytest.fixture()
def page(monkeypatch, ror_page_dir):
    app = open_page(monkeypatch, ror_page_dir)
    assert app.caption[0].value.startswith("Window 01 Jan 2025 – 31 Dec 2025")
    return app


def tiles(app):
    return {m.label: m.value for m in app.metric}


def charts(app):
    return [json.loads(c.proto.spec) for c in app.get("plotly_chart")]


def values(trace, axis):
    """A trace's x or y values; plotly sends numbers as base64 typed arrays."""
    data = trace[axis]
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def title(figure):
    return figure["layout"]["title"]["text"]


def traces(figure):
    return {t["name"]: t for t in figure["data"]}


def test_tiles(page):
    assert page.title[0].value == "Return on relationships"
    # test_ror_summary: 1100 invested (R1 1000, R3 100), 11000 referred, linear credit 3100
    shown = tiles(page)
    assert {k: shown[k] for k in ("Invested", "Referred fees", "Direct ROR", "Attributed value",
                                  "Attributed ROR", "At or above break-even")} == {
        "Invested": "GBP 1,100", "Referred fees": "GBP 11k", "Direct ROR": "10.0×",
        "Attributed value": "GBP 3,100", "Attributed ROR": "2.8×", "At or above break-even": "1 of 2",
    }
    assert any("GBP 6,200 of referred fees from referrers we spent nothing on" in c.value
               for c in page.caption)


def test_scatter_with_break_even_line_and_switches(page):
    # log axes by default: only R1 has both an investment and referred fees
    scatter = charts(page)[0]
    assert scatter["layout"]["xaxis"]["type"] == "log" and scatter["layout"]["yaxis"]["type"] == "log"
    assert title(scatter) == ("Investment vs referred fees per referrer (GBP); 3 without investment "
                              "or return not shown on log axes")
    page.toggle(key="ror_log").set_value(False).run()
    scatter = charts(page)[0]
    assert title(scatter) == "Investment vs referred fees per referrer (GBP)"
    by_name = traces(scatter)
    line = by_name["Break-even (return = cost)"]
    assert values(line, "x") == values(line, "y")  # y = x
    # R1: 1000 invested, 4800 back; R3: 100, nothing; R2 and R4: nothing invested
    assert by_name["Returns at least its cost"]["text"] == ["Alpha LLP"]
    assert by_name["Returns less than its cost"]["text"] == ["Gamma Accountants"]
    assert sorted(by_name["Not invested in"]["text"]) == ["Beta Bank", "Delta Architects"]
    assert values(by_name["Returns at least its cost"], "y") == [4800.0]

    page.radio(key="ror_basis").set_value("attributed").run()
    scatter = charts(page)[0]
    assert title(scatter) == "Investment vs attributed value (linear) per referrer (GBP)"
    below = traces(scatter)["Returns less than its cost"]
    assert sorted(below["text"]) == ["Alpha LLP", "Gamma Accountants"]  # R1: 400 < 1000

    page.toggle(key="ror_log").set_value(True).run()
    scatter = charts(page)[0]
    assert scatter["layout"]["xaxis"]["type"] == "log"
    # only R1 has both investment and attributed value above zero; it sits below the line
    assert title(scatter).endswith("; 3 without investment or return not shown on log axes")
    assert traces(scatter)["Returns less than its cost"]["text"] == ["Alpha LLP"]


def test_model_picker(page):
    page.radio(key="ror_basis").set_value("attributed").run()
    page.toggle(key="ror_log").set_value(False).run()
    alpha = {"linear": 400.0, "first_touch": 800.0}  # R1's attributed value under each model
    assert _attributed_value(page, "Alpha LLP") == alpha["linear"]
    page.selectbox(key="ror_model").set_value("first_touch").run()
    assert not page.exception
    # the scatter is kept per query result: another model's result draws its own
    assert _attributed_value(page, "Alpha LLP") == alpha["first_touch"]
    assert title(charts(page)[0]) == "Investment vs attributed value (first touch) per referrer (GBP)"
    # test_ror_referrers_model_parameter: R1 800, R2 0, R4 1200
    assert tiles(page)["Attributed value"] == "GBP 2,000"
    assert tiles(page)["Attributed ROR"] == "1.8×"
    table = page.dataframe[0].value.set_index("name")
    assert table.loc["Alpha LLP", "attributed_ror"] == pytest.approx(0.8)


def test_referrer_table_is_every_referrer_with_investment_or_return(page):
    table = page.dataframe[0].value
    assert table["name"].tolist() == ["Alpha LLP", "Beta Bank", "Delta Architects", "Gamma Accountants"]
    assert table["direct_ror"].tolist()[0] == pytest.approx(4.8)


def test_activity_types(page):
    chart = charts(page)[1]
    assert title(chart) == "Return on relationships by activity type (GBP returned per GBP 1 invested)"
    types = page.dataframe[1].value
    assert types["activity_type"].tolist() == ["seminar", "lunch", "newsletter", "social media"]
    assert types["referred_fees"].tolist() == pytest.approx([3360.0, 1440.0, 2800.0, 1400.0])
    # highest ROR on top: plotly draws the last bar at the top
    assert chart["data"][0]["y"][-2:] == ["seminar", "lunch"]


def test_lifetime_view(page):
    chart = charts(page)[2]
    assert title(chart) == "Lifetime vs referred fees, top 4 referrers (GBP)"  # at most 10
    lifetime = page.dataframe[2].value
    assert lifetime["name"].tolist() == ["Alpha LLP", "Delta Architects", "Gamma Accountants", "Beta Bank"]
    assert lifetime["lifetime_fees"].tolist() == [5400.0, 3200.0, 3000.0, 0.0]


def test_referral_touch_conversion(page):
    shown = tiles(page)
    assert shown["Journeys with a referral touch"] == "75%"
    assert shown["Journeys without a referral touch"] == "33%"
    assert title(charts(page)[3]) == "Conversion rate of journeys, with vs without a referral (%)"


def test_every_figure_is_explained(page):
    text = " ".join(c.value for c in page.caption)
    for phrase in ("Each dot is a referrer", "in proportion to what each cost",
                   "first inbound referral came from it", "share of journeys that ended in a matter"):
        assert phrase in text


def test_without_investment_or_return_the_page_says_what_to_do(monkeypatch, tmp_path):
    empty = write_dataset(tmp_path / "empty", {
        "fee_earners": ROR["fee_earners"],
        "referrers": ROR["referrers"][:1],
        "referrals": [{**ROR["referrals"][0], "status": "open"}],
    })
    app = open_page(monkeypatch, empty, window=None)
    assert tiles(app)["Invested"] == "GBP 0"
    assert "add activities" in app.info[0].value


def _attributed_value(page, name: str) -> float:
    """A referrer's dot's height in the scatter (its attributed value on the attributed basis)."""
    for trace in traces(charts(page)[0]).values():
        if name in (trace.get("text") or []):
            return values(trace, "y")[trace["text"].index(name)]
    raise AssertionError(f"{name} is not in the scatter")


def test_the_scatter_follows_the_filters(page):
    """The scatter is kept per query result (state.result_key): a sidebar filter draws the filtered one,
    not the figure kept for the same switches without it."""
    page.toggle(key="ror_log").set_value(False).run()
    everyone = {name for trace in traces(charts(page)[0]).values() for name in trace.get("text") or []}
    assert everyone == {"Alpha LLP", "Beta Bank", "Gamma Accountants", "Delta Architects"}
    page.session_state["filter_referrer_type"] = ["bank"]
    page.run()
    banks = {name for trace in traces(charts(page)[0]).values() for name in trace.get("text") or []}
    assert banks == {"Beta Bank"}
