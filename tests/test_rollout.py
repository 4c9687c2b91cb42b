"""Rollout: both plans as the text has them, a pilot driven from designation to 推广
through actions only, targets computed at each step, and who may act."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from models import db, now
from models.estates import Estate
from models.governance import Community, LeadershipMeeting, Street
from models.rollout import Metric, Phase, PhaseState, Pilot, RolloutPlan, Target, Task, TaskState
from models.selfgov import AssemblyMeeting, OwnersCommittee

from .helpers import flashes, row_id, transition
from .test_self_governance import add_meeting, add_members, committee, new_committee

TODAY = now().date()


def plan(app, source: str) -> RolloutPlan:
    with app.app_context():
        row = db.session.scalar(db.select(RolloutPlan).where(RolloutPlan.source == source))
        db.session.expunge(row)
        return row


def phase(app, source: str, seq: int) -> Phase:
    with app.app_context():
        row = db.session.scalar(db.select(Phase).join(Phase.plan).where(RolloutPlan.source == source,
                                                                        Phase.seq == seq))
        db.session.expunge(row)
        return row


def target_values(client, query: str = "") -> dict[str, str]:
    page = client.get(f"/admin/rollout/{query}").text
    table = re.search(r'id="targets".*?</table>', page, re.S).group(0)
    rows = re.findall(r"<tr>\s*<td>([^<]+)<br>.*?class=\"target-value\">([^<]+)</span>", table, re.S)
    return {text.strip(): value.strip() for text, value in rows}


def test_both_plans_load_with_the_bad_date_flagged_not_shifted(app, client_for):
    with app.app_context():
        plans = {p.source: p for p in db.session.scalars(db.select(RolloutPlan))}
        assert [p.name for p in plans["篇5 五"].phases] == ["制定方案阶段", "宣传发动阶段", "全面实施阶段"]
        assert [p.name for p in plans["篇6 三"].phases] == ["制订方案", "宣传部署", "抓好试点", "推广"]
        tasks = [t.text for t in plans["篇5 五"].phases[0].tasks]
        assert tasks[0].startswith("调查辖区内住宅性质。分已实行物业管理小区、自管小区、失管小区")
        publicity = plans["篇6 三"].phases[1]
        assert publicity.date_text == "20__年5月26日-6月31日"
        assert publicity.end_on is None and publicity.date_flag
        assert "6月31日" in publicity.date_note
        assert plans["篇6 三"].phases[2].start_on.month == 6 and plans["篇6 三"].phases[2].start_on.day == 16
    page = client_for("coordinator").get("/admin/rollout/").text
    assert "日期待确认" in page and "“6月31日”不是有效日期" in page and "tl-uncertain" in page
    listing = client_for("coordinator").get("/admin/phase/?page_size=50").text
    assert "20__年5月26日-6月31日" in listing


def test_a_person_resolves_the_flagged_date(app, client_for):
    coordinator = client_for("coordinator")
    publicity = phase(app, "篇6 三", 2)
    r = transition(coordinator, "phase", "resolve_dates", publicity.id,
                   end_on=publicity.start_on.replace(month=6, day=30).isoformat(),
                   decision="领导小组会议决定按6月30日执行")
    assert r.status_code == 302, flashes(r.text)
    resolved = phase(app, "篇6 三", 2)
    assert resolved.end_on.month == 6 and resolved.end_on.day == 30 and not resolved.date_flag
    assert "领导小组会议决定按6月30日执行" in resolved.date_note


def own_plan(app, coordinator) -> tuple[int, int]:
    """A plan of this year with a 抓好试点 and a 推广 phase, made through the screens and
    dated from today to 31 December, so the test does not hang on the demo's dates."""
    street = row_id(app, Street, name="示例街道")
    r = coordinator.post("/admin/rollout_plan/new/", {"street": str(street), "name": "测试试点方案",
                                                      "year": str(TODAY.year)})
    assert r.status_code == 302, flashes(r.text)
    plan_id = row_id(app, RolloutPlan, name="测试试点方案")
    for seq, name in ((1, "抓好试点"), (2, "推广")):
        r = coordinator.post("/admin/phase/new/", {"plan": str(plan_id), "seq": str(seq), "name": name,
                                                   "start_on": TODAY.isoformat(),
                                                   "end_on": TODAY.replace(month=12, day=31).isoformat()})
        assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        phases = db.session.scalars(db.select(Phase.id).where(Phase.plan_id == plan_id).order_by(Phase.seq)).all()
    return phases[0], phases[1]


def metric_texts(app) -> dict[Metric, str]:
    with app.app_context():
        return {t.metric: t.text for t in db.session.scalars(db.select(Target).join(Target.street).where(
            Street.name == "示例街道"))}


