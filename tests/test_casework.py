"""Casework on clocks: repair tickets, complaints, mediation, patrols; driven through
the screens and transition buttons station staff use."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from models import db, now
from models.casework import Complaint, ComplaintState
from models.repairs import RepairCategory, RepairRule, RepairTicket, TicketState, rule_for
from models.estates import Estate

from .helpers import flashes, row_id, transition

DAY = (now() - timedelta(days=10)).date()  # a fixed day in the past


def at(hour: int, minute: int = 0, days: int = 0) -> datetime:
    return datetime.combine(DAY, datetime.min.time()) + timedelta(days=days, hours=hour, minutes=minute)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def station(client_for):
    return client_for("station")


@pytest.fixture
def estate(app):
    return row_id(app, Estate, name="紫荆花园")


def new_ticket(app, client, estate_id, category, call_at, caller="测试报修人") -> int:
    r = client.post("/admin/repair_ticket/new/", {
        "estate": str(estate_id), "call_at": call_at.strftime("%Y-%m-%d %H:%M:%S"), "caller": caller,
        "phone": "13800000000", "category": category, "description": "测试"})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        return db.session.scalar(db.select(RepairTicket.id).where(RepairTicket.caller == caller)
                                 .order_by(RepairTicket.id.desc()))


def ticket(app, ticket_id) -> RepairTicket:
    with app.app_context():
        row = db.session.get(RepairTicket, ticket_id)
        db.session.expunge(row)
        return row


def run_to_arrival(client, ticket_id, call_at, arrive_after=timedelta(minutes=20)):
    transition(client, "repair_ticket", "accept", ticket_id)
    transition(client, "repair_ticket", "dispatch", ticket_id, repair_unit="维修队",
               dispatched_at=iso(call_at + timedelta(minutes=5)))
    r = transition(client, "repair_ticket", "arrive", ticket_id, arrived_at=iso(call_at + arrive_after))
    assert r.status_code == 302, flashes(r.text)


# -- the acceptance clocks ----------------------------------------------------------------


@pytest.mark.parametrize("category, called, completed, on_time", [
    ("water", at(9), at(20), True),            # 修水不过天: same day 20:00
    ("water", at(9), at(10, days=1), False),   # next day 10:00 is late
    ("power", at(14), at(23), True),           # 修电不过夜: same day 23:00
    ("power", at(14), at(7, days=1), False),   # next morning 07:00 is late
])
def test_completion_clock(app, station, estate, category, called, completed, on_time):
    tid = new_ticket(app, station, estate, category, called)
    run_to_arrival(station, tid, called)
    r = transition(station, "repair_ticket", "complete", tid, completed_at=iso(completed), result="修好",
                   fee="20")
    assert r.status_code == 302, flashes(r.text)
    t = ticket(app, tid)
    assert t.state == TicketState.COMPLETED
    assert t.complete_due_at == at(0, days=1)  # 24:00 of the day of the call
    assert t.completed_on_time is on_time
    details = station.get(f"/admin/repair_ticket/details/?id={tid}").text
    badge = re.search(r"完工时限：.*?<span class=\"badge[^>]*>([^<]+)</span>", details, re.S).group(1)
    assert badge.startswith("按期完成" if on_time else "超期")


def test_arrival_31_minutes_after_the_call_is_late(app, station, estate):
    tid = new_ticket(app, station, estate, "water", at(9))
    run_to_arrival(station, tid, at(9), arrive_after=timedelta(minutes=31))
    t = ticket(app, tid)
    assert t.arrive_due_at == at(9, 30)
    from models.repairs import ARRIVAL
    assert ARRIVAL.late_by(t) == timedelta(minutes=1)
    assert "到场时限：" in (page := station.get(f"/admin/repair_ticket/details/?id={tid}").text)
    assert "超期 1 分钟" in page


def test_arrival_in_time(app, station, estate):
    tid = new_ticket(app, station, estate, "water", at(9))
    run_to_arrival(station, tid, at(9), arrive_after=timedelta(minutes=30))
    from models.repairs import ARRIVAL
    assert ARRIVAL.late_by(ticket(app, tid)) is None


@pytest.mark.parametrize("category, called, due", [
    (RepairCategory.WATER, at(9), at(0, days=1)),                  # 09:00 → 24:00
    (RepairCategory.WATER, at(23, 30), at(11, 30, days=1)),        # 23:30 → 11:30 next day
    (RepairCategory.POWER, at(9), at(0, days=1)),                  # 09:00 → 24:00
    (RepairCategory.POWER, at(23, 30), at(3, 30, days=1)),         # 23:30 → 03:30 next day
    (RepairCategory.OTHER, at(9), at(9, days=3)),                  # 大修不过三: 72 hours
])
def test_the_default_rules_as_the_readme_states_them(app, category, called, due):
    with app.app_context():
        assert rule_for(category).completion_due(called) == due


def test_rules_are_data_staff_can_edit_and_old_tickets_keep_their_deadline(app, client_for, estate):
    street = client_for("street")
    station = client_for("station")
    old = new_ticket(app, station, estate, "other", at(9), caller="旧规则")
    with app.app_context():
        rule_id = db.session.scalar(db.select(RepairRule.id).where(RepairRule.category == "other"))
    r = street.post(f"/admin/repair_rule/edit/?id={rule_id}", {
        "category": "other", "arrival_minutes": "60", "hours": "24", "basis": "试行：其他类一天办结"})
    assert r.status_code == 302, flashes(r.text)
    new = new_ticket(app, station, estate, "other", at(9), caller="新规则")
    assert ticket(app, new).complete_due_at == at(9, days=1)
    assert ticket(app, new).arrive_due_at == at(10)
    assert ticket(app, old).complete_due_at == at(9, days=3)


# -- refusals: wrong state, wrong role, failed guard, bad times -------------------------------


def test_completion_before_arrival_is_refused(app, station, estate):
    tid = new_ticket(app, station, estate, "water", at(9))
    transition(station, "repair_ticket", "accept", tid)
    transition(station, "repair_ticket", "dispatch", tid, repair_unit="维修队", dispatched_at=iso(at(9, 5)))
    r = transition(station, "repair_ticket", "complete", tid, completed_at=iso(at(12)), result="x", fee="0")
    assert "当前状态为「已派单」，不能执行「完工」" in " ".join(flashes(r.text))
    assert ticket(app, tid).state == TicketState.DISPATCHED


def test_call_back_before_completion_is_refused(app, station, estate):
    tid = new_ticket(app, station, estate, "water", at(9))
    run_to_arrival(station, tid, at(9))
    r = transition(station, "repair_ticket", "call_back", tid, called_back_at=iso(at(10)), satisfaction="satisfied")
    assert "不能执行「回访」" in " ".join(flashes(r.text))
    assert ticket(app, tid).called_back_at is None


@pytest.mark.parametrize("arrived, message", [
    (lambda: now() + timedelta(hours=2), "到场时间不能晚于现在"),
    (lambda: at(8), "到场时间不能早于派单时间"),
])
def test_times_in_the_future_or_before_the_call_are_refused(app, station, estate, arrived, message):
    tid = new_ticket(app, station, estate, "water", at(9))
    transition(station, "repair_ticket", "accept", tid)
    transition(station, "repair_ticket", "dispatch", tid, repair_unit="维修队", dispatched_at=iso(at(9, 5)))
    r = transition(station, "repair_ticket", "arrive", tid, arrived_at=iso(arrived()))
    assert r.status_code == 200 and message in r.text
    assert ticket(app, tid).state == TicketState.DISPATCHED and ticket(app, tid).arrived_at is None


def test_a_call_in_the_future_is_refused(app, station, estate):
    r = station.post("/admin/repair_ticket/new/", {
        "estate": str(estate), "call_at": (now() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "caller": "未来", "phone": "1", "category": "water", "description": "x"})
    assert r.status_code == 200 and "来电时间不能晚于现在" in r.text


def test_referral_records_the_advice_and_stops_the_clocks(app, station, estate):
    tid = new_ticket(app, station, estate, "gas", now() - timedelta(hours=5))
    transition(station, "repair_ticket", "refer", tid, scope_decision="utility", advice="燃气公司 96777")
    t = ticket(app, tid)
    assert t.state == TicketState.REFERRED and t.advice == "燃气公司 96777"
    with app.app_context():
        late = db.session.scalar(db.select(RepairTicket.completion_overdue).where(RepairTicket.id == tid))
    assert not late


def test_who_may_act_on_repair_tickets(app, client_for, estate):
    station = client_for("station")
    tid = new_ticket(app, station, estate, "water", at(9))
    mediator, leader, committee = client_for("mediator"), client_for("leader"), client_for("committee")
    # another station's staff neither see nor change them
    assert mediator.get("/admin/repair_ticket/").status_code == 403
    assert transition(mediator, "repair_ticket", "accept", tid).status_code == 403
    # leaders and committee members read, and cannot act
    assert leader.get(f"/admin/repair_ticket/details/?id={tid}").status_code == 200
    assert transition(leader, "repair_ticket", "accept", tid).status_code == 403
    assert committee.get("/admin/repair_ticket/").status_code == 200
    assert ticket(app, tid).state == TicketState.RECEIVED
    # the repair station's own staff act; the ticket records who took the call
    assert transition(station, "repair_ticket", "accept", tid).status_code == 302
    assert ticket(app, tid).state == TicketState.ACCEPTED
    with app.app_context():
        assert db.session.get(RepairTicket, tid).received_by.username == "station"


# -- complaints ---------------------------------------------------------------------------


def new_complaint(app, client, estate_id, received, channel="hotline", content="楼道堆物") -> int:
    r = client.post("/admin/complaint/new/", {
        "estate": str(estate_id), "received_at": received.strftime("%Y-%m-%d %H:%M:%S"),
        "channel": channel, "kind": "complaint", "complainant": "投诉人", "content": content,
        "is_valid": "y"})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        return db.session.scalar(db.select(Complaint.id).where(Complaint.content == content)
                                 .order_by(Complaint.id.desc()))


def complaint(app, cid) -> Complaint:
    with app.app_context():
        row = db.session.get(Complaint, cid)
        db.session.expunge(row)
        return row


def test_a_second_postponement_is_refused(app, station, estate):
    received = now() - timedelta(hours=3)
    cid = new_complaint(app, station, estate, received)
    c = complaint(app, cid)
    assert c.first_receiver_id is not None                       # 首按责任制
    assert c.feedback_due_at == received + timedelta(days=2)     # 二日内反馈
    assert c.limit_due_at == received + timedelta(days=7)        # 不超过一周
    transition(station, "complaint", "dispatch", cid, handler="服务中心", dispatched_at=iso(received + timedelta(minutes=2)))
    r = transition(station, "complaint", "postpone", cid, postponed_to=iso(received + timedelta(days=4)),
                   postpone_reason="等待材料")
    assert r.status_code == 302, flashes(r.text)
    c = complaint(app, cid)
    assert c.postponements == 1 and c.feedback_due_at == received.replace(second=0) + timedelta(days=4)
    r = transition(station, "complaint", "postpone", cid, postponed_to=iso(received + timedelta(days=5)),
                   postpone_reason="再等等")
    assert "同一事项不得两次推迟处理" in " ".join(flashes(r.text))
    assert complaint(app, cid).postponements == 1


def test_a_postponement_cannot_go_past_a_week(app, station, estate):
    received = now() - timedelta(hours=3)
    cid = new_complaint(app, station, estate, received, content="推迟超一周")
    transition(station, "complaint", "dispatch", cid, handler="x", dispatched_at=iso(received + timedelta(minutes=2)))
    r = transition(station, "complaint", "postpone", cid, postponed_to=iso(received + timedelta(days=8)),
                   postpone_reason="x")
    assert r.status_code == 200 and "推迟后也不得超过受理后一周" in r.text


def test_face_to_face_complaints_are_answered_within_12_hours(app, station, estate):
    received = now() - timedelta(hours=13)
    cid = new_complaint(app, station, estate, received, channel="face_to_face", content="面谈投诉")
    c = complaint(app, cid)
    assert c.feedback_due_at == received.replace(microsecond=0) + timedelta(hours=12)
    with app.app_context():
        assert db.session.scalar(db.select(Complaint.feedback_overdue).where(Complaint.id == cid))
        assert db.session.scalar(db.select(Complaint.dispatch_overdue).where(Complaint.id == cid))


def test_complaint_call_back_within_24_hours_of_closure(app, station, estate):
    received = now() - timedelta(days=3)
    cid = new_complaint(app, station, estate, received, content="回访测试")
    transition(station, "complaint", "dispatch", cid, handler="x", dispatched_at=iso(received + timedelta(minutes=1)))
    transition(station, "complaint", "resolve", cid, resolved_at=iso(received + timedelta(hours=30)),
               result="已处理", is_valid="y")
    c = complaint(app, cid)
    assert c.state == ComplaintState.RESOLVED
    assert c.callback_due_at == c.resolved_at + timedelta(hours=24)
    with app.app_context():
        assert db.session.scalar(db.select(Complaint.callback_overdue).where(Complaint.id == cid))
    r = transition(station, "complaint", "call_back", cid, called_back_at=iso(received + timedelta(hours=20)))
    assert "回访时间不能早于办结时间" in r.text


# -- mediation -----------------------------------------------------------------------------


def test_mediation_refused_for_skipping_the_station_and_closed_with_an_agreement(app, client_for, estate):
    mediator = client_for("mediator")
    received = now() - timedelta(days=2)
    for applicant in ("越级者", "调解者"):
        r = mediator.post("/admin/mediation_case/new/", {
            "estate": str(estate), "received_at": received.strftime("%Y-%m-%d %H:%M:%S"),
            "applicant": applicant, "respondent": "物业公司", "dispute_kind": "owner_company",
            "summary": "物业费争议"})
        assert r.status_code == 302, flashes(r.text)
    from models.casework import CaseState, MediationCase
    with app.app_context():
        ids = {c.applicant: c.id for c in db.session.scalars(db.select(MediationCase).where(
            MediationCase.applicant.in_(["越级者", "调解者"])))}
    transition(mediator, "mediation_case", "refuse", ids["越级者"], refusal_reason="skipped_station",
               refusal_note="未经本站受理调解")
    transition(mediator, "mediation_case", "accept", ids["调解者"], accepted_at=iso(received + timedelta(hours=1)))
    r = transition(mediator, "mediation_case", "agree", ids["调解者"], closed_at=iso(received + timedelta(days=1)),
                   agreement="各退一步")
    assert "尚无调解记录" in " ".join(flashes(r.text))
    r = mediator.post("/admin/mediation_session/new/", {
        "case": str(ids["调解者"]), "held_at": (received + timedelta(hours=20)).strftime("%Y-%m-%d %H:%M:%S"),
        "mediators": "吴敏", "notes": "双方到场"})
    assert r.status_code == 302, flashes(r.text)
    transition(mediator, "mediation_case", "agree", ids["调解者"], closed_at=iso(received + timedelta(days=1)),
               agreement="各退一步")
    with app.app_context():
        assert db.session.get(MediationCase, ids["越级者"]).state == CaseState.REFUSED
        assert db.session.get(MediationCase, ids["越级者"]).refusal_reason.label == "越级上访（未经本站受理调解）"
        agreed = db.session.get(MediationCase, ids["调解者"])
        assert agreed.state == CaseState.AGREED and agreed.agreement == "各退一步"
    assert client_for("station").get("/admin/mediation_case/").status_code == 403


# -- what is late now -------------------------------------------------------------------


def test_late_now_lists_cases_past_their_deadline_in_the_users_scope(app, client_for):
    station = client_for("station")
    hongshan_estate = row_id(app, Estate, name="双龙小区")     # 红山社区
    tid = new_ticket(app, station, hongshan_estate, "power", now() - timedelta(hours=2), caller="停电未到场")
    transition(station, "repair_ticket", "accept", tid)
    page = station.get("/admin/late/").text
    assert "停电未到场" in page and "到场时限" in page
    row = re.search(r"<tr class=\"table-danger\">(?:(?!</tr>).)*停电未到场(?:(?!</tr>).)*</tr>", page, re.S).group(0)
    assert "已超期 1 小时 30 分钟" in row and "双龙小区" in row and "红山社区" in row
    # a user bound to another community does not see it
    assert "停电未到场" not in client_for("community").get("/admin/late/").text  # 江滨社区
    # a mediator does not see repair tickets at all
    assert "应急报修单" not in client_for("mediator").get("/admin/late/").text


def test_patrol_gaps_are_flagged(app, client_for):
    from models.estates import ManagementMode
    from models.service_center import patrol_gaps
    with app.app_context():
        estate = db.session.scalar(db.select(Estate).where(Estate.management_mode == ManagementMode.OLD_CENTER))
        day = now().date() - timedelta(days=1)
        gaps = {(e, d): n for e, d, n in patrol_gaps([estate.id], day - timedelta(days=29), day)}
        name, estate_id = estate.name, estate.id
    center = client_for("center")
    yesterday = now().date() - timedelta(days=1)
    before = gaps.get((estate_id, yesterday))
    for hour in (2, 3, 4):  # a full day of patrols clears the flag
        r = center.post("/admin/patrol/new/", {"estate": str(estate_id), "patroller": "孙丽",
                                               "patrolled_at": f"{yesterday} 0{hour}:00:00"})
        assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        assert (estate_id, yesterday) not in {(e, d) for e, d, _ in patrol_gaps([estate_id], yesterday, yesterday)}
    # and a day with only one patrol is flagged on the page
    target = yesterday - timedelta(days=3)
    with app.app_context():
        from models.service_center import Patrol
        start = datetime.combine(target, datetime.min.time())
        db.session.execute(db.delete(Patrol).where(
            Patrol.estate_id == estate_id, Patrol.patrolled_at >= start,
            Patrol.patrolled_at < start + timedelta(days=1)))
        db.session.commit()
    center.post("/admin/patrol/new/", {"estate": str(estate_id), "patroller": "孙丽",
                                       "patrolled_at": f"{target} 09:00:00"})
    page = center.get("/admin/late/").text
    assert re.search(rf"<td>{target}</td><td>{name}</td><td>[^<]+</td><td>1</td>", page)


# -- late cases stay closable, and their clocks cannot be rewritten ------------------------


def shift_back(app, model, row_id, delta, *columns):
    """Move a record's times back by ``delta``: as if that much time had passed."""
    with app.app_context():
        row = db.session.get(model, row_id)
        db.session.execute(db.update(model).where(model.id == row_id).values(
            {c: getattr(row, c) - delta for c in columns if getattr(row, c) is not None}))
        db.session.commit()


