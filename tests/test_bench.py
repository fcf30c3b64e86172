"""`refport bench` runs every named query and reports each; speed itself is never asserted."""

import json
import os
import subprocess
import sys

from dashboard import registry
from dashboard.cli import main
from dashboard.window import Filters


def test_bench_reports_every_query_and_model(capsys, tiny_dir):
    code = main(["bench", "--data", str(tiny_dir), "--repeat", "1", "--no-pages", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 0
    results = json.loads(out)["results"]
    items = {r["item"] for r in results}
    assert "raw scan: sum(fees.amount)" in items
    assert {"scorecard", "concentration", "funnel"} <= items
    assert {f"attribution[{m}]" for m in ("linear", "markov", "shapley")} <= items
    assert len([i for i in items if i.startswith("attribution[")]) == 10
    assert len(items) >= len(registry.queries())
    assert all(r["peak_rss_mb"] > 0 for r in results)
    # a failing item is reported in its note rather than stopping the run; valid data has none
    errors = {r["item"]: r["note"] for r in results if r["note"].startswith("error")}
    assert errors == {}
    # the last row is the whole run's peak, at least every item's
    whole = results[-1]
    assert whole["item"] == "whole run: the benchmark process's peak memory"
    assert whole["peak_rss_mb"] >= max(r["peak_rss_mb"] for r in results[:-1])


def test_the_whole_run_peak_outlives_the_resets_for_each_item():
    """Each item resets the kernel's peak (VmHWM), which also resets what the kernel reports when the
    process ends; the run keeps its own."""
    from dashboard import bench

    def resident_mb() -> float:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmRSS:"))

    bench._reset_peak_rss()
    before = resident_mb()
    block = bytearray(b"\x01") * (300 << 20)  # 300 MB written, so resident
    del block
    bench._reset_peak_rss()  # the next item: the kernel's peak falls back to what is in use now
    assert bench._peak_rss_mb() < before + 100
    assert bench.run_peak_mb() >= before + 250


def test_bench_times_opening_the_data_and_says_whether_facts_were_built(capsys, tmp_path):
    from tests.conftest import TINY
    from tests.fixtures import write_dataset

    data_dir = write_dataset(tmp_path / "fresh", TINY)
    runs = []
    for _ in range(2):
        assert main(["bench", "--data", str(data_dir), "--repeat", "1", "--no-pages", "--format", "json"]) == 0
        runs.append({r["item"]: r for r in json.loads(capsys.readouterr().out)["results"]})
    first, second = (run["open data"] for run in runs)
    assert first["kind"] == "setup" and first["note"] == "facts built"
    assert second["note"].startswith("facts already built")
    assert "app start (health check answers)" not in runs[0]  # --no-pages: no server is started


def test_app_start_is_timed_until_the_health_check_answers(tiny_dir):
    from dashboard.bench import app_start

    result = app_start(tiny_dir)
    assert result.note == "" and result.p50_ms > 0


def test_bench_renders_a_page_first_and_again_with_results_cached(tiny_dir):
    from dashboard.bench import PAGES_DIR, measure_page

    first, rerun = measure_page(tiny_dir, PAGES_DIR / "concentration.py", repeat=1)
    assert (first.item, first.kind, first.note) == ("concentration", "page", "")
    assert (rerun.item, rerun.kind, rerun.note) == ("concentration (rerun, cached)", "rerun", "")
    assert first.runs == rerun.runs == 1 and first.p50_ms > 0 and rerun.p50_ms > 0


def test_bench_renders_a_page_with_a_filter_picked(tiny_dir, monkeypatch):
    from dashboard.bench import PAGES_DIR, _filter_value, measure_page
    from dashboard.data import open_dataset

    dataset = open_dataset(tiny_dir)
    team = _filter_value(dataset, registry.default_window(dataset), "team")
    assert team == min(registry.run("filter_options", dataset).query("dimension == 'team'")["value"])
    asked = []
    run = registry.run

    def recorded(name, ds, window=None, filters=None, *rest, **named):
        asked.append((name, filters))
        return run(name, ds, window, filters, *rest, **named)

    monkeypatch.setattr(registry, "run", recorded)
    first, rerun = measure_page(tiny_dir, PAGES_DIR / "concentration.py", repeat=1, filters={"team": team})
    assert ("concentration", Filters(team=(team,))) in asked  # the page's queries ran with the filter
    assert (first.item, first.note) == (f"concentration (team: {team})", "")
    assert rerun.item == f"concentration (team: {team}) (rerun, cached)" and rerun.p50_ms > 0
    dataset.connection.close()


def test_bench_keeps_the_default_views_journeys_as_the_app_does_before_its_pages(tmp_path):
    from dashboard import attribution
    from dashboard.bench import keep_journeys
    from dashboard.data import open_dataset
    from tests.conftest import TINY
    from tests.fixtures import write_dataset

    dataset = open_dataset(write_dataset(tmp_path / "data", TINY))
    assert not attribution.default_view_kept(dataset)
    said = []
    built = keep_journeys(dataset, said.append)
    assert (built.item, built.kind) == ("keep the default view's journeys and comparison", "setup")
    assert built.note.startswith("built") and built.p50_ms > 0
    attribution.kept_written()
    assert attribution.default_view_kept(dataset)
    read = keep_journeys(dataset, said.append)
    assert read.note.startswith("kept already")
    assert said[0].endswith("keeping them on disk") and said[1].endswith("kept already")
    dataset.connection.close()


def test_bench_markdown_table_has_a_row_per_item():
    from dashboard.bench import Result, format_markdown

    text = format_markdown([Result("scorecard", "query", 12.34, 20.0, 300.4, 5),
                            Result("app start (health check answers)", "setup", 900.0, 900.0, float("nan"), 1)])
    lines = text.splitlines()
    assert lines[0].startswith("| item | kind | p50 ms")
    assert lines[2] == "| scorecard | query | 12 | 20 | 300 |  |"
    assert lines[3] == "| app start (health check answers) | setup | 900 | 900 |  |  |"


def test_refport_turns_numpys_huge_pages_off_before_numpy_is_imported():
    # a fresh process, as `refport` starts: importing the package first must reach NumPy's import-time switch
    probe = ("import dashboard.cli, numpy._core.multiarray as m; "
             "print(m._set_madvise_hugepage(False))")
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "False"  # the previous setting: off


def test_the_server_refport_run_starts_returns_large_freed_blocks_to_the_system(monkeypatch, tiny_dir):
    import importlib

    import dashboard
    from dashboard import cli

    started = {}
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.setattr(cli.subprocess, "call", lambda command, env, cwd: started.update(env=env) or 0)
    importlib.reload(dashboard)  # as on a fresh start: importing the package sets it
    assert cli.main(["run", "--data", str(tiny_dir)]) == 0
    assert started["env"]["MALLOC_MMAP_THRESHOLD_"] == "131072"
    assert started["env"]["NUMPY_MADVISE_HUGEPAGE"] == "0"
