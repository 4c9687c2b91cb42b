"""Every write of a declared model's screens goes one way: forms, inline rows, bulk
actions, workflow steps and deletes apply their change, run every touched row's rules,
check the scope and commit — or roll back and say why, naming the field or row."""

from __future__ import annotations

import logging
from typing import Any

from flask import abort, flash, request
from flask_admin import expose
from flask_admin.actions import action
from flask_admin.form.fields import Select2Field
from flask_admin.helpers import get_redirect_target
from flask_admin.model.fields import AjaxSelectField, AjaxSelectMultipleField
from flask_babel import lazy_gettext
from flask_login import current_user
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException
from wtforms import HiddenField
from wtforms.fields.core import UnboundField

from models import db, now
from models.kernel import softdelete
from models.kernel.audit import AuditAction, current_actor, history_of, record
from models.kernel.declare import Invalid, Refused
from models.kernel.paths import column_label
from models.kernel.rules import (
    describe_invalid,
    integrity_message,
    run_rules_on_session,
)
from models.kernel.scoping import in_scope
from models.kernel.softdelete import soft_deletes

from .. import formatting
from ..errors import database_fault

log = logging.getLogger(__name__)
from .fields import (
    StrictAjaxSelectField,
    StrictAjaxSelectMultipleField,
    StrictSelect2Field,
)

STALE_MESSAGE = ("保存未完成：这条记录在您打开之后已被{who}修改，您的修改没有保存，以免覆盖对方的修改。"
                 "请重新打开这条记录，在最新内容上再改。")


NO_VERSION_MESSAGE = ("保存未完成：提交的内容缺少记录的版本信息，无法确认您修改的是最新内容。"
                      "请重新打开这条记录，在最新内容上再改。")


class VersionField(HiddenField):
    """The version of the row a form was filled from: read on save, never written to
    the row (a posted version cannot move it)."""

    def populate_obj(self, obj: Any, name: str) -> None:
        pass


def last_editor(model: Any) -> str:
    """Who saved the row last, from the audit trail — for the stale-form message."""
    from models.kernel.audit import AuditLog

    ident = sa_inspect(model).identity
    if ident is None:
        return "他人"
    entry = db.session.scalar(db.select(AuditLog).where(
        AuditLog.model == model.__tablename__, AuditLog.row_id == str(ident[0]))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(1))
    if entry is None:
        return "他人"
    return f"{entry.actor}（{entry.at:%m-%d %H:%M}）"


def _touch(model: Any) -> None:
    """Make the row's UPDATE happen (and its version move on) though none of its own
    columns changed."""
    from sqlalchemy.orm.attributes import flag_modified

    if hasattr(model, "updated_at"):
        model.updated_at = now()
        return
    mapper = sa_inspect(type(model))
    column = next(a.key for a in mapper.column_attrs
                  if not a.columns[0].primary_key and a.columns[0] is not mapper.version_id_col)
    flag_modified(model, column)


def _children_changed(model: Any) -> bool:
    session = db.session
    return any(obj is not model and hasattr(type(obj), "__admin__")
               for obj in list(session.new) + list(session.dirty) + list(session.deleted))


