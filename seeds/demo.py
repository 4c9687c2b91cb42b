"""Demo data: the street's reference data (the communities and pilot estates the seed
text names, 篇6 三.3, and its structure), filled up to the text's 56 estates by class
(篇6 二.1: 15 一类, 21 二类, 20 三类) with made-up estates marked 示例数据;
made-up companies, contracts, assemblies, committees and four-in-one groups in
states that make every flag show; one demo account per role.

Dates are relative to the day the demo is loaded, so the flags stay meaningful.
Committees and groups reach their states through the same transitions users run.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from models import db, now
from models.accounts import User
from models.accounts import Role
from models.estates import (CompanyReview, Counterparty, Estate, EstateClass, ManagementMode,
                            PropertyCompany, Qualification, ReviewRating, ServiceContract,
                            SurveyNature)
from models.governance import (Community, LeadershipGroup, LeadershipMeeting, OrgKind, OrgUnit,
                               StaffMember, Street)
from models.selfgov import (AssemblyMeeting, CommitteeMember, CommitteePost, Matter, MeetingKind,
                            OwnersCommittee, Resolution, VotingForm)
from models.supervision import FourInOneGroup, FourInOneMember, RepKind
from models.kernel.workflow import perform

from .casework_demo import load_casework, load_repair_rules
from . import reference_data as ref
from .loader import DEMO_STREET, demo_estate, ensure
from .reference import PILOT_CLASSES, load_indicators, load_reference
from .funds_demo import load_funds
from .rollout_demo import load_rollout
from .supervision_demo import load_supervision

DEMO_PASSWORD = "demo1234"

# 篇6 三.3: the five pilot estates, each in its community (loaded as reference data).
PILOTS = [(p["community"], p["estate"], PILOT_CLASSES[p["estate"]]) for p in ref.PILOTS]
COMMUNITIES = [c for c, _, _ in PILOTS]

# Made-up names (示例数据) to reach 15 / 21 / 20.
MADE_UP = {
    EstateClass.FIRST: ["江滨华庭", "滨江花苑", "鸿燕雅居", "红山名苑", "黄山御景", "锦绣家园",
                        "金桥花园", "阳光水岸", "翠湖山庄", "碧水蓝湾", "紫荆花园", "书香名邸",
                        "丽景湾"],
    EstateClass.SECOND: ["供电局宿舍区", "粮食局宿舍", "自来水公司宿舍", "邮政小区", "烟草公司宿舍",
                         "农行宿舍", "工行小区", "电信小区", "一中教师公寓", "人民医院宿舍",
                         "林业局宿舍", "交通局宿舍", "税务小区", "公安局宿舍", "水电小区",
                         "建设局宿舍", "气象局宿舍", "广电小区"],
    EstateClass.THIRD: ["江滨老街片区", "后溪洋一巷", "红山村安置区", "鸿燕旧城片区", "黄山路老宅区",
                        "东门巷片区", "西街片区", "南门坊", "北关巷", "城隍巷片区", "水井弄",
                        "米仓巷", "打铁街片区", "柴桥头片区", "老粮站宿舍", "老机械厂宿舍",
                        "砖瓦厂宿舍", "纺织厂宿舍", "酒厂宿舍", "农机厂宿舍"],
}

MODES = {
    EstateClass.FIRST: [(ManagementMode.MARKET, SurveyNature.MANAGED)],
    EstateClass.SECOND: [(ManagementMode.UNIT_SELF, SurveyNature.SELF_MANAGED),
                         (ManagementMode.MARKET, SurveyNature.MANAGED),
                         (ManagementMode.AFFORDABLE, SurveyNature.MANAGED)],
    EstateClass.THIRD: [(ManagementMode.OLD_CENTER, SurveyNature.UNMANAGED),
                        (ManagementMode.OLD_CENTER, SurveyNature.SELF_MANAGED)],
}

# One account per role, bound to a sensible part of the street.
ACCOUNTS = [
    ("admin", "系统管理员", Role.ADMIN, None),
    ("street", "街道物业办 王敏", Role.STREET_STAFF, ("street", DEMO_STREET)),
    ("community", "江滨社区 李芳", Role.COMMUNITY_STAFF, ("community", "江滨社区")),
    ("committee", "永乐花园业委会 张强", Role.COMMITTEE_MEMBER, ("estate", "永乐花园")),
    ("coordinator", "试点协调员 陈静", Role.PILOT_COORDINATOR, ("street", DEMO_STREET)),
    ("station", "应急维修站 刘洋", Role.STATION_STAFF, ("street", DEMO_STREET)),
    ("mediator", "调解站 吴敏", Role.STATION_STAFF, ("street", DEMO_STREET)),
    ("center", "服务中心 郑伟", Role.STATION_STAFF, ("street", DEMO_STREET)),
    ("leader", "领导小组 沈萌", Role.LEADER, ("street", DEMO_STREET)),
    ("auditor", "纪工委 审计员 周正", Role.AUDITOR, ("street", DEMO_STREET)),
]


STATION_OF = {"station": OrgKind.REPAIR_STATION, "mediator": OrgKind.MEDIATION_STATION,
              "center": OrgKind.SERVICE_CENTER}


def load_demo() -> dict[str, int]:
    rng = random.Random(56)  # the same demo on every machine
    street, _ = ensure(Street, {"name": DEMO_STREET}, district="示例区", is_demo=True,
                       phone="0000-0000000")
    before = db.session.scalar(db.select(db.func.count()).select_from(Estate))
    load_reference(street)  # the text's communities and pilot estates, and the structure
    communities = {c.name: c for c in db.session.scalars(
        db.select(Community).where(Community.street_id == street.id))}
    plan: list[tuple[str, str, EstateClass, bool]] = [
        (c, e, k, True) for c, e, k in PILOTS]
    for klass, names in MADE_UP.items():
        for i, name in enumerate(names):
            plan.append((COMMUNITIES[i % len(COMMUNITIES)], name, klass, False))
    for community, name, klass, pilot in plan:
        mode, nature = rng.choice(MODES[klass])
        buildings = rng.randint(3, 40) if klass != EstateClass.THIRD else rng.randint(1, 12)
        made_up = dict(management_mode=mode, survey_nature=nature, buildings=buildings,
                       households=buildings * rng.randint(18, 60),
                       floor_area=buildings * rng.randint(1500, 6000),
                       address=f"{community.removesuffix('社区')}路{rng.randint(1, 300)}号")
        estate, _ = ensure(Estate, {"community_id": communities[community].id, "name": name},
                           estate_class=klass, is_demo=True, **made_up)
        if pilot and estate.buildings is None:
            # the text gives a pilot's name and community only; the demo makes up the rest
            for key, value in made_up.items():
                setattr(estate, key, value)
    load_repair_rules()
    load_indicators()
    load_rollout(street, [e for _, e, _ in PILOTS])
    _structure(street)
    _companies(street, rng)
    _self_governance(rng)
    _four_in_one()
    for username, display, role, binding in ACCOUNTS:
        user = db.session.scalar(db.select(User).where(User.username == username))
        if user is not None:
            continue
        user = User(username=username, display_name=display, role=role)
        user.set_password(DEMO_PASSWORD)
        if role == Role.STATION_STAFF:
            user.unit = db.session.scalar(db.select(OrgUnit).where(
                OrgUnit.street_id == street.id, OrgUnit.kind == STATION_OF[username]))
        if binding:
            kind, target = binding
            if kind == "street":
                user.streets = [street]
            elif kind == "community":
                user.communities = [communities[target]]
            else:
                user.estates = [demo_estate(target)]
        db.session.add(user)
    db.session.flush()
    _link_committee_account()
    load_casework()
    load_supervision()
    load_funds()
    db.session.commit()
    estates = db.session.scalar(db.select(db.func.count()).select_from(Estate))
    return {"estates_created": estates - before, "estates": estates}


def _structure(street: Street) -> None:
    """Staff and hotlines of the stations, and the leadership group's last meetings."""
    today = now().date()
    units = {u.kind: u for u in db.session.scalars(db.select(OrgUnit).where(
        OrgUnit.street_id == street.id, OrgUnit.community_id.is_(None)))}
    staff = {
        OrgKind.REPAIR_STATION: [("刘洋", "值班员", "13800000001"), ("周强", "维修组长", "13800000002")],
        OrgKind.MEDIATION_STATION: [("吴敏", "调解员", "13800000003")],
        OrgKind.SERVICE_CENTER: [("郑伟", "中心主任", "13800000004"), ("孙丽", "巡查员", "13800000005")],
    }
    for kind, people in staff.items():
        unit = units[kind]
        if kind == OrgKind.REPAIR_STATION and not unit.hotline:
            unit.hotline, unit.head = "0000-96123（示例）", "周强"
        for name, post, phone in people:
            ensure(StaffMember, {"unit_id": unit.id, "name": name}, post=post, phone=phone)
    group = db.session.scalar(db.select(LeadershipGroup).where(LeadershipGroup.street_id == street.id))
    for months_ago, problems in ((2, "部分三类小区无人管理，群众反映强烈"), (1, "两个业委会逾期未备案")):
        held = (today.replace(day=1) - timedelta(days=28 * months_ago)).replace(day=10)
        ensure(LeadershipMeeting, {"group_id": group.id, "held_on": held}, venue="街道三楼会议室",
               chair="沈萌", attendees="沈萌、郑文珍、陈旭、蔡莹、林燕芳，各社区主任",
               agenda="学习上级有关文件，分析试点进度", problems=problems,
               decisions="各社区本月内完成小区摸底；督促逾期业委会备案")


