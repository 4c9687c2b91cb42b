"""The one permission rule: who may do what to a model's rows.

An account, as the kernel sees it, has a ``role`` (a code of the domain's roles), may be
``is_unrestricted`` (sees every row: the administrator), and — if it works at a station
whose cases are its own — a ``station`` (``None`` for everyone else). Which rows it sees
is the scoping hook's business (models.kernel.scoping); what it may do to them is here.
"""

from __future__ import annotations

from typing import Any

from .declare import ModelAdmin
from .paths import find


def may(user: Any, spec: ModelAdmin, operation: str) -> bool:
    """The role's ``Perms`` and, for an account working at a station, the station — and
    whoever may not read the rows that place a row (its scope path: a low-income status
    through its household) may not read or change that row either, so a household's
    people are shown to no one who may not open the archive itself."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not _allowed_here(user, spec, operation):
        return False
    return all(_allowed_here(user, parent, "read") for parent in placing_parents(spec))


def _allowed_here(user: Any, spec: ModelAdmin, operation: str) -> bool:
    station = getattr(user, "station", None)
    if spec.station is not None and station is not None and station != getattr(spec.station, "value", spec.station):
        return False  # another station's cases
    return spec.perms.allows(user.role, operation)


def placing_parents(spec: ModelAdmin) -> tuple[ModelAdmin, ...]:
    """The declarations of the models a row's scope paths pass through (an inspection
    item → its inspection; a fee refund → its household), nearest first."""
    cached = spec.__dict__.get("_parents")
    if cached is not None:
        return cached
    model = getattr(spec, "model", None)
    paths = (spec.scope,) if isinstance(spec.scope, str) else () if callable(spec.scope) \
        else tuple(spec.scope or ())
    found: list[ModelAdmin] = []
    for path in paths if model is not None else ():
        resolved = find(model, path, through_many=True)
        for step in resolved.steps if resolved is not None else ():
            parent = step.mapper.class_.__dict__.get("__admin__")
            if isinstance(parent, ModelAdmin) and all(p is not parent for p in found):
                found.append(parent)
    object.__setattr__(spec, "_parents", tuple(found))
    return spec._parents


def role_allowed(roles: Any, role: Any) -> bool:
    """Whether ``role`` is among the declared ``roles`` of an action or a step (the
    superuser always is)."""
    from .declare import is_superuser, role_set

    return is_superuser(role) or str(getattr(role, "value", role)) in role_set(roles)
