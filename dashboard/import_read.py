"""Read CSV and Excel exports as numbered rows of cells, for `refport import`.

``open_source(path_or_bytes, name=...)`` returns a :class:`Source` whose
``rows()`` yields ``(row_number, cells)`` for every row of the file, blank ones
included, numbered as a spreadsheet shows them (1 = first row):

- CSV: the byte-order mark, UTF-8 or Windows-1252 (charset-normalizer decides
  between them when the bytes are not valid UTF-8), UTF-16 with a BOM (Excel's
  "Unicode text"), and the separator (comma, semicolon, tab or pipe: the one
  that splits the rows most consistently). Cells are strings.
- Excel (.xlsx/.xlsm): openpyxl in read-only mode with ``data_only=True`` so
  formulas are never calculated; a formula cell without a stored value becomes
  :class:`FormulaWithoutValue`, an error cell :class:`ExcelError`. Dates come
  back as datetimes in the workbook's own date system (1900 or 1904); numbers
  formatted with leading zeros (``00123``) come back as zero-padded text.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .import_values import EPOCH_1900, EPOCH_1904, ExcelError, FormulaWithoutValue

__all__ = ["CSV_SUFFIXES", "EXCEL_SUFFIXES", "SUFFIXES", "Source", "SourceError", "open_source"]

CSV_SUFFIXES = (".csv", ".txt", ".tsv")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
SUFFIXES = CSV_SUFFIXES + EXCEL_SUFFIXES
DELIMITERS = (",", ";", "\t", "|")
_SNIFF_ROWS = 200
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls


class SourceError(Exception):
    """The file cannot be read at all (wrong type, unknown sheet, undecodable)."""


@dataclass
class Source:
    name: str
    kind: str  # "csv" or "xlsx"
    data: bytes = field(repr=False)
    encoding: str | None = None  # csv
    delimiter: str | None = None  # csv
    sheet: str | None = None  # xlsx
    sheet_names: tuple[str, ...] = ()
    epoch: datetime = EPOCH_1900  # date system of the workbook (text serials in a CSV: 1900)
    estimated_rows: int | None = None
    _text: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        if self.kind == "csv":
            sep = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(
                self.delimiter or "", repr(self.delimiter)
            )
            return f"{self.name} (CSV, {self.encoding}, {sep}-separated)"
        system = "1904" if self.epoch == EPOCH_1904 else "1900"
        return f"{self.name} (Excel, sheet {self.sheet!r}, {system} date system)"

    def rows(self) -> Iterator[tuple[int, list]]:
        if self.kind == "csv":
            yield from _csv_rows(self._text or "", self.delimiter or ",")
        else:
            yield from _xlsx_rows(self.data, self.sheet)


# A line with its ending as io.StringIO(text, newline="") reads them (\r\n, \r or \n), or the last
# line without one. Read this way, not through a StringIO, which copies the text at 4 bytes a character
# (1.4 GB more for a 350 MB extract of 12 million rows).
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _csv_rows(text: str, delimiter: str) -> Iterator[tuple[int, list]]:
    lines = (match.group() for match in _LINE.finditer(text))
    reader = csv.reader(lines, delimiter=delimiter, strict=False)
    yield from enumerate(reader, start=1)


# --------------------------------------------------------------------------- #
# CSV
# --------------------------------------------------------------------------- #


def _decode(data: bytes, encoding: str | None) -> tuple[str, str]:
    if encoding:
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            raise SourceError(f"unknown encoding {encoding!r}") from None
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as err:
            raise SourceError(f"the file is not valid {encoding}: {err}") from None
        return text.removeprefix("\ufeff"), encoding
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "UTF-8 with BOM"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "UTF-16"
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    # Exports from UK/European systems are UTF-8 or Windows-1252; letting the
    # detector pick among every code page turns '£' into 'Ł' (cp1250) or worse.
    best = from_bytes(data, cp_isolation=["utf_8", "cp1252", "latin_1"]).best()
    if best is None:
        raise SourceError("cannot tell the text encoding: save the file as UTF-8 CSV")
    names = {"cp1252": "Windows-1252", "latin_1": "Latin-1", "utf_8": "UTF-8"}
    return str(best), names.get(best.encoding, best.encoding)


def _first_lines(text: str, count: int) -> list[str]:
    """text.splitlines()[:count] without splitting all of a file of millions of lines."""
    size = 1 << 16
    while True:
        lines = text[:size].splitlines()
        if len(lines) > count or size >= len(text):  # the first `count` are whole
            return lines[:count]
        size *= 4


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(_first_lines(text, _SNIFF_ROWS))
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        widths = [
            len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter, strict=False)
            if len(row) > 1
        ]
        if not widths:
            continue
        width, count = Counter(widths).most_common(1)[0]
        score = (count, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


# --------------------------------------------------------------------------- #
# Excel
# --------------------------------------------------------------------------- #

_ZERO_PADDED = re.compile(r"^0+$")


def _load(data: bytes, formulas: bool):
    import openpyxl

    return openpyxl.load_workbook(
        io.BytesIO(data), read_only=True, data_only=not formulas, keep_links=False
    )


def _xlsx_value(cell) -> object:
    value = cell.value
    if value is None:
        return None
    kind = getattr(cell, "data_type", None)
    if kind == "e":
        return ExcelError(str(value))
    if kind == "n" and isinstance(value, (int, float)) and not isinstance(value, bool):
        fmt = getattr(cell, "number_format", None) or ""
        if _ZERO_PADDED.match(fmt) and float(value).is_integer() and value >= 0:
            return str(int(value)).zfill(len(fmt))  # an id shown as 00123
    return value


def _formula_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value if value.startswith("=") else None
    text = getattr(value, "text", None)  # ArrayFormula, DataTableFormula
    return str(text) if text else "=(formula)"


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(data: bytes) -> bool:
    """Whether any worksheet of the workbook holds a formula (a cheap scan of the XML)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for name in archive.namelist():
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                continue
            with archive.open(name) as part:
                tail = b""
                while chunk := part.read(1 << 20):
                    if _FORMULA_TAG.search(tail + chunk):
                        return True
                    tail = chunk[-16:]
    return False


