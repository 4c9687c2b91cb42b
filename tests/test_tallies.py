"""The summaries behind the rates (models.tallies) stay equal to the records they count.

* A random history of writes — tickets and complaints created, moved between estates and
  months, worked on, reopened, deleted; inspections and their readings added, changed,
  moved and deleted; flushes, commits and rollbacks in between — never leaves a monthly
  tally or a latest reading different from what the records say, and ``rebuild()``
  produces exactly the tables the flush hook keeps.
* ``service_rates`` and ``standing`` read the summaries for whole months and the records
  for partial ones: on a hand-made estate with known counts they give the exact figures a
  direct count over the records gives, for every kind of period.
* Through the screens: a ticket created and worked through its transitions moves its
  month's tally by exactly one at each step.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from models import db, now
from models.casework import Channel, Complaint, ComplaintKind, ComplaintState
from models.repairs import RepairCategory, RepairTicket, TicketState
from models.estates import Estate, EstateClass
from models.governance import Community
from models.rates import RateCode, case_counts, service_rates
from models.standing import measured, standing
from models.supervision import Indicator, IndicatorSource
from models.inspections import Inspection, InspectionItem, InspectionKind, ReportState
from models.tallies import CaseTally, LatestReading, month_of, next_month, rebuild
from models.kernel.workflow import _set_by_transition

from .helpers import flashes, row_id, transition

# Hypothesis keeps a cache of its own; keep it out of the working tree
set_hypothesis_home_dir(os.path.join(tempfile.gettempdir(), "wuye-hypothesis"))

COUNTS = ("tickets", "completed", "on_time", "called_back", "valid_complaints", "valid_resolved")


# -- what the summaries should say, computed here from the records ------------------------------


def ticket_rows() -> list[Any]:
    T = RepairTicket
    return db.session.execute(select(T.id, T.estate_id, T.call_at, T.state, T.completed_at,
                                     T.complete_due_at, T.called_back_at)).all()


def complaint_rows() -> list[Any]:
    C = Complaint
    return db.session.execute(select(C.id, C.estate_id, C.received_at, C.kind, C.is_valid,
                                     C.resolved_at)).all()


def count(tickets: list[Any], complaints: list[Any]) -> dict[str, int]:
    """The six figures of a tally, counted one record at a time in Python."""
    out = dict.fromkeys(COUNTS, 0)
    for t in tickets:
        if t.state == TicketState.REFERRED:
            continue
        out["tickets"] += 1
        if t.completed_at is not None:
            out["completed"] += 1
            if t.complete_due_at is not None and t.completed_at <= t.complete_due_at:
                out["on_time"] += 1
            if t.called_back_at is not None:
                out["called_back"] += 1
    for c in complaints:
        if c.kind == ComplaintKind.COMPLAINT and c.is_valid is True:
            out["valid_complaints"] += 1
            if c.resolved_at is not None:
                out["valid_resolved"] += 1
    return out


def direct_tallies() -> dict[tuple[int, date], tuple[int, ...]]:
    tickets: dict[tuple[int, date], list[Any]] = {}
    complaints: dict[tuple[int, date], list[Any]] = {}
    for t in ticket_rows():
        tickets.setdefault((t.estate_id, month_of(t.call_at)), []).append(t)
    for c in complaint_rows():
        complaints.setdefault((c.estate_id, month_of(c.received_at)), []).append(c)
    out = {}
    for key in set(tickets) | set(complaints):
        figures = count(tickets.get(key, []), complaints.get(key, []))
        if figures["tickets"] or figures["valid_complaints"]:  # nothing counted: no tally
            out[key] = tuple(figures[c] for c in COUNTS)
    return out


def kept_tallies() -> dict[tuple[int, date], tuple[int, ...]]:
    t = CaseTally
    rows = db.session.execute(select(t.estate_id, t.month, *[getattr(t, c) for c in COUNTS])).all()
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def direct_latest() -> dict[tuple[int, int], tuple[date, Decimal]]:
    rows = db.session.execute(
        select(Inspection.estate_id, InspectionItem.indicator_id, Inspection.inspected_on, InspectionItem.id,
               InspectionItem.value).join(Inspection, Inspection.id == InspectionItem.inspection_id)).all()
    best: dict[tuple[int, int], tuple[date, int, Decimal]] = {}
    for estate_id, indicator_id, day, item_id, value in rows:
        key = (estate_id, indicator_id)
        if key not in best or (day, item_id) > best[key][:2]:
            best[key] = (day, item_id, value)
    return {k: (day, Decimal(value)) for k, (day, _, value) in best.items()}


def kept_latest() -> dict[tuple[int, int], tuple[date, Decimal]]:
    r = LatestReading
    return {(e, i): (day, Decimal(v)) for e, i, day, v in
            db.session.execute(select(r.estate_id, r.indicator_id, r.inspected_on, r.value))}


def same(kept: dict, computed: dict, what: str) -> None:
    if kept != computed:
        keys = sorted(set(kept) | set(computed), key=str)
        diff = [(k, kept.get(k), computed.get(k)) for k in keys if kept.get(k) != computed.get(k)]
        raise AssertionError(f"{what} differ from the records — (key, kept, computed): {diff[:8]}"
                             f"{' …' if len(diff) > 8 else ''}")


def assert_in_step() -> None:
    db.session.flush()
    same(kept_tallies(), direct_tallies(), "case tallies")
    same(kept_latest(), direct_latest(), "latest readings")


def rebuilt() -> tuple[dict, dict]:
    """The tables as ``rebuild()`` makes them, leaving the kept ones as they were."""
    db.session.flush()
    savepoint = db.session.begin_nested()
    try:
        rebuild(db.session.connection())
        return kept_tallies(), kept_latest()
    finally:
        savepoint.rollback()


def assert_rebuild_agrees() -> None:
    tallies, latest = rebuilt()
    same(kept_tallies(), tallies, "incrementally kept tallies vs rebuild()")
    same(kept_latest(), latest, "incrementally kept latest readings vs rebuild()")


def test_the_demo_world_starts_in_step(ctx):
    tallies = kept_tallies()
    assert len(tallies) > 50 and len(kept_latest()) > 5  # the check below compares something
    assert sum(v[0] for v in tallies.values()) == sum(
        1 for t in ticket_rows() if t.state != TicketState.REFERRED)
    assert_in_step()
    assert_rebuild_agrees()


# -- random histories of writes ------------------------------------------------------------------


TICKET_LEVELS = ("received", "accepted", "dispatched", "arrived", "completed", "closed", "referred")
TICKET_STATES = {"received": TicketState.RECEIVED, "accepted": TicketState.ACCEPTED,
                 "dispatched": TicketState.DISPATCHED, "arrived": TicketState.ARRIVED,
                 "completed": TicketState.COMPLETED, "closed": TicketState.CLOSED,
                 "referred": TicketState.REFERRED}
COMPLAINT_LEVELS = ("received", "handling", "resolved", "closed")


def _capped(moment: datetime) -> datetime:
    return min(moment, now())


def set_ticket_progress(t: RepairTicket, level: str, hours: int) -> None:
    """Put a ticket at ``level`` of its workflow, with times in order and none in the future
    (written straight onto the model: the flush hook must follow whatever path writes)."""
    n = TICKET_LEVELS.index(level) if level != "referred" else -1
    call = t.call_at
    t.state = TICKET_STATES[level]
    t.dispatched_at = _capped(call + timedelta(minutes=5)) if n >= 2 else None
    t.arrived_at = _capped(call + timedelta(minutes=20)) if n >= 3 else None
    t.completed_at = _capped(call + timedelta(hours=hours)) if n >= 4 else None
    t.called_back_at = _capped(call + timedelta(hours=hours + 1)) if n >= 5 else None


def set_complaint_progress(c: Complaint, level: str, hours: int) -> None:
    n = COMPLAINT_LEVELS.index(level)
    # 办结时间 starts the fixed call-back clock: after 已受理 only a transition may set it,
    # so say these writes are one (what models.kernel.workflow.perform does)
    _set_by_transition(c).update({"resolved_at", "received_at"})
    c.state = ComplaintState(level)
    c.dispatched_at = _capped(c.received_at + timedelta(minutes=2)) if n >= 1 else None
    c.resolved_at = _capped(c.received_at + timedelta(hours=hours)) if n >= 2 else None
    c.called_back_at = _capped(c.received_at + timedelta(hours=hours + 2)) if n >= 3 else None


def month_start(months_back: int) -> date:
    month = month_of(now())
    for _ in range(months_back):
        month = month_of(month - timedelta(days=1))
    return month


def _boundary(months_back: int, at_end: bool) -> datetime:
    """The first instant of a month, or its last second: where a month is easy to get wrong."""
    month = month_start(months_back)
    moment = (datetime.combine(next_month(month), time.min) - timedelta(seconds=1) if at_end
              else datetime.combine(month, time.min))
    return min(moment, now() - timedelta(minutes=1))


WHEN = st.one_of(
    st.builds(lambda days, minutes: now() - timedelta(days=days, minutes=minutes),
              st.integers(0, 120), st.integers(1, 1439)),
    st.builds(_boundary, st.integers(0, 4), st.booleans()),
)
THEN = st.sampled_from(("keep", "flush", "commit"))
PICK = st.integers(min_value=0, max_value=10_000)
HOURS = st.integers(1, 100)  # a repair may be quick or days late
VALUE = st.integers(0, 10000).map(lambda cents: Decimal(cents) / 100)


def _alive(obj: Any) -> bool:
    state = sa_inspect(obj)
    return (state.pending or state.persistent) and obj not in db.session.deleted


class WriteHistory(RuleBasedStateMachine):
    """Random writes through the ORM session; after each flush or commit the summaries
    must equal what the records say. Each example runs in a savepoint of its own."""

    estates: list[int] = []
    indicators: list[int] = []
    days: list[date] = []

    def __init__(self) -> None:
        super().__init__()
        db.session.remove()
        self.savepoint = db.session.get_bind().begin_nested()
        self.pending = False
        self.tickets: list[RepairTicket] = list(db.session.scalars(select(RepairTicket)))
        self.complaints: list[Complaint] = list(db.session.scalars(select(Complaint)))
        self.inspections: list[Inspection] = list(db.session.scalars(
            select(Inspection).where(Inspection.state == ReportState.DRAFT)))
        self.items: list[InspectionItem] = [i for x in self.inspections for i in x.items]

    def teardown(self) -> None:
        try:
            db.session.remove()
        finally:
            if self.savepoint.is_active:
                self.savepoint.rollback()

    # picking rows: only live ones, loaded before they are written to (see the tests
    # at the end for what happens when an expired row is written without being read)
    def _pick(self, rows: list[Any], i: int) -> Any:
        rows[:] = [r for r in rows if _alive(r)]
        if not rows:
            return None
        row = rows[i % len(rows)]
        getattr(row, "id")  # an expired row is read again here, all its columns
        return row

    def _delete(self, row: Any) -> None:
        if sa_inspect(row).pending:
            db.session.flush()  # a row not yet written is written, then deleted
        db.session.delete(row)

    def _estate(self, i: int, as_object: bool) -> Any:
        estate_id = self.estates[i % len(self.estates)]
        return db.session.get(Estate, estate_id) if as_object else estate_id

    def _then(self, then: str) -> None:
        if then == "flush":
            db.session.flush()
        elif then == "commit":
            db.session.commit()
        self.pending = then == "keep"

    # tickets
    @rule(estate=PICK, when=WHEN, category=st.sampled_from(list(RepairCategory)),
          level=st.sampled_from(TICKET_LEVELS), hours=HOURS, then=THEN)
    def new_ticket(self, estate, when, category, level, hours, then):
        t = RepairTicket(estate_id=self._estate(estate, False), call_at=when, caller="随机来电",
                         phone="13800000000", category=category, description="随机报修")
        set_ticket_progress(t, level, hours)
        db.session.add(t)
        self.tickets.append(t)
        self._then(then)

    @rule(i=PICK, level=st.sampled_from(TICKET_LEVELS), hours=HOURS, then=THEN)
    def work_on_ticket(self, i, level, hours, then):
        t = self._pick(self.tickets, i)
        if t is not None:
            set_ticket_progress(t, level, hours)
            self._then(then)

    @rule(i=PICK, estate=PICK, by_relation=st.booleans(), then=THEN)
    def move_ticket(self, i, estate, by_relation, then):
        t = self._pick(self.tickets, i)
        if t is None:
            return
        if by_relation:
            t.estate = self._estate(estate, True)
        else:
            t.estate_id = self._estate(estate, False)
        self._then(then)

    @rule(i=PICK, when=WHEN, category=st.sampled_from(list(RepairCategory)),
          level=st.sampled_from(TICKET_LEVELS), hours=HOURS, then=THEN)
    def redate_ticket(self, i, when, category, level, hours, then):
        """A call time and category change only while the ticket is 已接报 (the workflow
        refuses it later): reopen it, flush, then move it — maybe to another month."""
        t = self._pick(self.tickets, i)
        if t is None:
            return
        if t.state != TicketState.RECEIVED:
            set_ticket_progress(t, "received", 1)
        db.session.flush()
        t.call_at, t.category = when, category
        set_ticket_progress(t, level, hours)
        self._then(then)

    @rule(i=PICK, then=THEN)
    def delete_ticket(self, i, then):
        t = self._pick(self.tickets, i)
        if t is not None:
            self._delete(t)
            self._then(then)

    # complaints
    @rule(estate=PICK, when=WHEN, kind=st.sampled_from(list(ComplaintKind)),
          valid=st.sampled_from((None, True, False)), level=st.sampled_from(COMPLAINT_LEVELS),
          hours=HOURS, then=THEN)
    def new_complaint(self, estate, when, kind, valid, level, hours, then):
        c = Complaint(estate_id=self._estate(estate, False), received_at=when, channel=Channel.HOTLINE,
                      kind=kind, content="随机投诉", is_valid=valid)
        set_complaint_progress(c, level, hours)
        db.session.add(c)
        self.complaints.append(c)
        self._then(then)

    @rule(i=PICK, level=st.sampled_from(COMPLAINT_LEVELS), kind=st.sampled_from(list(ComplaintKind)),
          valid=st.sampled_from((None, True, False)), hours=HOURS, then=THEN)
    def work_on_complaint(self, i, level, kind, valid, hours, then):
        c = self._pick(self.complaints, i)
        if c is not None:
            set_complaint_progress(c, level, hours)
            c.kind, c.is_valid = kind, valid
            self._then(then)

    @rule(i=PICK, estate=PICK, by_relation=st.booleans(), then=THEN)
    def move_complaint(self, i, estate, by_relation, then):
        c = self._pick(self.complaints, i)
        if c is None:
            return
        if by_relation:
            c.estate = self._estate(estate, True)
        else:
            c.estate_id = self._estate(estate, False)
        self._then(then)

    @rule(i=PICK, when=WHEN, level=st.sampled_from(COMPLAINT_LEVELS), hours=HOURS, then=THEN)
    def redate_complaint(self, i, when, level, hours, then):
        c = self._pick(self.complaints, i)
        if c is None:
            return
        if c.state != ComplaintState.RECEIVED:
            set_complaint_progress(c, "received", 1)
        db.session.flush()
        c.received_at = when
        set_complaint_progress(c, level, hours)
        self._then(then)

    @rule(i=PICK, then=THEN)
    def delete_complaint(self, i, then):
        c = self._pick(self.complaints, i)
        if c is not None:
            self._delete(c)
            self._then(then)

    # inspections and their readings (drafts only: a reported one is read-only)
    def _indicator(self, i: int) -> int:
        return self.indicators[i % len(self.indicators)]

    @rule(estate=PICK, day=PICK, kind=st.sampled_from(list(InspectionKind)),
          readings=st.lists(st.tuples(PICK, VALUE), max_size=3), then=THEN)
    def new_inspection(self, estate, day, kind, readings, then):
        x = Inspection(estate_id=self._estate(estate, False), inspected_on=self.days[day % len(self.days)],
                       kind=kind)
        seen = set()
        for i, value in readings:
            indicator = self._indicator(i)
            if indicator not in seen:
                seen.add(indicator)
                item = InspectionItem(indicator_id=indicator, value=value)
                x.items.append(item)
                self.items.append(item)
        db.session.add(x)
        self.inspections.append(x)
        self._then(then)

    @rule(i=PICK, indicator=PICK, value=VALUE, then=THEN)
    def add_reading(self, i, indicator, value, then):
        x = self._pick(self.inspections, i)
        indicator = self._indicator(indicator)
        if x is None or indicator in {it.indicator_id for it in x.items}:
            return
        item = InspectionItem(indicator_id=indicator, value=value)
        x.items.append(item)
        self.items.append(item)
        self._then(then)

    @rule(i=PICK, value=VALUE, then=THEN)
    def change_reading(self, i, value, then):
        item = self._pick(self.items, i)
        if item is not None:
            item.value = value
            self._then(then)

    @rule(i=PICK, j=PICK, from_collection=st.booleans(), then=st.sampled_from(("flush", "commit")))
    def move_reading(self, i, j, from_collection, then):
        """A reading moved to another inspection — maybe of another estate and day."""
        item, target = self._pick(self.items, i), self._pick(self.inspections, j)
        if item is None or target is None or target is item.inspection \
                or item.indicator_id in {it.indicator_id for it in target.items}:
            return
        if sa_inspect(item).pending:
            # A reading is moved on its edit form, once it is stored. Re-parenting one still
            # pending by its many-to-one side makes SQLAlchemy expunge it as an orphan of the
            # old inspection (delete-orphan) before the new one takes it, so the move would
            # not be written at all ("not in session, add operation … will not proceed").
            db.session.flush()
        if from_collection:
            target.items.append(item)
        else:
            item.inspection = target
        self._then(then)  # always flushed: a swap within one flush could trip the unique key

    @rule(i=PICK, indicator=PICK, then=st.sampled_from(("flush", "commit")))
    def reassign_reading(self, i, indicator, then):
        item = self._pick(self.items, i)
        indicator = self._indicator(indicator)
        if item is None or indicator in {it.indicator_id for it in item.inspection.items}:
            return
        item.indicator_id = indicator
        self._then(then)

    @rule(i=PICK, from_collection=st.booleans(), then=st.sampled_from(("flush", "commit")))
    def delete_reading(self, i, from_collection, then):
        item = self._pick(self.items, i)
        if item is None:
            return
        if from_collection:
            item.inspection.items.remove(item)  # delete-orphan
        else:
            parent = item.inspection
            self._delete(item)
            # A request deleting a reading ends with its commit, and the next reads the
            # inspection afresh. In this one long session the inspection's loaded readings
            # would still hold the deleted one, and deleting the inspection later would
            # delete it a second time (StaleDataError: 0 rows matched): forget them, as
            # the next request would.
            db.session.expire(parent, ["items"])
        self._then(then)

    @rule(i=PICK, day=PICK, estate=PICK, by_relation=st.booleans(), then=THEN)
    def redo_inspection(self, i, day, estate, by_relation, then):
        x = self._pick(self.inspections, i)
        if x is None:
            return
        x.inspected_on = self.days[day % len(self.days)]
        if by_relation:
            x.estate = self._estate(estate, True)
        else:
            x.estate_id = self._estate(estate, False)
        self._then(then)

    @rule(i=PICK, then=st.sampled_from(("flush", "commit")))
    def delete_inspection(self, i, then):
        x = self._pick(self.inspections, i)
        if x is not None:
            self._delete(x)  # its readings go with it
            self._then(then)

    # the session
    @rule()
    def flush(self):
        db.session.flush()
        self.pending = False

    @rule()
    def commit(self):
        db.session.commit()
        self.pending = False

    @rule()
    def roll_back(self):
        db.session.rollback()
        self.pending = False

    @rule()
    def rebuild_agrees(self):
        assert_rebuild_agrees()
        self.pending = False

    @invariant()
    def summaries_follow_the_records(self):
        if not self.pending:
            assert_in_step()


def test_random_histories_of_writes_keep_the_summaries_in_step(ctx):
    today = now().date()
    WriteHistory.estates = list(db.session.scalars(select(Estate.id).order_by(Estate.id).limit(6)))
    WriteHistory.indicators = list(db.session.scalars(
        select(Indicator.id).where(Indicator.source == IndicatorSource.MEASURED).order_by(Indicator.seq).limit(4)))
    # few days, so that two inspections of an estate often fall on the same one
    WriteHistory.days = [today - timedelta(days=d) for d in (0, 1, 9, 30, 31, 45, 70, 100)]
    assert {1, 2, 5} <= set(WriteHistory.estates)  # the demo's draft inspections are among them
    run_state_machine_as_test(WriteHistory, settings=settings(
        max_examples=20, stateful_step_count=30, deadline=None, database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
    # the machine's savepoints are gone: the demo world is as it was, and still in step
    assert_in_step()


def row_id_in(model: type) -> int:
    return db.session.scalar(select(model.id).order_by(model.id).limit(1))


def test_rebuild_recomputes_summaries_that_were_tampered_with(ctx):
    """rebuild() reads the records, not the summaries it replaces."""
    db.session.execute(CaseTally.__table__.update().values(tickets=CaseTally.tickets + 7))
    db.session.execute(CaseTally.__table__.insert().values(
        estate_id=row_id_in(Estate), month=date(2001, 1, 1), tickets=3, completed=0, on_time=0,
        called_back=0, valid_complaints=0, valid_resolved=0))
    db.session.execute(LatestReading.__table__.delete())
    with pytest.raises(AssertionError):
        assert_in_step()
    rebuild(db.session.connection())
    assert_in_step()


# -- rates and standing: whole months from the tallies, partial months live ----------------------


DUE_HOURS = 72  # category "other": 大修不过三, no end-of-day rule — a plain deadline




def _last_day(month: date) -> date:
    return next_month(month) - timedelta(days=1)


@pytest.fixture
def own_estate(ctx) -> int:
    community = db.session.scalar(select(Community.id).where(Community.name == "江滨社区"))
    estate = Estate(name="汇总核对小区", community_id=community, estate_class=EstateClass.FIRST, households=250)
    db.session.add(estate)
    db.session.flush()
    return estate.id


TICKET_PLAN = ("on_time_called_back", "late", "open", "referred", "on_time", "late_called_back", "on_time")
COMPLAINT_PLAN = ("valid_resolved", "valid_open", "invalid_resolved", "suggestion", "unjudged",
                  "valid_resolved", "valid_resolved")
# days of each month with a ticket and a complaint, at the times that try the boundaries
SLOTS = ((1, time(0, 0)), (5, time(0, 0)), (10, time(23, 59, 59)), (15, time(12, 0)),
         (20, time(23, 59, 59)), (25, time(8, 30)), (31, time(23, 59, 59)))


def build_records(estate_id: int) -> tuple[list[RepairTicket], list[Complaint]]:
    """Seven tickets and seven complaints a month over fourteen months, each with a known
    outcome; the last slot of a month is its last second."""
    tickets, complaints = [], []
    for k in range(14):
        month = month_start(k)
        for n, (day, at) in enumerate(SLOTS):
            moment = datetime.combine(_last_day(month) if day == 31 else month.replace(day=day), at)
            if moment > now() - timedelta(minutes=5):
                continue
            tickets.append(_ticket(estate_id, moment, TICKET_PLAN[(n + k) % len(TICKET_PLAN)]))
            complaints.append(_complaint(estate_id, moment, COMPLAINT_PLAN[(n + 2 * k) % len(COMPLAINT_PLAN)]))
    db.session.add_all(tickets + complaints)
    db.session.flush()
    return tickets, complaints


def _ticket(estate_id: int, call: datetime, plan: str) -> RepairTicket:
    t = RepairTicket(estate_id=estate_id, call_at=call, caller="核对", phone="1", category=RepairCategory.OTHER,
                     description="核对")
    done = {"on_time": 2, "on_time_called_back": 2, "late": DUE_HOURS + 8, "late_called_back": DUE_HOURS + 8}
    if plan in done and call + timedelta(hours=done[plan] + 1) > now():
        plan = "open"  # a completion cannot be in the future
    if plan == "referred":
        t.state = TicketState.REFERRED
    elif plan == "open":
        t.state = TicketState.ACCEPTED
    else:
        t.state = TicketState.CLOSED if plan.endswith("called_back") else TicketState.COMPLETED
        t.dispatched_at, t.arrived_at = call, call + timedelta(minutes=20)
        t.completed_at = call + timedelta(hours=done[plan])
        if plan.endswith("called_back"):
            t.called_back_at = t.completed_at + timedelta(hours=1)
    return t


def _complaint(estate_id: int, received: datetime, plan: str) -> Complaint:
    c = Complaint(estate_id=estate_id, received_at=received, channel=Channel.HOTLINE, content="核对",
                  kind=ComplaintKind.SUGGESTION if plan == "suggestion" else ComplaintKind.COMPLAINT,
                  is_valid={"invalid_resolved": False, "unjudged": None}.get(plan, True))
    resolved = received + timedelta(hours=5)
    if plan != "valid_open" and resolved <= now():
        c.state, c.dispatched_at, c.resolved_at = ComplaintState.RESOLVED, received, resolved
    return c


def expected_counts(tickets: list[Any], complaints: list[Any], start: date, end: date) -> dict[str, int]:
    lo, hi = datetime.combine(start, time.min), datetime.combine(end + timedelta(days=1), time.min)
    return count([t for t in tickets if lo <= t.call_at < hi], [c for c in complaints if lo <= c.received_at < hi])


def expected_open_late(tickets: list[Any], start: date, end: date) -> int:
    lo, hi = datetime.combine(start, time.min), datetime.combine(end + timedelta(days=1), time.min)
    return sum(1 for t in tickets if lo <= t.call_at < hi and t.completed_at is None
               and t.state not in (TicketState.REFERRED, TicketState.COMPLETED, TicketState.CLOSED)
               and t.complete_due_at < now())


def periods() -> dict[str, tuple[date, date]]:
    today = now().date()
    m = month_start
    out = {
        "a whole year of months ending today": (m(11), today),
        "365 days ending today (partial first month)": (today - timedelta(days=365), today),
        "partial months at both ends, in the past": (m(3).replace(day=15), m(1).replace(day=10)),
        "inside one past month": (m(2).replace(day=5), m(2).replace(day=20)),
        "one past month, to its last day": (m(2), _last_day(m(2))),
        "whole months ending in the past": (m(6), _last_day(m(2))),
        "the current month to today": (m(0), today),
        "a day at a month's end": (_last_day(m(3)), _last_day(m(3))),
        "from a month's last day to the next one's first": (_last_day(m(4)), m(3)),
        "a period running past today": (m(1).replace(day=20), today + timedelta(days=40)),
    }
    if today.day > 1:
        out["this month but not today"] = (m(0), today - timedelta(days=1))
    return out


def test_rates_from_the_tallies_equal_a_count_of_the_records(own_estate):
    build_records(own_estate)
    mine = [t for t in ticket_rows() if t.estate_id == own_estate]
    my_complaints = [c for c in complaint_rows() if c.estate_id == own_estate]
    # the plan, counted by hand over the fourteen months
    assert len(mine) >= 13 * 7 and sum(t.state == TicketState.REFERRED for t in mine) >= 13
    for name, (start, end) in periods().items():
        want = expected_counts(mine, my_complaints, start, end)
        assert case_counts([own_estate], start, end) == want, name
        rates = {r.code: r for r in service_rates([own_estate], start, end)}
        late = expected_open_late(mine, start, end)
        assert (rates[RateCode.REPAIR_TIMELY].numerator, rates[RateCode.REPAIR_TIMELY].denominator) == \
            (want["on_time"], want["completed"] + late), name
        assert (rates[RateCode.REPAIR_CALLBACK].numerator, rates[RateCode.REPAIR_CALLBACK].denominator) == \
            (want["called_back"], want["completed"]), name
        assert (rates[RateCode.COMPLAINT_HANDLED].numerator, rates[RateCode.COMPLAINT_HANDLED].denominator) == \
            (want["valid_resolved"], want["valid_complaints"]), name
        assert (rates[RateCode.COMPLAINT_RATE].numerator, rates[RateCode.COMPLAINT_RATE].denominator) == \
            (want["valid_complaints"], 250), name
        # all estates at once: the demo's records too
        assert case_counts(None, start, end) == expected_counts(ticket_rows(), complaint_rows(), start, end), name


def test_exact_figures_for_a_past_month_read_whole_and_in_part(own_estate):
    """Numbers worked out by hand from the plan, not by the same code path."""
    build_records(own_estate)
    k = 3  # a month well in the past: every plan kept its outcome
    month = month_start(k)
    plan = [TICKET_PLAN[(n + k) % 7] for n in range(7)]
    complaints = [COMPLAINT_PLAN[(n + 2 * k) % 7] for n in range(7)]
    counted = [p for p in plan if p != "referred"]
    completed = [p for p in counted if p != "open"]
    whole = {"tickets": len(counted), "completed": len(completed),
             "on_time": sum(p.startswith("on_time") for p in completed),
             "called_back": sum(p.endswith("called_back") for p in completed),
             "valid_complaints": sum(p.startswith("valid") for p in complaints),
             "valid_resolved": complaints.count("valid_resolved")}
    assert whole == {"tickets": 6, "completed": 5, "on_time": 3, "called_back": 2,
                     "valid_complaints": 4, "valid_resolved": 3}  # k=3: the plans rotated by 3 and 6
    assert case_counts([own_estate], month, _last_day(month)) == whole
    assert db.session.get(CaseTally, (own_estate, month)).tickets == 6
    # days 5..20 hold slots 5, 10 (23:59:59), 15 and 20 (23:59:59): the 1st and the 25th fall outside
    inner = [plan[n] for n in (1, 2, 3, 4)]
    assert case_counts([own_estate], month.replace(day=5), month.replace(day=20))["tickets"] == \
        sum(p != "referred" for p in inner)
    # the last second of the month belongs to it, not to the next
    assert plan[6] == "open" and TICKET_PLAN[(0 + k - 1) % 7] == "open"
    assert case_counts([own_estate], _last_day(month), _last_day(month))["tickets"] == 1
    assert case_counts([own_estate], next_month(month), next_month(month))["tickets"] == 1
    assert case_counts([own_estate], next_month(month) - timedelta(days=2),
                       next_month(month) - timedelta(days=2))["tickets"] == 0


# measured indicators: (months back, day, value of A, value of B); two inspections on one day
READINGS = ((4, 10, "90.00", "95.00"), (2, 3, "100.00", None), (2, 3, "98.50", None), (1, 20, None, "99.50"))


def build_inspections(estate_id: int, a: int, b: int) -> list[tuple[date, int, int, Decimal]]:
    """Inspections of the estate; returns (day, item id, indicator, value) of each reading."""
    out = []
    today = now().date()
    plan = list(READINGS) + [(0, today.day, "97.00", None)]  # today: the latest reading of A
    for k, day, value_a, value_b in plan:
        x = Inspection(estate_id=estate_id, inspected_on=month_start(k).replace(day=day),
                       kind=InspectionKind.ROUTINE)
        for indicator, value in ((a, value_a), (b, value_b)):
            if value is not None:
                x.items.append(InspectionItem(indicator_id=indicator, value=Decimal(value)))
        db.session.add(x)
        db.session.flush()
        out += [(x.inspected_on, item.id, item.indicator_id, item.value) for item in x.items]
    return out


def expected_latest_value(readings: list[tuple], indicator: int, start: date, end: date) -> Decimal | None:
    inside = [(day, item, value) for day, item, ind, value in readings if ind == indicator and start <= day <= end]
    return max(inside)[2] if inside else None


def test_standing_from_the_summaries_equals_a_direct_computation(own_estate):
    build_records(own_estate)
    a = db.session.scalar(select(Indicator).where(Indicator.name == "房屋完好率"))      # = 100
    b = db.session.scalar(select(Indicator).where(Indicator.name == "绿化完好率"))      # ≥ 99
    readings = build_inspections(own_estate, a.id, b.id)
    mine = [t for t in ticket_rows() if t.estate_id == own_estate]
    my_complaints = [c for c in complaint_rows() if c.estate_id == own_estate]
    m = month_start
    # the same day twice: the reading of the later inspection (higher id) is the latest
    assert expected_latest_value(readings, a.id, m(2), _last_day(m(2))) == Decimal("98.50")
    for name, (start, end) in periods().items():
        rows = {s.indicator.id: s for s in standing([own_estate], start, end)}
        for indicator in (a, b):
            value = expected_latest_value(readings, indicator.id, start, end)
            got = rows[indicator.id]
            if value is None:
                assert (got.value, got.reported) == (None, 0), (name, indicator.name)
            else:
                assert (got.value, got.reported, got.missing, got.meets) == \
                       (value, 1, 0 if indicator.meets(value) else 1, indicator.meets(value)), (name, indicator.name)
        want = expected_counts(mine, my_complaints, start, end)
        late = expected_open_late(mine, start, end)
        timely = rows[db.session.scalar(select(Indicator.id).where(Indicator.rate_code == RateCode.REPAIR_TIMELY))]
        assert timely.fraction == f"{want['on_time']} / {want['completed'] + late}", name
        handled = rows[db.session.scalar(select(Indicator.id).where(Indicator.rate_code == RateCode.COMPLAINT_HANDLED))]
        assert handled.fraction == f"{want['valid_resolved']} / {want['valid_complaints']}", name
        expected_pct = (None if not want["valid_complaints"] else
                        (Decimal(want["valid_resolved"]) * 100 / want["valid_complaints"]).quantize(
                            Decimal("0.1"), rounding=ROUND_HALF_UP))
        assert handled.value == expected_pct, name
    # spot checks worked out by hand
    today = now().date()
    assert rows_of(own_estate, m(0), today)[a.id].value == Decimal("97.00")          # today's reading
    assert rows_of(own_estate, m(0), today)[b.id].value is None                       # B's latest is before
    assert rows_of(own_estate, m(6), _last_day(m(2)))[a.id].value == Decimal("98.50")  # ends in the past
    assert rows_of(own_estate, m(6), _last_day(m(3)))[a.id].value == Decimal("90.00")
    assert rows_of(own_estate, m(11), today)[b.id].value == Decimal("99.50")


def rows_of(estate_id: int, start: date, end: date) -> dict[int, Any]:
    return {s.indicator.id: s for s in standing([estate_id], start, end)}


def test_measured_means_over_all_estates_equal_a_direct_computation(ctx):
    """Every estate's latest reading per indicator, averaged: from LatestReading when the
    period reaches today, from the inspections otherwise — the same figures either way."""
    rows = db.session.execute(
        select(Inspection.estate_id, InspectionItem.indicator_id, Inspection.inspected_on, InspectionItem.id,
               InspectionItem.value).join(Inspection, Inspection.id == InspectionItem.inspection_id)).all()
    targets = {i.id: i for i in db.session.scalars(select(Indicator))}
    today = now().date()
    spans = [(today - timedelta(days=365), today), (month_start(2), today), (month_start(3), _last_day(month_start(1))),
             (month_start(2).replace(day=5), month_start(2).replace(day=20)), (today, today)]
    for start, end in spans:
        latest: dict[tuple[int, int], tuple] = {}
        for e, ind, day, item, value in rows:
            if start <= day <= end and ((e, ind) not in latest or (day, item) > latest[(e, ind)][:2]):
                latest[(e, ind)] = (day, item, Decimal(value))
        by_indicator: dict[int, list[Decimal]] = {}
        for (e, ind), (_, _, value) in latest.items():
            by_indicator.setdefault(ind, []).append(value)
        want = {}
        for ind, values in by_indicator.items():
            mean = (sum(values) / len(values)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            want[ind] = (mean, len(values), sum(1 for v in values if not targets[ind].meets(v)))
        assert measured(None, start, end) == want, (start, end)
    assert measured(None, today - timedelta(days=365), today)  # the demo has readings to compare


# -- through the screens -------------------------------------------------------------------------


def tally(app, estate_id: int, month: date) -> dict[str, int]:
    with app.app_context():
        row = db.session.get(CaseTally, (estate_id, month))
        return {c: (getattr(row, c) if row is not None else 0) for c in COUNTS}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def test_a_ticket_worked_through_its_screens_moves_its_months_tally(app, client_for):
    station = client_for("station")
    estate = row_id(app, Estate, name="紫荆花园")
    call = datetime.combine(now().date() - timedelta(days=3), time(9, 0))
    month = month_of(call)
    before = tally(app, estate, month)
    r = station.post("/admin/repair_ticket/new/", {
        "estate": str(estate), "call_at": call.strftime("%Y-%m-%d %H:%M:%S"), "caller": "汇总测试人",
        "phone": "13800000000", "category": "water", "description": "厨房水管漏水"})
    assert r.status_code == 302, flashes(r.text)
    ticket = row_id(app, RepairTicket, caller="汇总测试人")

    def moved() -> dict[str, int]:
        now_ = tally(app, estate, month)
        return {c: now_[c] - before[c] for c in COUNTS if now_[c] != before[c]}

    assert moved() == {"tickets": 1}
    def step(name: str, state: TicketState, **params: Any) -> None:
        r = transition(station, "repair_ticket", name, ticket, **params)
        assert r.status_code == 302, name
        with app.app_context():
            assert db.session.get(RepairTicket, ticket).state == state, name  # the transition went through

    step("accept", TicketState.ACCEPTED)
    step("dispatch", TicketState.DISPATCHED, repair_unit="维修队", dispatched_at=iso(call + timedelta(minutes=5)))
    step("arrive", TicketState.ARRIVED, arrived_at=iso(call + timedelta(minutes=25)))
    assert moved() == {"tickets": 1}
    step("complete", TicketState.COMPLETED, completed_at=iso(call + timedelta(hours=3)), result="已修好", fee="0")
    assert moved() == {"tickets": 1, "completed": 1, "on_time": 1}
    step("call_back", TicketState.CLOSED, called_back_at=iso(call + timedelta(hours=5)), satisfaction="satisfied")
    assert moved() == {"tickets": 1, "completed": 1, "on_time": 1, "called_back": 1}
    with app.app_context():
        assert_in_step()

    # the standing page of that estate shows the figures the tallies and the live days give
    start, end = month_of(call), now().date()
    page = client_for("street").get(f"/admin/standing/?level=estate&key={estate}&start={start}&end={end}").text
    row = re.search(r'data-code="repair_callback"[^>]*>(.*?)</tr>', page, re.S).group(1)
    with app.app_context():
        rate = {r.code: r for r in service_rates([estate], start, end)}[RateCode.REPAIR_CALLBACK]
        counts = case_counts([estate], start, end)
    assert (rate.numerator, rate.denominator) == (counts["called_back"], counts["completed"])
    assert f"{rate.numerator} / {rate.denominator}" in row
    assert counts["called_back"] >= 1


# -- writes the flush hook must not miss (models/tallies.py) -------------------


def test_a_ticket_moved_after_a_commit_without_being_read_again(ctx):
    """The row was expired by a commit and written without being read: where it was is
    read from the database, not from the object's history."""
    t = db.session.scalar(select(RepairTicket).where(RepairTicket.state != TicketState.REFERRED)
                          .order_by(RepairTicket.id).limit(1))
    other = db.session.scalar(select(Estate.id).where(Estate.id != t.estate_id).order_by(Estate.id).limit(1))
    db.session.commit()          # expires t, as every commit does
    t.estate_id = other          # written without being read
    db.session.commit()
    assert_in_step()


