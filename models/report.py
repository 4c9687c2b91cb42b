"""The monthly report for the leadership meeting (篇6 四.1): the month's casework, what is
late now, inspections and rectifications, rollout progress, the last meeting's decisions
— all for the reader's scope, all counted from the records."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from .kernel import db, now
from .kernel.access import may
from .casework import CaseState, Complaint, ComplaintKind, MediationCase
from .repairs import RepairTicket, TicketState
from .kernel.deadlines import late_counts, open_deadlines
from .estates import Estate
from .governance import LeadershipGroup, LeadershipMeeting
from .rollout import RolloutPlan, Target
from .kernel.scoping import scope_clause
from .service_center import patrol_gaps
from .inspections import Inspection, Rectification, RectState


def month_span(month: date) -> tuple[date, date]:
    first = month.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def monthly_report(user: Any, month: date) -> dict[str, Any]:
    """Every section for the reader's scope, and only the sections the reader's role may
    read: a mediator's report has no repair figures, a repair worker's no mediation ones
    (a section left out is ``None``; a count of a kind the role may not read is never made)."""
    first, last = month_span(month)
    lo, hi = datetime.combine(first, datetime.min.time()), datetime.combine(last + timedelta(days=1), datetime.min.time())

    def readable(model: type) -> bool:
        return may(user, model.__admin__, "read")

    def count(model: type, *where: Any) -> int:
        stmt = select(func.count()).select_from(model).where(*where)
        clause = scope_clause(model, user)
        return db.session.scalar(stmt if clause is None else stmt.where(clause)) or 0

    t = RepairTicket
    in_month = (t.call_at >= lo, t.call_at < hi)
    c = Complaint
    c_month = (c.received_at >= lo, c.received_at < hi)
    m = MediationCase
    m_month = (m.received_at >= lo, m.received_at < hi)
    casework = []
    if readable(t):
        casework.append(
            ("应急报修", [("接报", count(t, *in_month)), ("告知/转介", count(t, *in_month, t.state == TicketState.REFERRED.value)),
                      ("已完工", count(t, *in_month, t.completed_at.isnot(None))),
                      ("按时完工", count(t, *in_month, t.completed_at.isnot(None), t.completed_at <= t.complete_due_at)),
                      ("已回访", count(t, *in_month, t.called_back_at.isnot(None)))]))
    if readable(c):
        casework.append(
            ("投诉建议", [("受理", count(c, *c_month)), ("其中投诉", count(c, *c_month, c.kind == ComplaintKind.COMPLAINT.value)),
                      ("有效投诉", count(c, *c_month, c.is_valid.is_(True))),
                      ("已办结", count(c, *c_month, c.resolved_at.isnot(None))),
                      ("已回访", count(c, *c_month, c.called_back_at.isnot(None)))]))
    if readable(m):
        casework.append(
            ("矛盾调解", [("申请", count(m, *m_month)), ("不予受理", count(m, *m_month, m.state == CaseState.REFUSED.value)),
                      ("达成协议", count(m, *m_month, m.state == CaseState.AGREED.value)),
                      ("调解不成", count(m, *m_month, m.state == CaseState.FAILED.value))]))
    # late items are already limited to the kinds the role may read (models.kernel.deadlines)
    late = [d for d in open_deadlines(user, per_clock=30) if d.late is not None][:30]
    late_total = sum(n for _, _, n in late_counts(user))

    i = Inspection
    i_month = (i.inspected_on >= first, i.inspected_on <= last)
    r = Rectification
    supervision = []
    if readable(i):
        supervision += [("监督检查", count(i, *i_month)), ("其中保洁考核", count(i, *i_month, i.kind == "cleaning"))]
    if readable(r):
        supervision += [
            ("本月提出整改", count(r, r.raised_on >= first, r.raised_on <= last)),
            ("本月验证通过", count(r, r.verified_on >= first, r.verified_on <= last)),
            ("未结整改", count(r, r.state != RectState.VERIFIED.value)),
            ("其中逾期", count(r, r.overdue)),
        ]
    from .kernel.scoping import ids_in_scope
    from .service_center import Patrol

    yesterday = now().date() - timedelta(days=1)  # today is not over yet
    gaps = None
    if readable(Patrol):
        gaps = patrol_gaps(ids_in_scope(Estate, user), first, min(last, yesterday)) if first <= yesterday else []

    def scoped(stmt: Any, model: type) -> Any:
        clause = scope_clause(model, user)
        return stmt if clause is None else stmt.where(clause)

    plans = db.session.scalars(scoped(select(RolloutPlan).order_by(RolloutPlan.id), RolloutPlan)).all() \
        if readable(RolloutPlan) else None
    targets = db.session.scalars(scoped(select(Target).order_by(Target.seq), Target)).all() \
        if readable(Target) else None
    meeting = db.session.scalar(scoped(select(LeadershipMeeting).join(LeadershipMeeting.group)
                                       .where(LeadershipMeeting.held_on <= last)
                                       .order_by(LeadershipMeeting.held_on.desc()), LeadershipGroup)) \
        if readable(LeadershipMeeting) else None
    return {"month": first, "last": last, "casework": casework, "late": late, "late_total": late_total,
            "supervision": supervision, "patrol_gap_days": None if gaps is None else len(gaps),
            "plans": plans, "targets": targets, "meeting": meeting,
            "meetings_readable": readable(LeadershipMeeting)}
