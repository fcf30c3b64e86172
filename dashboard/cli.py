"""`refport`: the command line (shared/spec/cli.md). Thin: parse, call, print."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from dashboard import __version__

if TYPE_CHECKING:
    import pandas as pd

EXIT_PROBLEMS = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # as a shell reports a command that SIGPIPE stopped (128 + 13)


class UsageError(Exception):
    """Bad names, dates or parameters: one line on stderr, exit 2."""


class DataProblems(Exception):
    """The data fails the contract check: the report goes to stderr, exit 1."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, as for every usage error
        raise UsageError(f"{self.prog}: {message}")


def _add_data(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", metavar="DIR", help="data directory (default: data/sample)")


def _add_state(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", metavar="PATH",
                        help="where edits are kept: a file or an SQLAlchemy URL (default: "
                             "<data dir>.refport-state.db beside the data directory, or $REFPORT_STATE)")


def _parse_params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"bad --param {pair!r}: expected key=value")
        params[key.strip()] = value.strip()
    return params


# Paths and URLs typed by the user (option -> how a message names it), checked before use.
_PATH_OPTIONS = {"data": "--data", "state": "--state", "out": "--out", "source": "SOURCE", "mapping": "--mapping"}
NAME_MAX, PATH_MAX = 255, 4096  # bytes, as Linux and macOS file systems allow


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse a path no file system accepts (a NUL byte, a name over 255 bytes) and a --state URL
    that cannot work, with one line, before anything is read or written."""
    for attr, option in _PATH_OPTIONS.items():
        value = getattr(args, attr, None)
        if not isinstance(value, str):
            continue
        if "\0" in value:
            raise UsageError(f"{option} contains a NUL character, which no path can hold")
        if attr == "state" and "://" in value:
            _check_state_url(value)
            continue
        if len(value.encode("utf-8", "surrogateescape")) > PATH_MAX or any(
                len(part.encode("utf-8", "surrogateescape")) > NAME_MAX for part in Path(value).parts):
            raise UsageError(f"{option} is too long for a path (at most {NAME_MAX} bytes a name, "
                             f"{PATH_MAX} in all)")


def _check_state_url(url: str) -> None:
    """A --state URL SQLAlchemy can parse, for a database whose driver is installed (password hidden)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise UsageError("--state is not a database URL SQLAlchemy can read "
                         "(e.g. postgresql+psycopg://user@host/refport)") from None
    from dashboard.store import shown_url

    shown = shown_url(parsed)
    try:
        parsed.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise UsageError(f"--state {shown}: unknown database type {parsed.drivername!r}") from None
    except ImportError as error:
        raise UsageError(f"--state {shown}: its database driver is not installed ({error.name})") from None


def _open_checked(data: str | None):
    """Open a data directory, refusing one the contract check finds broken."""
    from dashboard.check import check_remembered
    from dashboard.contract import TABLES
    from dashboard.data import open_dataset, resolve_data_dir

    path = resolve_data_dir(data)
    if not path.is_dir():
        raise UsageError(f"data directory {path} does not exist")
    if not any((path / table.file_name).exists() for table in TABLES.values()):
        raise UsageError(f"{path} is not a refport data directory: it holds none of the contract's "
                         "files (referrals.parquet, fees.parquet, ...)")
    problems = check_remembered(path)  # checked once per version of the data, then remembered
    if problems:
        lines = "\n".join(str(p) for p in problems[:20])
        more = f"\n... {len(problems) - 20} more" if len(problems) > 20 else ""
        raise DataProblems(f"{path}: the data fails the contract check "
                           f"(`refport check` lists every problem):\n{lines}{more}")
    return open_dataset(path, progress=lambda message: print(message, file=sys.stderr, flush=True))


def cmd_run(args: argparse.Namespace) -> int:
    from dashboard.data import PROJECT_ROOT, resolve_data_dir

    env = dict(os.environ, REFPORT_DATA=str(resolve_data_dir(args.data)))
    if args.state:
        # a path is made absolute: the server runs from the project folder
        env["REFPORT_STATE"] = args.state if "://" in args.state else str(Path(args.state).resolve())
    command = [
        sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "dashboard" / "app.py"),
        "--server.port", str(args.port),
        "--browser.gatherUsageStats", "false",
    ]
    if args.headless:
        command += ["--server.headless", "true"]
    # from the project folder, so .streamlit/config.toml (the theme) applies wherever refport is run
    return subprocess.call(command, env=env, cwd=PROJECT_ROOT)