COMPANIES = ["江滨物业服务有限公司", "鸿福物业管理有限公司", "红山物业服务有限公司",
             "安居物业服务有限公司", "华庭物业管理有限公司"]


def _companies(street: Street, rng: random.Random) -> None:
    today = now().date()
    companies = []
    for i, name in enumerate(COMPANIES):
        company, _ = ensure(PropertyCompany, {"street_id": street.id, "name": name},
                            qualification=[Qualification.SECOND, Qualification.THIRD][i % 2],
                            contact=["王经理", "李经理", "赵经理", "钱经理", "孙经理"][i],
                            phone=f"1390000{i:04d}", is_demo=True)
        companies.append(company)
        ensure(CompanyReview, {"company_id": company.id, "year": today.year - 1},
               rating=[ReviewRating.EXCELLENT, ReviewRating.GOOD, ReviewRating.BASIC][i % 3],
               opinion="服务基本到位，投诉处理及时性有待提高。", reviewer="街道物业管理办公室",
               reviewed_on=date(today.year, 1, 15))
    market = db.session.scalars(db.select(Estate).where(
        Estate.management_mode == ManagementMode.MARKET).order_by(Estate.name)).all()
    # The last two market estates are left without a contract: "无人管理" shows.
    for i, estate in enumerate(market[:-2]):
        ensure(ServiceContract, {"estate_id": estate.id}, company_id=companies[i % len(companies)].id,
               counterparty=Counterparty.OWNERS_COMMITTEE if estate.is_pilot else Counterparty.DEVELOPER,
               start_on=today.replace(month=1, day=1) - timedelta(days=365 * rng.randint(1, 3)),
               end_on=None if i % 3 else today.replace(month=12, day=31) + timedelta(days=365),
               fee_standard=f"{rng.choice(['0.6', '0.8', '1.0', '1.2'])} 元/㎡·月")