def test_a_complaint_redated_after_a_commit_without_being_read_again(ctx):
    c = Complaint(estate_id=row_id_in(Estate), received_at=now() - timedelta(days=40), channel=Channel.HOTLINE,
                  kind=ComplaintKind.COMPLAINT, content="过期对象", is_valid=True)
    db.session.add(c)
    db.session.commit()
    c.received_at = now() - timedelta(days=5)  # still 已受理: the workflow allows it
    db.session.commit()
    assert_in_step()


def test_a_reading_moved_by_its_foreign_key(ctx):
    """A reading moved by its inspection_id, its loaded relationship still the old one."""
    drafts = list(db.session.scalars(select(Inspection).where(Inspection.state == ReportState.DRAFT)
                                     .order_by(Inspection.id)))
    source = next(x for x in drafts if x.items)
    item = source.items[0]
    other_estate = db.session.scalar(select(Estate.id).where(Estate.id != source.estate_id)
                                     .order_by(Estate.id.desc()).limit(1))
    target = Inspection(estate_id=other_estate, inspected_on=source.inspected_on, kind=InspectionKind.ROUTINE)
    db.session.add(target)
    db.session.flush()
    assert item.inspection is source
    item.inspection_id = target.id
    db.session.flush()
    assert_in_step()


def test_case_drift_says_where_a_tally_disagrees_with_the_records(app, ctx):
    from models.tallies import case_drift

    connection = db.session.connection()
    assert case_drift(connection) == []
    tally = db.session.scalars(select(CaseTally).order_by(CaseTally.estate_id, CaseTally.month)).first()
    tally.tickets += 1
    db.session.flush()
    [(key, kept, counted)] = case_drift(connection)
    assert key == (tally.estate_id, tally.month) and kept["tickets"] == counted["tickets"] + 1
    result = app.test_cli_runner().invoke(args=["tallies", "check"])
    assert result.exit_code == 1 and "1 个月度汇总与记录不一致" in result.output


