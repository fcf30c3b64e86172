"""The Import page in Streamlit's AppTest: upload, table, mapping, dry run, import, quarantine.

AppTest cannot drive a file uploader, so the tests hand the page its upload
through session state ("import_upload"), the same place the uploader puts it.
"""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.data import PROJECT_ROOT
from tests.fixtures import write_dataset
from tests.test_import import CONTACTS, CRM_MAPPING, FEE_EARNERS, REFERRERS, _crm_csv

APP = str(PROJECT_ROOT / "dashboard" / "app.py")
PAGE = "views/import_data.py"


@pytest.fixture()
def app(monkeypatch, tiny_dir):
    monkeypatch.setenv("REFPORT_DATA", str(tiny_dir))
    return AppTest.from_file(APP, default_timeout=60)


def _open(app, upload=None):
    if upload is not None:
        app.session_state["import_upload"] = upload
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception
    return app


def test_without_a_file_the_page_says_what_to_do(app):
    _open(app)
    assert app.title[0].value == "Import an export"
    assert "Upload an export to start" in app.info[0].value


def test_a_file_of_the_wrong_type_is_refused_on_the_server(app):
    _open(app, {"name": "report.exe", "data": b"MZ\x90\x00"})
    assert "only CSV" in app.error[0].value
    _open(app, {"name": "report.xlsx", "data": b"just text"})
    assert "not an Excel" in app.error[0].value


def test_dry_run_then_import_with_quarantine(app, tmp_path):
    firm = write_dataset(tmp_path / "firm", {"referrers": REFERRERS, "fee_earners": FEE_EARNERS,
                                             "contacts": CONTACTS})
    _open(app, {"name": "pipeline.csv", "data": _crm_csv("cp1252")})
    app.selectbox(key="import_table").set_value("referrals").run()
    assert not app.exception
    mapping = app.text_area[0]
    assert 'referral_id = "Opportunity ID"' in mapping.value  # the suggestion
    mapping.set_value(CRM_MAPPING).run()  # the user completes it (direction, statuses)
    app.text_input(key="import_target").set_value(str(firm)).run()
    app.button(key="import_dry_run").click().run()
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics == {"Rows read": "16", "Accepted": "3", "Quarantined": "5", "Skipped (not data)": "8"}
    reasons = app.dataframe[0].value
    assert reasons["row"].tolist() == [6, 9, 10, 11, 12]
    assert "31/02/2024" in reasons["reason"][0]
    assert "16 rows read = 3 accepted + 5 quarantined + 8 skipped" in " ".join(c.value for c in app.caption)
    before = pq.read_table(firm / "referrals.parquet").num_rows
    assert before == 0  # the dry run wrote nothing

    app.button(key="import_go").click().run()
    assert not app.exception
    assert app.success[0].value.startswith("Imported 3 rows into")
    assert pq.read_table(firm / "referrals.parquet")["referral_id"].to_pylist() == ["00123", "00125", "00129"]
    assert (firm / "quarantine" / "referrals.csv").exists()
    assert any(b.proto.label.startswith("Download the 5 quarantined rows")
               for b in app.get("download_button"))


def test_a_broken_mapping_is_reported(app):
    _open(app, {"name": "pipeline.csv", "data": _crm_csv("utf-8")})
    app.selectbox(key="import_table").set_value("referrals").run()
    app.text_area[0].set_value('table = "referrals"\n[columns]\nstatus = "Stage"\n').run()
    assert not app.exception
    assert "no source for required column" in app.error[0].value
