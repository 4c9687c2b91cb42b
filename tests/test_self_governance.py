"""Owners' assemblies (carried is computed) and the owners' committee lifecycle,
driven through the same screens and transition buttons users use."""

from __future__ import annotations

from datetime import timedelta

import pytest

from models import db, now
from models.estates import Estate
from models.selfgov import (AssemblyMeeting, CommitteeState, MeetingKind, OwnersCommittee,
                            Resolution)

from .helpers import field_errors, flashes, row_id, transition

TODAY = now().date()


@pytest.fixture
def street(client_for):
    return client_for("street")


@pytest.fixture
def estate(app):
    return row_id(app, Estate, name="紫荆花园")  # no committee in the demo world


def committee(app, estate_id: int, term_no: int = 1) -> OwnersCommittee:
    with app.app_context():
        row = db.session.scalar(db.select(OwnersCommittee).where(
            OwnersCommittee.estate_id == estate_id, OwnersCommittee.term_no == term_no))
        db.session.expunge_all()
        return row


def add_meeting(street, estate_id, held_on, voting_owners=80, voting_area="8000", kind="first"):
    r = street.post("/admin/assembly_meeting/new/", {
        "estate": str(estate_id), "kind": kind, "held_on": held_on.isoformat(),
        "total_owners": "100", "total_area": "10000", "voting_owners": str(voting_owners),
        "voting_area": voting_area})
    assert r.status_code == 302, flashes(r.text)


def add_members(street, committee_id, posts, prefix="委员"):
    for i, post in enumerate(posts):
        r = street.post("/admin/committee_member/new/", {
            "committee": str(committee_id), "name": f"{prefix}{i}", "post": post,
            "building": "1", "room": f"10{i}"})
        assert r.status_code == 302, flashes(r.text)


def new_committee(street, estate_id, term_no=1, prepared_on=None):
    r = street.post("/admin/owners_committee/new/", {
        "estate": str(estate_id), "term_no": str(term_no),
        "prepared_on": (prepared_on or TODAY - timedelta(days=60)).isoformat(),
        "community_rep": "社区 林主任"})
    assert r.status_code == 302, flashes(r.text)


# -- assemblies: carried follows Civil Code art. 278 ---------------------------------


@pytest.mark.parametrize("voting, votes, matter, carried", [
    ((70, "7000"), (36, "3600"), "ordinary", True),    # > half of participants
    ((70, "7000"), (35, "3600"), "ordinary", False),   # exactly half of owners is not more
    ((70, "7000"), (53, "5250"), "major", True),       # ≥ 3/4 of both
    ((70, "7000"), (52, "5250"), "major", False),      # 52 < 52.5
    ((70, "7000"), (53, "5249"), "major", False),      # area just short
    ((66, "7000"), (66, "7000"), "ordinary", False),   # 66 < 2/3 of 100 owners take part
])
def test_whether_a_resolution_carried_is_computed(app, street, estate, voting, votes, matter, carried):
    add_meeting(street, estate, TODAY - timedelta(days=1), voting_owners=voting[0], voting_area=voting[1])
    with app.app_context():
        meeting_id = db.session.scalar(db.select(AssemblyMeeting.id).where(AssemblyMeeting.estate_id == estate))
    r = street.post("/admin/resolution/new/", {"meeting": str(meeting_id), "seq": "1", "title": "测试事项",
                                               "matter": matter, "for_owners": str(votes[0]),
                                               "for_area": votes[1], "against_owners": "0",
                                               "against_area": "0"})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        row = db.session.scalar(db.select(Resolution).where(Resolution.meeting_id == meeting_id))
        assert row.carried is carried
        # the SQL flag (lists and filters) agrees with the row
        in_sql = db.session.scalar(db.select(Resolution.carried).where(Resolution.id == row.id))
        assert bool(in_sql) is carried


def test_votes_cannot_exceed_participation(app, street, estate):
    add_meeting(street, estate, TODAY - timedelta(days=1))
    with app.app_context():
        meeting_id = db.session.scalar(db.select(AssemblyMeeting.id).where(AssemblyMeeting.estate_id == estate))
    r = street.post("/admin/resolution/new/", {"meeting": str(meeting_id), "seq": "1", "title": "x",
                                               "matter": "ordinary", "for_owners": "60", "for_area": "5000",
                                               "against_owners": "30", "against_area": "1000"})
    assert r.status_code == 200
    assert field_errors(r.text, "for_owners") == ["同意与反对人数之和不能超过参与表决人数（80）"]
    with app.app_context():
        assert db.session.scalar(db.select(Resolution).where(Resolution.meeting_id == meeting_id)) is None


