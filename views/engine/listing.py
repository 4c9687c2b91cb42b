"""List pages that stay fast on millions of rows: a capped count, pages chosen as ids
first, cursors past deep OFFSETs, search through the full-text index, row buttons built
once per page."""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, flash, g, request
from flask_admin import expose
from sqlalchemy import inspect as sa_inspect

from models import db
from models.kernel.declare import ChoiceType
from models.kernel.search import search_clause

from ..params import checked_text, clamp, refuse, text_problem

log = logging.getLogger(__name__)
from models.kernel.rules import storable_problem

from ..params import CURSOR_MAX, LIST_ARGS, MAX_PAGE
from .fields import RelationFilter


class ListMixin:
    """The list screen of a declared model (and the export that reads the same rows)."""

    def _get_list_value(self, context: Any, model: Any, name: str, column_formatters: Any,
                        column_type_formatters: Any) -> Any:
        # Flask-Admin maps choice columns before its None formatter: an empty one says "None"
        value = super()._get_list_value(context, model, name, column_formatters,
                                        column_type_formatters)
        return "" if value is None else value

    def handle_filter(self, filter: Any) -> Any:
        if getattr(filter, "no_join", False):  # computed in SQL: Flask-Admin would join "None"
            return filter
        return super().handle_filter(filter)

    def get_column_names(self, only_columns: Any, excluded_columns: Any) -> list[tuple[str, Any]]:
        """Declared names are attribute paths already; Flask-Admin's own lookup trips
        over computed figures (their SQL expression has no usable ``key``)."""
        excluded = set(excluded_columns or ())
        return [(name, self.column_labels.get(name) or name) for name in only_columns
                if name not in excluded]

    def get_list(self, page: int | None, sort_column: Any, sort_desc: bool, search: str | None,
                 filters: Any, execute: bool = True, page_size: int | None = None) -> Any:
        """Flask-Admin's list query, without what makes it slow on a large table:

        * the count stops at :data:`COUNT_CAP` rows (shown as "10,000+"), so no page reads
          a whole table to count it;
        * the page is chosen as ids first — a narrow query the indexes answer, past any
          OFFSET — and only those rows are then loaded with their related names and
          computed figures (which a database would otherwise compute for every candidate
          row before sorting);
        * deep pages follow a cursor (``after``/``before``: the sort key of the last or
          first row shown) instead of an OFFSET, when the sort allows it;
        * the sort always ends in the primary key, so pages never skip or repeat rows.
        """
        if not execute:  # Flask-Admin's own callers that want the query itself
            return None, self.export_query(search, filters, sort_column, sort_desc)
        pk = sa_inspect(self.model).primary_key[0]
        joins: dict = {}
        base = self._scoped_query()  # the rows of the list, without eager loads
        if self._search_supported and search:
            base, _, joins, _ = self._apply_search(base, None, joins, {}, search)
        if filters and self._filters:
            base, _, joins, _ = self._apply_filters(base, None, joins, {}, filters)
        count = capped_count(base, self.model)
        ordered, joins = self._apply_sorting(base, joins, sort_column, sort_desc)
        keys = self._sort_keys(sort_column, sort_desc)
        if keys is None or pk not in [k for k, _ in keys]:
            ordered = ordered.order_by(pk.desc() if sort_desc else pk)
        size = self.page_size if page_size is None else page_size
        g.list_cursors = {}
        cursor_at = {name: request.args.get(name) for name in ("after", "before")} if _in_request() else {}
        direction = "after" if cursor_at.get("after") else "before" if cursor_at.get("before") else None
        values = decode_cursor(cursor_at[direction], keys) if direction and keys and size else None
        if values is not None:
            forward = direction == "after"
            ids_query = ordered.filter(keyset_clause(keys, values, forward))
            if not forward:  # read backwards from the cursor, then show in the list's order
                ids_query = ids_query.order_by(None).order_by(*[c.asc() if d else c.desc() for c, d in keys])
            ids = [i for (i,) in ids_query.with_entities(pk).limit(size + 1)]
            more = len(ids) > size
            ids = ids[:size]
            if not forward:
                ids.reverse()
        else:
            ids = [i for (i,) in self._apply_pagination(ordered.with_entities(pk), page, size)]
        rows = self._load_rows(ids)
        if size and keys and rows:
            if values is None:
                g.list_cursors = {"next": encode_cursor(rows[-1], keys) if len(rows) == size else None,
                                  "prev": encode_cursor(rows[0], keys) if page else None}
            else:
                g.list_cursors = {"next": encode_cursor(rows[-1], keys) if (more or not forward) else None,
                                  "prev": encode_cursor(rows[0], keys) if (forward or more) else None}
        return count, rows

    def _load_rows(self, ids: list[Any]) -> list[Any]:
        """The rows of a page, with what the list shows of them, in the page's order."""
        if not ids:
            return []
        pk = sa_inspect(self.model).primary_key[0]
        position = {key: n for n, key in enumerate(ids)}
        rows = self.get_query().filter(pk.in_(ids)).all()
        return sorted(rows, key=lambda row: position[sa_inspect(row).identity[0]])

    def export_query(self, search: str | None, filters: Any, sort_column: Any, sort_desc: bool) -> Any:
        """The list's rows — same scope, search, filters and order — without its eager
        loads or pages: what an export reads."""
        joins: dict = {}
        query = self._scoped_query()
        if self._search_supported and search:
            query, _, joins, _ = self._apply_search(query, None, joins, {}, search)
        if filters and self._filters:
            query, _, joins, _ = self._apply_filters(query, None, joins, {}, filters)
        query, joins = self._apply_sorting(query, joins, sort_column, sort_desc)
        pk = sa_inspect(self.model).primary_key[0]
        return query.order_by(pk.desc() if sort_desc else pk)

    def _sort_keys(self, sort_column: Any, sort_desc: bool) -> list[tuple[Any, bool]] | None:
        """The list's order as (column, descending) pairs ending in the primary key — or
        ``None`` when a cursor cannot follow it (a related or nullable column)."""
        pk = sa_inspect(self.model).primary_key[0]
        if sort_column is not None:
            pairs = [(sort_column, bool(sort_desc))]
        else:
            sorts = (self.spec.sort,) if isinstance(self.spec.sort, str) else tuple(self.spec.sort or ())
            pairs = [(s.lstrip("-"), s.startswith("-")) for s in sorts]
        keys = []
        for name, desc in pairs:
            attr = sa_inspect(self.model).column_attrs.get(name) if isinstance(name, str) else None
            column = attr.columns[0] if attr is not None else None
            if column is None or getattr(column, "table", None) is not self.model.__table__ \
                    or (column.nullable and not column.primary_key):
                return None
            keys.append((column, desc))
        if pk not in [c for c, _ in keys]:
            keys.append((pk, keys[-1][1] if keys else False))
        return keys

    def row_actions_html(self, row_id: Any, return_url: str) -> Any:
        """The buttons of one list row — details, edit, delete, history — as HTML built
        here rather than by a Jinja macro per button per row (on a page of 100 rows the
        macros cost more than the query). Same markup and titles as Flask-Admin's."""
        from urllib.parse import quote

        from flask_admin.babel import gettext as admin_gettext
        from flask_babel import gettext
        from flask_wtf.csrf import generate_csrf
        from markupsafe import Markup, escape

        cache = g.setdefault("row_action_parts", {})
        key = (self.endpoint, return_url)
        if key not in cache:
            back = quote(return_url, safe="")
            cache[key] = {
                "details": self.get_url(".details_view") + "?url=" + back + "&id=",
                "edit": self.get_url(".edit_view") + "?url=" + back + "&id=",
                "history": self.get_url(".history_view") + "?url=" + back + "&id=",
                "delete": self.get_url(".delete_view"),
                "back": escape(return_url), "csrf": generate_csrf(),
                # Flask-Admin's own catalog has these in Chinese and English
                "view_title": escape(admin_gettext("View Record")),
                "edit_title": escape(admin_gettext("Edit Record")),
                "delete_title": escape(admin_gettext("Delete Record")),
                "confirm": escape(admin_gettext("Are you sure you want to delete this record?")),
                "history_title": escape(gettext("历史记录")),
            }
        parts = cache[key]
        ident = quote(str(row_id), safe="")
        html = []
        if self.can_view_details:
            html.append(f'<a class="icon" href="{parts["details"]}{ident}" title="{parts["view_title"]}">'
                        '<span class="fa fa-eye"></span></a>')
        if self.can_edit:
            html.append(f'<a class="icon" href="{parts["edit"]}{ident}" title="{parts["edit_title"]}">'
                        '<span class="fa fa-pencil"></span></a>')
        if self.can_delete:
            html.append(  # data-confirm: static/js/app.js asks (the CSP forbids onclick)
                f'<form class="icon" method="POST" action="{parts["delete"]}">'
                f'<input id="id" name="id" type="hidden" value="{escape(row_id)}">'
                f'<input id="url" name="url" type="hidden" value="{parts["back"]}">'
                f'<input type="hidden" name="csrf_token" value="{parts["csrf"]}">'
                f'<button data-confirm="{parts["confirm"]}" '
                f'title="{parts["delete_title"]}"><span class="fa fa-trash"></span></button></form>')
        if self.row_history:
            html.append(f'<a class="icon" href="{parts["history"]}{ident}" title="{parts["history_title"]}">'
                        '<span class="fa fa-history"></span></a>')
        return Markup("".join(html))

    def cursor_url(self, direction: str | None, token: str | None = None) -> str:
        """This list, same search, filters and sort, at the page a cursor names."""
        args = {k: v for k, v in request.args.items(multi=False)
                if k not in ("page", "after", "before")}
        if direction and token:
            args[direction] = token
        return self.get_url(".index_view", **args)

    def _get_list_extra_args(self, strict: bool = False) -> Any:
        """The list's arguments from the URL, each read safely (views.params): a page
        number out of range is the first or the last there can be; a page size, sort or
        direction not on offer is the default (Flask-Admin's ``get_safe_page_size`` and
        ``_get_column_by_idx`` see to those); a search that cannot be searched for is a
        400; filters: :meth:`_get_list_filter_args`. ``strict`` for an export."""
        from flask_admin.model.base import ViewArgs

        return ViewArgs(
            page=clamp(request.args.get("page", type=int), 0, MAX_PAGE, 0),
            page_size=request.args.get("page_size", 0, type=int),
            sort=request.args.get("sort", type=int),
            sort_desc=request.args.get("desc", type=int),
            search=checked_text(request.args.get("search"), "搜索内容"),
            filters=self._get_list_filter_args(strict),
            # a cursor belongs to one page, not to its links
            extra_args={k: v for k, v in request.args.items() if k not in LIST_ARGS and not k.startswith("flt")},
        )

    def _get_list_filter_args(self, strict: bool = False) -> Any:
        """The filters in the URL. One this list does not have (a link from before a filter
        was removed) or whose value its column cannot be compared with is left out, and the
        page says so; an export, with no page to say it on, refuses it (400) rather than
        write more rows than were asked for."""
        chosen = []
        unknown = 0
        for arg in request.args:
            if not arg.startswith("flt"):
                continue
            position, _, key = arg[3:].partition("_")
            found = (self._filter_args or {}).get(key) if position.isascii() and position.isdigit() else None
            if found is None:
                if strict:
                    refuse("导出未开始：链接中的筛选条件已不存在，请回到列表重新筛选后再导出")
                unknown += 1
                continue
            index, flt = found
            value = request.args[arg]
            problem = filter_problem(flt, value)
            if problem:
                if strict:
                    refuse(f"导出未开始：筛选条件「{flt.name}」{problem}")
                flash(f"筛选条件「{flt.name}」{problem}，已忽略", "warning")
                continue
            chosen.append((int(position), (index, str(flt.name), value)))
        if unknown:
            flash(f"链接中有 {unknown} 个筛选条件已不存在，已忽略", "warning")
        return [pair for _, pair in sorted(chosen, key=lambda c: c[0])] if self._filters else None

    def _apply_search(self, query: Any, count_query: Any, joins: Any, count_joins: Any,
                      search: str) -> Any:
        """The search box through the full-text index (models.kernel.search), not a LIKE
        over every row."""
        clause = search_clause(self.model, search, db.session.get_bind().dialect.name)
        query = query.filter(clause)
        if count_query is not None:
            count_query = count_query.filter(clause)
        return query, count_query, joins, count_joins

    def _get_filter_groups(self) -> Any:
        groups = super()._get_filter_groups()
        if groups and _in_request():
            for items in groups.values():
                for item in items:
                    flt = self._filters[item["index"]]
                    if isinstance(flt, RelationFilter):
                        item["options"] = flt.current_options()
        return groups

    @expose("/export/<export_type>/")
    def export(self, export_type: str) -> Any:
        from .exports import export_response

        if not self.can_export or export_type not in self.export_types:
            abort(404)
        return export_response(self, export_type)


