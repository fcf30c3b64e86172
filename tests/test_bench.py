"""`refport bench` runs every named query and reports each; speed itself is never asserted."""

import json

from dashboard import registry
from dashboard.cli import main


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
