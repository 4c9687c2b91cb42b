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
import tempfile
from decimal import Decimal
from typing import Any, Iterator
from urllib.parse import quote

from flask import Response, stream_with_context

from models import now

from . import formatting

BATCH = 500
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
    """Headers and a lazy iterator of rows for the view's current list arguments."""
    args = view._get_list_extra_args()
    sort = view._get_column_by_idx(args.sort)
    _, query = view.get_list(0, sort[0] if sort else None, args.sort_desc, args.search,
                             args.filters, execute=False, page_size=0)
    columns = [name for name, _ in view._export_columns]
    headers = [str(label) for _, label in view._export_columns]

    def rows() -> Iterator[list[Any]]:
        for obj in query.yield_per(BATCH):
            yield [formatting.value_at(obj, name) for name in columns]

    return headers, rows()


def export_response(view: Any, export_type: str) -> Response:
    headers, rows = export_rows(view)
    stamp = now().strftime("%Y%m%d-%H%M")
    label = str(view.spec.label)
    if export_type == "csv":
        return csv_response(headers, rows, f"{label}_{stamp}.csv", f"{view.endpoint}_{stamp}.csv")
    return Response(
        stream_with_context(_xlsx_chunks(label, headers, rows)),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": content_disposition(
            f"{label}_{stamp}.xlsx", f"{view.endpoint}_{stamp}.xlsx")},
    )


def csv_response(headers: list[str], rows: Iterator[list[Any]], filename: str, fallback: str) -> Response:
    """A streamed CSV of any rows (the same BOM, neutralising and naming as list exports)."""
    cells = ([cell(v) for v in row] for row in rows)
    return Response(stream_with_context(_csv_chunks(headers, cells)), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": content_disposition(filename, fallback)})


def _csv_chunks(headers: list[str], rows: Iterator[list[Any]]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow(headers)
    for n, row in enumerate(rows, 1):
        writer.writerow(row)
        if n % BATCH == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _xlsx_chunks(title: str, headers: list[str], rows: Iterator[list[Any]]) -> Iterator[bytes]:
    """XlsxWriter in constant-memory mode: each row goes to disk as it is written."""
    import xlsxwriter

    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/export.xlsx"
        book = xlsxwriter.Workbook(path, {"constant_memory": True, "tmpdir": folder,
                                          "strings_to_formulas": False, "strings_to_urls": False,
                                          "strings_to_numbers": False})
        sheet = book.add_worksheet(title[:31])
        sheet.write_row(0, 0, headers, book.add_format({"bold": True}))
        for n, row in enumerate(rows, 1):
            sheet.write_row(n, 0, [cell(v) for v in row])
        book.close()
        with open(path, "rb") as done:
            while chunk := done.read(64 * 1024):
                yield chunk
