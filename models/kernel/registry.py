"""What the domain tells the kernel about itself, once, and the declared models.

The kernel knows no roles, menu categories or places of its own: the domain configures
them in one call (``models/__init__.py``)::

    configure(roles=Role, superuser=Role.ADMIN, editors=(Role.STREET_STAFF,),
              categories=("治理架构", ...), hierarchy=Hierarchy(...))

Declarations made before the call may name roles as ``EVERYONE`` or ``EDITORS``
(models.kernel.declare): those are read through these settings when asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .database import db


@dataclass
class Settings:
    roles: Any = None
    """The ``Choices`` of roles an account may have."""

    superuser: str | None = None
    """The role that may do everything (every write but to a sealed model: the audit trail)."""

    editors: tuple[str, ...] = ()
    """Who keeps a registry when a declaration does not say (``EDITORS``)."""

    categories: tuple[str, ...] = ()
    """Menu categories, in the order of the navigation bar."""

    hierarchy: Any = None
    """The places rows lie in (models.kernel.scoping.Hierarchy)."""

    extra: dict[str, Any] = field(default_factory=dict)


SETTINGS = Settings()


def configure(**settings: Any) -> Settings:
    for name, value in settings.items():
        if not hasattr(SETTINGS, name):
            raise TypeError(f"configure(): unknown setting {name!r}")
        setattr(SETTINGS, name, value)
    return SETTINGS


def role_codes() -> frozenset[str]:
    roles = SETTINGS.roles
    return frozenset(str(getattr(r, "value", r)) for r in roles) if roles is not None else frozenset()


def code(role: Any) -> str:
    """A role as its stored code, whether given as a member or a code."""
    return str(getattr(role, "value", role))


def declared_models() -> list[type]:
    """Every mapped class that declares ``__admin__``, in menu order."""
    found = [m.class_ for m in db.Model.registry.mappers if "__admin__" in vars(m.class_)]
    order = SETTINGS.categories

    def key(model: type) -> tuple:
        category = model.__admin__.category
        return (order.index(category) if category in order else 99, model.__admin__.menu_order,
                model.__name__)
    return sorted(found, key=key)


def model_named(name: str) -> type | None:
    """A mapped class by its class name (a declaration may name a model defined later)."""
    return db.Model.registry._class_registry.get(name)
