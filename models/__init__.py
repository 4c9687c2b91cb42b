"""The domain: one module per area, each model with its own ``__admin__`` declaration,
on the generic kernel (``models.kernel``).

Every module of this package is imported here — found, not listed — so a new area's
models reach the metadata (and ``flask db migrate``) by existing. What the kernel needs
to know of the domain is configured once, below: the roles, the menu, and the places
rows lie in (street → community → estate).
"""

from __future__ import annotations

import importlib
import pkgutil

from .kernel import (AppSession, Base, Hierarchy, Level, TimestampMixin, Versioned, configure, db,  # noqa: F401
                     declared_models, now)

# Menu categories in the order they appear in the navigation bar.
CATEGORIES: tuple[str, ...] = (
    "治理架构",
    "小区与自治",
    "监督考评",
    "案件办理",
    "推进实施",
    "资金管理",
    "系统管理",
)


def _discover() -> list[str]:
    """Import every domain module of this package (the kernel is imported already)."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name != "kernel" and not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
            found.append(info.name)
    return found


AREAS = _discover()

from .accounts import Role  # noqa: E402
from .estates import Estate  # noqa: E402
from .governance import Community, Street  # noqa: E402

configure(
    roles=Role, superuser=Role.ADMIN, editors=(Role.STREET_STAFF,), categories=CATEGORIES,
    hierarchy=Hierarchy(Level(Street, binding="streets"),
                        Level(Community, parent="street_id", binding="communities"),
                        Level(Estate, parent="community_id", binding="estates")),
)

# What the declarations imply for the schema: search columns and the indexes of what
# lists filter and sort on.
from .kernel.indexes import declare_indexes  # noqa: E402
from .kernel.search import attach as attach_search  # noqa: E402

attach_search(declared_models())
declare_indexes(declared_models())
