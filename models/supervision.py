"""Supervision: the per-estate four-in-one group (篇5 四.4, second level of supervision).

The group is made of four kinds of representative — 居委会社工代表, 社区业主代表,
社委会代表, 物业公司代表 — and is led by the 社委会主任. It cannot be activated
while a kind is missing or it has no leader or two.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, String, Text, and_, func, select
from sqlalchemy.orm import Mapped, mapped_column

from . import TimestampMixin, db
from .declare import ChoiceType, Choices, Invalid, ModelAdmin, Perms, Role, field, figure, relation
from .estates import Estate
from .workflow import Param, Transition, Workflow


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

    def problems(self) -> list[str]:
        """Why the group is not complete, in the words the screen shows."""
        kinds = {m.kind for m in self.members}
        missing = [k.label for k in RepKind if k not in kinds]
        leaders = [m for m in self.members if m.is_leader]
        out = []
        if missing:
            out.append("缺少" + "、".join(missing))
        if len(leaders) != 1:
            out.append(f"组长须有且只有一名（当前 {len(leaders)} 名）")
        return out

    def guard_activate(self) -> str | None:
        problems = self.problems()
        return "；".join(problems) if problems else None

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
        label="四位一体小组成员", category="监督考评", menu_order=11,
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
