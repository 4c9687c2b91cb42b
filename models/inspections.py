"""Inspections against the indicators (监督检查, 篇3 二; 篇5 四.4) and the rectifications they
raise.

An inspection reported to the street is the street's record: it, its readings and its
photos are read-only until the street returns it (退回修改). A rectification's deadline
is fixed when it is raised, and it is verified by an inspector of that estate — a member
of the estate's four-in-one group or of its community's supervision group.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import (Column, Date, ForeignKey, Numeric, String, Table, Text,
                        UniqueConstraint, and_, func, select)
from sqlalchemy.orm import Mapped, mapped_column

from .accounts import Role
from .estates import Estate
from .kernel import TimestampMixin, Versioned, db, now
from .kernel.declare import (ChoiceType, Choices, Invalid, ModelAdmin, Perms, Refused, Upload, computed,
                             field, figure, relation)
from .kernel.locks import being_deleted, changed, is_new, was
from .kernel.workflow import Clock, Param, Transition, Workflow
from .supervision import FourInOneGroup, FourInOneMember, Indicator, IndicatorSource


# -- inspections -------------------------------------------------------------------------


class InspectionKind(Choices):
    ROUTINE = "routine", "日常检查"
    CLEANING = "cleaning", "保洁考核"       # 篇2：每月四次
    SPECIAL = "special", "专项检查"


class ReportState(Choices):
    DRAFT = "draft", "草稿"
    SUBMITTED = "submitted", "已报送街道"
    RECEIVED = "received", "街道已接收"


inspection_member = Table(
    "inspection_member", db.metadata,
    Column("inspection_id", ForeignKey("inspection.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ForeignKey("four_in_one_member.id", ondelete="CASCADE"), primary_key=True),
)
inspection_staff = Table(
    "inspection_staff", db.metadata,
    Column("inspection_id", ForeignKey("inspection.id", ondelete="CASCADE"), primary_key=True),
    Column("staff_id", ForeignKey("staff_member.id", ondelete="CASCADE"), primary_key=True),
)

INSPECTORS = (Role.COMMITTEE_MEMBER, Role.STREET_STAFF, Role.COMMUNITY_STAFF)
R = ReportState


class Inspection(TimestampMixin, db.Model):
    """监督检查: a four-in-one group (or supervision-group staff) inspects an estate."""

    __tablename__ = "inspection"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", index=True)
    inspected_on: Mapped[date] = field(Date, "检查日期", index=True)
    kind: Mapped[InspectionKind] = field(ChoiceType(InspectionKind), "检查类别", index=True)
    findings: Mapped[str | None] = field(Text, "发现的问题")
    state: Mapped[ReportState] = field(ChoiceType(ReportState), "报送状态", default=ReportState.DRAFT,
                                       index=True)
    submitted_on: Mapped[date | None] = field(Date, "报送日期")
    received_on: Mapped[date | None] = field(Date, "接收日期")
    returned_reason: Mapped[str | None] = field(Text, "退回原因", help="街道最近一次退回修改的原因")

    estate: Mapped[Estate] = relation("小区")
    members: Mapped[list[FourInOneMember]] = relation("检查人（四位一体成员）", secondary=inspection_member)
    staff: Mapped[list["StaffMember"]] = relation("检查人（监督小组）", secondary=inspection_staff)  # noqa: F821
    items: Mapped[list["InspectionItem"]] = relation(
        "检查结果", back_populates="inspection", cascade="all, delete-orphan")
    photos: Mapped[list["InspectionPhoto"]] = relation(
        "照片", back_populates="inspection", cascade="all, delete-orphan")

    __admin__ = ModelAdmin(
        label="监督检查", category="监督考评", menu_order=30,
        list_columns=("inspected_on", "estate.name", "kind", "state", "item_count", "open_rectifications"),
        search=("findings",), filters=("estate", "kind", "state", "inspected_on"), sort="-inspected_on",
        form_columns=("estate", "inspected_on", "kind", "members", "staff", "findings"),
        details_columns=("estate", "inspected_on", "kind", "members", "staff", "items", "findings",
                         "photos", "state", "submitted_on", "received_on", "returned_reason"),
        inline=("items", "photos"),
        perms=Perms(create=INSPECTORS, edit=INSPECTORS, delete=(Role.STREET_STAFF,)),
        scope="estate_id",
        lookup=("estate_name", "findings"),  # found by its estate, as people name it
        workflow=Workflow(transitions=(
            Transition("submit", "报送街道", source=(R.DRAFT,), target=R.SUBMITTED, roles=INSPECTORS,
                       guard="guard_submit",
                       params=(Param("submitted_on", "报送日期", "date"),)),
            Transition("receive", "街道接收", source=(R.SUBMITTED,), target=R.RECEIVED,
                       roles=(Role.STREET_STAFF,), style="success",
                       params=(Param("received_on", "接收日期", "date"),)),
            # the only way to change a reported inspection: the street sends it back, saying why
            Transition("return_draft", "退回修改", source=(R.SUBMITTED, R.RECEIVED), target=R.DRAFT,
                       roles=(Role.STREET_STAFF,), style="secondary",
                       params=(Param("returned_reason", "退回原因", "textarea"),)),
        )),
    )

    # What a report to the street says; the workflow's own fields change only by transitions.
    CONTENT = ("estate", "inspected_on", "kind", "findings", "members", "staff")

    def __str__(self) -> str:
        when = f"{self.inspected_on:%Y-%m-%d}" if self.inspected_on else ""
        return f"{self.estate_name or ''} {when} {self.kind.label if self.kind else ''}检查".strip()

    def on_create(self, user: Any) -> None:
        """The committee member recording it is an inspector."""
        estate_id = self.estate.id if self.estate is not None else self.estate_id  # FK set at flush
        for member in db.session.scalars(select(FourInOneMember).where(FourInOneMember.user_id == user.id)):
            if member.group is not None and member.group.estate_id == estate_id and member not in self.members:
                self.members.append(member)

    def guard_submit(self) -> str | None:
        if not self.items and not (self.findings or "").strip():
            return "检查结果和发现的问题都是空的"
        return None

    def submit(self, submitted_on: date) -> None:
        self.submitted_on = submitted_on

    def receive(self, received_on: date) -> None:
        self.received_on = received_on

    def return_draft(self, returned_reason: str) -> None:
        self.returned_reason = returned_reason
        self.submitted_on = self.received_on = None

    def locked(self, refusal: str = "不能再修改") -> str | None:
        """Why the inspection is read-only (``None`` while a draft): it was reported
        before this write, and only the street's 退回修改 reopens it."""
        state = was(self, "state")
        if state in (None, ReportState.DRAFT):
            return None
        return f"该检查{state.label}，{refusal}；如需更正，请街道管理员「退回修改」"

    def clean_delete(self) -> None:
        reason = self.locked("不能删除")
        if reason:
            raise Refused(reason)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        touched = changed(self, *self.CONTENT)
        if touched and self.locked():
            raise Invalid({touched[0]: self.locked()})
        if self.inspected_on and self.inspected_on > now().date():
            errors["inspected_on"] = "检查日期不能晚于今天"
        if not self.members and not self.staff:
            errors["members"] = "至少须有一名检查人"
        if self.estate is not None:
            strangers = [m.name for m in self.members if m.group is None or m.group.estate_id != self.estate.id]
            if strangers:
                errors["members"] = f"{'、'.join(strangers)}不是{self.estate}四位一体监督小组的成员"
            outsiders = [s.name for s in self.staff if not supervises(s, self.estate)]
            if outsiders:
                errors["staff"] = f"{'、'.join(outsiders)}不是{self.estate.community}物业管理监督小组的工作人员"
        if errors:
            raise Invalid(errors)


