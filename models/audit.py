"""One audit trail for every write: who, when, and each changed field's old and new value.

It hangs on the session, so form saves, bulk actions, imports, workflow transitions
and CLI loaders are all recorded the same way without calling anything.
"""

from __future__ import annotations

import enum
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterator

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text, event, insert, inspect
from sqlalchemy.orm import Mapped, attributes, mapped_column

from . import AppSession, db, now
from .declare import ChoiceType, Choices, ModelAdmin, Perms, field


class AuditAction(Choices):
    CREATE = "create", "新增"
    UPDATE = "update", "修改"
    DELETE = "delete", "删除"
    RESTORE = "restore", "恢复"
    ACTION = "action", "操作"
    TRANSITION = "transition", "流转"
    LOGIN = "login", "登录"
    LOGOUT = "logout", "退出"
    LOGIN_FAILED = "login_failed", "登录失败"
    LOGIN_LOCKED = "login_locked", "登录锁定"
    PASSWORD_CHANGED = "password_changed", "修改密码"


class AuditLog(db.Model):
    __tablename__ = "audit_log"
    __audit__ = False
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = field(DateTime, "时间", default=now, index=True)
    user_id: Mapped[int | None] = field(
        ForeignKey("app_user.id", ondelete="SET NULL"), "操作人账号", index=True)
    actor: Mapped[str] = field(String(80), "操作人")
    action: Mapped[AuditAction] = field(ChoiceType(AuditAction), "类型")
    model: Mapped[str | None] = field(String(60), "对象类型")
    row_id: Mapped[str | None] = field(String(40), "记录编号")
    row_label: Mapped[str | None] = field(String(200), "记录")
    changes: Mapped[dict | None] = field(JSON, "变更内容")
    note: Mapped[str | None] = field(Text, "说明")

    __table_args__ = (Index("ix_audit_log_model_row", "model", "row_id"),)

    __admin__ = ModelAdmin(
        label="操作日志", category="系统管理", menu_order=90,
        list_columns=("at", "actor", "action", "model", "row_label", "note"),
        search=("actor", "row_label", "note"), filters=("action", "model"),
        details_columns=("at", "actor", "action", "model", "row_id", "row_label", "note",
                         "changes"),
        sort="-at", perms=Perms.admin_only(), view="views.accounts.AuditLogView",
    )


# -- who is acting ----------------------------------------------------------------

_actor: ContextVar[tuple[int | None, str] | None] = ContextVar("audit_actor", default=None)


@contextmanager
def acting_as(name: str, user_id: int | None = None) -> Iterator[None]:
    """Name the actor for writes outside a request (CLI commands, loaders)."""
    token = _actor.set((user_id, name))
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> tuple[int | None, str]:
    explicit = _actor.get()
    if explicit is not None:
        return explicit
    from flask import has_request_context

    if has_request_context():
        from flask_login import current_user

        if current_user and current_user.is_authenticated:
            return current_user.id, f"{current_user.display_name}（{current_user.username}）"
    return None, "系统"


def record(action: AuditAction, obj: Any = None, note: str | None = None,
           changes: dict | None = None, actor: tuple[int | None, str] | None = None) -> None:
    """Add an explicit entry (login, a bulk action, a transition) to the current session."""
    user_id, name = actor or current_actor()
    db.session.add(AuditLog(
        user_id=user_id, actor=name, action=action, note=note, changes=changes,
        model=obj.__tablename__ if obj is not None else None,
        row_id=str(inspect(obj).identity[0]) if obj is not None and inspect(obj).identity else None,
        row_label=str(obj)[:200] if obj is not None else None,
    ))


# -- the session hook -------------------------------------------------------------

SKIPPED = {"created_at", "updated_at", "version"}


def _audited(obj: Any) -> bool:
    cls = type(obj)
    return getattr(cls, "__audit__", True) and hasattr(cls, "__admin__")