# -- counting and paging large lists ---------------------------------------------------------

# The list's own query parameters (the rest — filters aside — are carried into its links).


def filter_problem(flt: Any, value: str) -> str | None:
    """Why a filter's value from the URL cannot be applied, or ``None``: Flask-Admin's
    own check (a number, a date), then what the database would refuse — a NUL, text
    longer than the column, a number past it, a choice code that is not one."""
    problem = text_problem(value)
    if problem:
        return "的值" + problem
    if not flt.validate(value):
        return "的值无效"
    options = flt.options() if callable(flt.options) else flt.options
    if options and value not in {str(code) for code, _ in options}:
        return "的值不是可选的项"
    try:
        cleaned = flt.clean(value)
    except (ValueError, TypeError):
        return "的值无效"
    column_type = getattr(getattr(flt, "column", None), "type", None)
    if column_type is not None:
        for part in cleaned if isinstance(cleaned, list) else [cleaned]:
            problem = storable_problem(column_type, part)
            if problem:
                return "的值" + problem
    return None


COUNT_CAP = 10_000
"""A list counts its rows up to here and says "10,000+" beyond: an exact count of a
large table reads all of it, on every page."""


class Count(int):
    """A row count that may have stopped at the cap; Flask-Admin computes pages with it
    as a number, the page shows it as text."""

    capped: bool = False

    def __str__(self) -> str:
        return f"{COUNT_CAP:,}+" if self.capped else f"{int(self):,}"


