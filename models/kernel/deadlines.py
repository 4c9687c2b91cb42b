"""What is late now, across every declared clock of every model, for a user's scope.

Nothing here knows about repair tickets or committees: a model that declares a
``Workflow`` with ``Clock``s appears automatically.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, DateTime, select

from .access import may
from .database import db, now
from .registry import declared_models
from .scoping import (
    among,
    anchor_level,
    hierarchy,
    resolve_column,
    scope_clause,
    scope_paths,
)
from .workflow import Clock

# How far ahead "near a deadline" looks.
NEAR = {DateTime: timedelta(hours=2), Date: timedelta(days=7)}


@dataclass
class Deadline:
    model: type
    row: Any
    clock: Clock
    due: Any
    late: timedelta | None     # how late now (None: not yet due)
    left: timedelta | None     # how long until due (None: already late)
    estate_id: int | None = None


def _near_and_now(column: Any) -> tuple[Any, Any]:
    if isinstance(column.type, DateTime):
        current = now()
        return current, current + NEAR[DateTime]
    today = now().date()
    return today, today + NEAR[Date]


def _as_timedelta(a: Any, b: Any) -> timedelta:
    if isinstance(a, date) and not isinstance(a, datetime):
        return timedelta(days=(a - b).days)
    return a - b


def _running(model: type, clock: Clock, user: Any, estates: Any) -> tuple[Any, Any]:
    """(statement selecting ``model`` rows whose ``clock`` is running, their due column)."""

    due = getattr(model, clock.due)
    stmt = select(model).where(due.isnot(None))
    if clock.stop:
        stmt = stmt.where(getattr(model, clock.stop).is_(None))
    if clock.states:
        stmt = stmt.where(getattr(model, clock.state_field).in_([s.value for s in clock.states]))
    clause = scope_clause(model, user)
    if clause is not None:
        stmt = stmt.where(clause)
    estate_column = _estate_column(model)
    if estates is not None and estate_column is not None:
        stmt = stmt.where(among(estate_column, estates))
    return stmt, due


def _clocks(user: Any) -> list[tuple[type, Clock]]:
    out = []
    for model in declared_models():
        workflow = getattr(model.__admin__, "workflow", None)
        if workflow is not None and may(user, model.__admin__, "read"):
            out += [(model, clock) for clock in workflow.clocks]
    return out


def late_counts(user: Any, estates: Any = None) -> list[tuple[type, Clock, int]]:
    """How many rows are late now, per clock: one indexed COUNT each, whatever the size."""
    from sqlalchemy import func

    out = []
    for model, clock in _clocks(user):
        stmt, due = _running(model, clock, user, estates)
        current, _ = _near_and_now(due.property.columns[0])
        # count(*) with the same conditions, not over a subquery of whole rows: the clock's
        # index (state, stop, due) answers it without reading the table
        n = db.session.scalar(stmt.where(due < current).with_only_columns(func.count(), maintain_column_froms=True))
        if n:
            out.append((model, clock, n))
    return out


def open_deadlines(user: Any, estates: Any = None, per_clock: int | None = None) -> list[Deadline]:
    """Running clocks past or near their deadline, most late first — at most
    ``per_clock`` of each clock (the most late), so a city's backlog stays a page."""
    found: list[Deadline] = []
    for model, clock in _clocks(user):
        stmt, due = _running(model, clock, user, estates)
        current, horizon = _near_and_now(due.property.columns[0])
        estate_column = _estate_column(model)
        stmt = stmt.where(due < horizon).order_by(due)
        for row in db.session.scalars(stmt.limit(per_clock) if per_clock else stmt):
            value = getattr(row, clock.due)
            late = _as_timedelta(current, value) if value < current else None
            left = None if late else _as_timedelta(value, current)
            found.append(Deadline(model, row, clock, value, late, left,
                                  getattr(row, estate_column.key) if estate_column is not None else None))
    return sorted(found, key=lambda d: (d.late is None, -(d.late or timedelta()).total_seconds(),
                                        d.left or timedelta()))


def _estate_column(model: type) -> Any:
    """The model's own column placing it at the finest level (an estate), if it has one."""
    for path in scope_paths(model) or ():
        if "." not in path and anchor_level(model, path) == hierarchy().finest.name:
            return getattr(model, resolve_column(model, path).key)
    return None
