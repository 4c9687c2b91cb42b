"""The engine: turns each model's ``__admin__`` declaration into Flask-Admin screens.

One class, :class:`DeclaredModelView`, holds everything a screen needs and closes
Flask-Admin's known gaps in one place:

* permissions per role and operation come from ``Perms`` (403, not a redirect);
* one scoping hook (:func:`models.scoping.scope_clause`) feeds the list, its count,
  details, edit, delete, bulk actions, export, history and ajax look-ups —
  Flask-Admin's ``get_one`` would otherwise open any row by id;
* every write goes through :meth:`DeclaredModelView.save`: model rules, scope check,
  Chinese messages naming the field, all-or-nothing;
* relations shown in lists are joined into the list query (no N+1) and
  foreign keys in forms are ajax look-ups.

:func:`build_view` makes a view class per model; an ordinary model needs none of its own.
"""

from __future__ import annotations

import importlib
import logging
import re
from pathlib import Path
from typing import Any, Iterable

from flask import abort, flash, g, redirect, request, url_for
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.contrib.sqla import ModelView
from flask_admin.contrib.sqla import filters as sqla_filters
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.helpers import get_redirect_target
from flask_admin.model.fields import AjaxSelectField, AjaxSelectMultipleField
from flask_babel import lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, Integer, Numeric, SmallInteger,
                        String, Text)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm import MANYTOONE, joinedload, selectinload
from werkzeug.exceptions import HTTPException
from flask_admin.form.fields import Select2Field
from wtforms import HiddenField, ValidationError
from wtforms.validators import StopValidation
from wtforms.fields.core import UnboundField
from wtforms.validators import NumberRange

from models import db, now
from models import softdelete
from models.audit import AuditAction, current_actor, history_of, record
from models.softdelete import soft_deletes
from models.declare import (ChoiceType, Invalid, ModelAdmin, Refused, attr_info, column_label,
                            lookup_fields, may)
from models.scoping import in_scope, scope_clause
from models.search import search_clause

from . import formatting
from .errors import database_fault
from .params import checked_text, clamp, refuse, text_problem
from .uploads import field_options, thumbnail
from .imports import ImportMixin
from .workflow import WorkflowMixin

log = logging.getLogger(__name__)

# Which declared operation each Flask-Admin endpoint needs.
ENDPOINT_OPERATION = {
    "index_view": "read", "details_view": "read", "export": "read", "history_view": "read",
    "file_view": "read", "print_view": "read",
    "import_view": "create", "import_template_view": "create", "import_job_view": "create",
    "import_status_view": "create", "import_commit_view": "create",
    "create_view": "create", "edit_view": "edit", "ajax_update": "edit",
    "delete_view": "delete",
}
# Endpoints that change rows: they see rows through the write scope.
WRITE_ENDPOINTS = {"create_view", "edit_view", "ajax_update", "delete_view", "action_view",
                   "transition_view"}


STALE_MESSAGE = ("保存未完成：这条记录在您打开之后已被{who}修改，您的修改没有保存，以免覆盖对方的修改。"
                 "请重新打开这条记录，在最新内容上再改。")


NO_VERSION_MESSAGE = ("保存未完成：提交的内容缺少记录的版本信息，无法确认您修改的是最新内容。"
                      "请重新打开这条记录，在最新内容上再改。")


class VersionField(HiddenField):
    """The version of the row a form was filled from: read on save, never written to
    the row (a posted version cannot move it)."""

    def populate_obj(self, obj: Any, name: str) -> None:
        pass


def last_editor(model: Any) -> str:
    """Who saved the row last, from the audit trail — for the stale-form message."""
    from models.audit import AuditLog

    ident = sa_inspect(model).identity
    if ident is None:
        return "他人"
    entry = db.session.scalar(db.select(AuditLog).where(
        AuditLog.model == model.__tablename__, AuditLog.row_id == str(ident[0]))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(1))
    if entry is None:
        return "他人"
    return f"{entry.actor}（{entry.at:%m-%d %H:%M}）"


def _touch(model: Any) -> None:
    """Make the row's UPDATE happen (and its version move on) though none of its own
    columns changed."""
    from sqlalchemy.orm.attributes import flag_modified

    if hasattr(model, "updated_at"):
        model.updated_at = now()
        return
    mapper = sa_inspect(type(model))
    column = next(a.key for a in mapper.column_attrs
                  if not a.columns[0].primary_key and a.columns[0] is not mapper.version_id_col)
    flag_modified(model, column)


def _children_changed(model: Any) -> bool:
    session = db.session
    return any(obj is not model and hasattr(type(obj), "__admin__")
               for obj in list(session.new) + list(session.dirty) + list(session.deleted))


class AdminForm(FlaskForm):
    """Base of every generated form: Flask-WTF's CSRF token, and the ``_obj`` that
    Flask-Admin's ``Unique`` validator uses to recognise the row being edited."""

    def __init__(self, formdata: Any = None, obj: Any = None, prefix: str = "", **kwargs: Any):
        self._obj = obj
        super().__init__(formdata=formdata, obj=obj, prefix=prefix, **kwargs)

    def validate(self, extra_validators: Any = None) -> bool:
        # NUL cannot be stored, nor even sent in a query on PostgreSQL: a unique check
        # would fail on it with a 500. Refuse it under its field before any check runs.
        tainted = [f for f in self if any(isinstance(v, str) and "\x00" in v for v in (getattr(f, "raw_data", None) or ()))]
        if not tainted:
            return super().validate(extra_validators)
        for f in tainted:
            f.errors = ["不能包含空字符（\\0）"]
        return False


