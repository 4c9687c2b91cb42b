"""Funds: an application from proposal to paid through the actions only, the balance
and audit trail at each step; money rules; collect-then-refund; fee collection rate;
the auditor reads everything and changes nothing."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest

from models import db, now
from models.kernel.audit import AuditAction, AuditLog
from models.estates import Estate
from models.funds import ApplicationState, FundApplication, FundMovement, MaintenanceFund, MovementKind
from models.fees import FeeBill, FeeRefund
from models.selfgov import AssemblyMeeting, Resolution
from models.service_center import Household

from .helpers import flashes, row_id, transition
from .test_self_governance import add_meeting

TODAY = now().date()
FUND_MODELS = ["maintenance_fund", "fund_movement", "fund_application", "subsidy", "subsidy_payment",
               "low_income_status", "fee_refund", "fee_bill"]


def fund_of(app, estate: str) -> MaintenanceFund:
    with app.app_context():
        fund = db.session.scalar(db.select(MaintenanceFund).join(MaintenanceFund.estate).where(Estate.name == estate))
        return fund.id, fund.estate_id, fund.balance


def balance(app, fund_id: int) -> Decimal:
    with app.app_context():
        return db.session.scalar(db.select(MaintenanceFund.balance).where(MaintenanceFund.id == fund_id))


def state(app, app_id: int) -> ApplicationState:
    with app.app_context():
        return db.session.get(FundApplication, app_id).state


def propose(app, client, fund_id: int, item: str, amount: str) -> int:
    r = client.post("/admin/fund_application/new/", {
        "fund": str(fund_id), "item": item, "proposer": "committee", "proposer_name": "业委会",
        "amount": amount, "proposed_on": (TODAY - timedelta(days=5)).isoformat()})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        return db.session.scalar(db.select(FundApplication.id).where(FundApplication.item == item))


def major_resolution(app, street, estate_id: int, share: Decimal) -> int:
    """An assembly (80 of 100 owners take part) voting on using the fund."""
    add_meeting(street, estate_id, TODAY - timedelta(days=4))
    with app.app_context():
        meeting = db.session.scalar(db.select(AssemblyMeeting).where(AssemblyMeeting.estate_id == estate_id)
                                    .order_by(AssemblyMeeting.id.desc()))
        meeting_id = meeting.id
    r = street.post("/admin/resolution/new/", {
        "meeting": str(meeting_id), "seq": "1", "title": f"使用维修资金 {share}", "matter": "major",
        "for_owners": str(int(80 * share)), "for_area": str((8000 * share).quantize(Decimal("0.01"))),
        "against_owners": "0", "against_area": "0"})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        return db.session.scalar(db.select(Resolution.id).where(Resolution.meeting_id == meeting_id))


def trail(app, app_id: int) -> list[str]:
    with app.app_context():
        return [e.note for e in db.session.scalars(db.select(AuditLog).where(
            AuditLog.model == "fund_application", AuditLog.row_id == str(app_id),
            AuditLog.action == AuditAction.TRANSITION).order_by(AuditLog.id))]


def test_an_application_from_proposal_to_paid(app, client_for):
    street = client_for("street")
    fund_id, estate_id, opening = fund_of(app, "滨江花苑")
    app_id = propose(app, street, fund_id, "外墙脱落修复", "45000.50")
    assert balance(app, fund_id) == opening

    # without a carried resolution, neither the owners' step nor the review goes through
    failing = major_resolution(app, street, estate_id, Decimal("0.74"))
    r = transition(street, "fund_application", "owners_approve", app_id, resolution=str(failing))
    assert "所选表决事项未获通过（须参与表决面积和人数均达四分之三以上同意）" in " ".join(flashes(r.text))
    assert state(app, app_id) == ApplicationState.PROPOSED
    r = transition(street, "fund_application", "review", app_id, review_opinion="x", approved_amount="1",
                   reviewed_on=TODAY.isoformat())
    assert "不能执行「街道审核同意」" in " ".join(flashes(r.text))

    steps = [
        ("owners_approve", {"resolution": str(major_resolution(app, street, estate_id, Decimal("0.75")))},
         ApplicationState.OWNERS_APPROVED),
        ("review", {"review_opinion": "同意", "approved_amount": "45000.50", "reviewed_on": TODAY.isoformat()},
         ApplicationState.APPROVED),
        ("work_done", {"work_done_on": TODAY.isoformat()}, ApplicationState.WORK_DONE),
        ("apply_payment", {"payment_applied_on": TODAY.isoformat()}, ApplicationState.PAYMENT_APPLIED),
    ]
    for n, (name, params, expected) in enumerate(steps, 1):
        r = transition(street, "fund_application", name, app_id, **params)
        assert r.status_code == 302, flashes(r.text)
        assert state(app, app_id) == expected
        assert balance(app, fund_id) == opening          # no money moves before payment
        assert len(trail(app, app_id)) == n
    transition(street, "fund_application", "pay", app_id, paid_on=TODAY.isoformat())
    assert state(app, app_id) == ApplicationState.PAID
    assert balance(app, fund_id) == opening - Decimal("45000.50")
    notes = trail(app, app_id)
    assert [n.split("：")[0] for n in notes] == ["业主大会表决同意", "街道审核同意", "工程完工", "申请拨付", "拨付"]
    with app.app_context():
        movement = db.session.scalar(db.select(FundMovement).where(FundMovement.application_id == app_id))
        assert movement.kind == MovementKind.WITHDRAWAL and movement.amount == Decimal("45000.50")
    history = client_for("auditor").get(f"/admin/fund_application/history/?id={app_id}").text
    assert "街道物业办 王敏（street）" in history and "拨付" in history


def test_the_emergency_path_skips_the_vote_and_says_why(app, client_for):
    street = client_for("street")
    fund_id, _, _ = fund_of(app, "滨江花苑")
    app_id = propose(app, street, fund_id, "消防管道抢修", "8000")
    r = transition(street, "fund_application", "emergency", app_id)
    assert r.status_code == 200 and "请填写「理由」" in r.text
    transition(street, "fund_application", "emergency", app_id, emergency_reason="消防管道破裂，危及安全")
    transition(street, "fund_application", "review", app_id, review_opinion="同意先行维修",
               approved_amount="8000", reviewed_on=TODAY.isoformat())
    assert state(app, app_id) == ApplicationState.APPROVED


def test_payment_cannot_take_the_balance_below_zero(app, client_for):
    street = client_for("street")
    fund_id, estate_id, opening = fund_of(app, "滨江花苑")
    app_id = propose(app, street, fund_id, "超额项目", str(opening + 1))
    transition(street, "fund_application", "emergency", app_id, emergency_reason="测试")
    r = transition(street, "fund_application", "review", app_id, review_opinion="x",
                   approved_amount=str(opening + 1), reviewed_on=TODAY.isoformat())
    assert f"核准金额超过账户余额（当前余额 {opening} 元）" in " ".join(flashes(r.text) + [r.text])
    # a correction out of the fund is refused the same way
    r = street.post("/admin/fund_movement/new/", {"fund": str(fund_id), "kind": "correction_out",
                                                  "amount": str(opening + 1), "occurred_on": TODAY.isoformat()})
    assert r.status_code == 200 and "余额不能为负" in r.text
    r = street.post("/admin/fund_movement/new/", {"fund": str(fund_id), "kind": "withdrawal",
                                                  "amount": "10", "occurred_on": TODAY.isoformat()})
    assert "支取只能通过维修资金使用申请的「拨付」完成" in r.text
    assert balance(app, fund_id) == opening


def approved_application(app, street, estate: str, item: str, amount: str) -> int:
    """A proposal through the emergency path and the street's review: 街道审核同意."""
    fund_id, _, _ = fund_of(app, estate)
    app_id = propose(app, street, fund_id, item, amount)
    transition(street, "fund_application", "emergency", app_id, emergency_reason="屋面渗漏，危及安全")
    r = transition(street, "fund_application", "review", app_id, review_opinion="同意", approved_amount=amount,
                   reviewed_on=TODAY.isoformat())
    assert r.status_code == 302, flashes(r.text)
    assert state(app, app_id) == ApplicationState.APPROVED
    return app_id