def _meeting(estate: Estate, held_on: date, quorum: bool, kind: MeetingKind) -> AssemblyMeeting:
    total = estate.households or 100
    area = Decimal(estate.floor_area or total * 90)
    share = Decimal("0.8") if quorum else Decimal("0.5")
    meeting, new = ensure(AssemblyMeeting, {"estate_id": estate.id, "held_on": held_on}, kind=kind,
                          voting_form=VotingForm.WRITTEN, total_owners=total, total_area=area,
                          voting_owners=int(total * share), voting_area=(area * share).quantize(Decimal("0.01")))
    if new:
        voters, voted_area = meeting.voting_owners, meeting.voting_area
        db.session.add_all([
            Resolution(meeting=meeting, seq=1, title="选举产生业主委员会", matter=Matter.ORDINARY,
                       for_owners=int(voters * 0.7), for_area=(voted_area * Decimal("0.7")).quantize(Decimal("0.01"))),
            Resolution(meeting=meeting, seq=2, title="使用专项维修资金维修屋面防水", matter=Matter.MAJOR,
                       for_owners=int(voters * 0.8) + 1,
                       for_area=(voted_area * Decimal("0.8")).quantize(Decimal("0.01"))),
        ])
    return meeting


NAMES = ["张强", "李娜", "王磊", "刘芳", "陈杰", "杨静", "赵敏", "黄伟", "周婷", "吴刚", "徐丽"]