def capped_count(query: Any, model: type) -> Count:
    from sqlalchemy import func, select

    pk = sa_inspect(model).primary_key[0]
    limited = query.with_entities(pk).order_by(None).limit(COUNT_CAP + 1).subquery()
    number = db.session.scalar(select(func.count()).select_from(limited))
    count = Count(min(number, COUNT_CAP + 1))
    count.capped = number > COUNT_CAP
    return count


def encode_cursor(row: Any, keys: list[tuple[Any, bool]]) -> str:
    """The sort key of ``row`` as a URL-safe token."""
    import base64
    import json

    values = []
    for column, _ in keys:
        value = getattr(row, column.key)
        value = getattr(value, "value", value)  # a choice → its code
        values.append(value.isoformat() if hasattr(value, "isoformat") else
                      str(value) if not isinstance(value, (int, str)) else value)
    return base64.urlsafe_b64encode(json.dumps(values, ensure_ascii=False).encode()).decode().rstrip("=")


def decode_cursor(token: str, keys: list[tuple[Any, bool]]) -> list[Any] | None:
    """Values of a cursor, typed by their columns; ``None`` for a token that is not one
    (the list then starts at its first page) — nor one the database could compare with
    its columns: a NUL, a number past the column, a choice code that is not one."""
    import base64
    import json
    from datetime import date, datetime
    from decimal import Decimal, InvalidOperation

    if len(token) > CURSOR_MAX:
        return None
    try:
        raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not isinstance(raw, list) or len(raw) != len(keys):
            return None
        values = []
        for (column, _), value in zip(keys, raw):
            if isinstance(value, (list, dict)) or value is None:
                return None
            if isinstance(column.type, ChoiceType):
                value = column.type.choices(value).value
            else:
                kind = column.type.python_type
                if kind is datetime:
                    value = datetime.fromisoformat(value)
                elif kind is date:
                    value = date.fromisoformat(value)
                elif kind is Decimal:
                    value = Decimal(str(value))
                elif kind is bool:
                    value = bool(value)
                elif not isinstance(value, kind):
                    value = kind(value)
            if storable_problem(column.type, value):
                return None
            values.append(value)
        return values
    except (ValueError, TypeError, OverflowError, InvalidOperation, NotImplementedError, RecursionError):
        return None


def keyset_clause(keys: list[tuple[Any, bool]], values: list[Any], forward: bool) -> Any:
    """Rows after (``forward``) or before the key ``values`` in the order ``keys``.
    One direction throughout: a row comparison the index answers directly; mixed:
    the equivalent OR of prefixes."""
    from sqlalchemy import and_, or_, tuple_

    def beyond(column: Any, desc: bool, value: Any) -> Any:
        return (column < value) if desc == forward else (column > value)

    directions = {d for _, d in keys}
    if len(directions) == 1:
        desc = directions.pop()
        columns, bound = tuple_(*[c for c, _ in keys]), tuple_(*values)
        return (columns < bound) if desc == forward else (columns > bound)
    parts = []
    for i, (column, desc) in enumerate(keys):
        equal = [c == v for (c, _), v in zip(keys[:i], values[:i])]
        parts.append(and_(*equal, beyond(column, desc, values[i])))
    return or_(*parts)


def _in_request() -> bool:
    from flask import has_request_context

    return has_request_context()