def edit_form(app, app_id: int, **changes: str) -> dict[str, str]:
    """The application's edit form as the screen fills it, with ``changes``."""
    with app.app_context():
        a = db.session.get(FundApplication, app_id)
        form = {"fund": str(a.fund_id), "item": a.item, "description": a.description or "",
                "proposer": a.proposer.value, "proposer_name": a.proposer_name or "", "amount": str(a.amount),
                "quotes": a.quotes or "", "proposed_on": a.proposed_on.isoformat(), "repair_ticket": ""}
    return {**form, **changes}


def test_an_application_past_proposal_cannot_be_moved_or_inflated_by_editing(app, client_for):
    street = client_for("street")
    fund_id, _, opening = fund_of(app, "滨江花苑")
    other_id, _, other_opening = fund_of(app, "永乐花园")
    app_id = approved_application(app, street, "滨江花苑", "屋面防水", "8000")

    # the probe: move the approved application to another estate's fund and raise its amount
    assert street.get(f"/admin/fund_application/edit/?id={app_id}").status_code == 200
    r = street.post(f"/admin/fund_application/edit/?id={app_id}",
                    edit_form(app, app_id, fund=str(other_id), amount="99999999"))
    assert r.status_code == 200
    messages = " ".join(flashes(r.text))
    assert "「维修资金账户」：申请已是「街道审核同意」，此项不能再修改" in messages
    assert "「申请金额（元）」：申请已是「街道审核同意」，此项不能再修改" in messages
    with app.app_context():
        row = db.session.get(FundApplication, app_id)
        assert (row.fund_id, row.amount) == (fund_id, Decimal("8000.00"))
    # nor the item it was approved for
    r = street.post(f"/admin/fund_application/edit/?id={app_id}", edit_form(app, app_id, item="小区大门改造"))
    assert "「维修项目」：申请已是「街道审核同意」，此项不能再修改" in " ".join(flashes(r.text))

    # saving it unchanged is no change, so it is not refused
    r = street.post(f"/admin/fund_application/edit/?id={app_id}", edit_form(app, app_id))
    assert r.status_code == 302, flashes(r.text)

    # payment then takes the approved amount from the fund whose owners' matter it was
    for name, params in (("work_done", {"work_done_on": TODAY}), ("apply_payment", {"payment_applied_on": TODAY}),
                         ("pay", {"paid_on": TODAY})):
        r = transition(street, "fund_application", name, app_id, **params)
        assert r.status_code == 302, flashes(r.text)
    assert balance(app, fund_id) == opening - Decimal("8000")
    assert balance(app, other_id) == other_opening