# -- two transactions counting one estate at once (PostgreSQL) ----------------------------------


def _complaint_in(estate_id: int, when: datetime) -> Complaint:
    return Complaint(estate_id=estate_id, received_at=when, channel=Channel.HOTLINE,
                     kind=ComplaintKind.COMPLAINT, content="并发计数", is_valid=True)


@pytest.mark.own_database
@pytest.mark.parametrize("locked", [True, False], ids=["with-the-lock", "without-the-lock"])
def test_two_saves_for_one_estate_at_once_are_both_counted(own_database, tmp_path, monkeypatch, locked):
    """The "tally race" suspected under concurrent transitions, reproduced with two real
    transactions: the first has flushed a case of an estate and month (and recounted it)
    but not committed; the second saves another case of the same estate and month. With
    the advisory lock the second waits for the first's commit, then counts both. Without
    it the second recounts from a snapshot that misses the first's tally row and collides
    with it (a refused save) — the lock is what keeps concurrent saves both counted.

    An audited save also waits at the audit trail's chain lock (models.kernel.audit.hold_chain),
    which would serialise the two as well; the race is reproduced with no audit entry
    written, so that only the tally lock is being tested (and the chain is not forked)."""
    import threading

    from sqlalchemy.exc import IntegrityError

    import models.kernel.audit as audit
    import models.tallies as tallies
    from app import create_app
    from models.tallies import case_drift

    if not own_database.startswith("postgresql"):
        pytest.skip("SQLite writes one transaction at a time")
    if not locked:
        monkeypatch.setattr(tallies, "_lock_estates", lambda connection, estates: None)
        monkeypatch.setattr(audit, "_audited", lambda obj: False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": own_database, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "tally-race", "TESTING": True, "DATABASE_BUSY_TIMEOUT": 10})
    with app.app_context():
        estate = db.session.scalar(select(Estate.id).order_by(Estate.id))
        when = now() - timedelta(hours=1)
        month = month_of(when)
        before = db.session.scalar(select(CaseTally.valid_complaints).where(
            CaseTally.estate_id == estate, CaseTally.month == month)) or 0
        db.session.remove()
    flushed, go = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def first() -> None:
        with app.app_context():
            db.session.add(_complaint_in(estate, when))
            db.session.flush()            # recounted, the tally row rewritten, not committed
            flushed.set()
            go.wait(10)
            db.session.commit()

    def second() -> None:
        with app.app_context():
            flushed.wait(10)
            db.session.add(_complaint_in(estate, when))
            try:
                db.session.flush()
                db.session.commit()
                outcome["second"] = "saved"
            except IntegrityError:
                db.session.rollback()
                outcome["second"] = "refused"

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    try:
        flushed.wait(10)
        threads[1].join(1.0)
        if locked:
            assert threads[1].is_alive(), "the second save did not wait for the first's recount"
    finally:
        go.set()
        for t in threads:
            t.join(20)
    try:
        with app.app_context():
            connection = db.session.connection()
            counted = db.session.scalar(select(CaseTally.valid_complaints).where(
                CaseTally.estate_id == estate, CaseTally.month == month))
            if locked:
                assert outcome["second"] == "saved"
                assert counted == before + 2 and case_drift(connection) == []
            else:  # the race the lock prevents: one of two saves lost
                assert outcome["second"] == "refused" and counted == before + 1
    finally:
        with app.app_context():  # leave the shared database as it was
            for c in db.session.scalars(select(Complaint).where(Complaint.content == "并发计数")):
                db.session.delete(c)
            db.session.commit()
            assert case_drift(db.session.connection()) == []
            db.session.remove()
            db.engine.dispose()
