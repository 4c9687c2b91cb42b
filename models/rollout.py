"""Rollout: plans, phases, tasks, pilots and targets (篇5 五; 篇6 二.2, 三, 四).

Coordinators move the rollout with actions — start and complete a phase, finish a
task, record a pilot's milestone, roll a pilot's tasks out to other estates (推广),
turn a leadership meeting's decisions into tasks — never by editing a status.
Phase progress and every target's current value are computed from the records.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import (Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint, and_,
                        case, exists, func, literal, or_, select)
from sqlalchemy.orm import Mapped, mapped_column

from .kernel import TimestampMixin, Versioned, db, now
from .kernel.declare import ChoiceType, Choices, Invalid, ModelAdmin, Perms, Upload, field, figure, relation
from .accounts import Role
from .estates import Estate, EstateClass, ServiceContract, _today
from .governance import Community, LeadershipMeeting, OrgUnit, Street
from .selfgov import AssemblyMeeting, CommitteeState, OwnersCommittee, _quorum
from .service_center import CenterAgreement
from .inspections import Inspection
from .kernel.workflow import Clock, Param, Transition, Workflow

COORDINATORS = (Role.PILOT_COORDINATOR, Role.STREET_STAFF)
ROLLOUT_PERMS = Perms(create=COORDINATORS, edit=COORDINATORS, delete=COORDINATORS)


class RolloutPlan(TimestampMixin, db.Model):
    """实施方案: ordered phases, each with tasks."""

    __tablename__ = "rollout_plan"
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = field(ForeignKey("street.id"), "街道", index=True)
    name: Mapped[str] = field(String(100), "方案名称")
    year: Mapped[int] = field(Integer, "年度", min=2000, max=2100, help="原文写作“20__年”，由街道确定")
    source: Mapped[str | None] = field(String(40), "出处")
    note: Mapped[str | None] = field(Text, "说明")
    is_reference: Mapped[bool] = field(Boolean, "原文方案", default=False)

    street: Mapped[Street] = relation("街道")
    phases: Mapped[list["Phase"]] = relation("阶段", back_populates="plan", order_by="Phase.seq",
                                             cascade="all, delete-orphan")

    __table_args__ = (UniqueConstraint("street_id", "name"),)

    __admin__ = ModelAdmin(
        label="实施方案", category="推进实施", menu_order=10,
        list_columns=("name", "year", "source", "street.name"),
        search=("name",), filters=("year", "street"), sort="-year",
        form_columns=("street", "name", "year", "source", "note"),
        details_columns=("name", "street", "year", "source", "phases", "note"),
        perms=ROLLOUT_PERMS, scope="street_id",
    )

    def __str__(self) -> str:
        return f"{self.name}（{self.year}年）" if self.year else self.name


class PhaseState(Choices):
    NOT_STARTED = "not_started", "未开始"
    RUNNING = "running", "进行中"
    DONE = "done", "已完成"


P = PhaseState
PHASE_END = Clock("end", "阶段截止", start="end_on", due="end_on", stop="completed_on", rule=None,
                  states=(P.NOT_STARTED, P.RUNNING))


class Phase(TimestampMixin, db.Model):
    """A phase of a plan. Phases may overlap (篇6). A date the text gets wrong (6月31日)
    is kept as written and flagged for a person to decide."""

    __tablename__ = "phase"
    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = field(ForeignKey("rollout_plan.id"), "实施方案", index=True)
    seq: Mapped[int] = field(Integer, "序号", min=1, max=99)
    name: Mapped[str] = field(String(60), "阶段名称")
    start_on: Mapped[date | None] = field(Date, "开始日期")
    end_on: Mapped[date | None] = field(Date, "截止日期")
    date_text: Mapped[str | None] = field(String(60), "原文日期", help="原文怎么写就怎么记")
    date_flag: Mapped[bool] = field(Boolean, "日期待确认", default=False)
    date_note: Mapped[str | None] = field(Text, "日期说明")
    state: Mapped[PhaseState] = field(ChoiceType(PhaseState), "状态", default=PhaseState.NOT_STARTED)
    started_on: Mapped[date | None] = field(Date, "实际开始")
    completed_on: Mapped[date | None] = field(Date, "实际完成")
    completion_note: Mapped[str | None] = field(Text, "完成说明", help="有必做任务未完成而结束阶段时的理由")

    plan: Mapped[RolloutPlan] = relation("实施方案", back_populates="phases")
    tasks: Mapped[list["Task"]] = relation("任务", back_populates="phase", order_by="Task.seq")

    overdue = PHASE_END.flag("逾期未完成")

    __admin__ = ModelAdmin(
        label="实施阶段", category="推进实施", menu_order=20,
        list_columns=("plan", "seq", "name", "date_text", "start_on", "end_on", "state", "progress",
                      "date_flag", "overdue"),
        search=("name", "date_text"), filters=("plan", "state", "date_flag", "overdue"), sort=("plan_id", "seq"),
        form_columns=("plan", "seq", "name", "start_on", "end_on", "date_text", "date_note"),
        details_columns=("plan", "seq", "name", "date_text", "date_flag", "date_note", "start_on", "end_on",
                         "state", "started_on", "completed_on", "completion_note", "progress", "tasks"),
        perms=ROLLOUT_PERMS, scope="plan.street_id",
        workflow=Workflow(transitions=(
            Transition("start", "开始阶段", source=(P.NOT_STARTED,), target=P.RUNNING, roles=COORDINATORS,
                       params=(Param("started_on", "开始日期", "date"),)),
            Transition("complete", "完成阶段", source=(P.RUNNING,), target=P.DONE, roles=COORDINATORS,
                       guard="guard_complete", style="success",
                       params=(Param("completed_on", "完成日期", "date"),
                               Param("completion_note", "仍有必做任务未完成时的理由", "textarea", required=False,
                                     help="必做任务全部完成时可不填；否则须写明理由，理由记入记录"))),
            Transition("resolve_dates", "确定日期", source=(), target=None, roles=COORDINATORS,
                       style="secondary",
                       params=(Param("start_on", "开始日期", "date", required=False,
                                     default=lambda p: p.start_on),
                               Param("end_on", "截止日期", "date"),
                               Param("decision", "确定依据", "textarea"))),
        ), clocks=(PHASE_END,)),
    )

    def __str__(self) -> str:
        return f"{self.seq}. {self.name}" if self.seq else (self.name or "阶段")

    def open_required(self) -> list["Task"]:
        return [t for t in self.tasks if t.required and t.state != TaskState.DONE]

    def guard_complete(self, completion_note: str | None = None) -> str | None:
        open_tasks = self.open_required()
        if open_tasks and not (completion_note or "").strip():
            return f"还有 {len(open_tasks)} 项必做任务未完成；如确需结束本阶段，请填写理由"
        return None

    def start(self, started_on: date) -> None:
        self.started_on = started_on

    def complete(self, completed_on: date, completion_note: str | None = None) -> None:
        self.completed_on, self.completion_note = completed_on, completion_note

    def resolve_dates(self, end_on: date, decision: str, start_on: date | None = None) -> None:
        self.start_on, self.end_on, self.date_flag = start_on or self.start_on, end_on, False
        stamp = now().strftime("%Y-%m-%d")
        self.date_note = f"{self.date_note or ''}\n{stamp} 确定：{decision}".strip()

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.start_on and self.end_on and self.end_on < self.start_on:
            errors["end_on"] = "截止日期不能早于开始日期"
        year = self.plan.year if self.plan else None
        for name, label in (("start_on", "开始日期"), ("end_on", "截止日期")):
            value = getattr(self, name)
            if value and year and value.year != year:
                errors[name] = f"{label}不在方案年度（{year}年）内"
        for name, label in (("started_on", "实际开始"), ("completed_on", "实际完成")):
            value = getattr(self, name)
            if value and value > now().date():
                errors[name] = f"{label}日期不能晚于今天"
        if self.started_on and self.completed_on and self.completed_on < self.started_on:
            errors["completed_on"] = "完成日期不能早于开始日期"
        if errors:
            raise Invalid(errors)


class TaskState(Choices):
    OPEN = "open", "未完成"
    DONE = "done", "已完成"


TASK_DUE = Clock("due", "任务期限", start="due_on", due="due_on", stop="done_on", rule=None,
                 states=(TaskState.OPEN,))


class Task(TimestampMixin, db.Model):
    """A task of a phase: an owner (a person or a department), a due date, evidence."""

    __tablename__ = "task"
    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = field(ForeignKey("phase.id"), "阶段", index=True)
    seq: Mapped[int] = field(Integer, "序号", default=1, min=1, max=999)
    text: Mapped[str] = field(Text, "任务")
    required: Mapped[bool] = field(Boolean, "必做", default=True)
    owner_unit_id: Mapped[int | None] = field(ForeignKey("org_unit.id"), "责任部门")
    owner_person: Mapped[str | None] = field(String(60), "责任人")
    due_on: Mapped[date | None] = field(Date, "完成期限", index=True)
    estate_id: Mapped[int | None] = field(ForeignKey("estate.id"), "小区", index=True,
                                          help="试点或推广到某个小区的任务")
    pilot_id: Mapped[int | None] = field(ForeignKey("pilot.id"), "试点任务模板",
                                         help="属于某试点的任务，推广时复制到其他小区")
    state: Mapped[TaskState] = field(ChoiceType(TaskState), "状态", default=TaskState.OPEN, index=True)
    done_on: Mapped[date | None] = field(Date, "完成日期")
    evidence_note: Mapped[str | None] = field(Text, "完成情况")
    evidence_file: Mapped[str | None] = field(
        String(200), "佐证材料", upload=Upload(types=("pdf", "jpg", "jpeg", "png"), max_bytes=10 * 1024 * 1024,
                                              folder="evidence"), help="PDF 或图片，不超过 10 MB")
    meeting_id: Mapped[int | None] = field(ForeignKey("leadership_meeting.id"), "相关会议",
                                           help="布置此任务或作为佐证的领导小组会议")
    assembly_id: Mapped[int | None] = field(ForeignKey("assembly_meeting.id"), "相关业主大会")
    inspection_id: Mapped[int | None] = field(ForeignKey("inspection.id"), "相关检查")

    phase: Mapped[Phase] = relation("阶段", back_populates="tasks")
    owner_unit: Mapped[OrgUnit | None] = relation("责任部门")
    estate: Mapped[Estate | None] = relation("小区")
    pilot: Mapped["Pilot | None"] = relation("试点任务模板", back_populates="template")
    meeting: Mapped[LeadershipMeeting | None] = relation("相关会议")
    assembly: Mapped[AssemblyMeeting | None] = relation("相关业主大会")
    inspection: Mapped[Inspection | None] = relation("相关检查")

    overdue = TASK_DUE.flag("逾期未完成")

    __admin__ = ModelAdmin(
        label="实施任务", category="推进实施", menu_order=30,
        list_columns=("phase", "seq", "text", "owner_unit.name", "owner_person", "estate.name", "due_on",
                      "required", "state", "overdue"),
        search=("text", "owner_person", "evidence_note"),
        filters=("phase", "state", "required", "estate", "overdue", "due_on"), sort=("phase_id", "seq"),
        form_columns=("phase", "seq", "text", "required", "owner_unit", "owner_person", "due_on", "estate",
                      "pilot", "evidence_file", "meeting", "assembly", "inspection"),
        details_columns=("phase", "seq", "text", "required", "owner_unit", "owner_person", "due_on", "estate",
                         "pilot", "state", "done_on", "evidence_note", "evidence_file", "meeting", "assembly",
                         "inspection", "overdue"),
        perms=ROLLOUT_PERMS, scope=("estate_id", "phase.plan.street_id"),
        lookup=("text",),
        workflow=Workflow(transitions=(
            Transition("finish", "完成任务", source=(TaskState.OPEN,), target=TaskState.DONE,
                       roles=COORDINATORS, style="success",
                       params=(Param("done_on", "完成日期", "date"),
                               Param("evidence_note", "完成情况", "textarea", required=False))),
            Transition("reopen", "重新打开", source=(TaskState.DONE,), target=TaskState.OPEN,
                       roles=COORDINATORS, style="secondary"),
        ), clocks=(TASK_DUE,)),
    )

    def __str__(self) -> str:
        return (self.text or "任务")[:30]

    def finish(self, done_on: date, evidence_note: str | None = None) -> None:
        self.done_on, self.evidence_note = done_on, evidence_note

    def reopen(self) -> None:
        self.done_on = None

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.owner_unit is None and not (self.owner_person or "").strip():
            errors["owner_person"] = "须指定责任部门或责任人"
        year = self.phase.plan.year if self.phase and self.phase.plan else None
        if self.due_on and year and self.due_on.year != year:
            errors["due_on"] = f"完成期限不在方案年度（{year}年）内"
        if self.done_on and self.done_on > now().date():
            errors["done_on"] = "完成日期不能晚于今天"
        if errors:
            raise Invalid(errors)


# -- pilots ----------------------------------------------------------------------------


class PilotState(Choices):
    ACTIVE = "active", "试点中"
    CONCLUDED = "concluded", "已总结"


class MilestoneKind(Choices):
    """篇6 二.2: the steps a pilot estate goes through."""

    ASSEMBLY_HELD = "assembly_held", "召开业主大会"
    COMMITTEE_SET_UP = "committee_set_up", "成立业主委员会"
    CONTRACT_SIGNED = "contract_signed", "签订物业服务合同"
    REGULARISED = "regularised", "实行规范化管理"


class Pilot(TimestampMixin, db.Model):
    """试点小区 (篇6 三.3)."""

    __tablename__ = "pilot"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", unique=True)
    plan_id: Mapped[int | None] = field(ForeignKey("rollout_plan.id"), "实施方案")
    designated_on: Mapped[date] = field(Date, "确定为试点日期")
    state: Mapped[PilotState] = field(ChoiceType(PilotState), "状态", default=PilotState.ACTIVE)
    lessons: Mapped[str | None] = field(Text, "试点经验", help="供推广阶段借鉴（篇6 三.4）")

    estate: Mapped[Estate] = relation("小区")
    plan: Mapped[RolloutPlan | None] = relation("实施方案")
    milestones: Mapped[list["PilotMilestone"]] = relation(
        "里程碑", back_populates="pilot", order_by="PilotMilestone.achieved_on", cascade="all, delete-orphan")
    template: Mapped[list[Task]] = relation("试点任务", back_populates="pilot")

    __admin__ = ModelAdmin(
        label="试点小区", category="推进实施", menu_order=40,
        list_columns=("estate.name", "community_name", "designated_on", "state", "milestone_count"),
        search=("lessons",), filters=("state", "plan", "estate"), sort="designated_on",
        form_columns=("estate", "plan", "designated_on", "lessons"),
        details_columns=("estate", "plan", "designated_on", "state", "milestones", "template", "lessons"),
        perms=ROLLOUT_PERMS, scope="estate_id",
        lookup=("estate_name", "lessons"),  # found by its estate, as people name it
        workflow=Workflow(transitions=(
            Transition("record_milestone", "记录里程碑", source=(PilotState.ACTIVE,), target=None,
                       roles=COORDINATORS,
                       params=(Param("kind", "里程碑", "choice", choices=MilestoneKind),
                               Param("achieved_on", "达成日期", "date"),
                               Param("evidence_note", "佐证", "textarea", required=False))),
            Transition("promote", "推广到其他小区", source=(PilotState.ACTIVE, PilotState.CONCLUDED), target=None,
                       roles=COORDINATORS, guard="guard_promote", style="success",
                       params=(Param("estates", "推广到的小区", "rows", model=Estate),
                               Param("phase", "列入阶段", "row", model=Phase),
                               Param("due_on", "完成期限", "date"))),
            Transition("conclude", "总结试点经验", source=(PilotState.ACTIVE,), target=PilotState.CONCLUDED,
                       roles=COORDINATORS,
                       params=(Param("lessons", "试点经验", "textarea", default=lambda p: p.lessons),)),
        )),
    )

    def __str__(self) -> str:
        return f"试点：{self.estate_name or ''}"

    def record_milestone(self, kind: MilestoneKind, achieved_on: date, evidence_note: str | None = None) -> None:
        if any(m.kind == kind for m in self.milestones):
            raise Invalid({"kind": f"「{MilestoneKind(kind).label}」已经记录过"})
        self.milestones.append(PilotMilestone(kind=kind, achieved_on=achieved_on, evidence_note=evidence_note))

    def guard_promote(self) -> str | None:
        if not self.template:
            return "该试点还没有任务模板（试点任务），无可推广的内容"
        return None

    def promote(self, estates: list[Estate], phase: Phase | None, due_on: date) -> None:
        """推广: copy the pilot's tasks to each chosen estate, in the chosen phase."""
        if not estates:
            raise Invalid({"estates": "请选择至少一个小区"})
        if phase is None:
            raise Invalid({"phase": "请选择列入的阶段"})
        for estate in estates:
            if estate.id == self.estate_id:
                raise Invalid({"estates": f"{estate}是本试点小区本身"})
            for seq, source in enumerate(self.template, 1):
                db.session.add(Task(phase=phase, seq=source.seq or seq, text=source.text, required=source.required,
                                    owner_unit=source.owner_unit, owner_person=source.owner_person,
                                    due_on=due_on, estate=estate))

    def conclude(self, lessons: str) -> None:
        self.lessons = lessons

    def clean(self) -> None:
        if self.designated_on and self.designated_on > now().date():
            raise Invalid({"designated_on": "确定为试点的日期不能晚于今天"})


