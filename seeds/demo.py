"""Demo data: the communities and pilot estates the seed text names (篇6 三.3),
filled up to the text's 56 estates by class (篇6 二.1: 15 一类, 21 二类, 20 三类)
with made-up estates marked 示例数据, and one demo account per role."""

from __future__ import annotations

import random

from models import db
from models.accounts import User
from models.declare import Role
from models.estates import Estate, EstateClass, ManagementMode, SurveyNature
from models.governance import Community, Street

from .loader import ensure

DEMO_STREET = "示例街道"
DEMO_PASSWORD = "demo1234"

# 篇6 三.3: the five pilot estates, each in its community. Their classes are not in
# the text; these are a plausible spread and can be corrected on screen.
PILOTS = [
    ("江滨社区", "永乐花园", EstateClass.FIRST),
    ("后溪洋社区", "后溪公寓小区", EstateClass.SECOND),
    ("鸿燕社区", "黄山新村一路", EstateClass.SECOND),
    ("红山社区", "双龙小区", EstateClass.FIRST),
    ("黄山社区", "贮木场新村", EstateClass.SECOND),
]
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
    ("leader", "领导小组 沈萌", Role.LEADER, ("street", DEMO_STREET)),
]


def load_demo() -> dict[str, int]:
    rng = random.Random(56)  # the same demo on every machine
    street, _ = ensure(Street, {"name": DEMO_STREET}, district="示例区", is_demo=True,
                       phone="0000-0000000")
    communities = {}
    for name in COMMUNITIES:
        communities[name], _ = ensure(Community, {"name": name}, street=street,
                                      director=None, is_demo=False)
    created = 0
    plan: list[tuple[str, str, EstateClass, bool]] = [
        (c, e, k, True) for c, e, k in PILOTS]
    for klass, names in MADE_UP.items():
        for i, name in enumerate(names):
            plan.append((COMMUNITIES[i % len(COMMUNITIES)], name, klass, False))
    for community, name, klass, pilot in plan:
        mode, nature = rng.choice(MODES[klass])
        buildings = rng.randint(3, 40) if klass != EstateClass.THIRD else rng.randint(1, 12)
        _, new = ensure(
            Estate, {"name": name},
            community=communities[community], estate_class=klass, management_mode=mode,
            survey_nature=nature, buildings=buildings, households=buildings * rng.randint(18, 60),
            floor_area=buildings * rng.randint(1500, 6000), is_pilot=pilot, is_demo=not pilot,
            address=f"{community.removesuffix('社区')}路{rng.randint(1, 300)}号",
        )
        created += new
    for username, display, role, binding in ACCOUNTS:
        user = db.session.scalar(db.select(User).where(User.username == username))
        if user is not None:
            continue
        user = User(username=username, display_name=display, role=role)
        user.set_password(DEMO_PASSWORD)
        if binding:
            kind, target = binding
            if kind == "street":
                user.streets = [street]
            elif kind == "community":
                user.communities = [communities[target]]
            else:
                user.estates = [db.session.scalar(db.select(Estate).where(Estate.name == target))]
        db.session.add(user)
    db.session.commit()
    return {"estates_created": created,
            "estates": db.session.scalar(db.select(db.func.count()).select_from(Estate))}
