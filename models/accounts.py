"""Accounts: who logs in, in which role, bound to which part of the street."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from functools import cache

from flask_login import UserMixin
from sqlalchemy import (Boolean, Column, DateTime, ForeignKey, Integer, String, Table,
                        UniqueConstraint)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from . import TimestampMixin, db
from .declare import ChoiceType, Invalid, ModelAdmin, Perms, Refused, Role, field, relation

# A user sees the rows of the streets, communities and estates they are bound to;
# a user bound to nothing sees nothing, except the system administrator.
user_street = Table(
    "user_street", db.metadata,
    Column("user_id", ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True),
    Column("street_id", ForeignKey("street.id", ondelete="CASCADE"), primary_key=True),
)
user_community = Table(
    "user_community", db.metadata,
    Column("user_id", ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True),
    Column("community_id", ForeignKey("community.id", ondelete="CASCADE"), primary_key=True),
)
user_estate = Table(
    "user_estate", db.metadata,
    Column("user_id", ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True),
    Column("estate_id", ForeignKey("estate.id", ondelete="CASCADE"), primary_key=True),
)

MIN_PASSWORD_LENGTH = 8

# Passwords that meet the length-and-mix rule yet are the first an attacker tries.
COMMON_PASSWORDS = frozenset({
    "password1", "password123", "passw0rd", "p@ssw0rd", "abc12345", "abcd1234", "abc123456",
    "a1234567", "a12345678", "a123456789", "1234567a", "12345678a", "123456789a", "qwerty123",
    "qwer1234", "1q2w3e4r", "1qaz2wsx", "zaq12wsx", "admin123", "admin1234", "admin888",
    "test1234", "iloveyou1", "woaini1314", "woaini520", "aa123456", "asd12345", "qq123456",
    "abc123abc", "aaa11111", "welcome1", "changeme1", "letmein1", "root1234", "user1234",
})


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, TimestampMixin, db.Model):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = field(String(40), "登录名", unique=True)
    display_name: Mapped[str] = field(String(40), "姓名")
    role: Mapped[Role] = field(ChoiceType(Role), "角色")
    phone: Mapped[str | None] = field(String(40), "联系电话")
    password_hash: Mapped[str] = mapped_column(String(256), info={"label": "密码摘要", "secret": True})
    active: Mapped[bool] = field(Boolean, "启用", default=True)
    last_login_at: Mapped[datetime | None] = field(DateTime, "最近登录")
    # Every session cookie carries this token; logging out (or a new password) replaces
    # it, so a cookie copied before then no longer logs anyone in on any app server.
    session_token: Mapped[str | None] = mapped_column(
        String(64), info={"label": "会话令牌", "secret": True, "audit": False})
    unit_id: Mapped[int | None] = field(ForeignKey("org_unit.id", ondelete="SET NULL"), "所属站点/机构",
                                        help="站点人员须填写：决定可办理哪个站点的案件")

    streets: Mapped[list["Street"]] = relation("管辖街道", secondary=user_street)  # noqa: F821
    communities: Mapped[list["Community"]] = relation(  # noqa: F821
        "管辖社区", secondary=user_community)
    estates: Mapped[list["Estate"]] = relation("管辖小区", secondary=user_estate)  # noqa: F821
    unit: Mapped["OrgUnit | None"] = relation("所属站点/机构")  # noqa: F821

    __admin__ = ModelAdmin(
        label="用户账号", category="系统管理", menu_order=10,
        list_columns=("username", "display_name", "role", "phone", "active", "last_login_at"),
        search=("username", "display_name", "phone"),
        filters=("role", "active"), sort="username",
        form_columns=("username", "display_name", "role", "phone", "active", "unit",
                      "streets", "communities", "estates"),
        details_columns=("username", "display_name", "role", "phone", "active", "unit",
                         "streets", "communities", "estates", "last_login_at",
                         "created_at", "updated_at"),
        readonly=("last_login_at", "created_at", "updated_at"),
        perms=Perms.admin_only(),
        lookup=("username", "display_name"),
        view="views.accounts.UserView",
    )

    def __str__(self) -> str:
        return f"{self.display_name}（{self.username}）"

    # Flask-Login asks this on every request: a disabled account is logged out.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return bool(self.active)

    def set_password(self, password: str) -> None:
        problem = password_problem(password, self.username)
        if problem:
            raise Invalid({"password": problem})
        self.password_hash = generate_password_hash(password)
        self.end_sessions()  # a new password ends the sessions the old one opened

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        """Invalidate every session cookie issued to this account so far."""
        self.session_token = new_session_token()

    def sign_out_everywhere(self) -> None:
        """:meth:`end_sessions` for a logout, in one UPDATE that leaves the row's version
        alone: signing out is not an edit of the account (an administrator's form open on
        it stays valid; two people leaving a shared account at once do not collide)."""
        from sqlalchemy import update
        from sqlalchemy.orm.attributes import set_committed_value

        token = new_session_token()
        db.session.execute(update(User).where(User.id == self.id).values(session_token=token),
                           execution_options={"synchronize_session": False})
        set_committed_value(self, "session_token", token)

    @property
    def is_unrestricted(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def station(self) -> str | None:
        """The kind of station a station-staff account works at."""
        return self.unit.kind.value if self.unit is not None and self.unit.kind else None

    def clean_delete(self) -> None:
        """An account that has acted stays: the trail names it, and the trail is never
        rewritten (its entries are not UPDATEd to forget the account). It is disabled."""
        from .audit import AuditLog

        if db.session.scalar(db.select(AuditLog.id).where(AuditLog.user_id == self.id).limit(1)) is not None:
            raise Refused(f"账号「{self}」已有操作记录，不能删除（操作日志须保留操作人）；"
                          "如不再使用，请在修改页取消「启用」以停用该账号")

    def clean(self) -> None:
        bound = bool(self.streets or self.communities or self.estates)
        if self.role != Role.ADMIN and not bound:
            raise Invalid({"streets": "除系统管理员外，每个账号都须绑定管辖的街道、社区或小区"})
        if self.role == Role.STATION_STAFF and self.unit is None:
            raise Invalid({"unit": "站点人员须选择所属站点（调解站、应急维修站或服务中心）"})


def password_problem(password: str, username: str | None = None) -> str | None:
    """The password rule, in one place (CLI, the accounts form, one's own password):
    length, a mix of letters and digits, not the login name, not a well-known password."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return f"密码至少 {MIN_PASSWORD_LENGTH} 位"
    if not any(c.isdigit() for c in password) or not any(c.isalpha() for c in password):
        return "密码须同时包含字母和数字"
    lowered = password.lower()
    name = (username or "").strip().lower()
    if name and (lowered == name or (len(name) >= 3 and name in lowered)):
        return "密码不能包含登录名"
    if lowered in COMMON_PASSWORDS:
        return "密码过于常见，容易被猜中，请换一个"
    return None


@cache
def _decoy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16))


