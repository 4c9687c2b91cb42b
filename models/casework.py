"""Casework of the stations, each case on a clock (篇5 二(一)4–6; 篇2 信息沟通; 篇3 服务特色).

* Emergency repair tickets (应急维修服务站): 24-hour hotline; on site within 30
  minutes; water fixed within the day (修水不过天), power not left overnight
  (修电不过夜); called back with the caller's satisfaction — not every ticket (篇3
  sets 维修服务回访率 ≥ 30%), so there is no call-back clock. The time limits per category are data
  (:class:`RepairRule`) staff can edit; a ticket keeps the deadlines computed when it
  was received.
* Mediation cases (矛盾投诉调解站): the four kinds of dispute; accepted, or refused
  with the reason (outside policy; skipped this station — 越级).
* Complaints and suggestions (首按责任制): the first receiver is responsible until
  closure; dispatch within 3 minutes; feedback promised within 2 days (a face-to-face
  complaint within 12 hours), never over a week; at most one postponement; call-back
  within 24 hours of closure.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import (Boolean, DateTime, ForeignKey, Integer, Numeric, String, Text,
                        select)
from sqlalchemy.orm import Mapped, mapped_column

from . import TimestampMixin, Versioned, db, now
from .declare import (ChoiceType, Choices, Invalid, ModelAdmin, Perms, Role, computed, field,
                      figure, relation)
from .estates import Estate
from .governance import OrgKind
from .workflow import Clock, Param, Transition, Workflow

STATION = (Role.STATION_STAFF, Role.STREET_STAFF)
TOLERANCE = timedelta(minutes=2)  # a clock may run a little ahead of the server's


# -- repair time rules (data, editable) ----------------------------------------------


class RepairCategory(Choices):
    WATER = "water", "水（供水管道、漏水）"
    POWER = "power", "电（线路、停电）"
    DRAIN = "drain", "下水道疏通"
    SEPTIC = "septic", "化粪池清理"
    GAS = "gas", "燃气"
    OTHER = "other", "其他"


class RepairRule(TimestampMixin, db.Model):
    """How long a repair of one category may take.

    Completion deadline = the later of (a) 24:00 of the day of the call, if
    ``end_of_day``, and (b) the call plus ``hours``. So 修水不过天 is "end of day, at
    least 12 hours" (09:00 → 24:00; 23:30 → 11:30 next day) and 修电不过夜 is "end of
    day, at least 4 hours" (14:00 → 24:00; 23:30 → 03:30 next day).
    """

    __tablename__ = "repair_rule"
    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[RepairCategory] = field(ChoiceType(RepairCategory), "报修类别", unique=True)
    arrival_minutes: Mapped[int] = field(Integer, "到场时限（分钟）", default=30, min=1, max=24 * 60)
    end_of_day: Mapped[bool] = field(Boolean, "当天办结", default=False,
                                     help="勾选：须在报修当天 24:00 前完工（不过天/不过夜）")
    hours: Mapped[int] = field(Integer, "完工时限（小时）", min=1, max=24 * 30,
                               help="未勾选当天办结时为完工时限；勾选时为深夜报修至少给予的时间")
    basis: Mapped[str | None] = field(String(200), "依据", help="原文出处，如：篇5 二(一)5(3) 修水不过天")

    __admin__ = ModelAdmin(
        label="维修时限规则", category="案件办理", menu_order=90,
        list_columns=("category", "arrival_minutes", "end_of_day", "hours", "basis"),
        search=("basis",), filters=("end_of_day",), sort="category",
        form_columns=("category", "arrival_minutes", "end_of_day", "hours", "basis"),
        perms=Perms(create=(Role.STREET_STAFF,), edit=(Role.STREET_STAFF,), delete=()),
        lookup=("basis",),
    )

    def __str__(self) -> str:
        return self.category.label if self.category else "规则"

    def completion_due(self, call_at: datetime) -> datetime:
        by_hours = call_at + timedelta(hours=self.hours)
        if not self.end_of_day:
            return by_hours
        midnight = datetime.combine(call_at.date() + timedelta(days=1), time.min)
        return max(midnight, by_hours)


# The text's defaults (篇5 二(一)5(3); 篇2 小修不过夜、大修不过三), loaded as reference data.
DEFAULT_RULES = {
    RepairCategory.WATER: (30, True, 12, "篇5 二(一)5(3)：修水不过天"),
    RepairCategory.POWER: (30, True, 4, "篇5 二(一)5(3)：修电不过夜"),
    RepairCategory.DRAIN: (30, True, 4, "篇5 二(一)5(3)：及时疏通；篇2：小修不过夜"),
    RepairCategory.SEPTIC: (30, False, 24, "篇5 二(一)5(3)：及时清理化粪池"),
    RepairCategory.GAS: (30, True, 4, "篇2：小修不过夜；涉及燃气公司的提供其电话"),
    RepairCategory.OTHER: (30, False, 72, "篇2：大修不过三"),
}


def rule_for(category: RepairCategory | str | None) -> RepairRule:
    """The rule in force for ``category``; the text's default if staff removed it."""
    with db.session.no_autoflush:
        rule = db.session.scalar(select(RepairRule).where(RepairRule.category == category))
    if rule is None:
        minutes, eod, hours, basis = DEFAULT_RULES[RepairCategory(category or "other")]
        rule = RepairRule(category=category, arrival_minutes=minutes, end_of_day=eod,
                          hours=hours, basis=basis)
    return rule


