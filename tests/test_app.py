"""The app in Streamlit's AppTest: every page runs without exception and shows its key element."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data import PROJECT_ROOT

APP = str(PROJECT_ROOT / "dashboard" / "app.py")
PAGE_FILES = sorted(p.name for p in (PROJECT_ROOT / "dashboard" / "views").glob("*.py") if p.name != "__init__.py")


@pytest.fixture()
def app(monkeypatch, tiny_dir):
    monkeypatch.setenv("REFPORT_DATA", str(tiny_dir))
    return AppTest.from_file(APP, default_timeout=60)


def test_opens_on_the_overview_with_headline_figures(app):
    app.run()
    assert not app.exception
    assert app.title[0].value == "Referrer portfolio overview"
    labels = [m.label for m in app.metric]
    assert labels == ["Inbound referrals", "Conversion rate", "Referred fees (GBP)", "Top-3 share",
                      "Referrers with fees", "Prune candidates"]
    # default window 2024-02-01 .. 2026-01-31 on TINY: RF1, RF2, RF3, RF5, RF6, RF7, RF9, RF14, RF4
    assert app.metric[0].value == "9"
    # default window: R1 5,200 (M1 1,500 + M4 3,700) + R2 2,400 (M5, M14) + R3 −50
    assert app.metric[2].value == "7,550"


def test_the_first_run_freezes_what_the_process_has_loaded(app, monkeypatch):
    """Full collections of the cyclic collector then skip the libraries' objects (dashboard/heap.py)."""
    import gc

    from dashboard import heap

    gc.unfreeze()  # as a fresh server process: nothing frozen, the first run not yet made
    monkeypatch.setattr(heap, "_frozen", False)
    freezes, freeze = [], gc.freeze
    monkeypatch.setattr(gc, "freeze", lambda: (freezes.append(1), freeze()))
    app.run()
    assert not app.exception
    assert freezes == [1] and gc.get_freeze_count() > 10_000
    app.run()  # later runs leave it as it is
    assert freezes == [1]


def test_sidebar_window_changes_the_figures_and_the_url(app):
    from datetime import date

    app.run()
    app.date_input(key="window_start").set_value(date(2025, 1, 1)).run()
    app.date_input(key="window_end").set_value(date(2025, 12, 31)).run()
    assert not app.exception
    assert app.metric[0].value == "7"  # test_queries: 7 received in 2025
    assert app.query_params["start"] == "2025-01-01" and app.query_params["end"] == "2025-12-31"


def test_filters_survive_a_page_change(app):
    app.run()
    app.multiselect(key="filter_team").set_value(["property"]).run()
    app.switch_page("views/data.py").run()
    assert not app.exception
    assert app.session_state["filter_team"] == ["property"]
    app.switch_page("views/overview.py").run()
    assert app.multiselect(key="filter_team").value == ["property"]
    assert "team: property" in app.caption[0].value


def test_url_carries_a_shared_view(app):
    app.query_params["team"] = "property"
    app.query_params["start"] = "2025-01-01"
    app.query_params["end"] = "2025-12-31"
    app.run()
    assert not app.exception
    assert app.multiselect(key="filter_team").value == ["property"]
    assert app.metric[0].value == "4"  # property referrals in 2025


@pytest.mark.parametrize("page", PAGE_FILES)
def test_every_page_runs_without_exception(app, page):
    app.run()
    app.switch_page(f"views/{page}").run()
    assert not app.exception, f"{page}: {app.exception}"
    assert app.title, f"{page} shows no title"


def test_every_table_says_what_a_missing_value_is():
    """Streamlit writes "None" in a table's empty cells unless told otherwise: every st.dataframe and
    st.data_editor of the pages gives a placeholder ("—", or "never" for a date that never happened)."""
    calls = []
    for page in PAGE_FILES:
        tree = ast.parse((PROJECT_ROOT / "dashboard" / "views" / page).read_text())
        calls += [(page, node.lineno, any(k.arg == "placeholder" for k in node.keywords))
                  for node in ast.walk(tree) if isinstance(node, ast.Call)
                  and isinstance(node.func, ast.Attribute) and node.func.attr in ("dataframe", "data_editor")]
    assert len(calls) > 30  # the pages' tables were found
    assert [(page, line) for page, line, has in calls if not has] == []


def test_data_page_shows_counts_and_completeness(app):
    app.run()
    app.switch_page("views/data.py").run()
    assert app.success[0].value.startswith("All eleven tables")
    assert any(s.value.startswith("Completeness score: ") for s in app.subheader)


def test_broken_data_shows_the_check_report_not_a_traceback(monkeypatch, tmp_path, tiny_dir):
    for file in Path(tiny_dir).glob("*.parquet"):
        if file.name != "fees.parquet":
            (tmp_path / file.name).write_bytes(file.read_bytes())
    monkeypatch.setenv("REFPORT_DATA", str(tmp_path))
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    assert "fails the contract check" in app.error[0].value
    app.switch_page("views/data.py").run()
    assert not app.exception
    report = app.dataframe[0].value
    assert report["file"].tolist() == ["fees.parquet"]
