"""Both rollout plans of the text (篇5 五; 篇6 三) and the targets of 篇6 二.2, loaded for a
street and a year (the text writes the year as "20__").

Every phase keeps its date exactly as the text writes it (``date_text``). A date the
text gets wrong — "6月31日" — is not shifted to 6月30日 or 7月1日: the phase's end is
left empty and flagged 日期待确认 with the text's words, for a person to decide.
"""

from __future__ import annotations

from datetime import date

from models import db, now
from models.estates import Estate
from models.governance import Community, OrgKind, OrgUnit, Street
from models.rollout import Metric, Phase, Pilot, RolloutPlan, Target, Task

from . import reference_data as ref
from .loader import ensure

# Targets of 篇6 二.2 that have a number, and what counts toward them.
TARGET_METRICS = {
    "owners_assemblies": Metric.ASSEMBLIES_12,
    "owners_committees": Metric.COMMITTEES_12,
    "pilots_this_year": Metric.PILOTS,
}


def _day(year: int, month_day: tuple[int, int] | None) -> date | None:
    return date(year, *month_day) if month_day else None


def load_plans(street: Street, year: int) -> int:
    created = 0
    office = db.session.scalar(db.select(OrgUnit).where(
        OrgUnit.street_id == street.id, OrgUnit.kind == OrgKind.PROPERTY_OFFICE))
    for source in ref.ROLLOUT_PLANS:
        plan, new = ensure(RolloutPlan, {"street_id": street.id, "name": source["name"]}, year=year,
                           source=source["source"], is_reference=True)
        created += new
        for p in source["phases"]:
            note = p.get("date_note")
            phase, new = ensure(Phase, {"plan_id": plan.id, "seq": p["seq"]}, name=p["name"],
                                start_on=_day(year, p["start"]), end_on=_day(year, p["end"]),
                                date_text=p["date_text"], date_flag=bool(p["date_problem"]), date_note=note)
            created += new
            if p["source"] == ref.PILOTS[0]["source"]:  # 抓好试点 is where the text names them
                created += _pilots(street, plan, phase)
            for t in p["tasks"]:
                _, new = ensure(Task, {"phase_id": phase.id, "seq": t["seq"]}, text=t["text"],
                                owner_unit_id=office.id if office else None,
                                owner_person=None if office else "街道物业管理办公室",
                                due_on=phase.end_on, required=True)
                created += new
    for seq, t in enumerate(ref.TARGETS, 1):
        metric = TARGET_METRICS.get(t["code"])
        if metric is None or t.get("target") is None:
            continue  # goals without a number stay in the text, not in the targets
        _, new = ensure(Target, {"street_id": street.id, "text": t["text"]}, seq=seq, metric=metric,
                        target=t["target"], deadline=_day(year, t.get("deadline")), source=t["source"])
        created += new
    db.session.flush()
    return created


def _pilots(street: Street, plan: RolloutPlan, phase: Phase) -> int:
    """The pilot estates of 篇6 三.3 loaded in this street become pilots of the plan,
    designated when the phase starts — never later than today, which the model refuses."""
    created = 0
    designated = min(phase.start_on, now().date()) if phase.start_on else now().date()
    for item in ref.PILOTS:
        estate = db.session.scalar(db.select(Estate).join(Estate.community).where(
            Community.street_id == street.id, Community.name == item["community"],
            Estate.name == item["estate"]))
        if estate is not None:  # absent when loaded without the text's communities
            _, new = ensure(Pilot, {"estate_id": estate.id}, plan_id=plan.id, designated_on=designated)
            created += new
    return created
