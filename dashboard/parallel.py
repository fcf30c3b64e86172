"""Two pieces of work at the same time: NumPy and DuckDB do theirs without holding Python's GIL, and a
facilitator's laptop has two cores, so a page that needs both waits for the longer one only."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Here = TypeVar("Here")
There = TypeVar("There")


def at_once(here: Callable[[], Here], there: Callable[[], There]) -> tuple[Here, There]:
    """here() on this thread while there() runs on a second one; both results, or the first error
    (after both have finished)."""
    with ThreadPoolExecutor(1, thread_name_prefix="refport") as pool:
        later = pool.submit(there)
        return here(), later.result()
