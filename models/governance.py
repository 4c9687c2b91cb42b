"""Governance structure: the street and its communities (篇5 二、四; 篇6 一)."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from . import TimestampMixin, db
from .declare import ModelAdmin, Perms, Role, field, relation


class Street(TimestampMixin, db.Model):
    """街道: one installation may serve several streets of a district."""

    __tablename__ = "street"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = field(String(60), "街道名称", unique=True)
    district: Mapped[str | None] = field(String(60), "所属区县")
    address: Mapped[str | None] = field(String(200), "办公地址")
    phone: Mapped[str | None] = field(String(40), "联系电话")
    is_demo: Mapped[bool] = field(Boolean, "示例数据", default=False,
                                  help="演示用的虚构数据，正式使用前可删除")

    communities: Mapped[list["Community"]] = relation("社区", back_populates="street")

    __admin__ = ModelAdmin(
        label="街道", category="治理架构", menu_order=10,
        list_columns=("name", "district", "phone", "is_demo"),
        search=("name", "district"), sort="name",
        form_columns=("name", "district", "address", "phone", "is_demo"),
        readonly=("created_at", "updated_at"),
        perms=Perms(create=(), edit=(Role.STREET_STAFF,), delete=()),
        scope="id",
    )

    def __str__(self) -> str:
        return self.name


class Community(TimestampMixin, db.Model):
    """社区居委会 (篇5 二.3)."""

    __tablename__ = "community"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = field(String(60), "社区名称", unique=True)
    street_id: Mapped[int] = field(ForeignKey("street.id"), "所属街道", index=True)
    director: Mapped[str | None] = field(String(40), "社区主任")
    phone: Mapped[str | None] = field(String(40), "联系电话")
    address: Mapped[str | None] = field(String(200), "办公地址")
    note: Mapped[str | None] = field(Text, "备注")
    is_demo: Mapped[bool] = field(Boolean, "示例数据", default=False,
                                  help="演示用的虚构数据，正式使用前可删除")

    street: Mapped[Street] = relation("所属街道", back_populates="communities")
    estates: Mapped[list["Estate"]] = relation("小区", back_populates="community")  # noqa: F821

    __admin__ = ModelAdmin(
        label="社区", category="治理架构", menu_order=20,
        list_columns=("name", "street.name", "director", "phone", "is_demo"),
        search=("name", "director"), filters=("street",), sort="name",
        form_columns=("name", "street", "director", "phone", "address", "note", "is_demo"),
        readonly=("created_at", "updated_at"),
        perms=Perms.registry(),
        scope="id",
    )

    def __str__(self) -> str:
        return self.name
