"""Reading spreadsheets: rows of cells from an XLSX or CSV file, streamed.

A file is streamed, never held as a table: memory stays flat however many rows or
columns a file has or claims to have. Rows are cut to the columns an import can use
(plus a few, to name strangers); rows with nothing in them cost next to nothing.
XLSX is read by expat directly rather than by openpyxl's reader, which pads every row
to the sheet's declared width and holds a whole row's cells, and every row it has
passed, as XML elements (a 13 KB file took 900 MB).
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import posixpath
import zipfile
import zlib
from datetime import datetime
from itertools import islice
from typing import Any, Callable, Iterator, NamedTuple
from xml.parsers import expat

from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH, from_excel, from_ISO8601

EXTRA_COLUMNS = 10                    # read past the template's columns only to name strangers
CELL_CHARS = 32_767                   # Excel's own limit for one cell
CSV_LINE_CHARS = 200_000              # a table's row is never near this (csv allows 128 KB a cell)
XLSX_PART_BYTES = 16 * 1024 * 1024    # workbook, styles, shared strings: each held whole, unzipped
XLSX_SHEET_BYTES = 128 * 1024 * 1024  # the sheet is streamed; this bounds the time it takes
BROKEN = "文件已损坏或不是 Excel（.xlsx）文件"
# Excel in Chinese saves some date formats by number alone (ECMA-376 leaves 27–36 and
# 50–58 to the locale; in zh-CN every one is a date or a time)
LOCALE_DATE_FORMATS = frozenset(range(27, 37)) | frozenset(range(50, 59))


class NotASpreadsheet(ValueError):
    pass


class Row(NamedTuple):
    number: int          # as the spreadsheet numbers it (CSV: the record's number)
    cells: list[Any]     # at most ``width`` values
    wider: bool          # something is written past ``width`` cells


def read_table(data: bytes, filename: str, width: int) -> Iterator[Row]:
    """The rows of XLSX or CSV bytes that have something in them, cut to ``width``
    cells; refuses anything else."""
    if data[:4] == b"PK\x03\x04":
        yield from _read_xlsx(data, width)
        return
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise NotASpreadsheet("这是旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 或 CSV 后再导入")
    encoding = _text_encoding(data)
    if encoding is None or b"\x00" in data:  # no UTF-8 or GB18030 text has a zero byte
        raise NotASpreadsheet("文件不是电子表格（只接受 .xlsx 或 .csv）")
    lines = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    try:
        for number, row in enumerate(csv.reader(_lines(lines)), 1):
            if row:
                yield Row(number, row[:width], any(c.strip() for c in islice(row, width, None)))
    except csv.Error as exc:  # e.g. a field over csv's limit of 128 KB
        raise NotASpreadsheet("CSV 文件无法读取：有格式错误或过长（超过 128 KB）的单元格") from exc


def _text_encoding(data: bytes) -> str | None:
    """UTF-8, or the GB18030 that Excel on Chinese Windows writes: whichever decodes the
    whole file (checked in pieces, so no second copy of the file is made)."""
    view = memoryview(data)
    for encoding in ("utf-8-sig", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for at in range(0, len(data), 1 << 20):
                decoder.decode(view[at:at + (1 << 20)])
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    return None


def _lines(stream: io.TextIOWrapper) -> Iterator[str]:
    """The file's lines, none longer than CSV_LINE_CHARS: csv holds a whole row's fields
    at once, and a line of ten million commas is ten million of them."""
    for number, line in enumerate(iter(lambda: stream.readline(CSV_LINE_CHARS + 1), ""), 1):
        if len(line) > CSV_LINE_CHARS:
            raise NotASpreadsheet(f"CSV 文件第{number}行超过 {CSV_LINE_CHARS // 10000} 万个字符，不是可导入的表格")
        yield line


def _read_xlsx(data: bytes, width: int) -> Iterator[Row]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        with archive:
            sheet, strings_part, styles_part, epoch = _workbook(archive)
            strings = _shared_strings(archive, strings_part) if strings_part else []
            reader = _SheetReader(width, strings, _date_styles(archive, styles_part) if styles_part else b"", epoch)
            for _ in _xml(archive, sheet, XLSX_SHEET_BYTES, reader.start, reader.end, reader.text):
                yield from reader.rows
                reader.rows.clear()
    except NotASpreadsheet:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, IndexError, ValueError,
            NotImplementedError, RuntimeError, expat.ExpatError) as exc:  # RuntimeError: encrypted
        raise NotASpreadsheet(BROKEN) from exc


def _xml(archive: zipfile.ZipFile, name: str, limit: int, start: Callable, end: Callable | None = None,
         text: Callable | None = None) -> Iterator[None]:
    """Stream one part of the archive through expat, yielding after each piece so the
    caller can take what the handlers collected. Names come as "namespace name" (see
    ``_local``). No DTD (OOXML has none), so no entity can expand."""
    info = archive.getinfo(name)
    if info.file_size > limit:  # zipfile stops at the declared size, so this is a true bound
        raise NotASpreadsheet(f"表格内容过大（解压后超过 {limit // 1024 // 1024} MB），"
                              f"请删去多余的行、列和格式，或分成几个文件导入")
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.StartElementHandler = start
    if end:
        parser.EndElementHandler = end
    if text:
        parser.CharacterDataHandler = text

    def no_dtd(*args: Any) -> None:
        raise NotASpreadsheet(BROKEN)
    parser.StartDoctypeDeclHandler = no_dtd
    with archive.open(info) as stream:
        while chunk := stream.read(64 * 1024):
            parser.Parse(chunk, False)
            yield
    parser.Parse(b"", True)
    yield


@functools.lru_cache(maxsize=256)
def _local(tag: str) -> str:
    """A name without its namespace, whichever the file uses (cached: called per element)."""
    return tag.rpartition(" ")[2]


def _read_part(archive: zipfile.ZipFile, name: str, start: Callable, end: Callable | None = None,
           text: Callable | None = None) -> None:
    for _ in _xml(archive, name, XLSX_PART_BYTES, start, end, text):
        pass


def _relations(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """A part's relationships: id -> (the type's last word, the target's path)."""
    folder, _, name = part.rpartition("/")
    found: dict[str, tuple[str, str]] = {}

    def start(tag: str, attrs: dict[str, str]) -> None:
        tag = _local(tag)
        if tag == "Relationship" and attrs.get("TargetMode") != "External":
            target = attrs["Target"]
            path = target[1:] if target.startswith("/") else posixpath.normpath(posixpath.join(folder, target))
            found[attrs["Id"]] = (attrs["Type"].rpartition("/")[2], path)
    _read_part(archive, f"{folder}/_rels/{name}.rels" if folder else f"_rels/{name}.rels", start)
    return found


