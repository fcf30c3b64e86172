"""`refport` as a user runs it: exit codes, messages, output shapes."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from dashboard.cli import main


def refport(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_query_json_follows_cli_md(capsys, tiny_dir):
    code, out, err = refport(capsys, "query", "scorecard", "--data", str(tiny_dir),
                             "--start", "2025-01-01", "--end", "2025-12-31", "--format", "json")
    assert code == 0, err
    rows = {r["referrer_id"]: r for r in json.loads(out)}
    r1 = rows["R1"]
    assert r1["last_referral_on"] == "2025-12-31"  # dates as YYYY-MM-DD
    assert r1["suggested_level"] == 4 and isinstance(r1["suggested_level"], int)
    assert r1["prune_candidate"] is False and rows["R4"]["prune_candidate"] is True
    assert rows["R5"]["suggested_level"] is None and rows["R5"]["conversion_rate"] is None
    assert r1["referred_fees"] == 4000.0


def test_query_default_window_and_one_row_queries(capsys, tiny_dir):
    code, out, _ = refport(capsys, "query", "concentration", "--data", str(tiny_dir), "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 1 and set(rows[0]) == {
        "referrers_with_fees", "total_referred_fees", "top3_share", "hhi", "gini", "referrers_for_80pct"}
    code, out, _ = refport(capsys, "query", "funnel", "--data", str(tiny_dir), "--format", "json",
                           "--end", "2025-12-31")
    assert [r["step"] for r in json.loads(out)] == ["received", "decided", "won", "billed"]
    assert json.loads(out)[0]["rate_from_previous"] is None


def test_query_filters_from_the_command_line(capsys, tiny_dir):
    code, out, _ = refport(capsys, "query", "funnel", "--data", str(tiny_dir), "--start", "2025-01-01",
                           "--end", "2025-12-31", "--team", "property", "--format", "json")
    assert code == 0
    assert [r["referrals"] for r in json.loads(out)] == [4, 4, 2, 1]


def test_csv_and_table_formats(capsys, tiny_dir):
    code, out, _ = refport(capsys, "query", "funnel", "--data", str(tiny_dir), "--format", "csv",
                           "--start", "2025-01-01", "--end", "2025-12-31")
    assert code == 0 and out.splitlines()[0] == "step,referrals,rate_from_previous"
    assert out.splitlines()[1] == "received,7,"
    code, out, _ = refport(capsys, "query", "scorecard", "--data", str(tiny_dir), "--end", "2025-12-31",
                           "--start", "2025-01-01")
    assert code == 0 and "Alpha LLP" in out and "4,000.00" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["query", "nonsense"], "unknown query 'nonsense'"),
        (["query", "funnel", "--start", "2025-13-01"], "bad --start '2025-13-01'"),
        (["query", "funnel", "--start", "2025-06-01", "--end", "2025-01-01"], "after its end"),
        (["query", "funnel", "--param", "x=1"], "unknown parameter 'x' for query funnel"),
        (["query", "funnel", "--param", "noequals"], "expected key=value"),
        (["query", "funnel", "--format", "xml"], "invalid choice"),
        (["query", "funnel", "--data", "/no/such/dir"], "does not exist"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2_with_one_line(capsys, tiny_dir, args, message):
    if "--data" not in args and args[0] == "query":
        args = [*args, "--data", str(tiny_dir)]
    code, _out, err = refport(capsys, *args)
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_queries_lists_names_with_parameters(capsys):
    code, out, _ = refport(capsys, "queries")
    assert code == 0
    for name in ("scorecard", "concentration", "funnel", "headline"):
        assert f"\n{name} " in "\n" + out


def test_check_exit_codes(capsys, tiny_dir, tmp_path):
    code, out, _ = refport(capsys, "check", "--data", str(tiny_dir))
    assert code == 0 and "follow the data contract" in out
    broken = tmp_path / "broken"
    broken.mkdir()
    for file in tiny_dir.glob("*.parquet"):
        if file.name != "fees.parquet":
            (broken / file.name).write_bytes(file.read_bytes())
    code, out, err = refport(capsys, "check", "--data", str(broken))
    assert code == 1
    assert "fees.parquet" in out and "1 problem(s)" in err


def test_query_on_broken_data_exits_1_with_the_report(capsys, tmp_path, tiny_dir):
    for file in tiny_dir.glob("*.parquet"):
        if file.name != "matters.parquet":
            (tmp_path / file.name).write_bytes(file.read_bytes())
    code, out, err = refport(capsys, "query", "funnel", "--data", str(tmp_path))
    assert code == 1 and "matters.parquet" in err and out == ""


def test_console_script_runs_without_traceback(tiny_dir):
    done = subprocess.run([sys.executable, "-m", "dashboard.cli", "query", "nope", "--data", str(tiny_dir)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and done.stderr.startswith("refport: unknown query")


def test_a_long_query_result_says_how_many_rows_are_written(capsys):
    from dashboard.cli import _progress

    frames = [pd.DataFrame({"x": range(n)}) for n in (4, 4, 4, 1)]
    assert [len(f) for f in _progress(iter(frames), every=5)] == [4, 4, 4, 1]
    assert capsys.readouterr().err.splitlines() == [
        "refport: 8 rows written", "refport: 12 rows written", "refport: 13 rows in all"]
    assert [len(f) for f in _progress(iter(frames[:1]), every=5)] == [4]
    assert capsys.readouterr().err == ""  # a short result is written without a word
    assert [len(f) for f in _progress(iter(frames[:3]), every=6)] == [4, 4, 4]
    assert capsys.readouterr().err.splitlines() == ["refport: 8 rows written", "refport: 12 rows written"]


def test_a_reader_that_stops_early_gets_no_traceback(sample_dir):
    """`refport query ... | head -1`: the CSV of the journeys (far more than a pipe holds) meets a
    closed pipe; refport stops quietly with the status a shell gives a command SIGPIPE stopped."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard.cli", "query", "journey_touches", "--data", str(sample_dir),
         "--format", "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline().startswith(b"matter_id,client_id,")
    process.stdout.close()
    assert process.wait(timeout=120) == 141
    err = process.stderr.read().decode()  # the facts' progress, if this run built them
    assert "Traceback" not in err and "Broken pipe" not in err and "Error" not in err
