"""Screens for a declared workflow: the state panel on the details page, and one
endpoint per transition (a form when it asks for params, a button when it does not).

Everything comes from ``__admin__.workflow``; no model writes screen code.
"""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta
from typing import Any

from flask import abort, flash, redirect, request
from flask_admin import expose
from flask_login import current_user
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional

from models import db, now
from models.kernel.access import role_allowed
from models.kernel.workflow import Clock, Param, Transition, Workflow, perform

FIELD_TYPES = {
    "text": StringField, "textarea": TextAreaField, "date": DateField,
    "datetime": DateTimeLocalField, "int": IntegerField, "decimal": DecimalField,
    "bool": BooleanField, "choice": SelectField, "row": SelectField, "rows": SelectMultipleField,
}
ROW_LIMIT = 500  # a param picking rows lists at most this many (the user's scope)


def row_choices(model: type) -> list[tuple[str, str]]:
    """The rows of ``model`` the user may see, for a param that picks rows."""
    from models.kernel.declare import lookup_fields
    from models.kernel.scoping import scope_clause

    query = select(model)
    clause = scope_clause(model, current_user)
    if clause is not None:
        query = query.where(clause)
    order = getattr(model, lookup_fields(model)[0])
    return [(str(r.id), str(r)) for r in db.session.scalars(query.order_by(order).limit(ROW_LIMIT))]


def allowed(transition: Transition, role: str | None) -> bool:
    return role_allowed(transition.roles, role)


def params_form(base: type, transition: Transition, row: Any) -> Any:
    """A form class with one field per declared param, labelled in Chinese."""
    attrs: dict[str, Any] = {}
    for p in transition.params:
        kwargs: dict[str, Any] = {"label": p.label, "description": p.help or ""}
        kwargs["validators"] = [InputRequired(f"请填写「{p.label}」")] if p.required and p.kind != "bool" \
            else [Optional()]
        if p.kind == "choice":
            kwargs["choices"] = [("", "请选择")] + p.choices.pairs()
        if p.kind == "row":
            kwargs["choices"] = [("", "请选择")] + row_choices(p.target_model)
        if p.kind == "rows":
            kwargs["choices"] = row_choices(p.target_model)
        if p.kind == "datetime":
            kwargs["format"] = "%Y-%m-%dT%H:%M"
        if p.default is not None:
            kwargs["default"] = p.default(row)
        elif p.required and p.kind == "date":  # an optional date stays empty unless given
            kwargs["default"] = now().date()
        elif p.required and p.kind == "datetime":
            kwargs["default"] = now()
        attrs[p.name] = FIELD_TYPES[p.kind](**kwargs)
    return type(f"{transition.name.title()}Form", (base,), attrs)


def _param_value(param: Param, value: Any) -> Any:
    """Form data as the model method wants it: rows for row params, None for blanks.
    Rows are fetched again through the user's scope: a crafted id finds nothing."""
    from models.kernel.scoping import scope_clause

    if param.kind in ("row", "rows"):
        ids = [int(v) for v in (value if isinstance(value, list) else [value]) if v and str(v).isdigit()]
        model = param.target_model
        query = select(model).where(model.id.in_(ids))
        clause = scope_clause(model, current_user)
        rows = list(db.session.scalars(query if clause is None else query.where(clause)))
        return rows if param.kind == "rows" else (rows[0] if rows else None)
    return (value or None) if isinstance(value, str) else value


def clock_rows(workflow: Workflow, row: Any) -> list[dict[str, Any]]:
    out = []
    for clock in workflow.clocks:
        due = getattr(row, clock.due)
        if due is None:
            continue
        late = clock.late_by(row)
        stopped = clock.stop and getattr(row, clock.stop) is not None
        out.append({"label": clock.label, "due": due, "late": late,
                    "late_text": describe_gap(late) if late else None,
                    "done": stopped, "running": clock.running(row),
                    "left_text": None if late or stopped else describe_gap(_left(clock, row))})
    return out


def _left(clock: Clock, row: Any) -> timedelta:
    due = getattr(row, clock.due)
    current = now() if isinstance(due, datetime) else now().date()
    return due - current


def describe_gap(gap: timedelta | None) -> str:
    if gap is None:
        return ""
    minutes = int(gap.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} 分钟"
    if minutes < 48 * 60:
        return f"{minutes // 60} 小时 {minutes % 60} 分钟" if minutes % 60 else f"{minutes // 60} 小时"
    return f"{gap.days} 天"


class WorkflowMixin:
    """Mixed into ``DeclaredModelView``: details panel and transition endpoint."""

    def workflow_panel(self, row: Any) -> dict[str, Any] | None:
        workflow: Workflow | None = self.spec.workflow
        if workflow is None:
            return None
        role = current_user.role
        buttons = []
        for t in workflow.available(row):
            if not self.allows("read") or not allowed(t, role):
                continue
            reason = None
            guard = getattr(row, t.guard) if t.guard else None
            if guard is not None and not [p for p in inspect.signature(guard).parameters.values()
                                          if p.default is inspect.Parameter.empty]:
                reason = guard()  # a guard that needs no input can say now why it would refuse
            buttons.append({"transition": t, "reason": reason})
        return {"state": getattr(row, workflow.field) if workflow.field else None, "buttons": buttons,
                "clocks": clock_rows(workflow, row)}

    @expose("/details/")
    def details_view(self) -> Any:
        if request.args.get("id"):
            self._template_args["workflow"] = self.workflow_panel(self.get_one(request.args["id"]))
        return super().details_view()

    @expose("/transition/<step>/", methods=("GET", "POST"))
    def transition_view(self, step: str) -> Any:
        # (the URL part is not called "name": Flask-Admin passes the endpoint as ``name``)
        workflow: Workflow | None = self.spec.workflow
        transition = workflow.transition(step) if workflow else None
        if transition is None:
            abort(404)
        if not self.allows("read") or not allowed(transition, current_user.role):
            abort(403)
        row = self.get_one(request.args.get("id"))
        details = self.get_url(".details_view", id=request.args.get("id"),
                               url=request.args.get("url"))
        form = params_form(self.form_base_class, transition, row)(
            request.form if request.method == "POST" else None)
        if request.method == "POST" and form.validate():
            params = {p.name: _param_value(p, getattr(form, p.name).data) for p in transition.params}
            if self.apply_transition(row, transition, params, form):
                return redirect(details)
        elif request.method == "POST":
            flash("请按提示补全或修改后重新提交", "error")
        if request.method == "POST" and not transition.params:
            return redirect(details)  # a refused button: the flash says why
        return self.render("admin/model/transition.html", model=row, form=form,
                           transition=transition, return_url=details)

    def apply_transition(self, row: Any, transition: Transition, params: dict[str, Any],
                         form: Any = None) -> bool:
        from models.kernel.rules import run_rules_on_session

        before = getattr(row, self.spec.workflow.field) if self.spec.workflow.field else None

        def change() -> None:
            perform(row, transition.name, current_user.role, params)
            run_rules_on_session(row)

        if not self.write(change, [row], form, what=f"「{transition.label}」"):
            return False
        moved = f"：{getattr(before, 'label', before)} → {transition.target.label}" \
            if transition.target is not None else ""
        flash(f"已{transition.label}{moved}", "success")
        return True