def mark_pilots(estates: list[Estate]) -> None:
    """标记为试点, the estates' bulk action: a pilot record for each chosen estate that is
    not one yet (the estate's 试点小区 is computed from it)."""
    already = set(db.session.scalars(select(Pilot.estate_id).where(Pilot.estate_id.in_([e.id for e in estates]))))
    for estate in estates:
        if estate.id not in already:
            designate(estate)


def designate(estate: Estate) -> "Pilot":
    pilot = Pilot(estate=estate, designated_on=now().date())
    db.session.add(pilot)
    return pilot


def create_meeting_tasks(meetings: list[LeadershipMeeting], phase: "Phase", tasks: str, due_on: date,
                         owner_person: str | None = None) -> None:
    """生成后续任务, a step of a leadership meeting (篇6 四.1): the meeting assigns the next
    stage's work; each line becomes a task of the chosen phase."""
    if phase is None:
        raise Invalid({"phase": "请选择列入的阶段"})
    lines = [line.strip(" 　-•；;。") for line in (tasks or "").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise Invalid({"tasks": "请至少写一项任务"})
    for meeting in meetings:
        start = max((t.seq for t in phase.tasks), default=0)
        for i, line in enumerate(lines, 1):
            db.session.add(Task(phase=phase, seq=start + i, text=line, due_on=due_on, meeting=meeting,
                                owner_person=owner_person or "领导小组办公室"))


class PilotMilestone(Versioned, db.Model):
    __tablename__ = "pilot_milestone"
    id: Mapped[int] = mapped_column(primary_key=True)
    pilot_id: Mapped[int] = field(ForeignKey("pilot.id"), "试点", index=True)
    kind: Mapped[MilestoneKind] = field(ChoiceType(MilestoneKind), "里程碑")
    achieved_on: Mapped[date] = field(Date, "达成日期")
    evidence_note: Mapped[str | None] = field(Text, "佐证")

    pilot: Mapped[Pilot] = relation("试点", back_populates="milestones")

    __table_args__ = (UniqueConstraint("pilot_id", "kind"),)

    __admin__ = ModelAdmin(
        label="试点里程碑", category="推进实施", menu_order=41,
        list_columns=("pilot", "kind", "achieved_on", "evidence_note"),
        search=("evidence_note",), filters=("kind", "achieved_on"), sort="achieved_on",
        form_columns=("pilot", "kind", "achieved_on", "evidence_note"),
        perms=ROLLOUT_PERMS, scope="pilot.estate_id",
        lookup=("evidence_note",),
    )

    def __str__(self) -> str:
        return f"{self.kind.label}（{self.achieved_on}）" if self.kind else "里程碑"

    def clean(self) -> None:
        if self.achieved_on and self.pilot is not None and self.pilot.designated_on \
                and self.achieved_on < self.pilot.designated_on:
            raise Invalid({"achieved_on": f"达成日期不能早于确定为试点的日期（{self.pilot.designated_on}）"})
        if self.achieved_on and self.achieved_on > now().date():
            raise Invalid({"achieved_on": "达成日期不能晚于今天"})


# -- targets ---------------------------------------------------------------------------


class Metric(Choices):
    """What a target counts, always from the records."""

    COMMITTEES_12 = "committees_12", "一/二类小区中业主委员会在任的小区数"
    ASSEMBLIES_12 = "assemblies_12", "一/二类小区中召开过有效业主大会的小区数"
    PILOTS = "pilots", "试点小区数"
    REGULARISED_3 = "regularised_3", "三类小区中已签订服务合同（规范化管理）的小区数"


CLASS_12 = (EstateClass.FIRST.value, EstateClass.SECOND.value)


def metric_condition(metric: Metric | str) -> Any:
    """The condition on Estate that makes an estate count toward ``metric``."""
    metric = Metric(metric)
    today = _today()
    if metric == Metric.COMMITTEES_12:
        return and_(Estate.estate_class.in_(CLASS_12), exists().where(
            OwnersCommittee.estate_id == Estate.id, OwnersCommittee.state == CommitteeState.IN_OFFICE.value))
    if metric == Metric.ASSEMBLIES_12:
        m = AssemblyMeeting
        return and_(Estate.estate_class.in_(CLASS_12), exists().where(
            m.estate_id == Estate.id, _quorum(m.voting_owners, m.total_owners, m.voting_area, m.total_area)))
    if metric == Metric.PILOTS:
        return exists().where(Pilot.estate_id == Estate.id)
    contract = exists().where(ServiceContract.estate_id == Estate.id, ServiceContract.start_on <= today,
                              or_(ServiceContract.end_on.is_(None), ServiceContract.end_on >= today))
    agreement = exists().where(CenterAgreement.estate_id == Estate.id, CenterAgreement.start_on <= today,
                               or_(CenterAgreement.end_on.is_(None), CenterAgreement.end_on >= today))
    return and_(Estate.estate_class == EstateClass.THIRD.value, or_(contract, agreement))


def metric_count(metric: Metric | str, street_id: Any = None, community_id: Any = None,
                 community_ids: Any = None) -> Any:
    """SELECT counting the estates that meet ``metric`` in a street, a community or
    several communities."""
    stmt = select(func.count(Estate.id)).join(Community, Community.id == Estate.community_id).where(
        metric_condition(metric), Estate.deleted_at.is_(None))  # the recycle bin counts for nothing
    if street_id is not None:
        stmt = stmt.where(Community.street_id == street_id)
    if community_id is not None:
        stmt = stmt.where(Estate.community_id == community_id)
    if community_ids is not None:
        stmt = stmt.where(Estate.community_id.in_(list(community_ids)))
    return stmt


class Target(TimestampMixin, db.Model):
    """工作目标 (篇6 二.2) with a current value computed from the records."""

    __tablename__ = "target"
    id: Mapped[int] = mapped_column(primary_key=True)
    street_id: Mapped[int] = field(ForeignKey("street.id"), "街道", index=True)
    seq: Mapped[int] = field(Integer, "序号", default=1, min=1, max=99)
    text: Mapped[str] = field(Text, "目标（原文）")
    metric: Mapped[Metric] = field(ChoiceType(Metric), "计算口径")
    target: Mapped[int] = field(Integer, "目标数", min=1, max=100000)
    deadline: Mapped[date | None] = field(Date, "期限")
    source: Mapped[str | None] = field(String(40), "出处")

    street: Mapped[Street] = relation("街道")

    __admin__ = ModelAdmin(
        label="工作目标", category="推进实施", menu_order=50,
        list_columns=("seq", "text", "metric", "current", "target", "deadline"),
        search=("text",), filters=("metric", "street"), sort="seq",
        form_columns=("street", "seq", "text", "metric", "target", "deadline", "source"),
        perms=ROLLOUT_PERMS, scope="street_id",
        lookup=("text",),
    )

    def __str__(self) -> str:
        return (self.text or "目标")[:30]


Target.current = figure("当前值", case(
    *[(Target.metric == m.value, metric_count(m, street_id=Target.street_id).correlate_except(Estate, Community)
       .scalar_subquery()) for m in Metric], else_=literal(0)), help="由记录计算")
Pilot.estate_name = figure("小区", select(Estate.name).where(Estate.id == Pilot.estate_id)
                           .correlate_except(Estate), internal=True)
Pilot.community_name = figure("社区", select(Community.name).join(Estate, Estate.community_id == Community.id)
                              .where(Estate.id == Pilot.estate_id).correlate_except(Estate, Community))
Pilot.milestone_count = figure("已达成里程碑", select(func.count(PilotMilestone.id)).where(
    PilotMilestone.pilot_id == Pilot.id).correlate_except(PilotMilestone))
Phase.task_total = figure("任务数", select(func.count(Task.id)).where(Task.phase_id == Phase.id)
                          .correlate_except(Task), internal=True)
Phase.task_done = figure("已完成任务", select(func.count(Task.id)).where(
    Task.phase_id == Phase.id, Task.state == TaskState.DONE.value).correlate_except(Task), internal=True)
Phase.progress = figure("进度", func.cast(Phase.task_done, String) + "/" + func.cast(Phase.task_total, String))
# 试点小区 is a figure of the pilot records, never a typed flag.
Estate.is_pilot = figure("试点小区", exists().where(Pilot.estate_id == Estate.id).correlate_except(Pilot),
                         flag=True)
