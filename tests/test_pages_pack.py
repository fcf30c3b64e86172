"""The Board pack page in AppTest: it builds the pack for the sidebar's window and filters and
offers it for download."""

from __future__ import annotations

from datetime import date

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data import PROJECT_ROOT

APP = str(PROJECT_ROOT / "dashboard" / "app.py")


@pytest.fixture()
def page(monkeypatch, tiny_dir, tmp_path):
    monkeypatch.setenv("REFPORT_DATA", str(tiny_dir))
    monkeypatch.setenv("REFPORT_STATE", str(tmp_path / "state.db"))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["start"] = "2025-01-01"  # the window as a shared URL carries it
    at.query_params["end"] = "2025-12-31"
    at.run()
    at.switch_page("views/board_pack.py").run()
    assert not at.exception
    return at


def _downloads(at: AppTest) -> list:
    return at.get("download_button")


def test_page_explains_itself_and_waits_for_the_build(page):
    assert page.title[0].value == "Board pack"
    assert "01 Jan 2025 – 31 Dec 2025" in page.caption[0].value
    assert page.radio(key="pack_format").value.startswith("PDF")
    assert page.button(key="pack_build").label == "Build the pack"
    assert not _downloads(page)
    assert "press **Build the pack**" in page.info[0].value


@pytest.mark.parametrize(("choice", "name", "magic"), [
    ("PDF (A4 landscape, for print and tablets)", "board-pack-20250101-20251231.pdf", b"%PDF"),
    ("PowerPoint (16:9 slides, to paste into a deck)", "board-pack-20250101-20251231.pptx", b"PK"),
])
def test_build_offers_the_pack_for_download(page, choice, name, magic):
    page.radio(key="pack_format").set_value(choice).run()
    page.button(key="pack_build").click().run()
    assert not page.exception
    downloads = _downloads(page)
    assert len(downloads) == 1
    assert downloads[0].proto.label == f"Download {name}"
    built = page.session_state["board_pack"]
    assert built["name"] == name and built["data"].startswith(magic)


def test_a_new_window_asks_for_a_new_build(page):
    page.button(key="pack_build").click().run()
    assert _downloads(page)
    page.session_state["window_end"] = date(2025, 6, 30)
    page.run()
    assert not page.exception
    assert "01 Jan 2025 – 30 Jun 2025" in page.caption[0].value
    assert not _downloads(page)  # the pack on offer was for another window
