"""The board pack (`refport report`, dashboard/pack): the same numbers as `refport query`,
PDF/PPTX/HTML that open and hold them, sections left out when their query is missing, and a
content hash that identifies the data."""

from __future__ import annotations

import io
import json
import re
import shutil
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pptx import Presentation
from pypdf import PdfReader

from dashboard import cli, insights, registry
from dashboard.data import open_dataset
from dashboard.pack import PackFormatError, format_for, render
from dashboard.pack.sections import (
    HEADLINE,
    build_pack,
    content_hash,
    headline_value,
    plan,
    previous_window,
    runner_for,
)
from dashboard.window import Filters, Window
from tests.conftest import WINDOW


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("pack-out")


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _query_json(capsys, sample_dir, name: str, *extra: str) -> list[dict]:
    code, out, err = _cli(capsys, "query", name, "--data", sample_dir, "--format", "json", *extra)
    assert code == 0, err
    return json.loads(out)


def _pdf_pages(path: Path) -> list[str]:
    # pypdf's text, spaces normalised (a table cell's text may wrap onto two lines)
    return [re.sub(r"\s+", " ", page.extract_text() or "") for page in PdfReader(str(path)).pages]


@pytest.fixture(scope="module")
def packs(sample_dir, out_dir):
    """`refport report` in each format on the sample, default window (2024-07-01 .. 2026-06-30)."""
    written = {}
    for ext in ("pdf", "pptx", "html"):
        path = out_dir / f"pack.{ext}"
        assert cli.main(["report", "--out", str(path), "--data", str(sample_dir), "--quiet"]) == 0
        written[ext] = path
    return written


@pytest.fixture(scope="module")
def tiny_pack(tiny_dir):
    """The pack of the TINY portfolio for WINDOW, built once for the tests that only read it."""
    dataset = open_dataset(tiny_dir)
    try:
        return build_pack(runner_for(dataset, Filters()), tiny_dir, WINDOW)
    finally:
        dataset.connection.close()


@pytest.fixture(scope="module")
def tiny_rendered(tiny_pack):
    """``tiny_rendered(fmt)``: the bytes of ``render(tiny_pack, fmt)``, rendered once per format."""
    rendered: dict[str, bytes] = {}

    def get(fmt: str) -> bytes:
        if fmt not in rendered:
            rendered[fmt] = render(tiny_pack, fmt)
        return rendered[fmt]

    return get


def _expected_cells(rows: list[dict]) -> list[str]:
    """Each headline figure of `refport query headline` as the pack prints it."""
    row = rows[0]
    return [headline_value(kind, row[column]) for column, _label, kind in HEADLINE if column in row]


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_carries_the_headline_figures_of_refport_query(capsys, sample_dir, packs):
    current = _query_json(capsys, sample_dir, "headline")
    # the default window ends on the data's last date, 2026-06-30: the previous period of the
    # same length is the 24 months before it
    previous = _query_json(capsys, sample_dir, "headline", "--start", "2022-07-01", "--end", "2024-06-30")
    pages = _pdf_pages(packs["pdf"])
    headline_page = next(p for p in pages if "Headline figures against the previous period" in p)
    for label, this, before in zip([h[1] for h in HEADLINE], _expected_cells(current),
                                   _expected_cells(previous), strict=True):
        # e.g. "Referred fees GBP 17,003,024 GBP 12,163,283 +GBP 4,839,741"
        assert f"{label} {this} {before}" in headline_page, label
    assert current[0]["referred_fees"] > 0 and current[0]["inbound_referrals"] > 0


def test_pdf_is_a4_landscape_with_selectable_text_and_every_built_section(packs):
    reader = PdfReader(str(packs["pdf"]))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (842, 595)  # A4 landscape, points
    text = " ".join(_pdf_pages(packs["pdf"]))
    for title in ("Referrer portfolio review", "Headline figures", "Concentration of referred fees",
                  "Prune list", "Return on relationships", "About this pack: parameters and inputs"):
        assert title in text
    kept, left_out = plan()
    assert len(kept) >= 4
    for title, _why in left_out:  # listed on the last page, not faked
        assert title in _pdf_pages(packs["pdf"])[-1] or title in _pdf_pages(packs["pdf"])[-2]


def test_pdf_last_page_lists_parameters_data_hash_and_version(sample_dir, packs):
    digest, files = content_hash(sample_dir)
    last = " ".join(_pdf_pages(packs["pdf"])[-2:])
    assert digest in last
    assert "2024-07-01 to 2026-06-30" in last
    assert str(Path(sample_dir).resolve()) in last
    assert "refport version 0.1.0" in last
    assert {name for name, _ in files} == {p.name for p in Path(sample_dir).glob("*.parquet")}
    for name, file_digest in files:
        assert f"{name}" in last and file_digest in last


def test_long_tables_continue_on_the_next_page_with_their_header(packs):
    # the sample's prune list (41 referrers) runs over more than one page
    pages = [p for p in _pdf_pages(packs["pdf"]) if "Last referral Months since" in p]
    assert len(pages) >= 2


