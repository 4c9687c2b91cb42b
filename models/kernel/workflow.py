"""One way to declare a workflow: states, transitions as actions with guards, clocks.

A model declares::

    FILING = Clock("filing", "备案期限", start="election_date", due="filing_due_on",
                   stop="filing_date", rule=days_after(30))

    class OwnersCommittee(db.Model):
        state = field(ChoiceType(CommitteeState), "状态", default=CommitteeState.PREPARING)
        filing_overdue = FILING.flag("逾期未备案")
        __admin__ = ModelAdmin(..., workflow=Workflow(
            transitions=(
                Transition("file", "备案", source=(ELECTED,), target=IN_OFFICE,
                           params=(Param("filing_date", "备案日期", "date"),),
                           guard="guard_file"),
            ),
            clocks=(FILING,),
        ))

* A transition's **guard** is a model method returning ``None`` or the Chinese reason
  it is refused; its **effect** is the model method of the transition's name, if any,
  called with the params. The state field itself is never in a form.
* A **clock** stores its deadline in a column computed from a start column and a
  rule whenever the start (or one of its ``inputs``) changes (never typed);
  ``Clock.flag`` is the overdue flag, usable in lists, filters and SQL.
* A ``fixed`` clock is set at intake, under the rules of that day: once the row has
  left its first state, its start and inputs change only as params of a transition
  (办结时间, 推迟至), and its deadline is never recomputed after the clock stopped.
* :func:`perform` runs a transition; the engine wraps it in a transaction and the
  audit trail records it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from sqlalchemy import Date, DateTime, and_, bindparam, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import attributes, object_session

from .database import AppSession, now
from .declare import EDITORS, Choices, Invalid, Refused, resolve_function


@dataclass(frozen=True)
class Param:
    """An input a transition asks for (a date, an opinion…)."""

    name: str
    label: str
    kind: str = "text"  # text, textarea, date, datetime, int, decimal, choice, bool, row, rows
    required: bool = True
    choices: type[Choices] | None = None
    model: Any = None  # for "row"/"rows": the model (or its class name) picked from

    @property
    def target_model(self) -> Any:
        """The model a row param picks from; a name is looked up in the registry (a model
        declared before the one it picks from cannot import it)."""
        if isinstance(self.model, str):
            from .registry import model_named

            return model_named(self.model)
        return self.model
    help: str | None = None
    default: Callable[[Any], Any] | None = None  # default from the row, e.g. today


@dataclass(frozen=True)
class Transition:
    """A step of the workflow. ``source=()`` allows it in any state; ``target=None``
    leaves the state as it is — an action on the row (e.g. 记录里程碑)."""

    name: str
    label: str
    source: tuple[Choices, ...]
    target: Choices | None
    roles: Iterable[str] = (EDITORS,)
    params: tuple[Param, ...] = ()
    guard: str | None = None
    confirm: str | None = None
    style: str = "primary"  # the button's Bootstrap colour
    run: Callable[..., Any] | str | None = None
    """The step's effect as a function ``(rows, **params)`` (or ``"module:function"``),
    when it belongs with the records it makes rather than to the model: a meeting's
    follow-up tasks are made by the rollout module. Without it, the model's method of
    the step's name (if any) is called with the params."""

    def effect(self, obj: Any) -> Callable[..., Any] | None:
        function = resolve_function(self.run)
        if function is not None:
            return lambda **params: function([obj], **params)
        method = getattr(obj, self.name, None)
        return method if callable(method) else None


