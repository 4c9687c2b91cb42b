"""Summaries behind the city-wide figures, kept in step with the records they count.

The service rates of a whole city over a year read millions of tickets and complaints;
the latest inspection reading of every estate reads every inspection. Two summary
tables answer those in milliseconds instead:

* :class:`CaseTally` — per estate and month, the counts the rates are made of
  (tickets received, completed, on time, called back; valid complaints, resolved);
* :class:`LatestReading` — per estate and indicator, the latest reading.

They are caches of figures computed *from the records*, never typed in: every flush that
touches a ticket, complaint, inspection or reading recomputes the affected rows from the
records themselves (not by adding deltas, so they cannot drift), and ``flask tallies
rebuild`` recomputes everything (bulk loads call it). ``tests/test_tallies.py`` checks
them against the records after random histories of writes.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import chain
from typing import Any, Iterable

from sqlalchemy import (Date, ForeignKey, Integer, Numeric, and_, case, delete, event, func, insert,
                        literal, select)
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapped, Session, mapped_column

from . import db


class CaseTally(db.Model):
    __tablename__ = "case_tally"
    estate_id: Mapped[int] = mapped_column(ForeignKey("estate.id", ondelete="CASCADE"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # the first day of the month
    tickets: Mapped[int] = mapped_column(Integer, default=0)       # received, not referred elsewhere
    completed: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    called_back: Mapped[int] = mapped_column(Integer, default=0)   # of the completed
    valid_complaints: Mapped[int] = mapped_column(Integer, default=0)
    valid_resolved: Mapped[int] = mapped_column(Integer, default=0)


class LatestReading(db.Model):
    __tablename__ = "latest_reading"
    estate_id: Mapped[int] = mapped_column(ForeignKey("estate.id", ondelete="CASCADE"), primary_key=True)
    indicator_id: Mapped[int] = mapped_column(ForeignKey("indicator.id", ondelete="CASCADE"),
                                              primary_key=True, index=True)
    inspected_on: Mapped[date] = mapped_column(Date)
    value: Mapped[Any] = mapped_column(Numeric(10, 2))


def month_of(value: date | datetime) -> date:
    return date(value.year, value.month, 1)


def next_month(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1)


def span(month: date) -> tuple[datetime, datetime]:
    return datetime.combine(month, time.min), datetime.combine(next_month(month), time.min)


# -- what a tally counts, as SQL over the records ------------------------------------------------


def ticket_counts(where: Any) -> Any:
    from .casework import RepairTicket as T, TicketState

    completed = T.completed_at.isnot(None)
    return select(
        func.count().label("tickets"),
        func.count(T.completed_at).label("completed"),
        func.coalesce(func.sum(case((and_(completed, T.completed_at <= T.complete_due_at), 1), else_=0)), 0)
        .label("on_time"),
        func.coalesce(func.sum(case((and_(completed, T.called_back_at.isnot(None)), 1), else_=0)), 0)
        .label("called_back"),
    ).where(T.state != TicketState.REFERRED.value, where)


def complaint_counts(where: Any) -> Any:
    from .casework import Complaint as C, ComplaintKind

    return select(
        func.count().label("valid_complaints"),
        func.count(C.resolved_at).label("valid_resolved"),
    ).where(C.kind == ComplaintKind.COMPLAINT.value, C.is_valid.is_(True), where)


def _refresh_cases(connection: Any, pairs: Iterable[tuple[int, date]]) -> None:
    from .casework import Complaint, RepairTicket

    table = CaseTally.__table__
    for estate_id, month in pairs:
        lo, hi = span(month)
        t = connection.execute(ticket_counts(and_(RepairTicket.estate_id == estate_id,
                                                  RepairTicket.call_at >= lo, RepairTicket.call_at < hi))).one()
        c = connection.execute(complaint_counts(and_(Complaint.estate_id == estate_id,
                                                     Complaint.received_at >= lo, Complaint.received_at < hi))).one()
        connection.execute(delete(table).where(table.c.estate_id == estate_id, table.c.month == month))
        if t.tickets or c.valid_complaints:
            connection.execute(insert(table).values(estate_id=estate_id, month=month, **t._mapping, **c._mapping))


def _latest_select(where: Any) -> Any:
    """The latest reading per (estate, indicator) among the rows ``where`` selects."""
    from .supervision import Inspection, InspectionItem

    ranked = (
        select(Inspection.estate_id, InspectionItem.indicator_id, Inspection.inspected_on, InspectionItem.value,
               func.row_number().over(partition_by=(Inspection.estate_id, InspectionItem.indicator_id),
                                      order_by=(Inspection.inspected_on.desc(), InspectionItem.id.desc()))
               .label("rank"))
        .join(Inspection, Inspection.id == InspectionItem.inspection_id)
        .where(where).subquery())
    return select(ranked.c.estate_id, ranked.c.indicator_id, ranked.c.inspected_on, ranked.c.value) \
        .where(ranked.c.rank == 1)


def _refresh_readings(connection: Any, estates: Iterable[int]) -> None:
    from .supervision import Inspection

    table = LatestReading.__table__
    for estate_id in estates:
        connection.execute(delete(table).where(table.c.estate_id == estate_id))
        connection.execute(insert(table).from_select(
            ["estate_id", "indicator_id", "inspected_on", "value"],
            _latest_select(Inspection.estate_id == estate_id)))


def rebuild(connection: Any) -> None:
    """Recompute every summary from the records (after bulk loads and migrations)."""
    from .casework import Complaint, RepairTicket
    from .supervision import Inspection

    connection.execute(delete(CaseTally.__table__))
    pairs = set()
    for model, column in ((RepairTicket, RepairTicket.call_at), (Complaint, Complaint.received_at)):
        month = _month_expression(connection, column)
        pairs |= {(e, _as_date(m)) for e, m in connection.execute(
            select(model.estate_id, month).group_by(model.estate_id, month))}
    _bulk_cases(connection, pairs)
    connection.execute(delete(LatestReading.__table__))
    connection.execute(insert(LatestReading.__table__).from_select(
        ["estate_id", "indicator_id", "inspected_on", "value"], _latest_select(Inspection.id.isnot(None))))


def _bulk_cases(connection: Any, pairs: set[tuple[int, date]]) -> None:
    """All tallies at once: one grouped pass over each table, not one query per pair."""
    from .casework import Complaint, RepairTicket

    rows: dict[tuple[int, date], dict[str, int]] = {p: {} for p in pairs}
    for model, column, counts in ((RepairTicket, RepairTicket.call_at, ticket_counts),
                                  (Complaint, Complaint.received_at, complaint_counts)):
        month = _month_expression(connection, column).label("month")
        stmt = counts(literal(True)).add_columns(model.estate_id, month).group_by(model.estate_id, month)
        for row in connection.execute(stmt):
            values = dict(row._mapping)
            key = (values.pop("estate_id"), _as_date(values.pop("month")))
            rows.setdefault(key, {}).update(values)
    batch = [{"estate_id": e, "month": m, "tickets": 0, "completed": 0, "on_time": 0, "called_back": 0,
              "valid_complaints": 0, "valid_resolved": 0, **v} for (e, m), v in rows.items() if v]
    for i in range(0, len(batch), 5000):
        connection.execute(insert(CaseTally.__table__), batch[i:i + 5000])


def _month_expression(connection: Any, column: Any) -> Any:
    if connection.dialect.name == "postgresql":
        return func.cast(func.date_trunc("month", column), Date)
    return func.date(column, "start of month")


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# -- kept in step with every flush -----------------------------------------------------------


def _history(obj: Any, names: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """The values of ``names`` now and, where changed, before."""
    state = sa_inspect(obj)
    now_values = tuple(getattr(obj, n) for n in names)
    before = []
    for n in names:
        history = state.attrs[n].history
        before.append(history.deleted[0] if history.deleted else getattr(obj, n))
    return [now_values, tuple(before)]


@event.listens_for(Session, "after_flush")
def _keep_in_step(session: Session, flush_context: Any) -> None:
    from .casework import Complaint, RepairTicket
    from .supervision import Inspection, InspectionItem

    cases: set[tuple[int, date]] = set()
    estates: set[int] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, RepairTicket) or isinstance(obj, Complaint):
            at = "call_at" if isinstance(obj, RepairTicket) else "received_at"
            for estate_id, when in _history(obj, ("estate_id", at)):
                if estate_id is not None and when is not None:
                    cases.add((estate_id, month_of(when)))
        elif isinstance(obj, Inspection):
            estates |= {e for (e,) in _history(obj, ("estate_id",)) if e is not None}
        elif isinstance(obj, InspectionItem):
            inspection = obj.inspection if obj.inspection is not None else (
                session.get(Inspection, obj.inspection_id) if obj.inspection_id else None)
            if inspection is not None and inspection.estate_id is not None:
                estates.add(inspection.estate_id)
            for (old,) in _history(obj, ("inspection_id",)):
                if old is not None and old != obj.inspection_id:
                    previous = session.get(Inspection, old)
                    if previous is not None:
                        estates.add(previous.estate_id)
    if cases or estates:
        connection = session.connection()
        _refresh_cases(connection, sorted(cases))
        _refresh_readings(connection, sorted(estates))


# -- reading them ----------------------------------------------------------------------------------


def case_totals(estates: Any, first: date, last: date) -> dict[str, int]:
    """Summed tallies of ``estates`` (ids, a SELECT of ids, or ``None`` for all) for the
    months ``first`` .. ``last`` (both the first day of a month)."""
    t = CaseTally
    columns = ("tickets", "completed", "on_time", "called_back", "valid_complaints", "valid_resolved")
    stmt = select(*[func.coalesce(func.sum(getattr(t, c)), 0) for c in columns]).where(
        t.month >= first, t.month <= last)
    if estates is not None:
        stmt = stmt.where(t.estate_id.in_(estates))
    return dict(zip(columns, db.session.execute(stmt).one()))
