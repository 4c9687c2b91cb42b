"""The one scoping hook: which rows of a model a user may see.

The domain declares its places once, as data — a hierarchy of levels, coarsest first,
each a model with a foreign key to the level above and a relation on the account that
binds accounts to it::

    Hierarchy(Level(Street, binding="streets"),
              Level(Community, parent="street_id", binding="communities"),
              Level(Estate, parent="community_id", binding="estates"))

A model's ``__admin__.scope`` names the column (possibly through relations) that places
each row at one level. A user is bound to rows of some levels; a row is visible when its
anchor falls inside the user's bindings, projected to the anchor's level:

* downward — a street-bound user sees the estates of that street's communities;
* upward — an estate-bound committee member can read their community and street
  (what they may *change* is decided by the role's permissions, not here).

Everything that reads rows for a user — list, count, details, edit, delete, bulk
actions, export, ajax look-ups, dashboard and reports — goes through
:func:`scope_clause`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import false, select
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.sql.elements import ColumnElement

from .paths import find


@dataclass(frozen=True)
class Level:
    model: type
    parent: str | None = None
    """The foreign key to the level above (``None`` on the coarsest)."""
    binding: str | None = None
    """The account's relation listing the rows of this level it is bound to."""

    @property
    def name(self) -> str:
        return self.model.__tablename__


class Hierarchy:
    """The levels rows lie in, coarsest first; the projections between any two levels
    follow from the parent keys."""

    def __init__(self, *levels: Level):
        self.levels = levels

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(level.name for level in self.levels)

    @property
    def finest(self) -> Level:
        return self.levels[-1]

    def level(self, name: str) -> Level:
        return self.levels[self.names.index(name)]

    def project(self, ids: Any, source: str, target: str) -> Any:
        """The ids at level ``target`` related to ``ids`` at level ``source``: the rows
        below them (downward), or the rows they lie in (upward)."""
        i, j = self.names.index(source), self.names.index(target)
        if i == j:
            return ids
        current = ids
        if i < j:  # down: the children of the children …
            for level in self.levels[i + 1: j + 1]:
                model = level.model
                current = select(sa_inspect(model).primary_key[0]).where(getattr(model, level.parent).in_(current))
        else:      # up: the parents of the parents …
            for level in reversed(self.levels[j + 1: i + 1]):
                model = level.model
                current = select(getattr(model, level.parent)).where(sa_inspect(model).primary_key[0].in_(current))
        return current

    def bound(self, user: Any) -> dict[str, list[Any]]:
        """The ids the account is bound to, per level."""
        return {level.name: [row.id for row in getattr(user, level.binding, None) or ()]
                for level in self.levels if level.binding}


def hierarchy() -> Hierarchy:
    from .registry import SETTINGS

    if SETTINGS.hierarchy is None:
        raise RuntimeError("no hierarchy configured: the domain calls models.kernel.configure(hierarchy=...)")
    return SETTINGS.hierarchy


def anchor_level(model: type, path: str) -> str | None:
    """The level (``"street"``, ``"community"``…) that ``path`` points at."""
    column = resolve_column(model, path)
    if column is None:
        return None
    names = hierarchy().names
    if column.primary_key and column.table.name in names:
        return column.table.name
    for fk in column.foreign_keys:
        if fk.column.table.name in names:
            return fk.column.table.name
    return None


def resolve_column(model: type, path: str) -> Any:
    """The Column at the end of a path of relations (``inspection.estate_id``)."""
    found = find(model, path, through_many=True)
    return found.target if found is not None and found.stored else None


def _ids_at(level: str, user: Any, write: bool = False) -> list[Any]:
    """Selectables yielding the ids at ``level`` that ``user``'s bindings reach.

    Reading projects bindings both ways; writing only downward (an estate-bound
    committee member reads their community but cannot change it).
    """
    places = hierarchy()
    out: list[Any] = []
    for source, ids in places.bound(user).items():
        if not ids:
            continue
        upward = places.names.index(source) > places.names.index(level)
        if upward and write:
            continue
        out.append(places.project(ids, source, level))
    return out


def scope_paths(model: type) -> tuple[str, ...] | None:
    scope = getattr(getattr(model, "__admin__", None), "scope", None)
    if scope is None or callable(scope):
        return None
    return (scope,) if isinstance(scope, str) else tuple(scope)


def _along(model: type, path: str, clause: Any) -> Any:
    """Wrap ``clause`` (on the path's last model) in ``has()``/``any()`` back to ``model``."""
    return find(model, path, through_many=True).along(clause)


def scope_clause(model: type, user: Any, write: bool = False,
                 include_deleted: bool = False) -> ColumnElement[bool] | None:
    """A WHERE clause limiting ``model`` to ``user``'s rows; ``None`` means no limit.

    With several paths (finest first) a row is placed by the first one that is set.
    Rows in the recycle bin (models.kernel.softdelete) are left out unless ``include_deleted``.
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

    account = _account_model()
    inside, outside = [], []
    for level in hierarchy().levels:
        if not level.binding:
            continue
        table = getattr(account, level.binding).property.secondary  # account ↔ place
        account_key = next(c for c in table.c if c.references(sa_inspect(account).local_table.c.id))
        column = next(c for c in table.c if c is not account_key)
        sources = _ids_at(level.name, user, write=True)
        member = or_(*[column.in_(src) for src in sources]) if sources else false()
        inside.append(select(account_key).where(member))
        outside.append(select(account_key).where(not_(member)))
    within = union(*inside).subquery()
    first = within.c[0]
    return select(first).where(first.not_in(union(*outside)))


def _account_model() -> type:
    from .database import ACCOUNT_TABLE, db

    return next(m.class_ for m in db.Model.registry.mappers if m.local_table.name == ACCOUNT_TABLE)


def in_scope(obj: Any, user: Any, write: bool = True, include_deleted: bool = False) -> bool:
    """Whether one (flushed) object lies inside ``user``'s scope (for writing, by default)."""
    from .database import db

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

    from .database import db
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
