"""Estates and their classification (篇5 二(二), 五.1; 篇6 二.1)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from . import TimestampMixin, db
from .declare import Action, ChoiceType, Choices, ModelAdmin, Perms, Role, field, relation
from .governance import Community


class EstateClass(Choices):
    """篇6 二.1: readiness for property management."""

    FIRST = "first", "一类"     # 基础条件较好的居民区
    SECOND = "second", "二类"   # 单位型居住区
    THIRD = "third", "三类"     # 目前各方面尚不具备条件


class ManagementMode(Choices):
    """篇5 二(二) 1–4."""

    MARKET = "market", "市场化物管"
    UNIT_SELF = "unit_self", "单位自管"
    OLD_CENTER = "old_center", "老旧小区–服务中心托管"
    AFFORDABLE = "affordable", "经济适用房"


class SurveyNature(Choices):
    """篇5 五.1(1): the survey sorts estates into three kinds."""

    MANAGED = "managed", "已实行物业管理"
    SELF_MANAGED = "self_managed", "自管"
    UNMANAGED = "unmanaged", "失管"


class Estate(TimestampMixin, db.Model):
    """小区: a property-management area of the street."""

    __tablename__ = "estate"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = field(String(100), "小区名称", unique=True)
    community_id: Mapped[int] = field(ForeignKey("community.id"), "所属社区", index=True)
    address: Mapped[str | None] = field(String(200), "地址")
    estate_class: Mapped[EstateClass] = field(ChoiceType(EstateClass), "小区类别", index=True,
                                              help="一类：基础条件较好；二类：单位型居住区；三类：尚不具备条件")
    management_mode: Mapped[ManagementMode | None] = field(
        ChoiceType(ManagementMode), "管理模式", index=True)
    survey_nature: Mapped[SurveyNature | None] = field(
        ChoiceType(SurveyNature), "住宅性质", help="摸底调查结果（篇5 五.1）")
    buildings: Mapped[int | None] = field(Integer, "楼幢数", min=0, max=2000)
    households: Mapped[int | None] = field(Integer, "户数", min=0, max=100000)
    floor_area: Mapped[Decimal | None] = field(Numeric(12, 2), "建筑面积（㎡）", min=0, max=10_000_000)
    is_pilot: Mapped[bool] = field(Boolean, "试点小区", default=False, index=True)
    note: Mapped[str | None] = field(Text, "备注")
    is_demo: Mapped[bool] = field(Boolean, "示例数据", default=False,
                                  help="演示用的虚构数据，正式使用前可删除")

    community: Mapped[Community] = relation("所属社区", back_populates="estates")

    __admin__ = ModelAdmin(
        label="小区", category="小区与自治", menu_order=10,
        list_columns=("name", "community.name", "estate_class", "management_mode",
                      "survey_nature", "buildings", "households", "is_pilot", "is_demo"),
        search=("name", "address"),
        filters=("estate_class", "management_mode", "survey_nature", "community", "is_pilot"),
        sort="name",
        form_columns=("name", "community", "address", "estate_class", "management_mode",
                      "survey_nature", "buildings", "households", "floor_area", "is_pilot",
                      "note", "is_demo"),
        readonly=("created_at", "updated_at"),
        actions=(
            Action("mark_pilot", "标记为试点", roles=(Role.STREET_STAFF, Role.PILOT_COORDINATOR),
                   confirm="确定将所选小区标记为试点小区吗？"),
        ),
        perms=Perms.registry(Role.COMMUNITY_STAFF),
        scope="id",
    )

    def __str__(self) -> str:
        return self.name

    def mark_pilot(self) -> None:
        self.is_pilot = True
