"""scripts/load.py's sessions without a browser (--protocol) against a real server on the sample.

The browser sessions are the same walk with chromium doing the clicks; the browser tests cover the
pages themselves. Speed is not checked here: the script reports it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.data import SAMPLE_DIR
from tests.browser import streamlit_server

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "load.py"


def _load_module():
    spec = importlib.util.spec_from_file_location("load_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


load = _load_module()


@pytest.fixture(scope="module")
def server():
    with streamlit_server(SAMPLE_DIR) as url:
        yield url


def _in_session(url: str, steps):
    """Open one protocol session, run ``steps(session)`` in it, close it; what ``steps`` returns."""

    async def go():
        session = load.ProtocolSession(None, url, 0, 1)
        await session.open()
        try:
            return await steps(session)
        finally:
            await session.close()

    return asyncio.run(go())


def test_a_session_opens_on_the_overview_and_learns_the_pages_and_filters(server):
    async def steps(session):
        return session.steps, session.page_hashes, session.filters

    opened, pages, filters = _in_session(server, steps)
    assert [(s.kind, s.error) for s in opened] == [("open", "")]
    assert set(load.ANALYSIS_PAGES) <= set(pages)
    assert set(filters) == set(load.FILTERS)
    team_id, team_values = filters["Team"]
    assert team_id.endswith("filter_team") and "corporate" in team_values


def test_page_switch_and_filter_change_reach_the_server(server):
    async def steps(session):
        await session.attempt("page", "click /drift", session.switch_page, "drift")
        session.rng.choice = lambda values: "corporate"  # the value the caption then names
        await session.attempt("filter", "pick Team", session.pick_filter, "Team")
        picked_query = session.query
        await session.attempt("filter", "remove", session.remove_filter)
        return session.steps[1:], picked_query, session.query

    done, picked_query, cleared_query = _in_session(server, steps)
    assert [(s.kind, s.view, s.error) for s in done] == [("page", "drift", ""), ("filter", "drift", ""),
                                                         ("filter", "drift", "")]
    assert done[1].what == "pick Team = corporate"
    # the server wrote the filter into the URL, and took it out again
    assert "team=corporate" in picked_query and "team=" not in cleared_query


def test_a_step_whose_page_lacks_the_text_fails_with_what_is_missing(server):
    async def steps(session):
        async def expect_absent():
            return "run", await session.run_page("drift", ["a text no page shows"])

        await session.attempt("page", "check", expect_absent)
        return session.steps[-1]

    failed = _in_session(server, steps)
    assert failed.error == "the page does not show: a text no page shows"


def test_the_script_reports_every_step_and_the_server():
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--protocol", "--data", str(SAMPLE_DIR), "--sessions", "2",
         "--steps", "4", "--think", "0"],
        check=False, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    report = run.stdout
    assert re.search(r"^8 steps in [\d.]+ s, 0 failed$", report, re.MULTILINE), report
    for line in ("all steps:", "page switches:", "filter changes:"):
        assert re.search(rf"{line}\s+p50 [\d.]+ s, p95 [\d.]+ s, max [\d.]+ s \(n=(4|8)\)", report), report
    assert re.search(r"server memory: \d+ MB after warm-up", report), report
    assert re.search(r"server [\d.]+ s \([\d.]+ s per step\)", report), report
