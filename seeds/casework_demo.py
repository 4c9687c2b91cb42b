"""A few months of plausible casework across the demo estates, some of it late.

Every case reaches its state through the same transitions station staff use, with
times in the past, so clocks, flags, the late-now page and the rates all have
something real to show.
"""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from decimal import Decimal

from models import db, now
from models.casework import Channel, Complaint, ComplaintKind, DisputeKind, MediationCase, MediationSession, RefusalReason
from models.repairs import RepairCategory, RepairRule, RepairTicket, Satisfaction, ScopeDecision, DEFAULT_RULES
from models.accounts import Role
from models.estates import Estate
from models.selfgov import OwnersCommittee
from models.service_center import CENTER_MODES, CenterAgreement, Clearing, ClearingKind, Household, Patrol
from models.kernel.workflow import perform

from .loader import ensure

SURNAMES = "王李张刘陈杨黄赵周吴徐孙马朱胡郭何林高罗"
PROBLEMS = {
    RepairCategory.WATER: ["厨房水管漏水", "楼道总阀滴漏", "卫生间水龙头坏了", "水表前管道爆裂"],
    RepairCategory.POWER: ["楼道灯不亮", "家中跳闸无法合闸", "单元门禁断电", "插座冒火花"],
    RepairCategory.DRAIN: ["下水道堵塞返水", "厨房下水不通"],
    RepairCategory.SEPTIC: ["化粪池满溢", "化粪池井盖破损"],
    RepairCategory.GAS: ["闻到燃气味", "燃气表不走字"],
    RepairCategory.OTHER: ["单元门闭门器损坏", "屋面渗水", "窗户玻璃破损"],
}


def load_repair_rules() -> int:
    """The text's repair time limits as editable reference data (idempotent)."""
    created = 0
    for category, (minutes, eod, hours, basis) in DEFAULT_RULES.items():
        _, new = ensure(RepairRule, {"category": category}, arrival_minutes=minutes, end_of_day=eod,
                        hours=hours, basis=basis)
        created += new
    return created


def _person(rng: random.Random) -> tuple[str, str]:
    return f"{rng.choice(SURNAMES)}先生" if rng.random() < 0.5 else f"{rng.choice(SURNAMES)}女士", \
        f"13{rng.randint(100000000, 999999999)}"


def _step(row: object, name: str, **params: object) -> None:
    perform(row, name, Role.ADMIN, params)
    db.session.flush()


def load_casework(days: int = 90) -> None:
    if db.session.scalar(db.select(db.func.count()).select_from(RepairTicket)):
        return  # loaded before: demo casework is generated once
    rng = random.Random(2024)
    current = now()
    estates = db.session.scalars(db.select(Estate).order_by(Estate.id)).all()
    for _ in range(160):
        _ticket(rng, rng.choice(estates), current - timedelta(minutes=rng.randint(30, days * 24 * 60)))
    # a few still open right now, one of them already past its arrival deadline
    for minutes in (10, 45, 300):
        _ticket(rng, rng.choice(estates), current - timedelta(minutes=minutes), open_only=True)
    for _ in range(70):
        _complaint(rng, rng.choice(estates), current - timedelta(minutes=rng.randint(60, days * 24 * 60)))
    _complaint(rng, estates[0], current - timedelta(days=3), stall=True)
    for _ in range(14):
        _mediation(rng, rng.choice(estates), current - timedelta(days=rng.randint(1, days)))
    _service_center(rng, estates)


def _ticket(rng: random.Random, estate: Estate, call_at: datetime, open_only: bool = False) -> None:
    category = rng.choices(list(RepairCategory), weights=[35, 30, 12, 5, 5, 13])[0]
    caller, phone = _person(rng)
    ticket = RepairTicket(estate=estate, call_at=call_at, caller=caller, phone=phone,
                          address=f"{rng.randint(1, 12)}幢{rng.randint(1, 6)}0{rng.randint(1, 4)}室",
                          category=category, description=rng.choice(PROBLEMS[category]))
    db.session.add(ticket)
    db.session.flush()
    if open_only:
        _step(ticket, "accept")
        return
    if rng.random() < 0.1:
        decision = ScopeDecision.UTILITY if category in (RepairCategory.GAS, RepairCategory.POWER) \
            else ScopeDecision.OUT_OF_SCOPE
        _step(ticket, "refer", scope_decision=decision,
              advice="已告知供电/燃气公司报修电话" if decision == ScopeDecision.UTILITY else "属户内自有设施，已提供维修咨询")
        return
    _step(ticket, "accept")
    dispatched = call_at + timedelta(minutes=rng.randint(2, 10))
    _step(ticket, "dispatch", repair_unit=rng.choice(["街道维修队", "江滨水电维修部", "鸿福维修组"]),
          dispatched_at=dispatched)
    arrived = dispatched + timedelta(minutes=rng.choice([8, 12, 15, 20, 25, 40]))  # some late
    _step(ticket, "arrive", arrived_at=min(arrived, now()))
    hours = rng.choice([1, 2, 3, 5, 8, 14, 30])  # a few miss "不过天/不过夜"
    completed = arrived + timedelta(hours=hours)
    if completed > now():
        return
    _step(ticket, "complete", completed_at=completed, result="已修复",
          fee=Decimal(rng.choice([0, 0, 20, 35, 50])))
    back = completed + timedelta(hours=rng.choice([2, 6, 20, 40]))
    if rng.random() < 0.6 and back <= now():  # 篇3 asks for at least 30%
        _step(ticket, "call_back", called_back_at=back,
              satisfaction=rng.choices(list(Satisfaction), weights=[80, 15, 5])[0])


