"""The Who knows who page in AppTest, on the synthetic sample (dashboard/sample.py)."""

from __future__ import annotations

import json

import pytest

from dashboard.formatting import count


@pytest.fixture()
def page(open_view):
    return open_view("relationships")


def _network_nodes(at) -> set[str]:
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    return {label for trace in spec["data"] if trace.get("mode") == "markers+text"
            for label in trace["text"]}


def test_relationships_page_tiles_and_tables(page, expected):
    assert page.title[0].value == "Who knows who"
    assert [(m.label, m.value) for m in page.metric] == [
        ("Relationships", count(len(expected("relationship_network")))),
        ("Key-person risks", count(len(expected("key_person_risk")))),
        ("Stale relationships", count(len(expected("stale_relationships")))),
        ("Contacts who moved firm", count(len(expected("moved_contacts")))),
    ]
    risk = expected("key_person_risk")
    # the largest key-person risk is spelled out under its table
    assert any(m.value.startswith(f"**{risk.iloc[0]['name']}** brings") for m in page.markdown)
    moved = expected("moved_contacts")
    assert page.dataframe[-1].value["contact"].tolist() == moved["contact"].tolist()


def test_network_around_a_referrer_and_a_fee_earner(page, expected):
    network = expected("relationship_network")
    # default: the referrer with the most referred fees, with everyone who knows its contacts
    top = network.sort_values(["referrer_referred_fees", "referrer"], ascending=[False, True]).iloc[0]
    rows = network[network["referrer_id"] == top["referrer_id"]]
    assert _network_nodes(page) == {top["referrer"], *rows["fee_earner"], *rows["contact"]}
    page.radio(key="who_mode").set_value("fee earner").run()
    chosen = page.selectbox(key="who_fee_earner").value
    assert not page.exception
    mine = network[network["fee_earner_id"] == chosen]
    assert set(mine["contact"]) <= _network_nodes(page)


def test_stale_months_changes_the_count(page, expected):
    page.number_input(key="stale_months").set_value(12).run()
    assert not page.exception
    assert page.metric[2].value == count(len(expected("stale_relationships", months=12)))


def test_referrer_tables_link_to_the_profile(page, expected):
    risk = expected("key_person_risk")
    linked = [df.value for df in page.dataframe if "profile" in df.value.columns]
    assert linked, "no table links to the referrer profile"
    assert linked[0]["profile"].tolist() == [f"profile?referrer={r}" for r in risk["referrer_id"]]


def test_a_relationship_never_contacted_reads_never(page, expected):
    stale = expected("stale_relationships")
    table = next(d for d in page.dataframe if "months_since_contact" in d.value.columns)
    assert table.value["contact"].tolist() == stale["contact"].tolist()
    assert table.proto.placeholder == "never"  # no contact ever recorded: "never", not "None"
    # elsewhere a missing value (a job title not recorded) reads as a dash
    assert {d.proto.placeholder for d in page.dataframe if "job_title" in d.value.columns} == {"—"}


def test_the_referrer_choices_follow_the_filters(page, expected):
    """The choices are kept per query result (state.result_key): a sidebar filter offers the filtered
    network's referrers, not those kept for the network without it."""
    network = expected("relationship_network")
    everyone = page.selectbox(key="who_referrer").options
    assert len(everyone) == network["referrer_id"].nunique()
    kind = network["referrer_id"].map(
        dict(zip(expected("scorecard")["referrer_id"], expected("scorecard")["referrer_type"], strict=True)))
    chosen_type = kind.value_counts().index[-1]  # the rarest type among them
    page.session_state["filter_referrer_type"] = [chosen_type]
    page.run()
    assert not page.exception
    names = dict(zip(network["referrer_id"], network["referrer"], strict=False))
    offered = page.selectbox(key="who_referrer").options
    assert sorted(offered) == sorted(names[r] for r in set(network.loc[kind == chosen_type, "referrer_id"]))
    assert len(offered) < len(everyone)


def _pinned(table) -> list[str]:
    """The columns a table keeps pinned on the left when the others scroll sideways."""
    config = json.loads(table.proto.columns)
    return sorted(name for name, column in config.items() if column.get("pinned"))


def test_wide_tables_keep_who_they_are_about_pinned_while_the_rest_scroll(page):
    """At 1280 px the key-person and moved-contact tables scroll sideways: the referrer with its profile
    link, and the contact, stay in view."""
    risk = next(d for d in page.dataframe if "key_fee_earner" in d.value.columns)
    assert _pinned(risk) == ["name", "profile"] and list(risk.value.columns[:2]) == ["name", "profile"]
    stale = next(d for d in page.dataframe if "months_since_contact" in d.value.columns)
    assert _pinned(stale) == ["contact", "fee_earner"]
    moved = next(d for d in page.dataframe if "moved_on" in d.value.columns)
    assert _pinned(moved) == ["contact"]
