"""The one scoping hook: which rows of a model a user may see.

A model's ``__admin__.scope`` names the column (possibly through relations) that
places each row at one level of the hierarchy street → community → estate. A user
is bound to streets, communities and/or estates; a row is visible when its anchor
falls inside the user's bindings, projected to the anchor's level:

* downward — a street-bound user sees the estates of that street's communities;
* upward — an estate-bound committee member can read their community and street
  (what they may *change* is decided by the role's permissions, not here).

Everything that reads rows for a user — list, count, details, edit, delete, bulk
actions, export, ajax look-ups, dashboard and reports — goes through
:func:`scope_clause`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.sql.elements import ColumnElement

LEVELS = ("street", "community", "estate")


def anchor_level(model: type, path: str) -> str | None:
    """The level ("street", "community" or "estate") that ``path`` points at."""
    column = resolve_column(model, path)
    if column is None:
        return None
    if column.primary_key and column.table.name in LEVELS:
        return column.table.name
    for fk in column.foreign_keys:
        if fk.column.table.name in LEVELS:
            return fk.column.table.name
    return None


def resolve_column(model: type, path: str) -> Any:
    """The Column at the end of a dotted path of relations (``inspection.estate_id``)."""
    current = model
    parts = path.split(".")
    for part in parts[:-1]:
        mapper = sa_inspect(current)
        if part not in mapper.relationships:
            return None
        current = mapper.relationships[part].mapper.class_
    mapper = sa_inspect(current)
    if parts[-1] not in mapper.column_attrs:
        return None
    return mapper.column_attrs[parts[-1]].columns[0]


def _ids_at(level: str, user: Any, write: bool = False) -> list[Any]:
    """Selectables yielding the ids at ``level`` that ``user``'s bindings reach.

    Reading projects bindings both ways; writing only downward (an estate-bound
    committee member reads their community but cannot change it).
    """
    from .estates import Estate
    from .governance import Community

    bound = {
        "street": [s.id for s in user.streets],
        "community": [c.id for c in user.communities],
        "estate": [e.id for e in user.estates],
    }
    out: list[Any] = []
    for from_level, ids in bound.items():
        if not ids:
            continue
        upward = LEVELS.index(from_level) > LEVELS.index(level)
        if upward and write:
            continue
        if from_level == level:
            out.append(ids)
        elif (from_level, level) == ("street", "community"):
            out.append(select(Community.id).where(Community.street_id.in_(ids)))
        elif (from_level, level) == ("street", "estate"):
            out.append(select(Estate.id).join(Estate.community)
                       .where(Community.street_id.in_(ids)))
        elif (from_level, level) == ("community", "estate"):
            out.append(select(Estate.id).where(Estate.community_id.in_(ids)))
        elif (from_level, level) == ("community", "street"):
            out.append(select(Community.street_id).where(Community.id.in_(ids)))
        elif (from_level, level) == ("estate", "community"):
            out.append(select(Estate.community_id).where(Estate.id.in_(ids)))
        elif (from_level, level) == ("estate", "street"):
            out.append(select(Community.street_id).join(Estate, Estate.community_id == Community.id)
                       .where(Estate.id.in_(ids)))
    return out


def scope_paths(model: type) -> tuple[str, ...] | None:
    scope = getattr(getattr(model, "__admin__", None), "scope", None)
    if scope is None or callable(scope):
        return None
    return (scope,) if isinstance(scope, str) else tuple(scope)


def _along(model: type, path: str, clause: Any) -> Any:
    """Wrap ``clause`` (on the path's last model) in ``has()``/``any()`` back to ``model``."""
    current, rels = model, []
    for part in path.split(".")[:-1]:
        rels.append(getattr(current, part))
        current = sa_inspect(current).relationships[part].mapper.class_
    for rel in reversed(rels):
        clause = rel.any(clause) if rel.property.uselist else rel.has(clause)
    return clause


def scope_clause(model: type, user: Any, write: bool = False,
                 include_deleted: bool = False) -> ColumnElement[bool] | None:
    """A WHERE clause limiting ``model`` to ``user``'s rows; ``None`` means no limit.

    With several paths (finest first) a row is placed by the first one that is set.
    Rows in the recycle bin (models.softdelete) are left out unless ``include_deleted``.
    """
    from sqlalchemy import and_

    from .softdelete import not_deleted

    clause = _placed(model, user, write)
    alive = None if include_deleted else not_deleted(model)
    if alive is None:
        return clause
    return alive if clause is None else and_(clause, alive)


def _placed(model: type, user: Any, write: bool) -> ColumnElement[bool] | None:
    """Where the row lies against the user's bindings (street → community → estate)."""
    from sqlalchemy import and_, or_

    placing = getattr(getattr(model, "__admin__", None), "scope", None)
    paths = scope_paths(model)
    if paths is None and not callable(placing):
        return None
    if user is None or not getattr(user, "is_authenticated", True):
        return false()
    if getattr(user, "is_unrestricted", False):
        return None
    if callable(placing):  # rows placed by the rows they name (the audit trail)
        return placing(user, write)
    alternatives, finer_set = [], []
    for i, path in enumerate(paths):
        column = resolve_column(model, path)
        sources = _ids_at(anchor_level(model, path), user, write)
        member = or_(*[column.in_(src) for src in sources]) if sources else false()
        last = i == len(paths) - 1
        here = _along(model, path, member if last else and_(column.isnot(None), member))
        alternatives.append(and_(*[~f for f in finer_set], here) if finer_set else here)
        finer_set.append(_along(model, path, column.isnot(None)))
    return or_(*alternatives) if len(alternatives) > 1 else alternatives[0]


def accounts_within(user: Any) -> Any:
    """The ids of the accounts bound only inside ``user``'s scope (looking down: the
    street's community and estate accounts for a street-bound user) — whatever they did,
    they did there. Accounts bound to nothing (the administrator) are not among them."""
    from sqlalchemy import not_, or_, union

    from .accounts import user_community, user_estate, user_street

    inside, outside = [], []
    for table, level in ((user_street, "street"), (user_community, "community"), (user_estate, "estate")):
        column = table.c[f"{level}_id"]
        sources = _ids_at(level, user, write=True)
        member = or_(*[column.in_(src) for src in sources]) if sources else false()
        inside.append(select(table.c.user_id).where(member))
        outside.append(select(table.c.user_id).where(not_(member)))
    within = union(*inside).subquery()
    return select(within.c.user_id).where(within.c.user_id.not_in(union(*outside)))


def in_scope(obj: Any, user: Any, write: bool = True, include_deleted: bool = False) -> bool:
    """Whether one (flushed) object lies inside ``user``'s scope (for writing, by default)."""
    from . import db

    model = type(obj)
    clause = scope_clause(model, user, write, include_deleted)
    if clause is None:
        return True
    pk = sa_inspect(model).primary_key[0]
    ident = sa_inspect(obj).identity
    if ident is None:
        return False
    return db.session.scalar(select(pk).where(pk == ident[0], clause)) is not None


class AllExcept(tuple):
    """Every row but these few (the recycle bin): a NOT IN of a handful of ids, where a
    subquery over the whole table would make a city's figures several times slower."""


def ids_in_scope(model: type, user: Any) -> Any:
    """The ids of ``model`` the user may see, to put inside another query: a SELECT, or
    ``None`` when the user sees them all, or :class:`AllExcept` when they see all but
    the few in the recycle bin. Read with :func:`among`."""
    from sqlalchemy import select

    from . import db
    from .softdelete import soft_deletes

    pk = sa_inspect(model).primary_key[0]
    placed = _placed(model, user, write=False)
    if placed is not None:
        clause = scope_clause(model, user)
        return select(pk).where(clause)
    if not soft_deletes(model):
        return None
    deleted = db.session.scalars(select(pk).where(model.deleted_at.isnot(None))).all()
    return AllExcept(deleted) if deleted else None


def among(column: Any, ids: Any) -> Any:
    """``column`` within ``ids`` as :func:`ids_in_scope` gives them (or a plain list)."""
    from sqlalchemy import true

    if ids is None:
        return true()
    if isinstance(ids, AllExcept):
        return column.notin_(list(ids))
    return column.in_(ids)