class StrictAjaxSelectField(AjaxSelectField):
    """An ajax pick whose id was not found in the user's scope is an error,
    never a silent ``None``."""

    def pre_validate(self, form: Any) -> None:
        _ = self.data  # resolves the posted id through the scoped loader
        if self._formdata:
            raise ValidationError("所选记录不存在或不在您的管辖范围内")
        super().pre_validate(form)


class StrictAjaxSelectMultipleField(AjaxSelectMultipleField):
    def pre_validate(self, form: Any) -> None:
        _ = self.data
        if self._invalid_formdata:
            raise ValidationError("所选记录中有不存在或不在您管辖范围内的")


class StrictSelect2Field(Select2Field):
    """A choice whose posted code is not one of the choices stops the field's checks
    there: the unique check would otherwise query with the unknown code, which
    ``ChoiceType`` refuses to bind (a 500 instead of a message)."""

    def pre_validate(self, form: Any) -> None:
        try:
            super().pre_validate(form)
        except ValueError as exc:
            raise StopValidation(str(exc)) from exc


class ScopedAjaxLoader(QueryAjaxModelLoader):
    """Ajax look-up of a related model, limited to the user's scope."""

    def get_query(self) -> Any:
        query = super().get_query()
        clause = scope_clause(self.model, current_user)
        return query if clause is None else query.filter(clause)

    def get_one(self, pk: Any) -> Any:
        key = row_key(sa_inspect(self.model).primary_key[0], pk)
        if key is None:
            return None
        with db.session.no_autoflush:
            return self.get_query().filter(getattr(self.model, self.pk) == key).one_or_none()

    def get_list(self, term: str, offset: int = 0, limit: int = 10) -> Any:
        # Select2 asks for the next 10 as the user scrolls: positions out of range are the
        # first or the last; a term that cannot be searched for is a 400 (JSON)
        self.order_by = getattr(self.model, self.fields[0]) if self.fields else None
        return super().get_list(checked_text(term, "检索内容") or "", clamp(offset, 0, MAX_OFFSET, 0),
                                clamp(limit or 10, 1, 50, 10))


class RelationFilter(sqla_filters.IntEqualFilter):
    """"所属社区 = 江滨社区": a select of the related rows the user can see."""

    def __init__(self, column: Any, name: str, target: type):
        super().__init__(column, name)
        self.target = target

    def current_options(self) -> list[tuple[str, str]] | None:
        """The related rows in the user's scope for a select, by their look-up name —
        or ``None`` when there are too many for one (the filter then takes an id).
        Two columns of at most 501 rows: a city's 13,000 estates are not loaded."""
        from sqlalchemy import select

        pk = sa_inspect(self.target).primary_key[0]
        label = getattr(self.target, lookup_fields(self.target)[0])
        stmt = select(pk, label).order_by(label).limit(501)
        clause = scope_clause(self.target, current_user)
        rows = db.session.execute(stmt if clause is None else stmt.where(clause)).all()
        if len(rows) > 500:
            return None
        return [(str(key), str(name)) for key, name in rows]


class ComputedFlagFilter(sqla_filters.BooleanEqualFilter):
    """是/否 on a computed flag (a hybrid's SQL expression)."""

    def apply(self, query: Any, value: Any, alias: Any = None) -> Any:
        expression = self.column
        wanted = value is True or str(value) == "1"  # clean() may already give a bool
        return query.filter(expression if wanted else ~expression)