class WriteMixin:
    """Saving, deleting, bulk actions and history."""

    def write(self, change: Any, rows: Any = (), form: Any = None, what: str = "保存") -> bool:
        """Apply ``change()``, run every touched row's rules, check that ``rows`` are
        still in the user's scope and commit — or roll everything back and say why,
        in Chinese, naming the field or row. Nothing is ever half-written."""
        session = db.session
        try:
            # no autoflush: a query inside a hook or rule must not write the rows
            # before every rule has seen them
            with session.no_autoflush:
                change()
            session.flush()
            for row in rows() if callable(rows) else rows:
                if not in_scope(row, current_user):
                    raise Refused(f"「{row}」不在您的管辖范围内")
            session.commit()
            return True
        except Invalid as exc:
            session.rollback()
            self._report_invalid(exc, form)
        except Refused as exc:
            session.rollback()
            flash(f"{what}未完成，数据未改变：{exc}", "error")
        except IntegrityError as exc:
            session.rollback()
            flash(f"{what}未完成，数据未改变：{integrity_message(exc, self.model)}", "error")
        except StaleDataError:  # saved by someone else between our read and our write
            session.rollback()
            flash(STALE_MESSAGE.format(who="他人"), "error")
        except OperationalError as exc:  # unreachable or locked: one log line, a 503, the form kept
            session.rollback()
            flash(database_fault(exc, what), "error")
        except SQLAlchemyError:
            session.rollback()
            log.exception("%s failed on %s", what, self.model.__name__)
            flash(f"{what}失败：数据未改变，请检查后重试", "error")
        except HTTPException:
            session.rollback()
            raise
        except Exception:  # a bug mid-way (say, on the 3rd of 5 rows): none of it is kept
            session.rollback()
            log.exception("%s failed on %s", what, self.model.__name__)
            flash(f"{what}未完成，数据未改变：系统出现意外错误，已记录日志，请联系管理员", "error")
        return False

    def save(self, model: Any, is_created: bool, form: Any = None) -> bool:
        def change() -> None:
            if is_created:
                db.session.add(model)
                if callable(getattr(model, "on_create", None)):
                    model.on_create(current_user._get_current_object())
            if form is not None:
                self._on_model_change(form, model, is_created)
            run_rules_on_session(model)
        return self.write(change, [model], form)

    def create_model(self, form: Any) -> Any:
        model = self.build_new_instance()
        with db.session.no_autoflush:
            form.populate_obj(model)
        if not self.save(model, True, form):
            return False
        self.after_model_change(form, model, True)
        return model

    def update_model(self, form: Any, model: Any) -> bool:
        versioned = hasattr(form, "row_version")
        shown = getattr(getattr(form, "row_version", None), "data", None)
        if versioned and not shown:
            # a form that does not say which version it was filled from could overwrite a
            # newer save unseen: only a browser's own form, which always carries it, saves
            flash(NO_VERSION_MESSAGE, "error")
            return False
        if versioned and shown != str(self._row_version(model)):
            # the form was read before someone else saved: keep their edit, say so
            flash(STALE_MESSAGE.format(who=last_editor(model)), "error")
            return False
        with db.session.no_autoflush:
            form.populate_obj(model)
            if _children_changed(model):  # an inline child edited alone still moves the parent on
                _touch(model)
        if not self.save(model, False, form):
            return False
        self.after_model_change(form, model, False)
        return True

    def delete_model(self, model: Any) -> bool:
        """Delete — into the recycle bin for the registries (models.kernel.softdelete)."""
        soft = soft_deletes(self.model)

        def change() -> None:
            self.on_model_delete(model)
            softdelete.remove(model, current_actor()[1])
        done = f"删除「{model}」" if not soft else f"删除「{model}」（移入回收站）"
        if not self.write(change, what=done):
            return False
        if soft:
            flash(f"「{model}」已移入回收站，可在 系统管理 › 回收站 恢复", "success")
            return True
        self.after_model_delete(model)
        return True

    def _report_invalid(self, exc: Invalid, form: Any) -> None:
        model = getattr(exc, "model", None) or self.model
        prefix = f"{exc.row}：" if getattr(exc, "row", None) else ""
        for name, messages in exc.errors.items():
            field = getattr(form, name, None) if form is not None and model is self.model else None
            if field is not None and hasattr(field, "errors"):
                field.errors = list(field.errors or []) + messages
            # a form-only field (a password) has no column to take the label from
            label = str(field.label.text) if field is not None and hasattr(field, "label") \
                else column_label(model, name)
            flash(f"{prefix}「{label}」：{'；'.join(messages)}", "error")

    def run_action(self, name: str, ids: list[str]) -> Any:
        rows = self.get_ids_or_404(ids)
        declared = self._declared_actions.get(name)
        label = declared.label if declared is not None else "删除"
        function = declared.function() if declared is not None else None

        def change() -> None:
            if function is not None:  # set-based: one call for every selected row
                try:
                    function(rows)
                    for row in rows:
                        run_rules_on_session(row)
                except Invalid as exc:
                    raise Refused(describe_invalid(exc, getattr(exc, "model", None) or self.model)) from exc
            for row in rows if function is None else ():
                try:
                    if name == "delete":
                        self.on_model_delete(row)
                        softdelete.remove(row, current_actor()[1])
                    else:
                        getattr(row, name)()
                        run_rules_on_session(row)
                except Invalid as exc:
                    raise Refused(f"「{row}」：{describe_invalid(exc, type(row))}") from exc
                except Refused as exc:
                    raise Refused(f"「{row}」：{exc}") from exc
            if name != "delete":
                record(AuditAction.ACTION, None, note=f"{self.spec.label}：{label}，共 {len(rows)} 条",
                       changes={"ids": [str(i) for i in ids]})

        if self.write(change, rows if name != "delete" else (), what=f"{label}（所选 {len(rows)} 条）"):
            flash(f"{label}：已处理 {len(rows)} 条记录", "success")
        return None

    @expose("/action/", methods=("POST",))
    def action_view(self) -> Any:
        # Flask-Admin ignores an action the user may not run; say so instead
        name = request.form.get("action", "")
        if name not in self._actions_data or not self.is_action_allowed(name):
            abort(403)
        return super().action_view()

    @action("delete", lazy_gettext("删除"), lazy_gettext("确定要删除所选记录吗？删除后不可恢复。"))
    def action_delete(self, ids: list[str]) -> Any:  # replaces Flask-Admin's
        return self.run_action("delete", ids)

    @expose("/history/")
    def history_view(self) -> Any:
        row = self.get_one(request.args.get("id"))
        entries = history_of(row)
        return self.render("admin/model/history.html", model=row, entries=entries,
                           describe=lambda e: formatting.describe_changes(self.model, e.changes),
                           return_url=get_redirect_target() or self.get_url(".index_view"))

    def scaffold_form(self) -> Any:
        form_class = super().scaffold_form()
        swaps = {AjaxSelectField: StrictAjaxSelectField,
                 AjaxSelectMultipleField: StrictAjaxSelectMultipleField,
                 Select2Field: StrictSelect2Field}
        for name in dir(form_class):
            attr = getattr(form_class, name, None)
            if isinstance(attr, UnboundField) and attr.field_class in swaps:
                attr.field_class = swaps[attr.field_class]
        if sa_inspect(self.model).version_id_col is not None:
            form_class.row_version = VersionField()
        return form_class

    def on_form_prefill(self, form: Any, id: Any) -> None:
        """An edit form remembers which version of the row it shows."""
        super().on_form_prefill(form, id)
        if hasattr(form, "row_version") and not form.row_version.data:
            form.row_version.data = str(self._row_version(self.get_one(id)))

    def _row_version(self, model: Any) -> Any:
        return getattr(model, sa_inspect(self.model).version_id_col.key)
