"""Service rates computed from the records (篇3 二 分项指标), for any set of estates and
period. Each rate returns its numerator and denominator, so a figure can be checked.

* 房屋零修、急修及时率 = tickets completed by their deadline
  ÷ (tickets completed + tickets past their deadline and still open);
  tickets received in the period, not counting those referred elsewhere.
* 维修服务回访率 = completed tickets called back ÷ completed tickets (received in the period).
* 有效投诉处理率 = valid complaints resolved ÷ valid complaints (received in the period).
* 用户有效投诉率 = valid complaints (received in the period) ÷ households of the estates.
* 管理费收缴率 = fees received ÷ fees due, over the fee bills of the years the period touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import and_, func, select

from .kernel import db, now
from .casework import Complaint
from .repairs import OPEN_TICKET, RepairTicket
from .estates import Estate
from .fees import fee_collection
from .kernel.scoping import among
from .kernel.softdelete import not_deleted
from .supervision import RateCode


@dataclass
class Rate:
    code: RateCode
    label: str
    numerator: int | Decimal
    denominator: int | Decimal
    formula: str

    @property
    def percent(self) -> Decimal | None:
        if not self.denominator:
            return None
        return (Decimal(self.numerator) * 100 / Decimal(self.denominator)).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP)


def _span(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time.min), datetime.combine(end + timedelta(days=1), time.min)


def _count(stmt: Any) -> int:
    return db.session.scalar(stmt) or 0


def case_counts(estates: Any, start: date, end: date) -> dict[str, int]:
    """The counts behind the rates over [start, end]: whole months from the monthly
    tallies (models.tallies), the days of a partial month at either end from the records.
    The current month counts whole once the period reaches today: nothing is dated later."""
    from .tallies import case_totals, complaint_counts, month_of, next_month, ticket_counts

    first = month_of(start) if start.day == 1 else next_month(month_of(start))
    last = month_of(end)
    if next_month(last) - timedelta(days=1) > end and end < now().date():
        last = month_of(last - timedelta(days=1))  # the last month is partial: read it live
    totals = dict.fromkeys(("tickets", "completed", "on_time", "called_back", "valid_complaints",
                            "valid_resolved"), 0)
    live: list[tuple[date, date]] = []
    if first <= last:
        for key, value in case_totals(estates, first, last).items():
            totals[key] += value
        if start < first:
            live.append((start, first - timedelta(days=1)))
        if next_month(last) <= end:
            live.append((next_month(last), end))
    else:
        live.append((start, end))
    for lo_day, hi_day in live:
        lo, hi = _span(lo_day, hi_day)
        tickets = db.session.execute(ticket_counts(and_(
            among(RepairTicket.estate_id, estates), RepairTicket.call_at >= lo, RepairTicket.call_at < hi))).one()
        complaints = db.session.execute(complaint_counts(and_(
            among(Complaint.estate_id, estates), Complaint.received_at >= lo, Complaint.received_at < hi))).one()
        for key, value in {**tickets._mapping, **complaints._mapping}.items():
            totals[key] += value or 0
    return totals


def service_rates(estate_ids: Any, start: date, end: date) -> list[Rate]:
    """The rates for estates ``estate_ids`` (ids, a SELECT of ids, or ``None`` for all)
    over [start, end]."""
    lo, hi = _span(start, end)
    counts = case_counts(estate_ids, start, end)
    completed, on_time, called_back = counts["completed"], counts["on_time"], counts["called_back"]
    valid_total, valid_resolved = counts["valid_complaints"], counts["valid_resolved"]
    # open and already late: few rows, and "late" moves with the clock, so always live
    open_late = _count(select(func.count()).select_from(RepairTicket).where(
        among(RepairTicket.estate_id, estate_ids), RepairTicket.call_at >= lo, RepairTicket.call_at < hi,
        RepairTicket.state.in_([s.value for s in OPEN_TICKET]), RepairTicket.completed_at.is_(None),
        RepairTicket.complete_due_at < now()))
    households = _count(select(func.coalesce(func.sum(Estate.households), 0)).where(
        among(Estate.id, estate_ids), not_deleted(Estate)))  # "all" means all but the recycle bin

    R = RateCode
    return [
        Rate(R.REPAIR_TIMELY, R.REPAIR_TIMELY.label, on_time, completed + open_late,
             "按时完工数 ÷（已完工数 + 已超期未完工数）"),
        Rate(R.REPAIR_CALLBACK, R.REPAIR_CALLBACK.label, called_back, completed, "已回访数 ÷ 已完工数"),
        Rate(R.COMPLAINT_HANDLED, R.COMPLAINT_HANDLED.label, valid_resolved, valid_total,
             "已办结的有效投诉 ÷ 有效投诉"),
        Rate(R.COMPLAINT_RATE, R.COMPLAINT_RATE.label, valid_total, households, "有效投诉数 ÷ 住户数"),
        Rate(R.FEE_COLLECTION, R.FEE_COLLECTION.label, *fee_collection(estate_ids, start, end),
             "实收 ÷ 应收（所涉年度的物业费收缴记录，元）"),
    ]