# -- emergency repair tickets --------------------------------------------------------


class TicketState(Choices):
    RECEIVED = "received", "已接报"
    ACCEPTED = "accepted", "已受理"
    DISPATCHED = "dispatched", "已派单"
    ARRIVED = "arrived", "已到场"
    COMPLETED = "completed", "已完工"
    CLOSED = "closed", "已回访"
    REFERRED = "referred", "已告知（不在服务范围）"


class ScopeDecision(Choices):
    IN_SCOPE = "in_scope", "属于服务范围"
    OUT_OF_SCOPE = "out_of_scope", "不在服务范围（提供维修咨询）"
    UTILITY = "utility", "供水供电燃气部门报修（提供电话）"
    COMMON_PARTS = "common_parts", "共用部位（维修资金政策咨询）"


class Satisfaction(Choices):
    SATISFIED = "satisfied", "满意"
    BASIC = "basic", "基本满意"
    UNSATISFIED = "unsatisfied", "不满意"


T = TicketState
OPEN_TICKET = (T.RECEIVED, T.ACCEPTED, T.DISPATCHED, T.ARRIVED)
# fixed: a ticket keeps the deadlines of the rules in force when the call came in; once
# it is past 已接报 its call time and category can no longer change them
ARRIVAL = Clock("arrival", "到场时限", start="call_at", due="arrive_due_at", stop="arrived_at",
                rule=lambda t, start: start + timedelta(minutes=rule_for(t.category).arrival_minutes),
                states=(T.RECEIVED, T.ACCEPTED, T.DISPATCHED), inputs=("category",), fixed=True)
COMPLETION = Clock("completion", "完工时限", start="call_at", due="complete_due_at",
                   stop="completed_at", rule=lambda t, start: rule_for(t.category).completion_due(start),
                   states=OPEN_TICKET, inputs=("category",), fixed=True)