def test_attendance_cannot_exceed_the_total(app, street, estate):
    r = street.post("/admin/assembly_meeting/new/", {
        "estate": str(estate), "kind": "first", "held_on": TODAY.isoformat(), "total_owners": "100",
        "total_area": "10000", "voting_owners": "120", "voting_area": "8000"})
    assert r.status_code == 200
    assert field_errors(r.text, "voting_owners") == ["参与表决人数不能多于业主总人数"]
    with app.app_context():
        assert db.session.scalar(db.select(AssemblyMeeting).where(AssemblyMeeting.estate_id == estate)) is None


# -- the committee lifecycle -----------------------------------------------------------


def test_committee_lifecycle_through_its_transitions(app, street, estate):
    new_committee(street, estate)
    c = committee(app, estate)
    assert c.state == CommitteeState.PREPARING

    # 备案 before 选举 is refused
    r = transition(street, "owners_committee", "file", c.id, filing_date=TODAY, filing_opinion="同意",
                   term_start=TODAY, term_end=TODAY + timedelta(days=365))
    assert "当前状态为「筹备中」，不能执行「备案」" in " ".join(flashes(street.get(
        f"/admin/owners_committee/details/?id={c.id}").text + r.text))
    assert committee(app, estate).state == CommitteeState.PREPARING

    # no assembly reaching two thirds yet: refused, and the details screen says why
    details = street.get(f"/admin/owners_committee/details/?id={c.id}").text
    assert "不能召开业主大会：筹备组成立后尚无参与表决达到法定比例" in details
    transition(street, "owners_committee", "hold_assembly", c.id)
    assert committee(app, estate).state == CommitteeState.PREPARING
    add_meeting(street, estate, TODAY - timedelta(days=30), voting_owners=60)   # short of 2/3
    transition(street, "owners_committee", "hold_assembly", c.id)
    assert committee(app, estate).state == CommitteeState.PREPARING
    add_meeting(street, estate, TODAY - timedelta(days=20))
    transition(street, "owners_committee", "hold_assembly", c.id)
    c = committee(app, estate)
    assert c.state == CommitteeState.ASSEMBLY_HELD and c.first_assembly_id is not None

    # election needs 5–11 members, an odd number, exactly one director
    add_members(street, c.id, ["director", "member", "member", "member"])
    r = transition(street, "owners_committee", "elect", c.id, election_date=TODAY - timedelta(days=10))
    assert "业主委员会委员应为 5 至 11 人的单数（当前 4 人）" in " ".join(flashes(r.text))
    add_members(street, c.id, ["director"], prefix="第二主任")
    r = transition(street, "owners_committee", "elect", c.id, election_date=TODAY - timedelta(days=10))
    assert "须有且只有一名主任（当前 2 名）" in " ".join(flashes(r.text))
    with app.app_context():
        from models.selfgov import CommitteeMember
        extra = db.session.scalar(db.select(CommitteeMember.id).where(
            CommitteeMember.committee_id == c.id, CommitteeMember.name == "第二主任0"))
    street.post("/admin/committee_member/delete/", {"id": str(extra)})
    add_members(street, c.id, ["deputy"], prefix="副主任")
    r = transition(street, "owners_committee", "elect", c.id, election_date=TODAY + timedelta(days=1))
    assert "选举日期不能晚于今天" in " ".join(flashes(r.text))
    r = transition(street, "owners_committee", "elect", c.id, election_date=TODAY - timedelta(days=40))
    assert "选举日期不能早于业主大会召开日期" in " ".join(flashes(r.text))
    transition(street, "owners_committee", "elect", c.id, election_date=TODAY - timedelta(days=10))
    c = committee(app, estate)
    assert c.state == CommitteeState.ELECTED
    assert c.filing_due_on == TODAY + timedelta(days=20)       # 30 days after the election
    assert not _flag(app, c.id, "filing_overdue")

    # filing: the term must end after it starts; only street staff may file
    community = pytest.importorskip("tests.helpers").Client(app).login("community")
    r = transition(community, "owners_committee", "file", c.id, filing_date=TODAY,
                   filing_opinion="同意", term_start=TODAY, term_end=TODAY + timedelta(days=365))
    assert r.status_code == 403
    r = transition(street, "owners_committee", "file", c.id, filing_date=TODAY, filing_opinion="同意备案",
                   term_start=TODAY, term_end=TODAY - timedelta(days=1))
    assert "任期届满日期须晚于任期开始日期" in " ".join(flashes(r.text))
    assert committee(app, estate).state == CommitteeState.ELECTED
    transition(street, "owners_committee", "file", c.id, filing_date=TODAY, filing_opinion="同意备案",
               term_start=TODAY - timedelta(days=10), term_end=TODAY + timedelta(days=80))
    c = committee(app, estate)
    assert c.state == CommitteeState.IN_OFFICE and c.filing_opinion == "同意备案"
    # the term ends within 90 days and no re-election has started: flagged at once
    assert c.re_election_due_on == c.term_end - timedelta(days=90)
    assert _flag(app, c.id, "re_election_due")

    transition(street, "owners_committee", "start_re_election", c.id, re_election_started_on=TODAY)
    c = committee(app, estate)
    assert c.state == CommitteeState.RE_ELECTING and not _flag(app, c.id, "re_election_due")

    # hand-over needs the next term in office
    r = transition(street, "owners_committee", "hand_over", c.id, handover_date=TODAY)
    assert "第2届业主委员会尚未备案履职" in " ".join(flashes(r.text))
    _second_term_in_office(app, street, estate)
    transition(street, "owners_committee", "hand_over", c.id, handover_date=TODAY, handover_note="档案、印章已移交")
    assert committee(app, estate).state == CommitteeState.HANDED_OVER
    assert committee(app, estate, term_no=2).predecessor_id == c.id

    history = street.get(f"/admin/owners_committee/history/?id={c.id}").text
    for label in ("召开业主大会", "选举产生", "备案", "启动换届", "移交新一届"):
        assert label in history


