"""Tiny hand-made data sets written as contract Parquet files."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dashboard.contract import TABLES, arrow_schema


def _cell(value, arrow_type):
    if value is None:
        return None
    if pa.types.is_date32(arrow_type) and isinstance(value, str):
        return date.fromisoformat(value)
    if pa.types.is_timestamp(arrow_type) and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def write_dataset(directory: Path, rows: dict[str, list[dict]]) -> Path:
    """Write every contract table (empty when not given); missing columns are null."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        # nullable everywhere, so a test can plant the nulls the contract forbids
        schema = pa.schema([f.with_nullable(True) for f in arrow_schema(name)])
        records = rows.get(name, [])
        columns = {
            field.name: pa.array(
                [_cell(r.get(field.name), field.type) for r in records], type=field.type
            )
            for field in schema
        }
        pq.write_table(pa.table(columns, schema=schema.remove_metadata()), directory / f"{name}.parquet")
    return directory