def cmd_sample(args: argparse.Namespace) -> int:
    from dashboard.sample import SIZES, generate

    if args.size not in SIZES:
        raise UsageError(f"unknown size {args.size!r}: choose one of {', '.join(SIZES)}")
    counts = generate(Path(args.out), args.size, args.seed, progress=lambda m: print(m, file=sys.stderr))
    for table, rows in counts.items():
        print(f"{table:<20} {rows:>12,}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from dashboard.check import check
    from dashboard.data import resolve_data_dir

    path = resolve_data_dir(args.data)
    if not path.is_dir():
        raise UsageError(f"data directory {path} does not exist")
    problems = check(path)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) in {path}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"{path}: all eleven tables follow the data contract")
    return 0


def cmd_queries(args: argparse.Namespace) -> int:
    from dashboard import registry

    for query in sorted(registry.queries().values(), key=lambda q: (q.area, q.name)):
        params = ", ".join(p.describe() for p in query.params) or "—"
        print(f"{query.name:<24} {query.area:<14} params: {params}")
        print(f"{'':<24} {query.purpose}")
        print(f"{'':<24} grain: {query.grain}")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    from dashboard import export, registry, store
    from dashboard.window import Filters, parse_date

    query = registry.get(args.name)  # unknown names fail before the data is read
    params = _parse_params(args.param or [])
    registry.bind_params(query, params)
    start = parse_date(args.start, "--start") if args.start else None
    end = parse_date(args.end, "--end") if args.end else None
    filters = Filters(**{name: tuple(getattr(args, name) or ()) for name in Filters.names()})
    dataset = _open_checked(args.data)
    window = registry.default_window(dataset, start, end)
    tables = store.tables_at(store.state_url(args.state, dataset.data_dir))
    # CSV and JSON are written a batch of rows at a time: the exports of the journeys at size L are
    # millions of rows, too many to hold as one frame and its text
    frames = _progress(registry.run_in_batches(args.name, dataset, window, filters, params, extra_tables=tables))
    if args.format == "csv":
        export.write_csv(frames, sys.stdout)
    elif args.format == "json":
        export.write_json(frames, sys.stdout)
    else:
        import pandas as pd

        text = export.to_table(pd.concat(list(frames), ignore_index=True))
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def _progress(frames: Iterator[pd.DataFrame], every: int = 1_000_000) -> Iterator[pd.DataFrame]:
    """The frames as they are, saying on stderr each time another ``every`` rows have been written, and
    how many in all at the end when it said anything (the last count is not the total)."""
    written = said = 0
    for frame in frames:
        yield frame
        before, written = written, written + len(frame)
        if written // every > before // every:
            print(f"refport: {written:,} rows written", file=sys.stderr, flush=True)
            said = written
    if said and said != written:
        print(f"refport: {written:,} rows in all", file=sys.stderr, flush=True)