def test_a_proposed_application_can_still_be_corrected(app, client_for):
    street = client_for("street")
    fund_id, _, _ = fund_of(app, "滨江花苑")
    app_id = propose(app, street, fund_id, "单元门禁维修", "3000")
    r = street.post(f"/admin/fund_application/edit/?id={app_id}", edit_form(app, app_id, amount="3200.50"))
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        assert db.session.get(FundApplication, app_id).amount == Decimal("3200.50")


def test_the_application_rechecks_its_resolution_and_approved_amount(app, client_for):
    """Every path runs clean(): a resolution of another estate, or more approved than
    requested, is refused even if something set them behind the actions' backs."""
    from models.kernel.declare import Invalid
    from models.kernel.rules import run_rules

    street = client_for("street")
    _, other_estate, _ = fund_of(app, "永乐花园")
    foreign = major_resolution(app, street, other_estate, Decimal("0.80"))
    app_id = approved_application(app, street, "滨江花苑", "路灯更换", "5000")
    with app.app_context():
        row = db.session.get(FundApplication, app_id)
        row.resolution = db.session.get(Resolution, foreign)
        row.approved_amount = Decimal("5000.01")
        with pytest.raises(Invalid) as refused:
            run_rules(row)
        db.session.rollback()
    assert refused.value.errors["resolution"] == ["所选表决事项不是本小区业主大会的"]
    assert refused.value.errors["approved_amount"] == ["核准金额不能超过申请金额（5000.00 元）"]


def test_a_fund_holding_money_stays_with_its_estate(app, client_for):
    street = client_for("street")
    fund_id, _, _ = fund_of(app, "滨江花苑")
    other = row_id(app, Estate, name="紫荆花园")
    r = street.post(f"/admin/maintenance_fund/edit/?id={fund_id}", {"estate": str(other), "account_no": "1",
                                                                    "bank": "示例银行"})
    assert r.status_code == 200
    assert "「小区」：该账户已有资金流水或使用申请，不能改为其他小区的账户" in " ".join(flashes(r.text))
    assert fund_of(app, "滨江花苑")[0] == fund_id


