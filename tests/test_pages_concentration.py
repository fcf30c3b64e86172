"""The Concentration page in AppTest, on the synthetic sample (dashboard/sample.py)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from dashboard.formatting import amount_short, count, share
from dashboard.settings import SETTINGS


@pytest.fixture()
def page(open_view):
    return open_view("concentration")


def test_concentration_page(page, expected):
    assert page.title[0].value == "Concentration of referred fees"
    assert "dependency is a risk to spread" in page.markdown[0].value
    concentration = expected("concentration").iloc[0]
    tiles = {m.label: m.value for m in page.metric}
    assert tiles["Top-3 share"] == share(concentration["top3_share"])
    assert tiles["Referrers giving 80%"] == count(concentration["referrers_for_80pct"])
    # the currency in the label, so that billions fit a fifth of the page
    assert tiles[f"Referred fees ({SETTINGS.currency})"] == amount_short(concentration["total_referred_fees"])
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in page.get("plotly_chart")]
    assert titles == [
        "Lorenz curve of referred fees (%)",
        "Stress test: referred fees lost (%)",
        "Concentration over time: top-3 share and HHI, rolling 12 months (%)",
        "Referrers giving 80% of referred fees, rolling 12 months (number)",
    ]
    stress = page.dataframe[0].value
    assert stress["top_n"].tolist() == [1, 2, 3]
    # losing the top three loses the top-3 share
    assert stress["share_lost"].iloc[2] == pytest.approx(concentration["top3_share"])


def test_empty_window_says_what_to_do(page):
    page.date_input(key="window_start").set_value(date(2010, 1, 1)).run()
    page.date_input(key="window_end").set_value(date(2010, 12, 31)).run()
    assert not page.exception
    assert "Widen the window" in page.info[0].value