class DeclaredModelView(ImportMixin, WorkflowMixin, ModelView):
    """A Flask-Admin ``ModelView`` configured entirely from a ``ModelAdmin``."""

    spec: ModelAdmin
    form_base_class = AdminForm
    list_template = "admin/model/app_list.html"
    details_template = "admin/model/app_details.html"
    edit_template = "admin/model/app_edit.html"
    create_template = "admin/model/app_create.html"
    can_view_details = True
    can_set_page_size = True
    row_history = True  # each list row links to its history (the audit log's own rows do not)
    page_size_options = (20, 50, 100)
    column_display_pk = False
    column_display_all_relations = False
    export_types = ["csv", "xlsx"]
    action_disallowed_list: list[str] = []

    # -- permissions: from the declaration, evaluated per request ----------------

    def allows(self, operation: str) -> bool:
        """May the current user do ``operation`` here — asked once per request and view
        (a page asks it for every row's buttons and every menu entry)."""
        if not _in_request():
            return may(current_user, self.spec, operation)
        answers = g.setdefault("permission_answers", {})
        key = (self.endpoint, operation)
        if key not in answers:
            answers[key] = may(current_user, self.spec, operation)
        return answers[key]

    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return _in_request() and self.allows("create")

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return _in_request() and self.allows("edit")

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return _in_request() and self.allows("delete")

    @property
    def can_export(self) -> bool:  # type: ignore[override]
        return self.spec.export and (not _in_request() or self.allows("read"))

    def is_accessible(self) -> bool:
        return self.allows("read")

    def is_visible(self) -> bool:
        return self.allows("read")

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(403)

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        operation = ENDPOINT_OPERATION.get(name)
        if name == "ajax_lookup":
            if not (self.allows("create") or self.allows("edit")):
                abort(403)
        elif operation and not self.allows(operation):
            abort(403)
        return None

    def is_action_allowed(self, name: str) -> bool:
        if name == "delete":
            return self.allows("delete")
        action = self._declared_actions.get(name)
        return action is not None and action.allows(current_user.role)

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

    # -- the scoping hook ---------------------------------------------------------

    def scope(self) -> Any:
        endpoint = (request.endpoint or "").rsplit(".", 1)[-1] if _in_request() else ""
        return scope_clause(self.model, current_user, write=endpoint in WRITE_ENDPOINTS)

    def get_query(self) -> Any:
        query = super().get_query()
        clause = self.scope()
        if clause is not None:
            query = query.filter(clause)
        return query.options(*self._list_loads)

    def get_count_query(self) -> Any:
        query = super().get_count_query()
        clause = self.scope()
        return query if clause is None else query.filter(clause)

    # -- list pages that stay fast on millions of rows --------------------------------

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

    def _scoped_query(self) -> Any:
        query = db.session.query(self.model)
        clause = self.scope()
        return query if clause is None else query.filter(clause)

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
        """The search box through the full-text index (models.search), not a LIKE
        over every row."""
        clause = search_clause(self.model, search, db.session.get_bind().dialect.name)
        query = query.filter(clause)
        if count_query is not None:
            count_query = count_query.filter(clause)
        return query, count_query, joins, count_joins

    def get_one(self, id: Any) -> Any:
        """A row by id, only if the user may see it: 404 otherwise, in every screen."""
        pk = sa_inspect(self.model).primary_key[0]
        key = row_key(pk, id)
        if key is None:
            abort(404)
        row = self.get_query().filter(pk == key).one_or_none()
        if row is None:
            abort(404)
        return row

    def get_ids_or_404(self, ids: Iterable[str]) -> list[Any]:
        """The selected rows of a bulk action; any one outside the scope refuses all."""
        pk = sa_inspect(self.model).primary_key[0]
        keys = {row_key(pk, i) for i in ids}
        if None in keys:
            abort(404)
        rows = self.get_query().filter(pk.in_(keys)).all() if keys else []
        if len(rows) != len(keys):
            abort(404)
        return rows

    # -- writes: one path for forms, transitions, bulk actions and imports --------

    def write(self, change: Any, rows: Any = (), form: Any = None, what: str = "保存") -> bool:
        """Apply ``change()``, run every touched row's rules, check that ``rows`` are
        still in the user's scope and commit — or roll everything back and say why,
        in Chinese, naming the field or row. Nothing is ever half-written."""
        session = db.session
        try:
            # no autoflush: a query inside a hook or rule must not write the rows
            # before every rule has seen them
            with session.no_autoflush:
                change()
            session.flush()
            for row in rows() if callable(rows) else rows:
                if not in_scope(row, current_user):
                    raise Refused(f"「{row}」不在您的管辖范围内")
            session.commit()
            return True
        except Invalid as exc:
            session.rollback()
            self._report_invalid(exc, form)
        except Refused as exc:
            session.rollback()
            flash(f"{what}未完成，数据未改变：{exc}", "error")
        except IntegrityError as exc:
            session.rollback()
            flash(f"{what}未完成，数据未改变：{integrity_message(exc, self.model)}", "error")
        except StaleDataError:  # saved by someone else between our read and our write
            session.rollback()
            flash(STALE_MESSAGE.format(who="他人"), "error")
        except OperationalError as exc:  # unreachable or locked: one log line, a 503, the form kept
            session.rollback()
            flash(database_fault(exc, what), "error")
        except SQLAlchemyError:
            session.rollback()
            log.exception("%s failed on %s", what, self.model.__name__)
            flash(f"{what}失败：数据未改变，请检查后重试", "error")
        except HTTPException:
            session.rollback()
            raise
        except Exception:  # a bug mid-way (say, on the 3rd of 5 rows): none of it is kept
            session.rollback()
            log.exception("%s failed on %s", what, self.model.__name__)
            flash(f"{what}未完成，数据未改变：系统出现意外错误，已记录日志，请联系管理员", "error")
        return False

    def save(self, model: Any, is_created: bool, form: Any = None) -> bool:
        def change() -> None:
            if is_created:
                db.session.add(model)
                if callable(getattr(model, "on_create", None)):
                    model.on_create(current_user._get_current_object())
            if form is not None:
                self._on_model_change(form, model, is_created)
            run_rules_on_session(model)
        return self.write(change, [model], form)

    def create_model(self, form: Any) -> Any:
        model = self.build_new_instance()
        with db.session.no_autoflush:
            form.populate_obj(model)
        if not self.save(model, True, form):
            return False
        self.after_model_change(form, model, True)
        return model

    def update_model(self, form: Any, model: Any) -> bool:
        versioned = hasattr(form, "row_version")
        shown = getattr(getattr(form, "row_version", None), "data", None)
        if versioned and not shown:
            # a form that does not say which version it was filled from could overwrite a
            # newer save unseen: only a browser's own form, which always carries it, saves
            flash(NO_VERSION_MESSAGE, "error")
            return False
        if versioned and shown != str(self._row_version(model)):
            # the form was read before someone else saved: keep their edit, say so
            flash(STALE_MESSAGE.format(who=last_editor(model)), "error")
            return False
        with db.session.no_autoflush:
            form.populate_obj(model)
            if _children_changed(model):  # an inline child edited alone still moves the parent on
                _touch(model)
        if not self.save(model, False, form):
            return False
        self.after_model_change(form, model, False)
        return True

    def delete_model(self, model: Any) -> bool:
        """Delete — into the recycle bin for the registries (models.softdelete)."""
        soft = soft_deletes(self.model)

        def change() -> None:
            self.on_model_delete(model)
            softdelete.remove(model, current_actor()[1])
        done = f"删除「{model}」" if not soft else f"删除「{model}」（移入回收站）"
        if not self.write(change, what=done):
            return False
        if soft:
            flash(f"「{model}」已移入回收站，可在 系统管理 › 回收站 恢复", "success")
            return True
        self.after_model_delete(model)
        return True

    def _report_invalid(self, exc: Invalid, form: Any) -> None:
        model = getattr(exc, "model", None) or self.model
        prefix = f"{exc.row}：" if getattr(exc, "row", None) else ""
        for name, messages in exc.errors.items():
            field = getattr(form, name, None) if form is not None and model is self.model else None
            if field is not None and hasattr(field, "errors"):
                field.errors = list(field.errors or []) + messages
            # a form-only field (a password) has no column to take the label from
            label = str(field.label.text) if field is not None and hasattr(field, "label") \
                else column_label(model, name)
            flash(f"{prefix}「{label}」：{'；'.join(messages)}", "error")

    # -- bulk actions: all selected rows, or none ---------------------------------

    def run_action(self, name: str, ids: list[str]) -> Any:
        rows = self.get_ids_or_404(ids)
        label = self._declared_actions[name].label if name != "delete" else "删除"

        def change() -> None:
            for row in rows:
                try:
                    if name == "delete":
                        self.on_model_delete(row)
                        softdelete.remove(row, current_actor()[1])
                    else:
                        getattr(row, name)()
                        run_rules_on_session(row)
                except Invalid as exc:
                    raise Refused(f"「{row}」：{describe_invalid(exc, type(row))}") from exc
                except Refused as exc:
                    raise Refused(f"「{row}」：{exc}") from exc
            if name != "delete":
                record(AuditAction.ACTION, None, note=f"{self.spec.label}：{label}，共 {len(rows)} 条",
                       changes={"ids": [str(i) for i in ids]})

        if self.write(change, rows if name != "delete" else (), what=f"{label}（所选 {len(rows)} 条）"):
            flash(f"{label}：已处理 {len(rows)} 条记录", "success")
        return None

    @expose("/action/", methods=("POST",))
    def action_view(self) -> Any:
        # Flask-Admin ignores an action the user may not run; say so instead
        name = request.form.get("action", "")
        if name not in self._actions_data or not self.is_action_allowed(name):
            abort(403)
        return super().action_view()

    @action("delete", lazy_gettext("删除"), lazy_gettext("确定要删除所选记录吗？删除后不可恢复。"))
    def action_delete(self, ids: list[str]) -> Any:  # replaces Flask-Admin's
        return self.run_action("delete", ids)

    # -- history ------------------------------------------------------------------

    @expose("/history/")
    def history_view(self) -> Any:
        row = self.get_one(request.args.get("id"))
        entries = history_of(row)
        return self.render("admin/model/history.html", model=row, entries=entries,
                           describe=lambda e: formatting.describe_changes(self.model, e.changes),
                           return_url=get_redirect_target() or self.get_url(".index_view"))

    # -- uploaded files and printable pages ----------------------------------------

    @expose("/file/")
    def file_view(self) -> Any:
        from flask import send_from_directory

        from .uploads import mimetype, upload_root

        column = request.args.get("column", "")
        spec = self._uploads.get(column)
        if spec is None:
            abort(404)
        name = getattr(self.get_one(request.args.get("id")), column)
        if not name:
            abort(404)
        return send_from_directory(upload_root(spec), name, mimetype=mimetype(name),
                                   as_attachment=not mimetype(name).startswith("image/"))

    @expose("/print/")
    def print_view(self) -> Any:
        from flask import render_template

        if not self.spec.print_template:
            abort(404)
        row = self.get_one(request.args.get("id"))
        return render_template(self.spec.print_template, row=row, view=self, printed_at=now(),
                               label=lambda name: column_label(self.model, name))

    def after_model_delete(self, model: Any) -> None:
        from .uploads import upload_root

        for column, spec in self._uploads.items():  # the file goes with its row
            name = getattr(model, column, None)
            if name:
                Path(upload_root(spec), name).unlink(missing_ok=True)
        super().after_model_delete(model)

    # -- export -------------------------------------------------------------------

    @expose("/export/<export_type>/")
    def export(self, export_type: str) -> Any:
        from .exports import export_response

        if not self.can_export or export_type not in self.export_types:
            abort(404)
        return export_response(self, export_type)

    # -- filters with options that depend on the user -----------------------------

    def _get_filter_groups(self) -> Any:
        groups = super()._get_filter_groups()
        if groups and _in_request():
            for items in groups.values():
                for item in items:
                    flt = self._filters[item["index"]]
                    if isinstance(flt, RelationFilter):
                        item["options"] = flt.current_options()
        return groups

    def scaffold_form(self) -> Any:
        form_class = super().scaffold_form()
        swaps = {AjaxSelectField: StrictAjaxSelectField,
                 AjaxSelectMultipleField: StrictAjaxSelectMultipleField,
                 Select2Field: StrictSelect2Field}
        for name in dir(form_class):
            attr = getattr(form_class, name, None)
            if isinstance(attr, UnboundField) and attr.field_class in swaps:
                attr.field_class = swaps[attr.field_class]
        if sa_inspect(self.model).version_id_col is not None:
            form_class.row_version = VersionField()
        return form_class

    def on_form_prefill(self, form: Any, id: Any) -> None:
        """An edit form remembers which version of the row it shows."""
        super().on_form_prefill(form, id)
        if hasattr(form, "row_version") and not form.row_version.data:
            form.row_version.data = str(self._row_version(self.get_one(id)))

    def _row_version(self, model: Any) -> Any:
        return getattr(model, sa_inspect(self.model).version_id_col.key)

    def _create_ajax_loader(self, name: str, options: dict[str, Any]) -> Any:
        target = sa_inspect(self.model).relationships[name].mapper.class_
        return ScopedAjaxLoader(name, self.session, target, **options)