def _xlsx_rows(data: bytes, sheet: str | None) -> Iterator[tuple[int, list]]:
    values_wb = _load(data, formulas=False)
    # A second read, of the formulas, finds the formula cells that have no
    # stored value (they read as empty above); skipped when there are none.
    formulas_wb = _load(data, formulas=True) if _has_formulas(data) else None
    try:
        values_ws = values_wb[sheet]
        # The dimension recorded in a file is often stale: read what is there.
        values_ws.reset_dimensions()
        if formulas_wb is not None:
            formulas_ws = formulas_wb[sheet]
            formulas_ws.reset_dimensions()
            formula_rows = formulas_ws.iter_rows(min_row=1, values_only=True)
        else:
            formula_rows = iter(lambda: (), None)  # endless empty rows
        both = zip(values_ws.iter_rows(min_row=1), formula_rows)
        for number, (cells, formulas) in enumerate(both, start=1):
            row = [_xlsx_value(c) for c in cells]
            for i, formula in enumerate(formulas):
                if formula is None or (i < len(row) and row[i] is not None):
                    continue
                text = _formula_text(formula)
                if text is not None:
                    row.extend([None] * (i + 1 - len(row)))
                    row[i] = FormulaWithoutValue(text)
            while row and row[-1] is None:
                row.pop()
            yield number, row
    finally:
        values_wb.close()
        if formulas_wb is not None:
            formulas_wb.close()


def _open_xlsx(name: str, data: bytes, sheet: str | None) -> Source:
    try:
        wb = _load(data, formulas=False)
    except Exception as err:  # noqa: BLE001 - BadZipFile, KeyError, InvalidFileException, XML errors...
        raise SourceError(f"{name} cannot be read as an Excel workbook: {err}") from None
    try:
        names = tuple(wb.sheetnames)
        if not names:
            raise SourceError(f"{name} has no worksheets")
        if sheet is None:
            sheet = names[0]
        elif sheet not in names:
            raise SourceError(
                f"{name} has no sheet {sheet!r}; its sheets are: {', '.join(map(repr, names))}"
            )
        ws = wb[sheet]
        if not hasattr(ws, "iter_rows"):
            raise SourceError(f"sheet {sheet!r} of {name} is a chart, not a worksheet")
        epoch = EPOCH_1904 if wb.epoch.year == 1904 else EPOCH_1900
        return Source(name, "xlsx", data, sheet=sheet, sheet_names=names, epoch=epoch,
                      estimated_rows=ws.max_row)
    finally:
        wb.close()


# --------------------------------------------------------------------------- #
# Opening
# --------------------------------------------------------------------------- #


def open_source(
    source: str | Path | bytes,
    name: str | None = None,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> Source:
    """Open a CSV or Excel export given as a path or as bytes (with its file name)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist")
        name = name or path.name
        data = path.read_bytes()
    else:
        data = bytes(source)
        name = name or "upload"
    suffix = Path(name).suffix.lower()
    if data.startswith(_OLE_MAGIC):
        raise SourceError(f"{name} is an old-style .xls workbook: save it as .xlsx or CSV")
    if suffix in EXCEL_SUFFIXES or (suffix not in CSV_SUFFIXES and data.startswith(_ZIP_MAGIC)):
        if not data.startswith(_ZIP_MAGIC):
            raise SourceError(f"{name} is not an Excel .xlsx workbook (it is not a zip archive)")
        return _open_xlsx(name, data, sheet)
    if suffix not in CSV_SUFFIXES:
        raise SourceError(
            f"{name}: unsupported file type {suffix or '(none)'}; use CSV (.csv, .txt, .tsv) "
            "or Excel (.xlsx, .xlsm)"
        )
    if data.startswith(_ZIP_MAGIC):
        raise SourceError(f"{name} is a zip archive (an Excel workbook?), not a CSV file")
    if sheet is not None:
        raise SourceError("--sheet applies to Excel workbooks only")
    text, encoding_name = _decode(data, encoding)
    if delimiter is not None and delimiter not in DELIMITERS and len(delimiter) != 1:
        raise SourceError(f"bad delimiter {delimiter!r}: use one character such as ',' or ';'")
    delimiter = delimiter or _sniff_delimiter(text)
    rows = text.count("\n") + (0 if text.endswith("\n") else 1) if text else 0
    return Source(name, "csv", data, encoding=encoding_name, delimiter=delimiter,
                  estimated_rows=rows, _text=text)
