"""Spreadsheet import, for any model declared ``importable``: one path for all of them.

A file is read into rows (XLSX, or CSV in UTF-8 or the GB18030 that Excel on Chinese
Windows writes), headers are matched to the model's Chinese labels, each cell is
converted by its column's declaration and each row is checked by the model's own
rules. Every problem is kept with its row number and field label. Nothing is written
until the whole file is clean; then every row goes in one transaction.
"""

from __future__ import annotations

import codecs
import csv
import functools
import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field as dc_field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any, Callable, Iterator, NamedTuple
from xml.parsers import expat

from openpyxl.utils.datetime import CALENDAR_MAC_1904, WINDOWS_EPOCH, from_excel, from_ISO8601

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, Numeric, String, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, mapped_column

from . import db, now
from .declare import ChoiceType, Invalid, attr_info, column_label, lookup_fields
from .scoping import scope_clause

MAX_ROWS = 100_000
PREVIEW_ROWS = 200
MAX_PROBLEMS = 1000  # a file wrong throughout says so in a page, not in 100,000 lines


class ImportJob(db.Model):
    """One upload: where it is, how far checking or writing has got, what was wrong."""

    __tablename__ = "import_job"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(60))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(200))
    stored: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default="uploaded")  # checking, invalid, valid, done, failed
    total_rows: Mapped[int] = mapped_column(Integer, default=0)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list | None] = mapped_column(JSON)
    preview: Mapped[list | None] = mapped_column(JSON)
    created: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


@dataclass
class Problem:
    row: int | None          # spreadsheet row number (headers are row 1); None for the file
    field: str | None        # Chinese label
    message: str

    def text(self) -> str:
        where = f"第{self.row}行" if self.row else "文件"
        return f"{where}{f'「{self.field}」' if self.field else ''}：{self.message}"


@dataclass
class Column:
    """How one spreadsheet column becomes one attribute."""

    name: str
    label: str
    required: bool
    convert: Callable[[Any, Any], Any]  # (value, user) -> python value; raises ValueError(message)


@dataclass
class Parsed:
    columns: list[Column]
    rows: list[dict[str, Any]] = dc_field(default_factory=list)   # attribute values, by name
    raw: list[list[str]] = dc_field(default_factory=list)        # as read, for the preview
    problems: list[Problem] = dc_field(default_factory=list)


# -- reading a file ------------------------------------------------------------------
#
# A file is streamed, never held as a table: memory stays flat however many rows or
# columns a file has or claims to have. Rows are cut to the columns an import can use
# (plus a few, to name strangers); rows with nothing in them cost next to nothing.
# XLSX is read by expat directly rather than by openpyxl's reader, which pads every row
# to the sheet's declared width and holds a whole row's cells, and every row it has
# passed, as XML elements (a 13 KB file took 900 MB).

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
    from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format

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


# -- converting cells, by the column's declaration ---------------------------------------


DATE_PATTERNS = [re.compile(p) for p in (
    r"^(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})$",
    r"^(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日?$",
    r"^(?P<m>\d{1,2})月(?P<d>\d{1,2})日?$",
)]


def to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().split(" ")[0]
    for pattern in DATE_PATTERNS:
        match = pattern.match(text)
        if match:
            parts = match.groupdict()
            if "y" not in parts or parts.get("y") is None:
                raise ValueError(f"“{text}”缺少年份，请写成 2026-06-30")
            try:
                return date(int(parts["y"]), int(parts["m"]), int(parts["d"]))
            except ValueError:
                raise ValueError(f"“{text}”不是有效日期") from None
    raise ValueError(f"“{text}”不是日期，请写成 2026-06-30")


def to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return datetime.combine(to_date(value), datetime.min.time())


def to_number(value: Any, integer: bool) -> Decimal | int:
    if isinstance(value, bool):
        raise ValueError("应为数字")
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(str(value))
    else:
        text = str(value).strip().replace(",", "").replace("，", "")
        try:
            number = Decimal(text)
        except InvalidOperation:
            digits = re.match(r"^-?\d+(\.\d+)?", text)
            hint = f"（如“{text}”应填 {digits.group(0)}）" if digits else ""
            raise ValueError(f"应为数字，不要带单位或文字{hint}") from None
    if not number.is_finite():  # 1e999 in a sheet is read as infinity
        raise ValueError("应为数字")
    if integer:
        if number != number.to_integral():
            raise ValueError("应为整数")
        return int(number)
    return number


