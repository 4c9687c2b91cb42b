"""Accounts: who logs in, in which role, bound to which part of the street."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field as dataclass_field
from datetime import datetime, timedelta
from functools import cache

from flask_login import UserMixin
from sqlalchemy import (Boolean, Column, DateTime, ForeignKey, Integer, String, Table,
                        UniqueConstraint, case, delete, or_, update)
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from .kernel import TimestampMixin, db
from .kernel.audit import AuditLog, entries_in_scope
from .kernel.declare import ChoiceType, Choices, Invalid, ModelAdmin, Perms, Refused, declare, field, relation


class Role(Choices):
    """Who a user is; what they may do comes from each model's ``Perms``."""

    ADMIN = "admin", "系统管理员"
    STREET_STAFF = "street_staff", "街道管理员"
    COMMUNITY_STAFF = "community_staff", "社区工作人员"
    COMMITTEE_MEMBER = "committee_member", "委员会成员"
    PILOT_COORDINATOR = "pilot_coordinator", "试点协调员"
    STATION_STAFF = "station_staff", "站点人员"
    LEADER = "leader", "领导"
    AUDITOR = "auditor", "纪工委（审计）"


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
        # an account lies where it is bound, finest first: whoever picks an account (a
        # four-in-one member's 系统账号) sees only the accounts of their own part of the
        # street; the administrator, bound to nothing, is seen by no one else
        scope=("estates.id", "communities.id", "streets.id"),
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

    def change_own_password(self, password: str) -> None:
        """:meth:`set_password` for the account's own user, in one UPDATE that leaves the row's
        version alone, as a logout does: it is recorded as 修改密码 (by the caller), not as an
        edit of the account, and an administrator's form open on the account stays valid."""
        from sqlalchemy.orm.attributes import set_committed_value

        problem = password_problem(password, self.username)
        if problem:
            raise Invalid({"password": problem})
        values = {"password_hash": generate_password_hash(password), "session_token": new_session_token()}
        db.session.execute(update(User).where(User.id == self.id).values(**values),
                           execution_options={"synchronize_session": False})
        for key, value in values.items():
            set_committed_value(self, key, value)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        """Invalidate every session cookie issued to this account so far."""
        self.session_token = new_session_token()

    def sign_out_everywhere(self) -> None:
        """:meth:`end_sessions` for a logout, in one UPDATE that leaves the row's version
        alone: signing out is not an edit of the account (an administrator's form open on
        it stays valid; two people leaving a shared account at once do not collide)."""
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
        """The kind of station a station-staff account works at (``None`` for everyone
        else): its cases are its own (models.kernel.access)."""
        if self.role != Role.STATION_STAFF or self.unit is None or not self.unit.kind:
            return None
        return self.unit.kind.value

    def clean_delete(self) -> None:
        """An account that has acted stays: the trail names it, and the trail is never
        rewritten (its entries are not UPDATEd to forget the account). It is disabled."""
        if db.session.scalar(db.select(AuditLog.id).where(AuditLog.user_id == self.id).limit(1)) is not None:
            raise Refused(f"账号「{self}」已有操作记录，不能删除（操作日志须保留操作人）；"
                          "如不再使用，请在修改页取消「启用」以停用该账号")

    def clean(self) -> None:
        bound = bool(self.streets or self.communities or self.estates)
        if self.role != Role.ADMIN and not bound:
            raise Invalid({"streets": "除系统管理员外，每个账号都须绑定管辖的街道、社区或小区"})
        if self.role == Role.STATION_STAFF and self.unit is None:
            raise Invalid({"unit": "站点人员须选择所属站点（调解站、应急维修站或服务中心）"})


