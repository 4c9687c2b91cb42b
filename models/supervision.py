"""Supervision: the per-estate four-in-one group (篇5 四.4, second level of supervision),
the 25 indicators (篇3 二), inspections against them, and rectifications.

The group is made of four kinds of representative — 居委会社工代表, 社区业主代表,
社委会代表, 物业公司代表 — and is led by the 社委会主任. It cannot be activated
while a kind is missing or it has no leader or two, and while it is active no change
of its members may leave it so.

An inspection reported to the street is the street's record: it, its readings and its
photos are read-only until the street returns it (退回修改). A rectification's deadline
is fixed when it is raised, and it is verified by an inspector of that estate.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import (Boolean, Date, ForeignKey, Integer, Numeric, String, Text,
                        and_, func, select)
from sqlalchemy.orm import Mapped, mapped_column

from .kernel import TimestampMixin, db
from .kernel.declare import (ChoiceType, Choices, Invalid, ModelAdmin, Perms, Refused, field, figure, relation)
from .accounts import Role
from .estates import Estate
from .kernel.locks import being_deleted, changed, is_new, was
from .kernel.workflow import Param, Transition, Workflow


class GroupState(Choices):
    FORMING = "forming", "组建中"
    ACTIVE = "active", "运行中"
    SUSPENDED = "suspended", "暂停"


class RepKind(Choices):
    SOCIAL_WORKER = "social_worker", "居委会社工代表"
    OWNER = "owner", "社区业主代表"
    RESIDENTS_COMMITTEE = "residents_committee", "社委会代表"
    COMPANY = "company", "物业公司代表"


GROUP_EDITORS = (Role.STREET_STAFF, Role.COMMUNITY_STAFF)
G = GroupState


class FourInOneGroup(TimestampMixin, db.Model):
    __tablename__ = "four_in_one_group"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", unique=True)
    name: Mapped[str | None] = field(String(120), "名称", help="留空则按小区名称自动生成")
    state: Mapped[GroupState] = field(ChoiceType(GroupState), "状态", default=GroupState.FORMING,
                                      index=True)
    established_on: Mapped[date | None] = field(Date, "成立日期")
    suspended_reason: Mapped[str | None] = field(Text, "暂停原因")
    note: Mapped[str | None] = field(Text, "备注")

    estate: Mapped[Estate] = relation("小区")
    members: Mapped[list["FourInOneMember"]] = relation(
        "成员", back_populates="group", cascade="all, delete-orphan")

    __admin__ = ModelAdmin(
        label="四位一体监督小组", category="监督考评", menu_order=10,
        list_columns=("estate.name", "state", "member_count", "leader_name", "incomplete",
                      "established_on"),
        search=("note",), filters=("state", "estate", "incomplete"), sort="estate_id",
        form_columns=("estate", "name", "established_on", "note"),
        details_columns=("estate", "state", "established_on", "leader_name", "members",
                         "incomplete", "suspended_reason", "note"),
        inline=("members",),
        perms=Perms.registry(Role.COMMUNITY_STAFF),
        scope="estate_id",
        lookup=("name",),
        workflow=Workflow(transitions=(
            Transition("activate", "启用", source=(G.FORMING, G.SUSPENDED), target=G.ACTIVE,
                       roles=GROUP_EDITORS, guard="guard_activate", style="success"),
            Transition("suspend", "暂停", source=(G.ACTIVE,), target=G.SUSPENDED,
                       roles=GROUP_EDITORS, style="warning",
                       params=(Param("suspended_reason", "暂停原因", "textarea"),)),
        )),
    )

    def __str__(self) -> str:
        return self.name or "四位一体监督小组"

    def clean(self) -> None:
        if not (self.name or "").strip() and self.estate is not None:
            self.name = f"{self.estate.name}四位一体监督小组"

    def problems(self, members: list["FourInOneMember"] | None = None) -> list[str]:
        """Why the group (or these members of it) is not complete, in the words the screen shows."""
        members = self.members if members is None else members
        kinds = {m.kind for m in members}
        missing = [k.label for k in RepKind if k not in kinds]
        leaders = [m for m in members if m.is_leader]
        out = []
        if missing:
            out.append("缺少" + "、".join(missing))
        if len(leaders) != 1:
            out.append(f"组长须有且只有一名（当前 {len(leaders)} 名）")
        return out

    def guard_activate(self) -> str | None:
        problems = self.problems()
        return "；".join(problems) if problems else None

    def incomplete_after(self) -> str | None:
        """Why this write may not leave an active group as it would be: the members it
        keeps (none deleted, none moved to another group) must still make it complete."""
        if self.state != GroupState.ACTIVE or being_deleted(self):
            return None
        staying = [m for m in self.members if not being_deleted(m) and m.group is self]
        problems = self.problems(staying)
        if not problems:
            return None
        return (f"{self}正在运行，这样修改后小组将不完整（{'；'.join(problems)}）；"
                "请先补充同类代表，或先暂停小组")

    def suspend(self, suspended_reason: str) -> None:
        self.suspended_reason = suspended_reason

    def activate(self) -> None:
        self.suspended_reason = None


class FourInOneMember(TimestampMixin, db.Model):
    __tablename__ = "four_in_one_member"
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = field(ForeignKey("four_in_one_group.id"), "四位一体小组", index=True)
    name: Mapped[str] = field(String(40), "姓名")
    kind: Mapped[RepKind] = field(ChoiceType(RepKind), "代表类别")
    is_leader: Mapped[bool] = field(Boolean, "组长", default=False,
                                    help="由社委会主任（社委会代表）担任")
    position: Mapped[str | None] = field(String(60), "职务")
    phone: Mapped[str | None] = field(String(40), "联系电话")
    user_id: Mapped[int | None] = field(ForeignKey("app_user.id", ondelete="SET NULL"), "系统账号",
                                        index=True, help="用于登录后记录本小区的监督检查")

    group: Mapped[FourInOneGroup] = relation("四位一体小组", back_populates="members")
    user: Mapped["User | None"] = relation("系统账号")  # noqa: F821

    __admin__ = ModelAdmin(
        label="四位一体小组成员", category="监督考评", importable=True, menu_order=11,
        list_columns=("name", "kind", "is_leader", "position", "phone", "group"),
        search=("name", "phone", "position"), filters=("kind", "is_leader", "group"), sort="name",
        form_columns=("group", "name", "kind", "is_leader", "position", "phone", "user"),
        perms=Perms.registry(Role.COMMUNITY_STAFF),
        scope="group.estate_id",
    )

    def __str__(self) -> str:
        return f"{self.name}（{self.kind.label}）" if self.kind else self.name

    def clean(self) -> None:
        if self.is_leader and self.kind != RepKind.RESIDENTS_COMMITTEE:
            raise Invalid({"is_leader": "组长由社委会主任担任，应为「社委会代表」"})
        touched = changed(self, "kind", "is_leader", "group")
        if not (is_new(self) or touched):
            return
        for group in {self.group, was(self, "group")} - {None}:  # a moved member leaves its old group
            reason = group.incomplete_after()
            if reason:
                raise Invalid({(touched or ["kind"])[0]: reason})

    def clean_delete(self) -> None:
        reason = self.group.incomplete_after() if self.group is not None else None
        if reason:
            raise Refused(f"不能删除{self}：{reason}")


_members = select(func.count(FourInOneMember.id)).where(
    FourInOneMember.group_id == FourInOneGroup.id).correlate_except(FourInOneMember)
FourInOneGroup.member_count = figure("成员人数", _members)
FourInOneGroup.leader_name = figure("组长", select(FourInOneMember.name).where(
    FourInOneMember.group_id == FourInOneGroup.id, FourInOneMember.is_leader).limit(1)
    .correlate_except(FourInOneMember))
FourInOneGroup.incomplete = figure(
    "未配齐", ~and_(
        select(func.count(func.distinct(FourInOneMember.kind))).where(
            FourInOneMember.group_id == FourInOneGroup.id)
        .correlate_except(FourInOneMember).scalar_subquery() == len(RepKind),
        select(func.count(FourInOneMember.id)).where(
            FourInOneMember.group_id == FourInOneGroup.id, FourInOneMember.is_leader)
        .correlate_except(FourInOneMember).scalar_subquery() == 1),
    help="四类代表须齐全，组长有且只有一名", flag=True, warn=True)


# -- the indicator catalogue (篇3 二 分项指标) --------------------------------------------


class RateCode(Choices):
    """The rates computed from the records (models.rates): what a computed indicator's
    计算口径 may name."""

    REPAIR_TIMELY = "repair_timely", "房屋零修、急修及时率"
    REPAIR_CALLBACK = "repair_callback", "维修服务回访率"
    COMPLAINT_HANDLED = "complaint_handled", "有效投诉处理率"
    COMPLAINT_RATE = "complaint_rate", "用户有效投诉率"
    FEE_COLLECTION = "fee_collection", "管理费收缴率"


class Comparison(Choices):
    EQ = "eq", "="
    GE = "ge", "≥"
    LE = "le", "≤"


class IndicatorUnit(Choices):
    PERCENT = "percent", "%"
    PER_YEAR = "per_year", "次/年"


class IndicatorSource(Choices):
    MEASURED = "measured", "监督检查测量"
    COMPUTED = "computed", "由记录计算"


class Indicator(TimestampMixin, db.Model):
    """分项指标: a target the street measures estates against."""

    __tablename__ = "indicator"
    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = field(Integer, "序号", min=1, max=999)
    name: Mapped[str] = field(String(100), "指标名称", unique=True)
    comparison: Mapped[Comparison] = field(ChoiceType(Comparison), "比较")
    target: Mapped[Decimal] = field(Numeric(10, 2), "目标值", min=0, max=100000)
    unit: Mapped[IndicatorUnit] = field(ChoiceType(IndicatorUnit), "单位")
    source: Mapped[IndicatorSource] = field(ChoiceType(IndicatorSource), "来源",
                                            default=IndicatorSource.MEASURED)
    rate_code: Mapped[RateCode | None] = field(ChoiceType(RateCode), "计算口径",
                                               help="由记录计算的指标：从报修、投诉、物业费收缴记录算出的比率")
    basis: Mapped[str | None] = field(String(60), "出处", help="如：篇3 二.2")
    note: Mapped[str | None] = field(Text, "说明")
    is_reference: Mapped[bool] = field(Boolean, "原文指标", default=False)

    __admin__ = ModelAdmin(
        label="分项指标", category="监督考评", menu_order=20,
        list_columns=("seq", "name", "comparison", "target", "unit", "source", "basis"),
        search=("name", "note"), filters=("source", "unit", "is_reference"), sort="seq",
        form_columns=("seq", "name", "comparison", "target", "unit", "source", "rate_code", "basis", "note"),
        perms=Perms(create=(Role.STREET_STAFF,), edit=(Role.STREET_STAFF,), delete=(Role.STREET_STAFF,)),
    )

    def __str__(self) -> str:
        return self.name

    @property
    def target_text(self) -> str:
        value = format(self.target.normalize(), "f") if self.target is not None else ""
        return f"{self.comparison.label} {value}{self.unit.label}" if self.comparison and self.unit else value

    def meets(self, value: Decimal | None) -> bool | None:
        if value is None:
            return None
        value = Decimal(value)
        if self.comparison == Comparison.GE:
            return value >= self.target
        if self.comparison == Comparison.LE:
            return value <= self.target
        return value == self.target

    def value_problem(self, value: Decimal | None) -> str | None:
        """Why a value cannot be a reading of this indicator (a rate of 130%…)."""
        if value is None:
            return None
        if value < 0:
            return f"{self.name}不能为负数"
        if self.unit == IndicatorUnit.PERCENT and value > 100:
            return f"{self.name}是百分比，不能超过 100%"
        if self.unit == IndicatorUnit.PER_YEAR and value != int(value):
            return f"{self.name}是次数，应为整数"
        return None

    def clean(self) -> None:
        if self.source == IndicatorSource.COMPUTED and not self.rate_code:
            raise Invalid({"rate_code": "由记录计算的指标须选择计算口径"})
        if self.source == IndicatorSource.MEASURED and self.rate_code:
            raise Invalid({"rate_code": "由监督检查测量的指标不选计算口径（检查值即其数据）"})
        if self.unit == IndicatorUnit.PERCENT and self.target is not None and self.target > 100:
            raise Invalid({"target": "百分比目标不能超过 100"})