# -- counting and paging large lists ---------------------------------------------------------

# The list's own query parameters (the rest — filters aside — are carried into its links).
LIST_ARGS = ("page", "page_size", "sort", "desc", "search", "after", "before")
MAX_PAGE = 10_000_000      # page × page size stays an OFFSET both databases take
MAX_OFFSET = 1_000_000_000
CURSOR_MAX = 2000          # characters of a cursor token; the app's own are far shorter


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


def run_rules(model: Any) -> None:
    """Column ranges from the declaration, then the model's own ``clean()``."""
    errors: dict[str, list[str]] = {}
    for attr in sa_inspect(type(model)).column_attrs:
        info = attr_info(attr)
        value = getattr(model, attr.key, None)
        if value is None or isinstance(value, bool):
            continue
        if "min" in info and value < info["min"]:
            errors.setdefault(attr.key, []).append(f"不能小于 {info['min']}")
        if "max" in info and value > info["max"]:
            errors.setdefault(attr.key, []).append(f"不能大于 {info['max']}")
        if info.get("money"):
            problem = money_problem(value)
            if problem:
                errors.setdefault(attr.key, []).append(problem)
        problem = storable_problem(attr.columns[0].type, value)
        if problem:
            errors.setdefault(attr.key, []).append(problem)
    if errors:
        raise Invalid(errors)
    clean = getattr(model, "clean", None)
    if callable(clean):
        clean()