def test_a_postponed_complaint_past_its_new_deadline_can_still_be_closed_and_called_back(app, station, estate):
    received = now() - timedelta(hours=2)
    cid = new_complaint(app, station, estate, received, content="推迟后超期")
    transition(station, "complaint", "dispatch", cid, handler="服务中心",
               dispatched_at=iso(received + timedelta(minutes=2)))
    r = transition(station, "complaint", "postpone", cid, postponed_to=iso(now() + timedelta(hours=3)),
                   postpone_reason="等待维修配件")
    assert r.status_code == 302, flashes(r.text)
    # four days pass: the postponed deadline is now behind us
    shift_back(app, Complaint, cid, timedelta(days=4), "received_at", "dispatched_at", "dispatch_due_at",
               "postponed_to", "feedback_due_at", "limit_due_at")
    postponed_to = complaint(app, cid).postponed_to
    assert postponed_to < now()
    r = transition(station, "complaint", "resolve", cid, resolved_at=iso(now() - timedelta(hours=1)),
                   result="配件到货已修复", is_valid="y")
    assert r.status_code == 302, flashes(r.text)
    r = transition(station, "complaint", "call_back", cid, called_back_at=iso(now()), satisfied="y")
    assert r.status_code == 302, flashes(r.text)
    c = complaint(app, cid)
    assert c.state == ComplaintState.CLOSED and c.postponed_to == postponed_to
    from models.casework import FEEDBACK
    assert FEEDBACK.late_by(c) is not None  # closed, and on record as late against the postponement