def plain_value(value: Any) -> Any:
    """A value as it is kept in the audit trail's JSON."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _changes(obj: Any, new: bool) -> dict[str, list[Any]]:
    """Field -> [old, new] for what the pending flush will write."""
    mapper = inspect(obj).mapper
    out: dict[str, list[Any]] = {}
    recorded_fks: set[str] = set()
    for rel in mapper.relationships:
        if rel.viewonly or rel.direction.name == "ONETOMANY":
            continue
        hist = attributes.get_history(obj, rel.key, passive=attributes.PASSIVE_NO_INITIALIZE)
        if not hist.has_changes():
            continue
        if rel.uselist:
            before = [str(x) for x in (hist.unchanged or ()) + tuple(hist.deleted or ())]
            after = [str(x) for x in (hist.unchanged or ()) + tuple(hist.added or ())]
            out[rel.key] = [None if new else sorted(before), sorted(after)]
        else:
            old = hist.deleted[0] if hist.deleted else None
            value = hist.added[0] if hist.added else None
            out[rel.key] = [None if new or old is None else str(old),
                            None if value is None else str(value)]
            recorded_fks.update(c.key for c in rel.local_columns)
    for attr in mapper.column_attrs:
        key = attr.key
        if key in SKIPPED or key in recorded_fks or not _stored(attr) or attr.columns[0].primary_key \
                or attr.columns[0].info.get("audit") is False:  # e.g. the session token
            continue
        hist = attributes.get_history(obj, key)
        if new:
            value = getattr(obj, key)
            if value is not None:
                out[key] = [None, plain_value(value)]
        elif hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            value = hist.added[0] if hist.added else None
            if plain_value(old) != plain_value(value):
                out[key] = [plain_value(old), plain_value(value)]
        if key in out and attr.columns[0].info.get("secret"):
            out[key] = ["***", "***（已修改）"]
    return out


def _kind_of_update(changes: dict[str, list[Any]]) -> AuditAction:
    """Moving a row to the recycle bin and back are a deletion and a restoration."""
    from .softdelete import DELETED_AT

    if DELETED_AT in changes:
        return AuditAction.DELETE if changes[DELETED_AT][1] is not None else AuditAction.RESTORE
    return AuditAction.UPDATE


def _stored(attr: Any) -> bool:
    """A real column of the table, not a figure computed in SQL."""
    from sqlalchemy import Column

    return isinstance(attr.columns[0], Column)


def _snapshot(obj: Any) -> dict[str, list[Any]]:
    mapper = inspect(obj).mapper
    return {a.key: [plain_value(getattr(obj, a.key)), None] for a in mapper.column_attrs
            if a.key not in SKIPPED and _stored(a) and not a.columns[0].primary_key
            and not a.columns[0].info.get("secret") and getattr(obj, a.key) is not None}


@event.listens_for(AppSession, "before_flush")
def _collect(session, flush_context, instances) -> None:
    pending = session.info.setdefault("audit_pending", [])
    with session.no_autoflush:
        actor = current_actor()
        for obj in session.new:
            if _audited(obj):
                pending.append((obj, AuditAction.CREATE, _changes(obj, new=True), actor))
        for obj in session.dirty:
            if _audited(obj) and session.is_modified(obj, include_collections=True):
                changes = _changes(obj, new=False)
                if changes:
                    pending.append((obj, _kind_of_update(changes), changes, actor))
        for obj in session.deleted:
            if _audited(obj):
                pending.append((obj, AuditAction.DELETE, _snapshot(obj), actor, str(obj)[:200]))


@event.listens_for(AppSession, "after_flush")
def _write(session, flush_context) -> None:
    pending = session.info.pop("audit_pending", [])
    rows = []
    for entry in pending:
        obj, action, changes, (user_id, name) = entry[:4]
        # new rows have their key on the object now, but no identity until the flush ends
        identity = inspect(obj).mapper.primary_key_from_instance(obj)
        rows.append({
            "at": now(), "user_id": user_id, "actor": name, "action": action.value,
            "model": obj.__tablename__,
            "row_id": str(identity[0]) if identity and identity[0] is not None else None,
            "row_label": entry[4] if len(entry) > 4 else str(obj)[:200],
            "changes": changes,
        })
    if rows:
        from .search import document_for

        searchable = document_for(AuditLog)  # the trail is written past the ORM: its search text too
        if searchable is not None:
            for row in rows:
                row["search_doc"] = searchable(row)
        session.connection().execute(insert(AuditLog.__table__), rows)


@event.listens_for(AppSession, "after_rollback")
def _forget(session) -> None:
    session.info.pop("audit_pending", None)


def history_of(obj: Any) -> list[AuditLog]:
    identity = inspect(obj).identity
    return list(db.session.scalars(
        db.select(AuditLog)
        .where(AuditLog.model == obj.__tablename__, AuditLog.row_id == str(identity[0]))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())))
