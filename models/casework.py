"""Casework of the stations besides repairs (models.repairs), each case on a clock
(篇5 二(一)4–6; 篇2 信息沟通; 篇3 服务特色).

* Mediation cases (矛盾投诉调解站): the four kinds of dispute; accepted, or refused
  with the reason (outside policy; skipped this station — 越级).
* Complaints and suggestions (首按责任制): the first receiver is responsible until
  closure; dispatch within 3 minutes; feedback promised within 2 days (a face-to-face
  complaint within 12 hours), never over a week; at most one postponement; call-back
  within 24 hours of closure.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import (Boolean, DateTime, ForeignKey, Integer, String, Text,
                        select)
from sqlalchemy.orm import Mapped, mapped_column

from .kernel import TimestampMixin, Versioned, db, now
from .kernel.declare import ChoiceType, Choices, Invalid, ModelAdmin, Perms, field, figure, relation
from .accounts import Role
from .estates import Estate
from .governance import OrgKind
from .kernel.workflow import Clock, Param, Transition, Workflow
from .repairs import STATION, TOLERANCE, check_times

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

    # case clocks are on the 超时预警 page (and home's late chart), not counted again
    dispatch_overdue = DISPATCH.flag("超过三分钟未安排", attention=False)
    feedback_overdue = FEEDBACK.flag("超过承诺反馈期限", attention=False)
    week_overdue = WEEK.flag("超过一周未办结", attention=False)
    callback_overdue = COMPLAINT_CALLBACK.flag("回访超时", attention=False)

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