def test_the_same_data_and_parameters_give_the_same_pdf(tiny_dir, tiny_pack, tiny_rendered, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_dir, copy)
    # the same content in two places, two connections: the first is tiny_pack's
    dataset = open_dataset(copy)
    try:
        second = build_pack(runner_for(dataset, Filters()), copy, WINDOW)
    finally:
        dataset.connection.close()
    first = tiny_pack
    assert first.provenance.content_hash == second.provenance.content_hash
    # byte for byte, but for the data directory named on the last page
    second.provenance = first.provenance
    assert tiny_rendered("pdf") == render(second, "pdf")
    assert tiny_rendered("html") == render(second, "html")


# --- PowerPoint and HTML ---------------------------------------------------------------------


def test_pptx_opens_with_the_expected_slides(capsys, sample_dir, packs):
    deck = Presentation(str(packs["pptx"]))
    titles = [slide.shapes.title.text for slide in deck.slides]
    assert titles[0] == "Referrer portfolio review"
    assert titles[1] == "Headline figures"
    kept, _ = plan()
    assert len(kept) >= 4
    for expected in ("Concentration of referred fees", "Prune list", "Return on relationships"):
        assert expected in titles
    assert titles[-1].startswith("About this pack")
    # a continued table repeats its header on the next slide
    continued = [i for i, t in enumerate(titles) if t.endswith("(continued)")]
    assert continued
    header = [c.text for c in _table(deck.slides[continued[0]]).rows[0].cells]
    assert header == [c.text for c in _table(deck.slides[continued[0] - 1]).rows[0].cells]
    # the headline table slide holds the CLI's figures
    slide = deck.slides[titles.index("Headline figures against the previous period of the same length")]
    cells = [cell.text for row in _table(slide).rows for cell in row.cells]
    for value in _expected_cells(_query_json(capsys, sample_dir, "headline")):
        assert value in cells


def _table(slide):
    return next(shape.table for shape in slide.shapes if shape.has_table)


def test_html_is_self_contained_and_holds_the_figures(capsys, sample_dir, packs):
    text = packs["html"].read_text(encoding="utf-8")
    for value in _expected_cells(_query_json(capsys, sample_dir, "headline")):
        assert value in text
    assert "data:image/png;base64," in text
    assert not re.search(r'(src|href)="(https?:)?//', text)  # nothing fetched from a network
    assert "size: A4 landscape" in text


# --- sections, windows, hash -----------------------------------------------------------------


def test_a_section_whose_query_is_not_registered_is_left_out(tiny_dir):
    dataset = open_dataset(tiny_dir)
    try:
        available = set(registry.queries()) - {"drift", "concentration_stress"}
        pack = build_pack(runner_for(dataset, Filters()), tiny_dir, WINDOW, available=available)
    finally:
        dataset.connection.close()
    keys = [s.key for s in pack.sections]
    assert "drift" not in keys and "headline" in keys and "concentration" in keys
    assert ("Strategic drift", "not built yet (no query drift)") in pack.provenance.left_out
    concentration = next(s for s in pack.sections if s.key == "concentration")
    # the optional stress table goes with its query; the rest of the section stays
    assert not any(t.title.startswith("Lose the top") for t in concentration.tables)
    assert "If " not in concentration.reading


def test_pack_on_the_tiny_portfolio_has_the_hand_computed_headline(tiny_pack, tiny_rendered):
    pack = tiny_pack
    assert pack.previous == Window(date(2024, 1, 1), date(2024, 12, 31))
    headline = next(s for s in pack.sections if s.key == "headline")
    rows = {row[0]: row for row in headline.tables[0].rows}
    # test_queries: 7 inbound referrals received in 2025 on TINY; RF4 (2024-12-31) is the one in 2024
    assert rows["Inbound referrals"][1:] == ("7", "1", "+6")
    for fmt in ("pdf", "pptx", "html"):
        assert tiny_rendered(fmt)


def test_content_hash_identifies_the_parquet_content(tiny_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tiny_dir, copy)
    digest, files = content_hash(tiny_dir)
    assert content_hash(copy) == (digest, files)  # identical data elsewhere: the same hash
    assert len(digest) == 64 and len(files) == 11
    table = pq.read_table(copy / "referrers.parquet")
    names = table.column("name").to_pylist()
    names[0] = names[0] + " (renamed)"
    pq.write_table(table.set_column(table.schema.get_field_index("name"), "name",
                                    pa.array(names)), copy / "referrers.parquet")
    changed, changed_files = content_hash(copy)
    assert changed != digest
    differing = [a[0] for a, b in zip(files, changed_files, strict=True) if a != b]
    assert differing == ["referrers.parquet"]


