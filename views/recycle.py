"""The recycle bin (回收站): registry rows that were deleted, and their restoration.

A user sees the deleted rows of the models they may delete, in their own scope, and
restores them through the model's own write path (its rules, the scope check, one
transaction, the audit trail).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_admin import BaseView, expose
from flask_login import current_user
from sqlalchemy import func, select

from models import db, declared_models
from models.kernel.access import may
from models.kernel.scoping import scope_clause
from models.kernel.softdelete import DELETED_AT, restore, soft_deletes

SHOWN = 100  # per kind of record, newest first


class RecycleBinView(BaseView):
    def _models(self) -> list[type]:
        return [m for m in declared_models() if soft_deletes(m) and may(current_user, m.__admin__, "delete")]

    def is_accessible(self) -> bool:
        return current_user.is_authenticated and bool(self._models())

    def is_visible(self) -> bool:
        return self.is_accessible()

    def inaccessible_callback(self, name: str, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        abort(403)

    def _deleted(self, model: type) -> Any:
        stmt = select(model).where(getattr(model, DELETED_AT).isnot(None))
        clause = scope_clause(model, current_user, include_deleted=True)
        return stmt if clause is None else stmt.where(clause)

    @expose("/")
    def index(self) -> Any:
        groups = []
        for model in self._models():
            stmt = self._deleted(model)
            total = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
            if not total:
                continue
            rows = db.session.scalars(stmt.order_by(getattr(model, DELETED_AT).desc()).limit(SHOWN)).all()
            groups.append({"label": model.__admin__.label, "table": model.__tablename__,
                           "rows": rows, "total": total})
        return self.render("admin/recycle.html", groups=groups, shown=SHOWN)

    @expose("/restore/", methods=("POST",))
    def restore_view(self) -> Any:
        model = next((m for m in self._models() if m.__tablename__ == request.form.get("model")), None)
        if model is None:
            abort(403)
        from models.kernel.rules import row_key

        key = row_key(model.__table__.c.id, request.form.get("id", ""))
        if key is None:
            abort(404)
        row = db.session.scalar(self._deleted(model).where(model.id == key))
        if row is None:
            abort(404)
        view = next(v for v in self.admin._views if getattr(v, "model", None) is model)

        def change() -> None:
            from models.kernel.rules import run_rules_on_session

            restore(row)
            run_rules_on_session(row)  # a name taken again meanwhile is said, not broken

        if view.write(change, [row], what=f"恢复「{row}」"):
            flash(f"已恢复「{row}」", "success")
        return redirect(self.get_url(".index"))