# The trail is the kernel's; who reads it is the domain's: the auditor (纪工委) reads the
# part about their street, the administrator all of it, and no one writes it by hand.
declare(AuditLog, ModelAdmin(
    label="操作日志", category="系统管理", menu_order=90,
    list_columns=("at", "actor", "action", "model", "row_label", "note"),
    search=("actor", "row_label", "note"), filters=("action", "model"),
    details_columns=("at", "actor", "action", "model", "row_id", "row_label", "note",
                     "changes", "row_hash"),
    sort="-at", perms=Perms.append_only(Role.AUDITOR), view="views.accounts.AuditLogView",
    scope=lambda user, write: entries_in_scope(user, write),
))


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
    """Login attempts counted per login name and per client address. Kept in the
    database so every app server sees the same count and the same lock.

    An attempt is counted when it arrives, before its password is looked at, in one
    atomic UPSERT (:meth:`take`): the count holds attempts failed *and* attempts still
    being checked, so any number sent at once check no more passwords than the limit.
    A right password takes its attempt back (:meth:`succeed`); a wrong one leaves it and
    sets the lock when the count reaches the limit (:meth:`fail`). While a lock runs an
    attempt is only added to ``refused``; the next attempt after the lock reports that
    number once (:meth:`take`'s summaries), so a flood writes no row per attempt."""

    __tablename__ = "login_throttle"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), info={"label": "类别"})  # "username" | "address"
    key: Mapped[str] = mapped_column(String(200), info={"label": "登录名或地址"})
    failures: Mapped[int] = mapped_column(Integer, default=0, info={"label": "失败次数"})
    window_started_at: Mapped[datetime | None] = mapped_column(DateTime, info={"label": "首次失败"})
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, info={"label": "锁定至"})
    # attempts refused without a look at the password, not yet reported in the audit trail
    refused: Mapped[int] = mapped_column(Integer, default=0, server_default="0",
                                         info={"label": "未核对即拒绝次数"})

    __table_args__ = (UniqueConstraint("kind", "key"),)

    USERNAME = "username"
    ADDRESS = "address"

    @staticmethod
    def keys(username: str, address: str | None) -> list[tuple[str, str]]:
        # the name as typed, case-folded: a lock on "Street" is a lock on "street"
        return [(LoginThrottle.USERNAME, (username or "").strip().lower()[:200]),
                (LoginThrottle.ADDRESS, (address or "unknown")[:200])]

    @classmethod
    def take(cls, username: str, address: str | None, at: datetime, rules: "ThrottleRules") -> "Taken":
        """Count one attempt against the name, then the address (always in that order, so
        two transactions never wait for each other's rows). Refused — and taken back from
        the keys counted so far — when a lock runs on either (the lock's row counts it in
        ``refused``) or when the limit's worth of attempts are already counted (``crowded``:
        the caller may wait for them to settle and take again)."""
        t = cls.__table__
        taken = Taken()
        counted = []
        for kind, key in cls.keys(username, address):
            locked = t.c.locked_until > at
            fresh = or_(t.c.window_started_at.is_(None), t.c.window_started_at < at - rules.window)
            stmt = _insert_for_dialect()(t).values(
                kind=kind, key=key, failures=1, window_started_at=at, refused=0)
            stmt = stmt.on_conflict_do_update(index_elements=[t.c.kind, t.c.key], set_={
                "failures": case((locked, t.c.failures), (fresh, 1), else_=t.c.failures + 1),
                "window_started_at": case((locked, t.c.window_started_at), (fresh, at),
                                          else_=t.c.window_started_at),
                "refused": case((locked, t.c.refused + 1), else_=t.c.refused),
            }).returning(t.c.failures, t.c.locked_until, t.c.refused)
            failures, locked_until, refused = db.session.execute(stmt).one()
            if locked_until is not None and locked_until > at:
                taken.locked_until = locked_until
            elif failures > rules.limit(kind):
                counted.append((kind, key))
                taken.crowded = (kind, key)
            elif refused and db.session.execute(  # report them once: the first to see them says so
                    update(t).where(t.c.kind == kind, t.c.key == key, t.c.refused == refused)
                    .values(refused=0)).rowcount:
                taken.summaries.append((kind, key, refused))
            if not taken.admitted:
                cls._give_back(counted)
                return taken
            counted.append((kind, key))
        return taken

    @classmethod
    def count_refusal(cls, kind: str, key: str) -> None:
        """An attempt refused without a look at its password (a crowd that did not thin
        out): counted, not written."""
        t = cls.__table__
        db.session.execute(update(t).where(t.c.kind == kind, t.c.key == key)
                           .values(refused=t.c.refused + 1))

    @classmethod
    def fail(cls, username: str, address: str | None, at: datetime,
             rules: "ThrottleRules") -> list[tuple[str, str, datetime]]:
        """A wrong password: its attempt stays counted. Lock each key whose count has
        reached the limit and is not locked yet — one UPDATE decides, so of attempts
        failing together exactly one sets (and reports) the lock. Returns the locks this
        failure set, as (kind, key, until)."""
        t = cls.__table__
        locks = []
        for kind, key in cls.keys(username, address):
            until = db.session.execute(
                update(t).where(t.c.kind == kind, t.c.key == key, t.c.failures >= rules.limit(kind),
                                or_(t.c.locked_until.is_(None), t.c.locked_until <= at))
                .values(locked_until=at + rules.lock, failures=0, window_started_at=None)  # a fresh count after
                .returning(t.c.locked_until)).scalar()
            if until is not None:
                locks.append((kind, key, until))
        return locks

    @classmethod
    def succeed(cls, username: str, address: str | None, at: datetime) -> datetime | None:
        """A right password. Refused all the same if a lock was set on the name or the
        address while it was being checked: the lock's end is returned, and the attempt
        counted in ``refused``. Otherwise the name's count is wiped and the address's
        attempt taken back (an address's failures only age out, so one good login cannot
        hide a spray of guesses from the same machine). A row gone meanwhile (``users
        unlock``) is no lock."""
        t = cls.__table__
        locked = t.c.locked_until > at
        wiped = {"failures": 0, "window_started_at": None}
        taken_back = {"failures": case((t.c.failures > 0, t.c.failures - 1), else_=0)}
        until = None
        for (kind, key), values in zip(cls.keys(username, address), (wiped, taken_back)):
            row_lock = db.session.execute(
                update(t).where(t.c.kind == kind, t.c.key == key)
                .values(refused=case((locked, t.c.refused + 1), else_=t.c.refused),
                        **{column: case((locked, t.c[column]), else_=value)  # a lock keeps its row
                           for column, value in values.items()})
                .returning(t.c.locked_until)).scalar()
            if row_lock is not None and row_lock > at:
                until = max(until or row_lock, row_lock)
        return until

    @classmethod
    def unlock(cls, username: str | None, address: str | None) -> list[tuple[str, int]]:
        """End the locks of a name and/or an address early (``flask users unlock``): the
        keys whose counts were cleared, each with the attempts it had refused unreported."""
        t = cls.__table__
        name_key, address_key = cls.keys(username or "", address)
        cleared = []
        for (kind, key), asked in ((name_key, username), (address_key, address)):
            if asked:
                refused = db.session.execute(
                    delete(t).where(t.c.kind == kind, t.c.key == key).returning(t.c.refused)).scalar()
                if refused is not None:
                    cleared.append((key, refused))
        return cleared

    @classmethod
    def _give_back(cls, counted: list[tuple[str, str]]) -> None:
        t = cls.__table__
        for kind, key in counted:
            db.session.execute(update(t).where(t.c.kind == kind, t.c.key == key).values(
                failures=case((t.c.failures > 0, t.c.failures - 1), else_=0)))


@dataclass(frozen=True)
class ThrottleRules:
    """The limits, from the app's LOGIN_* settings."""

    per_name: int
    per_address: int
    window: timedelta
    lock: timedelta

    def limit(self, kind: str) -> int:
        return self.per_name if kind == LoginThrottle.USERNAME else self.per_address


@dataclass
class Taken:
    """What :meth:`LoginThrottle.take` found."""

    locked_until: datetime | None = None          # refused: a lock runs until then
    crowded: tuple[str, str] | None = None        # refused: this key's limit is all in use
    summaries: list[tuple[str, str, int]] = dataclass_field(default_factory=list)  # (kind, key, refused) to report

    @property
    def admitted(self) -> bool:
        return self.locked_until is None and self.crowded is None


def _insert_for_dialect():
    """INSERT … ON CONFLICT DO UPDATE … RETURNING is spelt the same on both databases,
    but SQLAlchemy builds it from each dialect's own ``insert``."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
