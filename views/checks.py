"""Start-up checks of every declaration (after Django's ``checks.py``).

A declaration naming a column, relation, role or action that does not exist stops
the application before it serves a request, with every mistake listed at once.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable

from sqlalchemy import String, Text
from sqlalchemy import inspect as sa_inspect

from models.declare import CATEGORIES, Action, ModelAdmin, Role
from models.scoping import anchor_level, resolve_column

KNOWN_ROLES = {r.value for r in Role}


class DeclarationError(RuntimeError):
    """Raised at start-up; the message lists each mistake with its model."""


def check_declarations(models: Iterable[type]) -> list[str]:
    problems: list[str] = []
    for model in models:
        problems.extend(_check_model(model))
    return problems


def _names(model: type) -> list[str]:
    mapper = sa_inspect(model)
    return [a.key for a in mapper.attrs]


def _hint(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _resolve(model: type, path: str) -> tuple[str, Any] | str:
    """('column'|'relation'|'property', target) or an error string."""
    current = model
    parts = path.split(".")
    for i, part in enumerate(parts):
        mapper = sa_inspect(current)
        last = i == len(parts) - 1
        if part in mapper.relationships:
            rel = mapper.relationships[part]
            if last:
                return "relation", rel
            if rel.uselist:
                return f"'{path}': '{part}' is a to-many relation; lists can only follow many-to-one"
            current = rel.mapper.class_
        elif part in mapper.column_attrs:
            if not last:
                return f"'{path}': '{part}' is a column, not a relation"
            return "column", mapper.column_attrs[part].columns[0]
        elif last and isinstance(getattr(current, part, None), property):
            return "property", getattr(current, part)
        else:
            return (f"'{path}' is not a column or relation of {current.__name__}"
                    + _hint(part, _names(current)))
    return "column", None  # unreachable


def _check_model(model: type) -> list[str]:
    spec = model.__dict__.get("__admin__")
    where = f"{model.__name__}.__admin__"
    if not isinstance(spec, ModelAdmin):
        return [f"{where} must be a ModelAdmin, not {type(spec).__name__}"]
    where = f"{model.__name__}（{spec.label}）"
    out: list[str] = []

    if not spec.label.strip():
        out.append(f"{model.__name__}: label is empty")
    if spec.category not in CATEGORIES:
        out.append(f"{where}: category '{spec.category}' is not one of {CATEGORIES}"
                   + _hint(spec.category, CATEGORIES))
    if spec.page_size <= 0:
        out.append(f"{where}: page_size must be positive")

    def check_paths(option: str, names: Iterable[str], allow=("column", "relation", "property"),
                    direct: bool = False) -> None:
        for name in names:
            if direct and "." in name:
                out.append(f"{where}: {option} '{name}' must be a field of the model itself")
                continue
            found = _resolve(model, name)
            if isinstance(found, str):
                out.append(f"{where}: {option} {found}")
            elif found[0] not in allow:
                out.append(f"{where}: {option} '{name}' is a {found[0]}, expected {' or '.join(allow)}")
            elif found[0] == "column" and option in ("list_columns", "form_columns",
                                                     "details_columns", "filters"):
                column = found[1]
                if not column.info.get("label") and name not in spec.labels:
                    out.append(f"{where}: {option} '{name}' has no Chinese label "
                               f"(declare it with field(..., \"标签\"))")
            elif found[0] == "relation" and option in ("filters",) and found[1].uselist:
                out.append(f"{where}: filters '{name}' is a to-many relation; filter on a column")

    check_paths("list_columns", spec.list_columns)
    check_paths("details_columns", spec.details_columns)
    check_paths("search", spec.search, allow=("column",))
    for name in spec.search:
        found = _resolve(model, name)
        if isinstance(found, tuple) and found[0] == "column" and not isinstance(
                found[1].type, (String, Text)):
            out.append(f"{where}: search '{name}' is not a text column")
    check_paths("filters", spec.filters, allow=("column", "relation"))
    check_paths("form_columns", spec.form_columns, allow=("column", "relation"), direct=True)
    check_paths("readonly", spec.readonly, allow=("column", "relation", "property"), direct=True)
    check_paths("lookup", spec.lookup, allow=("column",), direct=True)
    if spec.sort:
        check_paths("sort", [spec.sort.lstrip("-")], allow=("column",))
    overlap = set(spec.form_columns) & set(spec.readonly)
    if overlap:
        out.append(f"{where}: {sorted(overlap)} are both in form_columns and readonly")

    for op in ("read", "create", "edit", "delete"):
        for role in spec.perms.roles(op):
            if role not in KNOWN_ROLES:
                out.append(f"{where}: perms.{op} names unknown role '{role}'"
                           + _hint(role, KNOWN_ROLES))

    seen: set[str] = set()
    for act in spec.actions:
        if not isinstance(act, Action):
            out.append(f"{where}: actions must be Action(...), got {act!r}")
            continue
        if act.name in seen:
            out.append(f"{where}: action '{act.name}' is declared twice")
        seen.add(act.name)
        if not callable(getattr(model, act.name, None)):
            out.append(f"{where}: action '{act.name}' has no method {model.__name__}.{act.name}()"
                       + _hint(act.name, [n for n in dir(model) if not n.startswith("_")]))
        for role in act.roles:
            code = role.value if isinstance(role, Role) else role
            if code not in KNOWN_ROLES:
                out.append(f"{where}: action '{act.name}' names unknown role '{code}'"
                           + _hint(str(code), KNOWN_ROLES))

    if spec.scope is not None:
        if resolve_column(model, spec.scope) is None:
            out.append(f"{where}: scope '{spec.scope}' is not a column path of {model.__name__}")
        elif anchor_level(model, spec.scope) is None:
            out.append(f"{where}: scope '{spec.scope}' does not point at a street, community "
                       "or estate (a foreign key to one of them, or their own id)")

    if spec.view is not None and not (callable(spec.view) or isinstance(spec.view, str)):
        out.append(f"{where}: view must be a class or a dotted path")
    return out
