from datetime import date

import pytest

from dashboard.window import Filters, Window, WindowError, default_start, months_before, parse_date


@pytest.mark.parametrize(
    ("end", "start"),
    [
        (date(2026, 6, 30), date(2024, 7, 1)),  # metrics.md's example
        (date(2026, 2, 28), date(2024, 2, 29)),  # clamps: 2024-02-28 + 1 day
        (date(2025, 3, 31), date(2023, 4, 1)),
        (date(2024, 2, 29), date(2022, 3, 1)),  # 2022-02-28 + 1 day
    ],
)
def test_default_start_is_24_months_before_end_plus_one_day(end, start):
    assert default_start(end) == start


def test_months_before_clamps_to_the_last_day():
    assert months_before(date(2025, 3, 31), 1) == date(2025, 2, 28)
    assert months_before(date(2025, 1, 15), 13) == date(2023, 12, 15)


def test_window_resolve_and_validation():
    assert Window.resolve(date(2026, 6, 30)) == Window(date(2024, 7, 1), date(2026, 6, 30))
    assert Window.resolve(date(2026, 6, 30), end=date(2025, 12, 31)).start == date(2024, 1, 1)
    with pytest.raises(WindowError, match="after its end"):
        Window(date(2025, 2, 1), date(2025, 1, 1))
    with pytest.raises(WindowError, match="YYYY-MM-DD"):
        parse_date("31/12/2025")


def test_filters_bind_empty_as_no_filter():
    params = Filters(team=("corporate",)).as_params()
    assert params["team"] == ["corporate"] and params["office"] is None
    assert Filters().describe() == "no filters"
    assert Filters(work_type=("tax",)).describe() == "work type: tax"