class RepairTicket(TimestampMixin, db.Model):
    """报修单: every call to the 24-hour hotline is recorded."""

    __tablename__ = "repair_ticket"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", index=True)
    call_at: Mapped[datetime] = field(DateTime, "来电时间", default=now, index=True)
    caller: Mapped[str] = field(String(40), "报修人")
    phone: Mapped[str] = field(String(40), "联系电话")
    address: Mapped[str | None] = field(String(200), "维修地址", help="楼幢、单元、房号或公共部位")
    category: Mapped[RepairCategory] = field(ChoiceType(RepairCategory), "报修类别", index=True)
    description: Mapped[str] = field(Text, "问题描述")
    state: Mapped[TicketState] = field(ChoiceType(TicketState), "状态", default=TicketState.RECEIVED,
                                       index=True)
    scope_decision: Mapped[ScopeDecision | None] = field(ChoiceType(ScopeDecision), "范围判定")
    advice: Mapped[str | None] = field(Text, "咨询意见/转介电话")
    repair_unit: Mapped[str | None] = field(String(100), "维修单位")
    dispatched_at: Mapped[datetime | None] = field(DateTime, "派单时间")
    arrive_due_at: Mapped[datetime | None] = field(DateTime, "到场期限", index=True)
    arrived_at: Mapped[datetime | None] = field(DateTime, "到场时间")
    complete_due_at: Mapped[datetime | None] = field(DateTime, "完工期限", index=True)
    completed_at: Mapped[datetime | None] = field(DateTime, "完工时间", index=True)
    result: Mapped[str | None] = field(Text, "维修结果")
    fee: Mapped[Decimal | None] = field(Numeric(10, 2), "收费（元）", min=0, max=100000,
                                        help="有偿微利；免费填 0")
    called_back_at: Mapped[datetime | None] = field(DateTime, "回访时间")
    satisfaction: Mapped[Satisfaction | None] = field(ChoiceType(Satisfaction), "报修人满意度")
    callback_note: Mapped[str | None] = field(Text, "回访记录")
    received_by_id: Mapped[int | None] = field(ForeignKey("app_user.id", ondelete="SET NULL"), "接报人")

    estate: Mapped[Estate] = relation("小区")
    received_by: Mapped["User | None"] = relation("接报人")  # noqa: F821

    arrival_overdue = ARRIVAL.flag("到场超时")
    completion_overdue = COMPLETION.flag("完工超时")

    @computed("按时完工", expression=lambda cls: cls.completed_at <= cls.complete_due_at)
    def completed_on_time(self) -> bool:
        return bool(self.completed_at and self.complete_due_at and self.completed_at <= self.complete_due_at)

    __admin__ = ModelAdmin(
        label="应急报修单", category="案件办理", menu_order=10,
        list_columns=("call_at", "estate.name", "category", "caller", "state", "complete_due_at",
                      "arrival_overdue", "completion_overdue"),
        search=("caller", "phone", "address", "description"),
        filters=("state", "category", "estate", "call_at", "arrival_overdue", "completion_overdue",
                 "completed_on_time", "satisfaction"),
        sort="-call_at",
        form_columns=("estate", "call_at", "caller", "phone", "address", "category", "description"),
        details_columns=("estate", "call_at", "caller", "phone", "address", "category", "description",
                         "state", "scope_decision", "advice", "repair_unit", "dispatched_at",
                         "arrive_due_at", "arrived_at", "complete_due_at", "completed_at", "result",
                         "fee", "called_back_at", "satisfaction", "callback_note",
                         "received_by", "completed_on_time"),
        perms=Perms(create=STATION, edit=STATION, delete=(Role.STREET_STAFF,)),
        station=OrgKind.REPAIR_STATION,
        scope="estate_id",
        lookup=("caller",),
        workflow=Workflow(transitions=(
            Transition("accept", "受理（属服务范围）", source=(T.RECEIVED,), target=T.ACCEPTED,
                       roles=STATION),
            Transition("refer", "不在服务范围（告知/转介）", source=(T.RECEIVED,), target=T.REFERRED,
                       roles=STATION, style="secondary",
                       params=(Param("scope_decision", "判定", "choice", choices=ScopeDecision),
                               Param("advice", "咨询意见或转介电话", "textarea"))),
            Transition("dispatch", "派单", source=(T.ACCEPTED,), target=T.DISPATCHED, roles=STATION,
                       params=(Param("repair_unit", "维修单位"),
                               Param("dispatched_at", "派单时间", "datetime"))),
            Transition("arrive", "到场", source=(T.DISPATCHED,), target=T.ARRIVED, roles=STATION,
                       params=(Param("arrived_at", "到场时间", "datetime"),)),
            Transition("complete", "完工", source=(T.ARRIVED,), target=T.COMPLETED, roles=STATION,
                       guard="guard_complete",
                       params=(Param("completed_at", "完工时间", "datetime"),
                               Param("result", "维修结果", "textarea"),
                               Param("fee", "收费（元）", "decimal", help="有偿微利；免费填 0"))),
            Transition("call_back", "回访", source=(T.COMPLETED,), target=T.CLOSED, roles=STATION,
                       params=(Param("called_back_at", "回访时间", "datetime"),
                               Param("satisfaction", "满意度", "choice", choices=Satisfaction),
                               Param("callback_note", "回访记录", "textarea", required=False))),
        ), clocks=(ARRIVAL, COMPLETION)),
    )

    def __str__(self) -> str:
        when = f"{self.call_at:%m-%d %H:%M}" if self.call_at else ""
        return f"报修 {when} {self.caller or ''}".strip()

    def on_create(self, user: object) -> None:
        self.received_by = user

    def guard_complete(self, completed_at: datetime | None = None) -> str | None:
        if self.arrived_at is None:
            return "尚未记录到场，不能完工"
        return None

    # effects
    def refer(self, scope_decision: ScopeDecision, advice: str) -> None:
        if ScopeDecision(scope_decision) == ScopeDecision.IN_SCOPE:
            raise Invalid({"scope_decision": "属于服务范围的请点击「受理」"})
        self.scope_decision, self.advice = scope_decision, advice

    def accept(self) -> None:
        self.scope_decision = ScopeDecision.IN_SCOPE

    def dispatch(self, repair_unit: str, dispatched_at: datetime) -> None:
        self.repair_unit, self.dispatched_at = repair_unit, dispatched_at

    def arrive(self, arrived_at: datetime) -> None:
        self.arrived_at = arrived_at

    def complete(self, completed_at: datetime, result: str, fee: Decimal) -> None:
        self.completed_at, self.result, self.fee = completed_at, result, fee

    def call_back(self, called_back_at: datetime, satisfaction: Satisfaction,
                  callback_note: str | None = None) -> None:
        self.called_back_at, self.satisfaction, self.callback_note = called_back_at, satisfaction, callback_note

    def clean(self) -> None:
        check_times(self, "call_at", "来电时间", [
            ("dispatched_at", "派单时间", "call_at"), ("arrived_at", "到场时间", "dispatched_at"),
            ("completed_at", "完工时间", "arrived_at"), ("called_back_at", "回访时间", "completed_at")])