class InspectionItem(Versioned, db.Model):
    """The value found for one indicator in one inspection."""

    __tablename__ = "inspection_item"
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = field(ForeignKey("inspection.id"), "监督检查", index=True)
    indicator_id: Mapped[int] = field(ForeignKey("indicator.id"), "指标", index=True)
    value: Mapped[Decimal] = field(Numeric(10, 2), "检查值")
    note: Mapped[str | None] = field(String(200), "说明")

    inspection: Mapped[Inspection] = relation("监督检查", back_populates="items")
    indicator: Mapped[Indicator] = relation("指标")

    __table_args__ = (UniqueConstraint("inspection_id", "indicator_id"),)

    __admin__ = ModelAdmin(
        label="检查结果", category="监督考评", menu_order=31,
        list_columns=("inspection", "indicator.name", "value", "meets_target", "note"),
        search=("note",), filters=("indicator",), sort="-inspection_id",
        form_columns=("inspection", "indicator", "value", "note"),
        perms=Perms(create=INSPECTORS, edit=INSPECTORS, delete=INSPECTORS),
        scope="inspection.estate_id",
        lookup=("note",),
    )

    def __str__(self) -> str:
        return f"{self.indicator}：{self.value}" if self.indicator else str(self.value)

    @property
    def meets_target(self) -> bool | None:
        return self.indicator.meets(self.value) if self.indicator else None

    def clean_delete(self) -> None:
        refuse_deleting_if_reported(self)

    def clean(self) -> None:
        refuse_if_reported(self, "indicator", "value", "note")
        if self.indicator is not None:
            problem = self.indicator.value_problem(self.value)
            if problem:
                raise Invalid({"value": problem})
            if self.indicator.source == IndicatorSource.COMPUTED:
                raise Invalid({"indicator": f"{self.indicator.name}由记录计算，不能在检查中填写"})