def test_a_postponement_must_still_be_to_a_time_after_now(app, station, estate):
    received = now() - timedelta(hours=5)
    cid = new_complaint(app, station, estate, received, content="推迟到过去")
    transition(station, "complaint", "dispatch", cid, handler="x", dispatched_at=iso(received + timedelta(minutes=2)))
    r = transition(station, "complaint", "postpone", cid, postponed_to=iso(now() - timedelta(hours=1)),
                   postpone_reason="x")
    assert r.status_code == 200 and "推迟后的期限应晚于现在" in r.text
    assert complaint(app, cid).postponements == 0


def ticket_form(t: RepairTicket, **changes) -> dict:
    form = {"estate": str(t.estate_id), "call_at": t.call_at.strftime("%Y-%m-%d %H:%M:%S"), "caller": t.caller,
            "phone": t.phone, "address": t.address or "", "category": t.category.value,
            "description": t.description}
    return {**form, **changes}


def test_a_late_ticket_cannot_be_turned_on_time_by_editing(app, station, estate):
    tid = new_ticket(app, station, estate, "water", at(9), caller="漏水超期")
    run_to_arrival(station, tid, at(9))
    transition(station, "repair_ticket", "complete", tid, completed_at=iso(at(10, days=1)), result="修好", fee="0")
    before = ticket(app, tid)
    assert before.completed_on_time is False and before.complete_due_at == at(0, days=1)
    # "other" allows 72 hours: the ticket would read as on time
    r = station.post(f"/admin/repair_ticket/edit/?id={tid}", ticket_form(before, category="other"))
    assert r.status_code == 200
    assert "「报修类别」：应急报修单已进入「已完工」，不能再修改" in " ".join(flashes(r.text))
    r = station.post(f"/admin/repair_ticket/edit/?id={tid}",
                     ticket_form(before, call_at=at(8, 30).strftime("%Y-%m-%d %H:%M:%S")))
    assert r.status_code == 200 and "「来电时间」：应急报修单已进入「已完工」，不能再修改" in " ".join(flashes(r.text))
    after = ticket(app, tid)
    assert (after.category, after.call_at, after.complete_due_at) == (RepairCategory.WATER, at(9), at(0, days=1))
    assert after.completed_on_time is False
    # what does not set the clocks can still be corrected
    r = station.post(f"/admin/repair_ticket/edit/?id={tid}", ticket_form(before, address="3幢101室"))
    assert r.status_code == 302, flashes(r.text)
    assert ticket(app, tid).address == "3幢101室" and ticket(app, tid).completed_on_time is False


