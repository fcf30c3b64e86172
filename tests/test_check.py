"""Tests for dashboard.check: the data-contract checker."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dashboard.check import MAX_ROWS_PER_RULE, Problem, check
from dashboard.contract import TABLES

D = dt.date
S, DATE, F64, I32 = pa.string(), pa.date32(), pa.float64(), pa.int32()
TS = pa.timestamp("us")


def _table(columns: dict[str, tuple[pa.DataType, list]]) -> pa.Table:
    return pa.table({name: pa.array(values, type_) for name, (type_, values) in columns.items()})


def valid_tables() -> dict[str, pa.Table]:
    """A tiny data set that follows the contract in every respect."""
    return {
        "referrers": _table(
            {
                "referrer_id": (S, ["R1", "R2"]),
                "name": (S, ["Smith & Co", "Northern Bank"]),
                "referrer_type": (S, ["law firm", "bank"]),
                "sector": (S, ["legal", None]),
                "region": (S, [None, "north"]),
                "first_seen_on": (DATE, [D(2020, 1, 1), None]),
            }
        ),
        "contacts": _table(
            {
                "contact_id": (S, ["C1", "C2"]),
                "referrer_id": (S, ["R1", "R2"]),
                "full_name": (S, ["Ann Smith", "Bob Jones"]),
                "job_title": (S, ["partner", None]),
            }
        ),
        "contact_moves": _table(
            {
                "contact_id": (S, ["C1"]),
                "from_referrer_id": (S, ["R2"]),
                "to_referrer_id": (S, ["R1"]),
                "moved_on": (DATE, [D(2022, 6, 1)]),
            }
        ),
        "fee_earners": _table(
            {
                "fee_earner_id": (S, ["F1", "F2"]),
                "full_name": (S, ["Cat Brown", "Dan Green"]),
                "team": (S, ["corporate", "property"]),
                "office": (S, ["London", "Leeds"]),
                "grade": (S, ["partner", "associate"]),
                "cost_rate": (F64, [250.0, 120.5]),
            }
        ),
        "relationships": _table(
            {
                "fee_earner_id": (S, ["F1", "F2"]),
                "contact_id": (S, ["C1", "C2"]),
                "strength": (I32, [5, 1]),
                "since_on": (DATE, [D(2019, 3, 1), None]),
                "last_contact_on": (DATE, [None, D(2024, 2, 1)]),
            }
        ),
        "referrals": _table(
            {
                "referral_id": (S, ["RF1", "RF2", "RF3"]),
                "referred_on": (DATE, [D(2024, 1, 10), D(2024, 2, 10), D(2024, 3, 10)]),
                "direction": (S, ["inbound", "outbound", "internal"]),
                "referrer_id": (S, ["R1", "R2", None]),
                "contact_id": (S, ["C1", None, None]),
                "fee_earner_id": (S, ["F1", "F2", "F1"]),
                "from_team": (S, [None, None, "property"]),
                "to_team": (S, ["corporate", "property", "corporate"]),
                "client_id": (S, ["CL1", "CL2", "CL3"]),
                "work_type": (S, ["corporate finance", "conveyancing", "corporate finance"]),
                "status": (S, ["won", "open", "lost"]),
                "estimated_value": (F64, [50000.0, None, 12000.0]),
                "closed_on": (DATE, [D(2024, 1, 20), None, D(2024, 4, 1)]),
            }
        ),
        "matters": _table(
            {
                "matter_id": (S, ["M1", "M2", "M3"]),
                "client_id": (S, ["CL1", "CL3", "CL9"]),
                "team": (S, ["corporate", "corporate", "property"]),
                "work_type": (S, ["corporate finance", "corporate finance", "conveyancing"]),
                "opened_on": (DATE, [D(2024, 1, 21), D(2024, 3, 20), D(2024, 5, 1)]),
                "referral_id": (S, ["RF1", "RF3", None]),
            }
        ),
        "fees": _table(
            {
                "matter_id": (S, ["M1", "M1", "M2"]),
                "billed_on": (DATE, [D(2024, 2, 28), D(2024, 3, 31), D(2024, 4, 30)]),
                "amount": (F64, [10000.0, -500.0, 7500.0]),
            }
        ),
        "activities": _table(
            {
                "activity_id": (S, ["A1", "A2"]),
                "occurred_on": (DATE, [D(2023, 11, 5), D(2023, 12, 1)]),
                "referrer_id": (S, ["R1", "R2"]),
                "contact_id": (S, ["C1", None]),
                "fee_earner_id": (S, ["F1", "F2"]),
                "activity_type": (S, ["lunch", "seminar"]),
                "hours": (F64, [2.0, 6.5]),
                "expense": (F64, [120.0, 0.0]),
            }
        ),
        "touchpoints": _table(
            {
                "touchpoint_id": (S, ["T1", "T2"]),
                "client_id": (S, ["CL1", "CL2"]),
                "touched_at": (
                    TS,
                    [dt.datetime(2024, 1, 9, 10, 30), dt.datetime(2024, 2, 1, 9, 0)],
                ),
                "channel": (S, ["referral", "website"]),
                "referrer_id": (S, ["R1", None]),
            }
        ),
        "work_type_targets": _table(
            {
                "work_type": (
                    S,
                    [
                        "corporate finance",
                        "conveyancing",
                        "corporate finance",
                        "conveyancing",
                        "insolvency",
                    ],
                ),
                # 0.1 + 0.2 + 0.7 is not exactly 1.0 in floating point: within tolerance
                "target_share": (F64, [0.6, 0.4, 0.1, 0.2, 0.7]),
                "effective_from": (DATE, [D(2024, 1, 1)] * 2 + [D(2025, 1, 1)] * 3),
            }
        ),
    }


# --- helpers to plant faults ------------------------------------------------ #


def write(directory: Path, tables: dict[str, pa.Table]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        pq.write_table(table, directory / f"{name}.parquet")
    return directory


def set_cell(tables, name: str, column: str, index: int, value) -> None:
    table = tables[name]
    i = table.schema.get_field_index(column)
    values = table.column(column).to_pylist()
    values[index] = value
    tables[name] = table.set_column(i, column, pa.array(values, table.schema.field(i).type))


def replace_column(tables, name: str, column: str, array: pa.Array) -> None:
    table = tables[name]
    tables[name] = table.set_column(table.schema.get_field_index(column), column, array)


def append_rows(tables, name: str, rows: list[dict]) -> None:
    table = tables[name]
    tables[name] = pa.concat_tables([table, pa.Table.from_pylist(rows, schema=table.schema)])


def row_of(tables, name: str, index: int) -> dict:
    return tables[name].slice(index, 1).to_pylist()[0]


def keys(problems: list[Problem]) -> list[tuple]:
    return [(p.file, p.column, p.row, p.value) for p in problems]


@pytest.fixture
def tables():
    return valid_tables()


def run(tmp_path: Path, tables) -> list[Problem]:
    return check(write(tmp_path / "data", tables))


# --- a valid data set ---------------------------------------------------------- #


def test_valid_data_set_has_no_problems(tmp_path, tables):
    assert set(tables) == set(TABLES)
    assert run(tmp_path, tables) == []


def test_accepted_type_variants_and_extra_columns(tmp_path, tables):
    # DOUBLE accepts integer and decimal, INTEGER accepts any integer type,
    # TIMESTAMP accepts time zones and other units, extra columns are ignored,
    # and an all-null nullable column (Arrow null type) is fine.
    replace_column(tables, "fees", "amount", pa.array([10000, -500, 7500], pa.int64()))
    replace_column(
        tables,
        "fee_earners",
        "cost_rate",
        pa.array([decimal.Decimal("250.00"), decimal.Decimal("120.50")], pa.decimal128(10, 2)),
    )
    replace_column(tables, "activities", "hours", pa.array([2.0, 6.5], pa.float32()))
    replace_column(tables, "relationships", "strength", pa.array([5, 1], pa.int64()))
    replace_column(
        tables,
        "touchpoints",
        "touched_at",
        pa.array([dt.datetime(2024, 1, 9, tzinfo=dt.UTC)] * 2, pa.timestamp("ns", tz="UTC")),
    )
    replace_column(tables, "referrers", "sector", pa.array([None, None], pa.null()))
    tables["referrals"] = tables["referrals"].append_column("notes", pa.array(["x", "y", "z"]))
    replace_column(
        tables, "contacts", "full_name", pa.array(["Ann Smith", "Bob Jones"], pa.large_string())
    )
    assert run(tmp_path, tables) == []


# --- file-level problems ----------------------------------------------------- #


def test_missing_file_is_reported_once_without_cascading_references(tmp_path, tables):
    data = write(tmp_path / "data", tables)
    (data / "referrers.parquet").unlink()
    problems = check(data)
    assert keys(problems) == [("referrers.parquet", None, None, None)]
    assert "missing" in problems[0].message


def test_missing_data_directory(tmp_path):
    problems = check(tmp_path / "nope")
    assert len(problems) == 1 and "not found" in problems[0].message


def test_unreadable_file(tmp_path, tables):
    data = write(tmp_path / "data", tables)
    (data / "fees.parquet").write_bytes(b"this is not parquet")
    problems = check(data)
    assert keys(problems) == [("fees.parquet", None, None, None)]
    assert "cannot be read" in problems[0].message


def test_corrupt_data_pages(tmp_path, tables):
    # A valid footer (the schema reads fine) but garbage in the data pages.
    n = 20_000
    tables["fees"] = _table(
        {
            "matter_id": (S, ["M1"] * n),
            "billed_on": (DATE, [D(2024, 1, 1)] * n),
            "amount": (F64, [float(i) for i in range(n)]),
        }
    )
    data = write(tmp_path / "data", tables)
    path = data / "fees.parquet"
    raw = bytearray(path.read_bytes())
    size = len(raw)
    for i in range(8, size // 2, 3):
        raw[i] ^= 0x5A
    path.write_bytes(bytes(raw))
    problems = check(data)
    assert keys(problems) == [("fees.parquet", None, None, None)]


def test_quote_in_directory_name(tmp_path, tables):
    assert check(write(tmp_path / "it's data", tables)) == []


# --- columns and types -------------------------------------------------------- #


def test_missing_column(tmp_path, tables):
    tables["referrals"] = tables["referrals"].drop_columns(["status"])
    problems = run(tmp_path, tables)
    assert keys(problems) == [("referrals.parquet", "status", None, None)]
    assert "missing" in problems[0].message


def test_missing_primary_key_column_skips_references_into_it(tmp_path, tables):
    tables["contacts"] = tables["contacts"].drop_columns(["contact_id"])
    # contacts.contact_id is referenced by contact_moves, relationships, referrals
    # and activities: none of those is reported again.
    assert keys(run(tmp_path, tables)) == [("contacts.parquet", "contact_id", None, None)]


def test_missing_nullable_column(tmp_path, tables):
    tables["referrers"] = tables["referrers"].drop_columns(["sector"])
    assert keys(run(tmp_path, tables)) == [("referrers.parquet", "sector", None, None)]


def test_wrong_type_date_stored_as_string(tmp_path, tables):
    replace_column(
        tables, "referrals", "referred_on", pa.array(["2024-01-10", "2024-02-10", "not a date"])
    )
    problems = run(tmp_path, tables)
    assert keys(problems) == [("referrals.parquet", "referred_on", None, None)]
    assert "expected DATE" in problems[0].message and "VARCHAR" in problems[0].message


def test_wrong_type_amount_stored_as_string(tmp_path, tables):
    replace_column(tables, "fees", "amount", pa.array(["10000", None, "n/a"]))
    problems = run(tmp_path, tables)
    # the null is a value problem on a wrongly typed column: not reported on top
    assert keys(problems) == [("fees.parquet", "amount", None, None)]
    assert "expected DOUBLE" in problems[0].message and "found VARCHAR" in problems[0].message


def test_wrong_type_date_stored_as_timestamp(tmp_path, tables):
    replace_column(tables, "fees", "billed_on", pa.array([dt.datetime(2024, 2, 28)] * 3, TS))
    problems = run(tmp_path, tables)
    assert keys(problems) == [("fees.parquet", "billed_on", None, None)]
    assert "found TIMESTAMP" in problems[0].message


def test_wrong_type_integer_and_timestamp(tmp_path, tables):
    replace_column(tables, "relationships", "strength", pa.array([5.0, 9.5], F64))
    replace_column(tables, "touchpoints", "touched_at", pa.array([D(2024, 1, 9)] * 2, DATE))
    # strength 9.5 is out of range too, but value checks are skipped on a wrong type
    assert keys(run(tmp_path, tables)) == [
        ("relationships.parquet", "strength", None, None),
        ("touchpoints.parquet", "touched_at", None, None),
    ]


def test_wrong_type_id_skips_references_into_it(tmp_path, tables):
    replace_column(tables, "matters", "matter_id", pa.array([1, 2, 3], pa.int64()))
    assert keys(run(tmp_path, tables)) == [("matters.parquet", "matter_id", None, None)]


# --- values --------------------------------------------------------------------- #


def test_null_in_required_column(tmp_path, tables):
    set_cell(tables, "referrers", "name", 1, None)
    set_cell(tables, "fees", "amount", 2, None)  # no primary key: "row N"
    problems = run(tmp_path, tables)
    assert keys(problems) == [
        ("referrers.parquet", "name", "R2", None),
        ("fees.parquet", "amount", "row 3", None),
    ]
    assert all("null" in p.message for p in problems)


def test_null_primary_key_names_the_row_number(tmp_path, tables):
    set_cell(tables, "activities", "activity_id", 1, None)
    assert keys(run(tmp_path, tables)) == [("activities.parquet", "activity_id", "row 2", None)]


@pytest.mark.parametrize(
    "bad, text", [(float("nan"), "nan"), (float("inf"), "inf"), (-float("inf"), "-inf")]
)
def test_nan_or_infinity_in_required_double(tmp_path, tables, bad, text):
    replace_column(tables, "fees", "amount", pa.array([1.0, bad, 2.0], F64, from_pandas=False))
    # also out of range and breaking its sum, but reported once
    replace_column(
        tables,
        "work_type_targets",
        "target_share",
        pa.array([0.6, bad, 0.1, 0.2, 0.7], F64, from_pandas=False),
    )
    problems = run(tmp_path, tables)
    assert keys(problems) == [
        ("fees.parquet", "amount", "row 2", text),
        ("work_type_targets.parquet", "target_share", "row 2", text),
    ]
    assert all("not a finite number" in p.message for p in problems)


def test_null_target_share_does_not_also_break_the_sum(tmp_path, tables):
    set_cell(tables, "work_type_targets", "target_share", 0, None)
    assert keys(run(tmp_path, tables)) == [
        ("work_type_targets.parquet", "target_share", "row 1", None)
    ]


def test_extra_column_named_file_row_number(tmp_path, tables):
    tables["fees"] = tables["fees"].append_column("file_row_number", pa.array([100, 200, 300]))
    set_cell(tables, "fees", "matter_id", 1, "M9")
    assert keys(run(tmp_path, tables)) == [("fees.parquet", "matter_id", "row 2", "M9")]


def test_all_null_required_column_of_null_type(tmp_path, tables):
    replace_column(tables, "referrers", "name", pa.array([None, None], pa.null()))
    assert keys(run(tmp_path, tables)) == [
        ("referrers.parquet", "name", "R1", None),
        ("referrers.parquet", "name", "R2", None),
    ]


def test_bad_enumerated_values(tmp_path, tables):
    set_cell(tables, "referrals", "status", 0, "pending")
    set_cell(tables, "referrals", "direction", 1, "Outbound")  # wrong case
    problems = run(tmp_path, tables)
    assert keys(problems) == [
        ("referrals.parquet", "direction", "RF2", "Outbound"),
        ("referrals.parquet", "status", "RF1", "pending"),
    ]
    assert "not one of inbound, outbound, internal" in problems[0].message
    assert "lower-case" in problems[0].message
    assert str(problems[1]) == (
        "referrals.parquet: column status, row RF1, value 'pending': not one of open, won, lost, declined"
    )


def test_bad_direction_does_not_cascade_into_direction_rules(tmp_path, tables):
    # status 'lost' would break the outbound rule, but the direction itself is
    # not valid, so only the direction is reported.
    set_cell(tables, "referrals", "direction", 1, "out")
    set_cell(tables, "referrals", "status", 1, "lost")
    assert keys(run(tmp_path, tables)) == [("referrals.parquet", "direction", "RF2", "out")]


def test_strength_out_of_range(tmp_path, tables):
    replace_column(tables, "relationships", "strength", pa.array([0, 6], I32))
    problems = run(tmp_path, tables)
    assert keys(problems) == [
        ("relationships.parquet", "strength", "row 1", "0"),
        ("relationships.parquet", "strength", "row 2", "6"),
    ]


def test_target_share_out_of_range_does_not_also_break_the_sum(tmp_path, tables):
    replace_column(
        tables, "work_type_targets", "target_share", pa.array([1.2, -0.2, 0.1, 0.2, 0.7], F64)
    )
    assert keys(run(tmp_path, tables)) == [
        ("work_type_targets.parquet", "target_share", "row 1", "1.2"),
        ("work_type_targets.parquet", "target_share", "row 2", "-0.2"),
    ]


def test_target_shares_not_summing_to_one(tmp_path, tables):
    set_cell(tables, "work_type_targets", "target_share", 1, 0.3)
    problems = run(tmp_path, tables)
    assert keys(problems) == [("work_type_targets.parquet", "target_share", "2024-01-01", "0.9")]
    assert "sum to 0.9" in problems[0].message


def test_duplicate_primary_key(tmp_path, tables):
    append_rows(
        tables, "referrals", [row_of(tables, "referrals", 0), row_of(tables, "referrals", 0)]
    )
    append_rows(tables, "fee_earners", [row_of(tables, "fee_earners", 1)])
    problems = run(tmp_path, tables)
    assert keys(problems) == [
        ("fee_earners.parquet", "fee_earner_id", "F2", "F2"),
        ("referrals.parquet", "referral_id", "RF1", "RF1"),
    ]
    assert "2 times" in problems[0].message
    assert "3 times" in problems[1].message


# --- conditional rules ------------------------------------------------------------ #


def test_referrer_required_for_inbound_and_outbound(tmp_path, tables):
    set_cell(tables, "referrals", "referrer_id", 0, None)
    set_cell(tables, "referrals", "referrer_id", 1, None)
    problems = run(tmp_path, tables)
    assert keys(problems) == [
        ("referrals.parquet", "referrer_id", "RF1", None),
        ("referrals.parquet", "referrer_id", "RF2", None),
    ]
    assert "inbound" in problems[0].message and "outbound" in problems[1].message


def test_from_team_required_for_internal(tmp_path, tables):
    set_cell(tables, "referrals", "from_team", 2, None)
    assert keys(run(tmp_path, tables)) == [("referrals.parquet", "from_team", "RF3", None)]


def test_outbound_referral_status(tmp_path, tables):
    set_cell(tables, "referrals", "status", 1, "declined")
    problems = run(tmp_path, tables)
    assert keys(problems) == [("referrals.parquet", "status", "RF2", "declined")]
    assert "open or won" in problems[0].message


def test_matter_from_outbound_referral(tmp_path, tables):
    set_cell(tables, "matters", "referral_id", 2, "RF2")
    problems = run(tmp_path, tables)
    assert keys(problems) == [("matters.parquet", "referral_id", "M3", "RF2")]
    assert "outbound" in problems[0].message


# --- references -------------------------------------------------------------------- #


@pytest.mark.parametrize(
    "table, column, index, value, row, entity",
    [
        ("contacts", "referrer_id", 1, "R9", "C2", "referrer"),
        ("contact_moves", "to_referrer_id", 0, "R9", "row 1", "referrer"),
        ("relationships", "contact_id", 1, "C9", "row 2", "contact"),
        ("referrals", "contact_id", 1, "C9", "RF2", "contact"),
        ("activities", "fee_earner_id", 0, "F9", "A1", "fee earner"),
        ("fees", "matter_id", 2, "M9", "row 3", "matter"),
        ("matters", "referral_id", 2, "RF9", "M3", "referral"),
    ],
)
def test_dangling_reference(tmp_path, tables, table, column, index, value, row, entity):
    set_cell(tables, table, column, index, value)
    problems = run(tmp_path, tables)
    assert keys(problems) == [(f"{table}.parquet", column, row, value)]
    assert f"no {entity} with" in problems[0].message


def test_reference_into_duplicated_ids_is_fine(tmp_path, tables):
    append_rows(tables, "matters", [row_of(tables, "matters", 0)])
    assert keys(run(tmp_path, tables)) == [("matters.parquet", "matter_id", "M1", "M1")]


# --- capping ------------------------------------------------------------------------ #


def test_cap_on_many_rows_with_the_same_problem(tmp_path, tables):
    n = 120
    tables["fees"] = _table(
        {
            "matter_id": (S, [f"X{i}" for i in range(n)]),
            "billed_on": (DATE, [D(2024, 1, 1)] * n),
            "amount": (F64, [1.0] * n),
        }
    )
    problems = run(tmp_path, tables)
    assert keys(problems) == (
        [("fees.parquet", "matter_id", f"row {i + 1}", f"X{i}") for i in range(MAX_ROWS_PER_RULE)]
        + [("fees.parquet", "matter_id", None, None)]
    )
    assert (
        problems[-1].message == f"... and {n - MAX_ROWS_PER_RULE} more rows with the same problem"
    )


def test_cap_is_per_rule_and_column(tmp_path, tables):
    n = 60
    tables["relationships"] = _table(
        {
            "fee_earner_id": (S, ["F1"] * n),
            "contact_id": (S, [None] * n),
            "strength": (I32, [7] * n),
            "since_on": (DATE, [None] * n),
            "last_contact_on": (DATE, [None] * n),
        }
    )
    problems = run(tmp_path, tables)
    assert [p.column for p in problems] == ["contact_id"] * 51 + ["strength"] * 51
    assert [p.message for p in problems if p.row is None] == [
        "... and 10 more rows with the same problem"
    ] * 2


# --- everything at once -------------------------------------------------------------- #


def test_several_faults_at_once(tmp_path, tables):
    tables["contact_moves"] = tables["contact_moves"].drop_columns(["moved_on"])
    set_cell(tables, "referrers", "name", 0, None)
    set_cell(tables, "referrals", "status", 2, "Won")
    set_cell(tables, "referrals", "from_team", 2, None)
    set_cell(tables, "referrals", "fee_earner_id", 0, "F7")
    replace_column(tables, "fees", "billed_on", pa.array(["2024-02-28"] * 3))
    set_cell(tables, "fees", "matter_id", 0, "M404")
    append_rows(tables, "activities", [row_of(tables, "activities", 1)])
    set_cell(tables, "work_type_targets", "target_share", 4, 0.8)
    set_cell(tables, "matters", "referral_id", 2, "RF2")
    data = write(tmp_path / "data", tables)
    (data / "touchpoints.parquet").unlink()

    problems = check(data)
    assert keys(problems) == [
        ("referrers.parquet", "name", "R1", None),
        ("contact_moves.parquet", "moved_on", None, None),
        ("referrals.parquet", "from_team", "RF3", None),
        ("referrals.parquet", "status", "RF3", "Won"),
        ("referrals.parquet", "fee_earner_id", "RF1", "F7"),
        ("matters.parquet", "referral_id", "M3", "RF2"),
        ("fees.parquet", "billed_on", None, None),
        ("fees.parquet", "matter_id", "row 1", "M404"),
        ("activities.parquet", "activity_id", "A2", "A2"),
        ("touchpoints.parquet", None, None, None),
        ("work_type_targets.parquet", "target_share", "2025-01-01", "1.1"),
    ]
    # stable: the same again, and through a caller's connection
    con = duckdb.connect()
    assert check(data, con) == problems
    assert con.execute("SELECT 42").fetchone() == (42,)


# --- Problem ------------------------------------------------------------------------- #


def test_problem_str():
    assert (
        str(Problem("fees.parquet", None, None, None, "file is missing"))
        == "fees.parquet: file is missing"
    )
    assert str(
        Problem("fees.parquet", "amount", "row 3", None, "required value is missing (null)")
    ) == ("fees.parquet: column amount, row 3: required value is missing (null)")
    assert str(
        Problem(
            "referrals.parquet",
            "status",
            "RF000123",
            "pending",
            "not one of open, won, lost, declined",
        )
    ) == (
        "referrals.parquet: column status, row RF000123, value 'pending': not one of open, won, lost, declined"
    )


def test_the_verdict_is_remembered_per_version_of_the_data(tmp_path, monkeypatch):
    from dashboard import check as checking
    from tests.conftest import TINY
    from tests.fixtures import write_dataset

    data_dir = write_dataset(tmp_path / "extracts", TINY)
    rows = [dict(r) for r in TINY["fees"]]
    rows[0]["amount"] = None  # a required column left empty: one problem
    write_dataset(data_dir, {**TINY, "fees": rows})
    first = checking.check_remembered(data_dir)
    assert [(p.file, p.column) for p in first] == [("fees.parquet", "amount")]

    calls = []
    monkeypatch.setattr(checking, "check", lambda *a, **k: calls.append(a) or [])
    assert checking.check_remembered(data_dir) == first  # remembered: not checked again
    assert calls == []

    write_dataset(data_dir, TINY)  # the data changes: checked again, the old verdict goes
    assert checking.check_remembered(data_dir) == []
    assert len(calls) == 1
    verdicts = list(checking.cache_root(data_dir.resolve()).glob("check-*.json"))
    assert len(verdicts) == 1
