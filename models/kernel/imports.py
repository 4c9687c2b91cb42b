"""Spreadsheet import, for any model declared ``importable``: one path for all of them.

A file is read into rows (XLSX, or CSV in UTF-8 or the GB18030 that Excel on Chinese
Windows writes), headers are matched to the model's Chinese labels, each cell is
converted by its column's declaration and each row is checked by the model's own
rules. Every problem is kept with its row number and field label. Nothing is written
until the whole file is clean; then every row goes in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any, Callable, Iterator

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    select,
)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, mapped_column

from .database import ACCOUNT_TABLE, db, now
from .declare import ChoiceType, Invalid, lookup_fields
from .paths import RELATION, column_label, resolve
from .scoping import scope_clause
from .spreadsheets import EXTRA_COLUMNS, NotASpreadsheet, Row, _blank, read_table

MAX_ROWS = 100_000
PREVIEW_ROWS = 200
MAX_PROBLEMS = 1000  # a file wrong throughout says so in a page, not in 100,000 lines


class ImportJob(db.Model):
    """One upload: where it is, how far checking or writing has got, what was wrong."""

    __tablename__ = "import_job"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(60))
    user_id: Mapped[int | None] = mapped_column(ForeignKey(f"{ACCOUNT_TABLE}.id", ondelete="SET NULL"))
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
    spec = model.__admin__
    out = []
    for name in spec.import_columns or spec.form_columns:
        found = resolve(model, name)
        if found.kind == RELATION:
            if found.target.uselist:
                continue
            local = found.local_column()
            out.append(Column(name, found.label(), not local.nullable,
                              _relation_converter(found.target.mapper.class_, found.label())))
            continue
        if not found.stored or found.info().get("upload"):
            continue
        column = found.target
        required = not column.nullable and column.default is None and not isinstance(column.type, Boolean)
        out.append(Column(name, found.label(), required, _converter(column)))
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
    from .rules import run_rules

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

