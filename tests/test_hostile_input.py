"""Hostile input against the query engine, the named queries and the command line (issue 11).

Every filter and every text parameter of every named query is given quotes, `'; drop table`,
`read_csv('/etc/passwd')`, bind names, `..` paths, 100,000-character strings, right-to-left marks,
NUL bytes and the like. The promise: a value is only ever data. It filters exactly as an unknown
plain value does, a parameter that must be a number or a choice refuses it with a QueryError, the
command line answers with exit 2 and one line, the Parquet files are never changed, and the engine
cannot read, write or attach anything outside the data directory whatever SQL reaches it.

The app side (URL parameters, text fields, friendly errors, Streamlit settings) is in
tests/test_hostile_app.py.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dashboard import registry
from dashboard.check import check
from dashboard.cli import main
from dashboard.data import PROJECT_ROOT, open_dataset
from dashboard.store import open_store
from dashboard.window import FIRST_DAY, LAST_DAY, Filters, Window, WindowError, parse_date
from tests.conftest import TINY, WINDOW
from tests.fixtures import write_dataset

LONG = "x" * 100_000
CANARY = "canary-7f3a9c"  # the content of a file outside the data directory: must never show up

# name -> value; the data directory's own path is added by `hostile()` (a `..` escape from it)
HOSTILE = {
    "single quote": "'",
    "double quote": '"',
    "drop table": "'; drop table referrals; --",
    "or 1=1": "' or 1=1 --",
    "read_csv": "read_csv('/etc/passwd')",
    "bind name": "$start",
    "positional bind": "?",
    "dot-dot": "../../etc/passwd",
    "backslash dot-dot": "..\\..\\",
    "long": LONG,
    "right-to-left": "\u202eevil\u202c\u200f",
    "emoji": "😀👩‍💻",
    "NUL": "a\x00b",
    "combining": "e\u0301\u0336",
    "block comment": "/* c */ x",
    "line comment": "-- c",
    "percent-s": "%s",
    "format": "{0} {name}",
    "newline": "a\nb\r\nc",
    "script": "<script>alert(1)</script>",
    "like wildcard": "%",
    "markdown link": "[click](https://evil.example)",
}
UNKNOWN = "no such value"
FILTER_DIMS = Filters.names()


def _snapshot(directory: Path) -> dict[str, tuple[int, int, str]]:
    """Every file in the data directory: size, modification time and content hash."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The TINY data in a directory of its own, a canary file beside it, and hostile values that
    include a `..` escape from the data directory to the canary."""
    root = tmp_path_factory.mktemp("hostile")
    data = write_dataset(root / "data", TINY)
    outside = root / "outside"
    outside.mkdir()
    (outside / "canary.csv").write_text(f"secret\n{CANARY}\n")
    values = dict(HOSTILE)
    values["escape to canary"] = f"{data}/../outside/canary.csv"
    values["read canary"] = f"read_csv('{outside / 'canary.csv'}')"
    dataset = open_dataset(data)
    counts = registry.run("table_counts", dataset, WINDOW)
    yield {"data": data, "dataset": dataset, "values": values, "snapshot": _snapshot(data), "counts": counts}
    dataset.connection.close()


@pytest.fixture(autouse=True)
def nothing_changed(request):
    """After every test here that uses the data: same files, same bytes, same row counts."""
    yield
    if "world" in request.fixturenames:
        world = request.getfixturevalue("world")
        assert _snapshot(world["data"]) == world["snapshot"], "a data file was changed or added"
        counts = registry.run("table_counts", world["dataset"], WINDOW)
        pd.testing.assert_frame_equal(counts, world["counts"])


def _run(world, name, filters=None, params=None, window=WINDOW) -> pd.DataFrame:
    frame = registry.run(name, world["dataset"], window, filters, params)
    assert CANARY not in frame.to_csv(), f"{name} returned the content of a file outside the data directory"
    return frame


def _same(left: pd.DataFrame, right: pd.DataFrame, what: str) -> None:
    pd.testing.assert_frame_equal(left.reset_index(drop=True), right.reset_index(drop=True), obj=what)


def _real_options(world) -> dict[str, tuple[str, ...]]:
    frame = registry.run_sql(world["dataset"], "filter_options", {})
    return {dim: tuple(sorted(frame.loc[frame["dimension"] == dim, "value"])) for dim in FILTER_DIMS}


QUERY_NAMES = sorted(registry.queries())
TEXT_PARAMS = sorted((q.name, p.name) for q in registry.queries().values() for p in q.params if p.type == "str")
# what a text parameter needs beside it to be used at all (kpi_measures reads scope_value for a scope)
CONTEXT = {"kpi_measures": {"scope": "referrer"}}
# kpi_measures takes a quarter of a second a run: it gets the values most likely to break SQL
SLOW = {"kpi_measures"}
CORE = ("single quote", "drop table", "read_csv", "bind name", "positional bind", "long", "NUL", "like wildcard",
        "block comment", "escape to canary", "read canary")


# --- every named query, through registry.run ---------------------------------------------------------


@pytest.mark.parametrize("name", QUERY_NAMES)
def test_hostile_filter_values_filter_like_any_unknown_value(world, name):
    """Every hostile value in all five filter lists at once, beside the data's real values, keeps exactly
    what the real values keep: each hostile value matched nothing, as an unknown value would, and
    changed no query's text."""
    hostile = tuple(world["values"].values())
    real = _real_options(world)
    _same(_run(world, name, Filters(**{d: hostile + real[d] for d in FILTER_DIMS})),
          _run(world, name, Filters(**{d: real[d] for d in FILTER_DIMS})), f"{name}: hostile + real filters")