@pytest.mark.parametrize("amount, message", [
    ("0", "金额必须大于 0"), ("-5", "金额必须大于 0"), ("12.345", "金额最多保留两位小数"),
    ("十二元", "不是有效的小数。"),
])
def test_bad_amounts_are_refused_naming_the_field(app, client_for, amount, message):
    street = client_for("street")
    fund_id, _, opening = fund_of(app, "滨江花苑")
    r = street.post("/admin/fund_movement/new/", {"fund": str(fund_id), "kind": "top_up", "amount": amount,
                                                  "occurred_on": TODAY.isoformat()})
    assert r.status_code == 200
    assert f"<li>{message}" in r.text or message in " ".join(flashes(r.text))
    assert "金额（元）" in r.text
    assert balance(app, fund_id) == opening


def test_money_is_never_edited_or_deleted(app, client_for):
    street = client_for("street")
    with app.app_context():
        movement_id = db.session.scalar(db.select(FundMovement.id))
    assert street.get(f"/admin/fund_movement/edit/?id={movement_id}").status_code == 403
    assert street.post("/admin/fund_movement/delete/", {"id": str(movement_id)}).status_code == 403


def test_a_fee_bill_is_never_deleted_so_the_auditor_still_sees_it(app, client_for):
    """Deleting a money record would take its creation and deletion out of the 纪工委's
    trail: street staff may not, and even the administrator is refused with the reason."""
    street, admin = client_for("street"), client_for("admin")
    r = street.post("/admin/fee_bill/new/", {"estate": str(row_id(app, Estate, name="紫荆花园")),
                                             "year": str(TODAY.year), "payer_kind": "school",
                                             "payer_name": "紫荆实验小学", "due": "36000", "paid": "18000"})
    assert r.status_code == 302, flashes(r.text)
    bill = row_id(app, FeeBill, payer_name="紫荆实验小学")
    assert street.post("/admin/fee_bill/delete/", {"id": str(bill)}).status_code == 403
    assert street.post("/admin/fee_bill/action/", {"action": "delete", "rowid": str(bill)}).status_code == 403
    r = admin.post("/admin/fee_bill/delete/", {"id": str(bill)}, follow_redirects=True)
    assert "物业费收缴「%d年 紫荆实验小学」不能删除：资金记录须保留供纪工委审计" % TODAY.year in " ".join(flashes(r.text))
    r = admin.post("/admin/fee_bill/action/", {"action": "delete", "rowid": str(bill)}, follow_redirects=True)
    assert "不能删除：资金记录须保留供纪工委审计" in " ".join(flashes(r.text))
    with app.app_context():
        movement = db.session.scalar(db.select(FundMovement.id))
    r = admin.post("/admin/fund_movement/delete/", {"id": str(movement)}, follow_redirects=True)
    assert "维修资金流水" in " ".join(flashes(r.text)) and "不能删除" in " ".join(flashes(r.text))
    assert row_id(app, FeeBill, payer_name="紫荆实验小学") == bill
    assert row_id(app, FundMovement, id=movement) == movement

    page = client_for("auditor").get("/admin/money_trail/").text
    entries = [r for r in re.findall(r"<tr>(.*?)</tr>", page, re.S) if f"{TODAY.year}年 紫荆实验小学" in r]
    assert len(entries) == 1 and "新增" in entries[0] and "物业费收缴" in entries[0]


def household(app, client, head: str, room: str) -> int:
    """A household of the residents' archive, entered through its screen."""
    r = client.post("/admin/household/new/", {"estate": str(row_id(app, Estate, name="滨江花苑")), "building": "1",
                                              "room": room, "head": head})
    assert r.status_code == 302, flashes(r.text)
    return row_id(app, Household, head=head)


def low_income(app, client, household_id: int, certificate: str, valid_from, valid_to) -> int:
    from models.fees import LowIncomeStatus

    r = client.post("/admin/low_income_status/new/", {"household": str(household_id), "certificate_no": certificate,
                                                      "valid_from": valid_from.isoformat(),
                                                      "valid_to": valid_to.isoformat()})
    assert r.status_code == 302, flashes(r.text)
    return row_id(app, LowIncomeStatus, certificate_no=certificate)


def collect(client, household_id: int, period: str, collected_on, amount: str = "300", refund: str | None = None):
    return client.post("/admin/fee_refund/new/", {"household": str(household_id), "period": period,
                                                  "collected": amount, "collected_on": collected_on.isoformat(),
                                                  "refund": refund or amount})


