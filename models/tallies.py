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

from .kernel import db


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
    from .repairs import RepairTicket as T, TicketState

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
    from .casework import Complaint
    from .repairs import RepairTicket

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
    from .inspections import Inspection, InspectionItem

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
    from .inspections import Inspection

    table = LatestReading.__table__
    for estate_id in estates:
        connection.execute(delete(table).where(table.c.estate_id == estate_id))
        connection.execute(insert(table).from_select(
            ["estate_id", "indicator_id", "inspected_on", "value"],
            _latest_select(Inspection.estate_id == estate_id)))


def rebuild(connection: Any) -> None:
    """Recompute every summary from the records (after bulk loads and migrations): one
    grouped pass over each table, not one query per estate and month."""
    from .inspections import Inspection

    connection.execute(delete(CaseTally.__table__))
    batch = [{"estate_id": e, "month": m, **v} for (e, m), v in counted_cases(connection).items()]
    for i in range(0, len(batch), 5000):
        connection.execute(insert(CaseTally.__table__), batch[i:i + 5000])
    connection.execute(delete(LatestReading.__table__))
    connection.execute(insert(LatestReading.__table__).from_select(
        ["estate_id", "indicator_id", "inspected_on", "value"], _latest_select(Inspection.id.isnot(None))))


CASE_COUNTS = ("tickets", "completed", "on_time", "called_back", "valid_complaints", "valid_resolved")


def counted_cases(connection: Any) -> dict[tuple[int, date], dict[str, int]]:
    """Every (estate, month) tally as the records say it now (only those counting something)."""
    from .casework import Complaint
    from .repairs import RepairTicket

    rows: dict[tuple[int, date], dict[str, int]] = {}
    for model, column, counts in ((RepairTicket, RepairTicket.call_at, ticket_counts),
                                  (Complaint, Complaint.received_at, complaint_counts)):
        month = _month_expression(connection, column).label("month")
        stmt = counts(literal(True)).add_columns(model.estate_id, month).group_by(model.estate_id, month)
        for row in connection.execute(stmt):
            values = dict(row._mapping)
            key = (values.pop("estate_id"), _as_date(values.pop("month")))
            rows.setdefault(key, dict.fromkeys(CASE_COUNTS, 0)).update(
                {k: int(v) for k, v in values.items()})
    return {k: v for k, v in rows.items() if v["tickets"] or v["valid_complaints"]}


def case_drift(connection: Any) -> list[tuple[tuple[int, date], dict | None, dict | None]]:
    """Where the kept case tallies differ from a count over the records: (estate and
    month, kept, counted) — empty when they are in step. Only reads (``flask tallies
    check``, the load test after concurrent writes)."""
    t = CaseTally.__table__
    kept = {(r.estate_id, _as_date(r.month)): {c: r._mapping[c] for c in CASE_COUNTS}
            for r in connection.execute(select(t))}
    counted = counted_cases(connection)
    return [(key, kept.get(key), counted.get(key)) for key in sorted(set(kept) | set(counted))
            if kept.get(key) != counted.get(key)]


def _month_expression(connection: Any, column: Any) -> Any:
    if connection.dialect.name == "postgresql":
        return func.cast(func.date_trunc("month", column), Date)
    return func.date(column, "start of month")


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# -- kept in step with every flush -----------------------------------------------------------
#
# What a flush touches is read from the database itself, before the flush (where the rows
# were) and after it (where they are now) — not from the objects, whose old values may
# be unknown (expired by a commit) and whose relationships may be stale.


def _tallied(session: Session, groups: Any) -> dict[type, set[Any]]:
    """Ids of the tallied rows among ``groups`` of session objects, by model."""
    from .casework import Complaint
    from .repairs import RepairTicket
    from .inspections import Inspection, InspectionItem

    ids: dict[type, set[Any]] = {}
    for obj in chain(*groups):
        for model in (RepairTicket, Complaint, Inspection, InspectionItem):
            if isinstance(obj, model):
                # a new row has its key on the object during the flush, not yet an identity
                key = sa_inspect(obj).mapper.primary_key_from_instance(obj)[0]
                if key is not None:
                    ids.setdefault(model, set()).add(key)
    return ids


def _keys(connection: Any, ids: dict[type, set[Any]]) -> tuple[set[tuple[int, date]], set[int]]:
    """(estate, month) pairs of the cases and estates of the readings with these ids,
    as the database holds them now."""
    from .casework import Complaint
    from .repairs import RepairTicket
    from .inspections import Inspection, InspectionItem

    cases: set[tuple[int, date]] = set()
    estates: set[int] = set()
    for model, column in ((RepairTicket, RepairTicket.call_at), (Complaint, Complaint.received_at)):
        if ids.get(model):
            for estate_id, when in connection.execute(select(model.estate_id, column).where(
                    model.id.in_(ids[model]))):
                cases.add((estate_id, month_of(when)))
    if ids.get(Inspection):
        estates |= set(connection.execute(select(Inspection.estate_id).where(
            Inspection.id.in_(ids[Inspection]))).scalars())
    if ids.get(InspectionItem):
        estates |= set(connection.execute(select(Inspection.estate_id).join(
            InspectionItem, InspectionItem.inspection_id == Inspection.id).where(
            InspectionItem.id.in_(ids[InspectionItem]))).scalars())
    return cases, estates


@event.listens_for(Session, "before_flush")
def _where_they_were(session: Session, flush_context: Any, instances: Any) -> None:
    ids = _tallied(session, (session.dirty, session.deleted))
    if ids:
        cases, estates = _keys(session.connection(), ids)
        pending = session.info.setdefault("tallies_before", (set(), set()))
        pending[0].update(cases)
        pending[1].update(estates)


@event.listens_for(Session, "after_flush")
def _keep_in_step(session: Session, flush_context: Any) -> None:
    cases, estates = session.info.pop("tallies_before", (set(), set()))
    ids = _tallied(session, (session.new, session.dirty))
    if ids:
        now_cases, now_estates = _keys(session.connection(), ids)
        cases |= now_cases
        estates |= now_estates
    if cases or estates:
        connection = session.connection()
        _lock_estates(connection, {e for e, _ in cases} | estates)
        _refresh_cases(connection, sorted(cases))
        _refresh_readings(connection, sorted(estates))


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop("tallies_before", None)


def _lock_estates(connection: Any, estates: set[int]) -> None:
    """On PostgreSQL, one transaction at a time recounts an estate: a second one waits
    until the first commits, and its recount (a new statement) then sees the first's rows
    — two tickets saved at once for one estate are both counted. In order, so two
    transactions never wait for each other. SQLite writes one transaction at a time."""
    if connection.dialect.name != "postgresql":
        return
    for estate_id in sorted(estates):
        connection.execute(select(func.pg_advisory_xact_lock(TALLY_LOCK, estate_id)))


TALLY_LOCK = 7231  # the advisory-lock namespace of the tallies


# -- reading them ----------------------------------------------------------------------------------


def case_totals(estates: Any, first: date, last: date) -> dict[str, int]:
    """Summed tallies of ``estates`` (ids, a SELECT of ids, or ``None`` for all) for the
    months ``first`` .. ``last`` (both the first day of a month)."""
    from .kernel.scoping import among

    t = CaseTally
    stmt = select(*[func.coalesce(func.sum(getattr(t, c)), 0) for c in CASE_COUNTS]).where(
        t.month >= first, t.month <= last, among(t.estate_id, estates))
    return dict(zip(CASE_COUNTS, db.session.execute(stmt).one()))