def test_hostile_filter_values_alone_keep_nothing(world):
    hostile = Filters(**{d: tuple(world["values"].values()) for d in FILTER_DIMS})
    unknown = Filters(**{d: (UNKNOWN,) for d in FILTER_DIMS})
    for name in ("scorecard", "funnel", "referred_fees", "drift", "tiering", "headline"):
        _same(_run(world, name, hostile), _run(world, name, unknown), f"{name}: hostile filters")


@pytest.mark.parametrize(("name", "param"), TEXT_PARAMS, ids=[f"{q}-{p}" for q, p in TEXT_PARAMS])
def test_hostile_text_parameters_match_like_any_unknown_value(world, name, param):
    """A text parameter (a referrer id, a KPI id, a channel) holding hostile text finds what an unknown id
    finds: no parser or binder error, no LIKE-wildcard or comment effect, no file read."""
    context = CONTEXT.get(name, {})
    expected = _run(world, name, params={**context, param: UNKNOWN})
    for label, value in world["values"].items():
        if name in SLOW and label not in CORE:
            continue
        _same(_run(world, name, params={**context, param: value}), expected, f"{name} {param}={label}")


def test_choice_parameters_refuse_hostile_values(world):
    choices = [(q.name, p) for q in registry.queries().values() for p in q.params if p.choices]
    assert choices, "no query has a choice parameter any more"
    for name, param in choices:
        for value in world["values"].values():
            with pytest.raises(registry.QueryError, match=f"parameter {param.name} of {name} must be one of"):
                _run(world, name, params={param.name: value})


def test_number_parameters_refuse_text_and_sizes_the_engine_cannot_take(world):
    numbers = [(q.name, p) for q in registry.queries().values() for p in q.params if p.type in ("int", "float")]
    for name, param in numbers:
        for value in world["values"].values():
            with pytest.raises(registry.QueryError, match=f"parameter {param.name} of {name} must be"):
                _run(world, name, params={param.name: value})
    limit = registry.INT_PARAM_LIMIT
    for name, param in numbers:
        if param.type != "int":
            continue
        # before the limit existed, 99999999999999999999999 days/months/rows was a DuckDB binder error
        # and 2147483648 an out-of-range error
        for too_big in (limit + 1, -limit - 1, 2**31, 2**63, 10**23):
            with pytest.raises(registry.QueryError, match="must be between"):
                _run(world, name, params={param.name: too_big})
        for edge in (limit, -limit, 0):  # within the limit: a result or the query's own QueryError
            try:
                _run(world, name, params={param.name: edge})
            except registry.QueryError:
                pass


def test_unknown_query_and_parameter_names_are_query_errors(world):
    for value in world["values"].values():
        with pytest.raises(registry.QueryError, match="unknown query"):
            _run(world, value)
        with pytest.raises(registry.QueryError, match="unknown parameter"):
            _run(world, "funnel", params={value: "1"})