TRUE, FALSE = {"是", "y", "yes", "true", "1", "√", "✓"}, {"否", "n", "no", "false", "0", "×", ""}


def to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError("应填“是”或“否”")


def columns_for(model: type) -> list[Column]:
    """The importable columns of ``model``: its form fields, minus files and to-many."""
    from sqlalchemy import Column as SAColumn

    spec = model.__admin__
    mapper = sa_inspect(model)
    names = list(spec.import_columns or spec.form_columns)
    out = []
    for name in names:
        label = column_label(model, name)
        if name in mapper.relationships:
            rel = mapper.relationships[name]
            if rel.uselist:
                continue
            local = list(rel.local_columns)[0]
            out.append(Column(name, label, not local.nullable, _relation_converter(rel.mapper.class_, label)))
            continue
        attr = mapper.column_attrs[name]
        column = attr.columns[0]
        info = attr_info(attr)
        if not isinstance(column, SAColumn) or info.get("upload"):
            continue
        required = not column.nullable and column.default is None and not isinstance(column.type, Boolean)
        out.append(Column(name, label, required, _converter(column)))
    return out


def _converter(column: Any) -> Callable[[Any, Any], Any]:
    ctype = column.type
    if isinstance(ctype, ChoiceType):
        choices = ctype.choices

        def choice(value: Any, user: Any) -> Any:
            member = choices.from_label(str(value))
            if member is None:
                raise ValueError(f"“{value}”不是可选值（可选：{'、'.join(m.label for m in choices)}）")
            return member
        return choice
    if isinstance(ctype, Boolean):
        return lambda v, u: to_bool(v)
    if isinstance(ctype, DateTime):
        return lambda v, u: to_datetime(v)
    if isinstance(ctype, Date):
        return lambda v, u: to_date(v)
    if isinstance(ctype, Integer):
        return lambda v, u: to_number(v, integer=True)
    if isinstance(ctype, Numeric):
        return lambda v, u: to_number(v, integer=False)
    length = getattr(ctype, "length", None)

    def text(value: Any, user: Any) -> str:
        out = (value.strftime("%Y-%m-%d") if isinstance(value, (date, datetime)) else str(value)).strip()
        if isinstance(value, float) and value.is_integer():
            out = str(int(value))  # Excel turns 502 into 502.0
        if length and len(out) > length:
            raise ValueError(f"不能超过 {length} 个字")
        return out
    return text


def _relation_converter(target: type, label: str) -> Callable[[Any, Any], Any]:
    key = lookup_fields(target)[0]
    cache: dict[Any, dict[str, Any]] = {}

    def find(value: Any, user: Any) -> Any:
        if id(user) not in cache:  # one query per file, not per row
            stmt = select(target)
            clause = scope_clause(target, user)
            rows = db.session.scalars(stmt if clause is None else stmt.where(clause)).all()
            found: dict[str, Any] = {}
            for row in rows:
                found.setdefault(str(getattr(row, key)).strip(), []).append(row)
            cache[id(user)] = found
        text = str(value).strip()
        matches = cache[id(user)].get(text, [])
        if not matches:
            raise ValueError(f"找不到“{text}”（或不在您的管辖范围内）")
        if len(matches) > 1:
            raise ValueError(f"“{text}”对应多条记录，无法确定")
        return matches[0]
    return find


# -- checking a whole file ------------------------------------------------------------