# The largest integer each column type holds (PostgreSQL's; SQLite's 64 bits hold them all).
INTEGER_LIMITS = ((SmallInteger, 2 ** 15 - 1), (BigInteger, 2 ** 63 - 1), (Integer, 2 ** 31 - 1))


def storable_problem(column_type: Any, value: Any) -> str | None:
    """What the database would refuse — or SQLite silently keep — said before the write,
    so the message names the field instead of a bare database error: text longer than
    its column or holding NUL (PostgreSQL cannot store it), an integer beyond its column,
    a decimal with more digits than its column has."""
    from decimal import Decimal

    if isinstance(value, str):
        if "\x00" in value:
            return "不能包含空字符（\\0）"
        length = getattr(column_type, "length", None)
        if isinstance(column_type, String) and length and len(value) > length:
            return f"不能超过 {length} 个字符（现为 {len(value)} 个）"
    elif isinstance(value, int) and not isinstance(value, bool) and isinstance(column_type, Integer):
        limit = next(top for kind, top in INTEGER_LIMITS if isinstance(column_type, kind))
        if abs(value) > limit:
            return "数值超出可保存的范围"
    elif isinstance(value, (Decimal, float)) and isinstance(column_type, Numeric):
        amount = Decimal(str(value))
        if not amount.is_finite():
            return "不是有效的数字"
        precision, scale = column_type.precision, column_type.scale or 0
        if precision and amount.adjusted() >= precision - scale:
            return f"数值过大：整数部分最多 {precision - scale} 位"
    return None


def row_key(pk: Any, value: Any) -> Any:
    """A primary key from a request (a URL, a form, an ajax pick) — or ``None`` when it
    cannot be one: not a number, or beyond what the column holds (SQLite would raise
    OverflowError on the query, PostgreSQL "out of range for type integer", a 500);
    text with a NUL or longer than the column (an import job's id)."""
    try:
        key = pk.type.python_type(value)
    except (TypeError, ValueError, NotImplementedError):
        return None
    if isinstance(key, int):
        limit = next((top for kind, top in INTEGER_LIMITS if isinstance(pk.type, kind)), 2 ** 63 - 1)
        if abs(key) > limit:  # PostgreSQL refuses to compare an INTEGER with a bigger one
            return None
    elif isinstance(key, str) and storable_problem(pk.type, key):
        return None
    return key


def money_problem(value: Any) -> str | None:
    """An amount of yuan must be positive and have at most two decimals (分)."""
    from decimal import Decimal, InvalidOperation

    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return "不是有效的金额"
    if amount <= 0:
        return "金额必须大于 0"
    if amount != amount.quantize(Decimal("0.01")):
        return "金额最多保留两位小数（精确到分）"
    return None


