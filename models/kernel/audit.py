"""One audit trail for every write: who, when, and each changed field's old and new value.

It hangs on the session, so form saves, bulk actions, imports, workflow transitions
and CLI loaders are all recorded the same way without calling anything.

The trail is append-only. No screen or command edits or deletes an entry (``Perms.append_only``),
the session refuses to (:func:`_collect`), and the database refuses UPDATE, DELETE and
TRUNCATE itself (:func:`ensure_append_only`, triggers). Each entry carries the hash of
the one before it and its own — sha256 over that hash and a canonical text of its
fields (:func:`chain_hash`) — so an entry altered or removed behind the application's
back is found by :func:`verify_chain` (``flask audit verify``).
"""

from __future__ import annotations

import enum
import hashlib
import json
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterator, Mapping

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    String,
    Text,
    cast,
    event,
    false,
    insert,
    inspect,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, attributes, mapped_column
from sqlalchemy.pool import Pool

from .database import ACCOUNT_TABLE, AppSession, db, now
from .declare import Choices, ChoiceType, Refused, field


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
    # no ON DELETE: an account named in the trail is deactivated, never deleted (User.clean_delete)
    user_id: Mapped[int | None] = field(ForeignKey(f"{ACCOUNT_TABLE}.id"), "操作人账号", index=True)
    actor: Mapped[str] = field(String(80), "操作人")
    action: Mapped[AuditAction] = field(ChoiceType(AuditAction), "类型")
    model: Mapped[str | None] = field(String(60), "对象类型")
    row_id: Mapped[str | None] = field(String(40), "记录编号")
    row_label: Mapped[str | None] = field(String(200), "记录")
    changes: Mapped[dict | None] = field(JSON, "变更内容")
    note: Mapped[str | None] = field(Text, "说明")
    prev_hash: Mapped[str] = mapped_column(String(64), info={"label": "前一条的哈希", "internal": True})
    row_hash: Mapped[str] = mapped_column(String(64), info={"label": "本条哈希", "internal": True})

    __table_args__ = (Index("ix_audit_log_model_row", "model", "row_id"),)

    # its screens are the domain's (who reads the trail is a question of roles):
    # models.accounts declares them with models.kernel.declare.declare()


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
    """Append an explicit entry (login, a bulk action, a transition) in the session's
    transaction: it is kept or rolled back with the write it describes."""
    user_id, name = actor or current_actor()
    append(db.session.connection(), [{
        "at": now(), "user_id": user_id, "actor": name, "action": action.value, "note": note,
        "changes": changes, "model": obj.__tablename__ if obj is not None else None,
        "row_id": str(inspect(obj).identity[0]) if obj is not None and inspect(obj).identity else None,
        "row_label": str(obj)[:200] if obj is not None else None,
    }])


# -- the chain ------------------------------------------------------------------------

GENESIS = "0" * 64  # the "previous hash" of the first entry
CHAINED = ("at", "user_id", "actor", "action", "model", "row_id", "row_label", "changes", "note")
CHAIN_LOCK = 0x61756469  # pg_advisory_xact_lock key ("audi"), the same on every app server
_LOCKED = "audit_chain_locked"


def canonical(entry: Mapping[str, Any]) -> str:
    """One text for an entry's fields, the same when it is written as when it is read back
    from SQLite or PostgreSQL: keys sorted, ASCII only (escapes for the rest), no spaces,
    the time to the microsecond, the changes re-read as JSON (tuples become lists, keys
    strings — what the database gives back)."""
    at = entry["at"]
    action = entry["action"]
    changes = entry["changes"]
    doc = {k: entry[k] for k in CHAINED}
    doc.update(at=at.isoformat(sep=" ", timespec="microseconds") if at is not None else None,
               action=action.value if isinstance(action, enum.Enum) else action,
               changes=None if changes is None else json.loads(json.dumps(changes)))
    return json.dumps(doc, sort_keys=True, ensure_ascii=True, separators=(",", ":"))


