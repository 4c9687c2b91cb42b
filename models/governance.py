"""Governance structure of the street (篇5 二、四; 篇6 一).

* the street and its communities (社区居委会);
* the leadership group (领导小组), its members by title and its monthly meetings;
* every organisational unit with duties and staff — the property-management office,
  the departments (街道科室), the two stations and the center (两站一中心), and per
  community the supervision group (监督小组) and the 物业管理委员会 — as one model,
  :class:`OrgUnit`, told apart by ``kind``.
"""

from __future__ import annotations

from datetime import date

from typing import Any

from sqlalchemy import (Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text,
                        UniqueConstraint, bindparam, exists, select)
from sqlalchemy.orm import Mapped, mapped_column

from .kernel import TimestampMixin, Versioned, db, now
from .kernel.softdelete import SoftDeletable, taken_by
from .kernel.declare import ChoiceType, Choices, Invalid, ModelAdmin, Perms, field, figure, relation
from .accounts import Role
from .kernel.workflow import Param, Transition, Workflow

DEMO_HELP = "演示用的虚构数据，正式使用前可删除"


class Street(TimestampMixin, db.Model):
    """街道: one installation may serve several streets of a district."""

    __tablename__ = "street"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = field(String(60), "街道名称", unique=True)
    district: Mapped[str | None] = field(String(60), "所属区县")
    address: Mapped[str | None] = field(String(200), "办公地址")
    phone: Mapped[str | None] = field(String(40), "联系电话")
    is_demo: Mapped[bool] = field(Boolean, "示例数据", default=False, help=DEMO_HELP)

    communities: Mapped[list["Community"]] = relation("社区", back_populates="street")

    __admin__ = ModelAdmin(
        label="街道", category="治理架构", menu_order=10,
        list_columns=("name", "district", "phone", "is_demo"),
        search=("name", "district"), filters=("is_demo",), sort="name",
        form_columns=("name", "district", "address", "phone", "is_demo"),
        readonly=("created_at", "updated_at"),
        perms=Perms(create=(), edit=(Role.STREET_STAFF,), delete=()),
        scope="id",
    )

    def __str__(self) -> str:
        return self.name


class Community(SoftDeletable, TimestampMixin, db.Model):
    """社区居委会 (篇5 二(一)3): its 物业管理委员会 and supervision group are
    :class:`OrgUnit` rows of the community."""

    __tablename__ = "community"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = field(String(60), "社区名称")
    street_id: Mapped[int] = field(ForeignKey("street.id"), "所属街道", index=True)
    director: Mapped[str | None] = field(String(40), "社区主任")
    phone: Mapped[str | None] = field(String(40), "联系电话")
    address: Mapped[str | None] = field(String(200), "办公地址")
    note: Mapped[str | None] = field(Text, "备注")
    is_demo: Mapped[bool] = field(Boolean, "示例数据", default=False, help=DEMO_HELP)

    street: Mapped[Street] = relation("所属街道", back_populates="communities")
    estates: Mapped[list["Estate"]] = relation("小区", back_populates="community")  # noqa: F821
    units: Mapped[list["OrgUnit"]] = relation("社区机构", back_populates="community")
    duties: Mapped[list["Duty"]] = relation("居委会职责", back_populates="community",
                                           order_by="Duty.seq", cascade="all, delete-orphan")

    # Unique within its street: two streets of a district may each have a 江滨社区.
    __table_args__ = (UniqueConstraint("street_id", "name"),)

    __admin__ = ModelAdmin(
        label="社区", category="治理架构", importable=True, menu_order=20,
        list_columns=("name", "street.name", "director", "phone", "pm_committee_name",
                      "supervision_group_name", "is_demo"),
        search=("name", "director"), filters=("street", "is_demo"), sort="name",
        form_columns=("name", "street", "director", "phone", "address", "note", "is_demo"),
        details_columns=("name", "street", "director", "phone", "address", "units", "note",
                         "is_demo", "created_at", "updated_at"),
        readonly=("created_at", "updated_at"),
        inline=("duties",),
        perms=Perms.registry(Role.COMMUNITY_STAFF),
        scope="id",
    )

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        street_id = self.street.id if self.street is not None else self.street_id
        if self.name and street_id is not None:
            hint = taken_by(Community, self, Community.street_id == street_id, Community.name == self.name)
            if hint is not None:
                raise Invalid({"name": f"{self.street or '该街道'}已有名为“{self.name}”的社区{hint}"})


