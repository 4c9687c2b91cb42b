"""Who may open what: the declaration's permissions per request, and the one scoping
hook behind every screen (a row outside the user's scope is a 404 everywhere)."""

from __future__ import annotations

import logging
from typing import Any, Iterable

from flask import abort, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import inspect as sa_inspect

from models import db
from models.kernel.access import may
from models.kernel.rules import row_key
from models.kernel.scoping import scope_clause

log = logging.getLogger(__name__)
from .fields import ScopedAjaxLoader

# Which declared operation each Flask-Admin endpoint needs.
ENDPOINT_OPERATION = {
    "index_view": "read", "details_view": "read", "export": "read", "history_view": "read",
    "file_view": "read", "print_view": "read",
    "import_view": "create", "import_template_view": "create", "import_job_view": "create",
    "import_status_view": "create", "import_commit_view": "create",
    "create_view": "create", "edit_view": "edit", "ajax_update": "edit",
    "delete_view": "delete",
}
# Endpoints that change rows: they see rows through the write scope.
WRITE_ENDPOINTS = {"create_view", "edit_view", "ajax_update", "delete_view", "action_view",
                   "transition_view"}


class AccessMixin:
    """Permissions and scope of a declared model's screens."""

    def allows(self, operation: str) -> bool:
        """May the current user do ``operation`` here — asked once per request and view
        (a page asks it for every row's buttons and every menu entry)."""
        if not _in_request():
            return may(current_user, self.spec, operation)
        answers = g.setdefault("permission_answers", {})
        key = (self.endpoint, operation)
        if key not in answers:
            answers[key] = may(current_user, self.spec, operation)
        return answers[key]

    @property
    def can_create(self) -> bool:  # type: ignore[override]
        return _in_request() and self.allows("create")

    @property
    def can_edit(self) -> bool:  # type: ignore[override]
        return _in_request() and self.allows("edit")

    @property
    def can_delete(self) -> bool:  # type: ignore[override]
        return _in_request() and self.allows("delete")

    @property
    def can_export(self) -> bool:  # type: ignore[override]
        return self.spec.export and (not _in_request() or self.allows("read"))

    def is_accessible(self) -> bool:
        return self.allows("read")

    def is_visible(self) -> bool:
        return self.allows("read")

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(403)

    def _handle_view(self, name: str, **kwargs: Any) -> Any:
        response = super()._handle_view(name, **kwargs)
        if response is not None:
            return response
        operation = ENDPOINT_OPERATION.get(name)
        if name == "ajax_lookup":
            if not (self.allows("create") or self.allows("edit")):
                abort(403)
        elif operation and not self.allows(operation):
            abort(403)
        return None

    def is_action_allowed(self, name: str) -> bool:
        if name == "delete":
            return self.allows("delete")
        action = self._declared_actions.get(name)
        return action is not None and action.allows(current_user.role)

    def scope(self) -> Any:
        endpoint = (request.endpoint or "").rsplit(".", 1)[-1] if _in_request() else ""
        return scope_clause(self.model, current_user, write=endpoint in WRITE_ENDPOINTS)

    def get_query(self) -> Any:
        query = super().get_query()
        clause = self.scope()
        if clause is not None:
            query = query.filter(clause)
        return query.options(*self._list_loads)

    def get_count_query(self) -> Any:
        query = super().get_count_query()
        clause = self.scope()
        return query if clause is None else query.filter(clause)

    def _scoped_query(self) -> Any:
        query = db.session.query(self.model)
        clause = self.scope()
        return query if clause is None else query.filter(clause)

    def get_one(self, id: Any) -> Any:
        """A row by id, only if the user may see it: 404 otherwise, in every screen."""
        pk = sa_inspect(self.model).primary_key[0]
        key = row_key(pk, id)
        if key is None:
            abort(404)
        row = self.get_query().filter(pk == key).one_or_none()
        if row is None:
            abort(404)
        return row

    def get_ids_or_404(self, ids: Iterable[str]) -> list[Any]:
        """The selected rows of a bulk action; any one outside the scope refuses all."""
        pk = sa_inspect(self.model).primary_key[0]
        keys = {row_key(pk, i) for i in ids}
        if None in keys:
            abort(404)
        rows = self.get_query().filter(pk.in_(keys)).all() if keys else []
        if len(rows) != len(keys):
            abort(404)
        return rows

    def _create_ajax_loader(self, name: str, options: dict[str, Any]) -> Any:
        target = sa_inspect(self.model).relationships[name].mapper.class_
        return ScopedAjaxLoader(name, self.session, target, **options)


def _in_request() -> bool:
    from flask import has_request_context

    return has_request_context()
