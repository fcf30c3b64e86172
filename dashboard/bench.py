"""`refport bench`: how fast every named query and every page's first render is.

Prints p50, p95 and peak memory per item, and the machine's raw scan speed
(rows per second for a plain sum() over the fee amounts) so the figures read
as a fraction of what the hardware can do. Speed lives here, never in tests.
"""

from __future__ import annotations

import gc
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from dashboard import attribution, facts, registry
from dashboard.data import PROJECT_ROOT, Dataset, fingerprint, open_dataset

PAGES_DIR = PROJECT_ROOT / "dashboard" / "views"


@dataclass
class Result:
    item: str
    kind: str  # setup | scan | query | page | rerun
    p50_ms: float
    p95_ms: float
    peak_rss_mb: float
    runs: int
    note: str = ""


# The process's peak over the whole run. Resetting VmHWM for each item also resets what the kernel reports
# for the process when it ends (getrusage's ru_maxrss, `/usr/bin/time`'s "maximum resident set size"):
# that is the peak since the last item began, so the run keeps its own.
_run_peak_mb = 0.0


def run_peak_mb() -> float:
    """The process's peak resident memory since it started, across the per-item resets."""
    return max(_run_peak_mb, _peak_rss_mb())


def _reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets the process's peak RSS (VmHWM); the peak so far is kept first."""
    global _run_peak_mb
    _run_peak_mb = run_peak_mb()
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _peak_rss_mb() -> float:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q * 100) - 1]


def measure(item: str, kind: str, action: Callable[[], object], repeat: int) -> Result:
    _reset_peak_rss()
    times: list[float] = []
    note = ""
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            action()
        except Exception as error:  # noqa: BLE001  (a failing item is reported, not fatal to the run)
            note = f"error: {type(error).__name__}: {str(error).splitlines()[0][:80]}"
            break
        times.append((time.perf_counter() - started) * 1000)
    return _result(item, kind, times, _peak_rss_mb(), note)


def query_items() -> Iterator[tuple[str, dict[str, object]]]:
    """Every named query with its defaults; attribution queries once per model."""
    for name, query in sorted(registry.queries().items()):
        model = next((p for p in query.params if p.name == "model"), None)
        if model is not None and model.choices:
            for choice in model.choices:
                yield f"{name}[{choice}]", {"model": choice}
        else:
            yield name, {}


def page_files() -> list[Path]:
    return sorted(p for p in PAGES_DIR.glob("*.py") if p.name != "__init__.py")


def scan_speed(dataset: Dataset) -> Result:
    cursor = dataset.cursor()
    rows = cursor.execute("select count(*) from fees").fetchone()[0]
    result = measure("raw scan: sum(fees.amount)", "scan",
                     lambda: cursor.execute("select sum(amount) from fees").fetchone(), 5)
    result.note = f"{rows / (result.p50_ms / 1000):,.0f} rows/s over {rows:,} rows" if result.p50_ms else ""
    return result


def measure_page(data_dir: Path, page: Path, repeat: int, filters: dict[str, str] | None = None) -> list[Result]:
    """A page's first render (the app already up on the Overview, the query results forgotten) and a rerun
    straight after it (a widget change that finds its query results cached). With ``filters`` (sidebar
    dimension → one value), the page is opened with them picked."""
    from streamlit.testing.v1 import AppTest

    from dashboard import state

    os.environ["REFPORT_DATA"] = str(data_dir)
    first: list[float] = []
    rerun: list[float] = []
    note = ""
    _reset_peak_rss()
    for _ in range(repeat):
        app = AppTest.from_file(str(PROJECT_ROOT / "dashboard" / "app.py"), default_timeout=300)
        app.run()
        # the page's own queries are computed, as on a first visit (the attribution journeys too, which
        # the query runs before left behind); what the app computes once per version of the data (the
        # contract check, the filter lists) stays as a running server has it
        state.forget_query_results()
        registry.forget_results()
        attribution.forget()
        for dimension, value in (filters or {}).items():
            app.session_state[f"filter_{dimension}"] = [value]
        # the benchmark's own leftovers (earlier items' AppTest runs and results) are collected first, so a
        # full collection of them does not fall into this page's runs (the app server holds none of them)
        gc.collect()
        try:
            for times in (first, rerun):
                started = time.perf_counter()
                if times is first:
                    app.switch_page(f"{PAGES_DIR.name}/{page.name}")
                app.run()
                if app.exception:
                    raise RuntimeError(app.exception[0].message)
                times.append((time.perf_counter() - started) * 1000)
        except Exception as error:  # noqa: BLE001  (reported in the table, not fatal to the run)
            note = f"error: {type(error).__name__}: {str(error).splitlines()[0][:80]}"
            break
    peak = _peak_rss_mb()
    shown = page.stem + "".join(f" ({dimension}: {value})" for dimension, value in (filters or {}).items())
    return [_result(shown, "page", first, peak, note), _result(f"{shown} (rerun, cached)", "rerun", rerun,
                                                                  peak, note)]


def _result(item: str, kind: str, times: list[float], peak: float, note: str) -> Result:
    times = times or [float("nan")]
    return Result(item, kind, _percentile(times, 0.5), _percentile(times, 0.95), peak, len(times), note)


def _computed(name: str, dataset: Dataset, window, params: dict[str, object]) -> object:
    registry.forget_results()  # every run computes, none is remembered from the last
    return registry.run(name, dataset, window, None, params)


