"""The kernel: everything generic about declared models, and nothing of the domain.

A domain module declares its models with this vocabulary::

    from .kernel import Clock, ModelAdmin, Perms, TimestampMixin, Workflow, db, field, relation

and the kernel gives every declared model its checks, permissions, scope, audit trail,
search, indexes, workflow and clocks, recycle bin and import parsing. The kernel imports
nothing from the domain (``models.<area>``) nor from the views; the domain tells it its
roles, menu and places once, with :func:`configure`.

Module map: database (db, session, time), registry (configure, declared models),
declare (the vocabulary), paths (the one path resolver), access (may), rules (what every
write obeys), workflow (steps and clocks), scoping (the one scoping hook), softdelete,
locks (what a row was; refused deletes), audit (the trail), search, indexes, imports
(reading spreadsheets), deadlines (what is late), checks (of declarations), hooks (the
methods a model may define).
"""

# the kernel's own tables and session hooks: the audit trail, import jobs, refused deletes
from . import audit, imports, locks  # noqa: E402,F401
from .database import (
                      ACCOUNT_TABLE,
                      LOCAL_TZ,
                      AppSession,
                      Base,
                      TimestampMixin,
                      Versioned,
                      db,
                      now,
)
from .declare import (
                      EDITORS,
                      EVERYONE,
                      Action,
                      Choices,
                      ChoiceType,
                      Invalid,
                      ModelAdmin,
                      Perms,
                      Refused,
                      Upload,
                      attr_info,
                      computed,
                      declare,
                      field,
                      figure,
                      lookup_fields,
                      relation,
)
from .paths import column_label
from .registry import SETTINGS, configure, declared_models
from .scoping import Hierarchy, Level
from .workflow import (
                      Clock,
                      Param,
                      Transition,
                      Workflow,
                      days_after,
                      days_before,
                      minutes_after,
)

__all__ = [
    "ACCOUNT_TABLE", "LOCAL_TZ", "AppSession", "Base", "TimestampMixin", "Versioned", "db", "now",
    "EDITORS", "EVERYONE", "Action", "ChoiceType", "Choices", "Invalid", "ModelAdmin", "Perms", "Refused",
    "Upload", "attr_info", "computed", "declare", "figure", "field", "lookup_fields", "relation",
    "column_label", "SETTINGS", "configure", "declared_models", "Hierarchy", "Level",
    "Clock", "Param", "Transition", "Workflow", "days_after", "days_before", "minutes_after",
]
