"""Demo rollout: both plans for this year, the five pilots of 篇6 三.3 with their task
templates and some milestones, phases moved on through the same actions coordinators
use, and follow-up tasks created from the last leadership meeting."""

from __future__ import annotations

from datetime import date, timedelta

from models import db, now
from models.accounts import Role
from models.governance import LeadershipMeeting, Street
from models.rollout import MilestoneKind, Phase, Pilot, RolloutPlan, Task
from models.kernel.workflow import perform

from .loader import demo_estate, ensure
from .rollout import load_plans

PILOT_TASKS = ["摸清小区楼幢、户数和管理现状", "成立业主大会筹备组并召开首次业主大会", "选举产生业主委员会并备案",
               "选聘物业服务企业或委托服务中心，签订服务合同", "建立四位一体监督小组并开展日常监督"]
MILESTONES = {
    "永乐花园": [(MilestoneKind.CONTRACT_SIGNED, 24), (MilestoneKind.REGULARISED, 100)],
    "后溪公寓小区": [(MilestoneKind.ASSEMBLY_HELD, None), (MilestoneKind.COMMITTEE_SET_UP, None)],
    "贮木场新村": [(MilestoneKind.ASSEMBLY_HELD, 60)],
}


def load_rollout(street: Street, pilots: list[str]) -> None:
    today = now().date()
    year = today.year
    load_plans(street, year)  # also makes the text's pilot estates pilots
    if db.session.scalar(db.select(db.func.count()).select_from(Task).where(Task.pilot_id.isnot(None))):
        return
    plan = db.session.scalar(db.select(RolloutPlan).where(RolloutPlan.street_id == street.id,
                                                         RolloutPlan.source == "篇6 三"))
    trial = _phase(plan, 3)
    designated = min(date(year, 6, 16), today)
    for name in pilots:
        estate = demo_estate(name)
        pilot, _ = ensure(Pilot, {"estate_id": estate.id}, plan_id=plan.id, designated_on=designated)
        for seq, text in enumerate(PILOT_TASKS, 1):
            db.session.add(Task(phase=trial, seq=seq, text=f"{name}：{text}", estate=estate, pilot=pilot,
                                owner_person=f"{estate.community.name}主任", due_on=trial.end_on))
        db.session.flush()
        for kind, days in MILESTONES.get(name, []):
            achieved = designated + timedelta(days=days) if days is not None else today - timedelta(days=40)
            if achieved <= today:
                perform(pilot, "record_milestone", Role.ADMIN,
                        {"kind": kind, "achieved_on": achieved, "evidence_note": "见会议记录和合同原件"})
    db.session.flush()
    _advance(street, today)


def _phase(plan: RolloutPlan, seq: int) -> Phase:
    return next(p for p in plan.phases if p.seq == seq)


def _advance(street: Street, today: date) -> None:
    """Phases whose end has passed are done (their tasks finished); 篇6's 抓好试点 is still
    running past its end; 推广 has not started yet."""
    for plan in db.session.scalars(db.select(RolloutPlan).where(RolloutPlan.street_id == street.id)):
        for phase in plan.phases:
            keep_running = plan.source == "篇6 三" and phase.seq == 3
            if phase.seq == 4 and plan.source == "篇6 三":
                continue
            start = phase.start_on or (phase.end_on - timedelta(days=14) if phase.end_on else None) or date(today.year, 5, 1)
            if start > today:
                continue
            perform(phase, "start", Role.ADMIN, {"started_on": start})
            if keep_running:
                for task in phase.tasks[:3]:
                    perform(task, "finish", Role.ADMIN, {"done_on": start + timedelta(days=30)})
                continue
            end = phase.end_on or start + timedelta(days=30)
            if end <= today:
                for task in phase.tasks:
                    perform(task, "finish", Role.ADMIN, {"done_on": end})
                perform(phase, "complete", Role.ADMIN, {"completed_on": end})
    db.session.flush()
    meeting = db.session.scalar(db.select(LeadershipMeeting).order_by(LeadershipMeeting.held_on.desc()))
    promotion = db.session.scalar(db.select(Phase).join(Phase.plan).where(
        RolloutPlan.street_id == street.id, RolloutPlan.source == "篇6 三", Phase.seq == 4))
    if meeting is not None and promotion is not None:
        perform(meeting, "create_tasks", Role.ADMIN, {
            "phase": promotion, "tasks": "各社区本月内完成小区摸底\n督促逾期业委会备案",
            "due_on": date(today.year, 12, 20), "owner_person": None})