def check_times(obj: object, first: str, first_label: str,
                later: list[tuple[str, str, str]]) -> None:
    """Times are not in the future, and none is before the one it follows."""
    labels = {first: first_label, **{name: label for name, label, _ in later}}
    errors: dict[str, str] = {}
    limit = now() + TOLERANCE
    for name, label in labels.items():
        value = getattr(obj, name)
        if value is not None and value > limit:
            errors[name] = f"{label}不能晚于现在"
    for name, label, after in later:
        value, before = getattr(obj, name), getattr(obj, after)
        if value is not None and before is not None and value < before and name not in errors:
            errors[name] = f"{label}不能早于{labels[after]}"
    if errors:
        raise Invalid(errors)


# -- mediation cases ---------------------------------------------------------------------


class DisputeKind(Choices):
    """篇5 二(一)6 (1)–(4)."""

    OWNER_COMPANY = "owner_company", "业主、使用人与物业服务企业之间"
    OWNER_OWNER = "owner_owner", "业主与业主、使用人、业主委员会之间"
    OWNER_DEVELOPER = "owner_developer", "业主、使用人与开发建设单位、物业服务企业之间"
    OTHER = "other", "其它物业管理纠纷"


class RefusalReason(Choices):
    """篇5 二(一)6 (5)–(6)."""

    OUTSIDE_POLICY = "outside_policy", "政策规定大调解不予受理"
    SKIPPED_STATION = "skipped_station", "越级上访（未经本站受理调解）"


class CaseState(Choices):
    RECEIVED = "received", "待受理"
    ACCEPTED = "accepted", "调解中"
    REFUSED = "refused", "不予受理"
    AGREED = "agreed", "达成协议"
    FAILED = "failed", "调解不成"


C = CaseState


