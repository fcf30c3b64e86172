"""The board pack as PowerPoint slides (python-pptx), for firms that paste them into their own deck.

Slides, 16:9: a cover; per section one slide with its reading and key
figures, one per chart (two half-width charts share one) and one per table
page, a long table continuing on the next slide with its header and
"(continued)" in the title; last, the parameters and the content hash.
Every slide has a real title placeholder, so the outline and screen
readers see the structure.
"""

from __future__ import annotations

import io
from datetime import datetime

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import PP_ALIGN
from pptx.util import Emu, Inches, Pt

from dashboard.pack.sections import ChartBlock, KeyFigure, Pack, Section, TableBlock

SLIDE_W, SLIDE_H = Inches(13.333), Inches(7.5)
LEFT = Inches(0.5)
TOP = Inches(1.25)
BODY_W = SLIDE_W - 2 * LEFT
BODY_H = SLIDE_H - TOP - Inches(0.45)
ROWS_PER_SLIDE = 14
INK = RGBColor(0x22, 0x22, 0x22)
GREY = RGBColor(0x59, 0x59, 0x59)
WHITE = RGBColor(0xFF, 0xFF, 0xFF)
ZEBRA = RGBColor(0xEE, 0xEE, 0xEE)
FONT = "Arial"
TITLE_ONLY = 5  # the default template's "Title Only" layout


def _slide(prs: Presentation, title: str, pack: Pack):
    slide = prs.slides.add_slide(prs.slide_layouts[TITLE_ONLY])
    shape = slide.shapes.title
    shape.left, shape.top, shape.width, shape.height = LEFT, Inches(0.3), BODY_W, Inches(0.8)
    shape.text = title
    paragraph = shape.text_frame.paragraphs[0]
    paragraph.alignment = PP_ALIGN.LEFT
    for run in paragraph.runs:
        run.font.size, run.font.bold, run.font.name, run.font.color.rgb = Pt(28), True, FONT, INK
    footer = slide.shapes.add_textbox(LEFT, SLIDE_H - Inches(0.4), BODY_W, Inches(0.3))
    _text(footer.text_frame, f"{pack.firm} · {pack.title} · {pack.period} · data "
                             f"{pack.provenance.content_hash[:12]}", 9, color=GREY)
    return slide


def _text(frame, text: str, size: float, bold: bool = False, color: RGBColor = INK,
          italic: bool = False, align: PP_ALIGN | None = None, new: bool = False) -> None:
    frame.word_wrap = True
    paragraph = frame.add_paragraph() if new else frame.paragraphs[0]
    if align is not None:
        paragraph.alignment = align
    run = paragraph.add_run()
    run.text = text
    run.font.size, run.font.bold, run.font.italic, run.font.name = Pt(size), bold, italic, FONT
    run.font.color.rgb = color


def _tiles(slide, figures: list[KeyFigure], top: Emu) -> None:
    per_row = min(len(figures), 6)
    width = int(BODY_W / per_row)
    for index, figure in enumerate(figures):
        row, col = divmod(index, per_row)
        box = slide.shapes.add_textbox(LEFT + col * width, top + row * Inches(1.15), width - Inches(0.1),
                                       Inches(1.1))
        box.line.color.rgb = INK
        box.line.width = Pt(0.75)
        _text(box.text_frame, figure.value, 20, bold=True)
        _text(box.text_frame, figure.label, 11, color=GREY, new=True)
        if figure.note:
            _text(box.text_frame, figure.note, 10, new=True)


def _overview(prs: Presentation, pack: Pack, section: Section) -> None:
    slide = _slide(prs, section.title, pack)
    rows = (len(section.figures) + 5) // 6
    reading_h = BODY_H - rows * Inches(1.15) - Inches(0.2)
    box = slide.shapes.add_textbox(LEFT, TOP, BODY_W, reading_h)
    _text(box.text_frame, section.reading, 16)
    if section.explanation:
        _text(box.text_frame, f"How it is computed: {section.explanation}", 11, color=GREY, italic=True,
              new=True)
    if section.figures:
        _tiles(slide, section.figures, TOP + reading_h + Inches(0.1))


def _picture(slide, chart: ChartBlock, left: Emu, top: Emu, width: Emu, height: Emu) -> None:
    picture = slide.shapes.add_picture(io.BytesIO(chart.png), left, top)
    scale = min(width / picture.width, height / picture.height)
    picture.width, picture.height = int(picture.width * scale), int(picture.height * scale)
    picture.left = left + int((width - picture.width) / 2)
    # alternative text for screen readers: the chart's description
    picture._element.nvPicPr.cNvPr.set("descr", chart.description)


def _charts(prs: Presentation, pack: Pack, charts: list[ChartBlock]) -> None:
    pending: list[ChartBlock] = []

    def flush() -> None:
        if not pending:
            return
        slide = _slide(prs, " · ".join(c.title for c in pending), pack)
        width = int(BODY_W / len(pending))
        for index, chart in enumerate(pending):
            _picture(slide, chart, LEFT + index * width, TOP, width - Inches(0.1), BODY_H - Inches(0.5))
            note = slide.shapes.add_textbox(LEFT + index * width, TOP + BODY_H - Inches(0.45),
                                            width - Inches(0.1), Inches(0.4))
            _text(note.text_frame, chart.description, 10, color=GREY, italic=True)
        pending.clear()

    for chart in charts:
        if chart.wide:
            flush()
            pending.append(chart)
            flush()
        else:
            pending.append(chart)
            if len(pending) == 2:
                flush()
    flush()


