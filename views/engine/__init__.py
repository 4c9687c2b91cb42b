"""The engine's view layer: turns each model's ``__admin__`` declaration into Flask-Admin
screens, closing Flask-Admin's known gaps in one place:

* permissions per role and operation come from ``Perms`` (403, not a redirect);
* one scoping hook (:func:`models.kernel.scoping.scope_clause`) feeds the list, its
  count, details, edit, delete, bulk actions, export, history and ajax look-ups —
  Flask-Admin's ``get_one`` would otherwise open any row by id;
* every write goes through :meth:`WriteMixin.write`: model rules, scope check, Chinese
  messages naming the field, all-or-nothing;
* relations shown in lists are joined into the list query (no N+1) and foreign keys in
  forms are ajax look-ups.

Modules by concern: base (the view class), build (a view from a declaration), access,
listing, writes, fields (form fields, look-ups, filters), workflow, imports, exports,
files (uploads and print pages). :func:`build_view` makes a view class per model; an
ordinary model needs none of its own.
"""

from .base import DeclaredModelView
from .build import build_view

__all__ = ["DeclaredModelView", "build_view"]