class InspectionPhoto(Versioned, db.Model):
    __tablename__ = "inspection_photo"
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = field(ForeignKey("inspection.id"), "监督检查", index=True)
    path: Mapped[str] = field(String(200), "照片", upload=Upload(types=("jpg", "jpeg", "png", "webp"),
                                                              max_bytes=5 * 1024 * 1024, folder="photos"),
                              help="JPG、PNG 或 WEBP，不超过 5 MB")
    caption: Mapped[str | None] = field(String(200), "说明")

    inspection: Mapped[Inspection] = relation("监督检查", back_populates="photos")

    __admin__ = ModelAdmin(
        label="检查照片", category="监督考评", menu_order=32,
        list_columns=("path", "caption", "inspection"), search=("caption",), filters=("inspection",),
        sort="-inspection_id", form_columns=("inspection", "path", "caption"),
        perms=Perms(create=INSPECTORS, edit=INSPECTORS, delete=INSPECTORS),
        scope="inspection.estate_id",
        lookup=("caption",),
    )

    def __str__(self) -> str:
        return self.caption or "照片"

    def clean(self) -> None:
        refuse_if_reported(self, "path", "caption")

    def clean_delete(self) -> None:
        refuse_deleting_if_reported(self)


def supervises(staff: Any, estate: Estate) -> bool:
    """Staff of the estate's community supervision group (社区物业管理监督小组) may inspect it."""
    return staff.unit is not None and staff.unit.kind is not None \
        and staff.unit.kind.value == "supervision_group" and staff.unit.community_id == estate.community_id


def refuse_if_reported(row: Any, *fields: str) -> None:
    """A reading or photo is part of its inspection's report: new, changed or moved,
    it is refused once that report went to the street (the old one's too, if moved)."""
    if not (is_new(row) or changed(row, "inspection", *fields)):
        return
    for inspection in {row.inspection, was(row, "inspection")} - {None}:
        reason = inspection.locked()
        if reason:
            raise Invalid({"inspection": reason})


def refuse_deleting_if_reported(row: Any) -> None:
    inspection = row.inspection
    reason = inspection.locked("不能删除其中的内容") if inspection is not None else None
    if reason and not being_deleted(inspection):  # deleted with its inspection: that one decides
        raise Refused(f"不能删除{row}：{reason}")


# -- rectifications ---------------------------------------------------------------------


class RectState(Choices):
    OPEN = "open", "待整改"
    REPLIED = "replied", "已回复待验证"
    VERIFIED = "verified", "验证通过"


class Responsible(Choices):
    COMPANY = "company", "物业服务企业"
    COMMITTEE = "committee", "业主委员会"
    CENTER = "center", "物业管理服务中心"
    DEVELOPER = "developer", "开发建设单位"
    OTHER = "other", "其他"


Q = RectState
DEADLINE = Clock("deadline", "整改期限", start="raised_on", due="deadline", stop="verified_on",
                 rule=None, states=(Q.OPEN, Q.REPLIED))