def check_decoy_password(password: str) -> None:
    """Spend the time a real password check takes, so that how long a refused login
    takes does not tell whether the name exists."""
    check_password_hash(_decoy_hash(), password)


class LoginThrottle(db.Model):
    """Failed logins counted per login name and per client address. Kept in the
    database so every app server sees the same count and the same lock."""

    __tablename__ = "login_throttle"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), info={"label": "类别"})  # "username" | "address"
    key: Mapped[str] = mapped_column(String(200), info={"label": "登录名或地址"})
    failures: Mapped[int] = mapped_column(Integer, default=0, info={"label": "失败次数"})
    window_started_at: Mapped[datetime | None] = mapped_column(DateTime, info={"label": "首次失败"})
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, info={"label": "锁定至"})

    __table_args__ = (UniqueConstraint("kind", "key"),)

    USERNAME = "username"
    ADDRESS = "address"

    @staticmethod
    def keys(username: str, address: str | None) -> list[tuple[str, str]]:
        # the name as typed, case-folded: a lock on "Street" is a lock on "street"
        return [(LoginThrottle.USERNAME, (username or "").strip().lower()[:200]),
                (LoginThrottle.ADDRESS, (address or "unknown")[:200])]

    @classmethod
    def locked_until_for(cls, username: str, address: str | None, at: datetime) -> datetime | None:
        """The latest lock still running on this name or this address, if any."""
        until = None
        for kind, key in cls.keys(username, address):
            row = db.session.scalar(db.select(cls).filter_by(kind=kind, key=key))
            if row is not None and row.locked_until is not None and row.locked_until > at:
                until = max(until or row.locked_until, row.locked_until)
        return until

    @classmethod
    def fail(cls, username: str, address: str | None, at: datetime, limits: dict[str, int],
             window: timedelta, lock: timedelta) -> list[tuple[str, str, datetime]]:
        """Count one failure against the name and the address; returns the locks this
        failure set, as (kind, key, until)."""
        locks = []
        for kind, key in cls.keys(username, address):
            row = cls._row_for_update(kind, key)
            if row.window_started_at is None or at - row.window_started_at > window:
                row.window_started_at, row.failures = at, 0
            row.failures += 1
            if row.failures >= limits[kind]:
                row.locked_until = at + lock
                row.window_started_at, row.failures = None, 0  # a fresh count after the lock
                locks.append((kind, key, row.locked_until))
        return locks

    @classmethod
    def succeed(cls, username: str) -> None:
        """A successful login wipes the name's count (an address's count only ages out,
        so one good login cannot hide a spray of guesses from the same machine)."""
        kind, key = cls.keys(username, None)[0]
        db.session.execute(db.delete(cls).filter_by(kind=kind, key=key))

    @classmethod
    def unlock(cls, username: str | None, address: str | None) -> list[str]:
        """End the locks of a name and/or an address early (``flask users unlock``): the
        keys whose counts were cleared."""
        name_key, address_key = cls.keys(username or "", address)
        cleared = []
        for (kind, key), asked in ((name_key, username), (address_key, address)):
            if asked and db.session.execute(db.delete(cls).filter_by(kind=kind, key=key)).rowcount:
                cleared.append(key)
        return cleared

    @classmethod
    def _row_for_update(cls, kind: str, key: str) -> "LoginThrottle":
        stmt = db.select(cls).filter_by(kind=kind, key=key).with_for_update()
        row = db.session.scalar(stmt)
        if row is not None:
            return row
        try:
            with db.session.begin_nested():  # two servers may count the first failure at once
                row = cls(kind=kind, key=key, failures=0)
                db.session.add(row)
            return row
        except IntegrityError:
            return db.session.scalar(stmt)
