"""Form fields, look-ups and list filters of declared models: what each column becomes
on a form or in the filter bar, from its declaration."""

from __future__ import annotations

import logging
from typing import Any, Iterable

from flask import url_for
from flask_admin.contrib.sqla import filters as sqla_filters
from flask_admin.contrib.sqla.ajax import QueryAjaxModelLoader
from flask_admin.form.fields import Select2Field
from flask_admin.model.fields import AjaxSelectField, AjaxSelectMultipleField
from flask_babel import lazy_gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import Boolean, Column, Date, DateTime, Integer, Numeric, String, Text
from sqlalchemy import inspect as sa_inspect
from wtforms import ValidationError
from wtforms.validators import NumberRange, StopValidation

from models import db
from models.kernel.declare import ChoiceType, ModelAdmin, lookup_fields
from models.kernel.paths import column_label, find, resolve
from models.kernel.rules import row_key
from models.kernel.scoping import scope_clause

from ..params import checked_text, clamp
from ..uploads import field_options, thumbnail

log = logging.getLogger(__name__)
from ..params import MAX_OFFSET


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


def _column_type(model: type, name: str) -> Any:
    """(kind, target) of a declared name — ``(None, None)`` for one that points at nothing."""
    found = find(model, name)
    return (found.kind, found.target) if found is not None else (None, None)


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
    return resolve(model, path).attribute()


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


def _range_message(info: dict[str, Any]) -> str:
    lo, hi = info.get("min"), info.get("max")
    if lo is not None and hi is not None:
        return f"应在 {lo} 到 {hi} 之间"
    return f"不能小于 {lo}" if lo is not None else f"不能大于 {hi}"


def lookup_label(model: type, lookup: Iterable[str]) -> str:
    return "或".join(column_label(model, n) for n in lookup)

