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


DEMO_STREET = "示例街道"


def demo_estate(name: str) -> Any:
    """An estate of the demo street by name: names repeat across streets (the reference
    data loads the text's pilot estates into every street it is loaded for)."""
    from models.estates import Estate
    from models.governance import Community, Street

    return db.session.scalar(db.select(Estate).join(Estate.community).join(Community.street)
                             .where(Street.name == DEMO_STREET, Estate.name == name))