def run_rules_on_session(main: Any) -> None:
    """Rules of the main row, then of every other declared row the write touches
    (inline children, rows an action changed); errors name the row they belong to."""
    run_rules(main)
    for obj in list(db.session.new) + list(db.session.dirty):
        if obj is main or not hasattr(type(obj), "__admin__"):
            continue
        try:
            run_rules(obj)
        except Invalid as exc:
            exc.model = type(obj)
            exc.row = f"{type(obj).__admin__.label}「{obj}」"
            raise


def describe_invalid(exc: Invalid, model: type) -> str:
    return "；".join(f"「{column_label(model, k)}」{'、'.join(v)}" for k, v in exc.errors.items())


def integrity_message(exc: IntegrityError, model: type) -> str:
    """A violated constraint, said in Chinese with the label of its column.

    SQLite names ``estate.name``; PostgreSQL names the constraint (``uq_estate_name``,
    see the naming convention) and the column as ``(name)`` or ``"name"``.
    """
    text = str(exc.orig) if exc.orig is not None else str(exc)
    table = model.__tablename__
    mapper = sa_inspect(model)
    listed = re.search(r"Key \(([^)]*)\)=", text)  # PostgreSQL: Key (company_id, year)=(1, 2025)
    if listed:
        columns = [c.strip().strip('"') for c in listed.group(1).split(",")]
    else:
        columns = [a.columns[0].name for a in mapper.column_attrs
                   if re.search(rf'{table}\.{a.key}\b|\({a.key}\)|"{a.key}"|{table}_{a.key}\b', text)]
    labels = "、".join(f"「{_column_name_label(mapper, c)}」" for c in columns)
    lowered = text.lower()
    if "unique" in lowered or "duplicate" in lowered:
        return f"保存失败：{labels}与已有记录重复" if labels else "保存失败：与已有记录重复"
    if "not null" in lowered or "null value" in lowered:
        return f"保存失败：{labels}不能为空" if labels else "保存失败：有必填项为空"
    if "foreign key" in lowered:
        return "保存失败：引用的记录不存在或仍被其他记录使用"
    return "保存失败：数据不符合约束，未写入"


def _column_name_label(mapper: Any, column: str) -> str:
    """The label of a table column: its own, or its relation's for a foreign key
    (company_id reads 物业服务企业)."""
    for rel in mapper.relationships:
        if any(c.name == column for c in rel.local_columns) and rel.info.get("label"):
            return rel.info["label"]
    for attr in mapper.column_attrs:
        if attr.columns[0].name == column:
            return attr.columns[0].info.get("label", attr.key)
    return column


# -- building a view from a declaration ---------------------------------------------


def _column_type(model: type, name: str) -> Any:
    from views.checks import _resolve

    found = _resolve(model, name)
    return found if isinstance(found, tuple) else (None, None)


def _default_columns(model: type, spec: ModelAdmin, form: bool = False) -> list[str]:
    mapper = sa_inspect(model)
    fk_cols = {c.key for rel in mapper.relationships for c in rel.local_columns}
    # a relation stands where its key column stands (小区 first in a household's columns,
    # as in its import template), not after every plain column
    at_key = {}
    for rel in mapper.relationships:
        if rel.info.get("label") and rel.direction is MANYTOONE:
            at_key.setdefault(next(iter(rel.local_columns)).key, rel.key)
    names: list[str] = []
    for attr in mapper.column_attrs:
        col, info = attr.columns[0], attr_info(attr)
        if attr.key in at_key:
            names.append(at_key.pop(attr.key))
            continue
        if getattr(col, "primary_key", False) or attr.key in fk_cols or not info.get("label"):
            continue
        if info.get("secret") or info.get("internal") or (form and info.get("figure")):
            continue
        names.append(attr.key)
    names += [rel.key for rel in mapper.relationships  # one-to-one, and many-to-many
              if rel.info.get("label") and rel.key not in names and (not rel.uselist or rel.secondary is not None)]
    if form:
        names = [n for n in names if n not in spec.readonly and n not in computed_columns(model)
                 and n not in ("created_at", "updated_at")]
    else:
        names += [key for key, d in mapper.all_orm_descriptors.items()
                  if getattr(d, "info", None) and d.info.get("label")
                  and key not in mapper.attrs]
    return names


def computed_columns(model: type) -> set[str]:
    """Columns the application fills itself: workflow state and computed deadlines."""
    workflow = getattr(model.__admin__, "workflow", None)
    if workflow is None:
        return set()
    return {workflow.field, *(c.due for c in workflow.clocks if c.rule is not None)}


# Filters offered for a column, by its type (order matters: DateTime before Date).
FILTERS_BY_TYPE: list[tuple[Any, tuple[type, ...]]] = [
    (Boolean, (sqla_filters.BooleanEqualFilter,)),
    (DateTime, (sqla_filters.DateTimeBetweenFilter, sqla_filters.DateTimeGreaterFilter,
                sqla_filters.DateTimeSmallerFilter)),
    (Date, (sqla_filters.DateBetweenFilter, sqla_filters.DateGreaterFilter,
            sqla_filters.DateSmallerFilter)),
    (Integer, (sqla_filters.IntEqualFilter, sqla_filters.IntGreaterFilter,
               sqla_filters.IntSmallerFilter)),
    (Numeric, (sqla_filters.FloatEqualFilter, sqla_filters.FloatGreaterFilter,
               sqla_filters.FloatSmallerFilter)),
    ((String, Text), (sqla_filters.FilterLike, sqla_filters.FilterEqual)),
]