class LeaderRole(Choices):
    LEADER = "leader", "组长/主任"
    DEPUTY = "deputy", "副主任"
    MEMBER = "member", "成员"
    OFFICE_DIRECTOR = "office_director", "办公室主任"
    OFFICE_DEPUTY = "office_deputy", "办公室副主任"


class LeadershipGroup(TimestampMixin, db.Model):
    """街道物业管理领导小组 (篇6 一), one per street, with its office."""

    __tablename__ = "leadership_group"
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = field(ForeignKey("street.id"), "所属街道", unique=True)
    name: Mapped[str] = field(String(60), "名称", default="街道物业管理领导小组")
    duties: Mapped[str | None] = field(Text, "主要职责")
    office_name: Mapped[str | None] = field(String(60), "下设办公室")
    office_host: Mapped[str | None] = field(String(60), "办公室设在", help="篇6：办公室设在社区办")
    established_on: Mapped[date | None] = field(Date, "成立日期")
    note: Mapped[str | None] = field(Text, "备注")

    street: Mapped[Street] = relation("所属街道")
    members: Mapped[list["LeadershipMember"]] = relation(
        "成员", back_populates="group", order_by="LeadershipMember.sort_order",
        cascade="all, delete-orphan")
    meetings: Mapped[list["LeadershipMeeting"]] = relation(
        "会议", back_populates="group", order_by="LeadershipMeeting.held_on.desc()")

    __admin__ = ModelAdmin(
        label="领导小组", category="治理架构", menu_order=30,
        list_columns=("name", "street.name", "office_name", "office_host", "meeting_due"),
        search=("name",), filters=("street", "meeting_due"), sort="name",
        form_columns=("street", "name", "duties", "office_name", "office_host",
                      "established_on", "note"),
        details_columns=("name", "street", "duties", "office_name", "office_host",
                         "established_on", "members", "meeting_due", "note"),
        inline=("members",),
        perms=Perms.registry(),
        scope="street_id",
    )

    def __str__(self) -> str:
        return self.name


class LeadershipMember(TimestampMixin, db.Model):
    __tablename__ = "leadership_member"
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = field(ForeignKey("leadership_group.id"), "领导小组", index=True)
    name: Mapped[str] = field(String(40), "姓名")
    role: Mapped[LeaderRole] = field(ChoiceType(LeaderRole), "小组职务")
    position: Mapped[str | None] = field(String(100), "行政职务", help="如：街道党工委副书记、办事处主任")
    unit: Mapped[str | None] = field(String(60), "所在单位", help="如：街道党政办、社区办、各社区居委会")
    phone: Mapped[str | None] = field(String(40), "联系电话")
    sort_order: Mapped[int] = field(Integer, "排序", default=0, min=0, max=999)

    group: Mapped[LeadershipGroup] = relation("领导小组", back_populates="members")

    __admin__ = ModelAdmin(
        label="领导小组成员", category="治理架构", menu_order=31,
        list_columns=("name", "role", "position", "unit", "phone", "group.name"),
        search=("name", "position", "unit"), filters=("role", "group"), sort="sort_order",
        form_columns=("group", "name", "role", "position", "unit", "phone", "sort_order"),
        perms=Perms.registry(),
        scope="group.street_id",
    )

    def __str__(self) -> str:
        return f"{self.name}（{self.role.label if self.role else ''}）"

    def clean(self) -> None:
        if self.role == LeaderRole.LEADER and self.group is not None:
            others = [m for m in self.group.members if m is not self and m.role == LeaderRole.LEADER]
            if others:
                raise Invalid({"role": f"领导小组只能有一名组长/主任（已有：{others[0].name}）"})


