"""Building a view from a declaration: which columns, filters, fields, look-ups and
endpoints a model gets — each from what its ``ModelAdmin`` says."""

from __future__ import annotations

import logging
from typing import Any, Iterable

from flask_babel import lazy_gettext
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import MANYTOONE, joinedload, selectinload

from models import db
from models.kernel.checks import resolve_view
from models.kernel.declare import ChoiceType, ModelAdmin, attr_info, lookup_fields
from models.kernel.paths import column_label, find

from .. import formatting
from .base import DeclaredModelView
from .fields import _column_type, _field_options, _file_formatter, _filters_for, lookup_label
from .files import FileMixin, PrintMixin
from .imports import ImportMixin
from .workflow import WorkflowMixin

log = logging.getLogger(__name__)



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


def _list_loads(model: type, columns: Iterable[str]) -> list[Any]:
    """Eager loads for every relation a list shows: joined for many-to-one (same
    query), one extra query per to-many — either way constant in the page size."""
    loads: dict[str, Any] = {}
    for name in columns:
        found = find(model, name)
        if found is None:
            continue
        relations = [*found.steps, *([found.target] if found.kind == "relation" else [])]
        chain, current, walked = None, model, []
        for rel in relations:
            attr = getattr(current, rel.key)
            loader = selectinload if rel.uselist else joinedload
            chain = loader(attr) if chain is None else (
                chain.selectinload(attr) if rel.uselist else chain.joinedload(attr))
            walked.append(rel.key)
            loads[".".join(walked)] = chain
            current = rel.mapper.class_
    # keep only the longest chain of each path
    keys = sorted(loads)
    return [loads[k] for k in keys if not any(o.startswith(k + ".") for o in keys)]


def resolve_view_class(spec: ModelAdmin) -> type[DeclaredModelView]:
    if spec.view is None:
        return DeclaredModelView
    if isinstance(spec.view, str):
        return resolve_view(spec.view)
    return spec.view


def declared_mixins(spec: ModelAdmin, uploads: dict[str, Any]) -> tuple[type, ...]:
    """The endpoints a model gets beyond list, details, forms, delete, history and export:
    only for what it declares (a model without a workflow has no transition endpoint)."""
    mixins: list[type] = []
    if spec.workflow is not None:
        mixins.append(WorkflowMixin)
    if spec.importable:
        mixins.append(ImportMixin)
    if uploads:
        mixins.append(FileMixin)
    if spec.print_template:
        mixins.append(PrintMixin)
    return tuple(mixins)


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
    view_class = type(f"{model.__name__}View", (*declared_mixins(spec, uploads), base), attrs)
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


def _info_of(model: type, name: str) -> dict[str, Any]:
    """What the declaration says of a column of the model itself or a computed figure."""
    found = find(model, name)
    if found is None or (found.kind == "column" and not found.local) or found.kind not in ("column", "computed"):
        return {}
    return found.info()


def _attach_actions(view_class: type, spec: ModelAdmin) -> None:
    """Expose each declared ``Action`` through Flask-Admin's action mechanism."""
    for act in spec.actions:
        def handler(self: DeclaredModelView, ids: list[str], _name: str = act.name) -> Any:
            return self.run_action(_name, ids)

        handler._action = (act.name, lazy_gettext(act.label),  # type: ignore[attr-defined]
                           act.confirm and lazy_gettext(act.confirm))
        setattr(view_class, f"action_{act.name}", handler)
