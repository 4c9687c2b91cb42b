"""Spreadsheet import, for any model declared ``importable``: one path for all of them.

A file is read into rows (XLSX, or CSV in UTF-8 or the GB18030 that Excel on Chinese
Windows writes), headers are matched to the model's Chinese labels, each cell is
converted by its column's declaration and each row is checked by the model's own
rules. Every problem is kept with its row number and field label. Nothing is written
until the whole file is clean; then every row goes in one transaction.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
import zipfile
from dataclasses import dataclass, field as dc_field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable, Iterator

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, Numeric, String, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, mapped_column

from . import db, now
from .declare import ChoiceType, Invalid, attr_info, column_label, lookup_fields
from .scoping import scope_clause

MAX_ROWS = 100_000
PREVIEW_ROWS = 200


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


class NotASpreadsheet(ValueError):
    pass


def read_table(data: bytes, filename: str) -> Iterator[list[Any]]:
    """Rows of cells from XLSX or CSV bytes; refuses anything else."""
    if data[:4] == b"PK\x03\x04":
        from openpyxl import load_workbook

        try:
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise NotASpreadsheet("文件已损坏或不是 Excel（.xlsx）文件") from exc
        sheet = book.worksheets[0]
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
        book.close()
        return
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise NotASpreadsheet("这是旧版 Excel（.xls）文件，请在 Excel 中另存为 .xlsx 或 CSV 后再导入")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise NotASpreadsheet("文件不是电子表格（只接受 .xlsx 或 .csv）")
    if "\x00" in text:
        raise NotASpreadsheet("文件不是电子表格（只接受 .xlsx 或 .csv）")
    yield from csv.reader(io.StringIO(text))


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
    """Read, convert and check every row; nothing is written."""
    columns = columns_for(model)
    parsed = Parsed(columns)
    try:
        table = [row for row in read_table(data, filename)]
    except NotASpreadsheet as exc:
        parsed.problems.append(Problem(None, None, str(exc)))
        return parsed
    while table and all(_blank(c) for c in table[0]):
        table.pop(0)
    if not table:
        parsed.problems.append(Problem(None, None, "文件是空的：没有表头，也没有数据"))
        return parsed
    header = [str(c).strip().lstrip("*＊").strip() if c is not None else "" for c in table[0]]
    by_label = {c.label: c for c in columns} | {c.name: c for c in columns}
    unknown = [h for h in header if h and h not in by_label]
    if unknown:
        parsed.problems.append(Problem(1, None, f"无法识别的列：{'、'.join(unknown)}"
                                                f"（应为：{'、'.join(c.label for c in columns)}；可下载模板对照）"))
    present = {by_label[h].name for h in header if h in by_label}
    missing = [c.label for c in columns if c.required and c.name not in present]
    if missing:
        parsed.problems.append(Problem(1, None, f"缺少必填列：{'、'.join(missing)}"))
    if parsed.problems:
        return parsed
    data_rows = [(n, row) for n, row in enumerate(table[1:], start=2) if not all(_blank(c) for c in row)]
    if not data_rows:
        parsed.problems.append(Problem(None, None, "文件只有表头，没有数据行"))
        return parsed
    if len(data_rows) > MAX_ROWS:
        parsed.problems.append(Problem(None, None, f"一次最多导入 {MAX_ROWS} 行，本文件有 {len(data_rows)} 行"))
        return parsed
    index = {by_label[h].name: i for i, h in enumerate(header) if h in by_label}
    unique_sets = _unique_sets(model, [c.name for c in columns])
    seen: dict[tuple, int] = {}
    for count, (number, row) in enumerate(data_rows, 1):
        values, cells = {}, []
        for column in columns:
            raw = row[index[column.name]] if column.name in index and index[column.name] < len(row) else None
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
        if progress and count % 200 == 0:  # reading is half the work, the rules the other
            progress(count // 2, len(data_rows))
    _check_existing(model, parsed, unique_sets)
    _check_rules(model, parsed, progress and (lambda done: progress((len(data_rows) + done) // 2, len(data_rows))))
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
        if len(names) == 1:
            existing = db.session.execute(select(columns[0]).where(
                columns[0].in_([k[0] for k in keys]))).all()
        else:
            existing = db.session.execute(select(*columns)).all()
        labels = "、".join(column_label(model, n) for n in names)
        for found in existing:
            key = tuple(found)
            if key in keys:
                # the row's own values: a community by its name, a choice by its label
                shown = "、".join(str(getattr(keys[key][n], "label", keys[key][n])) for n in names)
                parsed.problems.append(Problem(keys[key]["__row__"], labels,
                                               f"“{shown}”已存在（导入只新增，不修改已有记录）"))


def _check_rules(model: type, parsed: Parsed, progress: Callable[[int], None] | None = None) -> None:
    """The model's own rules, on an unsaved copy of each row."""
    from views.engine import run_rules

    with db.session.no_autoflush:
        for done, values in enumerate(parsed.rows):
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


def store(data: bytes, root: Path) -> str:
    root.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.upload"
    (root / name).write_bytes(data)
    return name