def _workbook(archive: zipfile.ZipFile) -> tuple[str, str | None, str | None, datetime]:
    """The first worksheet, the shared strings and styles parts, and the date system."""
    book = next((path for kind, path in _relations(archive, "").values() if kind == "officeDocument"),
                "xl/workbook.xml")
    sheets: list[str] = []
    epoch = [WINDOWS_EPOCH]

    def start(tag: str, attrs: dict[str, str]) -> None:
        tag = _local(tag)
        if tag == "sheet":
            sheets.extend(v for k, v in attrs.items() if k.endswith(" id"))  # r:id
        elif tag == "workbookPr" and attrs.get("date1904") in ("1", "true"):
            epoch[0] = CALENDAR_MAC_1904
    _read_part(archive, book, start)
    parts = _relations(archive, book)
    worksheets = [parts[r][1] for r in sheets if r in parts and parts[r][0] == "worksheet"]
    if not worksheets:
        raise NotASpreadsheet("文件里没有工作表")
    by_kind = {kind: path for kind, path in reversed(parts.values())}  # the first of each kind
    return worksheets[0], by_kind.get("sharedStrings"), by_kind.get("styles"), epoch[0]


def _shared_strings(archive: zipfile.ZipFile, name: str) -> list[str]:
    strings: list[str] = []
    parts: list[str] = []
    state = {"t": False, "phonetic": 0, "size": 0}

    def start(tag: str, attrs: dict[str, str]) -> None:
        tag = _local(tag)
        if tag == "si":
            parts.clear()
            state["size"] = 0
        elif tag == "t":
            state["t"] = not state["phonetic"]
        elif tag == "rPh":  # the pronunciation guide over the text, not the text
            state["phonetic"] += 1

    def end(tag: str) -> None:
        tag = _local(tag)
        if tag == "si":
            strings.append("".join(parts))
        elif tag == "t":
            state["t"] = False
        elif tag == "rPh":
            state["phonetic"] -= 1

    def text(data: str) -> None:
        if state["t"] and state["size"] < CELL_CHARS:
            parts.append(data)
            state["size"] += len(data)
    _read_part(archive, name, start, end, text)
    return strings


