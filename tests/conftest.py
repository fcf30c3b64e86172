"""Shared fixtures: a tiny portfolio whose numbers are worked out by hand in the tests."""

from __future__ import annotations

import functools
import os
from datetime import date

import pytest

from dashboard import registry
from dashboard.data import PROJECT_ROOT, open_dataset
from dashboard.window import Window
from tests.fixtures import write_dataset

# The analysis window of the hand-computed expectations.
WINDOW = Window(date(2025, 1, 1), date(2025, 12, 31))


def _referral(rid, on, referrer, status, team, direction="inbound", **extra):
    return {
        "referral_id": rid, "referred_on": on, "direction": direction, "referrer_id": referrer,
        "fee_earner_id": "FE1" if team == "corporate" else "FE2", "to_team": team,
        "client_id": f"CL-{rid}", "work_type": extra.pop("work_type", "corporate finance"),
        "status": status, "estimated_value": extra.pop("estimated_value", 1000.0), **extra,
    }


def _matter(mid, referral, team, opened, work_type="corporate finance"):
    return {"matter_id": mid, "client_id": f"CL-{referral or mid}", "team": team,
            "work_type": work_type, "opened_on": opened, "referral_id": referral}


TINY = {
    "fee_earners": [
        {"fee_earner_id": "FE1", "full_name": "Ann Archer", "team": "corporate", "office": "London",
         "grade": "partner", "cost_rate": 100.0},
        {"fee_earner_id": "FE2", "full_name": "Ben Baker", "team": "property", "office": "Leeds",
         "grade": "associate", "cost_rate": 50.0},
    ],
    "referrers": [
        {"referrer_id": "R1", "name": "Alpha LLP", "referrer_type": "law firm", "region": "London"},
        {"referrer_id": "R2", "name": "Beta Bank", "referrer_type": "bank", "region": "North"},
        {"referrer_id": "R3", "name": "Gamma Accountants", "referrer_type": "accountancy", "region": "London"},
        {"referrer_id": "R4", "name": "Delta Architects", "referrer_type": "architect", "region": "North"},
        {"referrer_id": "R5", "name": "Echo Insurers", "referrer_type": "insurer", "region": "London"},
        {"referrer_id": "R6", "name": "Foxtrot Ltd", "referrer_type": "client", "region": None},
    ],
    "contacts": [
        {"contact_id": f"C{i}", "referrer_id": f"R{i}", "full_name": f"Contact {i}"} for i in (1, 2, 3, 4, 6)
    ],
    "relationships": [
        {"fee_earner_id": "FE1", "contact_id": "C1", "strength": 4},
        {"fee_earner_id": "FE2", "contact_id": "C1", "strength": 2},
        {"fee_earner_id": "FE1", "contact_id": "C2", "strength": 3},
        {"fee_earner_id": "FE1", "contact_id": "C6", "strength": 1},
    ],
    "referrals": [
        _referral("RF1", "2025-01-01", "R1", "won", "corporate", contact_id="C1", closed_on="2025-01-10"),
        _referral("RF2", "2025-03-10", "R1", "lost", "property", closed_on="2025-04-01"),
        _referral("RF3", "2025-12-31", "R1", "open", "corporate"),
        _referral("RF4", "2024-12-31", "R1", "won", "corporate", closed_on="2025-01-02"),
        _referral("RF5", "2025-05-05", "R2", "won", "property", closed_on="2025-05-10"),
        _referral("RF6", "2025-06-06", "R2", "declined", "property", closed_on="2025-06-07"),
        _referral("RF7", "2025-07-07", "R3", "won", "corporate", closed_on="2025-07-20"),
        _referral("RF8", "2022-03-01", "R4", "won", "corporate", closed_on="2022-03-20"),
        _referral("RF9", "2026-01-01", "R1", "open", "corporate"),
        _referral("RF10", "2025-02-02", "R2", "won", "corporate", direction="outbound"),
        _referral("RF11", "2025-08-08", "R2", "open", "corporate", direction="outbound"),
        _referral("RF12", "2024-06-01", "R1", "won", "corporate", direction="outbound"),
        _referral("RF13", "2025-04-04", None, "won", "corporate", direction="internal",
                  from_team="property"),
        _referral("RF14", "2025-11-11", "R2", "won", "property", closed_on="2025-11-20"),
    ],
    "matters": [
        _matter("M1", "RF1", "corporate", "2025-01-15"),
        _matter("M4", "RF4", "corporate", "2025-01-05"),
        _matter("M5", "RF5", "property", "2025-05-20"),
        _matter("M7", "RF7", "corporate", "2025-07-25"),
        _matter("M8", "RF8", "corporate", "2022-04-01"),
        _matter("M13", "RF13", "corporate", "2025-04-10"),
        _matter("M14", "RF14", "property", "2025-12-01"),
        _matter("M99", None, "corporate", "2025-03-01"),
    ],
    "fees": [
        {"matter_id": "M1", "billed_on": "2025-02-01", "amount": 1000.0},
        {"matter_id": "M1", "billed_on": "2026-01-15", "amount": 500.0},
        {"matter_id": "M4", "billed_on": "2024-12-31", "amount": 700.0},
        {"matter_id": "M4", "billed_on": "2025-01-31", "amount": 3000.0},
        {"matter_id": "M5", "billed_on": "2025-06-30", "amount": 2000.0},
        {"matter_id": "M7", "billed_on": "2025-08-01", "amount": 100.0},
        {"matter_id": "M7", "billed_on": "2025-09-01", "amount": -150.0},
        {"matter_id": "M8", "billed_on": "2022-06-01", "amount": 5000.0},
        {"matter_id": "M13", "billed_on": "2025-05-01", "amount": 800.0},
        {"matter_id": "M14", "billed_on": "2026-01-31", "amount": 400.0},
        {"matter_id": "M99", "billed_on": "2025-03-03", "amount": 999.0},
    ],
    "activities": [
        {"activity_id": "A1", "occurred_on": "2025-02-02", "referrer_id": "R1", "fee_earner_id": "FE1",
         "activity_type": "lunch", "hours": 2.0, "expense": 100.0},
        {"activity_id": "A2", "occurred_on": "2025-03-03", "referrer_id": "R4", "fee_earner_id": "FE2",
         "activity_type": "seminar", "hours": 3.0, "expense": 50.0},
        {"activity_id": "A3", "occurred_on": "2024-12-31", "referrer_id": "R4", "fee_earner_id": "FE2",
         "activity_type": "lunch", "hours": 10.0, "expense": 0.0},
        {"activity_id": "A4", "occurred_on": "2025-12-31", "referrer_id": "R2", "fee_earner_id": "FE2",
         "activity_type": "coffee", "hours": 1.0, "expense": 10.0},
        {"activity_id": "A5", "occurred_on": "2025-06-01", "referrer_id": "R3", "fee_earner_id": "FE1",
         "activity_type": "newsletter", "hours": 0.0, "expense": 0.0},
    ],
    "work_type_targets": [
        {"work_type": "corporate finance", "target_share": 1.0, "effective_from": "2020-01-01"},
    ],
}


