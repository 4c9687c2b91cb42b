"""Emergency repairs (应急维修服务站, 篇5 二(一)5): the 24-hour hotline's tickets, each on a
clock — on site within 30 minutes; water fixed within the day (修水不过天), power not
left overnight (修电不过夜) — and the time limits per category, which are data
(:class:`RepairRule`) staff can edit; a ticket keeps the deadlines computed when it was
received. Called back with the caller's satisfaction — not every ticket (篇3 sets
维修服务回访率 ≥ 30%), so there is no call-back clock.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, Numeric, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from .accounts import Role
from .estates import Estate
from .governance import OrgKind
from .kernel import TimestampMixin, db, now
from .kernel.declare import ChoiceType, Choices, Invalid, ModelAdmin, Perms, computed, field, relation
from .kernel.workflow import Clock, Param, Transition, Workflow


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

    # case clocks are on the 超时预警 page (and home's late chart), not counted again
    arrival_overdue = ARRIVAL.flag("到场超时", attention=False)
    completion_overdue = COMPLETION.flag("完工超时", attention=False)

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