def refusal(street, name: str, row: int, **params) -> str:
    """Run a transition and return the messages it leaves (a button without params
    redirects to the details page, where its flash is shown)."""
    r = transition(street, "owners_committee", name, row, **params)
    page = r.text if r.status_code == 200 else street.get(f"/admin/owners_committee/details/?id={row}").text
    return " ".join(flashes(page))


def test_the_first_term_is_elected_by_the_first_assembly(app, street, estate):
    new_committee(street, estate)
    c = committee(app, estate)
    # a regular meeting reaching two thirds is not the 首次业主大会 the first term needs
    add_meeting(street, estate, TODAY - timedelta(days=10), kind="regular")
    reason = ("筹备组成立后尚无参与表决达到法定比例（三分之二）的首次业主大会会议记录"
              "（第1届业主委员会由首次业主大会选举产生）")
    assert f"不能召开业主大会：{reason}" in street.get(f"/admin/owners_committee/details/?id={c.id}").text
    assert f"「召开业主大会」未完成，数据未改变：{reason}" in refusal(street, "hold_assembly", c.id)
    assert committee(app, estate).state == CommitteeState.PREPARING

    add_meeting(street, estate, TODAY - timedelta(days=20), kind="first")
    transition(street, "owners_committee", "hold_assembly", c.id)
    c = committee(app, estate)
    assert c.state == CommitteeState.ASSEMBLY_HELD
    with app.app_context():
        first = db.session.get(AssemblyMeeting, c.first_assembly_id)
        assert (first.kind, first.held_on) == (MeetingKind.FIRST, TODAY - timedelta(days=20))


def test_a_preparatory_group_without_a_community_representative_cannot_hold_the_assembly(app, street, estate):
    r = street.post("/admin/owners_committee/new/", {
        "estate": str(estate), "term_no": "1", "prepared_on": (TODAY - timedelta(days=60)).isoformat(),
        "community_rep": "  "})
    assert r.status_code == 302
    c = committee(app, estate)
    add_meeting(street, estate, TODAY - timedelta(days=20))   # a first assembly reaching two thirds
    details = street.get(f"/admin/owners_committee/details/?id={c.id}").text
    assert "不能召开业主大会：筹备组须有社区居委会派出的代表" in details
    assert "「召开业主大会」未完成，数据未改变：筹备组须有社区居委会派出的代表" in refusal(street, "hold_assembly", c.id)
    assert committee(app, estate).state == CommitteeState.PREPARING

    r = street.post(f"/admin/owners_committee/edit/?id={c.id}", {
        "estate": str(estate), "term_no": "1", "prepared_on": c.prepared_on.isoformat(),
        "community_rep": "社区 林主任"})
    assert r.status_code == 302
    transition(street, "owners_committee", "hold_assembly", c.id)
    assert committee(app, estate).state == CommitteeState.ASSEMBLY_HELD


