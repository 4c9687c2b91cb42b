"""Idempotent loading: a row is found by its natural key and created only if missing,
so loading twice changes nothing and never overwrites what staff have edited."""

from __future__ import annotations

from typing import Any

from models import db


def ensure(model: type, key: dict[str, Any], **values: Any) -> tuple[Any, bool]:
    """The row matching ``key``, created with ``values`` if it does not exist."""
    row = db.session.scalar(db.select(model).filter_by(**key))
    if row is not None:
        return row, False
    row = model(**key, **values)
    db.session.add(row)
    db.session.flush()
    return row, True