@pytest.mark.parametrize("text", [*HOSTILE.values(), "0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01",
                                  "2025-02-30", "2025-1-1x"])
def test_hostile_dates_are_window_errors(text):
    with pytest.raises(WindowError, match="bad --start"):
        parse_date(text, "--start")


def test_every_query_runs_at_the_edges_of_the_calendar_a_user_may_ask_for(world):
    """Before FIRST_DAY/LAST_DAY, `--start 0001-01-01` made concentration_trend and service_levels fail
    with "year 0 is out of range"."""
    assert parse_date(str(FIRST_DAY)) == FIRST_DAY and parse_date(str(LAST_DAY)) == LAST_DAY
    for window in (Window(FIRST_DAY, LAST_DAY),):
        for name in QUERY_NAMES:
            try:
                _run(world, name, window=window)
            except registry.QueryError:
                pass  # a query's own refusal (e.g. no dated rows) is a clean message


# --- the engine itself: whatever SQL reaches it --------------------------------------------------------

REFUSED_READS = [
    "select * from read_csv('/etc/passwd')",
    "select * from read_csv_auto('/etc/passwd')",
    "select * from read_text('/etc/passwd')",
    "select * from read_blob('/etc/passwd')",
    "select * from read_json('/etc/passwd')",
    "select * from sniff_csv('/etc/passwd')",
    "select * from parquet_metadata('/etc/passwd')",
    "select * from glob('/etc/*')",
    "select * from read_csv('file:///etc/passwd')",
    "select * from read_csv('https://example.com/data.csv')",
    "select * from read_csv('{data}/../outside/canary.csv')",
    "select * from read_parquet('{data}/../outside/canary.csv')",
    "select * from read_csv('{data}/link/canary.csv')",  # a symbolic link in the data directory
    "copy (select 1) to '{root}/outside/written.csv'",
    "copy referrals to '/tmp/refport-hostile-copy.parquet'",
    "export database '{root}/outside/db'",
    "attach '{root}/outside/other.duckdb' as other",
    "install httpfs",
    "load httpfs",
    "install json",
]
REFUSED_SETTINGS = [
    "set enable_external_access = true",
    "set lock_configuration = false",
    "set allowed_directories = ['/']",
    "set allowed_paths = ['/etc/passwd']",
    "reset enable_external_access",
    "set autoinstall_known_extensions = true",
    "set autoload_known_extensions = true",
    "set allow_community_extensions = true",
    "set temp_directory = '/tmp'",
    "set threads = 64",
    "pragma enable_profiling",
]


@pytest.fixture()
def engine(world):
    """A fresh connection on the module's data, with a symbolic link from the data directory to the
    folder outside it (removed again, so the data directory is as it was)."""
    data = world["data"]
    link = data / "link"
    link.symlink_to(data.parent / "outside", target_is_directory=True)
    dataset = open_dataset(data)
    try:
        yield dataset, data
    finally:
        dataset.connection.close()
        link.unlink()


def test_the_engine_reads_writes_attaches_and_installs_nothing_outside_the_data_directory(engine):
    dataset, data = engine
    for sql in REFUSED_READS:
        cursor = dataset.cursor()
        with pytest.raises(duckdb.PermissionException):
            cursor.sql(sql.format(data=data, root=data.parent)).fetchall()
        cursor.close()
    # a bare file name is not even looked up as a file (no replacement scan outside the data directory)
    with pytest.raises((duckdb.PermissionException, duckdb.CatalogException)):
        dataset.cursor().sql("select * from '/etc/passwd'").fetchall()
    assert not (data.parent / "outside" / "written.csv").exists()
    assert not Path("/tmp/refport-hostile-copy.parquet").exists()
    assert not (data.parent / "outside" / "other.duckdb").exists()


def test_the_engine_configuration_cannot_be_changed(engine):
    dataset, _ = engine
    for sql in REFUSED_SETTINGS:
        cursor = dataset.cursor()
        with pytest.raises(duckdb.InvalidInputException, match="configuration has been locked"):
            cursor.sql(sql)
        cursor.close()
    settings = dict(dataset.cursor().sql(
        "select name, value from duckdb_settings() where name in ('enable_external_access', "
        "'lock_configuration', 'autoinstall_known_extensions', 'autoload_known_extensions', "
        "'parquet_metadata_cache')").fetchall())
    assert settings == {"enable_external_access": "false", "lock_configuration": "true",
                        "autoinstall_known_extensions": "false", "autoload_known_extensions": "false",
                        "parquet_metadata_cache": "true"}
    # and it still reads its own data
    assert dataset.cursor().sql("select count(*) from referrals").fetchall() == [(len(TINY["referrals"]),)]


