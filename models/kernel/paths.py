"""The one path resolver: what a name in a declaration points at.

Declarations name columns as attribute paths — ``"name"``, ``"community.name"``,
``"inspection.estate_id"``, a computed flag ``"uncovered"``. Every part of the
application that reads such a name (checks, the engine's columns and filters, scoping,
indexes, imports, exports, labels) asks :func:`resolve`, so a path means the same thing
everywhere and a wrong one is reported the same way, with a did-you-mean.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from sqlalchemy import Column
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.hybrid import HybridExtensionType

COLUMN, RELATION, COMPUTED, PROPERTY = "column", "relation", "computed", "property"


class PathError(ValueError):
    """A path that points at nothing; ``hint`` is the did-you-mean, if any."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message + (f" (did you mean '{hint}'?)" if hint else ""))
        self.hint = hint


@dataclass(frozen=True)
class Path:
    model: type
    """Where the path starts."""
    text: str
    steps: tuple[Any, ...]
    """The relationships followed before the last part (``community`` of ``community.name``)."""
    end: type
    """The model the last part belongs to."""
    kind: str
    """``column``, ``relation``, ``computed`` (a hybrid) or ``property`` (Python only)."""
    target: Any
    """The Column (a figure's SQL for a computed figure), RelationshipProperty, hybrid or property."""

    @property
    def name(self) -> str:
        return self.text.rsplit(".", 1)[-1]

    @property
    def local(self) -> bool:
        return not self.steps

    @property
    def stored(self) -> bool:
        """A real column of a table (not a figure computed in SQL)."""
        return self.kind == COLUMN and isinstance(self.target, Column)

    @property
    def to_many(self) -> bool:
        return any(step.uselist for step in self.steps) or (self.kind == RELATION and self.target.uselist)

    def attribute(self, entity: Any = None) -> Any:
        """The mapped attribute at the end, on ``entity`` (an alias of ``end``) or on ``end``."""
        return getattr(entity if entity is not None else self.end, self.name)

    def local_column(self) -> Any:
        """The model's own column this path stands for: itself, or the foreign key of a
        many-to-one relation — ``None`` for anything else (a dotted path, a figure)."""
        if self.steps:
            return None
        if self.kind == RELATION:
            if self.target.uselist or self.target.secondary is not None:
                return None
            return next(iter(self.target.local_columns))
        if self.stored and getattr(self.target, "table", None) is self.model.__table__:
            return self.target
        return None

    def along(self, clause: Any) -> Any:
        """``clause`` (on ``end``) as a condition on ``model``: wrapped in ``has()`` or
        ``any()`` for each relationship followed, back to the start."""
        current, attributes = self.model, []
        for step in self.steps:
            attributes.append(getattr(current, step.key))
            current = step.mapper.class_
        for attribute in reversed(attributes):
            clause = attribute.any(clause) if attribute.property.uselist else attribute.has(clause)
        return clause

    def info(self) -> dict[str, Any]:
        """What the declaration says of the last part (its label, help, range, warn…)."""
        if self.kind == COLUMN:
            prop = sa_inspect(self.end).column_attrs[self.name]
            return getattr(prop.columns[0], "info", None) or prop.info
        if self.kind in (RELATION, COMPUTED):
            return dict(getattr(self.target, "info", None) or {})
        return {}

    def label(self) -> str:
        """The Chinese label: a column's or computed figure's own; a relation's; and for
        ``community.name`` the relation's (所属社区), as people say it."""
        spec = self.model.__dict__.get("__admin__")
        if spec is not None and self.text in getattr(spec, "labels", {}):
            return spec.labels[self.text]
        if self.steps and self.name in ("name", "title") and len(self.steps) >= 1:
            return self.steps[-1].info.get("label", self.text)
        return self.info().get("label", self.name)


def names(model: type) -> list[str]:
    mapper = sa_inspect(model)
    return [*mapper.attrs.keys(), *[k for k, d in mapper.all_orm_descriptors.items()
                                    if getattr(d, "extension_type", None) is HybridExtensionType.HYBRID_PROPERTY]]


def close_match(name: str, options: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(name, list(options), n=1)
    return found[0] if found else None


@lru_cache(maxsize=None)
def resolve(model: type, text: str, through_many: bool = False) -> Path:
    """What ``text`` points at from ``model``. Only many-to-one relations may be followed
    unless ``through_many`` (a scope path through an account's bound estates)."""
    current, steps = model, []
    parts = text.split(".")
    for i, part in enumerate(parts):
        mapper = sa_inspect(current)
        last = i == len(parts) - 1
        if part in mapper.relationships:
            rel = mapper.relationships[part]
            if last:
                return Path(model, text, tuple(steps), current, RELATION, rel)
            if rel.uselist and not through_many:
                raise PathError(f"'{text}': '{part}' is a to-many relation; a path can only "
                                "follow many-to-one")
            steps.append(rel)
            current = rel.mapper.class_
        elif part in mapper.column_attrs:
            if not last:
                raise PathError(f"'{text}': '{part}' is a column, not a relation")
            return Path(model, text, tuple(steps), current, COLUMN, mapper.column_attrs[part].columns[0])
        elif last and part in mapper.all_orm_descriptors and \
                mapper.all_orm_descriptors[part].extension_type is HybridExtensionType.HYBRID_PROPERTY:
            return Path(model, text, tuple(steps), current, COMPUTED, mapper.all_orm_descriptors[part])
        elif last and isinstance(getattr(current, part, None), property):
            return Path(model, text, tuple(steps), current, PROPERTY, getattr(current, part))
        else:
            raise PathError(f"'{text}' is not a column or relation of {current.__name__}",
                            close_match(part, names(current)))
    raise PathError(f"'{text}' is empty")  # pragma: no cover - split never gives no parts


def find(model: type, text: str, through_many: bool = False) -> Path | None:
    """:func:`resolve`, or ``None`` for a path that points at nothing."""
    try:
        return resolve(model, text, through_many)
    except PathError:
        return None


def column_label(model: type, text: str) -> str:
    """Chinese label of a column, relation, computed figure or dotted path of ``model``."""
    spec = model.__dict__.get("__admin__")
    if spec is not None and text in getattr(spec, "labels", {}):
        return spec.labels[text]
    found = find(model, text, through_many=True)
    return found.label() if found is not None else text


def value_at(obj: Any, text: str) -> Any:
    """The value a path reads on one row (``None`` past an empty relation)."""
    value = obj
    for part in text.split("."):
        if value is None:
            return None
        value = getattr(value, part)
    return value
