"""Accounts: who logs in, in which role, bound to which part of the street."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from . import TimestampMixin, db
from .declare import ChoiceType, Invalid, ModelAdmin, Perms, Role, field, relation

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
        problem = password_problem(password)
        if problem:
            raise Invalid({"password": problem})
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def is_unrestricted(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def station(self) -> str | None:
        """The kind of station a station-staff account works at."""
        return self.unit.kind.value if self.unit is not None and self.unit.kind else None

    def clean(self) -> None:
        bound = bool(self.streets or self.communities or self.estates)
        if self.role != Role.ADMIN and not bound:
            raise Invalid({"streets": "除系统管理员外，每个账号都须绑定管辖的街道、社区或小区"})
        if self.role == Role.STATION_STAFF and self.unit is None:
            raise Invalid({"unit": "站点人员须选择所属站点（调解站、应急维修站或服务中心）"})


def password_problem(password: str) -> str | None:
    """The password rule, in one place: length and a mix of letters and digits."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        return f"密码至少 {MIN_PASSWORD_LENGTH} 位"
    if not any(c.isdigit() for c in password) or not any(c.isalpha() for c in password):
        return "密码须同时包含字母和数字"
    return None
