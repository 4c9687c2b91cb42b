"""Checks of every declaration (after Django's ``checks.py``): each option of each
``ModelAdmin`` is looked at, every mistake is reported at once, as a :class:`Problem`
with an id, the model, the option and — where a name is close to one that exists — a
did-you-mean.

The application refuses to serve with a problem (``create_app``), while ``flask check``
lists them and ``flask db …`` still runs, so a broken declaration can be migrated and
fixed.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import Column, String, Text
from sqlalchemy import inspect as sa_inspect

from .declare import Action, Choices, ChoiceType, ModelAdmin, Perms, resolve_function
from .paths import (
    COLUMN,
    COMPUTED,
    PROPERTY,
    RELATION,
    PathError,
    close_match,
    resolve,
)
from .registry import SETTINGS, role_codes

PARAM_KINDS = ("text", "textarea", "date", "datetime", "int", "decimal", "choice", "bool", "row", "rows")
SHOWN = (COLUMN, RELATION, PROPERTY, COMPUTED)


class DeclarationError(RuntimeError):
    """Raised at start-up; the message lists each mistake with its model."""


@dataclass(frozen=True)
class Problem:
    id: str
    """A stable code (``E101``) to look the problem up by."""
    model: str
    """``Estate（小区）``"""
    option: str
    """The option of the declaration, e.g. ``filters``."""
    message: str
    hint: str | None = None
    """A name close to the one written, if there is one."""

    def __str__(self) -> str:
        said = f"{self.model}: {self.option} {self.message}" if self.option else f"{self.model}: {self.message}"
        return said + (f" (did you mean '{self.hint}'?)" if self.hint else "")


def check_declarations(models: Iterable[type]) -> list[Problem]:
    problems: list[Problem] = []
    for model in models:
        problems.extend(ModelChecks(model).run())
    return problems


class ModelChecks:
    """The checks of one model; ``run()`` gives every problem found."""

    def __init__(self, model: type):
        self.model = model
        self.spec = model.__dict__.get("__admin__")
        label = getattr(self.spec, "label", "")
        self.where = f"{model.__name__}（{label}）" if label else model.__name__
        self.problems: list[Problem] = []

    def add(self, id_: str, option: str, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(id_, self.where, option, message, hint))

    def run(self) -> list[Problem]:
        if not isinstance(self.spec, ModelAdmin):
            self.add("E001", "", f"__admin__ must be a ModelAdmin, not {type(self.spec).__name__}")
            return self.problems
        self.basics()
        self.columns()
        self.perms()
        self.actions()
        self.scope()
        self.inline()
        self.importing()
        if self.spec.workflow is not None:
            self.workflow()
        return self.problems

    # -- the plain options -------------------------------------------------------------

    def basics(self) -> None:
        spec = self.spec
        if not spec.label.strip():
            self.add("E002", "label", "is empty")
        categories = SETTINGS.categories
        if categories and spec.category not in categories:
            self.add("E003", "category", f"'{spec.category}' is not one of {tuple(categories)}",
                     close_match(spec.category, categories))
        if not isinstance(spec.page_size, int) or spec.page_size <= 0:
            self.add("E004", "page_size", "must be a positive number")
        if spec.station is not None and not isinstance(spec.station, Choices):
            self.add("E005", "station", f"must be a Choices member (e.g. an OrgKind), not {spec.station!r}")
        if spec.view is not None:
            if isinstance(spec.view, str):
                try:
                    resolve_view(spec.view)
                except (ImportError, AttributeError, ValueError):
                    self.add("E006", "view", f"'{spec.view}' is not an importable class (module.Class)")
            elif not callable(spec.view):
                self.add("E006", "view", "must be a class or a dotted path")
        if spec.print_template is not None and not str(spec.print_template).endswith(".html"):
            self.add("E007", "print_template", f"'{spec.print_template}' is not a template (….html)")

    def path(self, option: str, name: str, allow: tuple[str, ...], local: bool = False) -> Any:
        """The resolved path, or ``None`` after reporting what is wrong with it."""
        if not isinstance(name, str):
            self.add("E100", option, f"{name!r} must be a name (a string)")
            return None
        if local and "." in name:
            self.add("E101", option, f"'{name}' must be a field of the model itself")
            return None
        try:
            found = resolve(self.model, name)
        except PathError as exc:
            self.add("E102", option, str(exc).split(" (did you mean")[0], exc.hint)
            return None
        if found.kind not in allow:
            self.add("E103", option, f"'{name}' is a {found.kind}, expected {' or '.join(allow)}")
            return None
        return found

    def columns(self) -> None:
        spec = self.spec
        for option in ("list_columns", "details_columns"):
            for name in getattr(spec, option):
                found = self.path(option, name, SHOWN)
                if found is not None:
                    self.labelled(option, name, found)
        for name in spec.filters:
            found = self.path("filters", name, (COLUMN, RELATION, COMPUTED))
            if found is None:
                continue
            self.labelled("filters", name, found)
            if found.kind == RELATION and found.target.uselist:
                self.add("E104", "filters", f"'{name}' is a to-many relation; filter on a column")
        for name in spec.search:  # one search document per table
            found = self.path("search", name, (COLUMN,), local=True)
            if found is not None and not isinstance(found.target.type, (String, Text)):
                self.add("E105", "search", f"'{name}' is not a text column")
        for name in spec.form_columns:
            found = self.path("form_columns", name, (COLUMN, RELATION), local=True)
            if found is None:
                continue
            self.labelled("form_columns", name, found)
            if found.kind == COLUMN and not isinstance(found.target, Column):
                self.add("E106", "form_columns", f"'{name}' is a computed figure; it cannot be edited")
        for name in spec.readonly:
            self.path("readonly", name, SHOWN, local=True)
        for name in spec.lookup:  # a stored column or a figure in SQL: both can be matched
            self.path("lookup", name, (COLUMN,), local=True)
        for sort in ((spec.sort,) if isinstance(spec.sort, str) else spec.sort or ()):
            self.path("sort", sort.lstrip("-"), (COLUMN,))
        for name in spec.labels:
            self.path("labels", name, SHOWN)
        overlap = set(spec.form_columns) & set(spec.readonly)
        if overlap:
            self.add("E108", "form_columns", f"{sorted(overlap)} are both in form_columns and readonly")

    def labelled(self, option: str, name: str, found: Any) -> None:
        if name in self.spec.labels:
            return
        if found.kind == COLUMN and not found.info().get("label"):
            self.add("E109", option, f"'{name}' has no Chinese label (declare it with field(..., \"标签\"))")
        elif found.kind == COMPUTED and not found.info().get("label"):
            self.add("E110", option, f"'{name}' is computed but has no label "
                                     "(declare it with computed(\"标签\", ...))")

    # -- who may do what -----------------------------------------------------------------

    def roles(self, option: str, roles: Iterable[Any]) -> None:
        from .declare import EDITORS, EVERYONE

        known = role_codes()
        if not known:
            return
        for role in roles:
            code = str(getattr(role, "value", role))
            if code not in known and code not in (EVERYONE, EDITORS):
                self.add("E201", option, f"names unknown role '{code}'", close_match(code, known))

    def perms(self) -> None:
        if not isinstance(self.spec.perms, Perms):
            self.add("E200", "perms", "must be Perms(...)")
            return
        for op in ("read", "create", "edit", "delete"):
            self.roles(f"perms.{op}", getattr(self.spec.perms, op))

    def actions(self) -> None:
        seen: set[str] = set()
        for act in self.spec.actions:
            if not isinstance(act, Action):
                self.add("E300", "actions", f"must be Action(...), got {act!r}")
                continue
            if act.name in seen:
                self.add("E301", "actions", f"'{act.name}' is declared twice")
            seen.add(act.name)
            if act.run is not None:
                try:
                    function = act.function()
                except (ImportError, AttributeError, ValueError):
                    function = None
                if not callable(function):
                    self.add("E302", "actions", f"'{act.name}' runs '{act.run}', which is not a function "
                                                "(module:function)")
            elif not callable(getattr(self.model, act.name, None)):
                self.add("E303", "action", f"'{act.name}' has no method {self.model.__name__}.{act.name}() "
                                           "and no run= function",
                         close_match(act.name, [n for n in dir(self.model) if not n.startswith("_")]))
            self.roles(f"action '{act.name}'", act.roles)

    # -- where rows lie ------------------------------------------------------------------

    def scope(self) -> None:
        from .scoping import anchor_level

        scope = self.spec.scope
        if scope is None or callable(scope):
            return
        for path in (scope,) if isinstance(scope, str) else scope:
            try:
                found = resolve(self.model, path, through_many=True)
            except PathError as exc:
                self.add("E401", "scope", str(exc).split(" (did you mean")[0], exc.hint)
                continue
            if not found.stored:
                self.add("E402", "scope", f"'{path}' is not a column path of {self.model.__name__}")
            elif SETTINGS.hierarchy is not None and anchor_level(self.model, path) is None:
                *coarser, finest = SETTINGS.hierarchy.names
                self.add("E403", "scope", f"'{path}' does not point at a {', '.join(coarser)} or {finest} "
                                          "(a foreign key to one of them, or their own id)")

    def inline(self) -> None:
        mapper = sa_inspect(self.model)
        for name in self.spec.inline:
            rel = mapper.relationships.get(name)
            if rel is None or rel.direction.name != "ONETOMANY":
                self.add("E501", "inline", f"'{name}' is not a one-to-many relation of {self.model.__name__}",
                         close_match(name, [r.key for r in mapper.relationships]))
            elif not isinstance(rel.mapper.class_.__dict__.get("__admin__"), ModelAdmin):
                self.add("E502", "inline", f"'{name}' points at {rel.mapper.class_.__name__}, "
                                           "which has no __admin__ declaration")

    def importing(self) -> None:
        spec = self.spec
        if spec.import_columns and not spec.importable:
            self.add("E601", "import_columns", "are declared but importable is not True")
        for name in spec.import_columns:
            found = self.path("import_columns", name, (COLUMN, RELATION), local=True)
            if found is None:
                continue
            if found.kind == RELATION and found.target.uselist:
                self.add("E602", "import_columns", f"'{name}' is a to-many relation; a cell holds one row")
            elif found.kind == COLUMN and not found.stored:
                self.add("E603", "import_columns", f"'{name}' is a computed figure; it cannot be imported")
            elif found.kind == COLUMN and found.info().get("upload"):
                self.add("E604", "import_columns", f"'{name}' holds an uploaded file; a cell cannot")

    # -- workflow --------------------------------------------------------------------------

    def workflow(self) -> None:
        from .workflow import Workflow

        spec, model = self.spec, self.model
        wf = spec.workflow
        if not isinstance(wf, Workflow):
            self.add("E700", "workflow", "must be a Workflow(...)")
            return
        mapper = sa_inspect(model)
        states = None
        if wf.field is None:
            stateful = [t.name for t in wf.transitions if t.source or t.target is not None]
            if stateful:
                self.add("E701", "workflow", f"transitions {stateful} name states, but the workflow has no field")
        elif wf.field not in mapper.column_attrs or not isinstance(
                mapper.column_attrs[wf.field].columns[0].type, ChoiceType):
            self.add("E702", "workflow", f"field '{wf.field}' must be a ChoiceType column",
                     close_match(wf.field, mapper.column_attrs.keys()))
            return
        else:
            states = mapper.column_attrs[wf.field].columns[0].type.choices
        if wf.field in spec.form_columns:
            self.add("E703", "workflow", f"field '{wf.field}' must not be in form_columns "
                                         "(states change only through transitions)")
        seen: set[str] = set()
        for t in wf.transitions:
            where = f"transition '{t.name}'"
            if t.name in seen:
                self.add("E704", "workflow", f"{where} is declared twice")
            seen.add(t.name)
            for state in (*t.source, *([t.target] if t.target is not None else [])):
                if states is not None and not isinstance(state, states):
                    self.add("E705", "workflow", f"{where} names {state!r}, not a {states.__name__}")
            if t.guard and not callable(getattr(model, t.guard, None)):
                self.add("E706", "workflow", f"{where} guard {model.__name__}.{t.guard}() does not exist",
                         close_match(t.guard, [n for n in dir(model) if n.startswith("guard")]))
            self.roles(f"workflow {where}", t.roles)
            self.effect(t, where)
            for p in t.params:
                if p.kind not in PARAM_KINDS:
                    self.add("E707", "workflow", f"{where} param '{p.name}' has unknown kind '{p.kind}'",
                             close_match(p.kind, PARAM_KINDS))
                if p.kind == "choice" and p.choices is None:
                    self.add("E708", "workflow", f"{where} param '{p.name}' needs choices")
                if p.kind in ("row", "rows") and not isinstance(
                        getattr(p.target_model, "__admin__", None), ModelAdmin):
                    self.add("E709", "workflow", f"{where} param '{p.name}' needs a declared model")
        for clock in wf.clocks:
            for attr in (clock.start, clock.due, clock.stop, *clock.inputs):
                if attr and attr not in mapper.column_attrs:
                    self.add("E710", "workflow", f"clock '{clock.name}' names '{attr}', not a column",
                             close_match(attr, mapper.column_attrs.keys()))
            if clock.rule is not None and clock.due in spec.form_columns:
                self.add("E711", "workflow", f"clock '{clock.name}' deadline '{clock.due}' is computed; "
                                             "it must not be in form_columns")
            if clock.states and states is not None and any(not isinstance(s, states) for s in clock.states):
                self.add("E712", "workflow", f"clock '{clock.name}' names a state that is not a {states.__name__}")

    def effect(self, t: Any, where: str) -> None:
        model = self.model
        if t.run is not None:
            try:
                function = resolve_function(t.run)
            except (ImportError, AttributeError, ValueError):
                function = None
            if not callable(function):
                self.add("E713", "workflow", f"{where} runs '{t.run}', which is not a function (module:function)")
                return
            accepted = inspect.signature(function).parameters
            owner = f"{getattr(function, '__module__', '')}.{function.__name__}()"
        else:
            effect = getattr(model, t.name, None)
            if not callable(effect):
                if t.params:
                    self.add("E714", "workflow", f"{where} has params but no method "
                                                 f"{model.__name__}.{t.name}() to receive them")
                return
            accepted = inspect.signature(effect).parameters
            owner = f"{model.__name__}.{t.name}()"
        takes_any = any(a.kind is inspect.Parameter.VAR_KEYWORD for a in accepted.values())
        for p in t.params:
            if p.name not in accepted and not takes_any:
                self.add("E715", "workflow", f"{where} param '{p.name}' is not an argument of {owner}",
                         close_match(p.name, accepted.keys()))


def resolve_view(path: str) -> type:
    import importlib

    module, _, name = path.rpartition(".")
    if not module:
        raise ValueError(path)
    return getattr(importlib.import_module(module), name)