def test_no_second_committee_is_elected_while_one_is_in_office(app, street):
    estate = row_id(app, Estate, name="江滨华庭")     # its first term is in office in the demo
    assert committee(app, estate).state == CommitteeState.IN_OFFICE
    new_committee(street, estate, term_no=2, prepared_on=TODAY - timedelta(days=5))
    second = committee(app, estate, term_no=2)
    add_meeting(street, estate, TODAY - timedelta(days=2), kind="regular")
    transition(street, "owners_committee", "hold_assembly", second.id)
    assert committee(app, estate, term_no=2).state == CommitteeState.ASSEMBLY_HELD
    add_members(street, second.id, ["director", "deputy", "member", "member", "member"])
    reason = "江滨华庭第1届业主委员会仍在履职且未启动换届，不能另选一届"
    assert f"「选举产生」未完成，数据未改变：{reason}" in refusal(street, "elect", second.id, election_date=TODAY)
    assert committee(app, estate, term_no=2).state == CommitteeState.ASSEMBLY_HELD

    # once the sitting committee starts its re-election, the next one may be elected and filed
    transition(street, "owners_committee", "start_re_election", committee(app, estate).id,
               re_election_started_on=TODAY)
    transition(street, "owners_committee", "elect", second.id, election_date=TODAY)
    transition(street, "owners_committee", "file", second.id, filing_date=TODAY, filing_opinion="同意",
               term_start=TODAY, term_end=TODAY + timedelta(days=365 * 5 - 1))
    assert committee(app, estate, term_no=2).state == CommitteeState.IN_OFFICE
    assert committee(app, estate).state == CommitteeState.RE_ELECTING


def test_no_second_committee_is_filed_while_one_is_in_office(app, street, estate):
    for term_no, prepared in ((1, 60), (2, 30)):
        new_committee(street, estate, term_no=term_no, prepared_on=TODAY - timedelta(days=prepared))
        c = committee(app, estate, term_no=term_no)
        add_meeting(street, estate, TODAY - timedelta(days=prepared - 5))
        transition(street, "owners_committee", "hold_assembly", c.id)
        add_members(street, c.id, ["director", "deputy", "member", "member", "member"], prefix=f"第{term_no}届")
        transition(street, "owners_committee", "elect", c.id, election_date=TODAY - timedelta(days=1))
        assert committee(app, estate, term_no=term_no).state == CommitteeState.ELECTED
    first, second = committee(app, estate), committee(app, estate, term_no=2)
    transition(street, "owners_committee", "file", first.id, filing_date=TODAY, filing_opinion="同意",
               term_start=TODAY, term_end=TODAY + timedelta(days=365))
    assert committee(app, estate).state == CommitteeState.IN_OFFICE
    reason = "紫荆花园第1届业主委员会仍在履职且未启动换届，同一小区不能有两届业主委员会同时履职"
    assert f"「备案」未完成，数据未改变：{reason}" in refusal(
        street, "file", second.id, filing_date=TODAY, filing_opinion="同意", term_start=TODAY,
        term_end=TODAY + timedelta(days=365))
    second = committee(app, estate, term_no=2)
    assert second.state == CommitteeState.ELECTED and second.filing_date is None


def _second_term_in_office(app, street, estate):
    new_committee(street, estate, term_no=2, prepared_on=TODAY - timedelta(days=2))
    second = committee(app, estate, term_no=2)
    add_meeting(street, estate, TODAY - timedelta(days=1), kind="regular")
    transition(street, "owners_committee", "hold_assembly", second.id)
    add_members(street, second.id, ["director", "deputy", "member", "member", "member"])
    transition(street, "owners_committee", "elect", second.id, election_date=TODAY)
    transition(street, "owners_committee", "file", second.id, filing_date=TODAY, filing_opinion="同意",
               term_start=TODAY, term_end=TODAY + timedelta(days=365 * 5 - 1))
    assert committee(app, estate, term_no=2).state == CommitteeState.IN_OFFICE


def _flag(app, committee_id: int, name: str) -> bool:
    with app.app_context():
        return bool(db.session.scalar(db.select(getattr(OwnersCommittee, name))
                                      .where(OwnersCommittee.id == committee_id)))