@dataclass(frozen=True)
class Clock:
    """A deadline: ``due = rule(start)``; running while ``stop`` is empty (and, if
    given, while the row is in one of ``states``)."""

    name: str
    label: str
    start: str
    due: str
    rule: Callable[[Any, Any], Any] | None  # None: a person sets the deadline (e.g. 整改期限)
    stop: str | None = None
    states: tuple[Choices, ...] = ()
    state_field: str = "state"
    inputs: tuple[str, ...] = ()  # other columns the rule reads (e.g. a ticket's category)
    fixed: bool = True
    """Set at intake and kept (see the module docstring): editing a start date cannot turn
    a late row on time. ``fixed=False`` lets the deadline follow its start whenever it is
    edited — say so only where that is the rule."""

    def stopped(self, obj: Any) -> bool:
        """Stopped (or not running in this state): its deadline is history."""
        if self.stop and getattr(obj, self.stop) is not None:
            return True
        return bool(self.states) and getattr(obj, self.state_field) not in self.states

    def running(self, obj: Any) -> bool:
        if self.stop and getattr(obj, self.stop) is not None:
            return False
        if self.states and getattr(obj, self.state_field) not in self.states:
            return False
        return getattr(obj, self.due) is not None

    def late_by(self, obj: Any, at: Any = None) -> timedelta | None:
        """How late the row is now (or when it stopped); ``None`` if on time."""
        due = getattr(obj, self.due)
        if due is None:
            return None
        end = getattr(obj, self.stop) if self.stop else None
        if end is None:
            if self.states and getattr(obj, self.state_field) not in self.states:
                return None
            end = at or _now_like(due)
        gap = _as_datetime(end) - _as_datetime(due)
        return gap if gap > timedelta(0) else None

    def flag(self, label: str, attention: bool = True) -> hybrid_property:
        """A hybrid "overdue now" flag: Python on a row, SQL in lists and filters; counted
        on the home page's 需要关注 unless ``attention=False`` (a case clock already on
        the 超时预警 page)."""
        clock = self

        def getter(obj: Any) -> bool:
            return clock.running(obj) and getattr(obj, clock.due) < _now_like(getattr(obj, clock.due))

        def expression(cls: Any) -> Any:
            due = getattr(cls, clock.due)
            is_date = isinstance(due.type, Date) and not isinstance(due.type, DateTime)
            current = bindparam(f"now_{clock.name}", callable_=(lambda: now().date()) if is_date
                                else now, type_=due.type, unique=True)
            parts = [due.isnot(None), due < current]
            if clock.stop:
                parts.append(getattr(cls, clock.stop).is_(None))
            if clock.states:
                parts.append(getattr(cls, clock.state_field).in_([s.value for s in clock.states]))
            return and_(*parts)

        prop = hybrid_property(getter).expression(expression)
        prop.info.update({"label": label, "clock": self.name, "warn": True, "attention": attention})
        return prop


@dataclass(frozen=True)
class Workflow:
    transitions: tuple[Transition, ...]
    clocks: tuple[Clock, ...] = ()
    field: str | None = "state"  # None: a model with row actions but no states

    def transition(self, name: str) -> Transition | None:
        return next((t for t in self.transitions if t.name == name), None)

    def available(self, obj: Any) -> list[Transition]:
        state = getattr(obj, self.field) if self.field else None
        return [t for t in self.transitions if not t.source or state in t.source]


def days_after(n: int) -> Callable[[Any, Any], Any]:
    return lambda obj, start: start + timedelta(days=n)


def days_before(n: int) -> Callable[[Any, Any], Any]:
    return lambda obj, start: start - timedelta(days=n)


def minutes_after(n: int) -> Callable[[Any, Any], Any]:
    return lambda obj, start: start + timedelta(minutes=n)


def _now_like(value: Any) -> Any:
    current = now()
    return current if isinstance(value, datetime) else current.date()


def _as_datetime(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time())


def workflow_of(obj_or_cls: Any) -> Workflow | None:
    cls = obj_or_cls if isinstance(obj_or_cls, type) else type(obj_or_cls)
    spec = getattr(cls, "__admin__", None)
    return getattr(spec, "workflow", None)