def test_an_open_ticket_keeps_its_deadlines_once_accepted(app, station, estate):
    tid = new_ticket(app, station, estate, "water", at(9), caller="接报后改类别")
    # still 已接报: the call taker may correct the category; the deadline follows it
    r = station.post(f"/admin/repair_ticket/edit/?id={tid}", ticket_form(ticket(app, tid), category="other"))
    assert r.status_code == 302, flashes(r.text)
    assert ticket(app, tid).complete_due_at == at(9, days=3)
    transition(station, "repair_ticket", "accept", tid)
    r = station.post(f"/admin/repair_ticket/edit/?id={tid}", ticket_form(ticket(app, tid), category="water"))
    assert "「报修类别」：应急报修单已进入「已受理」，不能再修改" in " ".join(flashes(r.text))
    assert ticket(app, tid).complete_due_at == at(9, days=3)


def test_a_complaints_intake_is_fixed_once_it_is_handled(app, station, estate):
    received = now() - timedelta(hours=20)
    cid = new_complaint(app, station, estate, received, content="改渠道")
    transition(station, "complaint", "dispatch", cid, handler="x", dispatched_at=iso(received + timedelta(minutes=2)))
    c = complaint(app, cid)
    form = {"estate": str(estate), "received_at": c.received_at.strftime("%Y-%m-%d %H:%M:%S"),
            "channel": "hotline", "kind": "complaint", "complainant": "投诉人", "content": "改渠道", "is_valid": "y"}
    # face to face would promise an answer within 12 hours instead of two days
    r = station.post(f"/admin/complaint/edit/?id={cid}", {**form, "channel": "face_to_face"})
    assert "「渠道」：投诉建议已进入「处理中」，不能再修改" in " ".join(flashes(r.text))
    r = station.post(f"/admin/complaint/edit/?id={cid}",
                     {**form, "received_at": (c.received_at - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")})
    assert "「受理时间」：投诉建议已进入「处理中」，不能再修改" in " ".join(flashes(r.text))
    after = complaint(app, cid)
    assert (after.channel.value, after.received_at, after.feedback_due_at) == \
        ("hotline", c.received_at, c.feedback_due_at)


# -- mediation: refused as outside policy; closed without agreement ------------------------


def new_case(app, mediator, estate, received, applicant) -> int:
    from models.casework import MediationCase
    r = mediator.post("/admin/mediation_case/new/", {
        "estate": str(estate), "received_at": received.strftime("%Y-%m-%d %H:%M:%S"), "applicant": applicant,
        "respondent": "楼上住户", "dispute_kind": "owner_owner", "summary": "漏水赔偿"})
    assert r.status_code == 302, flashes(r.text)
    return row_id(app, MediationCase, applicant=applicant)


def test_mediation_refused_as_outside_policy_says_why(app, client_for, estate):
    from models.casework import CaseState, MediationCase, RefusalReason
    mediator = client_for("mediator")
    cid = new_case(app, mediator, estate, now() - timedelta(days=1), "政策外申请人")
    r = transition(mediator, "mediation_case", "refuse", cid, refusal_reason="outside_policy",
                   refusal_note="属劳动争议，已告知向劳动仲裁申请")
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        case = db.session.get(MediationCase, cid)
        assert case.state == CaseState.REFUSED and case.refusal_reason == RefusalReason.OUTSIDE_POLICY
    page = mediator.get(f"/admin/mediation_case/details/?id={cid}").text
    assert "政策规定大调解不予受理" in page and "属劳动争议，已告知向劳动仲裁申请" in page
    # a refused case is over: it can be neither accepted nor closed
    r = transition(mediator, "mediation_case", "accept", cid, accepted_at=iso(now() - timedelta(hours=1)))
    assert "当前状态为「不予受理」，不能执行「受理」" in " ".join(flashes(r.text))


def test_mediation_closed_without_agreement(app, client_for, estate):
    from models.casework import CaseState, MediationCase
    mediator = client_for("mediator")
    received = now() - timedelta(days=3)
    cid = new_case(app, mediator, estate, received, "调解不成申请人")
    transition(mediator, "mediation_case", "accept", cid, accepted_at=iso(received + timedelta(hours=1)))
    r = transition(mediator, "mediation_case", "fail", cid, closed_at=iso(received + timedelta(days=2)),
                   outcome_note="被申请人拒绝调解")
    assert "尚无调解记录，请先记录至少一次调解" in " ".join(flashes(r.text))
    r = mediator.post("/admin/mediation_session/new/", {
        "case": str(cid), "held_at": (received + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "mediators": "吴敏", "notes": "被申请人未到场"})
    assert r.status_code == 302, flashes(r.text)
    r = transition(mediator, "mediation_case", "fail", cid, closed_at=iso(received + timedelta(days=2)),
                   outcome_note="被申请人拒绝调解，建议诉讼")
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        case = db.session.get(MediationCase, cid)
        assert case.state == CaseState.FAILED
        assert case.closed_at == (received + timedelta(days=2)).replace(second=0)
        assert case.outcome_note == "被申请人拒绝调解，建议诉讼" and case.agreement is None
    page = mediator.get(f"/admin/mediation_case/details/?id={cid}").text
    assert "调解不成" in page and "被申请人拒绝调解，建议诉讼" in page
    # once closed, it cannot be closed again with an agreement
    r = transition(mediator, "mediation_case", "agree", cid, closed_at=iso(now()), agreement="x")
    assert "当前状态为「调解不成」，不能执行「达成协议结案」" in " ".join(flashes(r.text))