def test_pdf_last_page_hash_follows_the_data(tiny_dir, tiny_rendered, tmp_path):
    def printed_hash(pdf: bytes) -> str:
        text = " ".join(re.sub(r"\s+", " ", p.extract_text()) for p in PdfReader(io.BytesIO(pdf)).pages[-2:])
        return re.search(r"Content hash \(SHA-256\) ([0-9a-f]{64})", text).group(1)

    def last_page_hash(directory: Path) -> str:
        dataset = open_dataset(directory)
        try:
            pack = build_pack(runner_for(dataset, Filters()), directory, WINDOW)
        finally:
            dataset.connection.close()
        return printed_hash(render(pack, "pdf"))

    copy = tmp_path / "copy"
    shutil.copytree(tiny_dir, copy)
    # tiny_dir's pack is tiny_pack (built from tiny_dir the same way), rendered once for the module
    assert printed_hash(tiny_rendered("pdf")) == last_page_hash(copy) == content_hash(tiny_dir)[0]
    fees = pq.read_table(copy / "fees.parquet")
    pq.write_table(fees.slice(0, fees.num_rows - 1), copy / "fees.parquet")
    assert last_page_hash(copy) != content_hash(tiny_dir)[0]


@pytest.mark.parametrize(("window", "previous"), [
    # the default 24-month window: the 24 months before
    (Window(date(2024, 7, 1), date(2026, 6, 30)), Window(date(2022, 7, 1), date(2024, 6, 30))),
    # whole calendar months: as many whole months before
    (Window(date(2026, 6, 1), date(2026, 6, 30)), Window(date(2026, 5, 1), date(2026, 5, 31))),
    (Window(date(2026, 1, 1), date(2026, 3, 31)), Window(date(2025, 10, 1), date(2025, 12, 31))),
    # end minus 24 months plus one day, with the month-end clamp of metrics.md
    (Window(date(2024, 2, 29), date(2026, 2, 28)), Window(date(2022, 3, 1), date(2024, 2, 28))),
    (Window(date(2024, 6, 16), date(2026, 6, 15)), Window(date(2022, 6, 16), date(2024, 6, 15))),
    # anything else: the same number of days (10)
    (Window(date(2026, 6, 5), date(2026, 6, 14)), Window(date(2026, 5, 26), date(2026, 6, 4))),
])
def test_previous_period_has_the_same_length(window, previous):
    assert previous_window(window) == previous


# --- the command line ------------------------------------------------------------------------


def test_report_refuses_an_unknown_extension_with_one_line(capsys, sample_dir, tmp_path):
    code, _out, err = _cli(capsys, "report", "--out", tmp_path / "pack.docx", "--data", sample_dir)
    assert code == 2
    assert err.strip() == "refport: cannot write a board pack as '.docx': use .pdf, .pptx or .html"
    assert not (tmp_path / "pack.docx").exists()


def test_report_refuses_an_unknown_model(capsys, sample_dir, tmp_path):
    code, _out, err = _cli(capsys, "report", "--out", tmp_path / "pack.pdf", "--data", sample_dir,
                           "--model", "guesswork")
    assert code == 2 and err.count("\n") == 1 and "unknown --model 'guesswork'" in err


def test_format_follows_the_extension():
    assert [format_for(n) for n in ("a.pdf", "a.PDF", "a", "a.pptx", "a.html", "a.htm")] == [
        "pdf", "pdf", "pdf", "pptx", "html", "html"]
    with pytest.raises(PackFormatError):
        format_for("a.xlsx")


def test_report_window_and_filters_match_refport_query(capsys, sample_dir, tmp_path):
    out = tmp_path / "pack.html"
    code, _, err = _cli(capsys, "report", "--out", out, "--data", sample_dir, "--start", "2025-01-01",
                        "--end", "2025-12-31", "--team", "corporate", "--model", "shapley", "--quiet")
    assert code == 0, err
    rows = _query_json(capsys, sample_dir, "headline", "--start", "2025-01-01", "--end", "2025-12-31",
                       "--team", "corporate")
    text = out.read_text(encoding="utf-8")
    for value in _expected_cells(rows):
        assert value in text
    assert "team: corporate" in text and "shapley" in text


def test_tiering_section_shows_who_changed_a_level_and_why(tmp_path, sample_dir, capsys):
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    state = tmp_path / "state.db"
    code, _, err = _cli(capsys, "assign", "R0001", "4", "--by", "Ann Archer", "--reason",
                        "board review: strategic bank", "--data", data, "--state", state)
    assert code == 0, err
    out = tmp_path / "pack.pdf"
    code, _, err = _cli(capsys, "report", "--out", out, "--data", data, "--state", state, "--quiet")
    assert code == 0, err
    text = " ".join(_pdf_pages(out))
    # the reading and the table of changes: who, why; the last page names the store read
    assert "1 assignment was recorded since 01 Jul 2024, the latest by Ann Archer (board review: strategic bank)" in text
    assert "revision 1." in text


# --- readings ---------------------------------------------------------------------------------


def test_change_text_signs_and_units():
    assert insights.change_text("count", 12, 9) == "+3"
    assert insights.change_text("count", 9, 12) == "−3"
    assert insights.change_text("share", 0.539, 0.463) == "+7.6 pp"
    assert insights.change_text("money", 1000.0, 2500.0) == "−GBP 1,500"
    assert insights.change_text("money", 2500.0, 1000.0) == "+GBP 1,500"
    assert insights.change_text("count", 5, 5) == "no change"
    assert insights.change_text("share", None, 0.5) == "—"