def open_data(data_dir: Path, progress: Callable[[str], None]) -> tuple[Dataset, Result]:
    """Open the data as the app does; the first time for a version of the data this builds its facts."""
    fresh = facts.facts_dir_if_built(data_dir, fingerprint(data_dir)) is None
    progress("opening the data" + (" and building its facts (once per version of the data)" if fresh else ""))
    _reset_peak_rss()
    started = time.perf_counter()
    dataset = open_dataset(data_dir, progress)
    elapsed = (time.perf_counter() - started) * 1000
    note = "facts built" if fresh else "facts already built for this data: reused"
    return dataset, Result("open data", "setup", elapsed, elapsed, _peak_rss_mb(), 1, note)


def keep_journeys(dataset: Dataset, progress: Callable[[str], None]) -> Result:
    """Keep the default view's attribution journeys and model comparison on disk, as the app does before
    its first page on a new version of the data (state.dataset)."""
    kept = attribution.default_view_kept(dataset)
    progress("the default view's attribution journeys and model comparison"
             + (": kept already" if kept else ", keeping them on disk"))
    _reset_peak_rss()
    started = time.perf_counter()
    attribution.keep_default_view(dataset)
    elapsed = (time.perf_counter() - started) * 1000
    note = "kept already for this data: read" if kept else "built and kept (once per version of the data)"
    return Result("keep the default view's journeys and comparison", "setup", elapsed, elapsed, _peak_rss_mb(), 1, note)


def app_start(data_dir: Path, timeout: float = 60) -> Result:
    """Seconds from `streamlit run` to the health check answering (the facts are already built)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "dashboard" / "app.py"),
         "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
         "--server.fileWatcherType", "none"],
        cwd=PROJECT_ROOT, env=dict(os.environ, REFPORT_DATA=str(data_dir)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    note, elapsed = "", float("nan")
    try:
        while time.perf_counter() - started < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as answer:
                    if answer.status == 200:
                        elapsed = (time.perf_counter() - started) * 1000
                        break
            except OSError:
                time.sleep(0.02)
        else:
            note = f"error: no answer within {timeout:.0f} s"
    finally:
        process.terminate()
        process.wait(timeout=30)
    return Result("app start (health check answers)", "setup", elapsed, elapsed, float("nan"), 1, note)


def run_bench(data_dir: Path, repeat: int, progress: Callable[[str], None], pages: bool = True) -> list[Result]:
    dataset, opened = open_data(data_dir, progress)
    window = registry.default_window(dataset)
    results = [opened, keep_journeys(dataset, progress), scan_speed(dataset)]
    if pages:
        progress("starting the app")
        results.append(app_start(data_dir))
    items = list(query_items())
    page_list = page_files() if pages else []
    team = _filter_value(dataset, window, "team") if pages else None
    filtered = page_list if team else []
    total = len(items) + len(page_list) + len(filtered)
    for index, (item, params) in enumerate(items, 1):
        name = item.split("[")[0]
        progress(f"[{index}/{total}] query {item}")
        results.append(measure(item, "query", lambda n=name, p=params: _computed(n, dataset, window, p), repeat))
    for index, page in enumerate(page_list, len(items) + 1):
        progress(f"[{index}/{total}] page {page.stem}")
        results.extend(measure_page(data_dir, page, max(1, min(repeat, 3))))
    for index, page in enumerate(filtered, len(items) + len(page_list) + 1):
        progress(f"[{index}/{total}] page {page.stem} with the team filter {team}")
        results.extend(measure_page(data_dir, page, max(1, min(repeat, 3)), filters={"team": team}))
    results.append(Result("whole run: the benchmark process's peak memory", "setup", float("nan"), float("nan"),
                          run_peak_mb(), 1))
    return results


def _filter_value(dataset: Dataset, window, dimension: str) -> str | None:
    """The first value (alphabetically) the sidebar offers for a filter, or None when there is none."""
    options = registry.run("filter_options", dataset, window)
    values = options.loc[options["dimension"] == dimension, "value"].tolist()
    return values[0] if values else None


def format_table(results: list[Result]) -> str:
    lines = [f"{'item':<44} {'kind':<6} {'p50 ms':>9} {'p95 ms':>9} {'peak MB':>9}  note"]
    for r in results:
        lines.append(f"{r.item:<44} {r.kind:<6} {r.p50_ms:>9.1f} {r.p95_ms:>9.1f} {r.peak_rss_mb:>9.0f}  {r.note}")
    return "\n".join(lines)


def format_markdown(results: list[Result]) -> str:
    """The table for a README: one row per item, times in ms, memory in MB."""
    def cell(value: float) -> str:
        return "" if math.isnan(value) else f"{value:,.0f}"  # not measured: empty

    lines = ["| item | kind | p50 ms | p95 ms | peak MB | note |", "|---|---|--:|--:|--:|---|"]
    for r in results:
        lines.append(f"| {r.item} | {r.kind} | {cell(r.p50_ms)} | {cell(r.p95_ms)} | {cell(r.peak_rss_mb)} | {r.note} |")
    return "\n".join(lines)


def main(data: str | None, size: str | None, repeat: int, fmt: str, pages: bool) -> int:
    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if size:
        from dashboard.sample import generate

        target = Path(tempfile.gettempdir()) / f"refport-bench-{size}"
        if not (target / "fees.parquet").exists():
            progress(f"generating sample size {size} into {target} ...")
            generate(target, size, 1, progress=progress)
        data_dir = target
    else:
        from dashboard.data import resolve_data_dir

        data_dir = resolve_data_dir(data)
    results = run_bench(data_dir, repeat, progress, pages)
    if fmt == "markdown":
        print(format_markdown(results))
    elif fmt == "json":
        print(json.dumps({"data": str(data_dir), "repeat": repeat, "results": [asdict(r) for r in results]},
                         indent=2))
    else:
        print(f"data: {data_dir}   repeat: {repeat}   duckdb threads: 2")
        print(format_table(results))
    return 0