def bumped(values: dict[str, str], text: str) -> dict[str, str]:
    """The target values with one more estate counted toward ``text``."""
    current, target = values[text].split(" / ")
    return {**values, text: f"{int(current) + 1} / {target}"}


def test_a_pilot_from_designation_to_promotion_through_actions_only(app, client_for):
    coordinator = client_for("coordinator")
    street = client_for("street")
    estate = row_id(app, Estate, name="丽景湾")          # 一类: no pilot, assembly or committee yet
    with app.app_context():
        assert db.session.scalar(db.select(Pilot.id).where(Pilot.estate_id == estate)) is None
        assert db.session.scalar(db.select(AssemblyMeeting.id).where(AssemblyMeeting.estate_id == estate)) is None
        assert db.session.scalar(db.select(OwnersCommittee.id).where(OwnersCommittee.estate_id == estate)) is None
    texts = metric_texts(app)
    expected = target_values(coordinator)
    assert expected[texts[Metric.PILOTS]] == "5 / 5"
    trial, promotion = own_plan(app, coordinator)
    assert _progress(app, trial) == (0, 0) and _progress(app, promotion) == (0, 0)

    # 1. start the pilot phase; designate the estate (bulk action on the estate list): pilots 6 / 5
    r = transition(coordinator, "phase", "start", trial, started_on=TODAY.isoformat())
    assert r.status_code == 302, flashes(r.text)
    assert phase_state(app, trial) == PhaseState.RUNNING
    assert target_values(coordinator) == expected
    r = coordinator.post("/admin/estate/action/", {"action": "mark_pilot", "rowid": str(estate)})
    assert r.status_code == 302
    expected = bumped(expected, texts[Metric.PILOTS])
    assert expected[texts[Metric.PILOTS]] == "6 / 5"
    assert target_values(coordinator) == expected
    with app.app_context():
        pilot_id = db.session.scalar(db.select(Pilot.id).where(Pilot.estate_id == estate))

    # 2. the pilot's task template, and one task of the phase itself
    for seq, text in enumerate(["召开首次业主大会", "选举业主委员会"], 1):
        r = coordinator.post("/admin/task/new/", {"phase": str(trial), "seq": str(seq), "text": text,
                                                  "required": "y", "owner_person": "江滨社区主任",
                                                  "due_on": TODAY.isoformat(), "estate": str(estate),
                                                  "pilot": str(pilot_id)})
        assert r.status_code == 302, flashes(r.text)
    r = coordinator.post("/admin/task/new/", {"phase": str(trial), "seq": "3", "text": "总结试点经验",
                                              "required": "y", "owner_person": "街道物业办",
                                              "due_on": TODAY.isoformat()})
    assert r.status_code == 302, flashes(r.text)
    assert _progress(app, trial) == (0, 3)
    assert target_values(coordinator) == expected

    # 3. milestones: not before the estate became a pilot; the assembly counts toward its target
    r = transition(coordinator, "pilot", "record_milestone", pilot_id, kind="assembly_held",
                   achieved_on=(TODAY - timedelta(days=1)).isoformat())
    assert "达成日期不能早于确定为试点的日期" in r.text
    add_meeting(street, estate, TODAY)
    expected = bumped(expected, texts[Metric.ASSEMBLIES_12])
    assert target_values(coordinator) == expected
    r = transition(coordinator, "pilot", "record_milestone", pilot_id, kind="assembly_held",
                   achieved_on=TODAY.isoformat(), evidence_note="业主大会会议记录")
    assert r.status_code == 302, flashes(r.text)
    assert target_values(coordinator) == expected

    # 4. the committee through its own transitions: the committee target counts it once filed
    new_committee(street, estate, prepared_on=TODAY - timedelta(days=10))
    c = committee(app, estate)
    transition(street, "owners_committee", "hold_assembly", c.id)
    add_members(street, c.id, ["director", "deputy", "member", "member", "member"])
    transition(street, "owners_committee", "elect", c.id, election_date=TODAY.isoformat())
    assert target_values(coordinator) == expected        # elected, not yet in office
    transition(street, "owners_committee", "file", c.id, filing_date=TODAY.isoformat(), filing_opinion="同意",
               term_start=TODAY.isoformat(), term_end=(TODAY + timedelta(days=365 * 3)).isoformat())
    expected = bumped(expected, texts[Metric.COMMITTEES_12])
    assert target_values(coordinator) == expected
    r = transition(coordinator, "pilot", "record_milestone", pilot_id, kind="committee_set_up",
                   achieved_on=TODAY.isoformat())
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        assert db.session.get(Pilot, pilot_id).milestone_count == 2

    # 5. finish the template tasks: the phase's progress moves
    with app.app_context():
        template = db.session.scalars(db.select(Task.id).where(Task.pilot_id == pilot_id)).all()
    for task_id in template:
        r = transition(coordinator, "task", "finish", task_id, done_on=TODAY.isoformat(), evidence_note="已完成")
        assert r.status_code == 302, flashes(r.text)
    assert _progress(app, trial) == (2, 3)
    assert target_values(coordinator) == expected

    # 6. completing the phase: refused while a required task is open, unless a reason is given
    r = transition(coordinator, "phase", "complete", trial, completed_on=TODAY.isoformat())
    assert "还有 1 项必做任务未完成" in " ".join(flashes(r.text))
    assert phase_state(app, trial) == PhaseState.RUNNING
    transition(coordinator, "phase", "complete", trial, completed_on=TODAY.isoformat(),
               completion_note="经验总结转入推广阶段继续推进")
    with app.app_context():
        finished = db.session.get(Phase, trial)
        assert finished.state == PhaseState.DONE and finished.completion_note == "经验总结转入推广阶段继续推进"
    assert _progress(app, trial) == (2, 3)
    assert target_values(coordinator) == expected

    # 7. 推广: start the phase and copy the pilot's two tasks to two estates
    transition(coordinator, "phase", "start", promotion, started_on=TODAY.isoformat())
    assert phase_state(app, promotion) == PhaseState.RUNNING
    targets = [row_id(app, Estate, name=n) for n in ("紫荆花园", "金桥花园")]
    r = coordinator.post(f"/admin/pilot/transition/promote/?id={pilot_id}", {
        "estates": [str(t) for t in targets], "phase": str(promotion), "due_on": TODAY.isoformat()})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        copied = db.session.execute(db.select(Task.estate_id, Task.text).where(Task.phase_id == promotion)).all()
    assert sorted(copied) == sorted((t, text) for t in targets for text in ("召开首次业主大会", "选举业主委员会"))
    assert _progress(app, promotion) == (0, 4)
    assert target_values(coordinator) == expected

    history = coordinator.get(f"/admin/phase/history/?id={trial}").text
    assert "完成阶段" in history and "经验总结转入推广阶段继续推进" in history


