import csv
import io

import pandas as pd
import pytest

from dashboard import data, export, registry
from dashboard.export import records, to_csv, to_json
from dashboard.window import Filters


def test_csv_escapes_formula_injection():
    frame = pd.DataFrame({"name": ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "plain"], "n": [1, -2, 3, 4, 5]})
    rows = list(csv.reader(io.StringIO(to_csv(frame))))
    assert rows[1] == ["'=HYPERLINK(\"x\")", "1"]
    assert rows[2] == ["'+1", "-2"]  # numbers stay numbers; only text is escaped
    assert rows[3] == ["'-2", "3"] and rows[4] == ["'@SUM(A1)", "4"] and rows[5] == ["plain", "5"]


def test_csv_escapes_by_position_whatever_the_frames_index_and_column_types():
    frame = pd.DataFrame({"text": ["=q", "w", "+e"],
                          "category": pd.Categorical(["@c", "d", "@c"]),
                          "raw": [b"=bytes", b"x", None]}, index=[1, 1, 0])
    rows = list(csv.reader(io.StringIO(to_csv(frame))))
    assert [row[:2] for row in rows[1:]] == [["'=q", "'@c"], ["w", "d"], ["'+e", "'@c"]]
    assert frame["text"].tolist() == ["=q", "w", "+e"]  # the frame itself is left as it was


def test_decimals_are_written_to_fifteen_significant_digits():
    """The last digits of a sum of doubles depend on the order it was added in: they are not written."""
    frame = pd.DataFrame({"fees": [3335588.3000000003, 0.1 + 0.2, 1e-7, 2.5, float("nan")], "n": [1, 2, 3, 4, 5]})
    assert to_csv(frame).splitlines()[1:] == ["3335588.3,1", "0.3,2", "1e-07,3", "2.5,4", ",5"]
    assert [row["fees"] for row in records(frame)] == [3335588.3, 0.3, 1e-07, 2.5, None]
    assert '"fees": 3335588.3,' in to_json(frame)
    assert export.plain(76173.83000000003) == 76173.83 and export.plain(2.0 / 3.0) == 0.666666666666667


def test_records_turn_missing_into_none():
    frame = pd.DataFrame({"x": [1.5, float("nan")], "k": pd.array([1, None], dtype="Int64")})
    assert records(frame) == [{"x": 1.5, "k": 1}, {"x": None, "k": None}]


@pytest.fixture(scope="module")
def sample(sample_dir):
    # one thread: DuckDB's parallel sums of doubles differ in their last digits from run to run, and
    # the test compares the texts of two runs
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(data, "DUCKDB_THREADS", 1)
        dataset = data.open_dataset(sample_dir)
    yield dataset, registry.default_window(dataset)
    dataset.connection.close()


@pytest.mark.parametrize("name", sorted(registry.queries()))
def test_an_export_written_in_batches_is_the_export_of_the_whole_result(sample, name):
    """`refport query` writes CSV and JSON a batch of rows at a time; batches of 7 rows (so that most
    results span several) give the same text as the whole result, for every named query."""
    dataset, window = sample
    whole = registry.run(name, dataset, window)
    batches = list(registry.run_in_batches(name, dataset, window, rows=7))
    if registry.get(name).function is None:  # a query function's result is one frame
        assert all(len(batch) <= 7 for batch in batches)
    pd.testing.assert_frame_equal(pd.concat(batches, ignore_index=True), whole)
    as_csv, as_json = io.StringIO(), io.StringIO()
    export.write_csv(registry.run_in_batches(name, dataset, window, rows=7), as_csv)
    export.write_json(registry.run_in_batches(name, dataset, window, rows=7), as_json)
    assert as_csv.getvalue() == to_csv(whole)
    assert as_json.getvalue() == to_json(whole) + "\n"


def test_money_in_an_export_reads_in_cents(sample):
    """At S the scorecard's sums of fees and costs came out as 3335588.3000000003 and the like."""
    dataset, window = sample
    rows = list(csv.DictReader(io.StringIO(to_csv(registry.run("scorecard", dataset, window)))))
    for column in ("referred_fees", "investment_cost"):
        cells = [row[column] for row in rows if row[column]]
        assert cells and all(len(cell.partition(".")[2]) <= 2 for cell in cells), column


def test_batches_of_an_empty_result_write_its_header_and_an_empty_array(sample):
    dataset, window = sample
    filters = Filters(team=("no such team",))
    batches = list(registry.run_in_batches("journey_touches", dataset, window, filters, rows=7))
    assert len(batches) == 1 and batches[0].empty and "touchpoint_id" in batches[0].columns
    as_csv, as_json = io.StringIO(), io.StringIO()
    export.write_csv(registry.run_in_batches("journey_touches", dataset, window, filters), as_csv)
    export.write_json(registry.run_in_batches("journey_touches", dataset, window, filters), as_json)
    assert as_csv.getvalue().startswith("matter_id,client_id,opened_on,value,n,position,") and \
        as_csv.getvalue().count("\n") == 1
    assert as_json.getvalue() == "[]\n"


def test_records_of_every_kind_of_column():
    """records() works a column at a time; each kind of column gives plain JSON values."""
    from datetime import date

    frame = pd.DataFrame({
        "f": [1.5, float("nan")],
        "i": [3, 4],
        "ni": pd.array([5, None], dtype="Int64"),
        "b": [True, False],
        "nb": pd.array([True, None], dtype="boolean"),
        "s": pd.array(["x", None], dtype="str"),
        "d": [date(2025, 1, 2), None],
        "t": pd.to_datetime(["2025-01-02 03:04:05", None]),
    })
    assert records(frame) == [
        {"f": 1.5, "i": 3, "ni": 5, "b": True, "nb": True, "s": "x", "d": "2025-01-02", "t": "2025-01-02 03:04:05"},
        {"f": None, "i": 4, "ni": None, "b": False, "nb": None, "s": None, "d": None, "t": None},
    ]
    assert [type(v) for v in records(frame)[0].values()] == [float, int, int, bool, bool, str, str, str]
    assert records(pd.DataFrame(index=range(2))) == [{}, {}]
    assert to_json(frame).startswith('[\n  {\n    "f": 1.5,\n    "i": 3,')
