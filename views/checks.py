"""Start-up checks of every declaration (after Django's ``checks.py``).

A declaration naming a column, relation, role or action that does not exist stops
the application before it serves a request, with every mistake listed at once.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable

from sqlalchemy import Column, String, Text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.hybrid import HybridExtensionType

HYBRID_PROPERTY = HybridExtensionType.HYBRID_PROPERTY

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
        elif last and part in mapper.all_orm_descriptors and \
                mapper.all_orm_descriptors[part].extension_type is HYBRID_PROPERTY:
            return "computed", mapper.all_orm_descriptors[part]
        elif last and isinstance(getattr(current, part, None), property):
            return "property", getattr(current, part)
        else:
            return (f"'{path}' is not a column or relation of {current.__name__}"
                    + _hint(part, _names(current)))
    return "column", None  # unreachable


def _label_of(model: type, path: str) -> str | None:
    from models.declare import attr_info

    current = model
    parts = path.split(".")
    for part in parts[:-1]:
        current = sa_inspect(current).relationships[part].mapper.class_
    return attr_info(sa_inspect(current).column_attrs[parts[-1]]).get("label")


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
                if not _label_of(model, name) and name not in spec.labels:
                    out.append(f"{where}: {option} '{name}' has no Chinese label "
                               f"(declare it with field(..., \"标签\"))")
            elif found[0] == "relation" and option in ("filters",) and found[1].uselist:
                out.append(f"{where}: filters '{name}' is a to-many relation; filter on a column")

    check_paths("list_columns", spec.list_columns, allow=("column", "relation", "property", "computed"))
    check_paths("details_columns", spec.details_columns,
                allow=("column", "relation", "property", "computed"))
    for option, names in (("list_columns", spec.list_columns), ("details_columns", spec.details_columns),
                          ("filters", spec.filters)):
        for name in names:
            found = _resolve(model, name)
            if isinstance(found, tuple) and found[0] == "computed" and not found[1].info.get("label"):
                out.append(f"{where}: {option} '{name}' is computed but has no label "
                           "(declare it with computed(\"标签\", ...))")
    check_paths("search", spec.search, allow=("column",), direct=True)  # one search document per table
    for name in spec.search:
        found = _resolve(model, name)
        if isinstance(found, tuple) and found[0] == "column" and not isinstance(
                found[1].type, (String, Text)):
            out.append(f"{where}: search '{name}' is not a text column")
    check_paths("filters", spec.filters, allow=("column", "relation", "computed"))
    check_paths("form_columns", spec.form_columns, allow=("column", "relation"), direct=True)
    for name in spec.form_columns:
        found = _resolve(model, name)
        if isinstance(found, tuple) and found[0] == "column" and not isinstance(found[1], Column):
            out.append(f"{where}: form_columns '{name}' is a computed figure; it cannot be edited")
    check_paths("readonly", spec.readonly, allow=("column", "relation", "property", "computed"),
                direct=True)
    check_paths("lookup", spec.lookup, allow=("column",), direct=True)
    for sort in ((spec.sort,) if isinstance(spec.sort, str) else spec.sort or ()):
        check_paths("sort", [sort.lstrip("-")], allow=("column",))
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

    for path in ((spec.scope,) if isinstance(spec.scope, str) else () if callable(spec.scope) else spec.scope or ()):
        if resolve_column(model, path) is None:
            out.append(f"{where}: scope '{path}' is not a column path of {model.__name__}")
        elif anchor_level(model, path) is None:
            out.append(f"{where}: scope '{path}' does not point at a street, community "
                       "or estate (a foreign key to one of them, or their own id)")

    mapper = sa_inspect(model)
    for name in spec.inline:
        rel = mapper.relationships.get(name)
        if rel is None or rel.direction.name != "ONETOMANY":
            out.append(f"{where}: inline '{name}' is not a one-to-many relation of {model.__name__}"
                       + _hint(name, [r.key for r in mapper.relationships]))
        elif not hasattr(rel.mapper.class_, "__admin__"):
            out.append(f"{where}: inline '{name}' points at {rel.mapper.class_.__name__}, "
                       "which has no __admin__ declaration")


    if spec.workflow is not None:
        out.extend(_check_workflow(model, spec, where))
    if spec.station is not None:
        from models.governance import OrgKind

        if not isinstance(spec.station, OrgKind):
            out.append(f"{where}: station must be an OrgKind, not {spec.station!r}")

    if spec.view is not None and not (callable(spec.view) or isinstance(spec.view, str)):
        out.append(f"{where}: view must be a class or a dotted path")
    return out


def _check_workflow(model: type, spec: ModelAdmin, where: str) -> list[str]:
    import inspect

    from models.declare import ChoiceType
    from models.workflow import Workflow

    wf = spec.workflow
    if not isinstance(wf, Workflow):
        return [f"{where}: workflow must be a Workflow(...)"]
    out: list[str] = []
    mapper = sa_inspect(model)
    if wf.field is None:
        states = None
        stateful = [t.name for t in wf.transitions if t.source or t.target is not None]
        if stateful:
            out.append(f"{where}: transitions {stateful} name states, but the workflow has no field")
    elif wf.field not in mapper.column_attrs or not isinstance(
            mapper.column_attrs[wf.field].columns[0].type, ChoiceType):
        return [f"{where}: workflow field '{wf.field}' must be a ChoiceType column"]
    else:
        states = mapper.column_attrs[wf.field].columns[0].type.choices
    if wf.field in spec.form_columns:
        out.append(f"{where}: workflow field '{wf.field}' must not be in form_columns "
                   "(states change only through transitions)")
    names: set[str] = set()
    for t in wf.transitions:
        if t.name in names:
            out.append(f"{where}: transition '{t.name}' is declared twice")
        names.add(t.name)
        for state in (*t.source, *([t.target] if t.target is not None else [])):
            if states is not None and not isinstance(state, states):
                out.append(f"{where}: transition '{t.name}' names {state!r}, not a {states.__name__}")
        if t.guard and not callable(getattr(model, t.guard, None)):
            out.append(f"{where}: transition '{t.name}' guard {model.__name__}.{t.guard}() does not exist"
                       + _hint(t.guard, [n for n in dir(model) if n.startswith("guard")]))
        for role in t.roles:
            code = role.value if isinstance(role, Role) else role
            if code not in KNOWN_ROLES:
                out.append(f"{where}: transition '{t.name}' names unknown role '{code}'"
                           + _hint(str(code), KNOWN_ROLES))
        effect = getattr(model, t.name, None)
        if callable(effect):
            accepted = inspect.signature(effect).parameters
            for p in t.params:
                if p.name not in accepted and not any(
                        a.kind is inspect.Parameter.VAR_KEYWORD for a in accepted.values()):
                    out.append(f"{where}: transition '{t.name}' param '{p.name}' is not an argument "
                               f"of {model.__name__}.{t.name}()")
        elif t.params:
            out.append(f"{where}: transition '{t.name}' has params but no method "
                       f"{model.__name__}.{t.name}() to receive them")
        for p in t.params:
            if p.kind not in ("text", "textarea", "date", "datetime", "int", "decimal", "choice", "bool",
                              "row", "rows"):
                out.append(f"{where}: transition '{t.name}' param '{p.name}' has unknown kind '{p.kind}'")
            if p.kind == "choice" and p.choices is None:
                out.append(f"{where}: transition '{t.name}' param '{p.name}' needs choices")
            if p.kind in ("row", "rows") and not hasattr(p.target_model, "__admin__"):
                out.append(f"{where}: transition '{t.name}' param '{p.name}' needs a declared model")
    for clock in wf.clocks:
        for attr in (clock.start, clock.due, clock.stop, *clock.inputs):
            if attr and attr not in mapper.column_attrs:
                out.append(f"{where}: clock '{clock.name}' names '{attr}', not a column"
                           + _hint(attr, mapper.column_attrs.keys()))
        if clock.rule is not None and clock.due in spec.form_columns:
            out.append(f"{where}: clock '{clock.name}' deadline '{clock.due}' is computed; "
                       "it must not be in form_columns")
    return out