def _filters_for(model: type, spec: ModelAdmin) -> list[Any]:
    out: list[Any] = []
    for name in spec.filters:
        kind, target = _column_type(model, name)
        label = lazy_gettext(column_label(model, name))
        if kind == "relation":
            fk = list(target.local_columns)[0]
            col = getattr(model, fk.key) if "." not in name else fk
            out.append(RelationFilter(col, label, target.mapper.class_))
            continue
        if kind == "computed":  # flags computed in SQL
            flt = ComputedFlagFilter(getattr(model, name), label)
            flt.no_join = True
            out.append(flt)
            continue
        column = _attr_for(model, name)
        ctype = target.type
        start = len(out)
        if isinstance(ctype, ChoiceType):
            pairs = ctype.choices.pairs()
            out += [sqla_filters.FilterEqual(column, label, options=pairs),
                    sqla_filters.FilterNotEqual(column, label, options=pairs)]
        else:
            classes = next((c for types, c in FILTERS_BY_TYPE if isinstance(ctype, types)), None)
            if classes is None:
                raise TypeError(f"{model.__name__}: no filter for column type {ctype!r} ({name})")
            out += [cls(column, label) for cls in classes]
        if not isinstance(target, Column):  # a figure: SQL of its own, nothing to join
            for flt in out[start:]:
                flt.no_join = True
    return out


def _attr_for(model: type, path: str) -> Any:
    current = model
    parts = path.split(".")
    for part in parts[:-1]:
        current = sa_inspect(current).relationships[part].mapper.class_
    return getattr(current, parts[-1])


def _list_loads(model: type, columns: Iterable[str]) -> list[Any]:
    """Eager loads for every relation a list shows: joined for many-to-one (same
    query), one extra query per to-many — either way constant in the page size."""
    loads: dict[str, Any] = {}
    for name in columns:
        parts = name.split(".")
        current = model
        chain = None
        for part in parts:
            mapper = sa_inspect(current)
            if part not in mapper.relationships:
                break
            rel = mapper.relationships[part]
            attr = getattr(current, part)
            loader = selectinload if rel.uselist else joinedload
            chain = loader(attr) if chain is None else (
                chain.selectinload(attr) if rel.uselist else chain.joinedload(attr))
            loads[".".join(parts[: parts.index(part) + 1])] = chain
            current = rel.mapper.class_
    # keep only the longest chain of each path
    keys = sorted(loads)
    return [loads[k] for k in keys if not any(o.startswith(k + ".") for o in keys)]


def resolve_view_class(spec: ModelAdmin) -> type[DeclaredModelView]:
    if spec.view is None:
        return DeclaredModelView
    if isinstance(spec.view, str):
        module, _, name = spec.view.rpartition(".")
        return getattr(importlib.import_module(module), name)
    return spec.view


def build_view(model: type) -> DeclaredModelView:
    """A Flask-Admin view instance for one declared model."""
    spec: ModelAdmin = model.__admin__
    base = resolve_view_class(spec)
    mapper = sa_inspect(model)

    list_columns = list(spec.list_columns) or _default_columns(model, spec)
    form_columns = list(spec.form_columns) or _default_columns(model, spec, form=True)
    # the timestamps close the details, once, whether or not the model labels them
    stamps = [c for c in ("created_at", "updated_at") if c in mapper.column_attrs]
    # undeclared, details and exports read in the order the form was declared in (which is
    # the import template's too), then what the form leaves out, then the timestamps
    shown = [c for c in _default_columns(model, spec) if c not in stamps]
    shown = [c for c in spec.form_columns if c in shown] + [c for c in shown if c not in spec.form_columns]
    details_columns = list(spec.details_columns) or shown + stamps
    every = set(list_columns) | set(form_columns) | set(details_columns) | set(spec.filters) \
        | set(spec.search) | set(mapper.attrs.keys())
    labels = {name: lazy_gettext(column_label(model, name)) for name in every}
    descriptions = {a.key: attr_info(a)["help"] for a in mapper.column_attrs
                    if attr_info(a).get("help")}
    descriptions.update({k: d.info["help"] for k, d in mapper.all_orm_descriptors.items()
                         if getattr(d, "info", None) and d.info.get("help")})

    choices = {}
    for name in set(list_columns) | set(details_columns) | set(form_columns):
        kind, target = _column_type(model, name)
        if kind == "column" and isinstance(target.type, ChoiceType):
            choices[name] = target.type.choices.pairs()
    form_choices, form_args, overrides = _field_options(model, form_columns)
    uploads = {a.key: attr_info(a)["upload"] for a in mapper.column_attrs if attr_info(a).get("upload")}

    ajax_refs = {}
    for name in form_columns:
        kind, target = _column_type(model, name)
        if kind == "relation":
            remote = target.mapper.class_
            lookup = lookup_fields(remote)
            ajax_refs[name] = {"fields": list(lookup), "page_size": 10,
                               "placeholder": f"输入{lookup_label(remote, lookup)}搜索"}

    inline = [_inline_model(model, name) for name in spec.inline]

    sortable = [n for n in list_columns if _column_type(model, n)[0] == "column"]
    default_sort = None
    if spec.sort:
        sorts = (spec.sort,) if isinstance(spec.sort, str) else tuple(spec.sort)
        default_sort = [(s.lstrip("-"), s.startswith("-")) for s in sorts]
        default_sort.append((mapper.primary_key[0].key, sorts[-1].startswith("-")))

    attrs: dict[str, Any] = {
        "spec": spec,
        "column_list": list_columns,
        "column_details_list": details_columns,
        # everything the details screen shows, so a spreadsheet has every field (and the
        # same headers as the import template)
        "column_export_list": [c for c in details_columns
                               if not (_column_type(model, c)[0] == "relation" and _column_type(model, c)[1].uselist)],
        "column_labels": labels,
        "column_descriptions": descriptions,
        "column_searchable_list": list(spec.search) or None,
        "column_filters": None,  # set below: filter objects need the class first
        "column_sortable_list": sortable,
        "column_default_sort": default_sort,
        "column_choices": choices,
        "form_columns": form_columns,
        "form_choices": form_choices,
        "form_args": form_args,
        "form_ajax_refs": ajax_refs or None,
        "inline_models": inline or None,
        "form_overrides": overrides or None,
        "_uploads": uploads,
        "page_size": spec.page_size,
        "column_type_formatters": formatting.LIST_FORMATTERS,
        "column_type_formatters_detail": formatting.LIST_FORMATTERS,
        "_list_loads": _list_loads(model, list_columns),
        "_declared_actions": {a.name: a for a in spec.actions},
        **dict(spec.extra),
    }
    attrs["column_filters"] = _filters_for(model, spec) or None
    formatters = {name: formatting.warning_flag for name in set(list_columns) | set(details_columns)
                  if _info_of(model, name).get("warn")}
    formatters.update({name: _file_formatter(name) for name in uploads})
    if formatters:
        inherited = getattr(base, "column_formatters", None)
        attrs["column_formatters"] = {**(inherited if isinstance(inherited, dict) else {}), **formatters}
    view_class = type(f"{model.__name__}View", (base,), attrs)
    _attach_actions(view_class, spec)
    return view_class(model, db, name=lazy_gettext(spec.label),
                      category=lazy_gettext(spec.category), endpoint=model.__tablename__)


