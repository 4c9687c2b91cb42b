"""Four-in-one groups: four kinds of representative, one leader (the 社委会主任)."""

from __future__ import annotations

import pytest

from models import db
from models.estates import Estate
from models.supervision import FourInOneGroup, FourInOneMember, GroupState

from .helpers import flashes, row_id, transition


@pytest.fixture
def street(client_for):
    return client_for("street")


def group_of(app, estate_name: str) -> FourInOneGroup:
    with app.app_context():
        group = db.session.scalar(db.select(FourInOneGroup).join(FourInOneGroup.estate)
                                  .where(Estate.name == estate_name))
        db.session.expunge_all()
        return group


def add_member(street, group_id, name, kind, leader=False):
    data = {"group": str(group_id), "name": name, "kind": kind}
    if leader:
        data["is_leader"] = "y"
    return street.post("/admin/four_in_one_member/new/", data)


def test_an_incomplete_group_cannot_be_activated_and_the_screen_says_why(app, street):
    group = group_of(app, "黄山新村一路")  # the demo leaves out the company's representative
    assert group.state == GroupState.FORMING
    details = street.get(f"/admin/four_in_one_group/details/?id={group.id}").text
    assert "不能启用：缺少物业公司代表" in details
    r = transition(street, "four_in_one_group", "activate", group.id)
    assert r.status_code == 302
    assert "「启用」未完成，数据未改变：缺少物业公司代表" in " ".join(flashes(street.get(r.headers["Location"]).text))
    assert group_of(app, "黄山新村一路").state == GroupState.FORMING

    assert add_member(street, group.id, "物业 钱进", "company").status_code == 302
    transition(street, "four_in_one_group", "activate", group.id)
    assert group_of(app, "黄山新村一路").state == GroupState.ACTIVE


def test_two_leaders_block_activation(app, street):
    group = group_of(app, "双龙小区")
    assert "组长须有且只有一名（当前 2 名）" in street.get(
        f"/admin/four_in_one_group/details/?id={group.id}").text
    transition(street, "four_in_one_group", "activate", group.id)
    assert group_of(app, "双龙小区").state == GroupState.FORMING


def test_no_leader_blocks_activation(app, street):
    estate = row_id(app, Estate, name="丽景湾")
    assert street.post("/admin/four_in_one_group/new/", {"estate": str(estate)}).status_code == 302
    group = group_of(app, "丽景湾")
    assert group.name == "丽景湾四位一体监督小组"  # named from its estate when left blank
    for name, kind in (("甲", "social_worker"), ("乙", "owner"), ("丙", "residents_committee"),
                       ("丁", "company")):
        add_member(street, group.id, name, kind)
    details = street.get(f"/admin/four_in_one_group/details/?id={group.id}").text
    assert "组长须有且只有一名（当前 0 名）" in details
    assert "缺少" not in details
    r = transition(street, "four_in_one_group", "activate", group.id)
    assert "「启用」未完成，数据未改变：组长须有且只有一名（当前 0 名）" in " ".join(
        flashes(street.get(r.headers["Location"]).text))
    assert group_of(app, "丽景湾").state == GroupState.FORMING


def test_the_leader_is_the_residents_committee_representative(app, street):
    group = group_of(app, "黄山新村一路")
    r = add_member(street, group.id, "物业 钱进", "company", leader=True)
    assert r.status_code == 200 and "组长由社委会主任担任，应为「社委会代表」" in r.text


def test_incomplete_groups_are_flagged(client_for):
    street = client_for("street")
    import json
    import re

    page = street.get("/admin/four_in_one_group/").text
    groups = json.loads(re.search(r'id="filter-groups-data"[^>]*>(.*?)</', page, re.S).group(1))
    index = groups["未配齐"][0]["index"]
    flagged = street.get(f"/admin/four_in_one_group/?flt0_{index}=1").text
    assert "黄山新村一路" in flagged and "双龙小区" in flagged and "永乐花园" not in flagged


def test_suspending_records_the_reason(app, street):
    group = group_of(app, "永乐花园")
    assert group.state == GroupState.ACTIVE
    r = transition(street, "four_in_one_group", "suspend", group.id)  # reason required
    assert r.status_code == 200 and "请填写「暂停原因」" in r.text
    transition(street, "four_in_one_group", "suspend", group.id, suspended_reason="组长调离")
    group = group_of(app, "永乐花园")
    assert group.state == GroupState.SUSPENDED and group.suspended_reason == "组长调离"