@pytest.fixture(scope="session", autouse=True)
def _apptest_setup_once():
    """Two things every AppTest redoes that cannot change during a test run, done once instead:

    - the scan of every installed distribution's metadata for Streamlit components, on an AppTest's first
      run (streamlit.components.v2.manifest_scanner; 0.3 s idle, about a second on a busy machine, and
      this suite makes a few hundred AppTests): the scan runs once, each caller gets its own list;
    - reading, rewriting (Streamlit's "magic") and compiling the entry script and the page, on every run
      (AppTest makes a fresh ScriptCache per run): compiled once per file version (path, size, mtime),
      as a running Streamlit server keeps them.

    Streamlit itself is pinned (pyproject.toml); if these internals move, the tests run as before, slower.
    """
    undo = []
    try:
        from streamlit.components.v2 import manifest_scanner
    except ImportError:
        manifest_scanner = None
    if manifest_scanner is not None and hasattr(manifest_scanner, "scan_component_manifests"):
        scan = manifest_scanner.scan_component_manifests
        scanned = functools.cache(scan)

        @functools.wraps(scan)
        def scan_once(*args, **kwargs):
            return list(scanned(*args, **kwargs))

        manifest_scanner.scan_component_manifests = scan_once
        undo.append(lambda: setattr(manifest_scanner, "scan_component_manifests", scan))

    from streamlit.testing.v1 import app_test

    fresh_cache = getattr(app_test, "ScriptCache", None)
    if fresh_cache is not None and hasattr(fresh_cache, "get_bytecode"):
        compiled: dict[tuple[str, int, int], object] = {}

        class CompiledOnce(fresh_cache):
            def get_bytecode(self, script_path):
                path = os.path.abspath(script_path)
                try:
                    stat = os.stat(path)
                except OSError:
                    return super().get_bytecode(script_path)  # raises as it always did
                key = (path, stat.st_size, stat.st_mtime_ns)
                if key not in compiled:
                    compiled[key] = super().get_bytecode(script_path)
                return compiled[key]

        app_test.ScriptCache = CompiledOnce
        undo.append(lambda: setattr(app_test, "ScriptCache", fresh_cache))
    yield
    for step in reversed(undo):
        step()


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("tiny"), TINY)


@pytest.fixture()
def tiny(tiny_dir):
    dataset = open_dataset(tiny_dir)
    yield dataset
    dataset.connection.close()


@pytest.fixture(scope="session")
def sample_dir(tmp_path_factory):
    """The synthetic sample (size S, seed 1), generated once per test run."""
    from dashboard.sample import generate

    path = tmp_path_factory.mktemp("sample")
    generate(path, "S", 1)
    return path


@pytest.fixture()
def expected(sample_dir):
    """A named query on the sample for its default window: what a page must show."""
    dataset = open_dataset(sample_dir)
    window = registry.default_window(dataset)

    def run(name, **params):
        return registry.run(name, dataset, window, params=params)

    yield run
    dataset.connection.close()


@pytest.fixture()
def open_view(monkeypatch, sample_dir):
    """A page of the app in AppTest on the sample: open_view("drift")."""
    from streamlit.testing.v1 import AppTest

    def open_(view):
        monkeypatch.setenv("REFPORT_DATA", str(sample_dir))
        app = AppTest.from_file(str(PROJECT_ROOT / "dashboard" / "app.py"), default_timeout=60)
        app.run()
        app.switch_page(f"views/{view}.py").run()
        assert not app.exception, app.exception
        return app

    return open_


@pytest.fixture()
def state(tmp_path):
    """A fresh edit-store file for one test."""
    return tmp_path / "edits.db"


@pytest.fixture()
def env(monkeypatch, tiny_dir, state):
    """The app on the TINY data with the test's own edit store."""
    monkeypatch.setenv("REFPORT_DATA", str(tiny_dir))
    monkeypatch.setenv("REFPORT_STATE", str(state))