def test_demo_flags_show_in_the_list(client_for):
    street = client_for("street")
    overdue = street.get("/admin/owners_committee/?flt0_" + _filter_index(street, "逾期未备案") + "=1").text
    assert "后溪公寓小区" in overdue and "永乐花园" not in overdue
    due = street.get("/admin/owners_committee/?flt0_" + _filter_index(street, "届满前90天未启动换届") + "=1").text
    assert "永乐花园" in due and "后溪公寓小区" not in due


def _filter_index(client, label: str) -> str:
    import json
    import re

    page = client.get("/admin/owners_committee/").text
    groups = json.loads(re.search(r'id="filter-groups-data"[^>]*>(.*?)</', page, re.S).group(1))
    return str(groups[label][0]["index"])


def test_the_state_is_never_a_form_field(app, street):
    with app.app_context():
        c = db.session.scalar(db.select(OwnersCommittee).limit(1))
        cid, state = c.id, c.state
    page = street.get(f"/admin/owners_committee/edit/?id={cid}").text
    assert 'name="state"' not in page and 'name="filing_due_on"' not in page
    r = street.post(f"/admin/owners_committee/edit/?id={cid}", {
        "estate": str(c.estate_id), "term_no": "1", "prepared_on": c.prepared_on.isoformat(),
        "community_rep": "x", "state": "handed_over", "filing_due_on": "2000-01-01"})
    assert r.status_code == 302
    with app.app_context():
        again = db.session.get(OwnersCommittee, cid)
        assert again.state == state and again.filing_due_on != TODAY.replace(year=2000, month=1, day=1)


def test_a_member_needs_a_unit_in_the_estate(app, street):
    with app.app_context():
        c = db.session.scalar(db.select(OwnersCommittee).join(OwnersCommittee.estate)
                              .where(Estate.name == "永乐花园"))
        cid, buildings = c.id, c.estate.buildings
    r = street.post("/admin/committee_member/new/", {"committee": str(cid), "name": "无房业主",
                                                     "post": "member", "building": "", "room": ""})
    assert r.status_code == 200
    assert "业主委员会委员须为本小区业主，请填写所在楼幢" in r.text
    assert "请填写房号" in r.text
    r = street.post("/admin/committee_member/new/", {"committee": str(cid), "name": "外楼业主",
                                                     "post": "member", "building": f"{buildings + 1}号楼",
                                                     "room": "101"})
    assert r.status_code == 200 and f"只有 {buildings} 幢楼" in r.text


def test_an_impossible_date_is_refused(app, street, estate):
    r = street.post("/admin/owners_committee/new/", {"estate": str(estate), "term_no": "1",
                                                     "prepared_on": "2026-02-30", "community_rep": "x"})
    assert r.status_code == 200
    assert field_errors(r.text, "prepared_on") == ["不是有效的日期值。"]
    with app.app_context():
        assert db.session.scalar(db.select(OwnersCommittee).where(OwnersCommittee.estate_id == estate)) is None


def test_inline_members_are_saved_with_the_committee_and_checked_by_their_own_rules(app, street, estate):
    new_committee(street, estate)
    c = committee(app, estate)
    form = {"estate": str(estate), "term_no": "1", "prepared_on": c.prepared_on.isoformat(),
            "community_rep": "社区 林主任",
            "members-0-name": "内联委员", "members-0-post": "member", "members-0-building": "2",
            "members-0-room": "201"}
    assert street.post(f"/admin/owners_committee/edit/?id={c.id}", form).status_code == 302
    with app.app_context():
        assert [m.name for m in db.session.get(OwnersCommittee, c.id).members] == ["内联委员"]
    bad = {**form, "members-0-id": "", "members-1-name": "无房委员", "members-1-post": "member",
           "members-1-building": "", "members-1-room": ""}
    with app.app_context():
        bad["members-0-id"] = str(db.session.get(OwnersCommittee, c.id).members[0].id)
    r = street.post(f"/admin/owners_committee/edit/?id={c.id}", bad)
    assert r.status_code == 200
    assert "业主委员会委员「无房委员（委员）」：「楼幢」：业主委员会委员须为本小区业主" in " ".join(flashes(r.text))
    with app.app_context():
        assert [m.name for m in db.session.get(OwnersCommittee, c.id).members] == ["内联委员"]