def phase_state(app, phase_id: int) -> PhaseState:
    with app.app_context():
        return db.session.get(Phase, phase_id).state


def test_the_overview_filtered_by_community_shows_that_communitys_progress(app, client_for):
    coordinator = client_for("coordinator")
    texts = metric_texts(app)
    pilots = texts[Metric.PILOTS]
    with app.app_context():
        communities = {c.name: c.id for c in db.session.scalars(db.select(Community))}
        lijing = db.session.scalar(db.select(Estate).where(Estate.name == "丽景湾"))
        home, home_id = lijing.community.name, lijing.community_id
        away_id = next(i for n, i in communities.items() if n != home)

    def pilots_in(community_id: int) -> int:
        with app.app_context():
            return db.session.scalar(db.select(db.func.count(Pilot.id)).join(Pilot.estate).where(
                Estate.community_id == community_id))

    whole = target_values(coordinator)[pilots]
    assert whole == "5 / 5"
    filtered = coordinator.get(f"/admin/rollout/?community={home_id}").text
    assert target_values(coordinator, f"?community={home_id}")[pilots] == f"{pilots_in(home_id)} / 5"
    assert f"进度（{home} / 全街道目标）" in filtered and "全街道 5" in filtered

    # one more pilot in that community moves its figure and the street's, not another community's
    before_home = pilots_in(home_id)
    before_away = target_values(coordinator, f"?community={away_id}")[pilots]
    assert before_away == f"{pilots_in(away_id)} / 5"
    r = coordinator.post("/admin/estate/action/", {"action": "mark_pilot", "rowid": str(lijing.id)})
    assert r.status_code == 302
    assert pilots_in(home_id) == before_home + 1
    assert target_values(coordinator, f"?community={home_id}")[pilots] == f"{before_home + 1} / 5"
    assert target_values(coordinator, f"?community={away_id}")[pilots] == before_away
    assert target_values(coordinator)[pilots] == "6 / 5"
    # the pilot table follows the filter too
    table = re.search(r'id="pilots".*?</table>', coordinator.get(f"/admin/rollout/?community={away_id}").text,
                      re.S).group(0)
    assert "丽景湾" not in table


def _progress(app, phase_id: int) -> tuple[int, int]:
    with app.app_context():
        p = db.session.get(Phase, phase_id)
        return p.task_done, p.task_total


