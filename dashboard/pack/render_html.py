"""The board pack as one self-contained HTML file (charts inlined as base64 PNG).

Opens in any browser without a network; prints A4 landscape with each
section on a new page and table headers repeated on every printed page.
"""

from __future__ import annotations

import base64
from html import escape

from dashboard.pack.sections import ChartBlock, KeyFigure, Pack, Section, TableBlock

CSS = """
@page { size: A4 landscape; margin: 14mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 0 auto;
       max-width: 1120px; padding: 24px; line-height: 1.45; }
header.cover { padding: 48px 0 24px; }
.firm { color: #595959; font-size: 1.3rem; margin: 0; }
h1 { font-size: 2.4rem; margin: 0.2em 0; }
h2 { font-size: 1.7rem; margin: 0 0 0.4em; }
h3 { font-size: 1.05rem; margin: 1.2em 0 0.4em; }
section { padding-top: 24px; border-top: 2px solid #222; margin-top: 32px; break-before: page; }
.reading { border: 1px solid #222; padding: 10px 14px; font-size: 1.08rem; margin: 0 0 8px; }
.explain, .note { color: #595959; font-style: italic; font-size: 0.85rem; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); border: 1px solid #222;
         margin: 12px 0; }
.tile { padding: 8px 10px; border-right: 1px solid #d9d9d9; }
.tile .value { font-size: 1.5rem; font-weight: bold; white-space: nowrap; }
.tile .label { color: #595959; font-size: 0.85rem; }
.tile .tnote { font-size: 0.85rem; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; flex: 1 1 100%; break-inside: avoid; }
figure.half { flex: 1 1 45%; }
figure img { width: 100%; height: auto; }
figcaption { color: #595959; font-size: 0.85rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.85rem; margin-bottom: 4px; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th { text-align: left; border-top: 1.5px solid #222; border-bottom: 1.5px solid #222; padding: 4px 6px; }
td { padding: 3px 6px; vertical-align: top; }
tbody tr:nth-child(even) { background: #f0f0f0; }
tbody tr:last-child td { border-bottom: 1px solid #222; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.details { display: grid; grid-template-columns: 12em 1fr; gap: 4px 12px; font-size: 1.05rem; }
dl.details dt { color: #595959; }
dl.details dd { margin: 0; }
code { font-size: 0.8rem; }
"""


def _table(block: TableBlock) -> str:
    head = "".join(f'<th class="num">{escape(c)}</th>' if n else f"<th>{escape(c)}</th>"
                   for c, n in zip(block.columns, block.numeric, strict=True))
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{escape(v)}</td>' if n else f"<td>{escape(v)}</td>"
                         for v, n in zip(row, block.numeric, strict=True)) + "</tr>"
        for row in block.rows
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>" if block.rows else ""
    note = f'<p class="note">{escape(block.note)}</p>' if block.note else ""
    return f"<h3>{escape(block.title)}</h3>{table}{note}"


def _chart(chart: ChartBlock) -> str:
    data = base64.b64encode(chart.png).decode("ascii")
    return (f'<figure class="{"wide" if chart.wide else "half"}"><h3>{escape(chart.title)}</h3>'
            f'<img src="data:image/png;base64,{data}" alt="{escape(chart.description)}">'
            f"<figcaption>{escape(chart.description)}</figcaption></figure>")


def _tiles(figures: list[KeyFigure]) -> str:
    if not figures:
        return ""
    tiles = "".join(
        f'<div class="tile"><div class="value">{escape(f.value)}</div><div class="label">{escape(f.label)}</div>'
        + (f'<div class="tnote">{escape(f.note)}</div>' if f.note else "") + "</div>"
        for f in figures
    )
    return f'<div class="tiles">{tiles}</div>'


def _section(section: Section) -> str:
    explanation = (f'<p class="explain">How it is computed: {escape(section.explanation)}</p>'
                   if section.explanation else "")
    charts = f'<div class="charts">{"".join(_chart(c) for c in section.charts)}</div>' if section.charts else ""
    return (f'<section id="{escape(section.key)}"><h2>{escape(section.title)}</h2>'
            f'<p class="reading">{escape(section.reading)}</p>{explanation}{_tiles(section.figures)}'
            f'{charts}{"".join(_table(t) for t in section.tables)}</section>')


def render_html(pack: Pack) -> str:
    prov = pack.provenance
    details = [
        ("Period", pack.period),
        ("Compared with", f"{pack.previous.label()} (the previous period of the same length)"),
        ("Filters", pack.filters.describe()),
        ("Data as of", f"{pack.data_as_of:%d %B %Y}" if pack.data_as_of else "—"),
        ("Attribution model", pack.model.replace("_", " ")),
    ]
    contents = "".join(f'<li><a href="#{escape(s.key)}">{escape(s.title)}</a></li>' for s in pack.sections)
    parameters = TableBlock(
        "Parameters", ("Parameter", "Value"),
        (*prov.parameters, ("Data directory", prov.data_dir), ("Content hash (SHA-256)", prov.content_hash),
         ("refport version", prov.version)), (False, False))
    files = TableBlock("Parquet inputs", ("File", "Rows", "SHA-256"), prov.files, (False, True, False),
                       "The content hash is the SHA-256 of these lines, one `sha256sum` line per file.")
    left_out = _table(TableBlock("Sections left out", ("Section", "Why"), prov.left_out, (False, False))) \
        if prov.left_out else ""
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="refport {escape(prov.version)}">
<title>{escape(pack.title)}: {escape(pack.firm)}, {escape(pack.period)}</title>
<style>{CSS}</style>
</head>
<body>
<header class="cover">
<p class="firm">{escape(pack.firm)} · Board pack</p>
<h1>{escape(pack.title)}</h1>
<dl class="details">{"".join(f"<dt>{escape(a)}</dt><dd>{escape(b)}</dd>" for a, b in details)}</dl>
<p>{escape(pack.intro)}</p>
<nav><h3>Contents</h3><ol>{contents}<li><a href="#about">About this pack</a></li></ol></nav>
</header>
<main>
{"".join(_section(s) for s in pack.sections)}
<section id="about"><h2>About this pack: parameters and inputs</h2>
<p>Rebuild this pack with the same parameters on data with the same content hash and every figure comes out
the same.</p>
{_table(parameters)}{_table(files)}{left_out}
</section>
</main>
</body>
</html>
"""