def _table(prs: Presentation, pack: Pack, block: TableBlock) -> None:
    pages = [block.rows[i:i + ROWS_PER_SLIDE] for i in range(0, len(block.rows), ROWS_PER_SLIDE)] or [()]
    weights = block.weights()
    for number, rows in enumerate(pages):
        title = block.title + (" (continued)" if number else "")
        slide = _slide(prs, title, pack)
        if not rows:
            box = slide.shapes.add_textbox(LEFT, TOP, BODY_W, Inches(1))
            _text(box.text_frame, block.note or "Nothing to list.", 16)
            continue
        height = Inches(0.36) * (len(rows) + 1)
        shape = slide.shapes.add_table(len(rows) + 1, len(block.columns), LEFT, TOP, BODY_W, height)
        table = shape.table
        for index, weight in enumerate(weights):
            table.columns[index].width = int(BODY_W * weight / sum(weights))
        for r, values in enumerate([block.columns, *rows]):
            for c, value in enumerate(values):
                cell = table.cell(r, c)
                cell.text = ""
                # black header with white text, zebra rows in light grey: prints in black and white
                cell.fill.solid()
                cell.fill.fore_color.rgb = INK if r == 0 else (ZEBRA if r % 2 == 0 else WHITE)
                _text(cell.text_frame, value, 11 if r else 11.5, bold=(r == 0), color=WHITE if r == 0 else INK,
                      align=PP_ALIGN.RIGHT if block.numeric[c] else PP_ALIGN.LEFT)
                cell.margin_top = cell.margin_bottom = Inches(0.03)
        if block.note and number == len(pages) - 1:
            note = slide.shapes.add_textbox(LEFT, TOP + height + Inches(0.1), BODY_W, Inches(0.4))
            _text(note.text_frame, block.note, 11, color=GREY, italic=True)


def _cover(prs: Presentation, pack: Pack) -> None:
    slide = prs.slides.add_slide(prs.slide_layouts[TITLE_ONLY])
    title = slide.shapes.title
    title.left, title.top, title.width, title.height = LEFT, Inches(1.6), BODY_W, Inches(1.2)
    title.text = pack.title
    paragraph = title.text_frame.paragraphs[0]
    paragraph.alignment = PP_ALIGN.LEFT
    for run in paragraph.runs:
        run.font.size, run.font.bold, run.font.name, run.font.color.rgb = Pt(40), True, FONT, INK
    firm = slide.shapes.add_textbox(LEFT, Inches(1.0), BODY_W, Inches(0.6))
    _text(firm.text_frame, f"{pack.firm} · Board pack", 20, color=GREY)
    details = slide.shapes.add_textbox(LEFT, Inches(3.0), BODY_W, Inches(3.8))
    lines = [
        ("Period", pack.period),
        ("Compared with", f"{pack.previous.label()} (the previous period of the same length)"),
        ("Filters", pack.filters.describe()),
        ("Data as of", f"{pack.data_as_of:%d %B %Y}" if pack.data_as_of else "—"),
        ("Attribution model", pack.model.replace("_", " ")),
    ]
    for index, (label, value) in enumerate(lines):
        _text(details.text_frame, f"{label}: {value}", 18, new=index > 0)
    _text(details.text_frame, pack.intro, 12, color=GREY, new=True)


def _provenance(prs: Presentation, pack: Pack) -> None:
    prov = pack.provenance
    rows = (*prov.parameters, ("Data directory", prov.data_dir), ("Content hash (SHA-256)", prov.content_hash),
            ("refport version", prov.version))
    _table(prs, pack, TableBlock("About this pack: parameters", ("Parameter", "Value"), rows, (False, False)))
    _table(prs, pack, TableBlock("About this pack: Parquet inputs", ("File", "Rows", "SHA-256"), prov.files,
                                 (False, True, False),
                                 "The content hash is the SHA-256 of these lines, one `sha256sum` line per file."))
    if prov.left_out:
        _table(prs, pack, TableBlock("About this pack: sections left out", ("Section", "Why"), prov.left_out,
                                     (False, False)))


def render_pptx(pack: Pack) -> bytes:
    prs = Presentation()
    prs.slide_width, prs.slide_height = SLIDE_W, SLIDE_H
    properties = prs.core_properties
    properties.title = f"{pack.title}: {pack.firm}, {pack.period}"
    properties.author = properties.last_modified_by = "refport"
    properties.subject = "Board pack"
    stamp = datetime(pack.window.end.year, pack.window.end.month, pack.window.end.day)
    properties.created = properties.modified = stamp
    properties.revision = 1
    _cover(prs, pack)
    for section in pack.sections:
        _overview(prs, pack, section)
        _charts(prs, pack, section.charts)
        for block in section.tables:
            _table(prs, pack, block)
    _provenance(prs, pack)
    buffer = io.BytesIO()
    prs.save(buffer)
    return buffer.getvalue()