class MediationCase(TimestampMixin, db.Model):
    __tablename__ = "mediation_case"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", index=True)
    received_at: Mapped[datetime] = field(DateTime, "申请时间", default=now, index=True)
    applicant: Mapped[str] = field(String(100), "申请人")
    applicant_phone: Mapped[str | None] = field(String(40), "申请人电话")
    respondent: Mapped[str] = field(String(100), "被申请人")
    dispute_kind: Mapped[DisputeKind] = field(ChoiceType(DisputeKind), "纠纷类别")
    summary: Mapped[str] = field(Text, "纠纷概要")
    state: Mapped[CaseState] = field(ChoiceType(CaseState), "状态", default=CaseState.RECEIVED, index=True)
    refusal_reason: Mapped[RefusalReason | None] = field(ChoiceType(RefusalReason), "不予受理理由")
    refusal_note: Mapped[str | None] = field(Text, "不予受理说明")
    accepted_at: Mapped[datetime | None] = field(DateTime, "受理时间")
    closed_at: Mapped[datetime | None] = field(DateTime, "结案时间")
    agreement: Mapped[str | None] = field(Text, "调解协议内容")
    outcome_note: Mapped[str | None] = field(Text, "结案说明")

    estate: Mapped[Estate] = relation("小区")
    sessions: Mapped[list["MediationSession"]] = relation(
        "调解记录", back_populates="case", order_by="MediationSession.held_at",
        cascade="all, delete-orphan")

    __admin__ = ModelAdmin(
        label="调解案件", category="案件办理", menu_order=20,
        list_columns=("received_at", "estate.name", "dispute_kind", "applicant", "respondent", "state",
                      "session_count"),
        search=("applicant", "respondent", "summary"),
        filters=("state", "dispute_kind", "estate", "received_at", "refusal_reason"),
        sort="-received_at",
        form_columns=("estate", "received_at", "applicant", "applicant_phone", "respondent",
                      "dispute_kind", "summary"),
        details_columns=("estate", "received_at", "applicant", "applicant_phone", "respondent",
                         "dispute_kind", "summary", "state", "refusal_reason", "refusal_note",
                         "accepted_at", "sessions", "closed_at", "agreement", "outcome_note"),
        inline=("sessions",),
        perms=Perms(create=STATION, edit=STATION, delete=(Role.STREET_STAFF,)),
        station=OrgKind.MEDIATION_STATION,
        scope="estate_id",
        lookup=("applicant",),
        workflow=Workflow(transitions=(
            Transition("accept", "受理", source=(C.RECEIVED,), target=C.ACCEPTED, roles=STATION,
                       params=(Param("accepted_at", "受理时间", "datetime"),)),
            Transition("refuse", "不予受理", source=(C.RECEIVED,), target=C.REFUSED, roles=STATION,
                       style="secondary",
                       params=(Param("refusal_reason", "理由", "choice", choices=RefusalReason),
                               Param("refusal_note", "说明", "textarea"))),
            Transition("agree", "达成协议结案", source=(C.ACCEPTED,), target=C.AGREED, roles=STATION,
                       guard="guard_close", style="success",
                       params=(Param("closed_at", "结案时间", "datetime"),
                               Param("agreement", "调解协议内容", "textarea"))),
            Transition("fail", "调解不成结案", source=(C.ACCEPTED,), target=C.FAILED, roles=STATION,
                       guard="guard_close", style="warning",
                       params=(Param("closed_at", "结案时间", "datetime"),
                               Param("outcome_note", "结案说明", "textarea"))),
        )),
    )

    def __str__(self) -> str:
        return f"{self.applicant or ''}与{self.respondent or ''}纠纷"

    def guard_close(self) -> str | None:
        if not self.sessions:
            return "尚无调解记录，请先记录至少一次调解"
        return None

    def accept(self, accepted_at: datetime) -> None:
        self.accepted_at = accepted_at

    def refuse(self, refusal_reason: RefusalReason, refusal_note: str) -> None:
        self.refusal_reason, self.refusal_note = refusal_reason, refusal_note

    def agree(self, closed_at: datetime, agreement: str) -> None:
        self.closed_at, self.agreement = closed_at, agreement

    def fail(self, closed_at: datetime, outcome_note: str) -> None:
        self.closed_at, self.outcome_note = closed_at, outcome_note

    def clean(self) -> None:
        check_times(self, "received_at", "申请时间", [("accepted_at", "受理时间", "received_at"),
                                                    ("closed_at", "结案时间", "accepted_at")])


