"""Rows for the generated tests, for every declared model: the demo's, or — for a model
the demo does not fill (a registry just added) — made here from its declaration.

The generated tests (access matrix, every screen, XSS, form fuzz) must check real rows of
every model, never skip one for want of them. :func:`rows_of` gives the demo's rows if
there are any; otherwise it makes examples in a given estate: every required column gets a
plain value of its type (a code for a choice, 示例… for text, the minimum for a number,
today for a date), every required relation an existing row in that estate or an example
made the same way, and the row is placed where its scope path says. A model whose rules
refuse such a row defines ``example(estate)`` (a classmethod returning an unsaved row) —
or the demo fills it.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, String, Text, select
from sqlalchemy import inspect as sa_inspect

from models import db, now
from models.kernel.declare import ChoiceType, Invalid, attr_info
from models.kernel.paths import find
from models.kernel.rules import describe_invalid, run_rules
from models.kernel.scoping import anchor_level, hierarchy

_serial = itertools.count(1)


class NoExample(AssertionError):
    """The declaration alone does not make a valid row: the message says what to add."""


# Where examples go: an estate inside every demo account's scope (the committee's own),
# and one in the community the access matrix moves to a second street.
EXAMPLE_ESTATES = (("江滨社区", "永乐花园"), ("红山社区", None))


def ensure_rows(model: type) -> list[Any]:
    """Ids of ``model``'s rows: the demo's if it has any, else examples made in the
    :data:`EXAMPLE_ESTATES` — never none (a model no example can be made of fails here,
    saying what to add)."""
    from models.estates import Estate
    from models.governance import Community

    pk = sa_inspect(model).primary_key[0]
    found = list(db.session.scalars(select(pk).order_by(pk).limit(1)))
    if found:
        return found
    made = []
    for community, name in EXAMPLE_ESTATES:
        stmt = select(Estate).join(Estate.community).where(Community.name == community).order_by(Estate.id)
        estate = db.session.scalars(stmt.where(Estate.name == name) if name else stmt).first()
        made.append(example(model, estate))
    db.session.commit()  # inside the test's transaction: gone with it
    return [sa_inspect(row).identity[0] for row in made]


def example(model: type, estate: Any) -> Any:
    """A valid row of ``model`` placed in ``estate`` (added to the session, flushed)."""
    custom = getattr(model, "example", None)
    row = custom(estate) if callable(custom) else _generic(model, estate)
    db.session.add(row)
    try:
        with db.session.no_autoflush:
            run_rules(row)
        db.session.flush()
    except Invalid as exc:
        db.session.expunge(row)
        raise NoExample(f"{model.__name__}: a row made from the declaration is refused "
                        f"({describe_invalid(exc, model)}); add demo rows (seeds/) or a classmethod "
                        f"{model.__name__}.example(estate) returning a valid unsaved row") from exc
    return row


def _generic(model: type, estate: Any) -> Any:
    row = model()
    placed = _place(model, row, estate)
    mapper = sa_inspect(model)
    for rel in mapper.relationships:
        if rel.uselist or rel.key in placed or rel.viewonly:
            continue
        local = next(iter(rel.local_columns))
        if local.nullable or getattr(row, local.key, None) is not None:
            continue
        setattr(row, rel.key, _related(rel.mapper.class_, estate))
        placed.add(local.key)
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        if attr.key in placed or getattr(row, attr.key, None) is not None or not _required(column):
            continue
        setattr(row, attr.key, _value(column, attr_info(attr)))
    return row


def _required(column: Any) -> bool:
    return (getattr(column, "table", None) is not None and not column.nullable and not column.primary_key
            and column.default is None and column.server_default is None and not column.foreign_keys)


def _value(column: Any, info: dict) -> Any:
    kind = column.type
    if isinstance(kind, ChoiceType):
        return next(iter(kind.choices))
    if isinstance(kind, Boolean):
        return False
    if isinstance(kind, DateTime):
        return now() - timedelta(hours=1)
    if isinstance(kind, Date):
        return now().date()
    if isinstance(kind, Integer):
        return int(max(info.get("min", 1), 1))
    if isinstance(kind, Numeric):
        return Decimal(str(max(info.get("min", 1), 1)))
    if isinstance(kind, (String, Text)):
        text = f"示例{info.get('label', column.key)}{next(_serial)}"
        length = getattr(kind, "length", None)
        return text[-length:] if length else text
    raise NoExample(f"no example value for column {column} of type {kind!r}")


def _place(model: type, row: Any, estate: Any) -> set[str]:
    """Put ``row`` where its first scope path points, for ``estate``: the names set."""
    spec = model.__admin__
    scope = spec.scope
    if scope is None or callable(scope):
        return set()
    path = scope if isinstance(scope, str) else scope[0]
    found = find(model, path, through_many=True)
    level = anchor_level(model, path)
    target = _at_level(estate, level)
    if found.local:
        if found.target.primary_key:
            return set()  # a place itself: placed by being that row
        setattr(row, found.local_column().key, target)
        return {found.local_column().key}
    first = found.steps[0]
    parent = _related(first.mapper.class_, estate)
    setattr(row, first.key, [parent] if first.uselist else parent)  # an account: bound to it
    return {first.key, *(c.key for c in first.local_columns)}


def _at_level(estate: Any, level: str | None) -> Any:
    """The id, at ``level``, of the place ``estate`` lies in."""
    places = hierarchy()
    return db.session.scalar(places.project([estate.id], places.finest.name, level)) \
        if level != places.finest.name else estate.id


def _related(target: type, estate: Any) -> Any:
    """A row of ``target`` for a required relation: one lying in ``estate``'s places if the
    model is placed, any one if not, else an example."""
    from models.kernel.scoping import scope_paths

    paths = scope_paths(target)
    stmt = select(target)
    if paths:
        found = find(target, paths[0], through_many=True)
        level = anchor_level(target, paths[0])
        if found.stored:
            stmt = stmt.where(found.along(found.target == _at_level(estate, level)))
    existing = db.session.scalars(stmt.limit(1)).first()
    return existing if existing is not None else example(target, estate)
