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

from sqlalchemy import and_, func, or_, select

from . import db, now
from .declare import Choices
from .casework import Complaint, ComplaintKind, RepairTicket, TicketState
from .estates import Estate
from .funds import fee_collection


class RateCode(Choices):
    """The rates computed here: what a computed indicator's 计算口径 may name."""

    REPAIR_TIMELY = "repair_timely", "房屋零修、急修及时率"
    REPAIR_CALLBACK = "repair_callback", "维修服务回访率"
    COMPLAINT_HANDLED = "complaint_handled", "有效投诉处理率"
    COMPLAINT_RATE = "complaint_rate", "用户有效投诉率"
    FEE_COLLECTION = "fee_collection", "管理费收缴率"


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


def service_rates(estate_ids: Any, start: date, end: date) -> list[Rate]:
    """The four rates for estates ``estate_ids`` (a list or a SELECT) over [start, end]."""
    lo, hi = _span(start, end)
    current = now()
    tickets = select(func.count()).select_from(RepairTicket).where(
        RepairTicket.estate_id.in_(estate_ids), RepairTicket.call_at >= lo, RepairTicket.call_at < hi,
        RepairTicket.state != TicketState.REFERRED.value)
    completed = _count(tickets.where(RepairTicket.completed_at.isnot(None)))
    on_time = _count(tickets.where(RepairTicket.completed_at.isnot(None),
                                   RepairTicket.completed_at <= RepairTicket.complete_due_at))
    open_late = _count(tickets.where(RepairTicket.completed_at.is_(None),
                                     RepairTicket.complete_due_at < current))
    called_back = _count(tickets.where(RepairTicket.completed_at.isnot(None),
                                       RepairTicket.called_back_at.isnot(None)))

    valid = select(func.count()).select_from(Complaint).where(
        Complaint.estate_id.in_(estate_ids), Complaint.received_at >= lo, Complaint.received_at < hi,
        Complaint.kind == ComplaintKind.COMPLAINT.value, Complaint.is_valid.is_(True))
    valid_total = _count(valid)
    valid_resolved = _count(valid.where(Complaint.resolved_at.isnot(None)))
    households = _count(select(func.coalesce(func.sum(Estate.households), 0)).where(
        Estate.id.in_(estate_ids)))

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