class MediationSession(Versioned, db.Model):
    __tablename__ = "mediation_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = field(ForeignKey("mediation_case.id"), "调解案件", index=True)
    held_at: Mapped[datetime] = field(DateTime, "调解时间")
    place: Mapped[str | None] = field(String(100), "地点")
    mediators: Mapped[str | None] = field(String(100), "调解员")
    attendees: Mapped[str | None] = field(String(200), "到场人员")
    notes: Mapped[str | None] = field(Text, "调解情况")

    case: Mapped[MediationCase] = relation("调解案件", back_populates="sessions")

    __admin__ = ModelAdmin(
        label="调解记录", category="案件办理", menu_order=21,
        list_columns=("held_at", "case", "mediators", "place"),
        search=("notes", "mediators"), filters=("held_at",), sort="-held_at",
        form_columns=("case", "held_at", "place", "mediators", "attendees", "notes"),
        perms=Perms(create=STATION, edit=STATION, delete=(Role.STREET_STAFF,)),
        station=OrgKind.MEDIATION_STATION,
        scope="case.estate_id",
    )

    def __str__(self) -> str:
        return f"{self.held_at:%Y-%m-%d %H:%M} 调解" if self.held_at else "调解"

    def clean(self) -> None:
        if self.held_at and self.held_at > now() + TOLERANCE:
            raise Invalid({"held_at": "调解时间不能晚于现在（请在调解后记录）"})
        if self.held_at and self.case and self.case.received_at and self.held_at < self.case.received_at:
            raise Invalid({"held_at": "调解时间不能早于申请时间"})


MediationCase.session_count = figure("调解次数", select(db.func.count(MediationSession.id)).where(
    MediationSession.case_id == MediationCase.id).correlate_except(MediationSession))


# -- complaints and suggestions ----------------------------------------------------------


class Channel(Choices):
    """篇2 信息沟通 1–6."""

    HOTLINE = "hotline", "投诉电话"
    BOX = "box", "意见箱"
    SURVEY = "survey", "意见征求表"
    FORUM = "forum", "座谈会"
    FACE_TO_FACE = "face_to_face", "面谈"


class ComplaintKind(Choices):
    COMPLAINT = "complaint", "投诉"
    SUGGESTION = "suggestion", "建议"


class ComplaintState(Choices):
    RECEIVED = "received", "已受理"
    HANDLING = "handling", "处理中"
    RESOLVED = "resolved", "已办结"
    CLOSED = "closed", "已回访"


FEEDBACK_DAYS = 2          # 篇3：二日内反馈处理结果
FACE_TO_FACE_HOURS = 12    # 篇2：面谈投诉答复不超过12小时
LIMIT_DAYS = 7             # 篇3：一般不超过一周
DISPATCH_MINUTES = 3       # 篇3：三分钟服务
CALLBACK_HOURS = 24        # 篇2：回访时间不超过24小时

K = ComplaintState


def _feedback_due(c: "Complaint", start: datetime) -> datetime:
    if c.postponed_to is not None:
        return c.postponed_to
    if c.channel == Channel.FACE_TO_FACE:
        return start + timedelta(hours=FACE_TO_FACE_HOURS)
    return start + timedelta(days=FEEDBACK_DAYS)


# fixed: set when the complaint is received; only 推迟 (postponed_to) and 办结
# (resolved_at, the call-back's start) move them afterwards
DISPATCH = Clock("dispatch", "三分钟到场", start="received_at", due="dispatch_due_at",
                 stop="dispatched_at", rule=lambda c, start: start + timedelta(minutes=DISPATCH_MINUTES),
                 states=(K.RECEIVED,), fixed=True)
FEEDBACK = Clock("feedback", "承诺反馈期限", start="received_at", due="feedback_due_at",
                 stop="resolved_at", rule=_feedback_due, states=(K.RECEIVED, K.HANDLING),
                 inputs=("channel", "postponed_to"), fixed=True)
WEEK = Clock("week", "最长办理期限（一周）", start="received_at", due="limit_due_at",
             stop="resolved_at", rule=lambda c, start: start + timedelta(days=LIMIT_DAYS),
             states=(K.RECEIVED, K.HANDLING), fixed=True)