def perform(obj: Any, name: str, role: str | None, params: dict[str, Any] | None = None) -> Transition:
    """Run transition ``name`` on ``obj``: state, role and guard checked, effect applied.

    Raises :class:`Refused` with a Chinese message naming the rule; the caller rolls
    back. The audit trail records the state change and the transition itself.
    """
    from .access import role_allowed
    from .audit import AuditAction, plain_value, record

    workflow = workflow_of(obj)
    transition = workflow.transition(name) if workflow else None
    if transition is None:
        raise Refused(f"没有名为「{name}」的操作")
    state = getattr(obj, workflow.field) if workflow.field else None
    if transition.source and state not in transition.source:
        raise Refused(f"当前状态为「{_label(state)}」，不能执行「{transition.label}」"
                      f"（仅限：{'、'.join(_label(s) for s in transition.source)}）")
    if not role_allowed(transition.roles, role):
        raise Refused(f"您的角色不能执行「{transition.label}」")
    params = dict(params or {})
    if transition.guard:
        reason = getattr(obj, transition.guard)(**_guard_args(obj, transition, params))
        if reason:
            raise Refused(reason)
    _set_by_transition(obj).update(params)  # a fixed clock's inputs may change this way
    effect = transition.effect(obj)
    if effect is not None:
        effect(**params)
    if transition.target is not None:
        setattr(obj, workflow.field, transition.target)
    moved = f"：{_label(state)} → {_label(transition.target)}" if transition.target is not None else ""
    record(AuditAction.TRANSITION, obj, note=f"{transition.label}{moved}",
           changes={k: [None, plain_value(v)] for k, v in params.items()} or None)
    return transition


def _guard_args(obj: Any, transition: Transition, params: dict[str, Any]) -> dict[str, Any]:
    import inspect

    wanted = inspect.signature(getattr(obj, transition.guard)).parameters
    return {k: v for k, v in params.items() if k in wanted}


def _label(state: Any) -> str:
    return getattr(state, "label", str(state))


# -- clocks: deadlines follow their start column ----------------------------------


def _set_by_transition(obj: Any) -> set[str]:
    """Columns a transition was asked to set on ``obj`` since the last flush."""
    from .database import db

    session = object_session(obj) or db.session
    return session.info.setdefault("set_by_transition", {}).setdefault(attributes.instance_state(obj), set())


def _recompute(session: Any, flush_context: Any, instances: Any) -> None:
    try:
        for obj in list(session.new) + list(session.dirty):
            workflow = workflow_of(obj)
            if workflow is None:
                continue
            _refuse_changed_intake(obj, workflow, session)
            for clock in workflow.clocks:
                if clock.rule is None:
                    continue
                start = getattr(obj, clock.start)
                changed = _changed(obj, clock.start) or any(_changed(obj, name) for name in clock.inputs)
                if clock.fixed and getattr(obj, clock.due) is not None and clock.stopped(obj):
                    continue  # a stopped clock's deadline is history, whatever the rules say now
                if start is None:
                    if getattr(obj, clock.due) is not None:
                        setattr(obj, clock.due, None)
                elif changed or getattr(obj, clock.due) is None:
                    setattr(obj, clock.due, clock.rule(obj, start))
    finally:
        session.info.pop("set_by_transition", None)


def _refuse_changed_intake(obj: Any, workflow: Workflow, session: Any) -> None:
    """Once a row has left its first state, the inputs of its fixed clocks stay as they
    were when it was received — else editing a category could turn a late case on time,
    or a committee's term end clear its overdue re-election."""
    names = {name for clock in workflow.clocks if clock.fixed for name in (clock.start, *clock.inputs)}
    first = _first_state(type(obj), workflow)
    if not names or first is None or obj in session.new:
        return
    history = attributes.get_history(obj, workflow.field)
    before = (history.deleted or history.unchanged or history.added or [None])[0]
    if before == first:
        return
    allowed = session.info.get("set_by_transition", {}).get(attributes.instance_state(obj), set())
    what = getattr(getattr(type(obj), "__admin__", None), "label", "记录")
    errors = {name: f"{what}已进入「{_label(before)}」，不能再修改（期限在「{_label(first)}」时"
                    f"按当时的规则算出并保存）"
              for name in sorted(names) if name not in allowed and _changed(obj, name)}
    if errors:
        raise Invalid(errors)


def _first_state(cls: type, workflow: Workflow) -> Any:
    """The state a new row starts in: the state column's default."""
    if not workflow.field:
        return None
    default = sa_inspect(cls).columns[workflow.field].default
    return default.arg if default is not None and default.is_scalar else None


def _changed(obj: Any, name: str) -> bool:
    return attributes.get_history(obj, name).has_changes()


def _forget_transitions(session: Any, previous_transaction: Any) -> None:
    session.info.pop("set_by_transition", None)


# insert=True: deadlines are set before the audit hook reads the changes
event.listen(AppSession, "before_flush", _recompute, insert=True)
event.listen(AppSession, "after_soft_rollback", _forget_transitions)