def cmd_assign(args: argparse.Namespace) -> int:
    from dashboard import levels, registry, store

    try:
        programme = levels.load()
        level = programme.parse(args.level)
    except levels.LevelsError as error:
        raise UsageError(str(error)) from None
    if not args.by.strip() or not args.reason.strip():
        raise UsageError("--by and --reason must not be empty: say who changes the level and why")
    dataset = _open_checked(args.data)
    url = store.state_url(args.state, dataset.data_dir)
    tiers = registry.run("tier_assignments", dataset, extra_tables=store.tables_at(url)).set_index("referrer_id")
    if args.referrer_id not in tiers.index:
        raise UsageError(f"unknown referrer {args.referrer_id!r}: not in {dataset.data_dir / 'referrers.parquet'}")
    try:
        edits = store.open_store(url)
        saved = edits.save(args.referrer_id, level, args.by, args.reason, args.expect_version)
    except (store.StoreConflict, store.StoreError) as error:
        print(f"refport: {error}", file=sys.stderr)
        return EXIT_PROBLEMS
    except ValueError as error:
        raise UsageError(str(error)) from None
    suggested = programme.label(tiers.loc[args.referrer_id, "suggested_level"], missing="no level")
    if saved is None:
        print(f"{args.referrer_id}: already {programme.label(level)}; nothing saved (suggested: {suggested})")
        return 0
    print(f"{args.referrer_id}: {programme.label(saved.previous_level)} → {programme.label(saved.level)} "
          f"(version {saved.version}, by {saved.changed_by} at {saved.changed_at:%Y-%m-%d %H:%M:%S} UTC; "
          f"suggested: {suggested}) in {edits.display_url}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from dashboard import bench

    if args.size and args.size not in ("S", "M", "L"):
        raise UsageError(f"unknown size {args.size!r}: choose one of S, M, L")
    return bench.main(args.data, args.size, args.repeat, args.format, not args.no_pages)


def cmd_import(args: argparse.Namespace) -> int:
    from dashboard.importer import ImportUsageError, command

    try:
        return command(args.source, args.table, args.out, args.mapping, args.dry_run,
                       args.suggest_mapping, args.sheet)
    except ImportUsageError as error:
        raise UsageError(str(error)) from None
    except OSError as error:  # e.g. --out where this user cannot write
        raise UsageError(f"cannot import: {error.strerror or error} ({error.filename})") from None


def cmd_report(args: argparse.Namespace) -> int:
    from dashboard import pack, registry, store
    from dashboard.pack import sections
    from dashboard.window import Filters, parse_date

    try:
        fmt = pack.format_for(args.out)
    except pack.PackFormatError as error:
        raise UsageError(str(error)) from None
    out = Path(args.out)
    if not out.name or out.name in (".", "..") or args.out.endswith(("/", os.sep)) or out.is_dir():
        raise UsageError(f"--out {args.out} is a folder; name the pack's file, e.g. {out / 'board-pack.pdf'}")
    models = sections.model_choices()
    model = args.model or sections.default_model()
    if args.model and models and args.model not in models:
        raise UsageError(f"unknown --model {args.model!r}: choose one of {', '.join(models)}")
    start = parse_date(args.start, "--start") if args.start else None
    end = parse_date(args.end, "--end") if args.end else None
    filters = Filters(**{name: tuple(getattr(args, name) or ()) for name in Filters.names()})
    dataset = _open_checked(args.data)
    window = registry.default_window(dataset, start, end)
    url = store.state_url(args.state, dataset.data_dir)
    built = sections.build_pack(
        sections.runner_for(dataset, filters, store.tables_at(url)), dataset.data_dir, window, filters, model,
        store_label=sections.store_label(url),
        progress=None if args.quiet else lambda _done, step: print(f"refport: {step}", file=sys.stderr),
    )
    content = pack.render(built, fmt)
    partial = out.with_name(f".{out.name}.partial")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(content)
        partial.replace(out)  # a reader never sees half a pack
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise UsageError(f"cannot write {out}: {error.strerror or error}") from None
    print(f"{out}: {fmt.upper()} board pack, {built.period}, {len(built.sections)} sections, "
          f"data {built.provenance.content_hash[:12]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="refport", description="Referrer portfolio review: dashboard and command line.")
    parser.add_argument("--version", action="version", version=f"refport {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="start the dashboard")
    _add_data(run)
    run.add_argument("--port", type=int, default=8501)
    _add_state(run)
    run.add_argument("--headless", action="store_true", help="do not open a browser")
    run.set_defaults(func=cmd_run)

    sample = commands.add_parser("sample", help="write a synthetic data set")
    sample.add_argument("--out", required=True, metavar="DIR")
    sample.add_argument("--size", default="S", help="S, M or L")
    sample.add_argument("--seed", type=int, default=1)
    sample.set_defaults(func=cmd_sample)

    chk = commands.add_parser("check", help="validate a data directory against the contract")
    _add_data(chk)
    chk.set_defaults(func=cmd_check)

    lst = commands.add_parser("queries", help="list the named queries")
    lst.set_defaults(func=cmd_queries)

    qry = commands.add_parser("query", help="run one named query")
    qry.add_argument("name")
    _add_data(qry)
    qry.add_argument("--start", metavar="YYYY-MM-DD")
    qry.add_argument("--end", metavar="YYYY-MM-DD")
    qry.add_argument("--param", action="append", metavar="KEY=VALUE", nargs="+",
                     help="query parameter, repeatable")
    qry.add_argument("--format", choices=("table", "csv", "json"), default="table")
    for name in ("team", "office", "work_type", "referrer_type", "region"):
        qry.add_argument(f"--{name.replace('_', '-')}", dest=name, action="append", metavar="VALUE",
                         help=f"keep only this {name.replace('_', ' ')} (repeatable)")
    _add_state(qry)
    qry.set_defaults(func=cmd_query)

    assign = commands.add_parser("assign", help="set a referrer's programme level (audited, like the app)")
    assign.add_argument("referrer_id")
    assign.add_argument("level", help="1-4 (4 highest), a level name such as Platinum, or none")
    assign.add_argument("--by", required=True, metavar="NAME", help="who makes the change")
    assign.add_argument("--reason", required=True, metavar="TEXT", help="why, for the audit trail")
    assign.add_argument("--expect-version", type=int, metavar="N",
                        help="refuse (exit 1) unless the referrer's assignment is still at version N "
                             "(0: never assigned)")
    _add_data(assign)
    _add_state(assign)
    assign.set_defaults(func=cmd_assign)
    imp = commands.add_parser("import", help="turn a CSV or Excel export into a contract table, "
                              "quarantining bad rows (docs/import.md)")
    imp.add_argument("source", metavar="SOURCE", help="a .csv, .txt, .tsv, .xlsx or .xlsm file")
    imp.add_argument("--table", required=True, metavar="T", help="the contract table to write")
    imp.add_argument("--out", metavar="DIR", help="data directory to write DIR/T.parquet into")
    imp.add_argument("--mapping", metavar="FILE", help="TOML mapping (default: the suggested one)")
    imp.add_argument("--dry-run", action="store_true", help="report the counts, write nothing")
    imp.add_argument("--suggest-mapping", action="store_true", help="print a proposed mapping")
    imp.add_argument("--sheet", metavar="NAME", help="Excel sheet (default: the first)")
    imp.set_defaults(func=cmd_import)
    bench = commands.add_parser("bench", help="time every named query and page render")
    source = bench.add_mutually_exclusive_group()
    source.add_argument("--data", metavar="DIR", help="data directory (default: data/sample)")
    source.add_argument("--size", help="generate (once, into the temp folder) and use sample size S, M or L")
    bench.add_argument("--repeat", type=int, default=5)
    bench.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    bench.add_argument("--no-pages", action="store_true", help="queries only")
    bench.set_defaults(func=cmd_bench)
    report = commands.add_parser("report", help="write the board pack (PDF, PowerPoint or HTML)")
    report.add_argument("--out", required=True, metavar="FILE",
                        help="the pack to write; the extension picks the format: .pdf (default), .pptx, .html")
    _add_data(report)
    report.add_argument("--start", metavar="YYYY-MM-DD")
    report.add_argument("--end", metavar="YYYY-MM-DD")
    report.add_argument("--model", metavar="M", help="attribution model for per-referrer credit (default: linear)")
    for name in ("team", "office", "work_type", "referrer_type", "region"):
        report.add_argument(f"--{name.replace('_', '-')}", dest=name, action="append", metavar="VALUE",
                            help=f"keep only this {name.replace('_', ' ')} (repeatable)")
    _add_state(report)
    report.add_argument("--quiet", action="store_true", help="no progress on stderr")
    report.set_defaults(func=cmd_report)
    return parser


MESSAGE_MAX = 2000  # characters of an error message; a 100,000-character argument is cut


def one_line(text: str) -> str:
    """An error message as one safe line: control and invisible format characters the user typed
    (newlines, NUL, right-to-left overrides) are shown as escapes, and very long text is cut."""
    shown = "".join(
        ch if unicodedata.category(ch) not in ("Cc", "Cf") else ascii(ch)[1:-1] for ch in text
    )
    if len(shown) > MESSAGE_MAX:
        cut = len(shown) - MESSAGE_MAX
        shown = f"{shown[:MESSAGE_MAX - 300]} … [{cut:,} characters cut] … {shown[-300:]}"
    return shown


def main(argv: list[str] | None = None) -> int:
    from dashboard.registry import QueryError
    from dashboard.window import WindowError

    try:
        args = build_parser().parse_args(argv)
        if getattr(args, "param", None):
            args.param = [p for group in args.param for p in group]
        _check_paths(args)
        return args.func(args)
    except (UsageError, QueryError, WindowError) as error:
        print(one_line(f"refport: {error}".replace("refport: refport", "refport")), file=sys.stderr)
        return EXIT_USAGE
    except DataProblems as error:
        print(error, file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader stopped reading (`refport query ... | head`): no traceback, and no second one when
        # Python flushes stdout at exit (the recipe of the signal module's documentation)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as error:
        from dashboard.store import StoreError

        if isinstance(error, StoreError):  # --state names something that is not a usable store
            print(one_line(f"refport: {error}"), file=sys.stderr)
            return EXIT_PROBLEMS
        raise


if __name__ == "__main__":
    sys.exit(main())