COMPLAINT_CALLBACK = Clock("callback", "回访时限", start="resolved_at", due="callback_due_at",
                           stop="called_back_at",
                           rule=lambda c, start: start + timedelta(hours=CALLBACK_HOURS),
                           states=(K.RESOLVED,), fixed=True)

RECEIVERS = (Role.STATION_STAFF, Role.STREET_STAFF, Role.COMMUNITY_STAFF)


class Complaint(TimestampMixin, db.Model):
    """投诉建议: the first receiver is responsible until the person is satisfied."""

    __tablename__ = "complaint"
    id: Mapped[int] = mapped_column(primary_key=True)
    estate_id: Mapped[int] = field(ForeignKey("estate.id"), "小区", index=True)
    received_at: Mapped[datetime] = field(DateTime, "受理时间", default=now, index=True)
    channel: Mapped[Channel] = field(ChoiceType(Channel), "渠道")
    kind: Mapped[ComplaintKind] = field(ChoiceType(ComplaintKind), "类别", default=ComplaintKind.COMPLAINT)
    complainant: Mapped[str | None] = field(String(60), "投诉/建议人", help="意见箱等匿名渠道可留空")
    phone: Mapped[str | None] = field(String(40), "联系电话")
    content: Mapped[str] = field(Text, "内容")
    first_receiver_id: Mapped[int | None] = field(
        ForeignKey("app_user.id", ondelete="SET NULL"), "第一接待人", index=True,
        help="首按责任制：第一接待人负责跟踪直至对方满意")
    state: Mapped[ComplaintState] = field(ChoiceType(ComplaintState), "状态", default=ComplaintState.RECEIVED,
                                          index=True)
    handler: Mapped[str | None] = field(String(60), "处理人")
    dispatch_due_at: Mapped[datetime | None] = field(DateTime, "到场期限")
    dispatched_at: Mapped[datetime | None] = field(DateTime, "安排处理时间")
    feedback_due_at: Mapped[datetime | None] = field(DateTime, "承诺反馈期限", index=True)
    limit_due_at: Mapped[datetime | None] = field(DateTime, "最长办理期限", index=True)
    postponements: Mapped[int] = field(Integer, "推迟次数", default=0)
    postponed_to: Mapped[datetime | None] = field(DateTime, "推迟至")
    postpone_reason: Mapped[str | None] = field(Text, "推迟原因")
    resolved_at: Mapped[datetime | None] = field(DateTime, "办结时间", index=True)
    result: Mapped[str | None] = field(Text, "处理结果")
    is_valid: Mapped[bool | None] = field(Boolean, "有效投诉", help="办结时判定；有效投诉计入投诉率和处理率")
    signed: Mapped[bool] = field(Boolean, "对方签字确认", default=False)
    callback_due_at: Mapped[datetime | None] = field(DateTime, "回访期限", index=True)
    called_back_at: Mapped[datetime | None] = field(DateTime, "回访时间")
    satisfied: Mapped[bool | None] = field(Boolean, "对方满意")
    callback_note: Mapped[str | None] = field(Text, "回访记录")

    estate: Mapped[Estate] = relation("小区")
    first_receiver: Mapped["User | None"] = relation("第一接待人")  # noqa: F821

    dispatch_overdue = DISPATCH.flag("超过三分钟未安排")
    feedback_overdue = FEEDBACK.flag("超过承诺反馈期限")
    week_overdue = WEEK.flag("超过一周未办结")
    callback_overdue = COMPLAINT_CALLBACK.flag("回访超时")

    __admin__ = ModelAdmin(
        label="投诉建议", category="案件办理", menu_order=30,
        list_columns=("received_at", "estate.name", "channel", "kind", "complainant", "state",
                      "feedback_due_at", "feedback_overdue", "week_overdue", "is_valid"),
        search=("complainant", "phone", "content", "result"),
        filters=("state", "channel", "kind", "estate", "received_at", "is_valid", "dispatch_overdue",
                 "feedback_overdue", "week_overdue", "callback_overdue"),
        sort="-received_at",
        form_columns=("estate", "received_at", "channel", "kind", "complainant", "phone", "content",
                      "is_valid"),
        details_columns=("estate", "received_at", "channel", "kind", "complainant", "phone", "content",
                         "first_receiver", "state", "handler", "dispatch_due_at", "dispatched_at",
                         "feedback_due_at", "postponements", "postponed_to", "postpone_reason",
                         "limit_due_at", "resolved_at", "result", "is_valid", "signed",
                         "callback_due_at", "called_back_at", "satisfied", "callback_note"),
        perms=Perms(create=RECEIVERS, edit=RECEIVERS, delete=(Role.STREET_STAFF,)),
        scope="estate_id",
        lookup=("complainant",),
        workflow=Workflow(transitions=(
            Transition("dispatch", "安排处理", source=(K.RECEIVED,), target=K.HANDLING, roles=RECEIVERS,
                       params=(Param("handler", "处理人"),
                               Param("dispatched_at", "安排时间", "datetime"))),
            Transition("postpone", "推迟处理", source=(K.RECEIVED, K.HANDLING), target=K.HANDLING,
                       roles=RECEIVERS, guard="guard_postpone", style="warning",
                       params=(Param("postponed_to", "推迟至", "datetime"),
                               Param("postpone_reason", "推迟原因（已通知对方）", "textarea"))),
            Transition("resolve", "办结", source=(K.HANDLING,), target=K.RESOLVED, roles=RECEIVERS,
                       style="success",
                       params=(Param("resolved_at", "办结时间", "datetime"),
                               Param("result", "处理结果", "textarea"),
                               Param("is_valid", "有效投诉", "bool", required=False),
                               Param("signed", "对方已签字确认", "bool", required=False))),
            Transition("call_back", "回访", source=(K.RESOLVED,), target=K.CLOSED, roles=RECEIVERS,
                       params=(Param("called_back_at", "回访时间", "datetime"),
                               Param("satisfied", "对方满意", "bool", required=False),
                               Param("callback_note", "回访记录", "textarea", required=False))),
        ), clocks=(DISPATCH, FEEDBACK, WEEK, COMPLAINT_CALLBACK)),
    )

    def __str__(self) -> str:
        when = f"{self.received_at:%m-%d %H:%M}" if self.received_at else ""
        return f"{self.kind.label if self.kind else '投诉'} {when} {self.complainant or '匿名'}"

    def on_create(self, user: object) -> None:
        self.first_receiver = user

    def guard_postpone(self) -> str | None:
        if (self.postponements or 0) >= 1:
            return "同一事项不得两次推迟处理（篇3 首按责任制）"
        return None

    def dispatch(self, handler: str, dispatched_at: datetime) -> None:
        self.handler, self.dispatched_at = handler, dispatched_at

    def postpone(self, postponed_to: datetime, postpone_reason: str) -> None:
        # checked when the postponement is made, not on every later write: a postponed
        # complaint that runs late must still be closed and called back
        if postponed_to <= now():
            raise Invalid({"postponed_to": "推迟后的期限应晚于现在"})
        self.postponements = (self.postponements or 0) + 1
        self.postponed_to, self.postpone_reason = postponed_to, postpone_reason

    def resolve(self, resolved_at: datetime, result: str, is_valid: bool = False,
                signed: bool = False) -> None:
        self.resolved_at, self.result = resolved_at, result
        self.is_valid, self.signed = bool(is_valid), bool(signed)

    def call_back(self, called_back_at: datetime, satisfied: bool = False,
                  callback_note: str | None = None) -> None:
        self.called_back_at, self.satisfied, self.callback_note = called_back_at, bool(satisfied), callback_note

    def clean(self) -> None:
        check_times(self, "received_at", "受理时间", [
            ("dispatched_at", "安排处理时间", "received_at"), ("resolved_at", "办结时间", "received_at"),
            ("called_back_at", "回访时间", "resolved_at")])
        if self.postponed_to is not None and self.received_at is not None:
            if self.postponed_to > self.received_at + timedelta(days=LIMIT_DAYS):
                raise Invalid({"postponed_to": f"推迟后也不得超过受理后一周（{LIMIT_DAYS} 天）"})
