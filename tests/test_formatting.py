"""Sorting money as it is shown."""

from __future__ import annotations

import pandas as pd

from dashboard.formatting import amount_short, money_short, to_the_cent


def test_equal_money_from_sums_in_another_order_falls_to_the_next_column():
    frame = pd.DataFrame({"investment_cost": [0.1 + 0.2, 0.3, 12.5], "name": ["B", "A", "C"]})
    plain = frame.sort_values(["investment_cost", "name"], ascending=[False, True])
    assert plain["name"].tolist() == ["C", "B", "A"]  # 0.30000000000000004 > 0.3: the last bits decide
    by_cent = frame.sort_values(["investment_cost", "name"], ascending=[False, True], key=to_the_cent)
    assert by_cent["name"].tolist() == ["C", "A", "B"]
    assert by_cent["investment_cost"].tolist() == [12.5, 0.3, 0.1 + 0.2]  # values are kept as they are


def test_columns_other_than_floats_sort_as_they_are():
    names = pd.Series(["b", "a"])
    assert to_the_cent(names) is names
    counts = pd.Series([3, 1])
    assert to_the_cent(counts) is counts


def test_short_amounts_fit_a_tile_from_thousands_to_billions():
    assert [amount_short(v) for v in (9_500, 10_000, 840_400, 999_999.99, 1_254_000, 8_443_120_000.0)] == [
        "9,500", "10k", "840k", "1.00m", "1.25m", "8.44bn"]
    assert amount_short(999_999_999.0) == "1.00bn" and amount_short(-2_500_000) == "−2.50m"
    assert amount_short(None) == "—" and money_short(None) == "—"
    assert [amount_short(v) for v in (9_999.4, 9_999.5, -0.4, -0.6)] == ["9,999", "10k", "0", "−1"]
    assert money_short(8_443_120_000.0, "GBP") == "GBP 8.44bn"
