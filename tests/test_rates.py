"""Each rate on a hand-made set of records with a known answer, read from the page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from models import db, now
from models.casework import Channel, Complaint, ComplaintKind
from models.repairs import RepairTicket, ScopeDecision
from models.accounts import Role
from models.estates import Estate
from models.governance import Community
from models.kernel.workflow import perform

from .helpers import flashes, row_id

DAY = (now() - timedelta(days=10)).date()


def at(hour: int, days: int = 0) -> datetime:
    return datetime.combine(DAY, datetime.min.time()) + timedelta(days=days, hours=hour)


def build(estate_id: int) -> None:
    def ticket(category, call_at, arrived=None, completed=None, called_back=None, refer=False):
        t = RepairTicket(estate_id=estate_id, call_at=call_at, caller="测", phone="1", category=category,
                         description="x")
        db.session.add(t)
        db.session.flush()
        if refer:
            perform(t, "refer", Role.ADMIN, {"scope_decision": ScopeDecision.OUT_OF_SCOPE, "advice": "咨询"})
            return
        perform(t, "accept", Role.ADMIN)
        if arrived:
            perform(t, "dispatch", Role.ADMIN, {"repair_unit": "队", "dispatched_at": call_at})
            perform(t, "arrive", Role.ADMIN, {"arrived_at": arrived})
        if completed:
            perform(t, "complete", Role.ADMIN, {"completed_at": completed, "result": "好", "fee": 0})
        if called_back:
            perform(t, "call_back", Role.ADMIN, {"called_back_at": called_back, "satisfaction": "satisfied"})
        db.session.flush()

    ticket("water", at(9), at(9), at(20), called_back=at(21))        # on time, called back
    ticket("water", at(9), at(9), at(10, days=1))                    # late
    ticket("power", at(14), at(14), at(23), called_back=at(23))      # on time, called back
    ticket("power", at(10))                                          # open, past 24:00: late
    ticket("other", now() - timedelta(hours=1))                      # open, not yet due: not counted
    ticket("water", at(8), refer=True)                               # referred: not counted

    def complaint(valid, resolved, kind=ComplaintKind.COMPLAINT, received=at(9)):
        c = Complaint(estate_id=estate_id, received_at=received, channel=Channel.HOTLINE, kind=kind,
                      content="x", is_valid=valid)
        db.session.add(c)
        db.session.flush()
        perform(c, "dispatch", Role.ADMIN, {"handler": "x", "dispatched_at": received})
        if resolved:
            perform(c, "resolve", Role.ADMIN, {"resolved_at": received + timedelta(hours=5), "result": "好",
                                               "is_valid": valid})
        db.session.flush()

    complaint(True, True)
    complaint(True, False)
    complaint(True, True)
    complaint(False, True)                                           # not valid
    complaint(True, True, kind=ComplaintKind.SUGGESTION)             # a suggestion
    complaint(True, True, received=at(9, days=-30))                  # outside the period
    db.session.commit()


def test_rates_on_a_hand_made_set(app, client_for):
    admin = client_for("admin")
    community = row_id(app, Community, name="江滨社区")
    r = admin.post("/admin/estate/new/", {"name": "指标测试小区", "community": str(community),
                                          "estate_class": "first", "households": "200"})
    assert r.status_code == 302, flashes(r.text)
    estate = row_id(app, Estate, name="指标测试小区")
    with app.app_context():
        build(estate)
    page = client_for("street").get(
        f"/admin/standing/?level=estate&key={estate}&start={DAY - timedelta(days=5)}&end={now().date()}").text

    def figures(code: str) -> tuple[str, str]:
        row = re.search(rf'data-code="{code}"[^>]*>(.*?)</tr>', page, re.S).group(1)
        value = re.search(r'class="rate-value"><strong>([^<]+)</strong>', row).group(1)
        fraction = re.search(r'<td class="text-muted">\s*(\d+ / \d+)', row).group(1)
        return value, fraction

    assert figures("repair_timely") == ("50.0%", "2 / 4")       # 2 on time ÷ (3 done + 1 open past due)
    assert figures("repair_callback") == ("66.7%", "2 / 3")     # 2 called back ÷ 3 completed
    assert figures("complaint_handled") == ("66.7%", "2 / 3")   # 2 resolved ÷ 3 valid complaints
    assert figures("complaint_rate") == ("1.5%", "3 / 200")     # 3 valid complaints ÷ 200 households


def test_rates_only_cover_the_users_scope(app, client_for):
    hongshan = row_id(app, Estate, name="双龙小区")
    community_user = client_for("community")  # 江滨社区 only
    page = community_user.get(f"/admin/standing/?level=estate&key={hongshan}").text
    assert "共 0 个小区" in page


def test_an_empty_period_says_so(client_for):
    page = client_for("street").get("/admin/standing/?start=2000-01-01&end=2000-01-31").text
    assert "—（无数据）" in page
    assert "开始日期不能晚于结束日期" in client_for("street").get(
        "/admin/standing/?start=2026-02-01&end=2026-01-01").text


def test_rates_for_one_street_of_several(app, client_for):
    """An installation may serve several streets: street staff pick their street, and
    see only the streets of their scope."""
    from models.governance import Street
    admin = client_for("admin")
    r = admin.post("/admin/street/new/", {"name": "第二街道"})
    assert r.status_code == 302, flashes(r.text)
    second = row_id(app, Street, name="第二街道")
    r = admin.post("/admin/community/new/", {"name": "第二街道社区", "street": str(second)})
    assert r.status_code == 302, flashes(r.text)
    r = admin.post("/admin/estate/new/", {"name": "第二街道小区", "community": str(row_id(app, Community, name="第二街道社区")),
                                          "estate_class": "first", "households": "200"})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        build(row_id(app, Estate, name="第二街道小区"))
        demo_estates = db.session.scalar(db.select(db.func.count()).select_from(Estate).join(Estate.community)
                                         .join(Street).where(Street.name == "示例街道"))
    demo = row_id(app, Street, name="示例街道")
    period = f"start={DAY - timedelta(days=5)}&end={now().date()}"

    page = admin.get(f"/admin/standing/?level=street&key={second}&{period}").text
    assert "共 1 个小区" in page
    timely = re.search(r'data-code="repair_timely"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert "50.0%" in timely and "2 / 4" in timely          # the hand-made set alone
    assert f"共 {demo_estates} 个小区" in admin.get(f"/admin/standing/?level=street&key={demo}&{period}").text
    assert f"共 {demo_estates + 1} 个小区" in admin.get(f"/admin/standing/?{period}").text

    street = client_for("street")  # bound to 示例街道
    page = street.get(f"/admin/standing/?level=street&key={demo}&{period}").text
    assert f"共 {demo_estates} 个小区" in page and 'value="street" selected' in page
    assert "第二街道" not in page                            # not offered: outside the scope
    assert "共 0 个小区" in street.get(f"/admin/standing/?level=street&key={second}&{period}").text