def parse(model: type, data: bytes, filename: str, user: Any,
          progress: Callable[[int, int], None] | None = None) -> Parsed:
    """Read, convert and check every row; nothing is written.

    The file is read row by row. With ``progress`` (large files, checked in the
    background) a first pass counts the rows, which is cheap next to checking them:
    the counter then has a true total, and a file over MAX_ROWS is refused at once."""
    columns = columns_for(model)
    width = len(columns) + EXTRA_COLUMNS
    try:
        total = count_rows(data, filename, width) if progress else None
        if total is not None and total > MAX_ROWS:
            return Parsed(columns, problems=[_too_many()])
        return _parse_rows(model, columns, read_table(data, filename, width), user, total, progress)
    except NotASpreadsheet as exc:  # also when found part-way through the file
        return Parsed(columns, problems=[Problem(None, None, str(exc))])


def count_rows(data: bytes, filename: str, width: int) -> int:
    """The data rows (filled rows after the header), counted to one past MAX_ROWS at most."""
    rows = _filled(read_table(data, filename, width))
    next(rows, None)
    return sum(1 for _ in islice(rows, MAX_ROWS + 1))


def _filled(rows: Iterator[Row]) -> Iterator[Row]:
    """Rows with something in them, if only past the columns read."""
    return (row for row in rows if row.wider or not all(_blank(c) for c in row.cells))


def _too_many() -> Problem:
    return Problem(None, None, f"一次最多导入 {MAX_ROWS} 行，本文件超过 {MAX_ROWS} 行")


