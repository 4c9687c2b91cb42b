"""Registries keep what is deleted: a recycle bin instead of a hole in the archive.

A row of a model mixing in :class:`SoftDeletable` — the registries everything else hangs
on: communities, estates, property companies, households — is not removed when deleted:
it is stamped ``deleted_at``/``deleted_by`` and disappears
from every screen, picker, filter, count and export, because the one scoping hook
(:func:`models.kernel.scoping.scope_clause`) leaves it out. Rows that refer to it keep showing
it. The recycle bin (views.recycle) lists what the user may restore; restoring clears
the stamp. Both moves are in the audit trail as 删除 and 恢复.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

DELETED_AT, DELETED_BY = "deleted_at", "deleted_by"


class SoftDeletable:
    """Mixed into a registry model: its rows are deleted into the recycle bin."""

    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True, index=True,
                                                         info={"internal": True, "label": "删除时间"})
    deleted_by: Mapped[str | None] = mapped_column(String(80), nullable=True,
                                                   info={"internal": True, "label": "删除人"})


def soft_deletes(model: type) -> bool:
    """Parts of another record (a committee's members, a unit's duties) and records on a
    workflow are deleted for real — with their last values kept in the audit trail — so
    that counts and rules over a parent's parts never see a deleted part."""
    return isinstance(model, type) and issubclass(model, SoftDeletable)


def not_deleted(model: type) -> Any:
    """The clause keeping deleted rows out, or ``None`` for a model that deletes for real."""
    return model.deleted_at.is_(None) if soft_deletes(model) else None


def delete(obj: Any, actor: str) -> None:
    """Move a row to the recycle bin (what the model refuses to lose, it still refuses)."""
    check = getattr(obj, "clean_delete", None)
    if callable(check):
        check()
    setattr(obj, DELETED_AT, now_())
    setattr(obj, DELETED_BY, actor[:80])


def remove(obj: Any, actor: str) -> None:
    """Delete a row the way its model deletes: into the recycle bin, or for real."""
    from .database import db

    if soft_deletes(type(obj)):
        delete(obj, actor)
    else:
        db.session.delete(obj)


def restore(obj: Any) -> None:
    setattr(obj, DELETED_AT, None)
    setattr(obj, DELETED_BY, None)


def now_() -> datetime:
    from .database import now

    return now()


def taken_by(model: type, obj: Any, *same: Any) -> str | None:
    """Whether another row of ``model`` matching ``same`` (e.g. the same name in the same
    community) exists: ``None`` if not, else the hint to add to the message — a row in
    the recycle bin still holds its name until it is restored or renamed. A row being
    deleted holds nothing against the others."""
    from sqlalchemy import select

    from .database import db

    if getattr(obj, DELETED_AT, None) is not None:
        return None
    found = db.session.execute(select(model.id, model.deleted_at).where(
        *same, model.id != (obj.id or 0)).limit(1)).first()
    if found is None:
        return None
    return "（在回收站中，可恢复它或换一个名称）" if found.deleted_at else ""
