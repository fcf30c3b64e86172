"""The board pack: one document (PDF, PowerPoint or HTML) for the management board.

``sections.build_pack`` asks the registry for the named queries each section
needs (the same numbers as the app and ``refport query``) and turns them into
a :class:`~dashboard.pack.sections.Pack`; ``render`` writes it in a format::

    pack = build_pack(runner_for(dataset, filters), dataset.data_dir, window, filters, model)
    Path("pack.pdf").write_bytes(render(pack, "pdf"))
"""

from __future__ import annotations

from pathlib import Path

FORMATS = {".pdf": "pdf", ".pptx": "pptx", ".html": "html", ".htm": "html"}
MIME_TYPES = {
    "pdf": "application/pdf",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "html": "text/html",
}
EXTENSIONS = {"pdf": ".pdf", "pptx": ".pptx", "html": ".html"}


class PackFormatError(ValueError):
    """An output file whose extension names no format the pack can be written in."""


def format_for(path: str | Path) -> str:
    """The format from a file name's extension: .pdf (also no extension), .pptx, .html/.htm."""
    suffix = Path(path).suffix.lower()
    if suffix == "":
        return "pdf"
    try:
        return FORMATS[suffix]
    except KeyError:
        raise PackFormatError(
            f"cannot write a board pack as {suffix!r}: use .pdf, .pptx or .html"
        ) from None


def render(pack, fmt: str) -> bytes:
    """The pack as the bytes of a PDF, PPTX or HTML file."""
    if fmt == "pdf":
        from dashboard.pack.render_pdf import render_pdf

        return render_pdf(pack)
    if fmt == "pptx":
        from dashboard.pack.render_pptx import render_pptx

        return render_pptx(pack)
    if fmt == "html":
        from dashboard.pack.render_html import render_html

        return render_html(pack).encode("utf-8")
    raise PackFormatError(f"unknown board pack format {fmt!r}: use pdf, pptx or html")