def _inline_model(model: type, name: str) -> tuple[type, dict[str, Any]]:
    """A one-to-many child edited inside its parent's form, from the child's declaration."""
    rel = sa_inspect(model).relationships[name]
    child = rel.mapper.class_
    spec = child.__admin__
    back = {r.key for r in sa_inspect(child).relationships if r.mapper.class_ is model}

    def editable_inline(column: str) -> bool:
        kind, target = _column_type(child, column)
        if kind == "relation":  # an inline select lists every row: reference tables only
            return getattr(target.mapper.class_.__admin__, "scope", None) is None
        return kind == "column"

    columns = [c for c in (spec.form_columns or _default_columns(child, spec, form=True))
               if c not in back and editable_inline(c)]
    choices, args, overrides = _field_options(child, columns)
    options: dict[str, Any] = {
        "form_columns": ["id", *columns],
        "column_labels": {c: lazy_gettext(column_label(child, c)) for c in columns},
        "form_choices": choices, "form_args": args,
    }
    if overrides:
        options["form_overrides"] = overrides
    return child, options


def _field_options(model: type, columns: Iterable[str]) -> tuple[dict, dict, dict]:
    """Form choices, field arguments (ranges, uploads) and field overrides for columns,
    read from their declarations."""
    choices: dict[str, Any] = {}
    args: dict[str, Any] = {}
    overrides: dict[str, Any] = {}
    for name in columns:
        kind, target = _column_type(model, name)
        if kind != "column":
            continue
        info = target.info
        if isinstance(target.type, ChoiceType):
            choices[name] = target.type.choices.pairs()
        if "min" in info or "max" in info:
            args[name] = {"validators": [NumberRange(min=info.get("min"), max=info.get("max"),
                                                     message=_range_message(info))]}
        if info.get("upload"):
            upload = field_options(info["upload"])
            overrides[name] = upload["override"]
            args[name] = upload["args"]
    return choices, args, overrides


def _file_formatter(column: str) -> Any:
    def render(view: Any, context: Any, model: Any, name: str) -> Any:
        url = url_for(f"{view.endpoint}.file_view", id=model.id, column=column)
        return thumbnail(url, getattr(model, column))
    return render


def _info_of(model: type, name: str) -> dict[str, Any]:
    kind, target = _column_type(model, name)
    if kind == "computed":
        return target.info
    if kind == "column" and "." not in name:
        return attr_info(sa_inspect(model).column_attrs[name])
    return {}


def _range_message(info: dict[str, Any]) -> str:
    lo, hi = info.get("min"), info.get("max")
    if lo is not None and hi is not None:
        return f"应在 {lo} 到 {hi} 之间"
    return f"不能小于 {lo}" if lo is not None else f"不能大于 {hi}"


def lookup_label(model: type, lookup: Iterable[str]) -> str:
    return "或".join(column_label(model, n) for n in lookup)


def _attach_actions(view_class: type, spec: ModelAdmin) -> None:
    """Expose each declared ``Action`` through Flask-Admin's action mechanism."""
    for act in spec.actions:
        def handler(self: DeclaredModelView, ids: list[str], _name: str = act.name) -> Any:
            return self.run_action(_name, ids)

        handler._action = (act.name, lazy_gettext(act.label),  # type: ignore[attr-defined]
                           act.confirm and lazy_gettext(act.confirm))
        setattr(view_class, f"action_{act.name}", handler)