def test_a_data_directory_whose_path_looks_like_sql_opens_as_any_other(tmp_path, capsys):
    """data.py and facts.py put the data files' paths into `read_parquet('...')` as quoted literals (the
    one place a text reaches SQL other than as a bind): a path full of quotes is still just a path."""
    odd = write_dataset(tmp_path / "it's'); drop table referrals; --", TINY)
    plain = write_dataset(tmp_path / "plain", TINY)
    assert check(odd) == []
    odd_set, plain_set = open_dataset(odd), open_dataset(plain)
    try:
        for name in ("scorecard", "funnel", "table_counts", "headline"):
            _same(registry.run(name, odd_set, WINDOW), registry.run(name, plain_set, WINDOW), name)
    finally:
        odd_set.connection.close()
        plain_set.connection.close()
    assert main(["query", "funnel", "--data", str(odd), "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["step"] == "received"


# --- static: no value is formatted into SQL ------------------------------------------------------------

_SQL_TEXT = re.compile(
    r"\bselect\b[\s\S]*\bfrom\b|\bcreate\s+(or\s+replace\s+)?(temp\s+)?(view|table|trigger|macro|function|index)\b"
    r"|\binsert\s+into\b|\bdelete\s+from\b|\bupdate\s+\w+\s+set\b|\bdrop\s+(trigger|view|table|index)\b"
    r"|\bcopy\s*\(|\bcopy\s+\w+\s+(to|from)\b|\battach\s|\bpragma\s|\bdescribe\s+select\b|^\s*set\s+\w+\s*="
    r"|\bread_\w+\s*\(|\bexecute\s*\(",
    re.IGNORECASE)

# Where SQL is built by formatting, what may go into it, and why that is safe. Anything else fails.
_SAFE_CALLS = re.compile(r"^(facts\.)?(quote|fact_sql)\(|^_quote_path\(|^_str_literal\(|^_ident\(")
ALLOWED_HOLES = {
    # A contract or fact table name (TABLE_NAMES / FACT_NAMES, constants), a data file's path as a quoted
    # literal (facts.quote doubles every quote; the path is the data directory's, typed by whoever started
    # the app, and the connection is locked to that directory anyway), the project's own queries/_facts SQL
    # and a constant row-group size. DuckDB cannot bind a table function's file name, so this is the one way.
    "dashboard/data.py": {"name"},
    "dashboard/facts.py": {"name", "row_group_size"},
    # The contract check builds its SQL from the data contract's own table and column names (quoted by
    # _ident), the data files' paths (quoted by _str_literal) and fragments made of those; every value it
    # compares with (enumerations, ranges, limits) is bound with `?`.
    "dashboard/check.py": {"inner_sql", "path", "alias", "exprs", "share", "c", "label", "cond", "src", "marks",
                           "finite", "state.source()", "matters.source()", "matters.row_label()",
                           "referrals.source('g')", "target.source('g')"},
    # Alembic revisions: constant table names of the store's own schema.
    "dashboard/migrations/__init__.py": {"table", "action"},
    # A constant number of milliseconds.
    "dashboard/store.py": {"BUSY_TIMEOUT_MS"},
}


def _formatted_sql_sites():
    """(file, line, [expressions formatted into it]) for every f-string, `%` or `.format` that builds SQL."""
    for path in sorted((PROJECT_ROOT / "dashboard").rglob("*.py")):
        rel = path.relative_to(PROJECT_ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text, holes = None, []
            if isinstance(node, ast.JoinedStr):
                text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
                holes = [ast.unparse(v.value) for v in node.values if isinstance(v, ast.FormattedValue)]
            elif (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod)
                  and isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)):
                text, holes = node.left.value, [ast.unparse(node.right)]
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"
                  and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str)):
                text = node.func.value.value
                holes = [ast.unparse(a) for a in node.args] + [ast.unparse(k.value) for k in node.keywords]
            if text and holes and _SQL_TEXT.search(text):
                yield rel, node.lineno, holes


