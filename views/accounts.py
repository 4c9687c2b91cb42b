"""The two models whose screens truly differ: user accounts (a password field that
is never shown) and the audit log (read-only, codes shown as labels)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup, escape
from wtforms import PasswordField

from models import declared_models
from models.kernel.declare import Invalid

from . import formatting
from .engine import DeclaredModelView


class UserView(DeclaredModelView):
    def scaffold_form(self) -> Any:
        # Not a form_extra_fields entry: Flask-Admin drops those when form_columns is
        # declared, which left the form with no password at all.
        form_class = super().scaffold_form()
        form_class.password = PasswordField(
            "密码", description="新建时必填；修改时留空表示不改密码。至少 8 位，含字母和数字，"
                                "不能包含登录名，不能是常见密码")
        return form_class

    def on_model_change(self, form: Any, model: Any, is_created: bool) -> None:
        password = form.password.data
        if password:
            model.set_password(password)
        elif is_created:
            raise Invalid({"password": "新建账号须设置密码"})


class AuditLogView(DeclaredModelView):
    row_history = False  # an entry of the trail has no history of its own
    can_set_page_size = True

    def _model_label(view: Any, context: Any, model: Any, name: str) -> str:
        labels = {m.__tablename__: m.__admin__.label for m in declared_models()}
        return labels.get(model.model, model.model or "")

    def _changes(view: Any, context: Any, model: Any, name: str) -> Markup:
        target = next((m for m in declared_models() if m.__tablename__ == model.model), None)
        if target is None or not model.changes:
            return Markup("")
        rows = "".join(
            f"<tr><th>{escape(label)}</th><td>{escape(old)}</td><td>{escape(new)}</td></tr>"
            for label, old, new in formatting.describe_changes(target, model.changes))
        return Markup(f'<table class="table table-sm mb-0"><tr><th>字段</th><th>原值</th>'
                      f'<th>新值</th></tr>{rows}</table>')

    column_formatters = {"model": _model_label, "changes": _changes}