def _parse_rows(model: type, columns: list[Column], rows: Iterator[Row], user: Any, total: int | None,
                progress: Callable[[int, int], None] | None) -> Parsed:
    parsed = Parsed(columns)
    rows = _filled(rows)
    first = next(rows, None)  # the header
    if first is None:
        parsed.problems.append(Problem(None, None, "文件是空的：没有表头，也没有数据"))
        return parsed
    header = [str(c).strip().lstrip("*＊").strip() if c is not None else "" for c in first.cells]
    by_label = {c.label: c for c in columns} | {c.name: c for c in columns}
    expected = f"（应为：{'、'.join(c.label for c in columns)}；可下载模板对照）"
    unknown = [h for h in header if h and h not in by_label]
    if unknown:
        parsed.problems.append(Problem(first.number, None, f"无法识别的列：{'、'.join(unknown)}{expected}"))
    if first.wider:
        parsed.problems.append(Problem(first.number, None, f"第 {len(header)} 列之后还有内容，"
                                                           f"表头不能超过 {len(header)} 列{expected}"))
    present = {by_label[h].name for h in header if h in by_label}
    missing = [c.label for c in columns if c.required and c.name not in present]
    if missing:
        parsed.problems.append(Problem(first.number, None, f"缺少必填列：{'、'.join(missing)}"))
    if parsed.problems:
        return parsed
    index = {by_label[h].name: i for i, h in enumerate(header) if h in by_label}
    width = len(header)
    unique_sets = _unique_sets(model, [c.name for c in columns])
    seen: dict[tuple, int] = {}
    for count, (number, row, _) in enumerate(rows, 1):
        if count > MAX_ROWS:  # stop reading here: the rest is never looked at
            return Parsed(columns, problems=[_too_many()])
        values, cells = {}, []
        for column in columns:
            at = index.get(column.name, width)
            raw = row[at] if at < len(row) else None  # a CSV row may stop short
            cells.append("" if raw is None else str(raw))
            if _blank(raw):
                if column.required:
                    parsed.problems.append(Problem(number, column.label, "必填，不能为空"))
                continue
            try:
                values[column.name] = column.convert(raw, user)
            except ValueError as exc:
                parsed.problems.append(Problem(number, column.label, str(exc)))
        for names in unique_sets:
            key = tuple(_key(values.get(n)) for n in names)
            if None in key:
                continue
            labels = "、".join(column_label(model, n) for n in names)
            if key in seen:
                parsed.problems.append(Problem(number, labels, f"与第{seen[key]}行重复"))
            else:
                seen[key] = number
        parsed.rows.append({"__row__": number, **values})
        if len(parsed.raw) < PREVIEW_ROWS:
            parsed.raw.append([str(number), *cells])
        if len(parsed.problems) >= MAX_PROBLEMS:
            return _enough(parsed)
        if progress and count % 200 == 0:  # reading is half the work, the rules the other
            progress(count // 2, total)
    if not parsed.rows:
        parsed.problems.append(Problem(None, None, "文件只有表头，没有数据行"))
        return parsed
    checked = len(parsed.rows)
    _check_existing(model, parsed, unique_sets)
    _check_rules(model, parsed, progress and (lambda done: progress((checked + done) // 2, checked)))
    return _enough(parsed) if len(parsed.problems) >= MAX_PROBLEMS else parsed


def _enough(parsed: Parsed) -> Parsed:
    """The first MAX_PROBLEMS problems, and a word that checking stopped there."""
    del parsed.problems[MAX_PROBLEMS:]
    parsed.problems.append(Problem(None, None, f"问题已达 {MAX_PROBLEMS} 处，检查到此为止（其余的行未检查）；"
                                               f"请改正以上问题后重新上传"))
    return parsed


def _key(value: Any) -> Any:
    return getattr(value, "id", value) if value is not None else None


def _unique_sets(model: type, importable: list[str]) -> list[tuple[str, ...]]:
    """Unique columns and constraints, by attribute name (relations for their FKs)."""
    from sqlalchemy import UniqueConstraint

    mapper = sa_inspect(model)
    by_column = {}
    for rel in mapper.relationships:
        for local in rel.local_columns:
            by_column[local.name] = rel.key
    for attr in mapper.column_attrs:
        by_column.setdefault(attr.columns[0].name, attr.key)
    sets = [(by_column[c.name],) for c in model.__table__.columns if c.unique]
    sets += [tuple(by_column[c.name] for c in con.columns) for con in model.__table__.constraints
             if isinstance(con, UniqueConstraint)]
    # unique=True also shows up among the constraints: keep each key once
    return [s for s in dict.fromkeys(sets) if all(n in importable for n in s)]


def _check_existing(model: type, parsed: Parsed, unique_sets: list[tuple[str, ...]]) -> None:
    """A key already in the database is a duplicate too (import only adds rows)."""
    mapper = sa_inspect(model)
    for names in unique_sets:
        keys = {tuple(_key(r.get(n)) for n in names): r for r in parsed.rows}
        keys = {k: v for k, v in keys.items() if None not in k}
        if not keys:
            continue
        columns = [list(mapper.relationships[n].local_columns)[0] if n in mapper.relationships
                   else mapper.column_attrs[n].columns[0] for n in names]
        if len(names) == 1:  # in slices: databases take a few tens of thousands of parameters at most
            wanted = [k[0] for k in keys]
            existing = [found for at in range(0, len(wanted), 10_000) for found in db.session.execute(
                select(columns[0]).where(columns[0].in_(wanted[at:at + 10_000]))).all()]
        else:
            existing = db.session.execute(select(*columns)).all()
        labels = "、".join(column_label(model, n) for n in names)
        for found in existing:
            key = tuple(found)
            if key in keys and len(parsed.problems) < MAX_PROBLEMS:
                # the row's own values: a community by its name, a choice by its label
                shown = "、".join(str(getattr(keys[key][n], "label", keys[key][n])) for n in names)
                parsed.problems.append(Problem(keys[key]["__row__"], labels,
                                               f"“{shown}”已存在（导入只新增，不修改已有记录）"))


def _check_rules(model: type, parsed: Parsed, progress: Callable[[int], None] | None = None) -> None:
    """The model's own rules, on an unsaved copy of each row."""
    from views.engine import run_rules

    with db.session.no_autoflush:
        for done, values in enumerate(parsed.rows):
            if len(parsed.problems) >= MAX_PROBLEMS:
                break
            if progress and done % 200 == 0:
                progress(done)
            number = values["__row__"]
            obj = build(model, values)
            try:
                run_rules(obj)
            except Invalid as exc:
                for name, messages in exc.errors.items():
                    parsed.problems.append(Problem(number, column_label(model, name), "；".join(messages)))
            finally:
                if obj in db.session:
                    db.session.expunge(obj)


def build(model: type, values: dict[str, Any]) -> Any:
    obj = model()
    for name, value in values.items():
        if name != "__row__":
            setattr(obj, name, value)
    return obj

