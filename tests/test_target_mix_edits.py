"""An edited target mix (kept in the store) replaces the Parquet mix of its date in the drift figures."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard import registry, store
from dashboard.data import open_dataset
from dashboard.window import Window
from tests.fixtures import write_dataset

WINDOW = Window(date(2025, 1, 1), date(2025, 6, 30))


def _referral(rid, on, work_type):
    return {"referral_id": rid, "referred_on": on, "direction": "inbound", "referrer_id": "R1",
            "fee_earner_id": "FE1", "to_team": "t", "client_id": rid, "work_type": work_type, "status": "open"}


@pytest.fixture()
def dataset(tmp_path):
    # Q1 2025: two corporate, two conveyancing referrals. Parquet target: 100% corporate.
    rows = {
        "referrers": [{"referrer_id": "R1", "name": "Alpha", "referrer_type": "bank"}],
        "fee_earners": [{"fee_earner_id": "FE1", "full_name": "A", "team": "t", "office": "o",
                         "grade": "g", "cost_rate": 1.0}],
        "referrals": [_referral("A", "2025-01-10", "corporate"), _referral("B", "2025-02-10", "corporate"),
                      _referral("C", "2025-03-10", "conveyancing"), _referral("D", "2025-03-11", "conveyancing")],
        "work_type_targets": [{"work_type": "corporate", "target_share": 1.0, "effective_from": "2024-01-01"}],
    }
    ds = open_dataset(write_dataset(tmp_path / "data", rows))
    yield ds
    ds.connection.close()


def drift_q1(dataset, url):
    frame = registry.run("drift", dataset, WINDOW, extra_tables=store.tables_at(url))
    return frame.set_index("quarter").loc["2025Q1", "drift_tvd"]


def test_saved_mix_replaces_the_parquet_mix_and_survives_a_restart(dataset, tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    # Parquet target 100% corporate; actual 50/50: ½ (|0.5 − 1| + |0.5 − 0|) = 0.5
    assert drift_q1(dataset, url) == pytest.approx(0.5)
    store.open_store(url).save_target_mix("2024-01-01", {"corporate": 0.75, "conveyancing": 0.25},
                                          "Ann", "strategy day", 0)
    # edited 75/25: ½ (0.25 + 0.25) = 0.25
    assert drift_q1(dataset, url) == pytest.approx(0.25)
    # a fresh process reads the same file: the edit is still there
    reopened = store.open_store(url).target_mix()
    assert reopened["work_type"].tolist() == ["conveyancing", "corporate"]
    mix = registry.run("drift_mix", dataset, WINDOW, extra_tables=store.tables_at(url))
    q1 = mix[mix["quarter"] == "2025Q1"].set_index("work_type")["target_share"]
    assert q1.to_dict() == {"conveyancing": 0.25, "corporate": 0.75}


def test_a_new_date_adds_to_the_parquet_mixes(dataset, tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store.open_store(url).save_target_mix("2025-04-01", {"conveyancing": 1.0}, "Ann", "pivot", 0)
    targets = registry.run("target_mix", dataset, WINDOW, extra_tables=store.tables_at(url))
    assert sorted(targets["effective_from"].unique()) == [date(2024, 1, 1), date(2025, 4, 1)]
    # Q1 still measured against the Parquet mix in force on 2025-01-01
    assert drift_q1(dataset, url) == pytest.approx(0.5)


def test_bad_mixes_are_refused_with_the_date_named(tmp_path):
    edits = store.open_store(f"sqlite:///{tmp_path / 'state.db'}")
    with pytest.raises(ValueError, match="sum to 0.9"):
        edits.save_target_mix("2025-01-01", {"a": 0.5, "b": 0.4}, "Ann", "typo", 0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        edits.save_target_mix("2025-01-01", {"a": 1.5, "b": -0.5}, "Ann", "typo", 0)
    assert edits.target_mix().empty


def test_a_stale_edit_is_refused_not_overwritten(tmp_path):
    edits = store.open_store(f"sqlite:///{tmp_path / 'state.db'}")
    edits.save_target_mix("2025-01-01", {"a": 1.0}, "Ann", "first", 0)
    with pytest.raises(store.StoreConflict, match="Ann"):
        edits.save_target_mix("2025-01-01", {"b": 1.0}, "Ben", "made from version 0", 0)
    assert edits.target_mix()["work_type"].tolist() == ["a"]