def test_promotion_cannot_pick_estates_outside_scope(app, client_for):
    """A coordinator bound to one community cannot roll out to another's estates."""
    result = app.test_cli_runner().invoke(args=["users", "create", "coord2", "--role", "pilot_coordinator",
                                                "--community", "江滨社区", "--password", "secret123"])
    assert result.exit_code == 0, result.output
    from .helpers import Client
    coord = Client(app).login("coord2", "secret123")
    with app.app_context():
        pilot = db.session.scalar(db.select(Pilot).join(Pilot.estate).where(Estate.name == "永乐花园"))
        db.session.add(Task(phase_id=phase(app, "篇6 三", 3).id, text="模板", estate_id=pilot.estate_id,
                            pilot_id=pilot.id, owner_person="x"))
        db.session.commit()
        pilot_id = pilot.id
    foreign = row_id(app, Estate, name="双龙小区")   # 红山社区
    r = coord.post(f"/admin/pilot/transition/promote/?id={pilot_id}", {
        "estates": [str(foreign)], "phase": str(phase(app, "篇6 三", 4).id), "due_on": TODAY.isoformat()})
    assert r.status_code == 200  # the choice is refused by the form
    with app.app_context():
        assert db.session.scalar(db.select(Task).where(Task.estate_id == foreign, Task.text == "模板")) is None


def test_a_leadership_meeting_turns_its_decisions_into_tasks(app, client_for):
    coordinator = client_for("coordinator")
    with app.app_context():
        meeting = db.session.scalar(db.select(LeadershipMeeting).order_by(LeadershipMeeting.held_on))
        meeting_id = meeting.id
    form = coordinator.get(f"/admin/leadership_meeting/transition/create_tasks/?id={meeting_id}").text
    assert "各社区本月内完成小区摸底" in form  # the meeting's decisions, ready to edit
    promotion = phase(app, "篇6 三", 4)
    r = transition(coordinator, "leadership_meeting", "create_tasks", meeting_id, phase=str(promotion.id),
                   tasks="一、完成三类小区摸底\n二、召开推广动员会", due_on=TODAY.replace(month=12, day=20).isoformat())
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        made = db.session.scalars(db.select(Task.text).where(Task.meeting_id == meeting_id,
                                                             Task.phase_id == promotion.id)).all()
    assert "一、完成三类小区摸底" in made and "二、召开推广动员会" in made


@pytest.mark.parametrize("due, message", [
    (lambda: TODAY.replace(year=TODAY.year + 1), "完成期限不在方案年度"),
])
def test_a_task_due_outside_its_plans_year_is_refused(app, client_for, due, message):
    r = client_for("coordinator").post("/admin/task/new/", {
        "phase": str(phase(app, "篇6 三", 4).id), "seq": "9", "text": "跨年任务", "owner_person": "x",
        "due_on": due().isoformat()})
    assert r.status_code == 200 and message in r.text


def test_a_phase_ending_before_it_starts_is_refused(app, client_for):
    p = phase(app, "篇6 三", 4)
    r = client_for("coordinator").post(f"/admin/phase/edit/?id={p.id}", {
        "plan": str(p.plan_id), "seq": "4", "name": p.name, "start_on": TODAY.replace(month=11, day=1).isoformat(),
        "end_on": TODAY.replace(month=10, day=1).isoformat(), "date_text": p.date_text})
    assert r.status_code == 200 and "截止日期不能早于开始日期" in r.text
    assert phase(app, "篇6 三", 4).end_on == p.end_on


def test_the_overview_renders_and_only_coordinators_and_street_staff_act(app, client_for):
    for who in ("coordinator", "leader", "street", "committee"):
        assert client_for(who).get("/admin/rollout/").status_code == 200
    leader = client_for("leader")
    p = phase(app, "篇6 三", 4)
    with app.app_context():
        pilot_id = db.session.scalar(db.select(Pilot.id))
        task_id = db.session.scalar(db.select(Task.id).where(Task.state == TaskState.OPEN.value))
        meeting_id = db.session.scalar(db.select(LeadershipMeeting.id))
        estate = db.session.scalar(db.select(Estate.id).where(Estate.name == "紫荆花园"))
    refused = [
        transition(leader, "phase", "start", p.id, started_on=TODAY.isoformat()),
        transition(leader, "phase", "resolve_dates", p.id, end_on=TODAY.isoformat(), decision="x"),
        transition(leader, "pilot", "record_milestone", pilot_id, kind="regularised", achieved_on=TODAY.isoformat()),
        transition(leader, "pilot", "promote", pilot_id),
        transition(leader, "task", "finish", task_id, done_on=TODAY.isoformat()),
        transition(leader, "leadership_meeting", "create_tasks", meeting_id),
        leader.post("/admin/estate/action/", {"action": "mark_pilot", "rowid": str(estate)}),
        leader.post("/admin/task/new/", {"text": "x"}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert phase(app, "篇6 三", 4).state == p.state