def _complaint(rng: random.Random, estate: Estate, received: datetime, stall: bool = False) -> None:
    person, phone = _person(rng)
    channel = rng.choices(list(Channel), weights=[50, 15, 10, 5, 20])[0]
    kind = ComplaintKind.COMPLAINT if rng.random() < 0.75 else ComplaintKind.SUGGESTION
    complaint = Complaint(estate=estate, received_at=received, channel=channel, kind=kind,
                          complainant=None if channel == Channel.BOX else person,
                          phone=None if channel == Channel.BOX else phone,
                          content=rng.choice(["楼道堆放杂物无人清理", "夜间车辆乱停影响通行", "物业费收支不公开",
                                              "绿化带长期无人修剪", "建议增设电动车充电桩", "保洁不及时，垃圾桶满溢"]),
                          is_valid=kind == ComplaintKind.COMPLAINT and rng.random() < 0.7)
    db.session.add(complaint)
    db.session.flush()
    _step(complaint, "dispatch", handler=rng.choice(["服务中心 郑伟", "物业 何勇", "社区 林华"]),
          dispatched_at=received + timedelta(minutes=rng.choice([1, 2, 3, 5])))
    if stall:
        return  # open for three days: past its 2-day promise
    took = timedelta(hours=rng.choice([3, 10, 20, 30, 40, 60, 200]))
    if received + took > now():
        return
    _step(complaint, "resolve", resolved_at=received + took, result="已协调处理，当事人认可",
          is_valid=complaint.is_valid, signed=rng.random() < 0.5)
    back = received + took + timedelta(hours=rng.choice([3, 12, 12, 30]))  # one in four late
    if back <= now():
        _step(complaint, "call_back", called_back_at=back, satisfied=rng.random() < 0.85)


def _mediation(rng: random.Random, estate: Estate, received: datetime) -> None:
    applicant, phone = _person(rng)
    case = MediationCase(estate=estate, received_at=received, applicant=applicant, applicant_phone=phone,
                         respondent=rng.choice(["物业公司", "楼上住户", "业主委员会", "开发建设单位"]),
                         dispute_kind=rng.choice(list(DisputeKind)),
                         summary=rng.choice(["楼上漏水造成损失，赔偿协商不成", "物业费上涨未经业主大会",
                                             "停车位归属争议", "装修噪音扰民"]))
    db.session.add(case)
    db.session.flush()
    if rng.random() < 0.15:
        _step(case, "refuse", refusal_reason=rng.choice(list(RefusalReason)), refusal_note="已告知申请人")
        return
    _step(case, "accept", accepted_at=received + timedelta(hours=2))
    held = received + timedelta(days=1)
    if held > now():
        return
    case.sessions.append(MediationSession(held_at=held, place="调解站", mediators="吴敏", notes="双方陈述意见"))
    db.session.flush()
    if held + timedelta(days=2) <= now():
        if rng.random() < 0.7:
            _step(case, "agree", closed_at=held + timedelta(days=2), agreement="双方同意按维修报价各承担一半")
        else:
            _step(case, "fail", closed_at=held + timedelta(days=2), outcome_note="被申请人拒绝调解，建议诉讼")


def _service_center(rng: random.Random, estates: list[Estate]) -> None:
    cared = [e for e in estates if e.management_mode in CENTER_MODES]
    today = now().date()
    for estate in cared:
        for back in range(1, 31):
            day = today - timedelta(days=back)
            times = 2 if rng.random() > 0.08 else 1  # now and then only one patrol
            for i in range(times):
                db.session.add(Patrol(estate=estate, patroller=rng.choice(["孙丽", "郑伟"]),
                                      patrolled_at=datetime.combine(day, time(9 + 8 * i, rng.randint(0, 59))),
                                      route="小区内主干道、楼道、车棚"))
        db.session.add(Clearing(estate=estate, kind=ClearingKind.SEPTIC, done_on=today - timedelta(days=rng.randint(10, 80)),
                                done_by="环卫清掏队", location="小区东侧化粪池"))
    # 篇5 二(二)3: an old estate whose owners' committee engaged the center
    committee = db.session.scalar(db.select(OwnersCommittee).join(OwnersCommittee.estate).where(
        Estate.management_mode.in_([m.value for m in CENTER_MODES])).limit(1))
    target = committee.estate if committee is not None else cared[0]
    ensure(CenterAgreement, {"estate_id": target.id}, committee_id=committee.id if committee else None,
           signed_on=today - timedelta(days=60), start_on=today - timedelta(days=30),
           services="公共秩序、环境卫生、绿化、停车、装修管理", fee_standard="0.3 元/㎡·月")
    for estate in cared[:3]:
        for b in range(1, 4):
            for r in range(1, 5):
                ensure(Household, {"estate_id": estate.id, "building": str(b), "unit": "1", "room": f"{r}01"},
                       head=_person(rng)[0], members=rng.randint(1, 5), area=Decimal(rng.randint(45, 90)))
