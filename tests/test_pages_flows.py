"""The Cross-selling and reciprocity page in AppTest, on the synthetic sample (dashboard/sample.py)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture()
def page(open_view):
    return open_view("flows")


def _chart_titles(at) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]


def test_flows_page_shows_sankey_balance_and_reciprocity(page, expected):
    assert page.title[0].value == "Cross-selling and reciprocity"
    titles = _chart_titles(page)
    assert "Internal referrals team → team (number of referrals)" in titles
    assert "Net givers and takers of internal referrals (number)" in titles
    assert "Reciprocity: referrals received vs sent per referrer (number)" in titles
    # the given/received/net table is team_balance, biggest net giver first
    balance = page.dataframe[0].value
    assert balance.to_dict("records") == expected("team_balance").to_dict("records")
    assert balance.iloc[0]["net"] < 0
    # the one-way reciprocity lists carry their counts in their headings
    reciprocity = expected("reciprocity")
    headings = [m.value for m in page.markdown]
    assert (f"##### We send work, none comes back "
            f"({int(reciprocity['no_return_from_them'].sum())})") in headings
    assert (f"##### They send work, we never send any "
            f"({int(reciprocity['no_return_from_us'].sum())})") in headings


def test_the_table_of_every_referrer_is_built_when_opened(page, expected):
    reciprocity = expected("reciprocity")
    # its expander is shut: not built
    assert not [d for d in page.dataframe if "reciprocity_balance" in d.value.columns]
    page.session_state["flows_every_referrer_open"] = True  # a person opens it
    page.run()
    every = next(d.value for d in page.dataframe if "reciprocity_balance" in d.value.columns)
    assert every["name"].tolist() == reciprocity["name"].tolist()
    assert every["reciprocity_balance"].tolist() == reciprocity["reciprocity_balance"].tolist()


def test_sankey_by_fees(page):
    page.radio(key="flows_measure").set_value("referred_fees").run()
    assert not page.exception
    assert "Internal referrals team → team: referred fees (GBP)" in _chart_titles(page)


def test_referrer_filter_leaves_no_internal_flow(page):
    page.session_state["filter_referrer_type"] = ["bank"]
    page.run()
    assert not page.exception
    assert "No internal referral between teams" in page.info[0].value
    assert "Reciprocity: referrals received vs sent per referrer (number)" in _chart_titles(page)


def test_a_referrer_never_sent_work_reads_never(page, expected):
    """In "They send work, we never send any", a referrer we never sent anything to (no last date at
    all) reads "never", not Streamlit's "None"."""
    reciprocity = expected("reciprocity")
    one_way_in = reciprocity[reciprocity["no_return_from_us"].astype(bool)]
    assert one_way_in["last_outbound_on"].isna().any()  # the sample has such a referrer
    table = next(d for d in page.dataframe if "last_outbound_on" in d.value.columns
                 and "outbound_won" not in d.value.columns)
    assert table.proto.placeholder == "never"


def test_the_one_way_lists_link_each_referrer_to_its_profile(page, expected):
    """Names alone do not tell apart two referrers of the same name; the profile link does."""
    reciprocity = expected("reciprocity")
    lists = {("outbound_won" in d.value.columns): d.value for d in page.dataframe
             if "profile" in d.value.columns and "reciprocity_balance" not in d.value.columns}
    out = reciprocity[reciprocity["no_return_from_them"].astype(bool)]
    into = reciprocity[reciprocity["no_return_from_us"].astype(bool)]
    assert lists[True]["profile"].tolist() == [f"profile?referrer={r}" for r in out["referrer_id"]]
    assert lists[False]["profile"].tolist() == [f"profile?referrer={r}" for r in into["referrer_id"]]
