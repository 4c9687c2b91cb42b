"""Demo supervision: three months of inspections of the pilot estates by their
four-in-one groups (some estates short of four cleaning checks a month), a few
readings missing their targets, rectifications open, late and verified, and last
year's assessments of the communities and two companies."""

from __future__ import annotations

import base64
import random
from pathlib import Path
from datetime import date, timedelta
from decimal import Decimal

from models import db, now
from models.assessment import Assessment, AssessmentItem, Outcome, SubjectKind
from models.accounts import Role
from models.estates import Estate, PropertyCompany
from models.governance import Community
from models.supervision import FourInOneGroup, Indicator, IndicatorSource
from models.inspections import Inspection, InspectionItem, InspectionKind, InspectionPhoto, Rectification, Responsible
from models.kernel.workflow import perform

CLEANING = "清洁、保洁率"
ROUTINE = ["房屋完好率", "绿化完好率", "路灯完好率", "消防设施、设备完好率", "业主(住户)对物业管理综合满意率"]


def load_supervision() -> None:
    if db.session.scalar(db.select(db.func.count()).select_from(Inspection)):
        return
    rng = random.Random(5)
    today = now().date()
    indicators = {i.name: i for i in db.session.scalars(db.select(Indicator).where(
        Indicator.source == IndicatorSource.MEASURED))}
    groups = db.session.scalars(db.select(FourInOneGroup).where(FourInOneGroup.state == "active")).all()
    for group in groups:
        estate = group.estate
        inspectors = list(group.members)[:2]
        for months_ago in range(3):
            first = (today.replace(day=1) - timedelta(days=28 * months_ago)).replace(day=1)
            cleaning_checks = 4 if estate.name != "贮木场新村" else 2  # one estate falls short
            for week in range(cleaning_checks):
                day = first + timedelta(days=7 * week + 2)
                if day <= today:
                    _inspection(estate, day, InspectionKind.CLEANING, inspectors,
                                {CLEANING: Decimal(rng.choice([99, 99.5, 100, 98.5]))}, indicators)
            day = first + timedelta(days=12)
            if day <= today:
                readings = {name: Decimal(rng.choice([100, 100, 99, 97])) for name in ROUTINE}
                readings["业主(住户)对物业管理综合满意率"] = Decimal(rng.choice([96, 98.5, 99]))
                inspection = _inspection(estate, day, InspectionKind.ROUTINE, inspectors, readings, indicators,
                                         findings="3号楼楼道灯损坏；东门绿化带杂草丛生")
                _rectify(inspection, rng, today, still_open=months_ago == 0)
    _assessments(today)
    _photo()


# A 1×1 PNG, so the photo screens have something real to show.
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def _photo() -> None:
    from views.uploads import upload_root

    inspection = db.session.scalar(db.select(Inspection).where(Inspection.findings.isnot(None))
                                   .order_by(Inspection.inspected_on.desc()))
    spec = InspectionPhoto.__table__.c.path.info["upload"]
    name = f"demo-{inspection.id}.png"
    Path(upload_root(spec), name).write_bytes(PIXEL)
    db.session.add(InspectionPhoto(inspection=inspection, path=name, caption="示例照片：楼道灯"))
    db.session.flush()


def _inspection(estate: Estate, day: date, kind: InspectionKind, inspectors: list, readings: dict,
                indicators: dict, findings: str | None = None) -> Inspection:
    inspection = Inspection(estate=estate, inspected_on=day, kind=kind, findings=findings)
    inspection.members.extend(inspectors)
    for name, value in readings.items():
        inspection.items.append(InspectionItem(indicator=indicators[name], value=value))
    db.session.add(inspection)
    db.session.flush()
    if day < now().date() - timedelta(days=7):
        perform(inspection, "submit", Role.ADMIN, {"submitted_on": day + timedelta(days=1)})
        perform(inspection, "receive", Role.ADMIN, {"received_on": day + timedelta(days=2)})
    return inspection


def _rectify(inspection: Inspection, rng: random.Random, today: date, still_open: bool = False) -> None:
    raised = inspection.inspected_on
    deadline = raised + timedelta(days=rng.choice([7, 10, 15]))
    company = inspection.estate.company_name
    rect = Rectification(inspection=inspection, estate_id=inspection.estate_id, finding="3号楼楼道灯损坏，夜间照明不足",
                         responsible=Responsible.COMPANY if company else Responsible.CENTER,
                         responsible_name=company, raised_on=raised, deadline=deadline)
    db.session.add(rect)
    db.session.flush()
    replied = raised + timedelta(days=rng.randint(3, 12))
    if replied <= today and not still_open:
        perform(rect, "answer", Role.ADMIN, {"reply": "已更换灯具", "replied_on": replied})
        verified = replied + timedelta(days=2)
        if verified <= today:
            perform(rect, "verify", Role.ADMIN, {"verified_on": verified,
                                                 "verifier_member": inspection.members[0]})
    db.session.flush()


ITEMS = [("组织领导和制度建设", 15), ("业主大会、业主委员会建设", 25), ("小区物业服务质量", 30),
         ("矛盾纠纷调解和投诉处理", 20), ("宣传发动和档案台账", 10)]


def _assessments(today: date) -> None:
    year = today.year - 1
    rng = random.Random(year)
    outcomes = [Outcome.COMMEND, Outcome.PASS, Outcome.PASS, Outcome.CORRECT, Outcome.PASS]
    for community, outcome in zip(db.session.scalars(db.select(Community).order_by(Community.name)), outcomes):
        sheet = Assessment(year=year, subject_kind=SubjectKind.COMMUNITY, community=community,
                           assessor="街道纪工委、物业办")
        for seq, (item, weight) in enumerate(ITEMS, 1):
            sheet.items.append(AssessmentItem(seq=seq, item=item, weight=Decimal(weight),
                                              score=Decimal(weight) - rng.choice([0, 1, 2, 3, 5])))
        db.session.add(sheet)
        db.session.flush()
        perform(sheet, "finalize", Role.ADMIN, {
            "assessed_on": date(today.year, 1, 20), "outcome": outcome, "opinion": "全年工作扎实，试点推进有序。",
            "correction_deadline": date(today.year, 4, 30) if outcome == Outcome.CORRECT else None})
    company = db.session.scalar(db.select(PropertyCompany).order_by(PropertyCompany.name))
    sheet = Assessment(year=year, subject_kind=SubjectKind.COMPANY, company=company, assessor="街道物业办")
    for seq, (item, weight) in enumerate([("服务质量（检查结果）", 50), ("投诉处理及时率", 30), ("收费公示", 20)], 1):
        sheet.items.append(AssessmentItem(seq=seq, item=item, weight=Decimal(weight),
                                          score=Decimal(weight) - 4))
    db.session.add(sheet)
    db.session.flush()
