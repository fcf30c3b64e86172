"""The board pack as a PDF (reportlab): A4 landscape, selectable text, black and white.

Text is set in DejaVu Sans (the TrueType files matplotlib ships, embedded as
subsets), so the currency, the minus sign and the arrows print anywhere and
the text can be selected and searched. Long tables continue on the next page
with their header (``repeatRows``). Same pack, same bytes (``invariant``).
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from xml.sax.saxutils import escape

import matplotlib
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Frame,
    Image,
    LongTable,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from dashboard.pack.sections import ChartBlock, KeyFigure, Pack, Section, TableBlock

PAGE = landscape(A4)
MARGIN = 15 * mm
WIDTH = PAGE[0] - 2 * MARGIN
FRAME_HEIGHT = PAGE[1] - 2 * MARGIN - 14 * mm
FONT = "RefportSans"
BOLD = "RefportSans-Bold"
ITALIC = "RefportSans-Oblique"
GREY = colors.HexColor("#d9d9d9")
DARK = colors.HexColor("#222222")
MID = colors.HexColor("#595959")


_FONTS_LOCK = threading.Lock()


def _register_fonts() -> None:
    with _FONTS_LOCK:
        if FONT not in pdfmetrics.getRegisteredFontNames():
            _load_fonts()


def _load_fonts() -> None:
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(fonts / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(fonts / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFont(TTFont(ITALIC, str(fonts / "DejaVuSans-Oblique.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=ITALIC, boldItalic=BOLD)


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=10, leading=13.5, textColor=DARK)
    return {
        "base": base,
        "cover_firm": ParagraphStyle("cover_firm", base, fontSize=16, leading=20, textColor=MID),
        "cover_title": ParagraphStyle("cover_title", base, fontName=BOLD, fontSize=30, leading=36,
                                      spaceAfter=6),
        "cover_sub": ParagraphStyle("cover_sub", base, fontSize=14, leading=19),
        "h1": ParagraphStyle("h1", base, fontName=BOLD, fontSize=20, leading=24, spaceAfter=6),
        "h2": ParagraphStyle("h2", base, fontName=BOLD, fontSize=12, leading=15, spaceBefore=8,
                             spaceAfter=4, keepWithNext=1),
        "reading": ParagraphStyle("reading", base, fontSize=11.5, leading=16, borderPadding=(6, 8, 6, 8),
                                  leftIndent=8, rightIndent=8, borderColor=DARK, borderWidth=0.8,
                                  spaceBefore=4, spaceAfter=10),
        "explain": ParagraphStyle("explain", base, fontName=ITALIC, fontSize=9, leading=12,
                                  textColor=MID, spaceAfter=8),
        "note": ParagraphStyle("note", base, fontName=ITALIC, fontSize=8.5, leading=11, textColor=MID,
                               spaceBefore=2, spaceAfter=6),
        "cell": ParagraphStyle("cell", base, fontSize=8.5, leading=10.5, alignment=TA_LEFT),
        "cell_num": ParagraphStyle("cell_num", base, fontSize=8.5, leading=10.5, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", base, fontName=BOLD, fontSize=8.5, leading=10.5, alignment=TA_LEFT),
        "head_num": ParagraphStyle("head_num", base, fontName=BOLD, fontSize=8.5, leading=10.5,
                                   alignment=TA_RIGHT),
        "cell_small": ParagraphStyle("cell_small", base, fontSize=7.5, leading=9.2),
        "cell_num_small": ParagraphStyle("cell_num_small", base, fontSize=7.5, leading=9.2, alignment=TA_RIGHT),
        "head_small": ParagraphStyle("head_small", base, fontName=BOLD, fontSize=7.5, leading=9.2),
        "head_num_small": ParagraphStyle("head_num_small", base, fontName=BOLD, fontSize=7.5, leading=9.2,
                                         alignment=TA_RIGHT),
        "tile_value": ParagraphStyle("tile_value", base, fontName=BOLD, fontSize=17, leading=21),
        "tile_label": ParagraphStyle("tile_label", base, fontSize=8.5, leading=11, textColor=MID),
        "tile_note": ParagraphStyle("tile_note", base, fontSize=8.5, leading=11),
        "mono": ParagraphStyle("mono", base, fontSize=8, leading=10),
    }


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(text)), style)


def _widths(block: TableBlock, width: float) -> list[float]:
    weights = block.weights()
    return [width * w / sum(weights) for w in weights]


def _table(block: TableBlock, styles: dict[str, ParagraphStyle], width: float = WIDTH,
           compact: bool = False) -> list:
    small = "_small" if compact else ""
    head = [_p(c, styles["head_num" + small] if n else styles["head" + small])
            for c, n in zip(block.columns, block.numeric, strict=True)]
    body = [[_p(v, styles["cell_num" + small] if n else styles["cell" + small])
             for v, n in zip(row, block.numeric, strict=True)]
            for row in block.rows]
    parts: list = [] if compact else [CondPageBreak(70 * mm)]
    parts.append(_p(block.title, styles["h2"]))
    if body:
        table = LongTable([head, *body], colWidths=_widths(block, width), repeatRows=1)
        commands = [
            ("LINEBELOW", (0, 0), (-1, 0), 1.0, DARK),
            ("LINEABOVE", (0, 0), (-1, 0), 1.0, DARK),
            ("LINEBELOW", (0, -1), (-1, -1), 0.8, DARK),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 1 if compact else 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1 if compact else 2.5),
        ]
        # zebra rows in light grey: still readable when printed in black and white
        commands += [("BACKGROUND", (0, r), (-1, r), colors.HexColor("#f0f0f0"))
                     for r in range(2, len(body) + 1, 2)]
        table.setStyle(TableStyle(commands))
        parts.append(table)
    if block.note:
        parts.append(_p(block.note, styles["note"]))
    return parts


def _image(png: bytes, width: float, max_height: float) -> Image:
    reader = ImageReader(io.BytesIO(png))
    w, h = reader.getSize()
    scale = min(width / w, max_height / h)
    return Image(io.BytesIO(png), width=w * scale, height=h * scale)


def _charts(charts: list[ChartBlock], styles: dict[str, ParagraphStyle]) -> list:
    parts: list = []
    pending: list[ChartBlock] = []

    def flush() -> None:
        if not pending:
            return
        cells = [[_p(c.title, styles["h2"]) for c in pending],
                 [_image(c.png, WIDTH / 2 - 6, 78 * mm) for c in pending]]
        parts.append(CondPageBreak(95 * mm))
        parts.append(Table(cells, colWidths=[WIDTH / 2] * len(pending), hAlign="LEFT",
                           style=[("VALIGN", (0, 0), (-1, -1), "TOP"),
                                  ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
        pending.clear()

    for chart in charts:
        if chart.wide:
            flush()
            parts += [CondPageBreak(90 * mm), _p(chart.title, styles["h2"]),
                      _image(chart.png, WIDTH, 82 * mm)]
        else:
            pending.append(chart)
            if len(pending) == 2:
                flush()
    flush()
    return parts


def _tiles(figures: list[KeyFigure], styles: dict[str, ParagraphStyle]) -> list:
    if not figures:
        return []
    per_row = min(len(figures), 6)
    cells = []
    for figure in figures:
        cell = [_p(figure.value, styles["tile_value"]), _p(figure.label, styles["tile_label"])]
        if figure.note:
            cell.append(_p(figure.note, styles["tile_note"]))
        cells.append(cell)
    rows = [cells[i:i + per_row] for i in range(0, len(cells), per_row)]
    rows[-1] += [""] * (per_row - len(rows[-1]))
    table = Table(rows, colWidths=[WIDTH / per_row] * per_row, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.8, DARK),
        ("INNERGRID", (0, 0), (-1, -1), 0.5, GREY),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
    ]))
    return [table, Spacer(1, 4 * mm)]


def _section(section: Section, styles: dict[str, ParagraphStyle]) -> list:
    parts: list = [PageBreak(), _p(section.title, styles["h1"]), _p(section.reading, styles["reading"])]
    if section.explanation:
        parts.append(_p(f"How it is computed: {section.explanation}", styles["explain"]))
    parts += _tiles(section.figures, styles)
    parts += _charts(section.charts, styles)
    for block in section.tables:
        parts += _table(block, styles)
    return parts


def _cover(pack: Pack, styles: dict[str, ParagraphStyle]) -> list:
    details = TableBlock(
        "", ("", ""),
        (("Period", pack.period),
         ("Compared with", f"{pack.previous.label()} (the previous period of the same length)"),
         ("Filters", pack.filters.describe()),
         ("Data as of", f"{pack.data_as_of:%d %B %Y}" if pack.data_as_of else "—"),
         ("Attribution model", pack.model.replace("_", " "))),
        (False, False))
    table = Table([[_p(a, styles["tile_label"]), _p(b, styles["cover_sub"])] for a, b in details.rows],
                  colWidths=[45 * mm, WIDTH - 45 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.4, GREY)]))
    contents = " · ".join([s.title for s in pack.sections] + ["About this pack"])
    return [
        Spacer(1, 18 * mm),
        _p(pack.firm, styles["cover_firm"]),
        _p(pack.title, styles["cover_title"]),
        _p("Board pack", styles["cover_sub"]),
        Spacer(1, 8 * mm),
        table,
        Spacer(1, 8 * mm),
        _p(pack.intro, styles["base"]),
        Spacer(1, 5 * mm),
        _p(f"Contents: {contents}", styles["explain"]),
    ]


def _provenance(pack: Pack, styles: dict[str, ParagraphStyle]) -> list:
    prov = pack.provenance
    parts: list = [PageBreak(), _p("About this pack: parameters and inputs", styles["h1"]),
                   _p("Rebuild this pack with the same parameters on data with the same content hash and "
                      "every figure comes out the same. The hash is the SHA-256 of the manifest below "
                      "(one `sha256sum` line per Parquet file, in this order).", styles["base"]),
                   Spacer(1, 3 * mm)]
    rows = [*prov.parameters, ("Data directory", prov.data_dir), ("Content hash (SHA-256)", prov.content_hash),
            ("refport version", prov.version)]
    parts += _table(TableBlock("Parameters", ("Parameter", "Value"), tuple(rows), (False, False)), styles,
                    compact=True)
    parts += _table(TableBlock("Parquet inputs", ("File", "Rows", "SHA-256"), prov.files, (False, True, False)),
                    styles, compact=True)
    if prov.left_out:
        parts += _table(TableBlock("Sections left out", ("Section", "Why"), prov.left_out, (False, False)),
                        styles, compact=True)
    return parts


def render_pdf(pack: Pack) -> bytes:
    _register_fonts()
    styles = _styles()
    buffer = io.BytesIO()
    short_hash = pack.provenance.content_hash[:12]

    def decorate(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor(MID)
        top = PAGE[1] - MARGIN + 2 * mm
        canvas.drawString(MARGIN, top, f"{pack.firm} · {pack.title}")
        canvas.drawRightString(PAGE[0] - MARGIN, top, pack.period)
        canvas.setStrokeColor(GREY)
        canvas.line(MARGIN, top - 2 * mm, PAGE[0] - MARGIN, top - 2 * mm)
        canvas.drawString(MARGIN, MARGIN - 6 * mm,
                          f"refport {pack.provenance.version} · data {short_hash} · {pack.filters.describe()}")
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN - 6 * mm, f"Page {doc.page}")
        canvas.restoreState()

    frame = Frame(MARGIN, MARGIN, WIDTH, PAGE[1] - 2 * MARGIN - 4 * mm, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc = BaseDocTemplate(
        buffer, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=MARGIN, title=f"{pack.title}: {pack.firm}, {pack.period}", author="refport",
        subject="Board pack", creator=f"refport {pack.provenance.version}", invariant=1, lang="en-GB",
    )
    doc.addPageTemplates([
        PageTemplate(id="cover", frames=[frame]),
        PageTemplate(id="body", frames=[frame], onPage=decorate),
    ])
    story: list = [NextPageTemplate("body"), *_cover(pack, styles)]
    for section in pack.sections:
        story += _section(section, styles)
    story += _provenance(pack, styles)
    doc.build(story)
    return buffer.getvalue()
