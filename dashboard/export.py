"""Write query results for people and machines: table, CSV, JSON.

CSV cells that a spreadsheet would run as a formula (=, +, -, @ at the
start of a text cell) are escaped with a leading apostrophe. Decimal
numbers are written to 15 significant digits (see FLOAT_FORMAT).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable
from datetime import date, datetime
from typing import TextIO

import numpy as np
import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# A double holds 15 significant decimal digits for certain; its 16th and 17th in a sum depend on the
# order the terms were added in, which DuckDB's parallel sums vary from run to run. So a sum of money
# is written 3335588.3, not 3335588.3000000003 in one run and 3335588.2999999997 in the next.
FLOAT_FORMAT = "%.15g"


def fifteen_digits(value: float) -> float:
    """``value`` as written to 15 significant digits (the float that prints as those digits)."""
    return float(FLOAT_FORMAT % value)


def plain(value: object) -> object:
    """A JSON-ready Python value: dates as YYYY-MM-DD, missing as None."""
    if type(value) is str:  # most cells of a text export: returned as they are, without the checks below
        return value
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else fifteen_digits(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalar
        return plain(value.item())
    return value


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    columns = list(frame.columns)
    values = [_plain_column(frame.iloc[:, position]) for position in range(len(columns))]
    return [dict(zip(columns, row)) for row in zip(*values)] if columns else [{} for _ in range(len(frame))]


def _plain_column(column: pd.Series) -> list[object]:
    """plain() of every value, a column at a time: plain numbers need no check but NaN's (a 100,000-row
    batch of the journeys took a second value by value)."""
    values = column.tolist()
    kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else None
    if kind in ("i", "u", "b"):
        return values
    if kind == "f":
        return [None if math.isnan(value) else fifteen_digits(value) for value in values]
    return [plain(value) for value in values]


def to_json(frame: pd.DataFrame) -> str:
    return json.dumps(records(frame), indent=2, ensure_ascii=False)


def escape_formula(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot start a spreadsheet formula. A column at a time (the text
    exports of the journeys are millions of cells: cell by cell took a quarter of writing them)."""
    out = frame.copy(deep=False)  # the escaped columns are replaced, never written into
    out.columns = [escape_formula(c) for c in out.columns]
    for position in range(out.shape[1]):
        values = out.iloc[:, position]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
            continue
        try:
            formula = values.str.startswith(FORMULA_STARTS, na=False).to_numpy(dtype=bool)
        except (AttributeError, TypeError):  # objects without text (dates, bytes): nothing to escape
            continue
        if formula.any():
            # by position, not by index label (a frame's labels may repeat)
            escaped = values.to_numpy(dtype=object, copy=True)
            escaped[formula] = ["'" + text for text in escaped[formula]]
            out.isetitem(position, pd.Series(escaped, index=values.index, name=values.name))
    return out


def to_csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    write_csv([frame], buffer)
    return buffer.getvalue()


def write_csv(frames: Iterable[pd.DataFrame], out: TextIO) -> None:
    """to_csv of the frames one after another, written as they come (one header)."""
    for index, frame in enumerate(frames):
        safe_frame(frame).to_csv(out, index=False, header=index == 0, lineterminator="\n",
                                 float_format=FLOAT_FORMAT)


def write_json(frames: Iterable[pd.DataFrame], out: TextIO) -> None:
    """to_json of the frames one after another, written as they come, and a line end."""
    opened = False
    for frame in frames:
        rows = records(frame)
        if not rows:
            continue
        # one frame's array without its brackets: "\n  {...},\n  {...}"
        inner = json.dumps(rows, indent=2, ensure_ascii=False)[1:-2]
        out.write("," + inner if opened else "[" + inner)
        opened = True
    out.write("\n]\n" if opened else "[]\n")


def to_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "(no rows)\n"
    shown = pd.DataFrame({c: [_cell_text(plain(v)) for v in frame[c]] for c in frame.columns})
    return shown.to_string(index=False) + "\n"


def _cell_text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4f}" if 0 < abs(value) < 1 else f"{value:,.2f}"
    return str(value)