def test_a_refund_needs_a_low_income_household_at_the_time(app, client_for):
    street = client_for("street")
    ordinary = household(app, street, "测试普通户", "901")
    flagged = household(app, street, "测试低保户", "902")
    low_income(app, street, flagged, "DB-T-1", TODAY - timedelta(days=100), TODAY + timedelta(days=100))
    r = collect(street, ordinary, "测试期", TODAY)
    assert r.status_code == 200 and "该住户在收取日期（%s）不是有效的低保户，不能先征后返" % TODAY in r.text
    r = collect(street, flagged, "测试期", TODAY - timedelta(days=101))   # the day before the validity
    assert r.status_code == 200 and "不是有效的低保户，不能先征后返" in r.text
    r = collect(street, flagged, "测试期", TODAY, refund="301")
    assert "返还金额不能超过收取金额" in r.text
    r = collect(street, flagged, "测试期", TODAY)
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        refund = db.session.scalar(db.select(FeeRefund).where(FeeRefund.period == "测试期"))
        assert refund.refund_due_on == TODAY + timedelta(days=30)


def test_overdue_refunds_are_flagged(app, client_for):
    """A refund is due 30 days after collection: one day past it is overdue, the due day
    itself is not, and a refunded one never is."""
    street = client_for("street")
    flagged = household(app, street, "测试低保户", "903")
    low_income(app, street, flagged, "DB-T-2", TODAY - timedelta(days=100), TODAY + timedelta(days=100))
    for period, days in (("逾期一天", 31), ("今天到期", 30), ("已返还", 40)):
        r = collect(street, flagged, period, TODAY - timedelta(days=days))
        assert r.status_code == 302, flashes(r.text)
    returned = row_id(app, FeeRefund, period="已返还")
    r = transition(street, "fee_refund", "pay_refund", returned, refunded_on=TODAY - timedelta(days=15))
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        overdue = db.session.scalars(db.select(FeeRefund.period).where(
            FeeRefund.household_id == flagged, FeeRefund.overdue)).all()
    assert overdue == ["逾期一天"]
    listing = street.get("/admin/fee_refund/?search=逾期一天").text
    assert "badge badge-danger" in listing            # 逾期未返还, in red on the list


def test_the_household_list_shows_who_is_low_income_today(app, client_for):
    street = client_for("street")
    now_valid = household(app, street, "测试甲低保", "904")
    expired = household(app, street, "测试乙过期", "905")
    household(app, street, "测试丙普通", "906")
    low_income(app, street, now_valid, "DB-T-3", TODAY - timedelta(days=10), TODAY)
    low_income(app, street, expired, "DB-T-4", TODAY - timedelta(days=100), TODAY - timedelta(days=1))
    page = street.get("/admin/household/?search=测试&page_size=50").text
    assert "<th" in page and "低保户" in page
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page, re.S)
    flags = {head: re.search(r'class="badge badge-(?:success|light)">(是|否)</span>', row).group(1)
             for row in rows for head in re.findall(r"测试[甲乙丙]..", row)}
    assert flags == {"测试甲低保": "是", "测试乙过期": "否", "测试丙普通": "否"}


def test_a_low_income_validity_cannot_be_cut_under_a_collection(app, client_for):
    street = client_for("street")
    flagged = household(app, street, "测试低保户", "907")
    other = household(app, street, "测试他户", "908")
    status = low_income(app, street, flagged, "DB-T-5", TODAY - timedelta(days=100), TODAY + timedelta(days=100))
    collected_on = TODAY - timedelta(days=10)
    assert collect(street, flagged, "上月物业费", collected_on).status_code == 302

    def edit(**changes):
        form = {"household": str(flagged), "certificate_no": "DB-T-5",
                "valid_from": (TODAY - timedelta(days=100)).isoformat(),
                "valid_to": (TODAY + timedelta(days=100)).isoformat(), **changes}
        return street.post(f"/admin/low_income_status/edit/?id={status}", form)

    r = edit(valid_to=(collected_on - timedelta(days=1)).isoformat())
    assert r.status_code == 200
    assert (f"「有效期止」：该住户 {collected_on} 收取的物业费（上月物业费）按先征后返办理，须在低保有效期内，"
            f"有效期止不能早于 {collected_on}") in " ".join(flashes(r.text))
    r = edit(valid_from=(collected_on + timedelta(days=1)).isoformat())
    assert f"「有效期起」：" in " ".join(flashes(r.text)) and f"有效期起不能晚于 {collected_on}" in r.text
    r = edit(household=str(other))
    assert "不能改为其他住户" in " ".join(flashes(r.text))
    with app.app_context():
        from models.fees import LowIncomeStatus
        kept = db.session.get(LowIncomeStatus, status)
        assert (kept.household_id, kept.valid_to) == (flagged, TODAY + timedelta(days=100))

    # shortening to the collection day itself still covers it; so does another status
    assert edit(valid_to=collected_on.isoformat()).status_code == 302
    low_income(app, street, flagged, "DB-T-6", collected_on - timedelta(days=5), collected_on + timedelta(days=5))
    r = edit(valid_to=(collected_on - timedelta(days=1)).isoformat())
    assert r.status_code == 302, flashes(r.text)


