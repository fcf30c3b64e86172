"""The Strategic drift page in AppTest, on the synthetic sample (dashboard/sample.py)."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard.formatting import share


@pytest.fixture()
def page(open_view):
    return open_view("drift")


def test_drift_page_shows_the_index_the_mix_and_the_referrers(page, expected):
    assert page.title[0].value == "Strategic drift"
    drift = expected("drift").dropna(subset=["drift_tvd"])
    latest = drift.iloc[-1]
    assert page.metric[0].label == f"Drift, {latest['quarter']}"
    assert page.metric[0].value == share(latest["drift_tvd"])
    titles = [chart.proto.spec for chart in page.get("plotly_chart")]
    assert any("Strategic drift index per quarter" in t for t in titles)
    assert any("Actual vs target mix of new work" in t for t in titles)
    assert any("Referrers driving the drift" in t for t in titles)
    # the referrer table lists exactly the referrers with off-target referrals
    off = expected("drift_referrers")
    assert len(page.dataframe[0].value) == int((off["off_target_referrals"] > 0).sum())


def test_value_basis_and_threshold_change_the_figures(page, expected):
    page.radio(key="drift_basis").set_value("value").run()
    assert not page.exception
    latest = expected("drift", basis="value").dropna(subset=["drift_tvd"]).iloc[-1]
    assert page.metric[0].value == share(latest["drift_tvd"])
    page.number_input(key="drift_threshold").set_value(0.2).run()
    assert not page.exception
    off = expected("drift_referrers", threshold=0.2)
    assert len(page.dataframe[0].value) == int((off["off_target_referrals"] > 0).sum())


def test_empty_window_says_what_to_do(page):
    page.date_input(key="window_start").set_value(date(2010, 1, 1)).run()
    page.date_input(key="window_end").set_value(date(2010, 12, 31)).run()
    assert not page.exception
    assert "Widen the window" in page.info[0].value
    assert not page.metric


def test_editing_the_mix_needs_a_name_then_saves_with_history(page, monkeypatch, tmp_path):
    # the data editor starts from the mix in force on the picked date; saving it unchanged
    # records a new version of that date's mix in the store, attributed to the editor
    monkeypatch.setenv("REFPORT_STATE", str(tmp_path / "state.db"))
    page.button(key="mix_save").click().run()
    assert not page.exception
    assert any("Editing as" in e.value for e in page.error)
    page.text_input(key="editor_name").set_value("Head of BD").run()
    page.text_input(key="mix_reason").set_value("strategy day").run()
    page.button(key="mix_save").click().run()
    assert not page.exception
    assert any("as Head of BD" in s.value for s in page.success), [e.value for e in page.error]
    from dashboard import store

    saved = store.open_store(f"sqlite:///{tmp_path / 'state.db'}").target_mix_history()
    assert set(saved["changed_by"]) == {"Head of BD"} and set(saved["reason"]) == {"strategy day"}