# -- an active group stays complete ----------------------------------------------------


def member(app, estate_name: str, kind: str) -> FourInOneMember:
    with app.app_context():
        row = db.session.scalar(db.select(FourInOneMember).join(FourInOneMember.group).join(FourInOneGroup.estate)
                                .where(Estate.name == estate_name, FourInOneMember.kind == kind)
                                .order_by(FourInOneMember.id))
        db.session.expunge_all()
        return row


def kinds_of(app, estate_name: str) -> list[str]:
    with app.app_context():
        group = db.session.scalar(db.select(FourInOneGroup).join(FourInOneGroup.estate)
                                  .where(Estate.name == estate_name))
        return sorted(m.kind.value for m in group.members)


INCOMPLETE = "永乐花园四位一体监督小组正在运行，这样修改后小组将不完整（缺少物业公司代表）"
FULL = ["company", "owner", "residents_committee", "social_worker"]


def test_the_only_company_representative_of_an_active_group_cannot_be_deleted(app, street):
    rep = member(app, "永乐花园", "company")
    assert group_of(app, "永乐花园").state == GroupState.ACTIVE
    # the member's own delete
    r = street.post("/admin/four_in_one_member/delete/", {"id": str(rep.id)}, follow_redirects=True)
    assert f"删除「{rep}」未完成，数据未改变：不能删除{rep}：{INCOMPLETE}" in " ".join(flashes(r.text))
    # the list's bulk delete
    r = street.post("/admin/four_in_one_member/action/", {"action": "delete", "rowid": str(rep.id)},
                    follow_redirects=True)
    assert INCOMPLETE in " ".join(flashes(r.text))
    # ticking 删除 on the group's own form (the inline members)
    group = group_of(app, "永乐花园")
    r = street.post(f"/admin/four_in_one_group/edit/?id={group.id}", {
        "estate": str(group.estate_id), "name": group.name, "note": "",
        "members-0-id": str(rep.id), "members-0-name": rep.name, "members-0-kind": "company",
        "del-members-0": "on"}, follow_redirects=True)
    assert INCOMPLETE in " ".join(flashes(r.text))
    assert kinds_of(app, "永乐花园") == FULL
    assert group_of(app, "永乐花园").state == GroupState.ACTIVE


def test_changing_or_moving_a_member_may_not_leave_an_active_group_incomplete(app, street):
    rep = member(app, "永乐花园", "company")
    edit = {"group": str(rep.group_id), "name": rep.name, "kind": "owner"}
    r = street.post(f"/admin/four_in_one_member/edit/?id={rep.id}", edit)
    assert r.status_code == 200 and INCOMPLETE in " ".join(flashes(r.text))
    elsewhere = group_of(app, "黄山新村一路")
    r = street.post(f"/admin/four_in_one_member/edit/?id={rep.id}", {**edit, "kind": "company",
                                                                      "group": str(elsewhere.id)})
    assert r.status_code == 200 and INCOMPLETE in " ".join(flashes(r.text))
    # a second leader would make it incomplete too
    group = group_of(app, "永乐花园")
    r = add_member(street, group.id, "社委会副主任 王平", "residents_committee", leader=True)
    assert r.status_code == 200
    assert "永乐花园四位一体监督小组正在运行，这样修改后小组将不完整（组长须有且只有一名（当前 2 名））" in r.text
    assert kinds_of(app, "永乐花园") == FULL


def test_a_member_may_leave_when_another_of_the_same_kind_remains_or_the_group_is_suspended(app, street):
    group = group_of(app, "永乐花园")
    old = member(app, "永乐花园", "company")
    assert add_member(street, group.id, "物业 孙平", "company").status_code == 302
    r = street.post("/admin/four_in_one_member/delete/", {"id": str(old.id)}, follow_redirects=True)
    assert f"删除「{old}」未完成" not in " ".join(flashes(r.text))
    assert kinds_of(app, "永乐花园") == FULL

    transition(street, "four_in_one_group", "suspend", group.id, suspended_reason="物业公司更换")
    newer = member(app, "永乐花园", "company")
    street.post("/admin/four_in_one_member/delete/", {"id": str(newer.id)})
    assert kinds_of(app, "永乐花园") == ["owner", "residents_committee", "social_worker"]
    r = transition(street, "four_in_one_group", "activate", group.id)  # and it cannot come back so
    assert "缺少物业公司代表" in " ".join(flashes(street.get(r.headers["Location"]).text))
