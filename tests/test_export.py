import csv
import io

import pandas as pd

from dashboard.export import records, to_csv


def test_csv_escapes_formula_injection():
    frame = pd.DataFrame({"name": ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "plain"], "n": [1, -2, 3, 4, 5]})
    rows = list(csv.reader(io.StringIO(to_csv(frame))))
    assert rows[1] == ["'=HYPERLINK(\"x\")", "1"]
    assert rows[2] == ["'+1", "-2"]  # numbers stay numbers; only text is escaped
    assert rows[3] == ["'-2", "3"] and rows[4] == ["'@SUM(A1)", "4"] and rows[5] == ["plain", "5"]


def test_records_turn_missing_into_none():
    frame = pd.DataFrame({"x": [1.5, float("nan")], "k": pd.array([1, None], dtype="Int64")})
    assert records(frame) == [{"x": 1.5, "k": 1}, {"x": None, "k": None}]
