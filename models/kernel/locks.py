"""Rows that become read-only, and deletions a model refuses.

A model's ``clean()`` may ask what a row was when it was loaded (:func:`was`) and which
of its fields this write changes (:func:`changed`): an inspection already reported to
the street keeps its findings, a final assessment keeps its scores.

A model may also define ``clean_delete()``. It is called for every row of that model
marked for deletion when the session flushes — the delete screen, a bulk delete, a row
removed from an inline form, a cascade from its parent — and raises ``Refused`` (a
Chinese message) to keep the row. The write is then rolled back whole, as for ``clean()``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy import inspect as sa_inspect

from .database import AppSession


def is_new(obj: Any) -> bool:
    state = sa_inspect(obj)
    return state.transient or state.pending


def was(obj: Any, key: str) -> Any:
    """The value of column ``key`` before this write (``None`` for a row not yet stored)."""
    if is_new(obj):
        return None
    history = sa_inspect(obj).attrs[key].load_history()
    before = (history.deleted or ()) if history.has_changes() else (history.unchanged or ())
    return before[0] if before else None


def changed(obj: Any, *keys: str) -> list[str]:
    """Which of ``keys`` (columns or relations) this write changes on a stored row."""
    if is_new(obj):
        return []
    attrs = sa_inspect(obj).attrs
    return [k for k in keys if attrs[k].load_history().has_changes()]


def being_deleted(obj: Any) -> bool:
    state = sa_inspect(obj)
    return state.deleted or (state.session is not None and obj in state.session.deleted)


@event.listens_for(AppSession, "before_flush")
def _refuse_deletes(session: Any, flush_context: Any, instances: Any) -> None:
    with session.no_autoflush:
        for obj in list(session.deleted):
            check = getattr(obj, "clean_delete", None)
            if callable(check):
                check()