def test_no_python_source_formats_a_value_into_sql():
    sites = list(_formatted_sql_sites())
    assert any(f == "dashboard/data.py" for f, _, _ in sites), "the scan no longer finds data.py's view creation"
    bad = [(f"{file}:{line}", hole) for file, line, holes in sites for hole in holes
           if not _SAFE_CALLS.match(hole) and hole not in ALLOWED_HOLES.get(file, set())]
    assert not bad, ("SQL built by formatting something that is not a quoted path, a contract name or a "
                     f"constant (bind it with $name instead, or justify it in ALLOWED_HOLES): {bad}")


def test_no_python_source_executes_sql_it_did_not_write():
    """`execute(`/`.sql(` take a literal, a name or an f-string checked above: never `+` of texts or a
    `.format()` result built elsewhere."""
    bad = []
    for path in sorted((PROJECT_ROOT / "dashboard").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("execute", "sql", "executemany") and node.args):
                first = node.args[0]
                if isinstance(first, ast.BinOp) or (isinstance(first, ast.Call) and isinstance(first.func, ast.Attribute)
                                                    and first.func.attr == "format"):
                    bad.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    assert not bad, f"SQL assembled with + or .format() at the call: {bad}"


def _sql_without_comments(path: Path) -> str:
    return "\n".join(line.split("--", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())


QUERY_FILES = sorted(p for p in (PROJECT_ROOT / "queries").glob("*/*.sql"))
_FILE_ACCESS = re.compile(r"\bread_\w+\s*\(|\bglob\s*\(|\bcopy\b|\battach\b|\binstall\b|\bload\b|\bexport\b"
                          r"|\bgetenv\b|\bcurrent_setting\b|\bset\s+\w+\s*=|\bpragma\b", re.IGNORECASE)


def test_every_sql_file_uses_only_named_binds_and_reads_no_file():
    connection = duckdb.connect()
    assert len(QUERY_FILES) > 40
    for path in QUERY_FILES:
        sql = _sql_without_comments(path)
        where = path.relative_to(PROJECT_ROOT)
        assert not re.search(r"\?|%s|%\(|\{\w*\}", sql), f"{where}: a placeholder other than $name"
        assert not _FILE_ACCESS.search(sql), f"{where}: reads files or changes settings"
        statements = connection.extract_statements(path.read_text(encoding="utf-8"))
        if path.parent.name == "_shared":  # the filter macros: nothing but macro definitions
            assert statements and all(s.type == duckdb.StatementType.CREATE for s in statements), where
            assert len(re.findall(r"\bcreate\s+(?:or\s+replace\s+)?macro\b", sql, re.IGNORECASE)) == len(statements)
        else:  # a named query or a fact: one select
            assert [s.type for s in statements] == [duckdb.StatementType.SELECT], where
    connection.close()


def test_named_queries_bind_only_the_window_the_filters_and_their_declared_parameters():
    for name, query in registry.queries().items():
        if query.function is not None:
            continue
        declared = {p.name for p in query.params} | set(registry.WINDOW_PARAMS) | set(FILTER_DIMS)
        used = set(re.findall(r"\$(\w+)", _sql_without_comments(query.path)))
        assert used <= declared, f"{name} binds undeclared {sorted(used - declared)}"
    for path in (PROJECT_ROOT / "queries" / "_facts").glob("*.sql"):
        assert "$" not in _sql_without_comments(path), f"{path.name}: facts take no parameters"


# --- the command line ------------------------------------------------------------------------------------

CLI_VALUES = {k: v for k, v in HOSTILE.items() if k != "NUL"}  # argv cannot hold a NUL (tested apart)


@pytest.fixture()
def sandbox(tmp_path, monkeypatch):
    """Run from four folders deep in a temporary folder, so `../../etc/passwd` stays inside it."""
    cwd = tmp_path / "a" / "b" / "c" / "d"
    cwd.mkdir(parents=True)
    monkeypatch.chdir(cwd)
    return tmp_path


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def refport(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_usage_error(code, err, *secrets):
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("refport: ")
    assert not any(ch in err.strip() for ch in "\x00\r\u202e\u202c\u200f"), "control characters echoed raw"
    assert len(err) < 2_500, "a 100,000-character argument echoed whole"
    for secret in secrets:
        assert secret not in err


def test_cli_text_parameters_and_filters_are_data(capsys, world, sandbox):
    data = world["data"]
    before = _files(sandbox)
    # filters and a referrer id are data: an empty result and exit 0 (`--opt=value`: some values start with -)
    teams = [f"--team={value}" for value in CLI_VALUES.values()]
    for value in (CLI_VALUES["drop table"], CLI_VALUES["read_csv"], CLI_VALUES["like wildcard"], LONG):
        code, out, err = refport(capsys, "query", "referrer_referrals", f"--data={data}", f"--param=referrer={value}",
                                 *teams, f"--region={value}", "--format=json")
        assert code == 0, err
        assert json.loads(out) == [] and CANARY not in out
    # choices, numbers, names, dates: exit 2 with one line, before any data is read
    for value in CLI_VALUES.values():
        for args in (["query", "drift", f"--param=basis={value}"],
                     ["query", "stale_relationships", f"--param=months={value}"],
                     ["query", "funnel", f"--param={value}=1"],
                     ["query", "--", value],
                     ["query", "funnel", f"--start={value}"],
                     ["query", "funnel", f"--end={value}"]):
            code, out, err = refport(capsys, args[0], f"--data={data}", *args[1:])
            assert_usage_error(code, err)
    for value in (CLI_VALUES["drop table"], CLI_VALUES["newline"], LONG):
        for args in (["report", "--out=pack.pdf", f"--start={value}"], ["report", "--out=pack.pdf", f"--model={value}"]):
            code, out, err = refport(capsys, args[0], f"--data={data}", *args[1:])
            assert_usage_error(code, err)
    assert _files(sandbox) == before, "the command line wrote something"


@pytest.mark.parametrize("option", ["--data", "--state"])
def test_cli_paths_that_no_file_system_accepts_are_usage_errors(capsys, world, sandbox, option):
    for value in ("a\x00b", LONG, "../" * 2000 + "x"):
        args = ["query", "funnel", "--data", world["data"], option, value]
        if option == "--data":
            args = ["query", "funnel", "--data", value]
        code, _, err = refport(capsys, *args)
        assert_usage_error(code, err)


def test_cli_data_that_is_not_a_data_directory(capsys, sandbox):
    (sandbox / "a" / "etc").mkdir()
    (sandbox / "a" / "etc" / "passwd").write_text("root:x:0:0\n")
    for data in ("../../../etc", "../../../etc/passwd", "..\\..\\", "/etc", "/* c */"):
        for command in (["query", "funnel"], ["report", "--out", "pack.html"],
                        ["assign", "R1", "2", "--by", "me", "--reason", "r"]):
            code, _, err = refport(capsys, *command, "--data", data)
            assert_usage_error(code, err)
            assert "root:x" not in err
    assert _files(sandbox) == {"a", "a/b", "a/b/c", "a/b/c/d", "a/etc", "a/etc/passwd"}


def test_cli_state_urls_are_checked_and_their_passwords_never_printed(capsys, world, sandbox):
    for url in ("nonsense://user:s3cret@host/db", "postgresql+nosuchdriver://user:s3cret@host/db",
                "mysql+nosuchdriver://user:s3cret@127.0.0.1:1/db?password=s3cret", "://s3cret"):
        for command in (["query", "funnel"], ["assign", "R1", "2", "--by", "me", "--reason", "r"]):
            code, out, err = refport(capsys, *command, "--data", world["data"], "--state", url)
            assert code in (1, 2), err
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
            assert "s3cret" not in out + err
    # a file that is not a store: exit 1 with one line, as `assign` already did
    (sandbox / "not-a-store.db").write_text("hello")
    code, _, err = refport(capsys, "query", "tier_assignments", "--data", world["data"],
                           "--state", sandbox / "not-a-store.db")
    assert code == 1 and "not a usable refport state store" in err and len(err.strip().splitlines()) == 1


def test_cli_report_out_goes_where_asked_and_nowhere_else(capsys, world, sandbox):
    data = world["data"]
    (sandbox / "a" / "folder").mkdir()
    for out in ("", ".", "..", "../../../folder", "../../../folder/", "x/", "../../" + "y" * 300 + ".pdf", "p\x00.pdf",
                "pack.exe"):
        code, _, err = refport(capsys, "report", "--data", data, f"--out={out}")
        assert_usage_error(code, err)
    assert _files(sandbox) == {"a", "a/b", "a/b/c", "a/b/c/d", "a/folder"}
    # `..` is a path like any other: the pack goes exactly there, and nothing else is written
    code, out, err = refport(capsys, "report", "--data", data, "--out", "../../etc/passwd.html", "--quiet")
    assert code == 0, err
    assert _files(sandbox) == {"a", "a/b", "a/b/c", "a/b/c/d", "a/folder", "a/b/etc", "a/b/etc/passwd.html"}
    assert (sandbox / "a" / "b" / "etc" / "passwd.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_cli_import_refuses_odd_sources_tables_and_outs(capsys, sandbox):
    source = sandbox / "a" / "referrers.csv"
    source.write_text("Referrer ID,Name,Type,Region\nR1,Alpha LLP,law firm,London\n", encoding="utf-8")
    (sandbox / "a" / "file").write_text("not a folder")
    cases = [["--table=referrers", "--out=out", "--", value] for value in ("a\x00b.csv", LONG, "../../etc/passwd",
                                                                          "'; drop table x; --.csv")]
    cases += [[f"--table={value}", "--out=out", source] for value in CLI_VALUES.values()]
    cases += [["--table=referrers", f"--out={value}", source] for value in ("a\x00b", LONG, "../../../file")]
    for args in cases:
        code, out, err = refport(capsys, "import", *args)
        assert code == 2, (args[:3], out)
        assert_usage_error(code, err)
    assert _files(sandbox) == {"a", "a/b", "a/b/c", "a/b/c/d", "a/referrers.csv", "a/file"}


def test_cli_assign_keeps_hostile_text_verbatim_and_refuses_hostile_ids(capsys, world, sandbox):
    state = sandbox / "state.db"
    reason = "".join(v for k, v in HOSTILE.items() if k not in ("long", "NUL")) + " " + LONG
    by = "Ann '; drop table tier_assignment_history; -- <script>😀\u202e"
    code, _, err = refport(capsys, "assign", "R1", "2", "--by", by, "--reason", reason,
                             "--data", world["data"], "--state", state)
    assert code == 0, err
    history = open_store(f"sqlite:///{state}").history("R1")
    assert history[["changed_by", "reason", "level"]].values.tolist() == [[by.strip(), reason.strip(), 2]]
    for value in CLI_VALUES.values():  # a level that is no level: refused before the data is read
        code, _, err = refport(capsys, "assign", "--by=me", "--reason=r", f"--data={world['data']}",
                               f"--state={state}", "--", "R2", value)
        assert_usage_error(code, err)
    for value in (CLI_VALUES["drop table"], CLI_VALUES["right-to-left"]):
        code, _, err = refport(capsys, "assign", "--by=me", "--reason=r", f"--data={world['data']}",
                               f"--state={state}", "--", value, "2")
        assert_usage_error(code, err)
        assert "unknown referrer" in err
    code, _, err = refport(capsys, "assign", "R2", "2", "--by", LONG, "--reason", "r", "--data", world["data"],
                           "--state", state)
    assert_usage_error(code, err)
    assert "at most 200" in err
    assert len(open_store(f"sqlite:///{state}").history()) == 1


def test_cli_in_a_real_process_prints_one_line_and_no_traceback(world, sandbox):
    done = subprocess.run(  # noqa: PLW1510 (the exit code is the point)
        [sys.executable, "-m", "dashboard.cli", "query", "'; drop table referrals; --\n\u202eevil", "--data",
         str(world["data"])], capture_output=True, text=True, cwd=sandbox / "a" / "b" / "c" / "d",
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"}, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("refport: unknown query") and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr and "\u202e" not in done.stderr


def test_cli_window_at_the_calendar_edges(capsys, world, sandbox):
    """`--start 0001-01-01` used to end in a ValueError traceback from concentration_trend."""
    code, _, err = refport(capsys, "query", "concentration_trend", "--data", world["data"], "--start", "0001-01-01")
    assert_usage_error(code, err)
    assert f"give a date from {FIRST_DAY} to {LAST_DAY}" in err
    code, _, err = refport(capsys, "query", "concentration_trend", "--data", world["data"],
                             "--start", str(FIRST_DAY), "--end", str(date(2025, 12, 31)), "--format", "json")
    assert code == 0, err