def test_fee_collection_rate_for_an_estate_on_a_hand_made_set(app, client_for):
    street = client_for("street")
    estate = row_id(app, Estate, name="紫荆花园")
    for payer, kind, due, paid in (("住户合计", "households", "100000", "97000"),
                                   ("紫荆幼儿园", "kindergarten", "20000", "11000"),
                                   ("上一年度", "households", "5000", "0")):
        year = TODAY.year if payer != "上一年度" else TODAY.year - 1
        r = street.post("/admin/fee_bill/new/", {"estate": str(estate), "year": str(year), "payer_kind": kind,
                                                 "payer_name": payer, "due": due, "paid": paid})
        assert r.status_code == 302, flashes(r.text)
    page = street.get(f"/admin/standing/?level=estate&key={estate}&start={TODAY.replace(month=1, day=1)}&end={TODAY}").text
    row = re.search(r'data-code="fee_collection"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert "90.0%" in row                     # 108000 ÷ 120000
    assert "108000" in row and "120000" in row
    assert "table-danger" in re.search(r'<tr data-code="fee_collection"[^>]*>', page).group(0)  # target ≥ 98%


def test_paid_cannot_exceed_due(client_for, app):
    r = client_for("street").post("/admin/fee_bill/new/", {
        "estate": str(row_id(app, Estate, name="紫荆花园")), "year": str(TODAY.year), "payer_kind": "school",
        "payer_name": "多缴学校", "due": "100", "paid": "150"})
    assert r.status_code == 200 and "实收不能超过应收" in r.text


def test_the_auditor_reads_every_fund_record_and_changes_none(app, client_for):
    auditor = client_for("auditor")
    for name in FUND_MODELS:
        base = f"/admin/{name}/"
        assert auditor.get(base).status_code == 200, name
        assert auditor.get(f"{base}export/csv/").status_code == 200, name
        with app.app_context():
            from models import declared_models
            model = next(m for m in declared_models() if m.__tablename__ == name)
            pk = db.session.scalar(db.select(model.id).limit(1))
        assert auditor.get(f"{base}details/?id={pk}").status_code == 200, name
        assert auditor.get(f"{base}history/?id={pk}").status_code == 200, name
        writes = [auditor.get(f"{base}new/"), auditor.post(f"{base}new/", {}),
                  auditor.get(f"{base}edit/?id={pk}"), auditor.post(f"{base}edit/?id={pk}", {}),
                  auditor.post(f"{base}delete/", {"id": str(pk)}),
                  auditor.post(f"{base}action/", {"action": "delete", "rowid": str(pk)})]
        for transition_ in getattr(model.__admin__.workflow, "transitions", ()):
            writes.append(auditor.post(f"{base}transition/{transition_.name}/?id={pk}", {}))
        if model.__admin__.importable:   # the spreadsheet import writes rows too
            writes += [auditor.get(f"{base}import/"), auditor.get(f"{base}import/template/"),
                       auditor.post(f"{base}import/", {"file": (io.BytesIO(b"a,b\n1,2\n"), "x.csv")},
                                    content_type="multipart/form-data"),
                       auditor.get(f"{base}import/abc/"), auditor.get(f"{base}import/abc/status/"),
                       auditor.post(f"{base}import/abc/commit/", {})]
        assert {r.status_code for r in writes} == {403}, (name, [r.status_code for r in writes])


def test_the_money_trail_lists_every_step_and_exports(app, client_for):
    auditor = client_for("auditor")
    page = auditor.get(f"/admin/money_trail/?start={TODAY.replace(year=TODAY.year - 1)}&end={TODAY}").text
    assert "维修资金使用申请" in page and "拨付" in page and "业主大会表决同意" in page
    exported = auditor.get(f"/admin/money_trail/?start={TODAY.replace(year=TODAY.year - 1)}&end={TODAY}&format=csv")
    rows = list(csv.reader(io.StringIO(exported.data.decode("utf-8-sig"))))
    assert rows[0] == ["时间", "操作人", "类型", "对象类型", "记录", "说明", "变更内容"]
    assert any(r[3] == "维修资金流水" for r in rows[1:])
    assert "filename*=UTF-8''%E8%B5%84%E9%87%91" in exported.headers["Content-Disposition"]


def _subsidy(app, client, estate: str, amount: str, allocated_on, payments=()) -> None:
    r = client.post("/admin/subsidy/new/", {
        "recipient": "estate", "estate": str(row_id(app, Estate, name=estate)), "purpose": f"测试补贴 {estate} {amount}",
        "amount": amount, "allocated_on": allocated_on.isoformat(), "approver": "财政所 所长"})
    assert r.status_code == 302, flashes(r.text)
    with app.app_context():
        from models.fees import Subsidy
        subsidy = db.session.scalar(db.select(Subsidy.id).where(Subsidy.purpose == f"测试补贴 {estate} {amount}"))
    for paid, paid_on in payments:
        r = client.post("/admin/subsidy_payment/new/", {"subsidy": str(subsidy), "amount": paid,
                                                        "paid_on": paid_on.isoformat()})
        assert r.status_code == 302, flashes(r.text)


def _totals(page: str) -> dict[tuple[str, str], list[str]]:
    table = re.search(r'id="subsidy-totals".*?</table>', page, re.S).group(0)
    rows = re.findall(r'data-year="([^"]*)" data-recipient="([^"]*)">(.*?)</tr>', table, re.S)
    return {(y, who): [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", cells, re.S)][-4:]
            for y, who, cells in rows}


def test_subsidy_totals_per_year_and_estate_follow_the_filters_and_the_scope(app, client_for):
    street = client_for("street")
    year = TODAY.year - 3                   # a year the demo has no subsidies in
    day = TODAY.replace(year=year, month=3, day=15)
    _subsidy(app, street, "永乐花园", "10000", day, [("3000", day), ("2000.25", day + timedelta(days=30))])
    _subsidy(app, street, "永乐花园", "5000.50", day + timedelta(days=60))
    _subsidy(app, street, "双龙小区", "8000", day, [("8000", day + timedelta(days=10))])
    _subsidy(app, street, "双龙小区", "1000", day.replace(year=year - 1))

    totals = _totals(street.get("/admin/subsidy/").text)
    #                                          笔数  下达        已拨付      未拨付
    assert totals[(str(year), "永乐花园")] == ["2", "15000.50", "5000.25", "10000.25"]
    assert totals[(str(year), "双龙小区")] == ["1", "8000", "8000", "0"]
    assert totals[(str(year), "小计")] == ["3", "23000.50", "13000.25", "10000.25"]
    assert totals[(str(year - 1), "双龙小区")] == ["1", "1000", "0", "1000"]

    # filtered to one year, the totals are that year's alone
    import json
    page = street.get("/admin/subsidy/").text
    groups = json.loads(re.search(r'id="filter-groups-data"[^>]*>(.*?)</', page, re.S).group(1))
    index = next(f["index"] for f in groups["年度"] if f["operation"] in ("等于", "equals"))
    filtered = _totals(street.get(f"/admin/subsidy/?flt0_{index}={year}").text)
    assert set(filtered) == {(str(year), "永乐花园"), (str(year), "双龙小区"), (str(year), "小计"), ("", "合计")}
    assert filtered[("", "合计")] == ["3", "23000.50", "13000.25", "10000.25"]

    # a community's staff see the totals of their own estates only
    own = _totals(client_for("community").get("/admin/subsidy/").text)   # 江滨社区
    assert own[(str(year), "永乐花园")] == ["2", "15000.50", "5000.25", "10000.25"]
    assert not any(who == "双龙小区" for _, who in own)
