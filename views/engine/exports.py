"""Export from any list: what the user sees (search, filters, scope), streamed.

CSV starts with a UTF-8 byte-order mark so Excel reads Chinese; XLSX is written by
XlsxWriter in constant-memory mode to a temporary file (never turning text into a
formula or a link). Rows are read from the database in
batches, so memory stays flat however long the list. Headers are the Chinese
labels; file names keep their Chinese (RFC 5987); text that a spreadsheet would run
as a formula is neutralised.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from decimal import Decimal
from typing import Any, Iterator
from urllib.parse import quote

from flask import Response, has_request_context, request, stream_with_context
from sqlalchemy.exc import OperationalError

from models import db, now

from .. import formatting
from ..errors import database_fault

log = logging.getLogger(__name__)

BATCH = 500    # rows per CSV chunk, and per batch where rows are read as objects
STREAM = 2000  # rows per fetch from the streaming cursor
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Text that would start a formula gets a leading apostrophe (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def cell(value: Any) -> Any:
    """Numbers stay numbers; everything else becomes the text shown on screen."""
    if isinstance(value, bool) or value is None:
        return formatting.text(value)
    if isinstance(value, (int, float, Decimal)):
        return value
    return neutralise(formatting.text(value))


def content_disposition(filename: str, fallback: str) -> str:
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"


def export_rows(view: Any) -> tuple[list[str], Iterator[list[Any]]]:
    """Headers and a lazy iterator of rows for the view's current list arguments.

    The rows are read as plain tuples of the exported columns (related names joined in,
    computed figures as SQL) from a streaming cursor — not as objects — so a million
    rows pass through in seconds and in constant memory. A model with a column only
    Python can compute is read as objects, in batches."""
    args = view._get_list_extra_args(strict=True)  # a bad search or filter: 400 before any byte
    sort = view._get_column_by_idx(args.sort)
    query = view.export_query(args.search, args.filters, sort[0] if sort else None, args.sort_desc)
    columns = [name for name, _ in view._export_columns]
    headers = [str(label) for _, label in view._export_columns]
    plan = _sql_plan(view.model, columns, db.session.get_bind().dialect.name)

    if plan is None:
        checked(query)

        def objects() -> Iterator[list[Any]]:
            for obj in query.yield_per(BATCH):
                yield [cell(formatting.value_at(obj, name)) for name in columns]
        return headers, objects()

    expressions, formatters, joins = plan
    for alias, relation in joins:
        query = query.outerjoin(alias, relation)
    statement = query.with_entities(*expressions).statement  # plain rows: no ORM loading per row
    checked(statement)

    def tuples() -> Iterator[list[Any]]:
        # options on the statement, not the connection: they must not outlive the export
        result = db.session.connection().execute(statement.execution_options(stream_results=True))
        while batch := result.fetchmany(STREAM):
            for row in batch:
                yield [f(v) for f, v in zip(formatters, row)]

    return headers, tuples()


def _sql_plan(model: type, columns: list[str], dialect: str) -> tuple[list[Any], list[Any], list[Any]] | None:
    """(SQL expression, cell formatter) per exported column, and the outer joins the
    related names need (aliased, so they never clash with a filter's join)."""
    from sqlalchemy import DateTime, String, type_coerce
    from sqlalchemy import inspect as sa_inspect
    from sqlalchemy.orm import aliased

    from models.kernel.declare import ChoiceType, lookup_fields

    expressions, formatters, joins = [], [], []
    aliases: dict[str, Any] = {}
    for name in columns:
        current, entity, path = model, model, []
        parts = name.split(".")
        for i, part in enumerate(parts):
            mapper = sa_inspect(current)
            if part in mapper.relationships:
                rel = mapper.relationships[part]
                if rel.uselist:
                    return None
                path.append(part)
                key = ".".join(path)
                if key not in aliases:
                    aliases[key] = aliased(rel.mapper.class_)
                    joins.append((aliases[key], getattr(entity, part)))
                entity, current = aliases[key], rel.mapper.class_
                if i == len(parts) - 1:  # the related row itself: its look-up name
                    expressions.append(getattr(entity, lookup_fields(current)[0]))
                    formatters.append(_format_text)
                continue
            descriptor = mapper.all_orm_descriptors.get(part)
            if part in mapper.column_attrs:
                column_type = mapper.column_attrs[part].columns[0].type
                expression = getattr(entity, part)
                if isinstance(column_type, ChoiceType):  # the stored code, turned into its label below
                    expression = type_coerce(expression, String)
                elif isinstance(column_type, DateTime) and dialect == "sqlite":
                    # SQLite keeps "2026-06-30 09:00:00.000000": its first 16 characters are
                    # the text shown, without parsing a datetime per cell
                    expressions.append(type_coerce(expression, String))
                    formatters.append(lambda v: "" if v is None else v[:16])
                    continue
                expressions.append(expression)
                formatters.append(_formatter(column_type))
            elif descriptor is not None and getattr(descriptor, "extension_type", None) is not None:
                expressions.append(getattr(entity, part))  # a computed hybrid: its SQL
                formatters.append(cell)
            else:
                return None  # a Python property
    return expressions, formatters, joins


FORMULA_FIRST = frozenset(p[0] for p in FORMULA_PREFIXES)


def _format_text(value: Any) -> Any:
    """Text as it is, unless a spreadsheet would run it as a formula (a million times over:
    kept to a few operations)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        value = formatting.text(value)
    return "'" + value if value[:1] in FORMULA_FIRST else value


def _formatter(column_type: Any) -> Any:
    """One function per column, chosen once: the same text the screens show."""
    from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric

    from models.kernel.declare import ChoiceType

    if isinstance(column_type, ChoiceType):  # read as its code: no member built per row
        labels = {m.value: m.label for m in column_type.choices}
        return lambda v: "" if v is None else labels.get(v, v)
    if isinstance(column_type, Boolean):
        return lambda v: "" if v is None else ("是" if v else "否")
    if isinstance(column_type, DateTime):
        return lambda v: "" if v is None else v.isoformat(" ", "minutes")  # 2026-06-30 09:00
    if isinstance(column_type, Date):
        return lambda v: "" if v is None else v.isoformat()
    if isinstance(column_type, (Integer, Numeric)):
        return lambda v: "" if v is None else v
    return _format_text


def export_response(view: Any, export_type: str) -> Response:
    headers, rows = export_rows(view)
    stamp = now().strftime("%Y%m%d-%H%M")
    label = str(view.spec.label)
    if export_type == "csv":
        return csv_response(headers, rows, f"{label}_{stamp}.csv", f"{view.endpoint}_{stamp}.csv",
                            formatted=True)
    return Response(
        stream_with_context(_xlsx_chunks(label, headers, rows)),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": content_disposition(
            f"{label}_{stamp}.xlsx", f"{view.endpoint}_{stamp}.xlsx")},
    )


def checked(query: Any) -> None:
    """Run the export's own query for one row before the response starts: a database that
    is away or a table that is locked gets the 503 page now, and whatever else the query
    meets gets its error page with the security headers — not a download cut off before
    its first byte, which the server would answer with its own bare 500 page. (The rows
    themselves are read while streaming, in a session of the stream's own — this request's
    ends as the response starts, closing any cursor opened in it.)"""
    if hasattr(query, "all"):  # an ORM query
        query.limit(1).all()
    else:
        db.session.execute(query.limit(1)).all()


def csv_response(headers: list[str], rows: Iterator[list[Any]], filename: str, fallback: str,
                 formatted: bool = False) -> Response:
    """A streamed CSV of any rows (the same BOM, neutralising and naming as list exports)."""
    cells = rows if formatted else ([cell(v) for v in row] for row in rows)
    return Response(stream_with_context(_csv_chunks(headers, cells)), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": content_disposition(filename, fallback)})


# The last row of a file whose reading broke off: a download cannot turn into an error
# page once it has begun, so the file itself says it is incomplete.
INTERRUPTED = "（导出中断：数据库连接中断，本文件不完整，请重新导出）"
FAILED = "（导出中断：系统出现意外错误，已记录日志，本文件不完整，请重新导出）"


def broke_off(exc: Exception) -> str:
    """Log why an export stopped half-way — a database fault in one line, anything else
    (a bug) with its traceback — and return the file's last line."""
    if isinstance(exc, OperationalError):
        database_fault(exc, "导出")
        return INTERRUPTED
    log.error("export failed half-way on %s", request.path if has_request_context() else "?", exc_info=exc)
    return FAILED


def _csv_chunks(headers: list[str], rows: Iterator[list[Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(headers)
    try:
        for n, row in enumerate(rows, 1):
            writer.writerow(row)
            if n % BATCH == 0:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
    except Exception as exc:  # noqa: BLE001 — the download has begun: end it, saying so
        writer.writerow([broke_off(exc)])
    yield buffer.getvalue().encode("utf-8")


# Data rows per worksheet: Excel's 1,048,576 less the header. XlsxWriter silently drops
# rows past it, so a bigger export continues on sheets (2), (3)...
SHEET_ROWS = 1_048_575


def _xlsx_chunks(title: str, headers: list[str], rows: Iterator[list[Any]]) -> Iterator[bytes]:
    """XlsxWriter in constant-memory mode: each row goes to disk as it is written."""
    import xlsxwriter

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/export.xlsx"
        book = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": folder,
                                          "strings_to_formulas": False, "strings_to_urls": False,
                                          "strings_to_numbers": False})
        bold = book.add_format({"bold": True})

        def new_sheet(number: int) -> Any:
            name = title[:31] if number == 1 else f"{title[:25]}（{number}）"
            sheet = book.add_worksheet(name)
            sheet.write_row(0, 0, headers, bold)
            return sheet

        sheets, n = 1, 0
        sheet = new_sheet(1)
        try:
            for row in rows:
                if n == SHEET_ROWS:  # a sheet holds 1,048,576 rows: go on in the next
                    sheets, n = sheets + 1, 0
                    sheet = new_sheet(sheets)
                n += 1
                sheet.write_row(n, 0, row)
        except Exception as exc:  # noqa: BLE001 — the download has begun: end it, saying so
            sheet.write_row(n + 1, 0, [broke_off(exc)])
        book.close()
        with open(path, "rb") as done:
            while chunk := done.read(64 * 1024):
                yield chunk