def chain_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(entry)).encode("ascii")).hexdigest()


def append(connection: Any, entries: list[dict[str, Any]]) -> None:
    """The one way entries enter the trail: chained to the last one, in one bulk INSERT
    (rows take their ids in list order, which is the chain's order)."""
    if not entries:
        return
    hold_chain(connection)
    prev = connection.execute(select(AuditLog.row_hash).order_by(AuditLog.id.desc()).limit(1)).scalar()
    prev = prev or GENESIS
    from .search import document_for

    searchable = document_for(AuditLog)  # written past the ORM: its search text too
    for entry in entries:
        entry["prev_hash"] = prev
        entry["row_hash"] = prev = chain_hash(prev, entry)
        if searchable is not None:
            entry["search_doc"] = searchable(entry)
    connection.execute(insert(AuditLog.__table__), entries)


def hold_chain(connection: Any) -> None:
    """PostgreSQL: from a transaction's first entry until it ends, no other transaction
    may read the last hash — two entries chained to the same one would fork the trail.
    One round trip per writing transaction; released by COMMIT or ROLLBACK (and by
    rolling back a savepoint, which is why that forgets it too). SQLite needs nothing:
    a writer's snapshot is always the newest (a stale one cannot write at all)."""
    if connection.dialect.name != "postgresql" or connection.info.get(_LOCKED):
        return
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    connection.info[_LOCKED] = True


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
@event.listens_for(Engine, "rollback_savepoint")
def _chain_released(connection: Any, *args: Any) -> None:
    if not connection.invalidated:  # a lost connection: its pool record forgets (below)
        connection.info.pop(_LOCKED, None)


@event.listens_for(Pool, "checkin")
@event.listens_for(Pool, "invalidate")
def _chain_released_with_connection(dbapi_connection: Any, record: Any, *args: Any) -> None:
    if record is not None:
        record.info.pop(_LOCKED, None)


def verify_chain(connection: Any, batch: int = 1000) -> tuple[int, str | None, int | None, str]:
    """Walk the trail in id order. Returns (entries that hold, the first break in words or
    ``None``, the last entry's id, its hash). A break is an entry whose fields no longer
    give its hash (altered), or whose "previous hash" is not the hash of the entry
    before it (entries between them removed). Removing the newest entries leaves no
    break: compare the last hash with one noted earlier."""
    table = AuditLog.__table__
    columns = [table.c.id, table.c.prev_hash, table.c.row_hash,
               type_coerce(table.c.action, String).label("action"),
               *[table.c[name] for name in CHAINED if name != "action"]]
    held, prev_hash, prev_id, after = 0, GENESIS, None, 0
    while True:
        stmt = select(*columns).where(table.c.id > after).order_by(table.c.id).limit(batch)
        try:
            rows = connection.execute(stmt).mappings().all()
        except (ValueError, TypeError):  # a field no longer reads as its type: find which
            rows = _readable_rows(connection, columns, after, batch)
            if isinstance(rows, str):
                return held, rows, prev_id, prev_hash
        if not rows:
            return held, None, prev_id, prev_hash
        for row in rows:
            if row["prev_hash"] != prev_hash:
                gap = (f"编号 {prev_id} 与 {row['id']} 之间的记录被删除（或编号 {prev_id} 被改写）"
                       if prev_id is not None else f"编号 {row['id']} 之前的记录被删除（链的起点不符）")
                return held, f"{gap}：编号 {row['id']} 记下的前一条哈希与实际不符", prev_id, prev_hash
            if chain_hash(prev_hash, row) != row["row_hash"]:
                return held, f"编号 {row['id']} 的记录被修改：内容与它的哈希不符", prev_id, prev_hash
            held, prev_hash, prev_id = held + 1, row["row_hash"], row["id"]
        after = rows[-1]["id"]