class Rectification(TimestampMixin, db.Model):
    """整改: raised from a finding, answered by the responsible party, verified by an inspector."""

    __tablename__ = "rectification"
    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = field(ForeignKey("inspection.id"), "来源检查", index=True)
    estate_id: Mapped[int | None] = field(ForeignKey("estate.id"), "小区", index=True,
                                          help="取自来源检查")
    finding: Mapped[str] = field(Text, "问题")
    responsible: Mapped[Responsible] = field(ChoiceType(Responsible), "责任方",
                                             default=Responsible.COMPANY)
    responsible_name: Mapped[str | None] = field(String(100), "责任单位名称")
    raised_on: Mapped[date] = field(Date, "提出日期")
    deadline: Mapped[date] = field(Date, "整改期限", index=True)
    state: Mapped[RectState] = field(ChoiceType(RectState), "状态", default=RectState.OPEN, index=True)
    reply: Mapped[str | None] = field(Text, "整改回复")
    replied_on: Mapped[date | None] = field(Date, "回复日期")
    verified_on: Mapped[date | None] = field(Date, "验证日期")
    # who verified: one inspector of this estate, as a link, and the name as it was that day
    verifier_member_id: Mapped[int | None] = field(
        ForeignKey("four_in_one_member.id", ondelete="SET NULL"), "验证人（四位一体小组成员）", index=True)
    verifier_staff_id: Mapped[int | None] = field(
        ForeignKey("staff_member.id", ondelete="SET NULL"), "验证人（社区监督小组工作人员）", index=True)
    verifier: Mapped[str | None] = field(String(60), "验证人", help="验证通过时由所选验证人自动记录")
    verification_note: Mapped[str | None] = field(Text, "验证意见")

    inspection: Mapped[Inspection] = relation("来源检查")
    estate: Mapped[Estate | None] = relation("小区")
    verifier_member: Mapped[FourInOneMember | None] = relation("验证人（四位一体小组成员）")
    verifier_staff: Mapped["StaffMember | None"] = relation("验证人（社区监督小组工作人员）")  # noqa: F821

    overdue = DEADLINE.flag("逾期未整改")

    __admin__ = ModelAdmin(
        label="整改", category="监督考评", menu_order=40,
        list_columns=("estate.name", "finding", "responsible", "raised_on", "deadline", "state", "overdue"),
        search=("finding", "responsible_name", "reply"),
        filters=("state", "responsible", "estate", "deadline", "overdue", "is_open"),
        sort=("-is_open", "deadline"),
        form_columns=("inspection", "finding", "responsible", "responsible_name", "raised_on", "deadline"),
        details_columns=("estate", "inspection", "finding", "responsible", "responsible_name", "raised_on",
                         "deadline", "state", "reply", "replied_on", "verified_on", "verifier",
                         "verification_note", "overdue"),
        perms=Perms(create=INSPECTORS, edit=INSPECTORS, delete=(Role.STREET_STAFF,)),
        scope="estate_id",
        lookup=("finding",),
        workflow=Workflow(transitions=(
            Transition("answer", "登记整改回复", source=(Q.OPEN,), target=Q.REPLIED, roles=INSPECTORS,
                       params=(Param("reply", "整改回复", "textarea"),
                               Param("replied_on", "回复日期", "date"))),
            Transition("verify", "验证通过", source=(Q.REPLIED,), target=Q.VERIFIED, roles=INSPECTORS,
                       style="success",
                       params=(Param("verified_on", "验证日期", "date"),
                               Param("verifier_member", "验证人（四位一体小组成员）", "row", required=False,
                                     model="FourInOneMember",
                                     help="本小区四位一体监督小组的成员；本人是该小组成员时可留空，自动记为本人"),
                               Param("verifier_staff", "验证人（社区监督小组工作人员）", "row", required=False,
                                     model="StaffMember", help="或：所在社区物业管理监督小组的工作人员"),
                               Param("verification_note", "验证意见", "textarea", required=False))),
            Transition("reject", "验证不通过", source=(Q.REPLIED,), target=Q.OPEN, roles=INSPECTORS,
                       style="warning",
                       params=(Param("verification_note", "不通过的原因", "textarea"),)),
        ), clocks=(DEADLINE,)),
    )

    def __str__(self) -> str:
        return f"整改：{(self.finding or '')[:20]}"

    def answer(self, reply: str, replied_on: date) -> None:
        self.reply, self.replied_on = reply, replied_on

    def verify(self, verified_on: date, verifier_member: FourInOneMember | None = None,
               verifier_staff: Any = None, verification_note: str | None = None) -> None:
        if verifier_member is None and verifier_staff is None:
            verifier_member = self.acting_member()  # a member verifying in person is recorded as such
        self.verified_on, self.verification_note = verified_on, verification_note
        self.verifier_member, self.verifier_staff = verifier_member, verifier_staff
        chosen = verifier_member or verifier_staff
        self.verifier = chosen.name if chosen is not None else None

    def acting_member(self) -> FourInOneMember | None:
        """The four-in-one member of this estate's group whose account is doing this."""
        from .kernel.audit import current_actor

        user_id, _ = current_actor()
        estate = self.inspection.estate if self.inspection is not None else self.estate
        if user_id is None or estate is None:
            return None
        return db.session.scalar(select(FourInOneMember).join(FourInOneMember.group).where(
            FourInOneMember.user_id == user_id, FourInOneGroup.estate_id == estate.id).limit(1))

    def verifier_problem(self) -> str | None:
        """Verification is by an inspector of this estate (篇5 四.4), never by just anyone."""
        member, staff = self.verifier_member, self.verifier_staff
        estate = self.inspection.estate if self.inspection is not None else self.estate
        if member is None and staff is None:
            return "请选择验证人：本小区四位一体监督小组的成员，或所在社区物业管理监督小组的工作人员"
        if member is not None and staff is not None:
            return "验证人只选一位：四位一体小组成员或监督小组工作人员"
        if member is not None and (member.group is None or member.group.estate_id != estate.id):
            return f"{member.name}不是{estate}四位一体监督小组的成员"
        if staff is not None and not supervises(staff, estate):
            return f"{staff.name}不是{estate.community}物业管理监督小组的工作人员"
        return None

    def reject(self, verification_note: str) -> None:
        self.verification_note = verification_note

    def clean(self) -> None:
        if self.inspection is not None:
            self.estate = self.inspection.estate
        today = now().date()
        errors: dict[str, str] = {}
        if changed(self, "deadline"):
            errors["deadline"] = "整改期限提出后不能修改（是否逾期以原定期限为准）"
        elif self.raised_on and self.deadline and self.deadline < self.raised_on:
            errors["deadline"] = "整改期限不能早于提出日期"
        if self.state == Q.VERIFIED and was(self, "state") != Q.VERIFIED:
            problem = self.verifier_problem()
            if problem:
                errors["verifier_member"] = problem
        if self.inspection is not None and self.raised_on and self.raised_on < self.inspection.inspected_on:
            errors["raised_on"] = "提出日期不能早于检查日期"
        for name, label in (("raised_on", "提出日期"), ("replied_on", "回复日期"), ("verified_on", "验证日期")):
            if getattr(self, name) and getattr(self, name) > today:
                errors[name] = f"{label}不能晚于今天"
        if self.replied_on and self.raised_on and self.replied_on < self.raised_on:
            errors["replied_on"] = "回复日期不能早于提出日期"
        if self.verified_on and self.replied_on and self.verified_on < self.replied_on:
            errors["verified_on"] = "验证日期不能早于回复日期"
        if errors:
            raise Invalid(errors)


Rectification.is_open = figure("未结", Rectification.state != Q.VERIFIED.value, flag=True)
Rectification.late_verified = computed(
    "超期完成", expression=lambda cls: and_(cls.verified_on.isnot(None), cls.verified_on > cls.deadline),
    warn=True, attention=False)(  # history, nothing left to do
    lambda self: bool(self.verified_on and self.deadline and self.verified_on > self.deadline))
Inspection.estate_name = figure("小区", select(Estate.name).where(Estate.id == Inspection.estate_id)
                                .correlate_except(Estate), internal=True)
Inspection.item_count = figure("指标项数", select(func.count(InspectionItem.id)).where(
    InspectionItem.inspection_id == Inspection.id).correlate_except(InspectionItem))
Inspection.open_rectifications = figure("未结整改", select(func.count(Rectification.id)).where(
    Rectification.inspection_id == Inspection.id, Rectification.state != Q.VERIFIED.value)
    .correlate_except(Rectification))