def _committee(estate: Estate, term_no: int, prepared_on: date, members: int = 5) -> OwnersCommittee:
    committee, new = ensure(OwnersCommittee, {"estate_id": estate.id, "term_no": term_no},
                            prepared_on=prepared_on, community_rep="社区居委会 林主任")
    if new:
        for i in range(members):
            post = CommitteePost.DIRECTOR if i == 0 else (
                CommitteePost.DEPUTY if i == 1 else CommitteePost.MEMBER)
            committee.members.append(CommitteeMember(
                name=NAMES[(i + estate.id) % len(NAMES)], post=post,
                building=str(1 + i % max(1, estate.buildings or 1)), room=f"{i + 1}0{i + 1}",
                phone=f"1350000{estate.id:02d}{i:02d}"))
        db.session.flush()
    return committee


def _advance(committee: OwnersCommittee, steps: list[tuple[str, dict]]) -> None:
    """Run transitions as the system administrator would, skipping those done before."""
    for name, params in steps:
        transition = committee.__admin__.workflow.transition(name)
        if committee.state in transition.source:
            perform(committee, name, Role.ADMIN, params)
            db.session.flush()


def _self_governance(rng: random.Random) -> None:
    today = now().date()
    years5 = 365 * 5
    # 永乐花园: in office, term ending in 60 days, re-election not started → flagged.
    yongle = demo_estate("永乐花园")
    held = today - timedelta(days=years5 - 60)
    _meeting(yongle, held, True, MeetingKind.FIRST)
    c = _committee(yongle, 1, held - timedelta(days=60))
    _advance(c, [("hold_assembly", {}), ("elect", {"election_date": held}),
                 ("file", {"filing_date": held + timedelta(days=20), "filing_opinion": "材料齐全，同意备案。",
                           "term_start": held, "term_end": today + timedelta(days=59)})])
    # 后溪公寓小区: elected 40 days ago, not filed → past its 30-day filing window.
    houxi = demo_estate("后溪公寓小区")
    held = today - timedelta(days=40)
    _meeting(houxi, held, True, MeetingKind.FIRST)
    c = _committee(houxi, 1, held - timedelta(days=45))
    _advance(c, [("hold_assembly", {}), ("elect", {"election_date": held})])
    # 双龙小区: preparing; its assembly fell short of two thirds.
    shuanglong = demo_estate("双龙小区")
    held = today - timedelta(days=20)
    _meeting(shuanglong, held, False, MeetingKind.FIRST)
    _committee(shuanglong, 1, held - timedelta(days=30))
    # A few 一类 estates with committees comfortably in office.
    for name in ("江滨华庭", "滨江花苑", "鸿燕雅居"):
        estate = demo_estate(name)
        held = today - timedelta(days=rng.randint(200, 700))
        _meeting(estate, held, True, MeetingKind.FIRST)
        c = _committee(estate, 1, held - timedelta(days=30), members=7)
        _advance(c, [("hold_assembly", {}), ("elect", {"election_date": held}),
                     ("file", {"filing_date": held + timedelta(days=15), "filing_opinion": "同意备案。",
                               "term_start": held, "term_end": held + timedelta(days=years5 - 1)})])


def _four_in_one() -> None:
    today = now().date()
    complete = [(RepKind.SOCIAL_WORKER, "社工 陈红", False), (RepKind.OWNER, "业主 马骏", False),
                (RepKind.RESIDENTS_COMMITTEE, "社委会主任 林华", True), (RepKind.COMPANY, "物业 何勇", False)]
    plans = {
        "永乐花园": complete, "后溪公寓小区": complete, "贮木场新村": complete,
        "黄山新村一路": complete[:3],  # 缺少物业公司代表
        "双龙小区": complete + [(RepKind.RESIDENTS_COMMITTEE, "社委会副主任 高翔", True)],  # 两名组长
    }
    for estate_name, members in plans.items():
        estate = demo_estate(estate_name)
        group, new = ensure(FourInOneGroup, {"estate_id": estate.id},
                            name=f"{estate_name}四位一体监督小组", established_on=today - timedelta(days=90))
        if new:
            for kind, name, leader in members:
                group.members.append(FourInOneMember(name=name, kind=kind, is_leader=leader,
                                                     position="组长" if leader else None))
            db.session.flush()
            if group.guard_activate() is None:
                perform(group, "activate", Role.ADMIN)


def _link_committee_account() -> None:
    """The demo committee member logs in as a member of 永乐花园's four-in-one group."""
    user = db.session.scalar(db.select(User).where(User.username == "committee"))
    group = db.session.scalar(db.select(FourInOneGroup).join(FourInOneGroup.estate)
                              .where(Estate.name == "永乐花园"))
    member = next((m for m in group.members if m.kind == RepKind.OWNER), None)
    if user is not None and member is not None and member.user_id is None:
        member.user_id = user.id