def _readable_rows(connection: Any, columns: list[Any], after: int, batch: int) -> list[Any] | str:
    table = AuditLog.__table__
    ids = connection.execute(select(table.c.id).where(table.c.id > after)
                             .order_by(table.c.id).limit(batch)).scalars().all()
    rows = []
    for key in ids:
        try:
            rows.append(connection.execute(select(*columns).where(table.c.id == key)).mappings().one())
        except (ValueError, TypeError):
            return f"编号 {key} 的记录被修改：内容已无法读取"
    return rows


# -- the database refuses to change the trail -----------------------------------------

APPEND_ONLY = {
    "postgresql": [
        """CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION USING MESSAGE = '操作日志只能追加，不能修改或删除（' || TG_OP || '）';
        END $$""",
        "DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
        "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    ],
    "sqlite": [
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, '操作日志只能追加，不能修改'); END",
        "CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log "
        "BEGIN SELECT RAISE(ABORT, '操作日志只能追加，不能删除'); END",
    ],
}
NOT_APPEND_ONLY = {
    "postgresql": ["DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log",
                   "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
                   "DROP FUNCTION IF EXISTS audit_log_append_only()"],
    "sqlite": ["DROP TRIGGER IF EXISTS audit_log_no_update",
               "DROP TRIGGER IF EXISTS audit_log_no_delete"],
}


def ensure_append_only(connection: Any) -> None:
    """Create the triggers if missing (idempotent): run by the migration that introduced
    them and after every upgrade, since a later SQLite batch migration copying the table
    drops them with the old copy."""
    for statement in APPEND_ONLY.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)


def drop_append_only(connection: Any) -> None:
    for statement in NOT_APPEND_ONLY.get(connection.dialect.name, ()):
        connection.exec_driver_sql(statement)


# -- who reads which entries -------------------------------------------------------------


def entries_about(model: type, user: Any) -> Any:
    """Entries about rows of ``model`` that lie in ``user``'s scope (in the recycle bin too)."""
    from sqlalchemy import and_

    from .scoping import scope_clause

    ids = select(cast(inspect(model).primary_key[0], String))
    clause = scope_clause(model, user, include_deleted=True)
    if clause is not None:
        ids = ids.where(clause)
    return and_(AuditLog.model == model.__tablename__, AuditLog.row_id.in_(ids))


def entries_in_scope(user: Any, write: bool = False) -> Any:
    """The auditor's share of the trail (the administrator reads all of it): entries about
    rows the auditor may read, where those rows lie in their scope; and everything the
    accounts bound inside that scope did — their logins and logouts, their bulk actions,
    rows they have since deleted for real. No one writes to the trail."""
    from .access import may
    from .registry import declared_models
    from .scoping import accounts_within, scope_paths

    if write:
        return false()
    everywhere, placed = [], []
    for model in declared_models():
        if not getattr(model, "__audit__", True) or not may(user, model.__admin__, "read"):
            continue
        if scope_paths(model) is None:
            everywhere.append(model.__tablename__)  # reference data: everyone reads it
        else:
            placed.append(entries_about(model, user))
    return or_(AuditLog.model.in_(everywhere), *placed, AuditLog.user_id.in_(accounts_within(user)))


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
    for obj in session.new:
        if isinstance(obj, AuditLog):
            raise Refused("操作日志只能由系统追加（models.kernel.audit.record），不能直接新增")
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, AuditLog) and (obj in session.deleted or session.is_modified(obj)):
            raise Refused("操作日志只能追加，不能修改或删除")
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
    if pending:
        # before this flush locks any row: the chain's lock is always taken first
        hold_chain(session.connection())


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
            "changes": changes, "note": None,
        })
    append(session.connection(), rows)


@event.listens_for(AppSession, "after_rollback")
def _forget(session) -> None:
    session.info.pop("audit_pending", None)


def history_of(obj: Any) -> list[AuditLog]:
    identity = inspect(obj).identity
    return list(db.session.scalars(
        db.select(AuditLog)
        .where(AuditLog.model == obj.__tablename__, AuditLog.row_id == str(identity[0]))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())))