class LeadershipMeeting(TimestampMixin, db.Model):
    """Monthly meeting (篇6 四.1): study documents, review progress, list problems,
    assign the next stage's work."""

    __tablename__ = "leadership_meeting"
    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = field(ForeignKey("leadership_group.id"), "领导小组", index=True)
    held_on: Mapped[date] = field(Date, "会议日期", index=True)
    venue: Mapped[str | None] = field(String(100), "地点")
    chair: Mapped[str | None] = field(String(40), "主持人")
    attendees: Mapped[str | None] = field(Text, "出席人员")
    agenda: Mapped[str | None] = field(Text, "议题", help="学习上级文件和会议精神、分析进度等")
    problems: Mapped[str | None] = field(Text, "查摆的问题")
    decisions: Mapped[str | None] = field(Text, "研究部署（决定事项）")

    group: Mapped[LeadershipGroup] = relation("领导小组", back_populates="meetings")

    __admin__ = ModelAdmin(
        label="领导小组会议", category="治理架构", menu_order=32,
        list_columns=("held_on", "group.name", "chair", "venue", "agenda"),
        search=("agenda", "problems", "decisions", "attendees"),
        filters=("held_on", "group"), sort="-held_on",
        form_columns=("group", "held_on", "venue", "chair", "attendees", "agenda", "problems",
                      "decisions"),
        perms=Perms.registry(),
        scope="group.street_id",
        lookup=("title", "venue"),  # found by its date, as people name it
        workflow=Workflow(field=None, transitions=(
            # the tasks are the rollout's records: made there (models.rollout)
            Transition("create_tasks", "生成后续任务", source=(), target=None,
                       roles=(Role.PILOT_COORDINATOR, Role.STREET_STAFF), run="models.rollout:create_meeting_tasks",
                       params=(Param("phase", "列入阶段", "row", model="Phase"),
                               Param("tasks", "任务（每行一项）", "textarea", default=lambda m: m.decisions,
                                     help="默认取本次会议的研究部署，可修改"),
                               Param("due_on", "完成期限", "date"),
                               Param("owner_person", "责任人", required=False,
                                     help="留空则为领导小组办公室"))),
        )),
    )

    def __str__(self) -> str:
        return f"{self.held_on:%Y-%m-%d} 领导小组会议" if self.held_on else "领导小组会议"

    def clean(self) -> None:
        if self.held_on and self.held_on > now().date():
            raise Invalid({"held_on": "会议日期不能晚于今天（请在会后记录）"})


class OrgKind(Choices):
    PROPERTY_OFFICE = "property_office", "街道物业管理办公室"
    DEPARTMENT = "department", "街道科室"
    MEDIATION_STATION = "mediation_station", "矛盾投诉调解站"
    REPAIR_STATION = "repair_station", "应急维修服务站"
    SERVICE_CENTER = "service_center", "物业管理服务中心"
    SUPERVISION_GROUP = "supervision_group", "社区物业管理监督小组"
    PM_COMMITTEE = "pm_committee", "社区物业管理委员会"


PER_COMMUNITY = (OrgKind.SUPERVISION_GROUP, OrgKind.PM_COMMITTEE)


class OrgUnit(TimestampMixin, db.Model):
    """A unit of the street's structure with duties and staff (两站一中心一小组, 科室…)."""

    __tablename__ = "org_unit"
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = field(ForeignKey("street.id"), "所属街道", index=True)
    community_id: Mapped[int | None] = field(ForeignKey("community.id"), "所属社区", index=True,
                                             help="监督小组、物业管理委员会属于社区；其他机构留空")
    kind: Mapped[OrgKind] = field(ChoiceType(OrgKind), "机构类别", index=True)
    name: Mapped[str] = field(String(100), "名称")
    head: Mapped[str | None] = field(String(40), "负责人")
    phone: Mapped[str | None] = field(String(40), "联系电话")
    hotline: Mapped[str | None] = field(String(40), "服务热线", help="应急维修站须 24 小时专人接听")
    hotline_24h: Mapped[bool] = field(Boolean, "24小时值守", default=False)
    address: Mapped[str | None] = field(String(200), "办公地点")
    note: Mapped[str | None] = field(Text, "备注")

    street: Mapped[Street] = relation("所属街道")
    community: Mapped[Community | None] = relation("所属社区", back_populates="units")
    duties: Mapped[list["Duty"]] = relation("职责", back_populates="unit", order_by="Duty.seq",
                                           cascade="all, delete-orphan")
    staff: Mapped[list["StaffMember"]] = relation("工作人员", back_populates="unit",
                                                 cascade="all, delete-orphan")

    __table_args__ = (UniqueConstraint("street_id", "name"),)

    __admin__ = ModelAdmin(
        label="组织机构", category="治理架构", menu_order=40,
        list_columns=("name", "kind", "community.name", "head", "phone", "hotline", "street.name"),
        search=("name", "head"), filters=("kind", "community", "street"), sort="kind",
        form_columns=("street", "community", "kind", "name", "head", "phone", "hotline",
                      "hotline_24h", "address", "note"),
        details_columns=("name", "kind", "street", "community", "head", "phone", "hotline",
                         "hotline_24h", "address", "duties", "staff", "note"),
        inline=("duties", "staff"),
        perms=Perms.registry(Role.COMMUNITY_STAFF),
        scope=("community_id", "street_id"),
        lookup=("name",),
    )

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind in PER_COMMUNITY:
            if self.community is None:
                raise Invalid({"community": f"{self.kind.label}须属于一个社区"})
            if self.street is not None and self.community.street_id != self.street.id:
                raise Invalid({"community": "所选社区不属于所选街道"})
            twin = db.session.scalar(select(OrgUnit.name).where(
                OrgUnit.community_id == self.community.id, OrgUnit.kind == self.kind,
                OrgUnit.id != (self.id or 0)))
            if twin:
                raise Invalid({"kind": f"{self.community}已有{self.kind.label}：{twin}"})
        elif self.community is not None:
            raise Invalid({"community": f"{self.kind.label}是街道一级机构，不属于社区"})


