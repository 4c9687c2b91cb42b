"""The declaration vocabulary: what a model says about its own screens.

A model declares, next to its columns::

    class Estate(db.Model):
        name: Mapped[str] = field(String(100), "小区名称")
        ...
        __admin__ = ModelAdmin(
            label="小区", category="小区与自治",
            list_columns=("name", "community.name", "estate_class"),
            search=("name", "address"), filters=("estate_class", "community"),
            sort="name", perms=Perms.registry(), scope="id",
        )

Nothing here imports Flask-Admin: ``views.engine`` turns these declarations into
screens and ``models.kernel.checks`` validates them when the application starts.
The hooks a model may define (``clean``, ``clean_delete``, guards, effects…) are listed
in ``models.kernel.hooks``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import String
from sqlalchemy.orm import mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class Choices(str, enum.Enum):
    """A fixed set of codes, each with a Chinese label.

    Members are strings, so ``estate.estate_class == "first"`` holds, and the code
    (not the label) is what the database stores::

        class EstateClass(Choices):
            FIRST = "first", "一类"
    """

    label: str

    def __new__(cls, value: str, label: str) -> "Choices":
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label
        return obj

    # str() is the stored code (forms coerce through it); ask for ``.label`` to show it.
    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return self.value.__format__(spec)

    @classmethod
    def pairs(cls) -> list[tuple[str, str]]:
        return [(m.value, m.label) for m in cls]

    @classmethod
    def from_label(cls, text: str) -> "Choices | None":
        """Find a member by its code or its Chinese label (spreadsheets use labels)."""
        text = (text or "").strip()
        for m in cls:
            if text in (m.value, m.label):
                return m
        return None


class ChoiceType(TypeDecorator):
    """Stores a :class:`Choices` member as its code and loads it back as the member."""

    impl = String(32)
    cache_ok = True

    def __init__(self, choices: type[Choices]):
        super().__init__()
        self.choices = choices

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        if value is None or value == "":
            return None
        return self.choices(value).value  # ValueError on an unknown code

    def process_result_value(self, value: Any, dialect: Any) -> Choices | None:
        return None if value is None else self.choices(value)



def _coerce_choice_columns(mapper: Any, cls: type) -> None:
    """Whatever is assigned to a choice column (a form's string, a code) becomes the
    member at once, so model rules can rely on ``.label``."""
    from sqlalchemy import event

    for attr in mapper.column_attrs:
        ctype = getattr(attr.columns[0], "type", None)
        if isinstance(ctype, ChoiceType):
            def coerce(target: Any, value: Any, old: Any, initiator: Any,
                       choices: type[Choices] = ctype.choices) -> Any:
                return None if value is None or value == "" else choices(value)
            event.listen(getattr(cls, attr.key), "set", coerce, retval=True)


def _install_choice_coercion() -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Mapper

    event.listen(Mapper, "mapper_configured", _coerce_choice_columns)


_install_choice_coercion()


# Roles a declaration may name besides the domain's own (models.kernel.registry):
EVERYONE = "*"      # every role
EDITORS = "+"       # whoever keeps registries unless a declaration says otherwise
OPERATIONS = ("read", "create", "edit", "delete")


def role_set(roles: Iterable[Any]) -> frozenset[str]:
    """Role codes, with ``EVERYONE`` and ``EDITORS`` read through the domain's settings."""
    from .registry import SETTINGS, code, role_codes

    out: set[str] = set()
    for role in roles:
        text = code(role)
        if text == EVERYONE:
            out |= role_codes()
        elif text == EDITORS:
            out |= {code(r) for r in SETTINGS.editors}
        else:
            out.add(text)
    return frozenset(out)


def is_superuser(role: Any) -> bool:
    from .registry import SETTINGS, code

    return role is not None and SETTINGS.superuser is not None and code(role) == code(SETTINGS.superuser)


@dataclass(frozen=True)
class Upload:
    """A column holding an uploaded file: what may be uploaded, and how big."""

    types: tuple[str, ...] = ("jpg", "jpeg", "png", "webp")
    max_bytes: int = 5 * 1024 * 1024
    folder: str = "uploads"


def field(type_: Any, label: str, *args: Any, help: str | None = None,
          min: float | None = None, max: float | None = None,
          placeholder: str | None = None, upload: Upload | None = None, money: bool = False,
          **kwargs: Any):
    """``mapped_column`` with its Chinese label (and optional help and range) beside it.

    ``min``/``max`` become form validators and import checks; the label names the
    field in every message, list header and export.
    """
    info = {"label": label}
    if help:
        info["help"] = help
    if min is not None:
        info["min"] = min
    if max is not None:
        info["max"] = max
    if placeholder:
        info["placeholder"] = placeholder
    if upload is not None:
        info["upload"] = upload
    if money:  # an amount of yuan: positive, at most two decimals
        info["money"] = True
    return mapped_column(type_, *args, info=info, **kwargs)


def computed(label: str, expression: Callable[[type], Any], help: str | None = None,
             warn: bool = False, attention: bool | None = None):
    """A figure or flag computed from the record, never typed: Python on a row, SQL
    (``expression(cls)``) in lists and filters. A ``warn`` flag is red in lists and, unless
    ``attention=False``, counted on the home page's 需要关注::

        @computed("无人管理", expression=lambda cls: cls.company_name.is_(None))
        def uncovered(self) -> bool: ...
    """
    from sqlalchemy.ext.hybrid import hybrid_property

    def wrap(getter: Callable[[Any], Any]) -> Any:
        prop = hybrid_property(getter).expression(expression)
        prop.info.update({"label": label, "warn": warn, "attention": warn if attention is None else attention,
                          **({"help": help} if help else {})})
        return prop
    return wrap


def figure(label: str, expression: Any, help: str | None = None, flag: bool = False,
           warn: bool = False, internal: bool = False, attention: bool | None = None):
    """A figure computed in SQL and loaded with the row in the same query (a labelled
    ``column_property``): counts, names of related rows, flags that need other tables.
    Assign it after the classes it reads are defined::

        PropertyCompany.estates_served = figure("服务小区数", select(func.count(...))...)
    """
    from sqlalchemy import Boolean, type_coerce
    from sqlalchemy.orm import column_property

    expr = expression.scalar_subquery() if hasattr(expression, "scalar_subquery") else expression
    if flag:  # 是/否 in lists, a yes/no filter
        expr = type_coerce(expr, Boolean)
    # internal: loaded for str() and the like, never a column of its own on screen
    return column_property(expr, info={"label": label, "figure": True, "warn": warn,
                                       "internal": internal,
                                       "attention": bool(flag and warn) if attention is None else attention,
                                       **({"help": help} if help else {})})


def attention_flags(model: type) -> list[str]:
    """The flags of ``model`` that ask for attention (``warn`` unless ``attention=False``):
    computed flags, clock flags and figure flags, in the order they were declared. The
    home page counts each, so a new warning appears there by being declared."""
    from sqlalchemy import inspect as sa_inspect

    mapper = sa_inspect(model)
    found = [attr.key for attr in mapper.column_attrs if attr_info(attr).get("attention")]
    found += [key for key, d in mapper.all_orm_descriptors.items()
              if key not in mapper.attrs and (getattr(d, "info", None) or {}).get("attention")]
    return found


def attr_info(prop: Any) -> dict:
    """The declared info of a column attribute: on the Column for ``field()``, on the
    property for ``figure()``."""
    col = prop.columns[0]
    return getattr(col, "info", None) or prop.info


def relation(label: str, *args: Any, **kwargs: Any):
    """``relationship`` with its Chinese label."""
    info = kwargs.pop("info", {})
    info["label"] = label
    return relationship(*args, info=info, **kwargs)


@dataclass(frozen=True)
class Perms:
    """Which roles may read, create, edit and delete rows of a model.

    The superuser role (the system administrator) may always do everything but write a
    ``sealed`` model. Roles are given as the domain's ``Role`` members (or their codes),
    ``EVERYONE`` or ``EDITORS``; unknown codes stop start-up.
    """

    read: Iterable[str] = (EVERYONE,)
    create: Iterable[str] = (EDITORS,)
    edit: Iterable[str] = (EDITORS,)
    delete: Iterable[str] = (EDITORS,)
    sealed: bool = False
    """Rows nobody creates, edits or deletes by hand, the administrator neither: the
    application alone appends them (the audit trail)."""

    def roles(self, op: str) -> frozenset[str]:
        return role_set(getattr(self, op))

    def allows(self, role: str | None, op: str) -> bool:
        if role is None:
            return False
        if is_superuser(role):
            return op == "read" or not self.sealed
        return str(getattr(role, "value", role)) in self.roles(op)

    @classmethod
    def registry(cls, *editors: str) -> "Perms":
        """Everyone reads; the editors (street staff) and the given roles keep the registry."""
        writers = (EDITORS, *editors)
        return cls(create=writers, edit=writers, delete=writers)

    @classmethod
    def read_only(cls, *readers: str) -> "Perms":
        return cls(read=readers or (EVERYONE,), create=(), edit=(), delete=())

    @classmethod
    def admin_only(cls) -> "Perms":
        return cls(read=(), create=(), edit=(), delete=())

    @classmethod
    def append_only(cls, *readers: str) -> "Perms":
        """The administrator and ``readers`` read; no one writes (see ``sealed``)."""
        return cls(read=readers, create=(), edit=(), delete=(), sealed=True)


@dataclass(frozen=True)
class Action:
    """A bulk action on the list screen, on every selected row in one transaction; if it
    raises ``Refused`` or ``Invalid`` for any row, nothing is written and the message
    names that row::

        Action("mark_pilot", "标记为试点", roles=(Role.PILOT_COORDINATOR,),
               run="models.rollout:mark_pilots", confirm="确定将所选小区标记为试点吗？")

    ``run`` is a function receiving the selected rows (set-based: one query for all of
    them), or a ``"module:function"`` path to one — so a model's action may live in the
    module of the records it makes without that module being imported here. Without
    ``run``, the model's method of the action's name is called on each row.
    """

    name: str
    label: str
    roles: Iterable[str] = (EDITORS,)
    confirm: str | None = None
    run: Callable[..., Any] | str | None = None

    def allows(self, role: str | None) -> bool:
        return Perms(edit=self.roles).allows(role, "edit")

    def function(self) -> Callable[..., Any] | None:
        return resolve_function(self.run)


def resolve_function(target: Callable[..., Any] | str | None) -> Callable[..., Any] | None:
    """A declared function, given as itself or as ``"module:function"``."""
    if target is None or callable(target):
        return target
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class ModelAdmin:
    """Everything the engine needs to build a model's screens.

    Column names may be dotted through many-to-one relations (``community.name``).
    """

    label: str
    """Chinese name of the model, e.g. ``"小区"``: menu entry and page titles."""

    category: str
    """Menu category, one of the categories the domain configures (models.kernel.registry)."""

    list_columns: tuple[str, ...] = ()
    """Columns of the list screen; default: every labelled column."""

    search: tuple[str, ...] = ()
    """Text columns searched by the list's search box, e.g. ``("name", "address")``."""

    filters: tuple[str, ...] = ()
    """Columns or many-to-one relations offered as list filters."""

    sort: str | tuple[str, ...] | None = None
    """Default sort, e.g. ``"name"``, ``"-created_at"`` for descending, or several:
    ``("-is_open", "deadline")``."""

    readonly: tuple[str, ...] = ()
    """Columns shown in lists and details but never in a form."""

    form_columns: tuple[str, ...] = ()
    """Form fields in order; default: labelled columns and relations, minus read-only."""

    details_columns: tuple[str, ...] = ()
    """Details screen; default: every labelled column and relation."""

    actions: tuple[Action, ...] = ()
    """Bulk actions on the list screen (see :class:`Action`)."""

    perms: Perms = Perms()
    """Who may read, create, edit and delete."""

    scope: str | tuple[str, ...] | Callable[[Any, bool], Any] | None = None
    """Path to the column that places a row in the hierarchy (street, community, estate):
    ``"id"`` on those tables themselves, ``"community_id"``, ``"estate_id"``, or a
    dotted path such as ``"inspection.estate_id"``. Several paths, finest first —
    ``("community_id", "street_id")`` — place a row by the first one that is set.
    ``None``: not scoped (reference data every user may see). A function
    ``(user, write) -> clause`` places rows that name other rows instead of lying in a
    street (the audit trail: an entry lies where the row it names lies)."""

    workflow: Any = None
    """A :class:`models.kernel.workflow.Workflow`: states, transitions, clocks."""

    inline: tuple[str, ...] = ()
    """One-to-many relations edited inside this model's form (e.g. members)."""

    importable: bool = False
    """Offer spreadsheet import (XLSX/CSV) with a template, preview and one-transaction commit."""

    import_columns: tuple[str, ...] = ()
    """Columns a spreadsheet fills; default: the form's columns."""

    print_template: str | None = None
    """A template for a printable page of one row (A4), e.g. an assessment sheet."""


    station: Any = None
    """The station (a ``Choices`` member, e.g. an ``OrgKind``) whose cases these are: an
    account that works at a station (``user.station``) may act on them only if it is
    this one."""

    labels: Mapping[str, str] = dc_field(default_factory=dict)
    """Labels for dotted columns when the relation's label does not fit."""

    page_size: int = 20
    menu_order: int = 100
    export: bool = True
    lookup: tuple[str, ...] = ()
    """Columns matched when another model picks a row of this one (ajax look-ups);
    default: ``name`` if the model has one, else its first text column."""

    view: Callable[..., Any] | None = None
    """A view class for the rare model whose screens truly differ."""

    extra: Mapping[str, Any] = dc_field(default_factory=dict)
    """Plain Flask-Admin options passed through unchanged (escape hatch)."""

    def __set_name__(self, owner: type, name: str) -> None:
        # the declaration knows its model: permission rules follow the rows that place it
        # (a view class holding the declaration as ``spec`` is not its model)
        if name == "__admin__":
            object.__setattr__(self, "model", owner)


def lookup_fields(model: type) -> tuple[str, ...]:
    spec = getattr(model, "__admin__", None)
    if spec is not None and spec.lookup:
        return tuple(spec.lookup)
    from sqlalchemy import inspect as sa_inspect

    attrs = sa_inspect(model).column_attrs
    if "name" in attrs:
        return ("name",)
    for attr in attrs:
        if isinstance(attr.columns[0].type, String) and not attr.columns[0].info.get("secret"):
            return (attr.key,)
    return (sa_inspect(model).primary_key[0].key,)


class Refused(Exception):
    """An action or rule refused: the message (Chinese) is shown to the user."""


class Invalid(Exception):
    """Model validation failed. ``errors`` maps a field name to its Chinese messages."""

    def __init__(self, errors: Mapping[str, str | list[str]]):
        self.errors = {k: [v] if isinstance(v, str) else list(v) for k, v in errors.items()}
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in self.errors.items()))


def declare(model: type, spec: ModelAdmin) -> type:
    """Give a model defined elsewhere its declaration (the kernel's audit trail gets the
    domain's): the same as writing ``__admin__ = spec`` in its class body."""
    model.__admin__ = spec
    object.__setattr__(spec, "model", model)
    return model