def _date_styles(archive: zipfile.ZipFile, name: str) -> bytes:
    """For each cell style, by number: 1 if it shows a date, 2 a duration, else 0."""
    from openpyxl.styles.numbers import (
        BUILTIN_FORMATS,
        is_date_format,
        is_timedelta_format,
    )

    custom: dict[int, str] = {}
    kinds: dict[int, int] = {}
    styles = bytearray()
    where = {"cellXfs": False}

    def kind(number: int) -> int:
        if number not in kinds:
            code = custom.get(number) or BUILTIN_FORMATS.get(number)
            if code and len(code) <= 255:  # Excel's limit; longer is no format of Excel's
                kinds[number] = 2 if is_timedelta_format(code) else 1 if is_date_format(code) else 0
            else:
                kinds[number] = 1 if number in LOCALE_DATE_FORMATS else 0
        return kinds[number]

    def start(tag: str, attrs: dict[str, str]) -> None:
        tag = _local(tag)
        if tag == "numFmt":
            custom[int(attrs["numFmtId"])] = attrs.get("formatCode", "")
        elif tag == "cellXfs":
            where["cellXfs"] = True
        elif tag == "xf" and where["cellXfs"]:
            styles.append(kind(int(attrs.get("numFmtId", 0))))

    def end(tag: str) -> None:
        tag = _local(tag)
        if tag == "cellXfs":
            where["cellXfs"] = False
    _read_part(archive, name, start, end)
    return bytes(styles)


class _SheetReader:
    """expat handlers for a worksheet: completed rows collect in ``rows``, each with only
    the first ``width`` cells; what lies beyond is noticed, not kept."""

    def __init__(self, width: int, strings: list[str], dates: bytes, epoch: datetime) -> None:
        self.width, self.strings, self.dates, self.epoch = width, strings, dates, epoch
        self.rows: list[Row] = []
        self.number = self.column = 0
        self.cells: list[Any] | None = None
        self.wider = False
        self.keep = False                    # the current cell is one we read
        self.kind, self.style = "n", 0
        self.value: list[str] | None = None  # its text, once a <v> or inline string starts
        self.collect = self.inline = False
        self.phonetic = 0
        self.size = 0

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        tag = _local(tag)
        if tag == "c":
            ref = attrs.get("r")
            self.column = _column(ref) if ref else self.column + 1
            self.keep = self.column <= self.width
            self.value = None
            if self.keep:
                self.kind, self.style = attrs.get("t", "n"), int(attrs.get("s", 0))
        elif tag == "v" or tag == "is":
            if not self.keep:
                self.wider = True
            elif tag == "is" or self.kind != "inlineStr":
                self.value, self.size = [], 0
                self.collect, self.inline = tag == "v", tag == "is"
        elif tag == "t":
            self.collect = self.inline and self.keep and not self.phonetic
        elif tag == "rPh":
            self.phonetic += 1
        elif tag == "row":
            ref = attrs.get("r")
            self.number = int(ref) if ref else self.number + 1
            self.column, self.cells, self.wider = 0, None, False

    def end(self, tag: str) -> None:
        tag = _local(tag)
        if tag == "c":
            if self.keep and self.value is not None:
                value = self.convert("".join(self.value))
                if value is not None:
                    if self.cells is None:
                        self.cells = [None] * self.width
                    self.cells[self.column - 1] = value
            self.keep = False
        elif tag == "v" or tag == "t":
            self.collect = False
        elif tag == "is":
            self.inline = False
        elif tag == "rPh":
            self.phonetic -= 1
        elif tag == "row" and (self.cells is not None or self.wider):
            self.rows.append(Row(self.number, self.cells or [None] * self.width, self.wider))

    def text(self, data: str) -> None:
        if self.collect and self.size < CELL_CHARS:
            self.value.append(data)
            self.size += len(data)

    def convert(self, text: str) -> Any:
        """As openpyxl reads a cell's cached value (formulas are not run)."""
        kind = self.kind
        if kind == "inlineStr":
            return text
        if not text:
            return None
        if kind == "str" or kind == "e":  # a formula's text, an error such as #N/A
            return text
        if kind == "s":
            return self.strings[int(text)]
        if kind == "b":
            return text.strip() in ("1", "true")
        if kind == "d":
            return from_ISO8601(text)
        number = float(text) if "." in text or "e" in text or "E" in text else int(text)
        date = self.dates[self.style] if self.style < len(self.dates) else 0
        if date:
            try:
                return from_excel(number, self.epoch, timedelta=date == 2)
            except (OverflowError, ValueError):
                return "#VALUE!"
        return number


def _column(ref: str) -> int:
    """The column of a cell reference: B5 -> 2; anything past Excel's last column (XFD)
    as the one after it, so a reference a megabyte long costs no more than XFD5."""
    number = 0
    for char in ref:
        if not "A" <= char <= "Z":
            break
        number = number * 26 + ord(char) - 64
        if number > 16_384:
            return 16_385
    if not number:
        raise ValueError(f"bad cell reference {ref[:20]!r}")
    return number


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