class Duty(Versioned, db.Model):
    """One duty item, as the text words it, of a unit or of a community's 居委会."""

    __tablename__ = "duty"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int | None] = field(ForeignKey("org_unit.id"), "机构", index=True)
    community_id: Mapped[int | None] = field(ForeignKey("community.id"), "社区居委会", index=True)
    seq: Mapped[int] = field(Integer, "序号", default=1, min=1, max=99)
    text: Mapped[str] = field(Text, "职责内容")
    source: Mapped[str | None] = field(String(40), "出处", help="如：篇5 二(一)5(3)")

    unit: Mapped[OrgUnit | None] = relation("机构", back_populates="duties")
    community: Mapped[Community | None] = relation("社区居委会", back_populates="duties")

    __table_args__ = (CheckConstraint("(unit_id IS NULL) <> (community_id IS NULL)", name="one_owner"),)

    __admin__ = ModelAdmin(
        label="职责条目", category="治理架构", menu_order=41,
        list_columns=("unit.name", "community.name", "seq", "text", "source"),
        search=("text", "source"), filters=("unit", "community"), sort="seq",
        form_columns=("unit", "community", "seq", "text", "source"),
        perms=Perms.registry(Role.COMMUNITY_STAFF),
        scope=("community_id", "unit.community_id", "unit.street_id"),
        lookup=("text",),
    )

    def __str__(self) -> str:
        return f"{self.seq}. {(self.text or '')[:30]}"

    def clean(self) -> None:
        if (self.unit is None) == (self.community is None):
            raise Invalid({"unit": "职责须属于一个机构或一个社区居委会（二者选一）"})


class StaffMember(TimestampMixin, db.Model):
    __tablename__ = "staff_member"
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = field(ForeignKey("org_unit.id"), "所属机构", index=True)
    name: Mapped[str] = field(String(40), "姓名")
    post: Mapped[str | None] = field(String(60), "岗位")
    phone: Mapped[str | None] = field(String(40), "联系电话")
    active: Mapped[bool] = field(Boolean, "在岗", default=True)

    unit: Mapped[OrgUnit] = relation("所属机构", back_populates="staff")

    __admin__ = ModelAdmin(
        label="机构工作人员", category="治理架构", menu_order=42,
        list_columns=("name", "post", "phone", "unit.name", "active"),
        search=("name", "post", "phone"), filters=("unit", "active"), sort="name",
        form_columns=("unit", "name", "post", "phone", "active"),
        perms=Perms.registry(Role.COMMUNITY_STAFF),
        scope=("unit.community_id", "unit.street_id"),
    )

    def __str__(self) -> str:
        return f"{self.name}（{self.post}）" if self.post else self.name


# -- figures computed in the same query as the row ---------------------------------


def _unit_name(kind: OrgKind) -> Any:
    return select(OrgUnit.name).where(OrgUnit.community_id == Community.id,
                                      OrgUnit.kind == kind.value).limit(1).correlate_except(OrgUnit)


# The name str() gives, in SQL: a task's form finds its meeting by the date.
LeadershipMeeting.title = figure("会议", db.cast(LeadershipMeeting.held_on, String) + " 领导小组会议",
                                 internal=True)
Community.pm_committee_name = figure("物业管理委员会", _unit_name(OrgKind.PM_COMMITTEE))
Community.supervision_group_name = figure("监督小组", _unit_name(OrgKind.SUPERVISION_GROUP))


def _month_start() -> Any:
    return bindparam("month_start", callable_=lambda: now().date().replace(day=1), type_=Date,
                     unique=True)


LeadershipGroup.meeting_due = figure(
    "本月未开会", ~exists().where(LeadershipMeeting.group_id == LeadershipGroup.id,
                              LeadershipMeeting.held_on >= _month_start())
    .correlate_except(LeadershipMeeting),
    help="篇6 四.1：领导小组每月召开一次会议", flag=True, warn=True)
